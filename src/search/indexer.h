// Search-parameter extraction: what a resource contributes to the search
// indexes and which patient compartments it belongs to. Computed at write time,
// stored in the same transaction as the resource (see store/store.h).
#pragma once

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
};

}  // namespace gm::search
