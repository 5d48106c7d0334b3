// The PostgreSQL schema of the store and its migrations.
//
// Tables mirror the SQLite store (store/sqlite/schema.h): resource (one row
// per resource, surrogate key rid), resource_version (one row per version,
// the JSON text), compartment (patient, rid), search_param (interned
// (type, param, kind) -> pid), and one idx_* table per IndexEntry::Kind
// (idx_token, idx_string, idx_date, idx_number, idx_quantity, idx_reference,
// idx_uri, idx_composite, and idx_text with two tsvector columns). Every
// patient-data table carries `patient`, the primary patient compartment key
// (NULL for data in no patient's compartment), so the tables can be
// distributed by it (Citus, docs/SCALING.md). Text columns use the "C"
// collation: bytewise comparison and order, as in SQLite.
//
// Versions (schema_version holds one row):
//   1  resource, resource_version, compartment, search_param and the seven
//      single-value index tables.
//   2  idx_composite and idx_text (composite parameters, _text/_content).
//
// Migrations run at start-up inside one transaction per step while holding a
// session-level advisory lock (kMigrationLockKey), so several nodes starting
// at once apply each step exactly once; a database whose schema_version is
// newer than kSchemaVersion is refused (GM-STORE-002) and left untouched.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "store/postgres/pg_connection.h"

namespace gm::store::postgres {

inline constexpr int kSchemaVersion = 3;
// pg_advisory_lock key of the migrator ("gmschema" in ASCII).
inline constexpr int64_t kMigrationLockKey = 0x676d736368656d61LL;

// Brings the database to `target` (default: kSchemaVersion) and returns the
// version it had before (0 for an empty database).
// Errors: kUnavailable GM-STORE-002 if the database is newer than this code
// knows; GM-STORE-003 if it holds another application's tables named like
// ours without a schema_version; PostgreSQL errors.
Result<int> Migrate(PgConnection& c, int target = kSchemaVersion);

// The schema version recorded in the database (0 if none).
Result<int> SchemaVersionOf(PgConnection& c);

}  // namespace gm::store::postgres
