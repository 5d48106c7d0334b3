// A ReplayGuard shared by every node on one PostgreSQL database, so a DPoP
// proof or client assertion accepted by one node is refused by all others.
//
// One UNLOGGED table (created here if missing; it is no part of the store's
// schema versions):
//   gm_replay(k text PRIMARY KEY, expires bigint)
// k is the SHA-256 (hex) of "<scope>\n<jti>". A check is one statement,
//   INSERT … ON CONFLICT (k) DO UPDATE … WHERE gm_replay.expires < now RETURNING 1
// whose row says "first use" (an expired row is taken over). Unlogged and with
// synchronous_commit off for these sessions, a check costs no WAL flush. An
// unlogged table is emptied by a database crash: a proof accepted just before
// one could be replayed once within its remaining validity (at most about a
// minute) — the accepted price of not syncing every check to disk.
//
// Fails closed: a database error answers "seen". Expired rows are deleted in
// bounded batches (kPurgeBatch) at most every kPurgeIntervalS seconds.
// A per-process front cache answers local replays without a round trip; it
// only ever says "seen" — "first use" always comes from the database.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/postgres/pg_connection.h"
#include "trust/tokens.h"

namespace gm::trust {

class PgReplayStore : public std::enable_shared_from_this<PgReplayStore> {
 public:
  static constexpr int64_t kPurgeIntervalS = 30;
  static constexpr int kPurgeBatch = 1000;

  // Connects (up to `connections` sessions, opened as needed) and creates
  // the table. Errors: kUnavailable (GM-AUTH-060).
  static Result<std::shared_ptr<PgReplayStore>> Open(const std::string& url,
                                                     size_t connections = 4);
  ~PgReplayStore();

  // A guard whose jti values live in their own namespace ("dpop", "assertion").
  std::shared_ptr<ReplayGuard> Guard(std::string scope);

  // The check itself (what the guards call). False on database errors.
  bool FirstUse(std::string_view scope, std::string_view jti, int64_t expires_at_s,
                int64_t now_s);
  // Deletes up to kPurgeBatch expired rows; returns how many (tests, and the
  // periodic purge). Errors: GM-AUTH-060.
  Result<int64_t> PurgeExpired(int64_t now_s);

 private:
  PgReplayStore(std::string url, size_t max) : url_(std::move(url)), max_(max) {}
  std::unique_ptr<store::postgres::PgConnection> Take();
  void Give(std::unique_ptr<store::postgres::PgConnection> c);

  std::string url_;
  size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<store::postgres::PgConnection>> idle_;
  size_t open_ = 0;
  int64_t last_purge_s_ = 0;
};

}  // namespace gm::trust
