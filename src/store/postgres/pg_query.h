// Compiles a backend-neutral store::Query into one PostgreSQL SELECT over the
// index tables (see pg_schema.h). The plan shape is the SQLite backend's
// (store/sqlite/query.h): the most selective indexable clause drives (its
// index table yields candidate rids, one UNION branch per value), the
// resource table is joined by rid, every other clause is an EXISTS probe on
// the index table's (rid, pid) index; ordering by the sort keys, then rid;
// keyset paging strictly after (or before) the cursor's key tuple.
//
// Dialect differences from SQLite: parameters are $N with explicit types
// (int8, float8, text); prefix ranges end at U+10FFFF (text columns use the
// "C" collation, so comparison is bytewise as in SQLite); full text is a
// tsvector per resource searched with a prefix tsquery; index text values are
// cut at kMaxIndexedText bytes (B-tree entries are bounded), on write and in
// searches alike.
//
// Thread-safety: pure apart from reading `search_param` through the connection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/cursor.h"
#include "store/postgres/pg_connection.h"
#include "store/store.h"

namespace gm::store::postgres {

// Result columns of a compiled page query.
enum QueryColumn { kColRid = 0, kColType, kColId, kColVersion, kColLastUpdated, kColFirstKey };

// Longest indexed text value in bytes; longer values are cut (at a UTF-8
// boundary) when stored and when searched, so equality on values longer than
// this compares their first kMaxIndexedText bytes.
inline constexpr size_t kMaxIndexedText = 600;
std::string TruncateIndexed(std::string_view s);

// The words of a full-text value: runs of ASCII letters and digits and of
// non-ASCII characters, lower-cased (the text is already folded).
std::vector<std::string> TextTokens(std::string_view text);

// The lexemes stored for full-text entries (one tsvector per column): their
// tokens, de-duplicated, at most kMaxTsvectorBytes in total.
inline constexpr size_t kMaxTsvectorBytes = 512 * 1024;
std::vector<std::string> Lexemes(const std::vector<const IndexEntry*>& entries);

struct CompiledQuery {
  bool never_matches = false;  // a clause cannot match anything; sql is empty
  std::string sql;
  std::vector<KeyValue> params;  // bound as $1, $2, ...
  size_t key_count = 0;          // sort-key columns starting at kColFirstKey
  bool backward = false;         // rows come in reverse sort order (a kBackward page)
};

// As store/sqlite/query.h's CompileQuery/CompileCount.
Result<CompiledQuery> CompileQuery(PgConnection& c, const Query& query, size_t limit,
                                   int64_t now_us);
Result<CompiledQuery> CompileCount(PgConnection& c, const Query& query, int64_t at_most,
                                   int64_t now_us);

// The cursor of result row `row`: the next page after it, or (kBackward) the page before it.
std::string CursorAfterRow(const CompiledQuery& q, const PgResult& res, int row);

inline constexpr int kMaxNesting = kMaxQueryNesting;

}  // namespace gm::store::postgres
