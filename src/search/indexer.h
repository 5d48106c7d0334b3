// Search-parameter extraction: what a resource contributes to the search
// indexes and which patient compartments it belongs to. Computed at write time,
// stored in the same transaction as the resource (see store/store.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "fhir/model.h"
#include "store/store.h"

namespace gm::search {

struct Extracted {
  std::vector<store::IndexEntry> index;
  // Ids of the Patients whose compartment the resource is in; the first is the
  // primary compartment key. A Patient is in its own compartment.
  std::vector<std::string> compartments;
};

// Thread-safety: Extract may be called concurrently.
class Indexer {
 public:
  virtual ~Indexer() = default;
  virtual Result<Extracted> Extract(std::string_view type, std::string_view id,
                                    const json::Value& resource) const = 0;

  // Extract in two parts, for writers that prepare a resource before the
  // server has filled in meta.versionId and meta.lastUpdated (which only the
  // store transaction knows): ExtractStable gives everything Extract gives
  // except the entries of the parameters that read those two elements, and
  // ExtractWriteTime gives exactly those entries (no compartments). So
  // ExtractStable(r).index + ExtractWriteTime(r) is Extract(r).index as a
  // multiset, and the compartments are Extract's. An indexer that cannot split
  // returns nullopt from ExtractStable; callers then use Extract.
  virtual Result<std::optional<Extracted>> ExtractStable(std::string_view /*type*/,
                                                         std::string_view /*id*/,
                                                         const json::Value& /*resource*/) const {
    return std::optional<Extracted>();
  }
  virtual Result<std::vector<store::IndexEntry>> ExtractWriteTime(
      std::string_view type, std::string_view id, const json::Value& resource) const {
    GM_ASSIGN_OR_RETURN(Extracted all, Extract(type, id, resource));
    return std::move(all.index);
  }
  // Extract(...).compartments alone (access control and audit ask this of
  // every resource they see; an indexer may evaluate only the compartment
  // parameters).
  virtual Result<std::vector<std::string>> Compartments(std::string_view type, std::string_view id,
                                                        const json::Value& resource) const {
    GM_ASSIGN_OR_RETURN(Extracted all, Extract(type, id, resource));
    return std::move(all.compartments);
  }
};

}  // namespace gm::search
