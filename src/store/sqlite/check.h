// Offline consistency check of a SQLite store (`grunnmur check --data DIR`).
//
// What it verifies:
//   versions   every resource's versions are 1..n without gaps, the resource
//              row names version n and agrees with it (deleted, lastUpdated);
//              no version row without a resource row.
//   content    every non-deleted version's JSON parses, and its resourceType,
//              id, meta.versionId and meta.lastUpdated match the row.
//   index      every current resource's search index rows, compartment rows,
//              primary patient key and kinds bitmask are exactly what the
//              write path produces now from its JSON; deleted resources have
//              none; no rows point at unknown resources.
//
// How the index is checked: the database is copied (VACUUM INTO) to a scratch
// directory, every index and compartment row is removed from the copy, and
// every current resource is re-indexed there through the store's normal
// writer (Txn::Reindex, i.e. the same InsertIndex code a Put uses) with the
// extraction the caller passes (the server's FhirPathIndexer). Then the copy's
// rows and the original's are compared table by table (search parameters by
// (type, param, kind), not by their numeric ids). The original database is
// only read.
//
// Thread-safety: a plain function; the store must not be written meanwhile
// (an offline check).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "store/store.h"

namespace gm::store::sqlite {

// What the write path extracts for a resource: its index entries and patient
// compartment keys (search::Indexer::Extract, wrapped by the caller).
struct CheckExtraction {
  std::vector<IndexEntry> index;
  std::vector<std::string> compartments;
};
using CheckExtractFn = std::function<Result<CheckExtraction>(
    std::string_view type, std::string_view id, const json::Value& resource)>;

struct CheckReport {
  int64_t resources = 0;  // resource rows examined
  int64_t versions = 0;   // version rows examined
  int64_t indexed = 0;    // current resources re-indexed for comparison
  std::vector<std::string> problems;  // one line each; empty = clean
  bool clean() const { return problems.empty(); }
};

struct CheckOptions {
  std::string directory;    // the data directory (<directory>/grunnmur.db)
  std::string scratch_dir;  // where the copy goes; empty: a new directory under /tmp
  size_t max_problems = 1000;  // stop listing after this many (the count says so)
};

// Errors (not problems): the store cannot be opened or is not a grunnmur
// store (GM-STORE-001/003), the scratch copy cannot be made (GM-STORE-004).
Result<CheckReport> CheckStore(const CheckOptions& options, const CheckExtractFn& extract);

}  // namespace gm::store::sqlite
