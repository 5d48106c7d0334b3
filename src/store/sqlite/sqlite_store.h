// The embedded SQLite implementation of store::Store.
//
// One database file, <directory>/grunnmur.db, in WAL mode with
// synchronous=FULL: a committed transaction is fsynced before Write returns.
//
// Writes (group commit): one writer thread owns the only writable connection.
// Write(fn) queues fn and blocks. The writer takes up to max_batch queued fns,
// opens one BEGIN IMMEDIATE transaction, runs each fn in its own SAVEPOINT (a
// failing fn is rolled back to its savepoint and gets its own error; the
// others proceed), then COMMITs once - one fsync for the batch - and wakes the
// callers. If the COMMIT fails, every fn of the batch gets kUnavailable
// (GM-STORE-020): nothing is acknowledged that is not durable. Fns run
// strictly one at a time, so a conditional create's Match-then-Put is atomic.
// A fn that returns Ok after one of its Puts failed is treated as failed (it
// gets that Put's error), since what it staged would be incomplete.
//
// Reads run on a pool of read-only connections (reader_connections), each in
// its own snapshot, concurrently with writes.
//
// Stable error codes of this backend:
//   GM-STORE-001 cannot open the database file        kUnavailable
//   GM-STORE-002 schema newer than this code           kUnavailable
//   GM-STORE-003 not a grunnmur store                  kUnavailable
//   GM-STORE-004 storage-level SQLite error             kUnavailable
//   GM-STORE-005 database corruption                    kInternal
//   GM-STORE-006 other SQLite error                     kInternal
//   GM-STORE-007 cannot create the data directory      kUnavailable
//   GM-STORE-010 Put: version is not current + 1       kConflict
//   GM-STORE-011 Put: malformed request                 kInvalid
//   GM-STORE-012 Reindex: version no longer current     kConflict
//   GM-STORE-020 batch commit failed, not durable       kUnavailable
//   GM-STORE-021 store closed                           kUnavailable
//   GM-STORE-022 fn threw an exception                  kInternal
//   GM-STORE-023 batch rolled back by a storage error   kUnavailable
//   GM-STORE-024 Write called from inside a write fn    kInternal
//   GM-STORE-030 bad paging cursor                      kInvalid
//   GM-STORE-031 clause cannot be evaluated             kInvalid
//   GM-STORE-032 bad history query                      kInvalid
//
// Thread-safety: all public methods may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "store/pool.h"
#include "store/sqlite/connection.h"
#include "store/store.h"

namespace gm::store::sqlite {

// Options that are not part of the backend-neutral SqliteOptions.
struct SqliteInternalOptions {
  std::string vfs;                  // SQLite VFS name; empty for the default
  std::function<int64_t()> now_us;  // clock for the date `ap` prefix; default: system clock
};

// Counters of the writer, for tests and monitoring.
struct WriterCounters {
  int64_t commits = 0;         // batches committed (one fsync each)
  int64_t failed_commits = 0;  // batches whose COMMIT (or BEGIN) failed
  int64_t writes_ok = 0;       // fns committed
  int64_t writes_failed = 0;   // fns that got an error
  size_t queued = 0;           // Write calls waiting for the writer right now
};

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<SqliteStore>> Open(const SqliteOptions& options,
                                                   const SqliteInternalOptions& internal = {});
  ~SqliteStore() override;  // Close()s

  Result<std::optional<ResourceVersion>> Read(const std::string& type,
                                              const std::string& id) override;
  Result<std::optional<ResourceVersion>> ReadVersion(const std::string& type, const std::string& id,
                                                     int64_t version) override;
  Result<HistoryPage> History(const HistoryQuery& query) override;
  Result<QueryPage> Search(const Query& query) override;
  Result<int64_t> Count(const Query& query, int64_t at_most) override;
  Result<QueryPage> Compartment(const std::string& patient_id,
                                const std::vector<std::string>& types, size_t limit,
                                const std::string& after) override;
  Status Write(const std::function<Status(Txn&)>& fn) override;
  Result<std::vector<AuditOutboxRow>> PendingAudit(size_t limit) override;
  Result<StoreStats> Stats() override;
  // Drains queued writes, stops the writer and closes every connection; waits
  // for reads in progress. Idempotent. A no-op when called from inside a fn.
  void Close() override;

