// The SQLite schema of the embedded store and its versioning.
//
// Tables (schema version 1):
//   resource          one row per resource: surrogate key `rid`, type, id, current
//                     version, last_updated_us, deleted flag, primary patient
//                     compartment key, and a bitmask of the index tables that
//                     hold rows for it.
//   resource_version  one row per version (deletions included): the JSON bytes,
//                     last_updated_us, deleted flag, primary patient key.
//   compartment       (patient, rid) for every patient compartment the current
//                     version is in; indexed by patient and by rid.
//   search_param      interned (type, parameter, kind) -> pid, so index rows
//                     carry one integer instead of two strings.
//   idx_token, idx_string, idx_date, idx_number, idx_quantity, idx_reference,
//   idx_uri           one table per IndexEntry::Kind with typed columns; rows
//                     describe the current, non-deleted version only.
//   audit_outbox      audit records committed with the writes they describe,
//                     until the audit chain takes them over (version 2).
//   schema_version    the single version number below.
// The file is marked with PRAGMA application_id so a foreign SQLite file is not
// mistaken for a grunnmur store.
#pragma once

#include "core/status.h"
#include "store/sqlite/connection.h"

namespace gm::store::sqlite {

inline constexpr int kSchemaVersion = 2;
inline constexpr int kApplicationId = 0x676D7331;  // "gms1"

// Bits of resource.kinds: bit IndexEntry::Kind for each index table, plus:
inline constexpr int kCompartmentBit = 1 << 7;

// Creates the schema in an empty database or validates an existing one.
// REQUIRES: `c` is the writable connection, outside any transaction.
// Errors: kUnavailable GM-STORE-002 if the database's schema is newer than
// kSchemaVersion; GM-STORE-003 if the file is not a grunnmur store; SQLite
// errors as mapped by SqliteStatus.
Status EnsureSchema(Connection& c);

}  // namespace gm::store::sqlite
