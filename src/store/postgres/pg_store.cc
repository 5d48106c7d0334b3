#include "store/postgres/pg_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <chrono>
#include <cmath>
#include <exception>
#include <random>
#include <thread>
#include <unordered_map>
#include <utility>

#include "store/cursor.h"
#include "store/index_rows.h"
#include "store/postgres/pg_query.h"
#include "store/postgres/pg_schema.h"

namespace gm::store {

Result<std::unique_ptr<Store>> OpenPostgres(const PostgresOptions& options) {
  GM_ASSIGN_OR_RETURN(std::unique_ptr<postgres::PostgresStore> s,
                      postgres::PostgresStore::Open(options));
  return std::unique_ptr<Store>(std::move(s));
}

bool IsPostgresUrl(const std::string& s) {
  return s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0;
}

std::string RememberedDatabase(const std::string& data_dir) {
  std::ifstream in(std::filesystem::path(data_dir) / kDatabaseUrlFile);
  std::string url;
  if (!in || !std::getline(in, url)) return {};
  while (!url.empty() && (url.back() == '\r' || url.back() == ' ')) url.pop_back();
  return url;
}

Status RememberDatabase(const std::string& data_dir, const std::string& url) {
  const std::string path = (std::filesystem::path(data_dir) / kDatabaseUrlFile).string();
  if (RememberedDatabase(data_dir) == url) return Status::Ok();
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0;
  const std::string text = url + "\n";
  if (ok) ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size()) && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Error(ErrorCategory::kUnavailable, "GM-STORE-007", "exception",
                         "Cannot write " + path);
  }
  return Status::Ok();
}

namespace postgres {
namespace {

using Kind = IndexEntry::Kind;

constexpr size_t kMaxPage = size_t(1) << 30;
constexpr std::string_view kHistoryTag = "history";
constexpr std::string_view kInstanceHistoryTag = "history-instance";
constexpr std::string_view kCompartmentTag = "compartment";
// Bits of resource.kinds, as in the SQLite store: bit IndexEntry::Kind per
// index table (kinds after kUri skip bit 7), bit 7 for compartment rows.
constexpr int64_t kCompartmentBit = 1 << 7;
constexpr int64_t KindBit(Kind kind) {
  const int k = static_cast<int>(kind);
  return int64_t(1) << (k < 7 ? k : k + 1);
}

// The store whose write fn runs on this thread (Write from inside a fn).
thread_local const void* tl_in_write = nullptr;

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
    if (e.kind == Kind::kNumber || e.kind == Kind::kQuantity) {
      if (std::isnan(e.lo) || std::isnan(e.hi) || e.lo > e.hi) {
        return BadPut("Index entry '" + e.param + "' has an invalid number range");
      }
    }
    if (e.kind == Kind::kDate && e.begin_us > e.end_us) {
      return BadPut("Index entry '" + e.param + "' has an invalid date range");
    }
    if (e.kind == Kind::kComposite) {
      if (e.components.empty() || e.components.size() > kMaxCompositeComponents) {
        return BadPut("Composite index entry '" + e.param + "' has too many or no components");
      }
      for (const IndexEntry& c : e.components) {
        if (c.kind == Kind::kComposite || c.kind == Kind::kText) {
          return BadPut("Composite index entry '" + e.param + "' has a nested component");
        }
      }
    }
    if (e.kind == Kind::kText && e.param != "_text" && e.param != "_content") {
      return BadPut("Full-text index entries are for _text and _content only");
    }
  }
  return Status::Ok();
}

KeyValue OptText(const std::optional<std::string>& s) {
  if (!s) return std::monostate{};
  return *s;
}

bool Retryable(const std::string& sqlstate) {
  return sqlstate == kSerializationFailure || sqlstate == kDeadlockDetected ||
         sqlstate == kUniqueViolation;
}

// FNV-1a over a canonical serialization of a query: the advisory lock key of
// a conditional operation's condition.
class Hasher {
 public:
  void Add(std::string_view s) {
    for (char c : s) Byte(uint8_t(c));
    Byte(0xFF);
  }
  void Add(int64_t i) { Add(std::string_view(std::to_string(i))); }
  void Add(double d) { Add(std::string_view(FormatReal(d))); }
  void AddQuery(const Query& q) {
    Add(q.type);
    for (const std::string& t : q.types) Add(t);
    Add(int64_t(q.clauses.size()));
    for (const Clause& c : q.clauses) AddClause(c);
  }
  int64_t value() const { return int64_t(h_); }

 private:
  void Byte(uint8_t b) {
    h_ ^= b;
    h_ *= 1099511628211ULL;
  }
  void AddClause(const Clause& c) {
    Add(int64_t(c.op));
    Add(c.param);
    Add(int64_t(c.bool_value));
    Add(int64_t(c.any_of.size()));
    for (const Clause::Value& v : c.any_of) {
      Add(v.system);
      Add(int64_t(v.system_given));
      Add(v.code);
      Add(v.lo);
      Add(v.hi);
      Add(v.begin_us);
      Add(v.end_us);
      Add(int64_t(v.cmp));
      Add(v.text);
      Add(int64_t(v.components.size()));
      for (const Clause& comp : v.components) AddClause(comp);
    }
    if (c.sub) AddQuery(*c.sub);
  }
  uint64_t h_ = 1469598103934665603ULL;
};

struct Row {
  int64_t rid;
  ResourceVersion rv;
};

