// A thin libpq wrapper for the PostgreSQL store: one connection, statements
// prepared once per connection (a cache keyed by SQL text and parameter
// types), parameters as store::KeyValue, text-format results, and errors
// mapped to Status with the SQLSTATE kept for retry decisions.
//
// Thread-safety: a PgConnection is used by one thread at a time (the pool
// hands it out); nothing is shared between connections.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/cursor.h"

namespace gm::store::postgres {

// A query result (text format). Rows and columns are 0-based.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* r) : r_(r, &PQclear) {}
  int rows() const { return r_ ? PQntuples(r_.get()) : 0; }
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string Text(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col), size_t(PQgetlength(r_.get(), row, col)));
  }
  int64_t Int(int row, int col) const;
  double Real(int row, int col) const;
  // The value as a cursor key: NULL, integer (int2/4/8, bool), real (float4/8), or text.
  KeyValue Value(int row, int col) const;

 private:
  std::shared_ptr<PGresult> r_;
};

// SQLSTATEs the store reacts to.
inline constexpr std::string_view kSerializationFailure = "40001";
inline constexpr std::string_view kDeadlockDetected = "40P01";
inline constexpr std::string_view kUniqueViolation = "23505";

// The SQLSTATE of a failed call (kept in the expression field is not
// appropriate), so the store reads it from the connection's last error.
class PgConnection {
 public:
  // Connects with a libpq connection string or URL.
  // Errors: kUnavailable GM-STORE-001.
  static Result<std::unique_ptr<PgConnection>> Open(const std::string& conninfo);
  ~PgConnection();

  // Runs SQL without parameters (may hold several statements).
  Status Exec(const std::string& sql);
  // Runs one statement with parameters, prepared and cached on this connection.
  Result<PgResult> Query(const std::string& sql, const std::vector<KeyValue>& params = {});
  // Query() for statements whose result is not needed.
  Status Run(const std::string& sql, const std::vector<KeyValue>& params = {}) {
    auto r = Query(sql, params);
    return r.ok() ? Status::Ok() : r.status();
  }
  // Runs one statement with parameters without preparing it (one-off SQL).
  Result<PgResult> QueryOnce(const std::string& sql, const std::vector<KeyValue>& params = {});
  // The single value of a one-row, one-column query ("" when NULL or no row).
  Result<std::string> QueryText(const std::string& sql, const std::vector<KeyValue>& params = {});

  // SQLSTATE of the last failed call ("" if it did not come from the server).
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  // True when the connection is broken (the pool then reconnects).
  bool broken() const;
  // Reconnects a broken connection (same parameters); prepared statements
  // are prepared again on first use. Errors: kUnavailable GM-STORE-001.
  Status Reconnect();
  PGconn* raw() { return conn_; }

 private:
  explicit PgConnection(PGconn* c) : conn_(c) {}
  Status Fail(PGresult* r, const std::string& what);
  Result<PgResult> QueryPrepared(const std::string& sql, const std::vector<KeyValue>& params);
  bool RetryAfterReconnect(bool was_idle);
  Result<PgResult> Check(PGresult* r, const std::string& what);

  PGconn* conn_;
  std::map<std::string, std::string> prepared_;  // key: types + sql -> statement name
  int next_statement_ = 0;
  std::string last_sqlstate_;
};

// The text-format value and type of a parameter (types: int8, float8, text;
// NULL untyped so the server infers it).
struct PgParam {
  bool null = false;
  std::string text;
  unsigned int type = 0;  // Oid
};
PgParam ToParam(const KeyValue& v);

// A PostgreSQL array literal of text values ({"a","b"}); for unnest() binds.
std::string TextArray(const std::vector<std::string>& values);
// The same for nullable texts, integers and reals.
std::string NullableTextArray(const std::vector<const std::string*>& values);
std::string IntArray(const std::vector<int64_t>& values);
std::string RealArray(const std::vector<double>& values, const std::vector<bool>* nulls = nullptr);
std::string FormatReal(double d);

// PostgreSQL text cannot hold NUL bytes: they become U+FFFD.
std::string SanitizeText(std::string_view s);

}  // namespace gm::store::postgres
