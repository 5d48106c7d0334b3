// The tamper-evident audit log: one hash chain, stored either
//   - in <data>/audit.db, its own SQLite file (WAL, synchronous=FULL)
//     (LogOptions::database_url empty: one node, the default), or
//   - in tables gm_audit_event / gm_audit_checkpoint / gm_audit_head /
//     gm_audit_key of a PostgreSQL database (database_url "postgresql://…",
//     what `grunnmur serve --db` passes): ONE chain shared by every node on
//     that database, so a citizen's access log shows accesses made through
//     any node.
// The chain logic (hashing, checkpoints, head signing, group commit, the
// Verify walk) is the same for both; the rows sit behind
// internal::ChainStore (chain_store.h; sqlite_chain.cc, pg_chain.cc).
//
// Tables (SQLite names; PostgreSQL prefixes gm_ and has the same columns)
//   audit_event(seq, time_us, patient, event, prev_hash, hash, key)
//       seq 1, 2, 3 … without gaps; event = the AuditEvent's JSON bytes (its
//       "id" is the seq); time_us = its `recorded` (ms precision);
//       hash = hex SHA-256(prev_hash(32 raw bytes) ‖ seq (8 bytes big-endian)
//       ‖ event bytes); the first prev_hash is 32 zero bytes. The hash is over
//       the stored bytes exactly (no re-serialisation when verifying).
//       key: NULL for Append, the caller's unique key for AppendKeyed (UNIQUE
//       index; not covered by the hash, so files from before keyed appends —
//       upgraded with ALTER TABLE on open — still verify).
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
//   Triggers refuse UPDATE/DELETE (PostgreSQL: and TRUNCATE) on events and
//   checkpoints (against accidents; an attacker with the file or a database
//   superuser can drop them — that is what the hashes and signatures are for).
//
// Several nodes (PostgreSQL): a node's group commit is one transaction that
// takes pg_advisory_xact_lock (a fixed key), reads the chain's newest
// (seq, hash) and checks the stored head against it, inserts its batch,
// writes the signed head and commits; nodes therefore append whole batches
// in turn and seqs stay gap-free. The tables are created (IF NOT EXISTS)
// under the same lock. Each node signs with its own key ring.
//
// Keys: checkpoints are signed with trust::KeyRing's current key (the same
// <data>/keys ring as the token issuer). KeyRing::Rotate deletes keys beyond
// `keep`, so the log archives the public JWK of every kid it signs with
// before the first signature with that kid: SQLite in
// <data>/audit-keys/<kid>.json (written and fsynced), PostgreSQL in
// gm_audit_key (committed on its own; every node's kids, so Verify on any
// node checks all of them). Verify trusts: the ring's keys (if a data
// directory is given), the archive, and keys the operator pins
// (VerifyOptions::trusted_keys, e.g. a JWKS exported out of band). The
// archive lives next to the log: someone who can rewrite the whole data
// directory (or database) can also plant a key there; against that
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
//       cannot vouch for; checked on open and in every write transaction)
//   012 the log is closed                                (kUnavailable)
//   013 write or commit failed (disk full, I/O, database) (kUnavailable)
//   014 cannot archive the signing key, or its kid is archived with another
//       key                                              (kUnavailable)
//   015 AppendKeyed: not one non-empty key per event     (kInvalid)
//   020 (Verify) no audit log in the data directory/database (kNotFound)
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

namespace gm::audit {
namespace internal {
class ChainStore;
}

struct LogOptions {
  std::string data_dir;                    // audit.db and audit-keys/ go here (SQLite)
  std::string database_url;                // "" = SQLite in data_dir; "postgresql://…" = shared tables
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
  // transaction is durable (SQLite: fsynced; PostgreSQL: committed). On error
  // nothing of `events` is stored.
  Result<std::vector<int64_t>> Append(std::vector<Event> events);

  // Appends events staged earlier in the store's audit outbox (same transaction
  // as a write); keys[i] (unique, e.g. a UUID) names events[i]. Events whose key
  // the chain already holds are skipped (no second copy, no error). Returns
  // the seq of every event (the existing seq for skipped ones).
  // (A repeated key within one call is stored once as well.) GM-AUDIT-015
  // when keys.size() != events.size() or a key is empty.
  Result<std::vector<int64_t>> AppendKeyed(std::vector<Event> events, std::vector<std::string> keys);

  // Writes a final checkpoint (if the chain's newest event has none; with
  // PostgreSQL that may be another node's event) and closes. Further appends
  // fail with GM-AUDIT-012.
  Status Close();

  // Citizen access log: events for one patient, newest first. before_seq = 0
  // starts at the newest; limit is clamped to [1, 500].
  Result<AccessPage> EventsForPatient(std::string_view patient_id, size_t limit,
                                      int64_t before_seq = 0) const;

  // The newest seq this node knows of (after its last commit; with
  // PostgreSQL, other nodes may have appended since).
  int64_t last_seq() const;
  int64_t commits() const;  // transactions committed (tests: group commit)

 private:
  struct Pending;
  AuditLog() = default;
  Result<std::vector<int64_t>> Enqueue(std::vector<Event> events, std::vector<std::string> keys);
  Status WriteBatch(std::vector<Pending*>& batch);
  Status WriteSigned(const trust::Jwk& key, int64_t seq, const std::string& hash_hex,
                     int64_t prev_cp, bool head);
  Result<trust::Jwk> SigningKey();  // the ring's current key, archived

  LogOptions options_;
  const Clock* clock_ = nullptr;
  std::unique_ptr<internal::ChainStore> writer_;  // leader only
  std::unique_ptr<internal::ChainStore> reader_;  // queries, under read_mu_
  mutable std::mutex read_mu_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pending*> queue_;
  bool writing_ = false;
  bool closed_ = false;
  int64_t last_seq_ = 0;
  int64_t commits_ = 0;
  std::vector<std::string> archived_kids_;  // leader only
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
  // "" = <data_dir>/audit.db; "postgresql://…" = the shared tables in that
  // database (data_dir then only contributes its key ring, if it has one).
  std::string database_url;
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

// Walks the whole log in <data_dir>/audit.db, or in options.database_url
// (read-only; PostgreSQL: one REPEATABLE READ snapshot). An error means it
// could not check (no log, not an audit database, I/O); tampering is reported
// in the VerifyReport.
Result<VerifyReport> Verify(const std::string& data_dir, const VerifyOptions& options = {});

}  // namespace gm::audit