// Fills in the JSON of rows (their versions), in one query.
Status FetchJson(PgConnection& c, std::vector<Row>& rows) {
  if (rows.empty()) return Status::Ok();
  std::vector<int64_t> rids, versions;
  for (const Row& r : rows) {
    rids.push_back(r.rid);
    versions.push_back(r.rv.version);
  }
  GM_ASSIGN_OR_RETURN(
      PgResult res,
      c.Query("SELECT v.rid, v.json FROM unnest($1::int8[], $2::int8[]) AS k(rid, version) "
              "JOIN resource_version AS v ON v.rid = k.rid AND v.version = k.version",
              {KeyValue(IntArray(rids)), KeyValue(IntArray(versions))}));
  std::unordered_map<int64_t, int> at;
  for (int i = 0; i < res.rows(); ++i) at[res.Int(i, 0)] = i;
  for (Row& r : rows) {
    auto it = at.find(r.rid);
    if (it != at.end()) r.rv.json = res.Text(it->second, 1);
  }
  return Status::Ok();
}

Result<std::optional<ResourceVersion>> ReadCurrent(PgConnection& c, const std::string& type,
                                                   const std::string& id, bool lock) {
  if (lock) {
    // Locks the row first, in its own statement: after waiting for another
    // writer, the read below takes a new snapshot and sees its version (a
    // locking join would re-check the old version row and miss it).
    GM_RETURN_IF_ERROR(c.Run("SELECT 1 FROM resource WHERE type = $1 AND id = $2 FOR UPDATE",
                             {KeyValue(type), KeyValue(id)}));
  }
  GM_ASSIGN_OR_RETURN(
      PgResult res,
      c.Query("SELECT r.version, r.last_updated_us, r.deleted, v.json FROM resource AS r "
              "JOIN resource_version AS v ON v.rid = r.rid AND v.version = r.version "
              "WHERE r.type = $1 AND r.id = $2",
              {KeyValue(type), KeyValue(id)}));
  if (res.rows() == 0) return std::optional<ResourceVersion>();
  ResourceVersion rv{type, id, res.Int(0, 0), res.Int(0, 1), res.Int(0, 2) != 0, res.Text(0, 3)};
  return std::optional<ResourceVersion>(std::move(rv));
}

}  // namespace

// ---- Write transaction -----------------------------------------------------

class PostgresStore::PgTxn final : public Txn {
 public:
  PgTxn(PostgresStore& s, PgConnection& c) : s_(s), c_(c) {}

  Result<std::optional<ResourceVersion>> Current(const std::string& type,
                                                 const std::string& id) override {
    auto r = ReadCurrent(c_, type, id, /*lock=*/true);
    Note(r.ok() ? Status::Ok() : r.status());
    return r;
  }

  Result<std::vector<std::string>> Match(const Query& query, size_t limit) override {
    Hasher h;
    h.AddQuery(query);
    // Its own statement, so the search below takes a snapshot after the
    // lock is granted and sees what the previous holder committed.
    Status locked = c_.Query("SELECT pg_advisory_xact_lock($1)", {KeyValue(h.value())}).ok()
                        ? Status::Ok()
                        : Status::Error(ErrorCategory::kUnavailable, "GM-STORE-004", "transient",
                                        "Cannot lock the condition");
    if (!locked.ok()) {
      Note(locked);
      return locked;
    }
    auto page = s_.RunQuery(c_, query, limit, false);
    if (!page.ok()) {
      Note(page.status());
      return page.status();
    }
    std::vector<std::string> ids;
    for (ResourceVersion& rv : page->resources) ids.push_back(std::move(rv.id));
    return ids;
  }

  Status Put(const PutRequest& request) override {
    replaced_.clear();
    Status s = s_.PutVersion(c_, request, &replaced_);
    Note(s);
    if (!s.ok() && failure_.ok()) failure_ = s;
    return s;
  }

  Status Reindex(const PutRequest& request) override {
    Status s = s_.ReindexVersion(c_, request);
    Note(s);
    if (!s.ok() && s.code() != "GM-STORE-012" && failure_.ok()) failure_ = s;
    return s;
  }

  Status StageAudit(const AuditOutboxRow& row) override {
    Status s = row.key.empty() || row.patient_id.empty() || row.event.empty()
                   ? Status::Error(ErrorCategory::kInvalid, "GM-STORE-011", "invalid",
                                   "StageAudit: key, patient and event are required")
                   : c_.Run("INSERT INTO audit_outbox(key, patient, time_us, event) "
                            "VALUES($1, $2, $3, $4)",
                            {KeyValue(row.key), KeyValue(row.patient_id), KeyValue(row.time_us),
                             KeyValue(row.event)});
    Note(s);
    if (!s.ok() && failure_.ok()) failure_ = s;
    return s;
  }

  Status RemoveAudit(const std::vector<std::string>& keys) override {
    for (const std::string& key : keys) {
      Status s = c_.Run("DELETE FROM audit_outbox WHERE key = $1", {KeyValue(key)});
      Note(s);
      if (!s.ok()) {
        if (failure_.ok()) failure_ = s;
        return s;
      }
    }
    return Status::Ok();
  }

  const std::vector<std::string>& ReplacedCompartments() const override { return replaced_; }

  const Status& failure() const { return failure_; }
  bool retry() const { return retry_; }

 private:
  void Note(const Status& s) {
    if (!s.ok() && Retryable(c_.last_sqlstate())) retry_ = true;
  }

