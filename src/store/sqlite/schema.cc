#include "store/sqlite/schema.h"

#include <cstdlib>
#include <string>

namespace gm::store::sqlite {
namespace {

// Index tables are WITHOUT ROWID with the search key first, so the primary key
// is the main search index and rows need no separate rowid b-tree. Each has a
// (rid, pid) index for replacing a resource's rows and for per-resource probes
// (EXISTS, :missing, :not, sort values).
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE schema_version(version INTEGER NOT NULL);

CREATE TABLE resource(
  rid INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  last_updated_us INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  patient TEXT,
  kinds INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX resource_type_id ON resource(type, id);
CREATE INDEX resource_id ON resource(id);
CREATE INDEX resource_type_lu ON resource(type, last_updated_us) WHERE deleted = 0;

CREATE TABLE resource_version(
  vid INTEGER PRIMARY KEY,
  rid INTEGER NOT NULL,
  type TEXT NOT NULL,
  version INTEGER NOT NULL,
  last_updated_us INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  patient TEXT,
  json BLOB NOT NULL);
CREATE UNIQUE INDEX resource_version_rid ON resource_version(rid, version);
CREATE INDEX resource_version_lu ON resource_version(last_updated_us);
CREATE INDEX resource_version_type_lu ON resource_version(type, last_updated_us);

CREATE TABLE compartment(
  patient TEXT NOT NULL,
  rid INTEGER NOT NULL,
  PRIMARY KEY(patient, rid)) WITHOUT ROWID;
CREATE INDEX compartment_rid ON compartment(rid, patient);

CREATE TABLE search_param(
  pid INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  param TEXT NOT NULL,
  kind INTEGER NOT NULL);
CREATE UNIQUE INDEX search_param_key ON search_param(param, type, kind);

CREATE TABLE idx_token(
  pid INTEGER NOT NULL,
  system TEXT NOT NULL,
  code TEXT NOT NULL,
  text TEXT NOT NULL,
  rid INTEGER NOT NULL,
  PRIMARY KEY(pid, code, system, text, rid)) WITHOUT ROWID;
CREATE INDEX idx_token_system ON idx_token(pid, system, code);
CREATE INDEX idx_token_text ON idx_token(pid, text) WHERE text <> '';
CREATE INDEX idx_token_rid ON idx_token(rid, pid);

CREATE TABLE idx_string(
  pid INTEGER NOT NULL,
  text TEXT NOT NULL,
  code TEXT NOT NULL,
  rid INTEGER NOT NULL,
  PRIMARY KEY(pid, text, code, rid)) WITHOUT ROWID;
CREATE INDEX idx_string_exact ON idx_string(pid, code);
CREATE INDEX idx_string_rid ON idx_string(rid, pid);

CREATE TABLE idx_date(
  pid INTEGER NOT NULL,
  b INTEGER NOT NULL,
  e INTEGER NOT NULL,
  rid INTEGER NOT NULL,
  PRIMARY KEY(pid, b, e, rid)) WITHOUT ROWID;
CREATE INDEX idx_date_end ON idx_date(pid, e);
CREATE INDEX idx_date_rid ON idx_date(rid, pid);

CREATE TABLE idx_number(
  pid INTEGER NOT NULL,
  val REAL NOT NULL,
  lo REAL NOT NULL,
  hi REAL NOT NULL,
  rid INTEGER NOT NULL,
  PRIMARY KEY(pid, val, lo, hi, rid)) WITHOUT ROWID;
CREATE INDEX idx_number_rid ON idx_number(rid, pid);

CREATE TABLE idx_quantity(
  pid INTEGER NOT NULL,
  system TEXT NOT NULL,
  code TEXT NOT NULL,
  val REAL NOT NULL,
  lo REAL NOT NULL,
  hi REAL NOT NULL,
  rid INTEGER NOT NULL,
  PRIMARY KEY(pid, code, system, val, lo, hi, rid)) WITHOUT ROWID;
CREATE INDEX idx_quantity_val ON idx_quantity(pid, val);
CREATE INDEX idx_quantity_rid ON idx_quantity(rid, pid);

CREATE TABLE idx_reference(
  pid INTEGER NOT NULL,
  ttype TEXT NOT NULL,
  tid TEXT NOT NULL,
  url TEXT NOT NULL,
  rid INTEGER NOT NULL,
  PRIMARY KEY(pid, tid, ttype, url, rid)) WITHOUT ROWID;
CREATE INDEX idx_reference_target ON idx_reference(tid, ttype);
CREATE INDEX idx_reference_url ON idx_reference(pid, url) WHERE url <> '';
CREATE INDEX idx_reference_rid ON idx_reference(rid, pid);

CREATE TABLE idx_uri(
  pid INTEGER NOT NULL,
  uri TEXT NOT NULL,
  rid INTEGER NOT NULL,
  PRIMARY KEY(pid, uri, rid)) WITHOUT ROWID;
CREATE INDEX idx_uri_rid ON idx_uri(rid, pid);
)sql";

// Version 2: the audit outbox (store.h AuditOutboxRow): audit records that
// commit with the writes they describe, until the audit chain takes them over.
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE audit_outbox(
  seq INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  patient TEXT NOT NULL,
  time_us INTEGER NOT NULL,
  event BLOB NOT NULL);
)sql";

Status Refuse(std::string code, std::string text) {
  return Status::Error(ErrorCategory::kUnavailable, std::move(code), "exception", std::move(text));
}

}  // namespace

Status EnsureSchema(Connection& c) {
  TxnScope txn(c);
  GM_RETURN_IF_ERROR(txn.Begin(/*immediate=*/true));
  GM_ASSIGN_OR_RETURN(std::string app_id, c.QueryText("PRAGMA application_id"));
  GM_ASSIGN_OR_RETURN(std::string tables,
                      c.QueryText("SELECT count(*) FROM sqlite_schema WHERE type = 'table'"));
  if (app_id == "0" && tables == "0") {
    GM_RETURN_IF_ERROR(c.Exec("PRAGMA application_id = " + std::to_string(kApplicationId)));
    GM_RETURN_IF_ERROR(c.Exec(kSchemaV1));
    GM_RETURN_IF_ERROR(c.Exec(kSchemaV2));
    GM_RETURN_IF_ERROR(c.Exec("INSERT INTO schema_version(version) VALUES(" +
                              std::to_string(kSchemaVersion) + ")"));
    return txn.Commit();
  }
  if (app_id != std::to_string(kApplicationId)) {
    return Refuse("GM-STORE-003", "The database file is not a grunnmur store");
  }
  GM_ASSIGN_OR_RETURN(std::string version, c.QueryText("SELECT max(version) FROM schema_version"));
  int v = version.empty() ? 0 : int(std::strtol(version.c_str(), nullptr, 10));
  if (v > kSchemaVersion) {
    return Refuse("GM-STORE-002", "The database schema version " + std::to_string(v) +
                                      " is newer than this grunnmur supports (" +
                                      std::to_string(kSchemaVersion) + ")");
  }
  if (v < 1) return Refuse("GM-STORE-003", "The database has no valid schema version");
  // Migrations, in order.
  if (v < 2) GM_RETURN_IF_ERROR(c.Exec(kSchemaV2));
  if (v < kSchemaVersion) {
    GM_RETURN_IF_ERROR(c.Exec("UPDATE schema_version SET version = " +
                              std::to_string(kSchemaVersion)));
  }
  return txn.Commit();
}

}  // namespace gm::store::sqlite
