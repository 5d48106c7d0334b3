#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <limits>
#include <system_error>
#include <utility>

#include "store/cursor.h"
#include "store/index_rows.h"
#include "store/sqlite/query.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/search_schema.h"

namespace gm::store {

Result<std::unique_ptr<Store>> OpenSqlite(const SqliteOptions& options) {
  GM_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::SqliteStore> s, sqlite::SqliteStore::Open(options));
  return std::unique_ptr<Store>(std::move(s));
}

namespace sqlite {
namespace {

constexpr int kBusyTimeoutMs = 10000;
// Pages are fetched with one extra row to learn whether a next page exists.
constexpr size_t kMaxPage = size_t(1) << 30;
constexpr std::string_view kHistoryTag = "history";
constexpr std::string_view kInstanceHistoryTag = "history-instance";
constexpr std::string_view kCompartmentTag = "compartment";

Status NotDurable(const Status& cause) {
  return Status::Error(
      ErrorCategory::kUnavailable, "GM-STORE-020", "transient",
      "The write could not be made durable; nothing was stored (" + cause.message() + ")");
}

Status BatchAborted() {
  return Status::Error(ErrorCategory::kUnavailable, "GM-STORE-023", "transient",
                       "The write was rolled back by a storage error in the same transaction");
}

Status BadPut(const std::string& text) {
  return Status::Error(ErrorCategory::kInvalid, "GM-STORE-011", "invalid", text);
}


Status ValidatePut(const PutRequest& req) {
  const ResourceVersion& r = req.resource;
  if (r.type.empty() || r.id.empty()) return BadPut("A stored resource needs a type and an id");
  if (r.version < 1) return BadPut("A stored version number must be at least 1");
  if (r.deleted) return Status::Ok();
  if (r.json.empty()) return BadPut("A stored resource version needs content");
  for (const IndexEntry& e : req.index) {
    if (e.param.empty()) return BadPut("An index entry needs a parameter code");
    if (e.kind == IndexEntry::Kind::kNumber || e.kind == IndexEntry::Kind::kQuantity) {
      if (std::isnan(e.lo) || std::isnan(e.hi) || e.lo > e.hi) {
        return BadPut("Index entry '" + e.param + "' has an invalid number range");
      }
    }
    if (e.kind == IndexEntry::Kind::kDate && e.begin_us > e.end_us) {
      return BadPut("Index entry '" + e.param + "' has an invalid date range");
    }
    if (e.kind == IndexEntry::Kind::kComposite) {
      if (e.components.empty() || e.components.size() > kMaxCompositeComponents) {
        return BadPut("Composite index entry '" + e.param + "' has too many or no components");
      }
      for (const IndexEntry& c : e.components) {
        if (c.kind == IndexEntry::Kind::kComposite || c.kind == IndexEntry::Kind::kText) {
          return BadPut("Composite index entry '" + e.param + "' has a nested component");
        }
      }
    }
    if (e.kind == IndexEntry::Kind::kText && e.param != "_text" && e.param != "_content") {
      return BadPut("Full-text index entries are for _text and _content only");
    }
  }
  return Status::Ok();
}

Result<std::optional<ResourceVersion>> ReadCurrent(Connection& c, const std::string& type,
                                                   const std::string& id) {
  GM_ASSIGN_OR_RETURN(
      Statement st,
      c.Prepare("SELECT r.version, r.last_updated_us, r.deleted, v.json FROM resource AS r "
                "JOIN resource_version AS v ON v.rid = r.rid AND v.version = r.version "
                "WHERE r.type = ?1 AND r.id = ?2"));
  st.Bind(1, std::string_view(type));
  st.Bind(2, std::string_view(id));
  GM_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<ResourceVersion>();
  ResourceVersion rv{type, id, st.Int(0), st.Int(1), st.Int(2) != 0, st.Text(3)};
  return std::optional<ResourceVersion>(std::move(rv));
}

// Runs a parameterless statement through the connection's statement cache.
Status RunCached(Connection& c, std::string_view sql) {
  GM_ASSIGN_OR_RETURN(Statement st, c.Prepare(sql));
  return st.Run();
}

// Binds a list of values as ?1..?N.
void BindValues(Statement& st, const std::vector<KeyValue>& values) {
  for (size_t i = 0; i < values.size(); ++i) st.Bind(int(i + 1), values[i]);
}

std::string Placeholder(std::vector<KeyValue>& values, KeyValue v) {
  values.push_back(std::move(v));
  return "?" + std::to_string(values.size());
}

struct Row {
  int64_t rid;
  ResourceVersion rv;
};

// Fills in the JSON of current-version rows.
Status FetchJson(Connection& c, std::vector<Row>& rows) {
  for (Row& row : rows) {
    GM_ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT json FROM resource_version WHERE rid = ?1 AND version = ?2"));
    st.Bind(1, row.rid);
    st.Bind(2, row.rv.version);
    GM_ASSIGN_OR_RETURN(bool found, st.Step());
    if (found) row.rv.json = st.Text(0);
  }
  return Status::Ok();
}

}  // namespace

// ---- Reader pool -----------------------------------------------------------

// ---- Write transaction -----------------------------------------------------

class SqliteStore::WriteTxn final : public Txn {
 public:
  explicit WriteTxn(SqliteStore& s) : s_(s) {}

  Result<std::optional<ResourceVersion>> Current(const std::string& type,
                                                 const std::string& id) override {
    return ReadCurrent(*s_.writer_conn_, type, id);
  }

  Result<std::vector<std::string>> Match(const Query& query, size_t limit) override {
    GM_ASSIGN_OR_RETURN(QueryPage page, s_.RunQuery(*s_.writer_conn_, query, limit, false));
    std::vector<std::string> ids;
    for (ResourceVersion& rv : page.resources) ids.push_back(std::move(rv.id));
    return ids;
  }

  Status Put(const PutRequest& request) override {
    replaced_.clear();
    Status s = s_.PutVersion(request, &replaced_);
    if (!s.ok() && failure_.ok()) failure_ = s;
    return s;
  }