  PostgresStore& s_;
  PgConnection& c_;
  Status failure_;
  bool retry_ = false;
  std::vector<std::string> replaced_;
};

// ---- Open / Close ----------------------------------------------------------

PostgresStore::PostgresStore(const PostgresOptions& options) : options_(options) {}

PostgresStore::~PostgresStore() { Close(); }

int64_t PostgresStore::NowUs() const {
  if (options_.now_us) return options_.now_us();
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const PostgresOptions& options) {
  std::unique_ptr<PostgresStore> s(new PostgresStore(options));
  Status st = s->Start();
  if (!st.ok()) {
    s->Close();
    return st;
  }
  return s;
}

Status PostgresStore::Start() {
  GM_ASSIGN_OR_RETURN(intern_conn_, PgConnection::Open(options_.url));
  GM_ASSIGN_OR_RETURN(schema_before_, Migrate(*intern_conn_, options_.schema_version));
  // A broken session (the server restarted, the network broke) is
  // reconnected in place when leased; if that fails, its statement fails with
  // a transient error (503).
  pool_ = std::make_unique<Pool>([](PgConnection& c) {
    if (c.broken()) (void)c.Reconnect();
  });
  return pool_->Open(options_.connections, [&] { return PgConnection::Open(options_.url); });
}

void PostgresStore::Close() {
  if (pool_) pool_->Close();
  std::lock_guard<std::mutex> l(intern_mu_);
  intern_conn_.reset();
}

int64_t PostgresStore::retries() const {
  std::lock_guard<std::mutex> l(stats_mu_);
  return retries_;
}

// ---- Writes ----------------------------------------------------------------

Status PostgresStore::Write(const std::function<Status(Txn&)>& fn) {
  if (tl_in_write == this) {
    return Status::Error(ErrorCategory::kInternal, "GM-STORE-024", "exception",
                         "Store::Write called from inside a write function");
  }
  if (!pool_) return Closed();
  GM_ASSIGN_OR_RETURN(Pool::Lease lease, pool_->Acquire());
  PgConnection& c = *lease;
  thread_local std::mt19937 rng{std::random_device{}()};
  for (int attempt = 0; attempt < std::max(options_.max_attempts, 1); ++attempt) {
    if (attempt > 0) {
      std::lock_guard<std::mutex> l(stats_mu_);
      ++retries_;
    }
    if (attempt > 0) {
      // Back off a little (randomised, growing) so colliding writers spread out.
      const int max_us = std::min(200 * (1 << std::min(attempt, 6)), 20000);
      std::this_thread::sleep_for(
          std::chrono::microseconds(std::uniform_int_distribution<int>(0, max_us)(rng)));
    }
    GM_RETURN_IF_ERROR(c.Exec("BEGIN"));
    PgTxn txn(*this, c);
    Status s;
    tl_in_write = this;
    try {
      s = fn(txn);
    } catch (const std::exception& e) {
      s = Status::Error(ErrorCategory::kInternal, "GM-STORE-022", "exception",
                        std::string("A write function threw: ") + e.what());
    } catch (...) {
      s = Status::Error(ErrorCategory::kInternal, "GM-STORE-022", "exception",
                        "A write function threw");
    }
    tl_in_write = nullptr;
    if (s.ok() && !txn.failure().ok()) s = txn.failure();
    const bool aborted = PQtransactionStatus(c.raw()) == PQTRANS_INERROR;
    if (txn.retry()) {
      (void)c.Exec("ROLLBACK");
      continue;
    }
    if (!s.ok() || aborted) {
      (void)c.Exec("ROLLBACK");
      if (s.ok()) {
        return Status::Error(ErrorCategory::kUnavailable, "GM-STORE-023", "transient",
                             "The write was rolled back by a storage error");
      }
      return s;
    }
    Status committed = c.Exec("COMMIT");
    if (!committed.ok()) {
      if (Retryable(c.last_sqlstate())) continue;
      (void)c.Exec("ROLLBACK");
      return Status::Error(
          ErrorCategory::kUnavailable, "GM-STORE-020", "transient",
          "The write could not be made durable; nothing was stored (" + committed.message() + ")");
    }
    return Status::Ok();
  }
  return Status::Error(ErrorCategory::kUnavailable, "GM-STORE-040", "transient",
                       "The write collided with concurrent writes too often; try again");
}

Result<int64_t> PostgresStore::InternParam(const std::string& type, const std::string& param,
                                           int kind) {
  std::lock_guard<std::mutex> l(intern_mu_);
  PidKey key{type, param, kind};
  if (auto it = pids_.find(key); it != pids_.end()) return it->second;
  if (!intern_conn_) return Closed();
  if (intern_conn_->broken()) GM_RETURN_IF_ERROR(intern_conn_->Reconnect());
  std::vector<KeyValue> params = {KeyValue(type), KeyValue(param), KeyValue(int64_t(kind))};
  GM_RETURN_IF_ERROR(intern_conn_
                         ->Run("INSERT INTO search_param(type, param, kind) "
                                 "VALUES($1, $2, $3::int4) ON CONFLICT DO NOTHING",
                                 params)
                         );
  GM_ASSIGN_OR_RETURN(
      PgResult res,
      intern_conn_->Query(
          "SELECT pid FROM search_param WHERE param = $2 AND type = $1 AND kind = $3::int4",
          params));
  if (res.rows() == 0) {
    return Status::Error(ErrorCategory::kInternal, "GM-STORE-006", "exception",
                         "A search parameter could not be interned");
  }
  int64_t pid = res.Int(0, 0);
  pids_[key] = pid;
  return pid;
}

