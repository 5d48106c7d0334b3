#include "audit/log.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/json.h"
#include "core/time.h"

namespace gm::audit {
namespace fs = std::filesystem;

namespace {

constexpr const char* kCheckpointTyp = "gm-audit-checkpoint";
constexpr int kFormatVersion = 1;

Status Err(ErrorCategory cat, std::string code, std::string text) {
  return Status::Error(cat, std::move(code), "exception", std::move(text));
}

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK && s_ != nullptr; }
  sqlite3_stmt* get() { return s_; }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void Bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  int Step() { return sqlite3_step(s_); }
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

std::string Hex(std::string_view raw) {
  static const char* d = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

std::optional<std::string> Unhex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = val(hex[i]), lo = val(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

// SHA-256(prev ‖ seq (8 bytes BE) ‖ bytes), raw.
std::string ChainHash(std::string_view prev_raw, int64_t seq, std::string_view bytes) {
  std::string input;
  input.reserve(prev_raw.size() + 8 + bytes.size());
  input.append(prev_raw);
  for (int i = 7; i >= 0; --i)
    input.push_back(static_cast<char>((static_cast<uint64_t>(seq) >> (8 * i)) & 0xff));
  input.append(bytes);
  return trust::Sha256(input);
}

const std::string& ZeroHash() {
  static const std::string z(32, '\0');
  return z;
}

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

std::string PatientOf(const json::Value& ev) {
  const json::Value* ents = ev.find("entity");
  if (!ents || !ents->is_array()) return {};
  for (const json::Value& e : ents->array()) {
    const json::Value* what = e.find("what");
    if (!what) continue;
    std::string_view ref = what->get_string("reference");
    if (ref.rfind("Patient/", 0) == 0 && e.find("role") &&
        e.find("role")->get_string("code") == "1")
      return std::string(ref.substr(8));
  }
  return {};
}

int64_t RecordedUs(const json::Value& ev) {
  auto r = time::ParseFhirDateTime(ev.get_string("recorded"));
  return r ? r->begin_us : -1;
}

}  // namespace

struct AuditLog::Pending {
  std::vector<Event> events;
  std::vector<int64_t> seqs;
  Status status;
  bool done = false;
};

Result<std::unique_ptr<AuditLog>> AuditLog::Open(LogOptions options) {
  if (!options.keys)
    return Err(ErrorCategory::kInternal, "GM-AUDIT-010", "the audit log needs a signing key ring");
  if (options.checkpoint_every < 1) options.checkpoint_every = 1;
  std::error_code ec;
  fs::create_directories(options.data_dir, ec);
  std::unique_ptr<AuditLog> log(new AuditLog());
  log->options_ = options;
  static SystemClock system_clock;
  log->clock_ = options.clock ? options.clock : &system_clock;
  std::string path = (fs::path(options.data_dir) / "audit.db").string();
  GM_ASSIGN_OR_RETURN(log->db_, OpenDb(path, false));
  sqlite3* db = log->db_;
  if (!Exec(db, "PRAGMA journal_mode=WAL") || !Exec(db, "PRAGMA synchronous=FULL") ||
      !Exec(db, kSchema))
    return Err(ErrorCategory::kUnavailable, "GM-AUDIT-010", "cannot create the audit schema");
  {
    Stmt st(db, "INSERT OR IGNORE INTO audit_meta(key, value) VALUES('format', ?)");
    st.Bind(1, std::to_string(kFormatVersion));
    if (!st.ok() || st.Step() != SQLITE_DONE)
      return Err(ErrorCategory::kUnavailable, "GM-AUDIT-010", "cannot create the audit schema");
  }
  log->last_hash_ = ZeroHash();
  {
    Stmt st(db, "SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1");
    if (st.ok() && st.Step() == SQLITE_ROW) {
      log->last_seq_ = st.Int(0);
      auto raw = Unhex(st.Text(1));
      if (!raw || raw->size() != 32)
        return Err(ErrorCategory::kInternal, "GM-AUDIT-011",
                   "the newest audit record is damaged; run grunnmur audit verify");
      log->last_hash_ = *raw;
    }
  }
  {
    Stmt st(db, "SELECT seq FROM audit_checkpoint ORDER BY seq DESC LIMIT 1");
    if (st.ok() && st.Step() == SQLITE_ROW) log->last_checkpoint_ = st.Int(0);
  }
  if (log->last_seq_ > 0) {
    Stmt st(db, "SELECT seq, hash FROM audit_head WHERE id = 1");
    if (!st.ok() || st.Step() != SQLITE_ROW || st.Int(0) != log->last_seq_ ||
        st.Text(1) != Hex(log->last_hash_))
      return Err(ErrorCategory::kInternal, "GM-AUDIT-011",
                 "the audit log's signed head does not match its newest record; run grunnmur "
                 "audit verify");
  }
  GM_ASSIGN_OR_RETURN(log->read_db_, OpenDb(path, true));
  return log;
}

AuditLog::~AuditLog() {
  (void)Close();
  if (read_db_) sqlite3_close(read_db_);
  if (db_) sqlite3_close(db_);
}

int64_t AuditLog::last_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_seq_;
}

int64_t AuditLog::commits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return commits_;
}

