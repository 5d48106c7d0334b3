// The audit chain in a shared PostgreSQL database (see log.h): one chain for
// all grunnmur nodes on that database. Writers serialise on a
// transaction-level advisory lock, so nodes append whole batches in turn.
#include "audit/chain_store.h"
#include "core/json.h"
#include "store/postgres/pg_connection.h"

namespace gm::audit::internal {
namespace {

using store::KeyValue;
using store::postgres::PgConnection;
using store::postgres::PgResult;

// pg_advisory_xact_lock key of the audit chain ("gmaudit1" as a big-endian int64).
constexpr const char* kLockSql = "SELECT pg_advisory_xact_lock(7452720115191739441)";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS gm_audit_event(
  seq BIGINT PRIMARY KEY, time_us BIGINT NOT NULL, patient TEXT NOT NULL,
  event TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, key TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS gm_audit_event_key ON gm_audit_event(key);
CREATE INDEX IF NOT EXISTS gm_audit_event_patient ON gm_audit_event(patient, seq);
CREATE TABLE IF NOT EXISTS gm_audit_checkpoint(
  seq BIGINT PRIMARY KEY, hash TEXT NOT NULL, time_us BIGINT NOT NULL,
  kid TEXT NOT NULL, jws TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gm_audit_head(
  id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL,
  time_us BIGINT NOT NULL, kid TEXT NOT NULL, jws TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gm_audit_key(
  kid TEXT PRIMARY KEY, jwk TEXT NOT NULL, time_us BIGINT NOT NULL);
CREATE OR REPLACE FUNCTION gm_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE OR REPLACE TRIGGER gm_audit_event_append_only BEFORE UPDATE OR DELETE ON gm_audit_event
  FOR EACH ROW EXECUTE FUNCTION gm_audit_append_only();
CREATE OR REPLACE TRIGGER gm_audit_event_no_truncate BEFORE TRUNCATE ON gm_audit_event
  FOR EACH STATEMENT EXECUTE FUNCTION gm_audit_append_only();
CREATE OR REPLACE TRIGGER gm_audit_checkpoint_append_only BEFORE UPDATE OR DELETE
  ON gm_audit_checkpoint FOR EACH ROW EXECUTE FUNCTION gm_audit_append_only();
CREATE OR REPLACE TRIGGER gm_audit_checkpoint_no_truncate BEFORE TRUNCATE ON gm_audit_checkpoint
  FOR EACH STATEMENT EXECUTE FUNCTION gm_audit_append_only();
CREATE OR REPLACE TRIGGER gm_audit_key_append_only BEFORE UPDATE OR DELETE ON gm_audit_key
  FOR EACH ROW EXECUTE FUNCTION gm_audit_append_only();
)sql";

Status Err(ErrorCategory cat, std::string code, std::string text) {
  return Status::Error(cat, std::move(code), "exception", std::move(text));
}
// Database errors keep their message (it names the SQLSTATE) under our code.
Status Wrap(const Status& st, const char* code, const char* what) {
  return Err(ErrorCategory::kUnavailable, code, std::string(what) + ": " + st.message());
}

class PgChain final : public ChainStore {
 public:
  explicit PgChain(std::unique_ptr<PgConnection> c) : c_(std::move(c)) {}
  ~PgChain() override {
    if (in_tx_) c_->Exec("ROLLBACK");
  }

  Status Init() {
    if (Status st = c_->Exec(std::string("BEGIN; ") + kLockSql + "; " + kSchema + " COMMIT");
        !st.ok()) {
      c_->Exec("ROLLBACK");
      return Wrap(st, "GM-AUDIT-010", "cannot create the audit tables");
    }
    return Status::Ok();
  }

  Status CheckTables() {
    auto r = c_->QueryText("SELECT to_regclass('gm_audit_event')::text");
    if (!r.ok()) return Wrap(r.status(), "GM-AUDIT-010", "cannot read the audit log");
    if (r->empty())
      return Err(ErrorCategory::kNotFound, "GM-AUDIT-020", "no audit log in the database");
    return Status::Ok();
  }

  Status Begin() override {
    if (Status st = c_->Exec("BEGIN"); !st.ok())
      return Wrap(st, "GM-AUDIT-013", "cannot begin an audit transaction");
    in_tx_ = true;
    if (auto r = c_->Query(kLockSql); !r.ok()) {
      Rollback();
      return Wrap(r.status(), "GM-AUDIT-013", "cannot lock the audit chain");
    }
    return Status::Ok();
  }
  Status Commit() override {
    Status st = c_->Exec("COMMIT");
    in_tx_ = false;
    if (!st.ok()) return Wrap(st, "GM-AUDIT-013", "cannot commit the audit records");
    return Status::Ok();
  }
  void Rollback() override {
    c_->Exec("ROLLBACK");
    in_tx_ = false;
  }
  Status Savepoint() override {
    if (Status st = c_->Exec("SAVEPOINT req"); !st.ok())
      return Wrap(st, "GM-AUDIT-013", "cannot write an audit record");
    return Status::Ok();
  }
  void ReleaseSavepoint() override { c_->Exec("RELEASE SAVEPOINT req"); }
  void RollbackToSavepoint() override {
    c_->Exec("ROLLBACK TO SAVEPOINT req");
    c_->Exec("RELEASE SAVEPOINT req");
  }

  Result<Tail> ReadTail() override {
    auto r = c_->Query(
        "SELECT e.seq, e.hash, (SELECT max(seq) FROM gm_audit_checkpoint), h.seq, h.hash "
        "FROM (SELECT 1) one "
        "LEFT JOIN (SELECT seq, hash FROM gm_audit_event ORDER BY seq DESC LIMIT 1) e ON true "
        "LEFT JOIN gm_audit_head h ON h.id = 1");
    if (!r.ok()) return Wrap(r.status(), "GM-AUDIT-010", "cannot read the audit log");
    Tail t;
    if (!r->IsNull(0, 0)) {
      t.seq = r->Int(0, 0);
      t.hash = r->Text(0, 1);
    }
    if (!r->IsNull(0, 2)) t.last_checkpoint = r->Int(0, 2);
    if (!r->IsNull(0, 3)) t.head = SignedRow{r->Int(0, 3), r->Text(0, 4), "", "", 0};
    return t;
  }

  Result<std::optional<int64_t>> SeqForKey(const std::string& key) override {
    auto r = c_->Query("SELECT seq FROM gm_audit_event WHERE key = $1", {KeyValue(key)});
    if (!r.ok()) return Wrap(r.status(), "GM-AUDIT-013", "cannot read the audit log");
    if (r->rows() == 0) return std::optional<int64_t>();
    return std::optional<int64_t>(r->Int(0, 0));
  }

  Status InsertEvent(const EventRow& e, const std::string* key) override {
    auto r = c_->Query(
        "INSERT INTO gm_audit_event(seq, time_us, patient, event, prev_hash, hash, key) "
        "VALUES($1, $2, $3, $4, $5, $6, $7::text)",
        {KeyValue(e.seq), KeyValue(e.time_us), KeyValue(e.patient), KeyValue(e.event),
         KeyValue(e.prev_hash), KeyValue(e.hash),
         key ? KeyValue(*key) : KeyValue(std::monostate{})});
    if (!r.ok()) return Wrap(r.status(), "GM-AUDIT-013", "cannot write an audit record");
    return Status::Ok();
  }

  Status InsertCheckpoint(const SignedRow& s) override {
    auto r = c_->Query(
        "INSERT INTO gm_audit_checkpoint(seq, hash, time_us, kid, jws) VALUES($1, $2, $3, $4, $5)",
        Params(s));
    if (!r.ok()) return Wrap(r.status(), "GM-AUDIT-013", "cannot write an audit checkpoint");
    return Status::Ok();
  }

  Status WriteHead(const SignedRow& s) override {
    auto r = c_->Query(
        "INSERT INTO gm_audit_head(id, seq, hash, time_us, kid, jws) VALUES(1, $1, $2, $3, $4, $5) "
        "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, "
        "time_us = excluded.time_us, kid = excluded.kid, jws = excluded.jws",
        Params(s));
    if (!r.ok()) return Wrap(r.status(), "GM-AUDIT-013", "cannot write the audit head");
    return Status::Ok();
  }

  Status ArchiveKey(const trust::Jwk& key) override {
    const std::string text = json::Write(key.PublicJson());
    // Committed on its own before the first signature with this kid.
    auto r = c_->Query(
        "INSERT INTO gm_audit_key(kid, jwk, time_us) "
        "VALUES($1, $2, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint) "
        "ON CONFLICT (kid) DO NOTHING",
        {KeyValue(key.kid()), KeyValue(text)});
    if (!r.ok()) return Wrap(r.status(), "GM-AUDIT-014", "cannot archive the signing key");
    auto stored = c_->Query("SELECT jwk FROM gm_audit_key WHERE kid = $1", {KeyValue(key.kid())});
    if (!stored.ok()) return Wrap(stored.status(), "GM-AUDIT-014", "cannot archive the signing key");
    if (stored->rows() != 1 || stored->Text(0, 0) != text)
      return Err(ErrorCategory::kUnavailable, "GM-AUDIT-014",
                 "the archived key with this kid differs from the signing key");
    return Status::Ok();
  }

  Result<std::vector<std::pair<int64_t, std::string>>> PatientEvents(const std::string& patient,
                                                                     int64_t before,
                                                                     int64_t limit) override {
    auto r = c_->Query(
        "SELECT seq, event FROM gm_audit_event WHERE patient = $1 AND seq < $2 "
        "ORDER BY seq DESC LIMIT $3",
        {KeyValue(patient), KeyValue(before), KeyValue(limit)});
    if (!r.ok()) return Wrap(r.status(), "GM-AUDIT-010", "cannot read the audit log");
    std::vector<std::pair<int64_t, std::string>> out;
    for (int i = 0; i < r->rows(); ++i) out.emplace_back(r->Int(i, 0), r->Text(i, 1));
    return out;
  }

  Status BeginSnapshot() override {
    if (Status st = c_->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !st.ok())
      return Wrap(st, "GM-AUDIT-010", "cannot read the audit log");
    in_tx_ = true;
    return Status::Ok();
  }

  Status ForEachEvent(const std::function<bool(const EventRow&)>& fn) override {
    int64_t after = INT64_MIN;
    constexpr int64_t kPage = 2000;
    for (;;) {
      auto r = c_->Query(
          "SELECT seq, time_us, patient, event, prev_hash, hash FROM gm_audit_event "
          "WHERE seq > $1 ORDER BY seq LIMIT $2",
          {KeyValue(after), KeyValue(kPage)});
      if (!r.ok()) return Wrap(r.status(), "GM-AUDIT-010", "cannot read the audit log");
      for (int i = 0; i < r->rows(); ++i) {
        EventRow e{r->Int(i, 0),  r->Int(i, 1),  r->Text(i, 2),
                   r->Text(i, 3), r->Text(i, 4), r->Text(i, 5)};
        after = e.seq;
        if (!fn(e)) return Status::Ok();
      }
      if (r->rows() < kPage) return Status::Ok();
    }
  }

  Result<std::optional<int64_t>> SeqForHash(const std::string& hash_hex) override {
    auto r = c_->Query("SELECT seq FROM gm_audit_event WHERE hash = $1 LIMIT 1",
                       {KeyValue(hash_hex)});
    if (!r.ok()) return Wrap(r.status(), "GM-AUDIT-010", "cannot read the audit log");
    if (r->rows() == 0) return std::optional<int64_t>();
    return std::optional<int64_t>(r->Int(0, 0));
  }

  Result<std::vector<SignedRow>> Checkpoints() override {
    auto r = c_->Query("SELECT seq, hash, kid, jws, time_us FROM gm_audit_checkpoint ORDER BY seq");
    if (!r.ok()) return Wrap(r.status(), "GM-AUDIT-010", "cannot read the audit log");
    std::vector<SignedRow> out;
    for (int i = 0; i < r->rows(); ++i) out.push_back(Row(*r, i));
    return out;
  }

  Result<std::optional<SignedRow>> Head() override {
    auto r = c_->Query("SELECT seq, hash, kid, jws, time_us FROM gm_audit_head WHERE id = 1");
    if (!r.ok()) return Wrap(r.status(), "GM-AUDIT-010", "cannot read the audit log");
    if (r->rows() == 0) return std::optional<SignedRow>();
    return std::optional<SignedRow>(Row(*r, 0));
  }

  Result<std::vector<trust::Jwk>> ArchivedKeys() override {
    auto r = c_->Query("SELECT jwk FROM gm_audit_key ORDER BY kid");
    if (!r.ok()) return Wrap(r.status(), "GM-AUDIT-010", "cannot read the audit log");
    std::vector<trust::Jwk> out;
    for (int i = 0; i < r->rows(); ++i) {
      auto j = json::Parse(r->Text(i, 0));
      if (!j.ok()) continue;
      auto k = trust::Jwk::FromJson(*j);
      if (k.ok()) out.push_back(*k);
    }
    return out;
  }

 private:
  static std::vector<KeyValue> Params(const SignedRow& s) {
    return {KeyValue(s.seq), KeyValue(s.hash), KeyValue(s.time_us), KeyValue(s.kid),
            KeyValue(s.jws)};
  }
  static SignedRow Row(const PgResult& r, int i) {
    return SignedRow{r.Int(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3), r.Int(i, 4)};
  }

  std::unique_ptr<PgConnection> c_;
  bool in_tx_ = false;
};

}  // namespace

Result<std::unique_ptr<ChainStore>> OpenPgChain(const std::string& database_url, bool read_only) {
  auto conn = PgConnection::Open(database_url);
  if (!conn.ok())
    return Err(ErrorCategory::kUnavailable, "GM-AUDIT-010",
               "cannot open the audit database: " + conn.status().message());
  auto chain = std::make_unique<PgChain>(std::move(conn).value());
  GM_RETURN_IF_ERROR(read_only ? chain->CheckTables() : chain->Init());
  return std::unique_ptr<ChainStore>(std::move(chain));
}

}  // namespace gm::audit::internal