  Status Reindex(const PutRequest& request) override {
    Status s = s_.ReindexVersion(request);
    if (!s.ok() && s.code() != "GM-STORE-012" && failure_.ok()) failure_ = s;
    return s;
  }

  Status StageAudit(const AuditOutboxRow& row) override {
    Status s = Stage(row);
    if (!s.ok() && failure_.ok()) failure_ = s;
    return s;
  }

  Status RemoveAudit(const std::vector<std::string>& keys) override {
    for (const std::string& key : keys) {
      GM_ASSIGN_OR_RETURN(Statement st,
                          s_.writer_conn_->Prepare("DELETE FROM audit_outbox WHERE key = ?1"));
      st.Bind(1, std::string_view(key));
      Status s = st.Run();
      if (!s.ok()) {
        if (failure_.ok()) failure_ = s;
        return s;
      }
    }
    return Status::Ok();
  }

  // The first failed Put or Reindex (other than a Reindex conflict, which
  // stages nothing), if any: the fn's changes are discarded even if it
  // returns Ok, since its staged state would be incomplete.
  const std::vector<std::string>& ReplacedCompartments() const override { return replaced_; }

  const Status& failure() const { return failure_; }

 private:
  Status Stage(const AuditOutboxRow& row) {
    if (row.key.empty() || row.patient_id.empty() || row.event.empty()) {
      return Status::Error(ErrorCategory::kInvalid, "GM-STORE-011", "invalid",
                           "StageAudit: key, patient and event are required");
    }
    GM_ASSIGN_OR_RETURN(Statement st,
                        s_.writer_conn_->Prepare("INSERT INTO audit_outbox(key, patient, time_us, "
                                                 "event) VALUES(?1, ?2, ?3, ?4)"));
    st.Bind(1, std::string_view(row.key));
    st.Bind(2, std::string_view(row.patient_id));
    st.Bind(3, row.time_us);
    st.BindBlob(4, row.event);
    return st.Run();
  }

  SqliteStore& s_;
  Status failure_;
  std::vector<std::string> replaced_;
};

// ---- Open / Close ----------------------------------------------------------

SqliteStore::SqliteStore(const SqliteOptions& options, const SqliteInternalOptions& internal)
    : options_(options), internal_(internal) {}

SqliteStore::~SqliteStore() { Close(); }

int64_t SqliteStore::NowUs() const {
  if (internal_.now_us) return internal_.now_us();
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteOptions& options,
                                                       const SqliteInternalOptions& internal) {
  std::unique_ptr<SqliteStore> s(new SqliteStore(options, internal));
  Status st = s->Start();
  if (!st.ok()) {
    s->Close();
    return st;
  }
  return s;
}

Status SqliteStore::Start() {
  std::error_code ec;
  std::filesystem::create_directories(options_.directory, ec);
  if (ec) {
    return Status::Error(ErrorCategory::kUnavailable, "GM-STORE-007", "exception",
                         "Cannot create the data directory: " + ec.message());
  }
  path_ = (std::filesystem::path(options_.directory) / "grunnmur.db").string();

  GM_ASSIGN_OR_RETURN(
      writer_conn_,
      Connection::Open(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, internal_.vfs));
  Connection& w = *writer_conn_;
  sqlite3_busy_timeout(w.db(), kBusyTimeoutMs);
  GM_RETURN_IF_ERROR(w.Exec("PRAGMA synchronous = FULL"));
  GM_RETURN_IF_ERROR(EnsureSchema(w));
  GM_RETURN_IF_ERROR(EnsureSearchSchema(w));
  GM_ASSIGN_OR_RETURN(journal_mode_, w.QueryText("PRAGMA journal_mode = WAL"));
  if (journal_mode_ != "wal") {
    return Status::Error(
        ErrorCategory::kUnavailable, "GM-STORE-001", "exception",
        "The database cannot use write-ahead logging (journal mode '" + journal_mode_ + "')");
  }
  GM_RETURN_IF_ERROR(
      w.Exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF; PRAGMA cache_size = -131072; "
             "PRAGMA temp_store = MEMORY; PRAGMA secure_delete = FAST; "
             "PRAGMA journal_size_limit = 67108864"));
  GM_ASSIGN_OR_RETURN(synchronous_, w.QueryText("PRAGMA synchronous"));

  readers_ = std::make_unique<ReaderPool>();
  GM_RETURN_IF_ERROR(readers_->Open(
      options_.reader_connections, [&]() -> Result<std::unique_ptr<Connection>> {
        GM_ASSIGN_OR_RETURN(std::unique_ptr<Connection> c,
                            Connection::Open(path_, SQLITE_OPEN_READONLY, internal_.vfs));
        sqlite3_busy_timeout(c->db(), kBusyTimeoutMs);
        GM_RETURN_IF_ERROR(c->Exec("PRAGMA cache_size = -8192; PRAGMA temp_store = MEMORY"));
        return c;
      }));

  GM_ASSIGN_OR_RETURN(checkpoint_conn_,
                      Connection::Open(path_, SQLITE_OPEN_READWRITE, internal_.vfs));
  sqlite3_busy_timeout(checkpoint_conn_->db(), kBusyTimeoutMs);
  GM_RETURN_IF_ERROR(checkpoint_conn_->Exec("PRAGMA synchronous = FULL"));
  GM_RETURN_IF_ERROR(w.Exec("PRAGMA wal_autocheckpoint = 0"));
  sqlite3_wal_hook(w.db(), &SqliteStore::WalHook, this);
  checkpointer_ = std::thread([this] { CheckpointLoop(); });

  writer_ = std::thread([this] { WriterLoop(); });
  writer_id_ = writer_.get_id();
  return Status::Ok();
}

