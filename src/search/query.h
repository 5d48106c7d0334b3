// Turning FHIR search parameters into a backend-neutral store::Query. Pure code.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/params.h"
#include "core/status.h"
#include "fhir/model.h"
#include "store/store.h"

namespace gm::search {

struct Include {
  bool reverse = false;  // _revinclude
  bool iterate = false;
  std::string source_type;  // "Observation" or "*"
  std::string param;        // "subject" or "*"
  std::string target_type;  // optional
};

struct ParsedSearch {
  store::Query query;
  std::vector<Include> includes;
  std::string total;  // none | estimate | accurate
  std::vector<std::string> ignored;  // unknown or unsupported parameters (reported)
};

struct ParseOptions {
  bool strict = false;  // Prefer: handling=strict: unknown parameters are an error
  size_t default_count = 50;
  size_t max_count = 1000;
};

// Parses search parameters for `type` (empty: system level). Result parameters
// (_count, _sort, _include, ...) and control parameters (_format, _pretty,
// _summary, _elements) are understood. Errors are kInvalid with GM-SEARCH codes.
Result<ParsedSearch> ParseSearch(const fhir::Model& model, std::string_view type,
                                 const Params& params, const ParseOptions& options = {});

}  // namespace gm::search

namespace gm::search {
// The search parameters of a type that this server can search on (all whose
// type and expression the indexer handles), in model order.
std::vector<const fhir::SearchParamDef*> SupportedParams(const fhir::Model& model,
                                                         std::string_view type);
}  // namespace gm::search
