#include "trust/postgres/pg_replay.h"

#include <chrono>
#include <thread>

#include "store/postgres/pg_connection.h"
#include "trust/jose.h"

namespace gm::trust {

namespace {

using store::postgres::PgConnection;

constexpr const char* kCreateTable =
    "CREATE UNLOGGED TABLE IF NOT EXISTS gm_replay ("
    "k text COLLATE \"C\" PRIMARY KEY, expires bigint NOT NULL)";
constexpr const char* kInsert =
    "INSERT INTO gm_replay(k, expires) VALUES($1, $2) ON CONFLICT (k) DO UPDATE "
    "SET expires = EXCLUDED.expires WHERE gm_replay.expires < $3 RETURNING 1";
constexpr const char* kPurge =
    "DELETE FROM gm_replay WHERE k IN "
    "(SELECT k FROM gm_replay WHERE expires < $1 LIMIT 1000)";

Status Unavailable(std::string text) {
  return Status::Error(ErrorCategory::kUnavailable, "GM-AUTH-060", "exception", std::move(text));
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

class PgGuard final : public ReplayGuard {
 public:
  PgGuard(std::shared_ptr<PgReplayStore> store, std::string scope)
      : store_(std::move(store)), scope_(std::move(scope)) {}
  bool FirstUse(std::string_view jti, int64_t expires_at_s, int64_t now_s) override {
    // The front cache only refuses: a jti this node saw never reaches the
    // database again; a new one is always asked there.
    if (!front_.FirstUse(jti, expires_at_s, now_s)) return false;
    return store_->FirstUse(scope_, jti, expires_at_s, now_s);
  }

 private:
  std::shared_ptr<PgReplayStore> store_;
  std::string scope_;
  ReplayCache front_;
};

}  // namespace

Result<std::shared_ptr<PgReplayStore>> PgReplayStore::Open(const std::string& url,
                                                           size_t connections) {
  std::shared_ptr<PgReplayStore> store(new PgReplayStore(url, connections < 1 ? 1 : connections));
  std::unique_ptr<PgConnection> c = store->Take();
  if (!c) return Unavailable("cannot connect to PostgreSQL for the replay check");
  // Nodes starting together may race on CREATE … IF NOT EXISTS (a unique
  // violation in the catalogue): the loser tries again and finds the table.
  Status st = Status::Ok();
  for (int attempt = 0; attempt < 3; ++attempt) {
    st = c->Exec(kCreateTable);
    if (st.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * (attempt + 1)));
  }
  if (!st.ok()) return Unavailable("cannot create the replay table: " + st.message());
  store->Give(std::move(c));
  return store;
}

PgReplayStore::~PgReplayStore() = default;

std::shared_ptr<ReplayGuard> PgReplayStore::Guard(std::string scope) {
  return std::make_shared<PgGuard>(shared_from_this(), std::move(scope));
}

std::unique_ptr<PgConnection> PgReplayStore::Take() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, std::chrono::seconds(5), [&] { return !idle_.empty() || open_ < max_; })) {
    return nullptr;  // every session busy for 5 s: fail closed
  }
  if (!idle_.empty()) {
    std::unique_ptr<PgConnection> c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }
  ++open_;
  lock.unlock();
  auto c = PgConnection::Open(url_);
  // These checks need not wait for a WAL flush (the table is unlogged anyway).
  if (c.ok() && (*c)->Exec("SET synchronous_commit = off").ok()) return std::move(*c);
  lock.lock();
  --open_;
  cv_.notify_one();
  return nullptr;
}

void PgReplayStore::Give(std::unique_ptr<PgConnection> c) {
  std::lock_guard<std::mutex> lock(mu_);
  if (c && !c->broken()) {
    idle_.push_back(std::move(c));
  } else {
    --open_;
  }
  cv_.notify_one();
}

bool PgReplayStore::FirstUse(std::string_view scope, std::string_view jti, int64_t expires_at_s,
                             int64_t now_s) {
  std::string key;
  key.reserve(scope.size() + 1 + jti.size());
  key.append(scope).append("\n").append(jti);
  std::unique_ptr<PgConnection> c = Take();
  if (!c) return false;
  auto r = c->Query(kInsert, {Hex(Sha256(key)), expires_at_s, now_s});
  bool first = r.ok() && r->rows() == 1;
  bool purge = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (r.ok() && now_s - last_purge_s_ >= kPurgeIntervalS) {
      last_purge_s_ = now_s;
      purge = true;
    }
  }
  Give(std::move(c));
  if (purge) {
    auto n = PurgeExpired(now_s);
    // A full batch: more are waiting; purge again at the next check.
    if (n.ok() && *n >= kPurgeBatch) {
      std::lock_guard<std::mutex> lock(mu_);
      last_purge_s_ = 0;
    }
  }
  return first;
}

Result<int64_t> PgReplayStore::PurgeExpired(int64_t now_s) {
  std::unique_ptr<PgConnection> c = Take();
  if (!c) return Unavailable("no PostgreSQL session for the replay check");
  auto r = c->Query(std::string(kPurge) + " RETURNING 1", {now_s});
  Give(std::move(c));
  if (!r.ok()) return Unavailable("purging the replay table: " + r.status().message());
  return static_cast<int64_t>(r->rows());
}

}  // namespace gm::trust
