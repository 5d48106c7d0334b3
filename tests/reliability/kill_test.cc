// Crash safety (issue 10, item 1): multi-resource transactions streamed by
// four writers while the server is killed with SIGKILL at seeded random
// moments, then restarted on the same data directory. After every kill (every
// tenth in the long mode) `grunnmur check` must find the store clean; at the
// end every acknowledged transaction must be fully present and every
// unacknowledged one fully present or fully absent.
//
// Each transaction (key K, writer W) creates a Patient (identifier K), two
// Observations (code.text K) pointing at it, and updates Basic/kill-wW to
// code.text K, so the Basic's history lists exactly the committed
// transactions of W, in order, with versions 1..n.
//
// Short mode: 8 kills. GM_LONG=1: 100 kills. GM_SEED=N replays another seed.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "store/postgres/pg_connection.h"
#include "tests/reliability/util.h"

namespace gm::testing {
namespace {

constexpr int kWriters = 4;

std::string TransactionFor(int writer, const std::string& key) {
  const std::string basic = "kill-w" + std::to_string(writer);
  return R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:5b0e6a52-0000-4000-8000-000000000001",
     "resource":{"resourceType":"Patient","identifier":[{"system":"urn:test:kill","value":")" +
         key + R"("}]},
     "request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Observation","status":"final","code":{"text":")" + key + R"("},
       "subject":{"reference":"urn:uuid:5b0e6a52-0000-4000-8000-000000000001"}},
     "request":{"method":"POST","url":"Observation"}},
    {"resource":{"resourceType":"Observation","status":"amended","code":{"text":")" + key + R"("},
       "subject":{"reference":"urn:uuid:5b0e6a52-0000-4000-8000-000000000001"}},
     "request":{"method":"POST","url":"Observation"}},
    {"resource":{"resourceType":"Basic","id":")" + basic + R"(","code":{"text":")" + key + R"("}},
     "request":{"method":"PUT","url":"Basic/)" + basic + R"("}}]})";
}

struct Sent {
  int writer = 0;
  bool acked = false;
  std::vector<std::string> locations;  // Type/id of each entry, when acknowledged
};