Status AuditLog::ArchiveKey(const trust::Jwk& key) {
  if (std::find(archived_kids_.begin(), archived_kids_.end(), key.kid()) != archived_kids_.end())
    return Status::Ok();
  fs::path dir = fs::path(options_.data_dir) / "audit-keys";
  std::error_code ec;
  fs::create_directories(dir, ec);
  // The kid is a file stem from the key ring; refuse anything path-like.
  if (key.kid().empty() || key.kid().find('/') != std::string::npos || key.kid()[0] == '.')
    return Err(ErrorCategory::kUnavailable, "GM-AUDIT-014", "the signing key's kid is unusable");
  fs::path file = dir / (key.kid() + ".json");
  std::string text = json::Write(key.PublicJson());
  if (fs::exists(file)) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str() != text)
      return Err(ErrorCategory::kUnavailable, "GM-AUDIT-014",
                 "the archived key with this kid differs from the signing key");
  } else if (!WriteFileDurably(file, text)) {
    return Err(ErrorCategory::kUnavailable, "GM-AUDIT-014", "cannot archive the signing key");
  }
  archived_kids_.push_back(key.kid());
  return Status::Ok();
}

Status AuditLog::WriteCheckpointLocked(sqlite3* db, int64_t seq, const std::string& hash_hex,
                                       int64_t prev_cp, bool head) {
  trust::Jwk key = options_.keys->Current();
  GM_RETURN_IF_ERROR(ArchiveKey(key));
  int64_t now = clock_->NowUs();
  json::Value payload = json::Value::MakeObject();
  payload.set("kind", head ? "head" : "checkpoint");
  payload.set("seq", json::Value(seq));
  payload.set("hash", hash_hex);
  payload.set("time", time::FormatInstant(now));
  payload.set(head ? "last_checkpoint" : "prev_checkpoint", json::Value(prev_cp));
  json::Value header = json::Value::MakeObject();
  header.set("typ", kCheckpointTyp);
  std::string jws = trust::SignJws(std::move(header), payload, key);
  const char* sql =
      head ? "INSERT OR REPLACE INTO audit_head(id, seq, hash, time_us, kid, jws) "
             "VALUES(1, ?, ?, ?, ?, ?)"
           : "INSERT INTO audit_checkpoint(seq, hash, time_us, kid, jws) VALUES(?, ?, ?, ?, ?)";
  Stmt st(db, sql);
  st.Bind(1, seq);
  st.Bind(2, hash_hex);
  st.Bind(3, now);
  st.Bind(4, key.kid());
  st.Bind(5, jws);
  if (!st.ok() || st.Step() != SQLITE_DONE)
    return Err(ErrorCategory::kUnavailable, "GM-AUDIT-013", "cannot write an audit checkpoint");
  return Status::Ok();
}

