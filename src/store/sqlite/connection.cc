#include "store/sqlite/connection.h"

#include <utility>

namespace gm::store::sqlite {

Status SqliteStatus(int rc, sqlite3* db, std::string_view context) {
  std::string text = "SQLite: ";
  text += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  text += " (";
  text += context;
  text += ", code " + std::to_string(rc) + ")";
  switch (rc & 0xFF) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
    case SQLITE_INTERRUPT:
      return Status::Error(ErrorCategory::kUnavailable, "GM-STORE-004", "transient",
                           std::move(text));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Error(ErrorCategory::kInternal, "GM-STORE-005", "exception", std::move(text));
    default:
      return Status::Error(ErrorCategory::kInternal, "GM-STORE-006", "exception", std::move(text));
  }
}

// ---- Statement ---------------------------------------------------------------

Statement::Statement(Statement&& other) noexcept { *this = std::move(other); }

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    Release();
    stmt_ = std::exchange(other.stmt_, nullptr);
    in_use_ = std::exchange(other.in_use_, nullptr);
    owned_ = std::exchange(other.owned_, false);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Statement::~Statement() { Release(); }

void Statement::Release() {
  if (stmt_ == nullptr) return;
  if (owned_) {
    sqlite3_finalize(stmt_);
  } else {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    if (in_use_ != nullptr) *in_use_ = false;
  }
  stmt_ = nullptr;
  in_use_ = nullptr;
}

void Statement::Bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
void Statement::Bind(int index, double value) { sqlite3_bind_double(stmt_, index, value); }
// SQLite binds NULL for a null data pointer; empty values must stay non-NULL.
void Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.empty() ? "" : text.data(), text.size(), SQLITE_TRANSIENT,
                      SQLITE_UTF8);
}
void Statement::BindBlob(int index, std::string_view bytes) {
  if (bytes.empty()) {
    sqlite3_bind_zeroblob(stmt_, index, 0);
  } else {
    sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  }
}
void Statement::BindStatic(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.empty() ? "" : text.data(), text.size(), SQLITE_STATIC,
                      SQLITE_UTF8);
}
void Statement::BindBlobStatic(int index, std::string_view bytes) {
  if (bytes.empty()) {
    sqlite3_bind_zeroblob(stmt_, index, 0);
  } else {
    sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_STATIC);
  }
}
void Statement::BindNull(int index) { sqlite3_bind_null(stmt_, index); }
void Statement::Bind(int index, const KeyValue& value) {
  if (const int64_t* i = std::get_if<int64_t>(&value)) {
    Bind(index, *i);
  } else if (const double* d = std::get_if<double>(&value)) {
    Bind(index, *d);
  } else if (const std::string* s = std::get_if<std::string>(&value)) {
    Bind(index, std::string_view(*s));
  } else {
    BindNull(index);
  }
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(rc, db_, "step");
}

Status Statement::Run() {
  for (;;) {
    Result<bool> r = Step();
    if (!r.ok()) return r.status();
    if (!*r) return Status::Ok();
  }
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::Real(int column) const { return sqlite3_column_double(stmt_, column); }
bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}
std::string Statement::Text(int column) const {
  const void* p = sqlite3_column_blob(stmt_, column);
  int n = sqlite3_column_bytes(stmt_, column);
  return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), size_t(n));
}
KeyValue Statement::Value(int column) const {
  switch (sqlite3_column_type(stmt_, column)) {
    case SQLITE_INTEGER:
      return Int(column);
    case SQLITE_FLOAT:
      return Real(column);
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      return Text(column);
    default:
      return std::monostate{};
  }
}

// ---- Connection --------------------------------------------------------------

namespace {
// Process-wide SQLite settings, applied before SQLite initialises: no memory
// statistics, which would otherwise take a global mutex on every allocation.
// (sqlite3_config fails harmlessly if SQLite was initialised already.)
void ConfigureOnce() {
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
}
}  // namespace

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, int flags,
                                                     const std::string& vfs) {
  ConfigureOnce();
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX,
                           vfs.empty() ? nullptr : vfs.c_str());
  if (rc != SQLITE_OK) {
    Status s = Status::Error(ErrorCategory::kUnavailable, "GM-STORE-001", "exception",
                             std::string("Cannot open the database: ") +
                                 (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close_v2(db);
    return s;
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<Connection>(new Connection(db));
}

Connection::~Connection() {
  for (auto& [sql, c] : cache_) sqlite3_finalize(c.stmt);
  cache_.clear();
  sqlite3_close_v2(db_);
}

Status Connection::Exec(std::string_view sql) {
  std::string s(sql);
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(rc, db_, "exec");
  return Status::Ok();
}

void Connection::EvictIdle() {
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (!it->second.in_use) {
      sqlite3_finalize(it->second.stmt);
      it = cache_.erase(it);
    } else {
      ++it;
    }
  }
}

Result<Statement> Connection::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && !it->second.in_use) {
    it->second.in_use = true;
    return Statement(it->second.stmt, &it->second.in_use, false, db_);
  }
  std::string key(sql);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, key.data(), int(key.size()),
                              it == cache_.end() ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(rc, db_, "prepare");
  if (it != cache_.end()) return Statement(stmt, nullptr, true, db_);
  if (cache_.size() >= kMaxCached) EvictIdle();
  Cached& slot = cache_[key];
  slot.stmt = stmt;
  slot.in_use = true;
  return Statement(stmt, &slot.in_use, false, db_);
}

Result<std::string> Connection::QueryText(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), int(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(rc, db_, "prepare");
  std::string out;
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(stmt, 0);
    if (t != nullptr) out = reinterpret_cast<const char*>(t);
    while (rc == SQLITE_ROW) rc = sqlite3_step(stmt);
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return SqliteStatus(rc, db_, "query");
  return out;
}

bool Connection::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

// ---- TxnScope ----------------------------------------------------------------

TxnScope::~TxnScope() {
  if (open_ && c_.InTransaction()) {
    Result<Statement> rb = c_.Prepare("ROLLBACK");
    if (rb.ok()) (void)rb->Run();
  }
}

Status TxnScope::Begin(bool immediate) {
  GM_ASSIGN_OR_RETURN(Statement st, c_.Prepare(immediate ? "BEGIN IMMEDIATE" : "BEGIN"));
  GM_RETURN_IF_ERROR(st.Run());
  open_ = true;
  return Status::Ok();
}

Status TxnScope::Commit() {
  GM_ASSIGN_OR_RETURN(Statement st, c_.Prepare("COMMIT"));
  Status s = st.Run();
  if (s.ok()) open_ = false;
  return s;
}

}  // namespace gm::store::sqlite
