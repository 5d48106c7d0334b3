// Consistency check of a PostgreSQL store (`grunnmur check` on a data
// directory whose server uses PostgreSQL, or with --db URL).
//
// The same verdicts as the SQLite check (store/sqlite/check.h), computed
// without a scratch copy: resources are read in batches of rid; for each
// batch the versions are checked (1..n without gaps, the resource row agrees
// with version n, the JSON parses and carries its type, id, versionId and
// lastUpdated), and for every current resource the caller's extraction (the
// server's indexer) is turned into the rows the write path would store now
// (same value cutting, midpoints, de-duplication, full-text lexemes) and
// compared with the stored index, compartment rows, primary patient key and
// kinds bitmask. Rows of deleted or unknown resources are problems too.
//
// Only reads; run it while no node writes (an offline check), or accept that
// resources written meanwhile may be reported.
#pragma once

#include <string>

#include "core/status.h"
#include "store/sqlite/check.h"

namespace gm::store::postgres {

// Errors (not problems): cannot connect (GM-STORE-001), not a grunnmur
// database (GM-STORE-003), PostgreSQL errors.
Result<sqlite::CheckReport> CheckPostgresStore(const std::string& url,
                                               const sqlite::CheckExtractFn& extract,
                                               size_t max_problems = 1000);

}  // namespace gm::store::postgres
