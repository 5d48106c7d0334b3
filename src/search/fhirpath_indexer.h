// The Indexer for every R4 SearchParameter the server supports: each
// parameter's FHIRPath expression is compiled once and evaluated over the
// resource at write time; the resulting items become IndexEntry rows of the
// parameter's type, and the compartment parameters give the patient keys.
//
// Besides one entry per value, a parameter P may produce entries under derived
// names that module search/ (query.cc) searches by the same convention:
//   "P:identifier"  kToken     Reference.identifier of a reference parameter
//                              (for P:identifier=system|value)
//   "P:of-type"     kToken     an Identifier's type coding (system, code) with
//                              text = the identifier value (for :of-type)
//   "P:canonical"   kQuantity  a UCUM quantity in canonical units (ucum.h), so
//                              5000 mg and 5 g compare equal; for a composite
//                              P, its composite entries with the quantity
//                              component canonicalised
// Composite parameters (two components) produce kComposite entries: each
// element the parameter's expression selects is one entry per combination of
// its components' values. "_text" (the narrative, tags stripped) and
// "_content" (every text value of the resource) produce kText entries, folded.
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
  Result<std::optional<Extracted>> ExtractStable(std::string_view type, std::string_view id,
                                                 const json::Value& resource) const override;
  Result<std::vector<store::IndexEntry>> ExtractWriteTime(
      std::string_view type, std::string_view id, const json::Value& resource) const override;
  // Evaluates only the patient compartment's parameters of the type.
  Result<std::vector<std::string>> Compartments(std::string_view type, std::string_view id,
                                                const json::Value& resource) const override;

 private:
  // Which parameters an extraction covers: all; all but the write-time ones
  // (those whose expression reads meta.versionId or meta.lastUpdated); or only those.
  enum class Part { kAll, kStable, kWriteTime };
  Extracted ExtractPart(std::string_view type, std::string_view id, const json::Value& resource,
                        Part part) const;
  // The patient compartment keys from the reference entries of an index.
  std::vector<std::string> CompartmentKeys(std::string_view type, std::string_view id,
                                           const std::vector<store::IndexEntry>& index) const;
  struct Component {
    const fhir::SearchParamDef* def;
    fhirpath::Expression expression;
  };
  struct Param {
    const fhir::SearchParamDef* def;
    fhirpath::Expression expression;
    std::vector<Component> components;  // composite parameters only
    bool write_time = false;  // reads meta.versionId / meta.lastUpdated
  };
  void ExtractComposite(const Param& p, const json::Value& resource,
                        const fhirpath::EvalOptions& options, std::vector<store::IndexEntry>& out) const;
  const fhir::Model& model_;
  std::unordered_map<std::string, std::vector<Param>> by_type_;
};

// Converts one FHIRPath result item to index entries of a parameter's type,
// derived entries included (exposed for tests). Items of types the parameter
// type cannot index add nothing.
void AppendEntries(const fhir::SearchParamDef& def, const fhirpath::Item& item,
                   std::vector<store::IndexEntry>& out);

// The search parameter a composite component names (its SearchParameter id,
// e.g. "clinical-code"), or null.
const fhir::SearchParamDef* ComponentDefinition(const fhir::Model& model, std::string_view id);

// Narrative XHTML as plain text: tags become spaces, entities are decoded,
// runs of white space become one space.
std::string NarrativeText(std::string_view xhtml);

}  // namespace gm::search