Status AuditLog::WriteBatch(std::vector<Pending*>& batch) {
  // Runs on the leader only; reads/writes of last_* happen under the
  // `writing_` exclusivity.
  sqlite3* db = db_;
  if (!Exec(db, "BEGIN IMMEDIATE"))
    return Err(ErrorCategory::kUnavailable, "GM-AUDIT-013", "cannot begin an audit transaction");
  int64_t seq = last_seq_;
  std::string hash = last_hash_;
  int64_t cp = last_checkpoint_;
  bool any = false;
  Status failure;
  for (Pending* p : batch) {
    int64_t seq0 = seq, cp0 = cp;
    std::string hash0 = hash;
    Exec(db, "SAVEPOINT req");
    Status st;
    for (Event& e : p->events) {
      int64_t s = seq + 1;
      e.resource.set("id", std::to_string(s));
      std::string bytes = json::Write(e.resource);
      std::string h = ChainHash(hash, s, bytes);
      Stmt ins(db,
               "INSERT INTO audit_event(seq, time_us, patient, event, prev_hash, hash) "
               "VALUES(?, ?, ?, ?, ?, ?)");
      ins.Bind(1, s);
      ins.Bind(2, RecordedUs(e.resource));
      ins.Bind(3, e.patient_id);
      ins.Bind(4, bytes);
      ins.Bind(5, Hex(hash));
      ins.Bind(6, Hex(h));
      if (!ins.ok() || ins.Step() != SQLITE_DONE) {
        st = Err(ErrorCategory::kUnavailable, "GM-AUDIT-013", "cannot write an audit record");
        break;
      }
      seq = s;
      hash = h;
      p->seqs.push_back(s);
      if (s % options_.checkpoint_every == 0) {
        st = WriteCheckpointLocked(db, s, Hex(h), cp, false);
        if (!st.ok()) break;
        cp = s;
      }
    }
    if (st.ok()) {
      Exec(db, "RELEASE req");
      any = any || !p->events.empty();
    } else {
      Exec(db, "ROLLBACK TO req");
      Exec(db, "RELEASE req");
      seq = seq0;
      hash = hash0;
      cp = cp0;
      p->seqs.clear();
      p->status = st;
    }
  }
  if (any) {
    Status st = WriteCheckpointLocked(db, seq, Hex(hash), cp, true);
    if (!st.ok()) failure = st;
  }
  if (failure.ok() && !Exec(db, "COMMIT"))
    failure = Err(ErrorCategory::kUnavailable, "GM-AUDIT-013", "cannot commit the audit records");
  if (!failure.ok()) {
    Exec(db, "ROLLBACK");
    return failure;
  }
  last_seq_ = seq;
  last_hash_ = hash;
  last_checkpoint_ = cp;
  ++commits_;
  return Status::Ok();
}

Result<std::vector<int64_t>> AuditLog::Append(std::vector<Event> events) {
  Pending p;
  p.events = std::move(events);
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return Err(ErrorCategory::kUnavailable, "GM-AUDIT-012", "the audit log is closed");
  queue_.push_back(&p);
  while (!p.done) {
    if (!writing_) {
      if (closed_) {  // closed while we waited
        queue_.erase(std::remove(queue_.begin(), queue_.end(), &p), queue_.end());
        return Err(ErrorCategory::kUnavailable, "GM-AUDIT-012", "the audit log is closed");
      }
      writing_ = true;
      std::vector<Pending*> batch;
      batch.swap(queue_);
      lock.unlock();
      Status st = WriteBatch(batch);
      lock.lock();
      for (Pending* q : batch) {
        if (!st.ok()) {
          q->status = st;
          q->seqs.clear();
        }
        q->done = true;
      }
      writing_ = false;
      cv_.notify_all();
    } else {
      cv_.wait(lock);
    }
  }
  if (!p.status.ok()) return p.status;
  return std::move(p.seqs);
}