void SqliteStore::Close() {
  // From inside a write fn the writer cannot wait for itself; the owner closes.
  if (std::this_thread::get_id() == writer_id_) return;
  std::lock_guard<std::mutex> cl(close_mu_);
  if (closed_) return;
  closed_ = true;
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard<std::mutex> l(ckpt_mu_);
    ckpt_stopping_ = true;
  }
  ckpt_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  checkpoint_conn_.reset();
  if (readers_) readers_->Close();
  if (writer_conn_) {
    // Folds the WAL into the database file; failure leaves a valid WAL behind.
    (void)writer_conn_->Exec("PRAGMA wal_checkpoint(TRUNCATE)");
    writer_conn_.reset();
  }
}

// ---- Checkpoints -------------------------------------------------------------

namespace {
// About 4 MiB of WAL (SQLite's own default threshold is 1000 pages).
constexpr int kCheckpointPages = 1000;
// Past this the WAL is folded back with a blocking checkpoint (RESTART), so it
// cannot grow without bound while readers keep PASSIVE ones from finishing.
constexpr int kRestartPages = 64000;
}  // namespace

int SqliteStore::WalHook(void* self, sqlite3*, const char*, int pages) {
  auto* store = static_cast<SqliteStore*>(self);
  bool wake = false;
  store->writer_wal_pages_ = pages;  // the hook runs on the writer thread
  {
    std::lock_guard<std::mutex> l(store->ckpt_mu_);
    store->wal_pages_ = pages;
    wake = pages >= kCheckpointPages;
  }
  if (wake) store->ckpt_cv_.notify_one();
  return SQLITE_OK;
}

void SqliteStore::CheckpointLoop() {
  for (;;) {
    int pages = 0;
    {
      std::unique_lock<std::mutex> l(ckpt_mu_);
      ckpt_cv_.wait(l, [&] { return ckpt_stopping_ || wal_pages_ >= kCheckpointPages; });
      if (ckpt_stopping_) return;
      pages = wal_pages_;
      wal_pages_ = 0;
    }
    int mode = pages >= kRestartPages ? SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE;
    // Failure (busy, I/O) leaves a valid WAL; the next commit's hook retries.
    (void)sqlite3_wal_checkpoint_v2(checkpoint_conn_->db(), nullptr, mode, nullptr, nullptr);
  }
}

// ---- Writes ----------------------------------------------------------------

Status SqliteStore::Write(const std::function<Status(Txn&)>& fn) {
  if (std::this_thread::get_id() == writer_id_) {
    return Status::Error(ErrorCategory::kInternal, "GM-STORE-024", "exception",
                         "Store::Write called from inside a write function");
  }
  WriteRequest req;
  req.fn = &fn;
  std::unique_lock<std::mutex> l(mu_);
  if (stopping_) return Closed();
  queue_.push_back(&req);
  counters_.queued = queue_.size();
  queue_cv_.notify_one();
  done_cv_.wait(l, [&] { return req.done; });
  return std::move(req.result);
}

void SqliteStore::WriterLoop() {
  std::vector<WriteRequest*> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      queue_cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is done
      size_t n = std::min(queue_.size(), std::max<size_t>(options_.max_batch, 1));
      batch.assign(queue_.begin(), queue_.begin() + n);
      queue_.erase(queue_.begin(), queue_.begin() + n);
      counters_.queued = queue_.size();
    }
    RunBatch(batch);
    if (writer_wal_pages_ >= kRestartPages) {
      // A writer that never pauses outruns the background PASSIVE checkpoints
      // and wins every race for the lock a RESTART needs, so the WAL would
      // grow without bound (measured: 15 GB at 1M resources, the kernel
      // zero-filling new WAL blocks). Between batches the writer holds no
      // lock: fold the WAL back here (most frames are copied already), so
      // the next commit starts it over (truncated to journal_size_limit).
      (void)sqlite3_wal_checkpoint_v2(writer_conn_->db(), nullptr, SQLITE_CHECKPOINT_RESTART,
                                      nullptr, nullptr);
      writer_wal_pages_ = 0;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      for (WriteRequest* r : batch) {
        (r->result.ok() ? counters_.writes_ok : counters_.writes_failed)++;
        r->done = true;
      }
    }
    done_cv_.notify_all();
    batch.clear();
  }
}

Status SqliteStore::RunFn(WriteRequest& req) {
  WriteTxn txn(*this);
  Status s;
  try {
    s = (*req.fn)(txn);
  } catch (const std::exception& e) {
    s = Status::Error(ErrorCategory::kInternal, "GM-STORE-022", "exception",
                      std::string("A write function threw: ") + e.what());
  } catch (...) {
    s = Status::Error(ErrorCategory::kInternal, "GM-STORE-022", "exception",
                      "A write function threw");
  }
  if (s.ok() && !txn.failure().ok()) s = txn.failure();
  return s;
}

void SqliteStore::RunBatch(std::vector<WriteRequest*>& batch) {
  Connection& w = *writer_conn_;
  size_t next = 0;
  while (next < batch.size()) {
    std::vector<WriteRequest*> staged;
    auto fail_staged = [&](const Status& s) {
      for (WriteRequest* r : staged) r->result = s;
      batch_pids_.clear();
      fn_new_pids_.clear();
      std::lock_guard<std::mutex> l(mu_);
      counters_.failed_commits++;
    };
    TxnScope txn(w);
    Status begun = txn.Begin(/*immediate=*/true);
    if (!begun.ok()) {
      for (; next < batch.size(); ++next) batch[next]->result = NotDurable(begun);
      fail_staged(begun);
      return;
    }
    bool aborted = false;
    for (; next < batch.size() && !aborted; ++next) {
      WriteRequest& req = *batch[next];
      Status sp = RunCached(w, "SAVEPOINT fn");
      if (!sp.ok()) {
        req.result = NotDurable(sp);
        aborted = true;
        continue;
      }
      fn_new_pids_.clear();
      Status s = RunFn(req);
      if (!w.InTransaction()) {
        // SQLite rolled the whole transaction back (e.g. disk full, I/O error).
        req.result = s.ok() ? BatchAborted() : s;
        aborted = true;
        continue;
      }
      if (s.ok()) {
        Status rel = RunCached(w, "RELEASE fn");
        if (!rel.ok()) {
          req.result = NotDurable(rel);
          aborted = true;
          continue;
        }
        staged.push_back(&req);
        continue;
      }
      req.result = std::move(s);
      for (const PidKey& k : fn_new_pids_) batch_pids_.erase(k);
      if (!RunCached(w, "ROLLBACK TO fn").ok() || !RunCached(w, "RELEASE fn").ok()) aborted = true;
    }
    if (aborted) {
      fail_staged(BatchAborted());
      continue;  // txn's destructor rolls back; the rest run in a new transaction
    }
    Status committed = txn.Commit();
    if (!committed.ok()) {
      fail_staged(NotDurable(committed));
      continue;
    }
    for (auto& [k, v] : batch_pids_) committed_pids_[k] = v;
    batch_pids_.clear();
    for (WriteRequest* r : staged) r->result = Status::Ok();
    std::lock_guard<std::mutex> l(mu_);
    counters_.commits++;
  }
}

