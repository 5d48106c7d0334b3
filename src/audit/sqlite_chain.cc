// The audit chain in its own SQLite file, <data>/audit.db (see log.h).
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "audit/chain_store.h"
#include "core/json.h"

namespace gm::audit::internal {
namespace {
namespace fs = std::filesystem;

constexpr int kFormatVersion = 1;

Status Err(ErrorCategory cat, std::string code, std::string text) {
  return Status::Error(cat, std::move(code), "exception", std::move(text));
}
Status WriteErr(const char* what) {
  return Err(ErrorCategory::kUnavailable, "GM-AUDIT-013", std::string("cannot ") + what);
}
Status ReadErr() {
  return Err(ErrorCategory::kUnavailable, "GM-AUDIT-010", "cannot read the audit log");
}

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK && s_ != nullptr; }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void Bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  int Step() { return ok() ? sqlite3_step(s_) : SQLITE_ERROR; }
  int64_t Int(int i) { return sqlite3_column_int64(s_, i); }
  std::string Text(int i) {
    const unsigned char* p = sqlite3_column_text(s_, i);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(s_, i)))
             : std::string();
  }
  bool IsNull(int i) { return sqlite3_column_type(s_, i) == SQLITE_NULL; }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

bool Exec(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

// The key column and its index are added after this (older files lack them).
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_event(
  seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, patient TEXT NOT NULL,
  event TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_event_patient ON audit_event(patient, seq);
CREATE TABLE IF NOT EXISTS audit_checkpoint(
  seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, time_us INTEGER NOT NULL,
  kid TEXT NOT NULL, jws TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_head(
  id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL,
  time_us INTEGER NOT NULL, kid TEXT NOT NULL, jws TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON audit_event
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_event_no_delete BEFORE DELETE ON audit_event
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql";

Result<sqlite3*> OpenDb(const std::string& path, bool read_only) {
  sqlite3* db = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return Err(ErrorCategory::kUnavailable, "GM-AUDIT-010", "cannot open the audit database");
  }
  sqlite3_busy_timeout(db, 10000);
  return db;
}

bool WriteFileDurably(const fs::path& path, std::string_view bytes) {
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return false;
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n <= 0) {
      ::close(fd);
      return false;
    }
    off += static_cast<size_t>(n);
  }
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return false;
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return false;
  int dfd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool HasColumn(sqlite3* db, const char* table, const char* column) {
  Stmt st(db, (std::string("PRAGMA table_info(") + table + ")").c_str());
  while (st.Step() == SQLITE_ROW)
    if (st.Text(1) == column) return true;
  return false;
}

class SqliteChain final : public ChainStore {
 public:
  SqliteChain(sqlite3* db, std::string data_dir) : db_(db), data_dir_(std::move(data_dir)) {}
  ~SqliteChain() override { sqlite3_close(db_); }

  Status Init() {
    if (!Exec(db_, "PRAGMA journal_mode=WAL") || !Exec(db_, "PRAGMA synchronous=FULL") ||
        !Exec(db_, kSchema))
      return Err(ErrorCategory::kUnavailable, "GM-AUDIT-010", "cannot create the audit schema");
    // Files written before keyed appends: add the nullable key column. The
    // chain hash does not cover it, so old records still verify.
    if (!HasColumn(db_, "audit_event", "key") &&
        !Exec(db_, "ALTER TABLE audit_event ADD COLUMN key TEXT"))
      return Err(ErrorCategory::kUnavailable, "GM-AUDIT-010", "cannot upgrade the audit schema");
    if (!Exec(db_, "CREATE UNIQUE INDEX IF NOT EXISTS audit_event_key ON audit_event(key)"))
      return Err(ErrorCategory::kUnavailable, "GM-AUDIT-010", "cannot upgrade the audit schema");
    Stmt st(db_, "INSERT OR IGNORE INTO audit_meta(key, value) VALUES('format', ?)");
    st.Bind(1, std::to_string(kFormatVersion));
    if (st.Step() != SQLITE_DONE)
      return Err(ErrorCategory::kUnavailable, "GM-AUDIT-010", "cannot create the audit schema");
    return Status::Ok();
  }

  Status CheckFormat() {
    Stmt st(db_, "SELECT value FROM audit_meta WHERE key = 'format'");
    if (st.Step() != SQLITE_ROW)
      return Err(ErrorCategory::kInvalid, "GM-AUDIT-021", "not a grunnmur audit database");
    return Status::Ok();
  }

  Status Begin() override {
    if (!Exec(db_, "BEGIN IMMEDIATE")) return WriteErr("begin an audit transaction");
    return Status::Ok();
  }
  Status Commit() override {
    if (!Exec(db_, "COMMIT")) return WriteErr("commit the audit records");
    return Status::Ok();
  }
  void Rollback() override { Exec(db_, "ROLLBACK"); }
  Status Savepoint() override {
    if (!Exec(db_, "SAVEPOINT req")) return WriteErr("write an audit record");
    return Status::Ok();
  }
  void ReleaseSavepoint() override { Exec(db_, "RELEASE req"); }
  void RollbackToSavepoint() override {
    Exec(db_, "ROLLBACK TO req");
    Exec(db_, "RELEASE req");
  }

  Result<Tail> ReadTail() override {
    Tail t;
    {
      Stmt st(db_, "SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1");
      int rc = st.Step();
      if (rc == SQLITE_ROW) {
        t.seq = st.Int(0);
        t.hash = st.Text(1);
      } else if (rc != SQLITE_DONE) {
        return ReadErr();
      }
    }
    {
      Stmt st(db_, "SELECT seq FROM audit_checkpoint ORDER BY seq DESC LIMIT 1");
      int rc = st.Step();
      if (rc == SQLITE_ROW) t.last_checkpoint = st.Int(0);
      else if (rc != SQLITE_DONE) return ReadErr();
    }
    {
      Stmt st(db_, "SELECT seq, hash FROM audit_head WHERE id = 1");
      int rc = st.Step();
      if (rc == SQLITE_ROW) t.head = SignedRow{st.Int(0), st.Text(1), "", "", 0};
      else if (rc != SQLITE_DONE) return ReadErr();
    }
    return t;
  }

  Result<std::optional<int64_t>> SeqForKey(const std::string& key) override {
    Stmt st(db_, "SELECT seq FROM audit_event WHERE key = ?");
    st.Bind(1, key);
    int rc = st.Step();
    if (rc == SQLITE_ROW) return std::optional<int64_t>(st.Int(0));
    if (rc != SQLITE_DONE) return ReadErr();
    return std::optional<int64_t>();
  }

  Status InsertEvent(const EventRow& r, const std::string* key) override {
    Stmt st(db_,
            "INSERT INTO audit_event(seq, time_us, patient, event, prev_hash, hash, key) "
            "VALUES(?, ?, ?, ?, ?, ?, ?)");
    st.Bind(1, r.seq);
    st.Bind(2, r.time_us);
    st.Bind(3, r.patient);
    st.Bind(4, r.event);
    st.Bind(5, r.prev_hash);
    st.Bind(6, r.hash);
    if (key) st.Bind(7, *key);  // unbound = NULL
    if (st.Step() != SQLITE_DONE) return WriteErr("write an audit record");
    return Status::Ok();
  }

  Status InsertCheckpoint(const SignedRow& r) override {
    return WriteSigned(
        "INSERT INTO audit_checkpoint(seq, hash, time_us, kid, jws) VALUES(?, ?, ?, ?, ?)", r);
  }
  Status WriteHead(const SignedRow& r) override {
    return WriteSigned(
        "INSERT OR REPLACE INTO audit_head(id, seq, hash, time_us, kid, jws) "
        "VALUES(1, ?, ?, ?, ?, ?)",
        r);
  }

  Status ArchiveKey(const trust::Jwk& key) override {
    fs::path dir = fs::path(data_dir_) / "audit-keys";
    std::error_code ec;
    fs::create_directories(dir, ec);
    // The kid is a file stem from the key ring; refuse anything path-like.
    if (key.kid().empty() || key.kid().find('/') != std::string::npos || key.kid()[0] == '.')
      return Err(ErrorCategory::kUnavailable, "GM-AUDIT-014", "the signing key's kid is unusable");
    fs::path file = dir / (key.kid() + ".json");
    std::string text = json::Write(key.PublicJson());
    if (fs::exists(file)) {
      if (ReadFile(file) != text)
        return Err(ErrorCategory::kUnavailable, "GM-AUDIT-014",
                   "the archived key with this kid differs from the signing key");
    } else if (!WriteFileDurably(file, text)) {
      return Err(ErrorCategory::kUnavailable, "GM-AUDIT-014", "cannot archive the signing key");
    }
    return Status::Ok();
  }

  Result<std::vector<std::pair<int64_t, std::string>>> PatientEvents(const std::string& patient,
                                                                     int64_t before,
                                                                     int64_t limit) override {
    Stmt st(db_,
            "SELECT seq, event FROM audit_event WHERE patient = ? AND seq < ? "
            "ORDER BY seq DESC LIMIT ?");
    st.Bind(1, patient);
    st.Bind(2, before);
    st.Bind(3, limit);
    std::vector<std::pair<int64_t, std::string>> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) out.emplace_back(st.Int(0), st.Text(1));
    if (rc != SQLITE_DONE) return ReadErr();
    return out;
  }

  Status BeginSnapshot() override { return Status::Ok(); }

  Status ForEachEvent(const std::function<bool(const EventRow&)>& fn) override {
    Stmt st(db_,
            "SELECT seq, time_us, patient, event, prev_hash, hash FROM audit_event ORDER BY seq");
    if (!st.ok()) return Err(ErrorCategory::kInvalid, "GM-AUDIT-021", "not a grunnmur audit database");
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      EventRow r{st.Int(0), st.Int(1), st.Text(2), st.Text(3), st.Text(4), st.Text(5)};
      if (!fn(r)) return Status::Ok();
    }
    if (rc != SQLITE_DONE) return ReadErr();
    return Status::Ok();
  }

  Result<std::optional<int64_t>> SeqForHash(const std::string& hash_hex) override {
    Stmt st(db_, "SELECT seq FROM audit_event WHERE hash = ? LIMIT 1");
    st.Bind(1, hash_hex);
    if (st.Step() == SQLITE_ROW) return std::optional<int64_t>(st.Int(0));
    return std::optional<int64_t>();
  }

  Result<std::vector<SignedRow>> Checkpoints() override {
    Stmt st(db_, "SELECT seq, hash, kid, jws, time_us FROM audit_checkpoint ORDER BY seq");
    if (!st.ok()) return Err(ErrorCategory::kInvalid, "GM-AUDIT-021", "not a grunnmur audit database");
    std::vector<SignedRow> out;
    while (st.Step() == SQLITE_ROW)
      out.push_back(SignedRow{st.Int(0), st.Text(1), st.Text(2), st.Text(3), st.Int(4)});
    return out;
  }

  Result<std::optional<SignedRow>> Head() override {
    Stmt st(db_, "SELECT seq, hash, kid, jws, time_us FROM audit_head WHERE id = 1");
    if (!st.ok()) return Err(ErrorCategory::kInvalid, "GM-AUDIT-021", "not a grunnmur audit database");
    if (st.Step() == SQLITE_ROW)
      return std::optional<SignedRow>(
          SignedRow{st.Int(0), st.Text(1), st.Text(2), st.Text(3), st.Int(4)});
    return std::optional<SignedRow>();
  }

  Result<std::vector<trust::Jwk>> ArchivedKeys() override {
    std::vector<trust::Jwk> out;
    std::error_code ec;
    fs::path archive = fs::path(data_dir_) / "audit-keys";
    if (!fs::is_directory(archive, ec)) return out;
    for (const auto& entry : fs::directory_iterator(archive, ec)) {
      if (entry.path().extension() != ".json") continue;
      auto j = json::Parse(ReadFile(entry.path()));
      if (!j.ok()) continue;
      auto k = trust::Jwk::FromJson(*j);
      if (k.ok()) out.push_back(*k);
    }
    return out;
  }

 private:
  Status WriteSigned(const char* sql, const SignedRow& r) {
    Stmt st(db_, sql);
    st.Bind(1, r.seq);
    st.Bind(2, r.hash);
    st.Bind(3, r.time_us);
    st.Bind(4, r.kid);
    st.Bind(5, r.jws);
    if (st.Step() != SQLITE_DONE) return WriteErr("write an audit checkpoint");
    return Status::Ok();
  }

  sqlite3* db_;
  std::string data_dir_;
};

}  // namespace

Result<std::unique_ptr<ChainStore>> OpenSqliteChain(const std::string& data_dir, bool read_only) {
  fs::path path = fs::path(data_dir) / "audit.db";
  std::error_code ec;
  if (read_only && !fs::is_regular_file(path, ec))
    return Err(ErrorCategory::kNotFound, "GM-AUDIT-020", "no audit log in the data directory");
  if (!read_only) fs::create_directories(data_dir, ec);
  GM_ASSIGN_OR_RETURN(sqlite3 * db, OpenDb(path.string(), read_only));
  auto chain = std::make_unique<SqliteChain>(db, data_dir);
  GM_RETURN_IF_ERROR(read_only ? chain->CheckFormat() : chain->Init());
  return std::unique_ptr<ChainStore>(std::move(chain));
}

}  // namespace gm::audit::internal