Status AuditLog::Close() {
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return Status::Ok();
  cv_.wait(lock, [&] { return !writing_ && queue_.empty(); });
  closed_ = true;
  cv_.notify_all();
  if (!db_ || last_seq_ == 0 || last_seq_ == last_checkpoint_) return Status::Ok();
  if (!Exec(db_, "BEGIN IMMEDIATE"))
    return Err(ErrorCategory::kUnavailable, "GM-AUDIT-013", "cannot begin an audit transaction");
  std::string hex = Hex(last_hash_);
  Status st = WriteCheckpointLocked(db_, last_seq_, hex, last_checkpoint_, false);
  if (st.ok()) st = WriteCheckpointLocked(db_, last_seq_, hex, last_seq_, true);
  if (st.ok() && !Exec(db_, "COMMIT"))
    st = Err(ErrorCategory::kUnavailable, "GM-AUDIT-013", "cannot commit the final checkpoint");
  if (!st.ok()) {
    Exec(db_, "ROLLBACK");
    return st;
  }
  last_checkpoint_ = last_seq_;
  return Status::Ok();
}

Result<AccessPage> AuditLog::EventsForPatient(std::string_view patient_id, size_t limit,
                                              int64_t before_seq) const {
  limit = std::clamp<size_t>(limit, 1, 500);
  std::lock_guard<std::mutex> lock(read_mu_);
  Stmt st(read_db_,
          "SELECT seq, event FROM audit_event WHERE patient = ? AND seq < ? "
          "ORDER BY seq DESC LIMIT ?");
  if (!st.ok())
    return Err(ErrorCategory::kUnavailable, "GM-AUDIT-010", "cannot read the audit log");
  st.Bind(1, patient_id);
  st.Bind(2, before_seq > 0 ? before_seq : INT64_MAX);
  st.Bind(3, static_cast<int64_t>(limit + 1));
  AccessPage page;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    int64_t seq = st.Int(0);
    if (page.entries.size() == limit) {
      page.next_before = page.entries.back().seq;
      break;
    }
    auto ev = json::Parse(st.Text(1));
    if (!ev.ok())
      return Err(ErrorCategory::kInternal, "GM-AUDIT-011", "an audit record is damaged");
    AccessSummary s = Summarize(*ev);
    s.seq = seq;
    page.entries.push_back(std::move(s));
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return Err(ErrorCategory::kUnavailable, "GM-AUDIT-010", "cannot read the audit log");
  return page;
}

// ---- Verify ----

std::string_view ProblemKindName(ProblemKind kind) {
  switch (kind) {
    case ProblemKind::kEventChanged: return "event-changed";
    case ProblemKind::kEventRemoved: return "event-removed";
    case ProblemKind::kEventReordered: return "event-reordered";
    case ProblemKind::kChainBroken: return "chain-broken";
    case ProblemKind::kRowMismatch: return "row-mismatch";
    case ProblemKind::kCheckpointInvalid: return "checkpoint-invalid";
    case ProblemKind::kCheckpointMismatch: return "checkpoint-mismatch";
    case ProblemKind::kCheckpointRemoved: return "checkpoint-removed";
    case ProblemKind::kTruncated: return "truncated";
    case ProblemKind::kHeadMissing: return "head-missing";
    case ProblemKind::kUnsignedTail: return "unsigned-tail";
    case ProblemKind::kKeyMismatch: return "key-mismatch";
  }
  return "unknown";
}