Result<int64_t> SqliteStore::InternParam(const std::string& type, const std::string& param,
                                         int kind) {
  PidKey key{type, param, kind};
  if (auto it = committed_pids_.find(key); it != committed_pids_.end()) return it->second;
  if (auto it = batch_pids_.find(key); it != batch_pids_.end()) return it->second;
  Connection& w = *writer_conn_;
  int64_t pid = 0;
  {
    GM_ASSIGN_OR_RETURN(
        Statement st,
        w.Prepare("SELECT pid FROM search_param WHERE param = ?1 AND type = ?2 AND kind = ?3"));
    st.Bind(1, std::string_view(param));
    st.Bind(2, std::string_view(type));
    st.Bind(3, int64_t(kind));
    GM_ASSIGN_OR_RETURN(bool found, st.Step());
    if (found) pid = st.Int(0);
  }
  if (pid == 0) {
    GM_ASSIGN_OR_RETURN(
        Statement st, w.Prepare("INSERT INTO search_param(type, param, kind) VALUES(?1, ?2, ?3)"));
    st.Bind(1, std::string_view(type));
    st.Bind(2, std::string_view(param));
    st.Bind(3, int64_t(kind));
    GM_RETURN_IF_ERROR(st.Run());
    pid = sqlite3_last_insert_rowid(w.db());
  }
  batch_pids_[key] = pid;
  fn_new_pids_.push_back(key);
  return pid;
}

