// Storage for the audit chain (internal to gm_audit): the rows of log.h's
// tables behind a small interface, so the chain logic in log.cc (hashing,
// checkpoints, head signing, group commit, the Verify walk) runs unchanged
// over either
//   - the SQLite file <data>/audit.db (sqlite_chain.cc), or
//   - tables gm_audit_* in a shared PostgreSQL database (pg_chain.cc).
// One ChainStore is one connection and is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "trust/jose.h"

namespace gm::audit::internal {

struct EventRow {
  int64_t seq = 0, time_us = 0;
  std::string patient, event, prev_hash, hash;  // hashes in hex
};

// A checkpoint or the head.
struct SignedRow {
  int64_t seq = 0;
  std::string hash, kid, jws;
  int64_t time_us = 0;
};

// The newest state, read in one go at the start of every write transaction.
struct Tail {
  int64_t seq = 0;                  // newest event (0: empty)
  std::string hash;                 // its hash (hex; "" when empty)
  int64_t last_checkpoint = 0;      // newest checkpoint's seq
  std::optional<SignedRow> head;    // the stored head (without jws)
};

class ChainStore {
 public:
  virtual ~ChainStore() = default;

  // ---- writing (one writer transaction at a time, across nodes) ----
  // Starts the exclusive write transaction (SQLite: BEGIN IMMEDIATE;
  // PostgreSQL: BEGIN + pg_advisory_xact_lock, so nodes take turns).
  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;
  virtual Status Savepoint() = 0;
  virtual void ReleaseSavepoint() = 0;
  virtual void RollbackToSavepoint() = 0;
  virtual Result<Tail> ReadTail() = 0;
  // The seq of the event appended with this key, if any.
  virtual Result<std::optional<int64_t>> SeqForKey(const std::string& key) = 0;
  // key: nullptr for a plain append.
  virtual Status InsertEvent(const EventRow& row, const std::string* key) = 0;
  virtual Status InsertCheckpoint(const SignedRow& row) = 0;
  virtual Status WriteHead(const SignedRow& row) = 0;
  // Archives the public JWK of a signing key durably before its first use
  // (outside any transaction). GM-AUDIT-014 if the kid is archived with
  // another key, or the archive cannot be written.
  virtual Status ArchiveKey(const trust::Jwk& key) = 0;

  // ---- reading ----
  // Up to `limit` (seq, event bytes) for a patient with seq < before, newest first.
  virtual Result<std::vector<std::pair<int64_t, std::string>>> PatientEvents(
      const std::string& patient, int64_t before, int64_t limit) = 0;

  // ---- verifying (a consistent read-only view) ----
  virtual Status BeginSnapshot() = 0;
  // Every event in seq order; stop when `fn` returns false.
  virtual Status ForEachEvent(const std::function<bool(const EventRow&)>& fn) = 0;
  virtual Result<std::optional<int64_t>> SeqForHash(const std::string& hash_hex) = 0;
  virtual Result<std::vector<SignedRow>> Checkpoints() = 0;
  virtual Result<std::optional<SignedRow>> Head() = 0;  // with jws
  // Archived public keys (unparsable entries are skipped).
  virtual Result<std::vector<trust::Jwk>> ArchivedKeys() = 0;
};

// <data_dir>/audit.db. Writer: creates/upgrades the schema (adds the key
// column to older files). Read-only: for queries and Verify
// (GM-AUDIT-020 when there is no file, 021 when it is not an audit database).
Result<std::unique_ptr<ChainStore>> OpenSqliteChain(const std::string& data_dir, bool read_only);

// Tables gm_audit_* in a PostgreSQL database. Writer: creates them (CREATE
// ... IF NOT EXISTS under an advisory lock). Read-only: GM-AUDIT-020 when the
// tables do not exist.
Result<std::unique_ptr<ChainStore>> OpenPgChain(const std::string& database_url, bool read_only);

}  // namespace gm::audit::internal