namespace {

struct Keys {
  std::map<std::string, trust::Jwk> by_kid;
};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Keys LoadKeys(const std::string& data_dir, const VerifyOptions& options,
              std::vector<Problem>& problems) {
  Keys keys;
  for (const trust::Jwk& k : options.trusted_keys) keys.by_kid.emplace(k.kid(), k);
  if (options.only_trusted_keys) return keys;
  std::error_code ec;
  std::map<std::string, trust::Jwk> ring;
  fs::path ring_dir = fs::path(data_dir) / "keys";
  if (fs::is_directory(ring_dir, ec)) {
    for (const auto& entry : fs::directory_iterator(ring_dir, ec)) {
      if (entry.path().extension() != ".pem") continue;
      auto k = trust::Jwk::FromPem(ReadFile(entry.path()), entry.path().stem().string());
      if (k.ok()) ring.emplace(k->kid(), *k);
    }
  }
  fs::path archive = fs::path(data_dir) / "audit-keys";
  if (fs::is_directory(archive, ec)) {
    for (const auto& entry : fs::directory_iterator(archive, ec)) {
      if (entry.path().extension() != ".json") continue;
      auto j = json::Parse(ReadFile(entry.path()));
      if (!j.ok()) continue;
      auto k = trust::Jwk::FromJson(*j);
      if (!k.ok()) continue;
      auto it = ring.find(k->kid());
      if (it != ring.end() && it->second.Thumbprint() != k->Thumbprint()) {
        problems.push_back({ProblemKind::kKeyMismatch, 0,
                            "archived public key " + k->kid() + " differs from the key ring's"});
        continue;
      }
      keys.by_kid.emplace(k->kid(), *k);
    }
  }
  for (auto& [kid, k] : ring) keys.by_kid.emplace(kid, k);
  return keys;
}

struct SignedPoint {
  bool valid = false;
  int64_t seq = 0;
  std::string hash;
  int64_t link = 0;  // prev_checkpoint / last_checkpoint
};

// Checks a checkpoint/head row's JWS; problems go to `problems`.
SignedPoint CheckSigned(const Keys& keys, std::string_view kind, int64_t row_seq,
                        const std::string& row_hash, const std::string& row_kid,
                        const std::string& jws_text, std::vector<Problem>& problems) {
  SignedPoint sp;
  std::string what = std::string(kind) + " at seq " + std::to_string(row_seq);
  auto jws = trust::DecodeJws(jws_text);
  if (!jws.ok()) {
    problems.push_back({ProblemKind::kCheckpointInvalid, row_seq, what + ": not a JWS"});
    return sp;
  }
  if (jws->header.get_string("typ") != kCheckpointTyp) {
    problems.push_back({ProblemKind::kCheckpointInvalid, row_seq, what + ": wrong typ"});
    return sp;
  }
  std::string kid(jws->header.get_string("kid"));
  auto it = keys.by_kid.find(kid);
  if (it == keys.by_kid.end()) {
    problems.push_back(
        {ProblemKind::kCheckpointInvalid, row_seq, what + ": signed with an unknown key " + kid});
    return sp;
  }
  if (!trust::VerifyJws(*jws, it->second, {trust::Alg::kES256, trust::Alg::kRS256}).ok()) {
    problems.push_back(
        {ProblemKind::kCheckpointInvalid, row_seq, what + ": signature does not verify"});
    return sp;
  }
  const json::Value& pl = jws->payload;
  const json::Value* seq = pl.find("seq");
  const json::Value* link = pl.find(kind == "head" ? "last_checkpoint" : "prev_checkpoint");
  if (pl.get_string("kind") != kind || !seq || !seq->is_number() || !link || !link->is_number()) {
    problems.push_back({ProblemKind::kCheckpointInvalid, row_seq, what + ": malformed payload"});
    return sp;
  }
  sp.seq = std::stoll(seq->str());
  sp.hash = std::string(pl.get_string("hash"));
  sp.link = std::stoll(link->str());
  if (sp.seq != row_seq || sp.hash != row_hash || kid != row_kid) {
    problems.push_back({ProblemKind::kCheckpointInvalid, row_seq,
                        what + ": the signed content differs from the row"});
    // The signed statement is still true; use it (the row was edited).
  }
  sp.valid = true;
  return sp;
}

}  // namespace