  WriterCounters Counters() const;
  // SQLite's EXPLAIN QUERY PLAN for the SQL that Search(query) would run, one
  // plan line per row ("" if the query compiles to "matches nothing").
  Result<std::string> ExplainSearch(const Query& query);
  // journal_mode and synchronous of the writer connection as read back at open.
  std::string journal_mode() const { return journal_mode_; }
  std::string synchronous() const { return synchronous_; }

 private:
  class WriteTxn;
  using ReaderPool = ConnectionPool<Connection>;
  struct WriteRequest {
    const std::function<Status(Txn&)>* fn = nullptr;
    Status result;
    bool done = false;
  };
  using PidKey = std::tuple<std::string, std::string, int>;  // type, param, kind

  SqliteStore(const SqliteOptions& options, const SqliteInternalOptions& internal);
  Status Start();
  int64_t NowUs() const;

  void WriterLoop();
  void RunBatch(std::vector<WriteRequest*>& batch);
  Status RunFn(WriteRequest& req);
  // replaced: the compartments of the version it replaces (see Txn::ReplacedCompartments).
  Status PutVersion(const PutRequest& request, std::vector<std::string>* replaced);
  Status ReindexVersion(const PutRequest& request);
  // Deletes the index and compartment rows of `rid` recorded in `kinds` (resource.kinds).
  Status ClearIndex(int64_t rid, int64_t kinds, std::vector<std::string>* replaced = nullptr);
  // Writes the index and compartment rows of request for `rid`.
  Status InsertIndex(int64_t rid, const std::string& type, const PutRequest& request);
  Result<int64_t> InternParam(const std::string& type, const std::string& param, int kind);

  Result<QueryPage> RunQuery(Connection& c, const Query& query, size_t limit, bool with_json);

  const SqliteOptions options_;
  const SqliteInternalOptions internal_;
  std::string path_;
  std::string journal_mode_;
  std::string synchronous_;

  std::unique_ptr<ReaderPool> readers_;

  // Writer thread state; writer_conn_ and the pid maps are touched only by it.
  std::unique_ptr<Connection> writer_conn_;
  std::thread writer_;
  std::thread::id writer_id_;
  std::map<PidKey, int64_t> committed_pids_;
  std::map<PidKey, int64_t> batch_pids_;
  std::vector<PidKey> fn_new_pids_;

  mutable std::mutex mu_;  // guards the queue, stopping_, counters, request.done
  std::condition_variable queue_cv_;
  std::condition_variable done_cv_;
  std::deque<WriteRequest*> queue_;
  bool stopping_ = false;
  WriterCounters counters_;

  std::mutex close_mu_;
  bool closed_ = false;

  // WAL checkpoints run on their own thread and connection, not inside the
  // writer's commits (the writer's auto-checkpoint is off): the writer's
  // WAL hook reports the WAL's size; past kCheckpointPages a PASSIVE
  // checkpoint copies pages to the database file without blocking anyone;
  // past kRestartPages the writer itself runs a RESTART checkpoint between
  // batches, so the WAL starts over instead of growing without bound.
  static int WalHook(void* self, sqlite3* db, const char* name, int pages);
  void CheckpointLoop();
  std::unique_ptr<Connection> checkpoint_conn_;
  std::thread checkpointer_;
  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  int wal_pages_ = 0;  // guarded by ckpt_mu_
  int writer_wal_pages_ = 0;  // writer thread only: the WAL's size after its last commit
  bool ckpt_stopping_ = false;
};

}  // namespace gm::store::sqlite