TEST(KillTest, RandomKillsLoseNothingAcknowledgedAndHalfApplyNothing) {
  const int kills = LongMode() ? 100 : 8;
  const uint32_t seed = Seed(20261129);
  std::mt19937 rng(seed);
  TempDir dir;
  std::mutex mu;
  std::map<std::string, Sent> sent;
  int refused = 0;
  int checks = 0;

  for (int round = 0; round < kills; ++round) {
    auto server = std::make_unique<ServerProcess>(dir.path());
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        try {
          HttpClient c(server->port());
          for (int n = 0; !stop.load(); ++n) {
            const std::string key = "r" + std::to_string(round) + "w" + std::to_string(w) + "n" +
                                    std::to_string(n);
            {
              std::lock_guard<std::mutex> lock(mu);
              sent[key].writer = w;
            }
            HttpResponse r = c.Post("/", TransactionFor(w, key));
            std::lock_guard<std::mutex> lock(mu);
            if (r.status != 200) {
              ++refused;
              continue;
            }
            Sent& s = sent[key];
            s.acked = true;
            for (const json::Value& e : r.json().find("entry")->array()) {
              std::string loc(e.find("response")->get_string("location"));
              s.locations.push_back(loc.substr(0, loc.find("/_history")));
            }
          }
        } catch (const std::exception&) {
          // The server died under this writer: the transaction in flight is unacknowledged.
        }
      });
    }
    // A random moment: 20..300 ms into the round (seeded).
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 281));
    server->Kill9();
    stop = true;
    for (auto& t : writers) t.join();
    server.reset();
    if (!LongMode() || round % 10 == 9 || round == kills - 1) {
      CommandResult check = RunCheck(dir.path());
      ++checks;
      ASSERT_EQ(check.exit_code, 0) << "after kill " << round + 1 << " (seed " << seed
                                    << "):\n" << check.output;
    }
  }

  // Verification against a restarted server.
  ServerProcess server(dir.path());
  HttpClient c(server.port());
  std::map<std::string, std::string> patient_key;  // patient id -> key
  std::map<std::string, std::string> key_patient;  // key -> patient id
  ASSERT_TRUE(ForEachEntry(c, "/Patient?_count=500", [&](const json::Value& e) {
    const json::Value& p = *e.find("resource");
    std::string key(p.find("identifier")->array()[0].get_string("value"));
    std::string id(p.get_string("id"));
    EXPECT_EQ(key_patient.count(key), 0u) << "transaction " << key << " applied twice";
    key_patient[key] = id;
    patient_key[id] = key;
  }));
  std::map<std::string, int> observations;  // key -> count
  ASSERT_TRUE(ForEachEntry(c, "/Observation?_count=500", [&](const json::Value& e) {
    const json::Value& o = *e.find("resource");
    std::string key(o.find("code")->get_string("text"));
    std::string subject(o.find("subject")->get_string("reference"));
    auto it = key_patient.find(key);
    EXPECT_TRUE(it != key_patient.end() && subject == "Patient/" + it->second)
        << "observation of " << key << " without its patient";
    ++observations[key];
  }));
  std::map<std::string, int> in_basic;  // key -> times it appears in a Basic history
  for (int w = 0; w < kWriters; ++w) {
    std::set<int64_t> versions;
    ASSERT_TRUE(ForEachEntry(c, "/Basic/kill-w" + std::to_string(w) + "/_history?_count=500",
                             [&](const json::Value& e) {
                               const json::Value& b = *e.find("resource");
                               ++in_basic[std::string(b.find("code")->get_string("text"))];
                               versions.insert(
                                   std::stoll(std::string(b.find("meta")->get_string("versionId"))));
                             }));
    if (!versions.empty()) {
      EXPECT_EQ(*versions.begin(), 1);
      EXPECT_EQ(*versions.rbegin(), static_cast<int64_t>(versions.size())) << "version gap";
    }
  }

  int acked = 0, unacked_present = 0, unacked_absent = 0;
  for (const auto& [key, s] : sent) {
    const bool present = key_patient.count(key) > 0;
    if (s.acked) {
      ++acked;
      EXPECT_TRUE(present) << "acknowledged transaction " << key << " lost";
      for (const std::string& loc : s.locations) {
        EXPECT_EQ(c.Get("/" + loc).status, 200) << "acknowledged " << loc << " of " << key;
      }
    } else {
      ++(present ? unacked_present : unacked_absent);
    }
    if (present) {
      EXPECT_EQ(observations[key], 2) << "transaction " << key << " half applied";
      EXPECT_EQ(in_basic[key], 1) << "transaction " << key << " half applied (Basic)";
    } else {
      EXPECT_EQ(observations.count(key), 0u) << "transaction " << key << " half applied";
      EXPECT_EQ(in_basic.count(key), 0u) << "transaction " << key << " half applied (Basic)";
    }
  }
  for (const auto& [key, id] : key_patient) {
    EXPECT_EQ(sent.count(key), 1u) << "unknown transaction " << key;
  }
  EXPECT_GT(acked, kills) << "too few transactions acknowledged to mean anything";

  // The audit of every committed transaction survived with it (it commits in
  // the write's transaction, rest/audit_outbox.h) and reached the chain
  // exactly once, even when the kill came between commit and chaining.
  int audited = 0;
  {
    const std::string db_url = server.db_url();
    ASSERT_EQ(server.Terminate(), 0);
    CommandResult verify = RunCommand(std::string(GM_BINARY) + " audit verify --data '" +
                                      dir.path() + "'" +
                                      (db_url.empty() ? "" : " --db '" + db_url + "'") + " 2>&1");
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    std::map<std::string, int> writes;  // patient id -> transaction events
    const std::string like = "'%\"code\":\"transaction\"%'";
    if (db_url.empty()) {
      sqlite3* db = nullptr;
      ASSERT_EQ(sqlite3_open_v2((dir.path() + "/audit.db").c_str(), &db, SQLITE_OPEN_READONLY,
                                nullptr),
                SQLITE_OK);
      sqlite3_stmt* st = nullptr;
      const std::string sql = "SELECT patient, count(*) FROM audit_event WHERE event LIKE " +
                              like + " GROUP BY patient";
      ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK);
      while (sqlite3_step(st) == SQLITE_ROW) {
        writes[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))] =
            sqlite3_column_int(st, 1);
      }
      sqlite3_finalize(st);
      sqlite3_close(db);
    } else {
      auto c = store::postgres::PgConnection::Open(db_url);
      ASSERT_TRUE(c.ok()) << c.status().message();
      auto res = (*c)->QueryOnce("SELECT patient, count(*) FROM gm_audit_event WHERE event LIKE " +
                                 like + " GROUP BY patient");
      ASSERT_TRUE(res.ok()) << res.status().message();
      for (int i = 0; i < res->rows(); ++i) writes[res->Text(i, 0)] = int(res->Int(i, 1));
    }
    for (const auto& [id, key] : patient_key) {
      EXPECT_EQ(writes[id], 1) << "transaction " << key << " (Patient/" << id
                               << ") has not exactly one audit record";
      if (writes[id] == 1) ++audited;
    }
  }
  std::printf("[kill] %s, seed %u: %d kills, %d checks clean, %d transactions acknowledged (all "
              "present), %d unacknowledged of which %d committed and %d absent; %d audited once\n",
              TestPostgresUrl().empty() ? "SQLite" : "PostgreSQL", seed, kills, checks, acked,
              unacked_present + unacked_absent, unacked_present, unacked_absent, audited);
}

}  // namespace
}  // namespace gm::testing
