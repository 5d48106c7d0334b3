#include "store/postgres/pg_connection.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace gm::store::postgres {
namespace {

constexpr unsigned int kInt8Oid = 20;
constexpr unsigned int kInt2Oid = 21;
constexpr unsigned int kInt4Oid = 23;
constexpr unsigned int kTextOid = 25;
constexpr unsigned int kFloat4Oid = 700;
constexpr unsigned int kFloat8Oid = 701;
constexpr unsigned int kBoolOid = 16;
constexpr size_t kMaxPrepared = 2000;
// Bytewise text, UTF-8, UTC, exact floats; the store never relies on the
// server's defaults. A 2xx means durable: a server configured with
// synchronous_commit = off gets `on` for grunnmur's sessions (local, remote_write,
// on and remote_apply are all kept).
constexpr const char* kSessionSettings =
    "SET client_encoding = 'UTF8'; SET TIME ZONE 'UTC'; SET extra_float_digits = 3; "
    "SET client_min_messages = warning; "
    "SELECT set_config('synchronous_commit', 'on', false) "
    "WHERE current_setting('synchronous_commit') = 'off'";

// Quotes one array element.
void AppendElement(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\0') {
      out += "\xEF\xBF\xBD";
      continue;
    }
    out += c;
  }
  out += '"';
}

}  // namespace

std::string SanitizeText(std::string_view s) {
  if (s.find('\0') == std::string_view::npos) return std::string(s);
  std::string out;
  for (char c : s) {
    if (c == '\0') {
      out += "\xEF\xBF\xBD";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatReal(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

PgParam ToParam(const KeyValue& v) {
  PgParam p;
  if (std::holds_alternative<std::monostate>(v)) {
    p.null = true;
  } else if (const int64_t* i = std::get_if<int64_t>(&v)) {
    p.text = std::to_string(*i);
    p.type = kInt8Oid;
  } else if (const double* d = std::get_if<double>(&v)) {
    p.text = FormatReal(*d);
    p.type = kFloat8Oid;
  } else {
    p.text = SanitizeText(std::get<std::string>(v));
    p.type = kTextOid;
  }
  return p;
}

std::string TextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    AppendElement(out, values[i]);
  }
  return out + "}";
}

std::string NullableTextArray(const std::vector<const std::string*>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    if (values[i] == nullptr) {
      out += "NULL";
    } else {
      AppendElement(out, *values[i]);
    }
  }
  return out + "}";
}

std::string IntArray(const std::vector<int64_t>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(values[i]);
  }
  return out + "}";
}

std::string RealArray(const std::vector<double>& values, const std::vector<bool>* nulls) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    if (nulls != nullptr && (*nulls)[i]) {
      out += "NULL";
    } else {
      out += '"' + FormatReal(values[i]) + '"';
    }
  }
  return out + "}";
}

int64_t PgResult::Int(int row, int col) const {
  const char* v = PQgetvalue(r_.get(), row, col);
  if (PQftype(r_.get(), col) == kBoolOid) return v[0] == 't' ? 1 : 0;
  return std::strtoll(v, nullptr, 10);
}

double PgResult::Real(int row, int col) const {
  return std::strtod(PQgetvalue(r_.get(), row, col), nullptr);
}

KeyValue PgResult::Value(int row, int col) const {
  if (IsNull(row, col)) return std::monostate{};
  switch (PQftype(r_.get(), col)) {
    case kInt8Oid:
    case kInt4Oid:
    case kInt2Oid:
    case kBoolOid:
      return Int(row, col);
    case kFloat4Oid:
    case kFloat8Oid:
      return Real(row, col);
    default:
      return Text(row, col);
  }
}

Result<std::unique_ptr<PgConnection>> PgConnection::Open(const std::string& conninfo) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (c == nullptr || PQstatus(c) != CONNECTION_OK) {
    std::string why = c ? PQerrorMessage(c) : "out of memory";
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    if (c) PQfinish(c);
    return Status::Error(ErrorCategory::kUnavailable, "GM-STORE-001", "exception",
                         "Cannot connect to PostgreSQL: " + why);
  }
  std::unique_ptr<PgConnection> conn(new PgConnection(c));
  GM_RETURN_IF_ERROR(conn->Exec(kSessionSettings));
  return conn;
}

PgConnection::~PgConnection() {
  if (conn_) PQfinish(conn_);
}

bool PgConnection::broken() const { return PQstatus(conn_) != CONNECTION_OK; }

Status PgConnection::Reconnect() {
  PQreset(conn_);
  prepared_.clear();
  if (broken()) {
    return Status::Error(ErrorCategory::kUnavailable, "GM-STORE-001", "exception",
                         "Cannot reconnect to PostgreSQL");
  }
  return Exec(kSessionSettings);
}