Status PostgresStore::PutVersion(PgConnection& c, const PutRequest& req,
                                 std::vector<std::string>* replaced) {
  GM_RETURN_IF_ERROR(ValidatePut(req));
  const ResourceVersion& r = req.resource;
  bool exists = false;
  int64_t rid = 0, current = 0, old_kinds = 0;
  std::optional<std::string> old_patient;
  {
    GM_ASSIGN_OR_RETURN(PgResult res,
                        c.Query("SELECT rid, version, patient, kinds FROM resource "
                                "WHERE type = $1 AND id = $2 FOR UPDATE",
                                {KeyValue(r.type), KeyValue(r.id)}));
    if (res.rows() > 0) {
      exists = true;
      rid = res.Int(0, 0);
      current = res.Int(0, 1);
      if (!res.IsNull(0, 2)) old_patient = res.Text(0, 2);
      old_kinds = res.Int(0, 3);
    }
  }
  if (r.version != current + 1) {
    return Status::Error(ErrorCategory::kConflict, "GM-STORE-010", "conflict",
                         "Version conflict: the stored version is " + std::to_string(current) +
                             ", the new version must be " + std::to_string(current + 1));
  }
  // A deletion keeps the primary compartment key of what it deletes.
  std::optional<std::string> patient;
  if (!r.deleted && !req.compartments.empty()) patient = req.compartments.front();
  if (r.deleted) patient = old_patient;
  int64_t kinds = 0;
  if (!r.deleted) {
    for (const IndexEntry& e : req.index) kinds |= KindBit(e.kind);
    if (!req.compartments.empty()) kinds |= kCompartmentBit;
  }
  if (exists) {
    GM_RETURN_IF_ERROR(c.Run("UPDATE resource SET version = $2, last_updated_us = $3, "
                               "deleted = $4::int4, patient = $5, kinds = $6 WHERE rid = $1",
                               {KeyValue(rid), KeyValue(r.version), KeyValue(r.last_updated_us),
                                KeyValue(int64_t(r.deleted)), OptText(patient), KeyValue(kinds)})
                           );
    GM_RETURN_IF_ERROR(ClearIndex(c, rid, old_kinds, replaced));
  } else {
    GM_ASSIGN_OR_RETURN(
        PgResult res,
        c.Query("INSERT INTO resource(type, id, version, last_updated_us, deleted, patient, kinds) "
                "VALUES($1, $2, $3, $4, $5::int4, $6, $7) RETURNING rid",
                {KeyValue(r.type), KeyValue(r.id), KeyValue(r.version), KeyValue(r.last_updated_us),
                 KeyValue(int64_t(r.deleted)), OptText(patient), KeyValue(kinds)}));
    rid = res.Int(0, 0);
  }
  GM_RETURN_IF_ERROR(
      c.Run("INSERT INTO resource_version(rid, type, version, last_updated_us, deleted, "
              "patient, json) VALUES($1, $2, $3, $4, $5::int4, $6, $7)",
              {KeyValue(rid), KeyValue(r.type), KeyValue(r.version), KeyValue(r.last_updated_us),
               KeyValue(int64_t(r.deleted)), OptText(patient),
               KeyValue(r.deleted ? std::string() : r.json)})
          );
  if (r.deleted) return Status::Ok();
  return InsertIndex(c, rid, r.type, patient, req);
}

Status PostgresStore::ClearIndex(PgConnection& c, int64_t rid, int64_t kinds,
                                 std::vector<std::string>* replaced) {
  static constexpr std::pair<Kind, const char*> kDeletes[] = {
      {Kind::kToken, "DELETE FROM idx_token WHERE rid = $1"},
      {Kind::kString, "DELETE FROM idx_string WHERE rid = $1"},
      {Kind::kDate, "DELETE FROM idx_date WHERE rid = $1"},
      {Kind::kNumber, "DELETE FROM idx_number WHERE rid = $1"},
      {Kind::kQuantity, "DELETE FROM idx_quantity WHERE rid = $1"},
      {Kind::kReference, "DELETE FROM idx_reference WHERE rid = $1"},
      {Kind::kUri, "DELETE FROM idx_uri WHERE rid = $1"},
      {Kind::kComposite, "DELETE FROM idx_composite WHERE rid = $1"},
      {Kind::kText, "DELETE FROM idx_text WHERE rid = $1"},
  };
  for (const auto& [kind, sql] : kDeletes) {
    if ((kinds & KindBit(kind)) == 0) continue;
    GM_RETURN_IF_ERROR(c.Run(sql, {KeyValue(rid)}));
  }
  if (kinds & kCompartmentBit) {
    GM_ASSIGN_OR_RETURN(PgResult gone, c.Query("DELETE FROM compartment WHERE rid = $1 RETURNING patient",
                                               {KeyValue(rid)}));
    for (int i = 0; replaced != nullptr && i < gone.rows(); ++i) replaced->push_back(gone.Text(i, 0));
  }
  return Status::Ok();
}

