// Compiles a backend-neutral store::Query into one SQLite SELECT over the
// index tables (see schema.h and search_schema.h).
//
// Plan shape: the most selective indexable clause ("driver", by a fixed
// preference: _id, reference, compartment, token/uri/exact string/composite/
// :of-type, full text, prefixes, ranges, _lastUpdated; a chain or _has ranks
// as the driver of its nested query) produces candidate rids from its index
// table (one UNION branch per value, each an index search); the resource table
// is then probed by rowid (CROSS JOIN fixes that join order), and every other
// clause is an EXISTS / NOT EXISTS probe on the index table's (rid, pid)
// index. Without an indexable clause the resource table is searched by its
// (type, last_updated_us) index. Ordering is by the sort keys and then rid;
// the page starts strictly after (or, backwards, ends strictly before) the
// cursor's key tuple (keyset paging).
//
// Chains and _has are index joins through idx_reference: a chain
// (subject.name=x) as driver finds the matching targets with the nested
// query's own driver and joins idx_reference on its (tid, ttype) target index;
// as a probe it follows the resource's own reference rows (rid, pid) to the
// target by (type, id). _has is the mirror image: the referring resources'
// rows are joined by rid, or probed by the target index on (id, type). Nesting
// is bounded (kMaxNesting).
//
// All values are bound parameters (?N); the SQL text depends only on the
// query's shape, so prepared statements are reused across values.
//
// Thread-safety: pure apart from reading `search_param` through the connection.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/cursor.h"
#include "store/sqlite/connection.h"
#include "store/store.h"

namespace gm::store::sqlite {

// Result columns of a compiled page query.
enum QueryColumn { kColRid = 0, kColType, kColId, kColVersion, kColLastUpdated, kColFirstKey };

struct CompiledQuery {
  bool never_matches = false;  // a clause cannot match anything; sql is empty
  std::string sql;
  std::vector<KeyValue> params;  // bound as ?1, ?2, ...
  size_t key_count = 0;          // sort-key columns starting at kColFirstKey
  bool backward = false;         // rows come in reverse sort order (a kBackward page)
};

// Compiles `query` to return at most `limit` rows, starting after query.after
// (kForward) or ending before it (kBackward, rows in reverse order).
// `now_us` is the current time, used only by the date `ap` prefix.
// REQUIRES: `c` is inside a transaction, so the parameter lookup and the page
// read see one snapshot.
// Errors: kInvalid GM-STORE-030 for a bad cursor (or kBackward without one),
// GM-STORE-031 for a clause whose values cannot be searched (e.g. an empty
// token) or nesting deeper than kMaxNesting; SQLite errors.
Result<CompiledQuery> CompileQuery(Connection& c, const Query& query, size_t limit, int64_t now_us);

// Compiles "how many resources match query.clauses, up to at_most": one row,
// one integer column. Same errors as CompileQuery.
Result<CompiledQuery> CompileCount(Connection& c, const Query& query, int64_t at_most,
                                   int64_t now_us);

// The cursor of the row `row` is positioned on: the next page after it, or
// (kBackward) the page before it.
std::string CursorAfterRow(const CompiledQuery& q, const Statement& row);

// Binds q.params to `st`.
void BindAll(const CompiledQuery& q, Statement& st);

inline constexpr int kMaxNesting = kMaxQueryNesting;

}  // namespace gm::store::sqlite