Status PgConnection::Fail(PGresult* r, const std::string& what) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  last_sqlstate_ = state ? state : "";
  std::string msg = r ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (r) PQclear(r);
  // Connection loss, resource exhaustion, operator intervention and
  // serialization failures are transient (503); anything else is a bug or a
  // schema problem (500).
  const bool transient = last_sqlstate_.empty() || last_sqlstate_.rfind("08", 0) == 0 ||
                         last_sqlstate_.rfind("53", 0) == 0 || last_sqlstate_.rfind("57", 0) == 0 ||
                         last_sqlstate_.rfind("40", 0) == 0 || last_sqlstate_ == "55P03";
  return Status::Error(transient ? ErrorCategory::kUnavailable : ErrorCategory::kInternal,
                       transient ? "GM-STORE-004" : "GM-STORE-006", transient ? "transient" : "exception",
                       "PostgreSQL " + what + " failed (" + last_sqlstate_ + "): " + msg);
}

Result<PgResult> PgConnection::Check(PGresult* r, const std::string& what) {
  if (r == nullptr) return Fail(nullptr, what);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Fail(r, what);
  last_sqlstate_.clear();
  return PgResult(r);
}

bool PgConnection::RetryAfterReconnect(bool was_idle) {
  // Outside a transaction nothing was lost with the connection: reconnect
  // and run the statement once more (the server restarted, a pooler or
  // firewall dropped an idle connection).
  const bool lost = broken() || last_sqlstate_.empty() || last_sqlstate_.rfind("08", 0) == 0 ||
                    last_sqlstate_ == "57P01";
  return was_idle && lost && Reconnect().ok();
}

Status PgConnection::Exec(const std::string& sql) {
  const bool idle = PQtransactionStatus(conn_) == PQTRANS_IDLE;
  Result<PgResult> res = Check(PQexec(conn_, sql.c_str()), "statement");
  if (!res.ok() && RetryAfterReconnect(idle)) res = Check(PQexec(conn_, sql.c_str()), "statement");
  return res.ok() ? Status::Ok() : res.status();
}

namespace {
struct Bound {
  std::vector<PgParam> params;
  std::vector<unsigned int> types;
  std::vector<const char*> values;
  explicit Bound(const std::vector<KeyValue>& in) {
    for (const KeyValue& v : in) params.push_back(ToParam(v));
    for (const PgParam& p : params) {
      types.push_back(p.type);
      values.push_back(p.null ? nullptr : p.text.c_str());
    }
  }
};
}  // namespace

Result<PgResult> PgConnection::Query(const std::string& sql, const std::vector<KeyValue>& params) {
  const bool idle = PQtransactionStatus(conn_) == PQTRANS_IDLE;
  Result<PgResult> r = QueryPrepared(sql, params);
  if (!r.ok() && RetryAfterReconnect(idle)) r = QueryPrepared(sql, params);
  return r;
}

Result<PgResult> PgConnection::QueryPrepared(const std::string& sql,
                                             const std::vector<KeyValue>& params) {
  Bound b(params);
  std::string key;
  for (unsigned int t : b.types) key += std::to_string(t) + ",";
  key += "|" + sql;
  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    if (prepared_.size() >= kMaxPrepared) {
      GM_RETURN_IF_ERROR(Exec("DEALLOCATE ALL"));
      prepared_.clear();
    }
    std::string name = "gm" + std::to_string(next_statement_++);
    PGresult* r = PQprepare(conn_, name.c_str(), sql.c_str(), int(b.types.size()),
                            b.types.empty() ? nullptr : b.types.data());
    GM_ASSIGN_OR_RETURN(PgResult prep, Check(r, "prepare"));
    (void)prep;
    it = prepared_.emplace(key, name).first;
  }
  PGresult* r = PQexecPrepared(conn_, it->second.c_str(), int(b.values.size()),
                               b.values.empty() ? nullptr : b.values.data(), nullptr, nullptr, 0);
  return Check(r, "query");
}

Result<PgResult> PgConnection::QueryOnce(const std::string& sql,
                                         const std::vector<KeyValue>& params) {
  Bound b(params);
  const bool idle = PQtransactionStatus(conn_) == PQTRANS_IDLE;
  auto run = [&] {
    return Check(PQexecParams(conn_, sql.c_str(), int(b.values.size()),
                              b.types.empty() ? nullptr : b.types.data(),
                              b.values.empty() ? nullptr : b.values.data(), nullptr, nullptr, 0),
                 "query");
  };
  Result<PgResult> r = run();
  if (!r.ok() && RetryAfterReconnect(idle)) r = run();
  return r;
}

Result<std::string> PgConnection::QueryText(const std::string& sql,
                                            const std::vector<KeyValue>& params) {
  GM_ASSIGN_OR_RETURN(PgResult r, QueryOnce(sql, params));
  if (r.rows() == 0 || r.IsNull(0, 0)) return std::string();
  return r.Text(0, 0);
}

}  // namespace gm::store::postgres
