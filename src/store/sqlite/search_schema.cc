#include "store/sqlite/search_schema.h"

namespace gm::store::sqlite {
namespace {

constexpr const char* kSearchSchema = R"sql(
CREATE TABLE IF NOT EXISTS idx_composite(
  pid INTEGER NOT NULL,
  s1 TEXT NOT NULL,
  c1 TEXT NOT NULL,
  s2 TEXT NOT NULL,
  c2 TEXT NOT NULL,
  lo1 REAL, hi1 REAL, v1 REAL, b1 INTEGER, e1 INTEGER,
  lo2 REAL, hi2 REAL, v2 REAL, b2 INTEGER, e2 INTEGER,
  rid INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS idx_composite_key ON idx_composite(pid, c1, s1, c2, s2);
CREATE INDEX IF NOT EXISTS idx_composite_rid ON idx_composite(rid, pid);
CREATE VIRTUAL TABLE IF NOT EXISTS idx_text USING fts5(narrative, content);
)sql";

}  // namespace

Status EnsureSearchSchema(Connection& c) {
  TxnScope txn(c);
  GM_RETURN_IF_ERROR(txn.Begin(/*immediate=*/true));
  GM_RETURN_IF_ERROR(c.Exec(kSearchSchema));
  return txn.Commit();
}

}  // namespace gm::store::sqlite