namespace {

// One component of a composite entry as slot values (s, c, lo, hi, v, b, e),
// the encoding pg_query.cc's SlotCondition reads.
void AddSlot(std::vector<KeyValue>& out, const IndexEntry* e) {
  const CompositeSlot slot = SlotOf(e);
  out.emplace_back(TruncateIndexed(slot.system));
  out.emplace_back(TruncateIndexed(slot.code));
  if (slot.number) {
    out.emplace_back(slot.lo);
    out.emplace_back(slot.hi);
    out.emplace_back(slot.mid);
  } else {
    for (int i = 0; i < 3; ++i) out.emplace_back(std::monostate{});
  }
  if (slot.date) {
    out.emplace_back(slot.begin_us);
    out.emplace_back(slot.end_us);
  } else {
    out.emplace_back(std::monostate{});
    out.emplace_back(std::monostate{});
  }
}

}  // namespace

Status PostgresStore::InsertIndex(PgConnection& c, int64_t rid, const std::string& type,
                                  const std::optional<std::string>& patient,
                                  const PutRequest& req) {
  if (!req.compartments.empty()) {
    GM_RETURN_IF_ERROR(c.Run("INSERT INTO compartment(patient, rid) "
                               "SELECT DISTINCT p, $2::int8 FROM unnest($1::text[]) AS p "
                               "ON CONFLICT DO NOTHING",
                               {KeyValue(TextArray(req.compartments)), KeyValue(rid)})
                           );
  }
  // Column arrays per table, one multi-row INSERT each.
  struct Cols {
    std::vector<int64_t> pid, b, e;
    std::vector<std::string> t1, t2, t3;
    std::vector<double> val, lo, hi;
    size_t n = 0;
  };
  Cols token, str, date, number, quantity, reference, uri;
  std::vector<const IndexEntry*> narrative, content;
  for (const IndexEntry& e : req.index) {
    if (e.kind == Kind::kText) {
      (e.param == "_text" ? narrative : content).push_back(&e);
      continue;
    }
    GM_ASSIGN_OR_RETURN(int64_t pid, InternParam(type, e.param, int(e.kind)));
    switch (e.kind) {
      case Kind::kComposite: {
        std::vector<KeyValue> ps = {KeyValue(pid), KeyValue(rid), OptText(patient)};
        AddSlot(ps, &e.components[0]);
        AddSlot(ps, e.components.size() > 1 ? &e.components[1] : nullptr);
        GM_RETURN_IF_ERROR(
            c.Run("INSERT INTO idx_composite(pid, rid, patient, s1, c1, lo1, hi1, v1, b1, e1, "
                    "s2, c2, lo2, hi2, v2, b2, e2) VALUES($1::int4, $2, $3, $4, $5, $6::float8, "
                    "$7::float8, $8::float8, $9::int8, $10::int8, $11, $12, $13::float8, "
                    "$14::float8, $15::float8, $16::int8, $17::int8)",
                    ps)
                );
        continue;
      }
      case Kind::kToken:
        token.pid.push_back(pid);
        token.t1.push_back(TruncateIndexed(e.system));
        token.t2.push_back(TruncateIndexed(e.code));
        token.t3.push_back(TruncateIndexed(e.text));
        ++token.n;
        break;
      case Kind::kString:
        str.pid.push_back(pid);
        str.t1.push_back(TruncateIndexed(e.text));
        str.t2.push_back(TruncateIndexed(e.code));
        ++str.n;
        break;
      case Kind::kDate:
        date.pid.push_back(pid);
        date.b.push_back(e.begin_us);
        date.e.push_back(e.end_us);
        ++date.n;
        break;
      case Kind::kNumber:
        number.pid.push_back(pid);
        number.val.push_back(Midpoint(e.lo, e.hi));
        number.lo.push_back(e.lo);
        number.hi.push_back(e.hi);
        ++number.n;
        break;
      case Kind::kQuantity:
        quantity.pid.push_back(pid);
        quantity.t1.push_back(TruncateIndexed(e.system));
        quantity.t2.push_back(TruncateIndexed(e.code));
        quantity.val.push_back(Midpoint(e.lo, e.hi));
        quantity.lo.push_back(e.lo);
        quantity.hi.push_back(e.hi);
        ++quantity.n;
        break;
      case Kind::kReference:
        reference.pid.push_back(pid);
        reference.t1.push_back(TruncateIndexed(e.system));
        reference.t2.push_back(TruncateIndexed(e.code));
        reference.t3.push_back(TruncateIndexed(e.text));
        ++reference.n;
        break;
      case Kind::kUri:
        uri.pid.push_back(pid);
        uri.t1.push_back(TruncateIndexed(e.code));
        ++uri.n;
        break;
      default:
        break;
    }
  }
  const KeyValue krid(rid), kpatient = OptText(patient);
  auto run = [&](size_t n, const std::string& sql, std::vector<KeyValue> arrays) -> Status {
    if (n == 0) return Status::Ok();
    arrays.push_back(krid);
    arrays.push_back(kpatient);
    return c.Run(sql, arrays);
  };
  // Arrays first ($1..$k), then rid ($k+1) and patient ($k+2).
  GM_RETURN_IF_ERROR(run(token.n,
                         "INSERT INTO idx_token(pid, system, code, text, rid, patient) "
                         "SELECT u.pid, u.s, u.c, u.t, $5, $6 FROM unnest($1::int4[], $2::text[], "
                         "$3::text[], $4::text[]) AS u(pid, s, c, t) ON CONFLICT DO NOTHING",
                         {IntArray(token.pid), TextArray(token.t1), TextArray(token.t2),
                          TextArray(token.t3)}));
  GM_RETURN_IF_ERROR(run(str.n,
                         "INSERT INTO idx_string(pid, text, code, rid, patient) "
                         "SELECT u.pid, u.t, u.c, $4, $5 FROM unnest($1::int4[], $2::text[], "
                         "$3::text[]) AS u(pid, t, c) ON CONFLICT DO NOTHING",
                         {IntArray(str.pid), TextArray(str.t1), TextArray(str.t2)}));
  GM_RETURN_IF_ERROR(run(date.n,
                         "INSERT INTO idx_date(pid, b, e, rid, patient) "
                         "SELECT u.pid, u.b, u.e, $4, $5 FROM unnest($1::int4[], $2::int8[], "
                         "$3::int8[]) AS u(pid, b, e) ON CONFLICT DO NOTHING",
                         {IntArray(date.pid), IntArray(date.b), IntArray(date.e)}));
  GM_RETURN_IF_ERROR(run(number.n,
                         "INSERT INTO idx_number(pid, val, lo, hi, rid, patient) "
                         "SELECT u.pid, u.v, u.lo, u.hi, $5, $6 FROM unnest($1::int4[], "
                         "$2::float8[], $3::float8[], $4::float8[]) AS u(pid, v, lo, hi) "
                         "ON CONFLICT DO NOTHING",
                         {IntArray(number.pid), RealArray(number.val), RealArray(number.lo),
                          RealArray(number.hi)}));
  GM_RETURN_IF_ERROR(run(quantity.n,
                         "INSERT INTO idx_quantity(pid, system, code, val, lo, hi, rid, patient) "
                         "SELECT u.pid, u.s, u.c, u.v, u.lo, u.hi, $7, $8 FROM unnest($1::int4[], "
                         "$2::text[], $3::text[], $4::float8[], $5::float8[], $6::float8[]) "
                         "AS u(pid, s, c, v, lo, hi) ON CONFLICT DO NOTHING",
                         {IntArray(quantity.pid), TextArray(quantity.t1), TextArray(quantity.t2),
                          RealArray(quantity.val), RealArray(quantity.lo),
                          RealArray(quantity.hi)}));
  GM_RETURN_IF_ERROR(run(reference.n,
                         "INSERT INTO idx_reference(pid, ttype, tid, url, rid, patient) "
                         "SELECT u.pid, u.tt, u.ti, u.url, $5, $6 FROM unnest($1::int4[], "
                         "$2::text[], $3::text[], $4::text[]) AS u(pid, tt, ti, url) "
                         "ON CONFLICT DO NOTHING",
                         {IntArray(reference.pid), TextArray(reference.t1),
                          TextArray(reference.t2), TextArray(reference.t3)}));
  GM_RETURN_IF_ERROR(run(uri.n,
                         "INSERT INTO idx_uri(pid, uri, rid, patient) "
                         "SELECT u.pid, u.uri, $3, $4 FROM unnest($1::int4[], $2::text[]) "
                         "AS u(pid, uri) ON CONFLICT DO NOTHING",
                         {IntArray(uri.pid), TextArray(uri.t1)}));
  if (!narrative.empty() || !content.empty()) {
    GM_RETURN_IF_ERROR(
        c.Run("INSERT INTO idx_text(rid, patient, narrative, content) VALUES($1, $2, "
                "array_to_tsvector($3::text[]), array_to_tsvector($4::text[]))",
                {krid, kpatient, KeyValue(TextArray(Lexemes(narrative))),
                 KeyValue(TextArray(Lexemes(content)))})
            );
  }
  return Status::Ok();
}

