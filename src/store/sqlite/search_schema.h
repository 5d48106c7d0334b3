// The search-only tables of the SQLite store that came after schema version 1,
// created idempotently at open (CREATE ... IF NOT EXISTS), so a version-1
// database gains them without a migration step. Resources written before they
// existed have no rows in them until `grunnmur reindex` runs.
//
//   idx_composite  one row per IndexEntry::Kind::kComposite entry: two typed
//                  component slots (s, c text; lo, hi, v real; b, e integer),
//                  see SlotColumns in query.cc; indexed by (pid, c1, s1, c2,
//                  s2) for a lookup on the first component, and by (rid, pid).
//   idx_text       an FTS5 table with one row per resource (rowid = rid) and
//                  two columns: narrative (_text) and content (_content).
#pragma once

#include <cstdint>

#include "core/status.h"
#include "store/sqlite/connection.h"
#include "store/store.h"

namespace gm::store::sqlite {

// REQUIRES: `c` is the writable connection, outside any transaction.
Status EnsureSearchSchema(Connection& c);

// The bit of resource.kinds that records rows of `kind` (bit 7 is the
// compartment bit, so the kinds after kUri skip it).
constexpr int64_t KindBit(IndexEntry::Kind kind) {
  const int k = static_cast<int>(kind);
  return int64_t(1) << (k < 7 ? k : k + 1);
}

}  // namespace gm::store::sqlite
