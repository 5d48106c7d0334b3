// The PostgreSQL implementation of store::Store, for several grunnmur nodes
// on one database (docs/SCALING.md).
//
// Connections: a pool of `connections` libpq connections (default 8); every
// statement is prepared once per connection and reused. Reads run in
// autocommit on any pooled connection (each statement sees the latest
// committed data, whichever node wrote it). The schema is migrated at open
// (pg_schema.h).
//
// Writes: Write(fn) takes a pooled connection and runs fn in one READ
// COMMITTED transaction; COMMIT returns after the server made it durable
// (synchronous_commit as configured on the server). No group commit: the
// server commits concurrent transactions in parallel. Cross-node rules:
//   - Txn::Current locks the resource row (SELECT ... FOR UPDATE), so a
//     versioned update (If-Match) that read version n cannot be overtaken:
//     a concurrent writer of the same resource waits and then sees n+1.
//   - Txn::Match first takes a transaction-scoped advisory lock on a hash of
//     the query (type + clauses), then searches with a new snapshot: two
//     conditional creates/updates with the same condition, on any nodes,
//     run one after the other, and the second sees the first's resource.
//   - Txn::Put checks version == current + 1 under the row lock; two creates
//     of the same new id collide on the unique (type, id) index.
//   A deadlock, serialization failure or unique-key collision rolls the
//   transaction back and runs fn again (store.h allows it), up to
//   max_attempts times (then kUnavailable GM-STORE-040).
// Search parameters are interned (search_param) on a separate autocommit
// connection, so an interned id is committed before any row uses it and is
// never rolled back; interned ids are cached (they never change).
//
// Error codes (besides those shared with the SQLite store, store/sqlite/sqlite_store.h):
//   GM-STORE-001 cannot connect                         kUnavailable
//   GM-STORE-002 schema newer than this code            kUnavailable
//   GM-STORE-003 not a grunnmur database                kUnavailable
//   GM-STORE-004 transient PostgreSQL error             kUnavailable
//   GM-STORE-006 other PostgreSQL error                 kInternal
//   GM-STORE-020 COMMIT failed, not durable             kUnavailable
//   GM-STORE-040 write retried too often (contention)   kUnavailable
//
// Thread-safety: all public methods may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "store/pool.h"
#include "store/postgres/pg_connection.h"
#include "store/store.h"

namespace gm::store {

struct PostgresOptions {
  std::string url;          // postgresql://user@host:port/db (any libpq connection string)
  size_t connections = 8;   // pool size
  int max_attempts = 50;    // runs of one write fn before giving up (contention)
  int schema_version = 0;   // migrate only up to this version (tests); 0 = the latest
  std::function<int64_t()> now_us;  // clock for the date `ap` prefix; default: system clock
};

// Opens the store in the database at options.url, migrating its schema.
Result<std::unique_ptr<Store>> OpenPostgres(const PostgresOptions& options);

// True for postgresql:// and postgres:// URLs.
bool IsPostgresUrl(const std::string& s);

// A data directory remembers the PostgreSQL database its server was started
// with (`serve --db URL` writes <data>/database.url, mode 0600), so operator
// commands given only --data (reindex, check) and later starts without --db
// use the same database. "" when the directory has none (SQLite).
inline constexpr const char* kDatabaseUrlFile = "database.url";
std::string RememberedDatabase(const std::string& data_dir);
Status RememberDatabase(const std::string& data_dir, const std::string& url);

namespace postgres {

class PostgresStore final : public Store {
 public:
  static Result<std::unique_ptr<PostgresStore>> Open(const PostgresOptions& options);
  ~PostgresStore() override;

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
  void Close() override;

  // PostgreSQL's EXPLAIN for the SQL Search(query) would run ("" if it
  // compiles to "matches nothing"), one plan line per line.
  Result<std::string> ExplainSearch(const Query& query);
  // Transactions that were rolled back and run again (deadlock, collision).
  int64_t retries() const;
  // The schema version found at open, before migrating (0: empty database).
  int schema_version_before() const { return schema_before_; }

 private:
  using Pool = ConnectionPool<PgConnection>;
  class PgTxn;
  using PidKey = std::tuple<std::string, std::string, int>;

  explicit PostgresStore(const PostgresOptions& options);
  Status Start();
  int64_t NowUs() const;
  Result<int64_t> InternParam(const std::string& type, const std::string& param, int kind);
  Result<QueryPage> RunQuery(PgConnection& c, const Query& query, size_t limit, bool with_json);
  // replaced: the compartments of the version it replaces (Txn::ReplacedCompartments).
  Status PutVersion(PgConnection& c, const PutRequest& request, std::vector<std::string>* replaced);
  Status ReindexVersion(PgConnection& c, const PutRequest& request);
  Status ClearIndex(PgConnection& c, int64_t rid, int64_t kinds,
                    std::vector<std::string>* replaced = nullptr);
  Status InsertIndex(PgConnection& c, int64_t rid, const std::string& type,
                     const std::optional<std::string>& patient, const PutRequest& request);

  const PostgresOptions options_;
  std::unique_ptr<Pool> pool_;
  int schema_before_ = 0;

  std::mutex intern_mu_;  // guards intern_conn_ and pids_
  std::unique_ptr<PgConnection> intern_conn_;
  std::map<PidKey, int64_t> pids_;

  mutable std::mutex stats_mu_;
  int64_t retries_ = 0;
};

}  // namespace postgres
}  // namespace gm::store