Status SqliteStore::PutVersion(const PutRequest& req, std::vector<std::string>* replaced) {
  GM_RETURN_IF_ERROR(ValidatePut(req));
  Connection& w = *writer_conn_;
  const ResourceVersion& r = req.resource;

  bool exists = false;
  int64_t rid = 0, current = 0, old_kinds = 0;
  std::optional<std::string> old_patient;
  {
    GM_ASSIGN_OR_RETURN(
        Statement st,
        w.Prepare("SELECT rid, version, patient, kinds FROM resource WHERE type = ?1 AND id = ?2"));
    st.Bind(1, std::string_view(r.type));
    st.Bind(2, std::string_view(r.id));
    GM_ASSIGN_OR_RETURN(bool found, st.Step());
    if (found) {
      exists = true;
      rid = st.Int(0);
      current = st.Int(1);
      if (!st.IsNull(2)) old_patient = st.Text(2);
      old_kinds = st.Int(3);
    }
  }
  if (r.version != current + 1) {
    return Status::Error(ErrorCategory::kConflict, "GM-STORE-010", "conflict",
                         "Version conflict: the stored version is " + std::to_string(current) +
                             ", the new version must be " + std::to_string(current + 1));
  }

  // A deletion keeps the primary compartment key of what it deletes, so access
  // control and sharding still place the deletion with its patient.
  std::optional<std::string> patient;
  if (!r.deleted && !req.compartments.empty()) patient = req.compartments.front();
  if (r.deleted) patient = old_patient;

  int64_t kinds = 0;
  if (!r.deleted) {
    for (const IndexEntry& e : req.index) kinds |= KindBit(e.kind);
    if (!req.compartments.empty()) kinds |= kCompartmentBit;
  }
  auto bind_patient = [&](Statement& st, int i) {
    if (patient) {
      st.Bind(i, std::string_view(*patient));
    } else {
      st.BindNull(i);
    }
  };

  if (exists) {
    GM_ASSIGN_OR_RETURN(Statement st,
                        w.Prepare("UPDATE resource SET version = ?2, last_updated_us = ?3, "
                                  "deleted = ?4, patient = ?5, kinds = ?6 WHERE rid = ?1"));
    st.Bind(1, rid);
    st.Bind(2, r.version);
    st.Bind(3, r.last_updated_us);
    st.Bind(4, int64_t(r.deleted));
    bind_patient(st, 5);
    st.Bind(6, kinds);
    GM_RETURN_IF_ERROR(st.Run());
    GM_RETURN_IF_ERROR(ClearIndex(rid, old_kinds, replaced));
  } else {
    GM_ASSIGN_OR_RETURN(
        Statement st,
        w.Prepare("INSERT INTO resource(type, id, version, last_updated_us, deleted, patient, "
                  "kinds) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    st.Bind(1, std::string_view(r.type));
    st.Bind(2, std::string_view(r.id));
    st.Bind(3, r.version);
    st.Bind(4, r.last_updated_us);
    st.Bind(5, int64_t(r.deleted));
    bind_patient(st, 6);
    st.Bind(7, kinds);
    GM_RETURN_IF_ERROR(st.Run());
    rid = sqlite3_last_insert_rowid(w.db());
  }

  {
    GM_ASSIGN_OR_RETURN(
        Statement st,
        w.Prepare("INSERT INTO resource_version(rid, type, version, last_updated_us, deleted, "
                  "patient, json) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    st.Bind(1, rid);
    st.Bind(2, std::string_view(r.type));
    st.Bind(3, r.version);
    st.Bind(4, r.last_updated_us);
    st.Bind(5, int64_t(r.deleted));
    bind_patient(st, 6);
    // `req` outlives the statement: SQLite need not copy the bytes.
    st.BindBlobStatic(7, r.deleted ? std::string_view() : std::string_view(r.json));
    GM_RETURN_IF_ERROR(st.Run());
  }
  if (r.deleted) return Status::Ok();

  return InsertIndex(rid, r.type, req);
}

Status SqliteStore::ClearIndex(int64_t rid, int64_t kinds, std::vector<std::string>* replaced) {
  Connection& w = *writer_conn_;
  using Kind = IndexEntry::Kind;
  static constexpr std::pair<Kind, const char*> kDeletes[] = {
      {Kind::kToken, "DELETE FROM idx_token WHERE rid = ?1"},
      {Kind::kString, "DELETE FROM idx_string WHERE rid = ?1"},
      {Kind::kDate, "DELETE FROM idx_date WHERE rid = ?1"},
      {Kind::kNumber, "DELETE FROM idx_number WHERE rid = ?1"},
      {Kind::kQuantity, "DELETE FROM idx_quantity WHERE rid = ?1"},
      {Kind::kReference, "DELETE FROM idx_reference WHERE rid = ?1"},
      {Kind::kUri, "DELETE FROM idx_uri WHERE rid = ?1"},
      {Kind::kComposite, "DELETE FROM idx_composite WHERE rid = ?1"},
      {Kind::kText, "DELETE FROM idx_text WHERE rowid = ?1"},
  };
  for (const auto& [kind, sql] : kDeletes) {
    if ((kinds & KindBit(kind)) == 0) continue;
    GM_ASSIGN_OR_RETURN(Statement del, w.Prepare(sql));
    del.Bind(1, rid);
    GM_RETURN_IF_ERROR(del.Run());
  }
  if (kinds & kCompartmentBit) {
    GM_ASSIGN_OR_RETURN(Statement del,
                        w.Prepare("DELETE FROM compartment WHERE rid = ?1 RETURNING patient"));
    del.Bind(1, rid);
    for (;;) {
      GM_ASSIGN_OR_RETURN(bool row, del.Step());
      if (!row) break;
      if (replaced != nullptr) replaced->push_back(del.Text(0));
    }
  }
  return Status::Ok();
}

namespace {

// Binds one component of a composite entry to slot columns ?base.. (s, c, lo,
// hi, v, b, e), the encoding query.cc's SlotCondition reads.
void BindSlot(Statement& st, int base, const IndexEntry* e) {
  const CompositeSlot slot = SlotOf(e);
  st.Bind(base, slot.system);
  st.Bind(base + 1, slot.code);
  if (slot.number) {
    st.Bind(base + 2, slot.lo);
    st.Bind(base + 3, slot.hi);
    st.Bind(base + 4, slot.mid);
  } else {
    for (int i = 2; i <= 4; ++i) st.BindNull(base + i);
  }
  if (slot.date) {
    st.Bind(base + 5, slot.begin_us);
    st.Bind(base + 6, slot.end_us);
  } else {
    st.BindNull(base + 5);
    st.BindNull(base + 6);
  }
}

}  // namespace

Status SqliteStore::InsertIndex(int64_t rid, const std::string& type, const PutRequest& req) {
  Connection& w = *writer_conn_;
  for (const std::string& p : req.compartments) {
    GM_ASSIGN_OR_RETURN(
        Statement st, w.Prepare("INSERT OR IGNORE INTO compartment(patient, rid) VALUES(?1, ?2)"));
    st.BindStatic(1, p);
    st.Bind(2, rid);
    GM_RETURN_IF_ERROR(st.Run());
  }

  using Kind = IndexEntry::Kind;
  std::string narrative, content;
  for (const IndexEntry& e : req.index) {
    if (e.kind == Kind::kText) {
      std::string& text = e.param == "_text" ? narrative : content;
      if (!text.empty()) text += ' ';
      text += e.text;
      continue;
    }
    GM_ASSIGN_OR_RETURN(int64_t pid, InternParam(type, e.param, int(e.kind)));
    if (e.kind == Kind::kComposite) {
      GM_ASSIGN_OR_RETURN(
          Statement st,
          w.Prepare("INSERT INTO idx_composite(pid, rid, s1, c1, lo1, hi1, v1, b1, e1, "
                    "s2, c2, lo2, hi2, v2, b2, e2) "
                    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"));
      st.Bind(1, pid);
      st.Bind(2, rid);
      BindSlot(st, 3, &e.components[0]);
      BindSlot(st, 10, e.components.size() > 1 ? &e.components[1] : nullptr);
      GM_RETURN_IF_ERROR(st.Run());
      continue;
    }
    const char* sql = nullptr;
    switch (e.kind) {
      case Kind::kToken:
        sql =
            "INSERT OR IGNORE INTO idx_token(pid, system, code, text, rid) "
            "VALUES(?1, ?2, ?3, ?4, ?5)";
        break;
      case Kind::kString:
        sql = "INSERT OR IGNORE INTO idx_string(pid, text, code, rid) VALUES(?1, ?4, ?3, ?5)";
        break;
      case Kind::kDate:
        sql = "INSERT OR IGNORE INTO idx_date(pid, b, e, rid) VALUES(?1, ?6, ?7, ?5)";
        break;
      case Kind::kNumber:
        sql =
            "INSERT OR IGNORE INTO idx_number(pid, val, lo, hi, rid) "
            "VALUES(?1, ?8, ?9, ?10, ?5)";
        break;
      case Kind::kQuantity:
        sql =
            "INSERT OR IGNORE INTO idx_quantity(pid, system, code, val, lo, hi, rid) "
            "VALUES(?1, ?2, ?3, ?8, ?9, ?10, ?5)";
        break;
      case Kind::kReference:
        sql =
            "INSERT OR IGNORE INTO idx_reference(pid, ttype, tid, url, rid) "
            "VALUES(?1, ?2, ?3, ?4, ?5)";
        break;
      case Kind::kUri:
        sql = "INSERT OR IGNORE INTO idx_uri(pid, uri, rid) VALUES(?1, ?3, ?5)";
        break;
      default:
        continue;
    }
    GM_ASSIGN_OR_RETURN(Statement st, w.Prepare(sql));
    // Every statement takes the same numbered parameters and uses a subset.
    const int n = sqlite3_bind_parameter_count(st.raw());
    auto bind = [&](int i, auto&& bind_fn) {
      if (i <= n) bind_fn(i);
    };
    bind(1, [&](int i) { st.Bind(i, pid); });
    // `req` outlives the statement: SQLite need not copy the bytes.
    bind(2, [&](int i) { st.BindStatic(i, e.system); });
    bind(3, [&](int i) { st.BindStatic(i, e.code); });
    bind(4, [&](int i) { st.BindStatic(i, e.text); });
    bind(5, [&](int i) { st.Bind(i, rid); });
    bind(6, [&](int i) { st.Bind(i, e.begin_us); });
    bind(7, [&](int i) { st.Bind(i, e.end_us); });
    bind(8, [&](int i) { st.Bind(i, Midpoint(e.lo, e.hi)); });
    bind(9, [&](int i) { st.Bind(i, e.lo); });
    bind(10, [&](int i) { st.Bind(i, e.hi); });
    GM_RETURN_IF_ERROR(st.Run());
  }
  if (!narrative.empty() || !content.empty()) {
    GM_ASSIGN_OR_RETURN(
        Statement st,
        w.Prepare("INSERT INTO idx_text(rowid, narrative, content) VALUES(?1, ?2, ?3)"));
    st.Bind(1, rid);
    st.BindStatic(2, narrative);
    st.BindStatic(3, content);
    GM_RETURN_IF_ERROR(st.Run());
  }
  return Status::Ok();
}

Status SqliteStore::ReindexVersion(const PutRequest& req) {
  const ResourceVersion& r = req.resource;
  PutRequest check = req;
  check.resource.json = "{}";
  check.resource.deleted = false;
  if (r.version < 1) check.resource.version = 1;
  GM_RETURN_IF_ERROR(ValidatePut(check));
  Connection& w = *writer_conn_;
  int64_t rid = 0, old_kinds = 0;
  {
    GM_ASSIGN_OR_RETURN(
        Statement st,
        w.Prepare("SELECT rid, version, deleted, kinds FROM resource WHERE type = ?1 AND id = ?2"));
    st.Bind(1, std::string_view(r.type));
    st.Bind(2, std::string_view(r.id));
    GM_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found || st.Int(1) != r.version || st.Int(2) != 0) {
      return Status::Error(ErrorCategory::kConflict, "GM-STORE-012", "conflict",
                           "Reindex: the version is no longer the current one");
    }
    rid = st.Int(0);
    old_kinds = st.Int(3);
  }
  int64_t kinds = 0;
  for (const IndexEntry& e : req.index) kinds |= KindBit(e.kind);
  if (!req.compartments.empty()) kinds |= kCompartmentBit;
  GM_RETURN_IF_ERROR(ClearIndex(rid, old_kinds));
  {
    GM_ASSIGN_OR_RETURN(Statement st,
                        w.Prepare("UPDATE resource SET patient = ?2, kinds = ?3 WHERE rid = ?1"));
    st.Bind(1, rid);
    if (req.compartments.empty()) {
      st.BindNull(2);
    } else {
      st.Bind(2, std::string_view(req.compartments.front()));
    }
    st.Bind(3, kinds);
    GM_RETURN_IF_ERROR(st.Run());
  }
  {
    GM_ASSIGN_OR_RETURN(
        Statement st,
        w.Prepare("UPDATE resource_version SET patient = ?3 WHERE rid = ?1 AND version = ?2"));
    st.Bind(1, rid);
    st.Bind(2, r.version);
    if (req.compartments.empty()) {
      st.BindNull(3);
    } else {
      st.Bind(3, std::string_view(req.compartments.front()));
    }
    GM_RETURN_IF_ERROR(st.Run());
  }
  return InsertIndex(rid, r.type, req);
}

// ---- Reads -----------------------------------------------------------------

Result<std::optional<ResourceVersion>> SqliteStore::Read(const std::string& type,
                                                         const std::string& id) {
  GM_ASSIGN_OR_RETURN(ReaderPool::Lease c, readers_->Acquire());
  return ReadCurrent(*c, type, id);
}

Result<std::optional<ResourceVersion>> SqliteStore::ReadVersion(const std::string& type,
                                                                const std::string& id,
                                                                int64_t version) {
  GM_ASSIGN_OR_RETURN(ReaderPool::Lease c, readers_->Acquire());
  GM_ASSIGN_OR_RETURN(Statement st,
                      c->Prepare("SELECT v.last_updated_us, v.deleted, v.json FROM resource AS r "
                                 "JOIN resource_version AS v ON v.rid = r.rid "
                                 "WHERE r.type = ?1 AND r.id = ?2 AND v.version = ?3"));
  st.Bind(1, std::string_view(type));
  st.Bind(2, std::string_view(id));
  st.Bind(3, version);
  GM_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<ResourceVersion>();
  ResourceVersion rv{type, id, version, st.Int(0), st.Int(1) != 0, st.Text(2)};
  return std::optional<ResourceVersion>(std::move(rv));
}

Result<HistoryPage> SqliteStore::History(const HistoryQuery& hq) {
  if (!hq.id.empty() && hq.type.empty()) {
    return Status::Error(ErrorCategory::kInvalid, "GM-STORE-032", "invalid",
                         "Instance history needs a resource type");
  }
  const size_t limit = std::min(hq.limit, kMaxPage);
  GM_ASSIGN_OR_RETURN(ReaderPool::Lease lease, readers_->Acquire());
  Connection& c = *lease;
  TxnScope snapshot(c);
  GM_RETURN_IF_ERROR(snapshot.Begin());

  HistoryPage page;
  std::vector<KeyValue> params;
  std::string filters;
  // Filters over alias v shared by the page and the count.
  auto add_filters = [&](std::vector<KeyValue>& ps) {
    std::string f;
    if (hq.since_us) f += " AND v.last_updated_us >= " + Placeholder(ps, *hq.since_us);
    if (hq.at_us) {
      std::string at = Placeholder(ps, *hq.at_us);
      f += " AND v.last_updated_us <= " + at +
           " AND NOT EXISTS (SELECT 1 FROM resource_version AS n WHERE n.rid = v.rid"
           " AND n.version = v.version + 1 AND n.last_updated_us <= " +
           at + ")";
    }
    return f;
  };

  if (!hq.id.empty()) {
    int64_t rid = 0;
    {
      GM_ASSIGN_OR_RETURN(Statement st,
                          c.Prepare("SELECT rid FROM resource WHERE type = ?1 AND id = ?2"));
      st.Bind(1, std::string_view(hq.type));
      st.Bind(2, std::string_view(hq.id));
      GM_ASSIGN_OR_RETURN(bool found, st.Step());
      if (!found) {
        page.total = 0;
        return page;
      }
      rid = st.Int(0);
    }
    std::optional<int64_t> after;
    if (!hq.after.empty()) {
      GM_ASSIGN_OR_RETURN(std::vector<KeyValue> cv, DecodeCursor(kInstanceHistoryTag, hq.after, 1));
      if (!std::holds_alternative<int64_t>(cv[0])) return InvalidCursorError();
      after = std::get<int64_t>(cv[0]);
    }
    {
      std::vector<KeyValue> ps;
      std::string sql =
          "SELECT count(*) FROM resource_version AS v WHERE v.rid = " + Placeholder(ps, rid) +
          add_filters(ps);
      GM_ASSIGN_OR_RETURN(Statement st, c.Prepare(sql));
      BindValues(st, ps);
      GM_ASSIGN_OR_RETURN(bool row, st.Step());
      page.total = row ? st.Int(0) : 0;
    }
    std::string sql =
        "SELECT v.version, v.last_updated_us, v.deleted, v.json FROM resource_version AS v "
        "WHERE v.rid = " +
        Placeholder(params, rid) + add_filters(params);
    if (after) sql += " AND v.version < " + Placeholder(params, *after);
    sql += " ORDER BY v.version DESC LIMIT " + Placeholder(params, int64_t(limit + 1));
    GM_ASSIGN_OR_RETURN(Statement st, c.Prepare(sql));
    BindValues(st, params);
    for (;;) {
      GM_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      if (page.versions.size() == limit) {
        page.next = EncodeCursor(kInstanceHistoryTag, {page.versions.back().version});
        break;
      }
      page.versions.push_back({hq.type, hq.id, st.Int(0), st.Int(1), st.Int(2) != 0, st.Text(3)});
    }
    return page;
  }

  std::optional<std::pair<int64_t, int64_t>> after;
  if (!hq.after.empty()) {
    GM_ASSIGN_OR_RETURN(std::vector<KeyValue> cv, DecodeCursor(kHistoryTag, hq.after, 2));
    if (!std::holds_alternative<int64_t>(cv[0]) || !std::holds_alternative<int64_t>(cv[1])) {
      return InvalidCursorError();
    }
    after = std::make_pair(std::get<int64_t>(cv[0]), std::get<int64_t>(cv[1]));
  }
  std::string sql =
      "SELECT v.vid, v.version, v.last_updated_us, v.deleted, v.json, r.type, r.id "
      "FROM resource_version AS v CROSS JOIN resource AS r WHERE r.rid = v.rid";
  if (!hq.type.empty()) sql += " AND v.type = " + Placeholder(params, hq.type);
  sql += add_filters(params);
  if (after) {
    sql += " AND (v.last_updated_us, v.vid) < (" + Placeholder(params, after->first) + ", " +
           Placeholder(params, after->second) + ")";
  }
  sql += " ORDER BY v.last_updated_us DESC, v.vid DESC LIMIT " +
         Placeholder(params, int64_t(limit + 1));
  GM_ASSIGN_OR_RETURN(Statement st, c.Prepare(sql));
  BindValues(st, params);
  int64_t last_vid = 0;
  for (;;) {
    GM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    if (page.versions.size() == limit) {
      page.next = EncodeCursor(kHistoryTag, {page.versions.back().last_updated_us, last_vid});
      break;
    }
    last_vid = st.Int(0);
    page.versions.push_back(
        {st.Text(5), st.Text(6), st.Int(1), st.Int(2), st.Int(3) != 0, st.Text(4)});
  }
  return page;
}

Result<QueryPage> SqliteStore::RunQuery(Connection& c, const Query& query, size_t limit,
                                        bool with_json) {
  limit = std::min(limit, kMaxPage);
  QueryPage page;
  GM_ASSIGN_OR_RETURN(CompiledQuery cq, CompileQuery(c, query, limit + 1, NowUs()));
  if (cq.never_matches || limit == 0) return page;
  std::vector<Row> rows;
  std::string first_cursor, last_cursor;
  bool more = false;
  {
    GM_ASSIGN_OR_RETURN(Statement st, c.Prepare(cq.sql));
    BindAll(cq, st);
    for (;;) {
      GM_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      if (rows.size() == limit) {
        more = true;
        break;
      }
      rows.push_back({st.Int(kColRid),
                      {st.Text(kColType), st.Text(kColId), st.Int(kColVersion),
                       st.Int(kColLastUpdated), false, std::string()}});
      if (rows.size() == 1) first_cursor = CursorAfterRow(cq, st);
      if (rows.size() == limit) last_cursor = CursorAfterRow(cq, st);
    }
  }
  if (cq.backward) {
    // Rows came nearest-first going back; the page is returned in sort order.
    std::reverse(rows.begin(), rows.end());
    if (more) page.previous = std::move(last_cursor);
    if (!rows.empty()) page.next = std::move(first_cursor);
  } else {
    if (more) page.next = std::move(last_cursor);
    if (!query.after.empty() && !rows.empty()) page.previous = std::move(first_cursor);
  }
  if (with_json) GM_RETURN_IF_ERROR(FetchJson(c, rows));
  for (Row& r : rows) page.resources.push_back(std::move(r.rv));
  return page;
}

Result<QueryPage> SqliteStore::Search(const Query& query) {
  GM_ASSIGN_OR_RETURN(ReaderPool::Lease lease, readers_->Acquire());
  TxnScope snapshot(*lease);
  GM_RETURN_IF_ERROR(snapshot.Begin());
  return RunQuery(*lease, query, query.limit, true);
}

Result<int64_t> SqliteStore::Count(const Query& query, int64_t at_most) {
  GM_ASSIGN_OR_RETURN(ReaderPool::Lease lease, readers_->Acquire());
  TxnScope snapshot(*lease);
  GM_RETURN_IF_ERROR(snapshot.Begin());
  GM_ASSIGN_OR_RETURN(CompiledQuery cq, CompileCount(*lease, query, at_most, NowUs()));
  if (cq.never_matches) return int64_t(0);
  GM_ASSIGN_OR_RETURN(Statement st, lease->Prepare(cq.sql));
  BindAll(cq, st);
  GM_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.Int(0) : int64_t(0);
}

Result<std::string> SqliteStore::ExplainSearch(const Query& query) {
  GM_ASSIGN_OR_RETURN(ReaderPool::Lease lease, readers_->Acquire());
  TxnScope snapshot(*lease);
  GM_RETURN_IF_ERROR(snapshot.Begin());
  GM_ASSIGN_OR_RETURN(CompiledQuery cq,
                      CompileQuery(*lease, query, std::min(query.limit, kMaxPage) + 1, NowUs()));
  if (cq.never_matches) return std::string();
  GM_ASSIGN_OR_RETURN(Statement st, lease->Prepare("EXPLAIN QUERY PLAN " + cq.sql));
  BindAll(cq, st);
  std::string plan;
  for (;;) {
    GM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    plan += st.Text(3) + "\n";
  }
  return plan;
}

Result<QueryPage> SqliteStore::Compartment(const std::string& patient_id,
                                           const std::vector<std::string>& types, size_t limit,
                                           const std::string& after) {
  limit = std::min(limit, kMaxPage);
  GM_ASSIGN_OR_RETURN(ReaderPool::Lease lease, readers_->Acquire());
  Connection& c = *lease;
  TxnScope snapshot(c);
  GM_RETURN_IF_ERROR(snapshot.Begin());
  std::vector<KeyValue> params;
  std::string sql =
      "SELECT r.rid, r.type, r.id, r.version, r.last_updated_us FROM compartment AS c "
      "CROSS JOIN resource AS r WHERE c.patient = " +
      Placeholder(params, patient_id) + " AND r.rid = c.rid AND r.deleted = 0";
  if (!types.empty()) {
    sql += " AND r.type IN (";
    for (size_t i = 0; i < types.size(); ++i) sql += (i ? "," : "") + Placeholder(params, types[i]);
    sql += ")";
  }
  if (!after.empty()) {
    GM_ASSIGN_OR_RETURN(std::vector<KeyValue> cv, DecodeCursor(kCompartmentTag, after, 1));
    if (!std::holds_alternative<int64_t>(cv[0])) return InvalidCursorError();
    sql += " AND c.rid > " + Placeholder(params, cv[0]);
  }
  sql += " ORDER BY c.rid LIMIT " + Placeholder(params, int64_t(limit + 1));
  QueryPage page;
  std::vector<Row> rows;
  {
    GM_ASSIGN_OR_RETURN(Statement st, c.Prepare(sql));
    BindValues(st, params);
    for (;;) {
      GM_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      if (rows.size() == limit) {
        page.next = EncodeCursor(kCompartmentTag, {rows.back().rid});
        break;
      }
      rows.push_back({st.Int(0), {st.Text(1), st.Text(2), st.Int(3), st.Int(4), false, {}}});
    }
  }
  GM_RETURN_IF_ERROR(FetchJson(c, rows));
  for (Row& r : rows) page.resources.push_back(std::move(r.rv));
  return page;
}

Result<std::vector<AuditOutboxRow>> SqliteStore::PendingAudit(size_t limit) {
  GM_ASSIGN_OR_RETURN(ReaderPool::Lease lease, readers_->Acquire());
  Connection& c = *lease;
  GM_ASSIGN_OR_RETURN(Statement st, c.Prepare("SELECT seq, key, patient, time_us, event FROM "
                                              "audit_outbox ORDER BY seq LIMIT ?1"));
  st.Bind(1, static_cast<int64_t>(std::max<size_t>(limit, 1)));
  std::vector<AuditOutboxRow> rows;
  for (;;) {
    GM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    rows.push_back(AuditOutboxRow{.seq = st.Int(0), .key = st.Text(1), .patient_id = st.Text(2),
                                  .time_us = st.Int(3), .event = st.Text(4)});
  }
  return rows;
}

Result<StoreStats> SqliteStore::Stats() {
  StoreStats stats;
  {
    GM_ASSIGN_OR_RETURN(ReaderPool::Lease lease, readers_->Acquire());
    Connection& c = *lease;
    TxnScope snapshot(c);
    GM_RETURN_IF_ERROR(snapshot.Begin());
    GM_ASSIGN_OR_RETURN(std::string resources,
                        c.QueryText("SELECT count(*) FROM resource WHERE deleted = 0"));
    GM_ASSIGN_OR_RETURN(std::string versions, c.QueryText("SELECT count(*) FROM resource_version"));
    stats.resources = std::strtoll(resources.c_str(), nullptr, 10);
    stats.versions = std::strtoll(versions.c_str(), nullptr, 10);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    auto size = std::filesystem::file_size(path_ + suffix, ec);
    if (!ec) stats.bytes += int64_t(size);
  }
  return stats;
}

WriterCounters SqliteStore::Counters() const {
  std::lock_guard<std::mutex> l(mu_);
  return counters_;
}

}  // namespace sqlite
}  // namespace gm::store
