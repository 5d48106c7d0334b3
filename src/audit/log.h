// The tamper-evident audit log: <data>/audit.db, its own SQLite file (WAL,
// synchronous=FULL), append-only.
//
// Tables
//   audit_event(seq, time_us, patient, event, prev_hash, hash)
//       seq 1, 2, 3 … without gaps; event = the AuditEvent's JSON bytes (its
//       "id" is the seq); time_us = its `recorded` (ms precision);
//       hash = hex SHA-256(prev_hash(32 raw bytes) ‖ seq (8 bytes big-endian)
//       ‖ event bytes); the first prev_hash is 32 zero bytes. The hash is over
//       the stored bytes exactly (no re-serialisation when verifying).
//   audit_checkpoint(seq, hash, time_us, kid, jws)
//       every `checkpoint_every` events and on Close: a compact JWS (typ
//       "gm-audit-checkpoint", signed with the KeyRing's current key) over
//       {"kind":"checkpoint","seq","hash","time","prev_checkpoint"}; the
//       prev_checkpoint links make a removed checkpoint visible.
//   audit_head(id=1, seq, hash, time_us, kid, jws)
//       a signed {"kind":"head",…,"last_checkpoint"} of the newest event,
//       rewritten in the same transaction as every append (one signature per
//       group commit, a few tens of µs). It is what makes truncating or
//       re-hashing the tail after the last checkpoint detectable.
//   Triggers refuse UPDATE/DELETE on events and checkpoints (against
//   accidents; an attacker with the file can drop them — that is what the
//   hashes and signatures are for).
//
// Keys: checkpoints are signed with trust::KeyRing's current key (the same
// <data>/keys ring as the token issuer). KeyRing::Rotate deletes keys beyond
// `keep`, so the log archives the public JWK of every kid it signs with in
// <data>/audit-keys/<kid>.json (written and fsynced before the first
// signature with that kid). Verify trusts: the ring's keys, the archive, and
// keys the operator pins (VerifyOptions::trusted_keys, e.g. a JWKS exported
// out of band). The archive lives in the data directory: someone who can
// rewrite the whole data directory can also plant a key there; against that
// attacker, pin the keys (`--jwks`) or ship checkpoints off the machine.
// Rolling the whole log back to an older, validly signed state is likewise
// only detectable with a checkpoint kept elsewhere.
//
// Thread-safety: AuditLog is safe for concurrent use. Appends are grouped:
// concurrent callers' events are written in one transaction with one fsync
// (leader/follower group commit); each caller's events are consecutive and
// all-or-nothing (one SAVEPOINT per caller).
//
// Errors (GM-AUDIT-0xx, issue type "exception"):
//   010 cannot open/create the database or its schema    (kUnavailable)
//   011 the stored head does not match the newest event  (kInternal: run
//       `grunnmur audit verify`; the log refuses to append to a chain it
//       cannot vouch for)
//   012 the log is closed                                (kUnavailable)
//   013 write or commit failed (disk full, I/O)          (kUnavailable)
//   014 cannot archive the signing key                   (kUnavailable)
//   020 (Verify) no audit log in the data directory      (kNotFound)
//   021 (Verify) not a grunnmur audit database           (kInvalid)
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "audit/event.h"
#include "core/clock.h"
#include "core/status.h"
#include "trust/jose.h"
#include "trust/tokens.h"

struct sqlite3;

namespace gm::audit {

struct LogOptions {
  std::string data_dir;                    // audit.db and audit-keys/ go here
  std::shared_ptr<trust::KeyRing> keys;    // required: signs checkpoints
  const Clock* clock = nullptr;            // null: the system clock
  int64_t checkpoint_every = 1000;         // events between signed checkpoints (≥ 1)
};

// A page of the citizen access log.
struct AccessPage {
  std::vector<AccessSummary> entries;  // newest first
  int64_t next_before = 0;             // pass as before_seq for the next page; 0 = no more
};

class AuditLog {
 public:
  static Result<std::unique_ptr<AuditLog>> Open(LogOptions options);
  ~AuditLog();  // Close() if not closed (errors are dropped: call Close yourself)
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends the events atomically and in order; returns their seqs once the
  // transaction is durable (fsynced). On error nothing of `events` is stored.
  Result<std::vector<int64_t>> Append(std::vector<Event> events);

  // Writes the final checkpoint (if events were appended since the last one)
  // and closes. Further appends fail with GM-AUDIT-012.
  Status Close();

  // Citizen access log: events for one patient, newest first. before_seq = 0
  // starts at the newest; limit is clamped to [1, 500].
  Result<AccessPage> EventsForPatient(std::string_view patient_id, size_t limit,
                                      int64_t before_seq = 0) const;

  int64_t last_seq() const;
  int64_t commits() const;  // transactions committed (tests: group commit)

 private:
  struct Pending;
  AuditLog() = default;
  Status WriteBatch(std::vector<Pending*>& batch);
  Status WriteCheckpointLocked(sqlite3* db, int64_t seq, const std::string& hash_hex,
                               int64_t prev_cp, bool head);
  Status ArchiveKey(const trust::Jwk& key);

  LogOptions options_;
  const Clock* clock_ = nullptr;
  sqlite3* db_ = nullptr;       // writer connection (leader only)
  sqlite3* read_db_ = nullptr;  // queries
  mutable std::mutex read_mu_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pending*> queue_;
  bool writing_ = false;
  bool closed_ = false;
  int64_t last_seq_ = 0;
  std::string last_hash_;  // raw 32 bytes
  int64_t last_checkpoint_ = 0;
  int64_t commits_ = 0;
  std::vector<std::string> archived_kids_;
};

// ---- Verification ----

enum class ProblemKind {
  kEventChanged,       // a record's bytes (or its hash) no longer match its hash
  kEventRemoved,       // a gap in seq: records are missing
  kEventReordered,     // a record sits at another position than it was written at
  kChainBroken,        // a record's prev_hash does not link to the record before it
  kRowMismatch,        // the patient/time columns disagree with the event
  kCheckpointInvalid,  // bad/forged signature, unknown key, or payload ≠ its row
  kCheckpointMismatch, // a validly signed checkpoint/head disagrees with the chain
  kCheckpointRemoved,  // a checkpoint named by a later one is missing
  kTruncated,          // signed checkpoint/head names events that are gone
  kHeadMissing,        // events exist but no signed head
  kUnsignedTail,       // events after the signed head
  kKeyMismatch,        // the key archive and the key ring disagree about a kid
};
std::string_view ProblemKindName(ProblemKind kind);

struct Problem {
  ProblemKind kind;
  int64_t seq = 0;  // where (0 when not about one record)
  std::string detail;
};

struct VerifyOptions {
  std::vector<trust::Jwk> trusted_keys;  // pinned keys, trusted in addition
  bool only_trusted_keys = false;        // true: ignore the ring and the archive
  size_t max_problems = 1000;            // stop listing beyond this
};

struct VerifyReport {
  int64_t events = 0;
  int64_t first_seq = 0, last_seq = 0;
  int64_t checkpoints = 0;
  int64_t signed_through = 0;  // highest seq covered by a valid signature matching the chain
  std::vector<Problem> problems;
  bool truncated_report = false;  // more than max_problems
  bool intact() const { return problems.empty(); }
};

// Walks the whole log in <data_dir>/audit.db (read-only). An error means it
// could not check (no log, not an audit database, I/O); tampering is reported
// in the VerifyReport.
Result<VerifyReport> Verify(const std::string& data_dir, const VerifyOptions& options = {});

}  // namespace gm::audit