Status PostgresStore::ReindexVersion(PgConnection& c, const PutRequest& req) {
  const ResourceVersion& r = req.resource;
  PutRequest check = req;
  check.resource.json = "{}";
  check.resource.deleted = false;
  if (r.version < 1) check.resource.version = 1;
  GM_RETURN_IF_ERROR(ValidatePut(check));
  GM_ASSIGN_OR_RETURN(PgResult res,
                      c.Query("SELECT rid, version, deleted, kinds FROM resource "
                              "WHERE type = $1 AND id = $2 FOR UPDATE",
                              {KeyValue(r.type), KeyValue(r.id)}));
  if (res.rows() == 0 || res.Int(0, 1) != r.version || res.Int(0, 2) != 0) {
    return Status::Error(ErrorCategory::kConflict, "GM-STORE-012", "conflict",
                         "Reindex: the version is no longer the current one");
  }
  const int64_t rid = res.Int(0, 0), old_kinds = res.Int(0, 3);
  int64_t kinds = 0;
  for (const IndexEntry& e : req.index) kinds |= KindBit(e.kind);
  if (!req.compartments.empty()) kinds |= kCompartmentBit;
  std::optional<std::string> patient;
  if (!req.compartments.empty()) patient = req.compartments.front();
  GM_RETURN_IF_ERROR(ClearIndex(c, rid, old_kinds));
  GM_RETURN_IF_ERROR(c.Run("UPDATE resource SET patient = $2, kinds = $3 WHERE rid = $1",
                             {KeyValue(rid), OptText(patient), KeyValue(kinds)})
                         );
  GM_RETURN_IF_ERROR(
      c.Run("UPDATE resource_version SET patient = $3 WHERE rid = $1 AND version = $2",
              {KeyValue(rid), KeyValue(r.version), OptText(patient)})
          );
  return InsertIndex(c, rid, r.type, patient, req);
}

// ---- Reads -----------------------------------------------------------------

