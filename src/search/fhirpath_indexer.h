// The Indexer for every R4 SearchParameter the server supports: each
// parameter's FHIRPath expression is compiled once and evaluated over the
// resource at write time; the resulting items become IndexEntry rows of the
// parameter's type, and the compartment parameters give the patient keys.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "fhirpath/fhirpath.h"
#include "search/indexer.h"

namespace gm::search {

class FhirPathIndexer final : public Indexer {
 public:
  // Compiles the expressions of all supported parameters of all resource types.
  explicit FhirPathIndexer(const fhir::Model& model);

  Result<Extracted> Extract(std::string_view type, std::string_view id,
                            const json::Value& resource) const override;

 private:
  struct Param {
    const fhir::SearchParamDef* def;
    fhirpath::Expression expression;
  };
  const fhir::Model& model_;
  std::unordered_map<std::string, std::vector<Param>> by_type_;
};

// Converts one FHIRPath result item to index entries of a parameter's type
// (exposed for tests). Items of types the parameter type cannot index add nothing.
void AppendEntries(const fhir::SearchParamDef& def, const fhirpath::Item& item,
                   std::vector<store::IndexEntry>& out);

}  // namespace gm::search