Result<VerifyReport> Verify(const std::string& data_dir, const VerifyOptions& options) {
  fs::path path = fs::path(data_dir) / "audit.db";
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return Err(ErrorCategory::kNotFound, "GM-AUDIT-020", "no audit log in the data directory");
  GM_ASSIGN_OR_RETURN(sqlite3 * db, OpenDb(path.string(), true));
  struct Closer {
    sqlite3* db;
    ~Closer() { sqlite3_close(db); }
  } closer{db};
  {
    Stmt st(db, "SELECT value FROM audit_meta WHERE key = 'format'");
    if (!st.ok() || st.Step() != SQLITE_ROW)
      return Err(ErrorCategory::kInvalid, "GM-AUDIT-021", "not a grunnmur audit database");
  }
  VerifyReport report;
  std::vector<Problem>& problems = report.problems;
  Keys keys = LoadKeys(data_dir, options, problems);

  // 1. The chain.
  std::map<int64_t, std::string> hash_at;  // seq → hex hash (for checkpoints)
  {
    Stmt st(db, "SELECT seq, time_us, patient, event, prev_hash, hash FROM audit_event ORDER BY seq");
    if (!st.ok()) return Err(ErrorCategory::kInvalid, "GM-AUDIT-021", "not a grunnmur audit database");
    int64_t expected = 1;
    std::string prev_stored_hex = Hex(ZeroHash());
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      int64_t seq = st.Int(0);
      int64_t time_us = st.Int(1);
      std::string patient = st.Text(2), bytes = st.Text(3), prev_hex = st.Text(4),
                  hash_hex = st.Text(5);
      ++report.events;
      if (report.events == 1) report.first_seq = seq;
      report.last_seq = seq;
      hash_at[seq] = hash_hex;
      bool reported = false;
      auto add = [&](ProblemKind k, std::string detail) {
        problems.push_back({k, seq, std::move(detail)});
        reported = true;
      };
      if (seq > expected) {
        add(ProblemKind::kEventRemoved,
            seq - expected == 1 ? "record " + std::to_string(expected) + " is missing"
                                : "records " + std::to_string(expected) + "–" +
                                      std::to_string(seq - 1) + " are missing");
      }
      auto prev_raw = Unhex(prev_hex);
      auto parsed = json::Parse(bytes);
      int64_t written_as = 0;
      if (parsed.ok()) {
        std::string id(parsed->get_string("id"));
        if (!id.empty() && std::all_of(id.begin(), id.end(), ::isdigit) && id.size() < 19)
          written_as = std::stoll(id);
      }
      bool own_ok = prev_raw && prev_raw->size() == 32 &&
                    Hex(ChainHash(*prev_raw, seq, bytes)) == hash_hex;
      if (!own_ok && !reported) {
        if (prev_raw && prev_raw->size() == 32 && written_as > 0 && written_as != seq &&
            Hex(ChainHash(*prev_raw, written_as, bytes)) == hash_hex)
          add(ProblemKind::kEventReordered, "record written as " + std::to_string(written_as) +
                                                " is stored at " + std::to_string(seq));
        else
          add(ProblemKind::kEventChanged, "record " + std::to_string(seq) +
                                              " does not match its hash");
      }
      if (!reported && prev_hex != prev_stored_hex) {
        // Does the predecessor it names exist elsewhere?
        Stmt find(db, "SELECT seq FROM audit_event WHERE hash = ? LIMIT 1");
        find.Bind(1, prev_hex);
        if (find.ok() && find.Step() == SQLITE_ROW)
          add(ProblemKind::kEventReordered, "record " + std::to_string(seq) +
                                                " follows record " + std::to_string(find.Int(0)));
        else
          add(ProblemKind::kChainBroken, "record " + std::to_string(seq) +
                                             " does not link to the record before it");
      }
      if (!reported && parsed.ok() &&
          (PatientOf(*parsed) != patient || RecordedUs(*parsed) != time_us))
        add(ProblemKind::kRowMismatch,
            "record " + std::to_string(seq) + "'s patient or time column differs from its event");
      if (!reported && !parsed.ok())
        add(ProblemKind::kEventChanged, "record " + std::to_string(seq) + " is not JSON");
      prev_stored_hex = hash_hex;
      expected = seq + 1;
      if (problems.size() > options.max_problems) {
        report.truncated_report = true;
        break;
      }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE && !report.truncated_report)
      return Err(ErrorCategory::kUnavailable, "GM-AUDIT-010", "cannot read the audit log");
  }

  // 2. Checkpoints.
  std::map<int64_t, bool> checkpoint_seqs;
  std::vector<SignedPoint> points;
  {
    Stmt st(db, "SELECT seq, hash, kid, jws FROM audit_checkpoint ORDER BY seq");
    if (!st.ok()) return Err(ErrorCategory::kInvalid, "GM-AUDIT-021", "not a grunnmur audit database");
    while (st.Step() == SQLITE_ROW) {
      ++report.checkpoints;
      int64_t seq = st.Int(0);
      checkpoint_seqs[seq] = true;
      SignedPoint sp = CheckSigned(keys, "checkpoint", seq, st.Text(1), st.Text(2), st.Text(3),
                                   problems);
      if (sp.valid) points.push_back(sp);
    }
  }
  auto check_point = [&](const SignedPoint& sp, std::string_view what) {
    auto it = hash_at.find(sp.seq);
    if (sp.seq > report.last_seq) {
      problems.push_back({ProblemKind::kTruncated, sp.seq,
                          std::string(what) + " signs record " + std::to_string(sp.seq) +
                              " but the log ends at " + std::to_string(report.last_seq)});
    } else if (it == hash_at.end()) {
      // Removed: already reported as a gap.
    } else if (it->second != sp.hash) {
      problems.push_back({ProblemKind::kCheckpointMismatch, sp.seq,
                          std::string(what) + " at " + std::to_string(sp.seq) +
                              " does not match the chain (rewritten)"});
    } else {
      report.signed_through = std::max(report.signed_through, sp.seq);
    }
    if (sp.link > 0 && !checkpoint_seqs.count(sp.link))
      problems.push_back({ProblemKind::kCheckpointRemoved, sp.link,
                          "checkpoint at " + std::to_string(sp.link) + " named by the " +
                              std::string(what) + " at " + std::to_string(sp.seq) +
                              " is missing"});
  };
  for (const SignedPoint& sp : points) check_point(sp, "checkpoint");

  // 3. The head.
  {
    Stmt st(db, "SELECT seq, hash, kid, jws FROM audit_head WHERE id = 1");
    if (!st.ok()) return Err(ErrorCategory::kInvalid, "GM-AUDIT-021", "not a grunnmur audit database");
    if (st.Step() == SQLITE_ROW) {
      SignedPoint sp =
          CheckSigned(keys, "head", st.Int(0), st.Text(1), st.Text(2), st.Text(3), problems);
      if (sp.valid) {
        check_point(sp, "head");
        if (sp.seq < report.last_seq)
          problems.push_back({ProblemKind::kUnsignedTail, sp.seq + 1,
                              "records " + std::to_string(sp.seq + 1) + "–" +
                                  std::to_string(report.last_seq) + " are after the signed head"});
      }
    } else if (report.events > 0 || report.checkpoints > 0) {
      problems.push_back({ProblemKind::kHeadMissing, 0, "the signed head is missing"});
    }
  }
  if (problems.size() > options.max_problems) {
    problems.resize(options.max_problems);
    report.truncated_report = true;
  }
  return report;
}

}  // namespace gm::audit