Result<std::optional<ResourceVersion>> PostgresStore::Read(const std::string& type,
                                                           const std::string& id) {
  if (!pool_) return Closed();
  GM_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  return ReadCurrent(*c, type, id, /*lock=*/false);
}

Result<std::optional<ResourceVersion>> PostgresStore::ReadVersion(const std::string& type,
                                                                  const std::string& id,
                                                                  int64_t version) {
  if (!pool_) return Closed();
  GM_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  GM_ASSIGN_OR_RETURN(PgResult res,
                      c->Query("SELECT v.last_updated_us, v.deleted, v.json FROM resource AS r "
                               "JOIN resource_version AS v ON v.rid = r.rid "
                               "WHERE r.type = $1 AND r.id = $2 AND v.version = $3",
                               {KeyValue(type), KeyValue(id), KeyValue(version)}));
  if (res.rows() == 0) return std::optional<ResourceVersion>();
  ResourceVersion rv{type, id, version, res.Int(0, 0), res.Int(0, 1) != 0, res.Text(0, 2)};
  return std::optional<ResourceVersion>(std::move(rv));
}

namespace {
std::string Placeholder(std::vector<KeyValue>& values, KeyValue v) {
  values.push_back(std::move(v));
  return "$" + std::to_string(values.size());
}
}  // namespace

Result<HistoryPage> PostgresStore::History(const HistoryQuery& hq) {
  if (!hq.id.empty() && hq.type.empty()) {
    return Status::Error(ErrorCategory::kInvalid, "GM-STORE-032", "invalid",
                         "Instance history needs a resource type");
  }
  if (!pool_) return Closed();
  const size_t limit = std::min(hq.limit, kMaxPage);
  GM_ASSIGN_OR_RETURN(Pool::Lease lease, pool_->Acquire());
  PgConnection& c = *lease;
  HistoryPage page;
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
    GM_ASSIGN_OR_RETURN(PgResult found, c.Query("SELECT rid FROM resource WHERE type = $1 AND id = $2",
                                                {KeyValue(hq.type), KeyValue(hq.id)}));
    if (found.rows() == 0) {
      page.total = 0;
      return page;
    }
    const int64_t rid = found.Int(0, 0);
    std::optional<int64_t> after;
    if (!hq.after.empty()) {
      GM_ASSIGN_OR_RETURN(std::vector<KeyValue> cv, DecodeCursor(kInstanceHistoryTag, hq.after, 1));
      if (!std::holds_alternative<int64_t>(cv[0])) return InvalidCursorError();
      after = std::get<int64_t>(cv[0]);
    }
    {
      std::vector<KeyValue> ps;
      std::string sql = "SELECT count(*) FROM resource_version AS v WHERE v.rid = " +
                        Placeholder(ps, rid) + add_filters(ps);
      GM_ASSIGN_OR_RETURN(PgResult res, c.Query(sql, ps));
      page.total = res.rows() ? res.Int(0, 0) : 0;
    }
    std::vector<KeyValue> params;
    std::string sql =
        "SELECT v.version, v.last_updated_us, v.deleted, v.json FROM resource_version AS v "
        "WHERE v.rid = " +
        Placeholder(params, rid) + add_filters(params);
    if (after) sql += " AND v.version < " + Placeholder(params, *after);
    sql += " ORDER BY v.version DESC LIMIT " + Placeholder(params, int64_t(limit + 1));
    GM_ASSIGN_OR_RETURN(PgResult res, c.Query(sql, params));
    for (int i = 0; i < res.rows(); ++i) {
      if (page.versions.size() == limit) {
        page.next = EncodeCursor(kInstanceHistoryTag, {page.versions.back().version});
        break;
      }
      page.versions.push_back(
          {hq.type, hq.id, res.Int(i, 0), res.Int(i, 1), res.Int(i, 2) != 0, res.Text(i, 3)});
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
  std::vector<KeyValue> params;
  std::string sql =
      "SELECT v.vid, v.version, v.last_updated_us, v.deleted, v.json, r.type, r.id "
      "FROM resource_version AS v JOIN resource AS r ON r.rid = v.rid WHERE TRUE";
  if (!hq.type.empty()) sql += " AND v.type = " + Placeholder(params, hq.type);
  sql += add_filters(params);
  if (after) {
    sql += " AND (v.last_updated_us, v.vid) < (" + Placeholder(params, after->first) + ", " +
           Placeholder(params, after->second) + ")";
  }
  sql += " ORDER BY v.last_updated_us DESC, v.vid DESC LIMIT " +
         Placeholder(params, int64_t(limit + 1));
  GM_ASSIGN_OR_RETURN(PgResult res, c.Query(sql, params));
  int64_t last_vid = 0;
  for (int i = 0; i < res.rows(); ++i) {
    if (page.versions.size() == limit) {
      page.next = EncodeCursor(kHistoryTag, {page.versions.back().last_updated_us, last_vid});
      break;
    }
    last_vid = res.Int(i, 0);
    page.versions.push_back({res.Text(i, 5), res.Text(i, 6), res.Int(i, 1), res.Int(i, 2),
                             res.Int(i, 3) != 0, res.Text(i, 4)});
  }
  return page;
}

Result<QueryPage> PostgresStore::RunQuery(PgConnection& c, const Query& query, size_t limit,
                                          bool with_json) {
  limit = std::min(limit, kMaxPage);
  QueryPage page;
  GM_ASSIGN_OR_RETURN(CompiledQuery cq, CompileQuery(c, query, limit + 1, NowUs()));
  if (cq.never_matches || limit == 0) return page;
  GM_ASSIGN_OR_RETURN(PgResult res, c.Query(cq.sql, cq.params));
  std::vector<Row> rows;
  std::string first_cursor, last_cursor;
  bool more = false;
  for (int i = 0; i < res.rows(); ++i) {
    if (rows.size() == limit) {
      more = true;
      break;
    }
    rows.push_back({res.Int(i, kColRid),
                    {res.Text(i, kColType), res.Text(i, kColId), res.Int(i, kColVersion),
                     res.Int(i, kColLastUpdated), false, std::string()}});
    if (rows.size() == 1) first_cursor = CursorAfterRow(cq, res, i);
    if (rows.size() == limit) last_cursor = CursorAfterRow(cq, res, i);
  }
  if (cq.backward) {
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

Result<QueryPage> PostgresStore::Search(const Query& query) {
  if (!pool_) return Closed();
  GM_ASSIGN_OR_RETURN(Pool::Lease lease, pool_->Acquire());
  return RunQuery(*lease, query, query.limit, true);
}

Result<int64_t> PostgresStore::Count(const Query& query, int64_t at_most) {
  if (!pool_) return Closed();
  GM_ASSIGN_OR_RETURN(Pool::Lease lease, pool_->Acquire());
  GM_ASSIGN_OR_RETURN(CompiledQuery cq, CompileCount(*lease, query, at_most, NowUs()));
  if (cq.never_matches) return int64_t(0);
  GM_ASSIGN_OR_RETURN(PgResult res, lease->Query(cq.sql, cq.params));
  return res.rows() ? res.Int(0, 0) : int64_t(0);
}

Result<std::string> PostgresStore::ExplainSearch(const Query& query) {
  if (!pool_) return Closed();
  GM_ASSIGN_OR_RETURN(Pool::Lease lease, pool_->Acquire());
  GM_ASSIGN_OR_RETURN(CompiledQuery cq,
                      CompileQuery(*lease, query, std::min(query.limit, kMaxPage) + 1, NowUs()));
  if (cq.never_matches) return std::string();
  GM_ASSIGN_OR_RETURN(PgResult res, lease->QueryOnce("EXPLAIN " + cq.sql, cq.params));
  std::string plan;
  for (int i = 0; i < res.rows(); ++i) plan += res.Text(i, 0) + "\n";
  return plan;
}

Result<QueryPage> PostgresStore::Compartment(const std::string& patient_id,
                                             const std::vector<std::string>& types, size_t limit,
                                             const std::string& after) {
  if (!pool_) return Closed();
  limit = std::min(limit, kMaxPage);
  GM_ASSIGN_OR_RETURN(Pool::Lease lease, pool_->Acquire());
  PgConnection& c = *lease;
  std::vector<KeyValue> params;
  std::string sql =
      "SELECT r.rid, r.type, r.id, r.version, r.last_updated_us FROM compartment AS c "
      "JOIN resource AS r ON r.rid = c.rid WHERE c.patient = " +
      Placeholder(params, patient_id) + " AND r.deleted = 0";
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
  GM_ASSIGN_OR_RETURN(PgResult res, c.Query(sql, params));
  for (int i = 0; i < res.rows(); ++i) {
    if (rows.size() == limit) {
      page.next = EncodeCursor(kCompartmentTag, {rows.back().rid});
      break;
    }
    rows.push_back({res.Int(i, 0),
                    {res.Text(i, 1), res.Text(i, 2), res.Int(i, 3), res.Int(i, 4), false, {}}});
  }
  GM_RETURN_IF_ERROR(FetchJson(c, rows));
  for (Row& r : rows) page.resources.push_back(std::move(r.rv));
  return page;
}

Result<std::vector<AuditOutboxRow>> PostgresStore::PendingAudit(size_t limit) {
  if (!pool_) return Closed();
  GM_ASSIGN_OR_RETURN(Pool::Lease lease, pool_->Acquire());
  GM_ASSIGN_OR_RETURN(PgResult res,
                      lease->Query("SELECT seq, key, patient, time_us, event FROM audit_outbox "
                                   "ORDER BY seq LIMIT $1",
                                   {KeyValue(static_cast<int64_t>(std::max<size_t>(limit, 1)))}));
  std::vector<AuditOutboxRow> rows;
  for (int i = 0; i < res.rows(); ++i) {
    rows.push_back(AuditOutboxRow{.seq = res.Int(i, 0), .key = res.Text(i, 1),
                                  .patient_id = res.Text(i, 2), .time_us = res.Int(i, 3),
                                  .event = res.Text(i, 4)});
  }
  return rows;
}

Result<StoreStats> PostgresStore::Stats() {
  if (!pool_) return Closed();
  GM_ASSIGN_OR_RETURN(Pool::Lease lease, pool_->Acquire());
  GM_ASSIGN_OR_RETURN(
      PgResult res,
      lease->Query("SELECT (SELECT count(*) FROM resource WHERE deleted = 0), "
                   "(SELECT count(*) FROM resource_version), "
                   "pg_database_size(current_database())"));
  StoreStats stats;
  stats.resources = res.Int(0, 0);
  stats.versions = res.Int(0, 1);
  stats.bytes = res.Int(0, 2);
  return stats;
}

}  // namespace postgres
}  // namespace gm::store
