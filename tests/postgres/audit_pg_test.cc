// The audit chain in PostgreSQL (issues 5 and 6): two AuditLog instances on
// one database ("nodes", each with its own key ring) appending concurrently
// make ONE gap-free chain that verifies; each sees the other's events in the
// citizen access log; AppendKeyed is idempotent across them; the append-only
// triggers hold, and tampering done past them (as a superuser) is reported by
// Verify. End to end: two `grunnmur serve --db` processes on one database —
// an access through node A shows in the citizen's $access-log read through
// node B, and `grunnmur audit verify --db` passes.
//
// Needs GM_TEST_PG_URL (see tests/support/server_process.h); skipped without it.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "audit/log.h"
#include "core/json.h"
#include "store/postgres/pg_connection.h"
#include "tests/support/server_process.h"
#include "trust/tokens.h"

namespace gm::audit {
namespace {
namespace fs = std::filesystem;
using store::postgres::PgConnection;

constexpr int64_t kT0 = 1'764'000'000'000'000;

#define REQUIRE_PG()                                                                   \
  if (gm::testing::TestPostgresUrl().empty())                                          \
  GTEST_SKIP() << "GM_TEST_PG_URL is not set (make test runs this against a throwaway " \
                  "cluster: scripts/pg-cluster run)"

Event MakeEvent(const std::string& patient, int64_t i) {
  AccessRecord r;
  r.actor.kind = ActorKind::kClinician;
  r.actor.name = "Lege " + std::to_string(i % 7);
  r.actor.hpr_number = std::to_string(9000000 + i % 7);
  r.actor.authorization = "LE";
  r.actor.legal_entity_orgnr = "993467049";
  r.actor.legal_entity_name = "Oslo universitetssykehus HF";
  r.actor.client_id = "ehr";
  r.care.purpose_of_use = "TREAT";
  r.patient_id = patient;
  r.interaction = "read";
  r.resource_type = "Observation";
  r.resource_id = "o" + std::to_string(i);
  r.time_us = kT0 + i * 1000;
  auto e = BuildAuditEvent(r);
  EXPECT_TRUE(e.ok()) << e.status().message();
  return std::move(e).value();
}

int RunCli(const std::string& args, std::string* out) {
  std::string cmd = std::string(GM_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  std::string text;
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int status = pclose(p);
  *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class AuditPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (gm::testing::TestPostgresUrl().empty()) return;
    url_ = gm::testing::TestDatabaseFor(dir_.path());
  }

  // A node: its own (in-memory) key ring, the shared database.
  std::unique_ptr<AuditLog> Node(int64_t checkpoint_every = 7) {
    LogOptions o;
    o.data_dir = dir_.path();  // unused with a database_url
    o.database_url = url_;
    o.keys = trust::KeyRing::InMemory();
    o.clock = &clock_;
    o.checkpoint_every = checkpoint_every;
    auto log = AuditLog::Open(o);
    EXPECT_TRUE(log.ok()) << log.status().message();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  VerifyReport VerifyOk() {
    VerifyOptions o;
    o.database_url = url_;
    auto r = Verify("", o);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : VerifyReport{};
  }

  // Superuser SQL past the append-only triggers, as an attacker would.
  void Tamper(const std::string& sql) {
    auto c = PgConnection::Open(url_);
    ASSERT_TRUE(c.ok()) << c.status().message();
    Status st = (*c)->Exec("SET session_replication_role = replica; " + sql);
    ASSERT_TRUE(st.ok()) << st.message() << " in " << sql;
  }
  Status Sql(const std::string& sql) {
    auto c = PgConnection::Open(url_);
    if (!c.ok()) return c.status();
    return (*c)->Exec(sql);
  }
  int64_t Count(const std::string& sql) {
    auto c = PgConnection::Open(url_);
    EXPECT_TRUE(c.ok());
    if (!c.ok()) return -1;
    auto r = (*c)->QueryText(sql);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() && !r->empty() ? std::stoll(*r) : -1;
  }

  // Two nodes, 20 events, closed: checkpoints at 7, 14 and 20 (Close).
  void MakeChain() {
    auto a = Node(), b = Node();
    ASSERT_TRUE(a && b);
    for (int i = 1; i <= 20; ++i)
      ASSERT_TRUE((i % 2 ? a : b)->Append({MakeEvent("p" + std::to_string(i % 3), i)}).ok());
    ASSERT_TRUE(a->Close().ok());
    ASSERT_TRUE(b->Close().ok());
  }

  static std::set<ProblemKind> Kinds(const VerifyReport& r) {
    std::set<ProblemKind> k;
    for (const Problem& p : r.problems) k.insert(p.kind);
    return k;
  }
  static bool Has(const VerifyReport& r, ProblemKind kind, int64_t seq) {
    for (const Problem& p : r.problems)
      if (p.kind == kind && p.seq == seq) return true;
    return false;
  }
  static std::string Describe(const VerifyReport& r) {
    std::string s;
    for (const Problem& p : r.problems)
      s += std::string(ProblemKindName(p.kind)) + "@" + std::to_string(p.seq) + ": " + p.detail +
           "\n";
    return s;
  }

  gm::testing::TempDir dir_;
  std::string url_;
  ManualClock clock_{kT0};
};

TEST_F(AuditPgTest, TwoNodesAppendingConcurrentlyMakeOneGapFreeChain) {
  REQUIRE_PG();
  auto a = Node(), b = Node();
  ASSERT_TRUE(a && b);
  constexpr int kThreadsPerNode = 3, kCalls = 15;
  std::mutex mu;
  std::vector<std::vector<int64_t>> calls;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2 * kThreadsPerNode; ++t) {
    AuditLog* node = t % 2 ? b.get() : a.get();
    threads.emplace_back([&, node, t] {
      for (int i = 0; i < kCalls; ++i) {
        std::vector<Event> events;
        for (int k = 0; k <= (i + t) % 3; ++k)  // 1–3 events per call
          events.push_back(MakeEvent("node" + std::to_string(t % 2), t * 1000 + i * 10 + k));
        auto seqs = node->Append(std::move(events));
        ASSERT_TRUE(seqs.ok()) << seqs.status().message();
        std::lock_guard<std::mutex> lock(mu);
        calls.push_back(*seqs);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<int64_t> all;
  int64_t total = 0;
  for (const auto& c : calls) {
    for (size_t i = 1; i < c.size(); ++i) EXPECT_EQ(c[i], c[i - 1] + 1) << "a call's events are consecutive";
    all.insert(c.begin(), c.end());
    total += static_cast<int64_t>(c.size());
  }
  ASSERT_EQ(static_cast<int64_t>(all.size()), total) << "no seq handed out twice";
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), total) << "gap-free";
  EXPECT_EQ(Count("SELECT count(*) FROM gm_audit_event"), total);

  // Each node's citizen log shows both nodes' events.
  for (AuditLog* node : {a.get(), b.get()}) {
    for (const char* patient : {"node0", "node1"}) {
      int64_t n = 0;
      int64_t before = 0;
      do {
        auto page = node->EventsForPatient(patient, 100, before);
        ASSERT_TRUE(page.ok()) << page.status().message();
        n += static_cast<int64_t>(page->entries.size());
        before = page->next_before;
      } while (before > 0);
      EXPECT_EQ(n, Count(std::string("SELECT count(*) FROM gm_audit_event WHERE patient = '") +
                         patient + "'"));
      EXPECT_GT(n, 0);
    }
  }
  auto open = VerifyOk();  // while the nodes are open: the signed head covers everything
  EXPECT_TRUE(open.intact()) << Describe(open);
  EXPECT_EQ(open.signed_through, total);
  ASSERT_TRUE(a->Close().ok());
  ASSERT_TRUE(b->Close().ok());
  auto r = VerifyOk();
  EXPECT_TRUE(r.intact()) << Describe(r);
  EXPECT_EQ(r.events, total);
  EXPECT_EQ(r.last_seq, total);
  EXPECT_EQ(r.signed_through, total);
  EXPECT_GE(r.checkpoints, total / 7);
  // Both nodes' keys are archived, and both signed something.
  EXPECT_EQ(Count("SELECT count(*) FROM gm_audit_key"), 2);
  EXPECT_EQ(Count("SELECT count(DISTINCT kid) FROM gm_audit_checkpoint"), 2);
}

TEST_F(AuditPgTest, AppendKeyedIsIdempotentAcrossNodes) {
  REQUIRE_PG();
  auto a = Node(), b = Node();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Append({MakeEvent("p", 0)}).ok());
  // Both nodes deliver the same 12 keyed events (two relays racing on one outbox).
  std::map<std::string, std::set<int64_t>> seen;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    AuditLog* node = t % 2 ? b.get() : a.get();
    threads.emplace_back([&, node, t] {
      for (int j = 0; j < 12; j += 3) {
        std::vector<Event> events;
        std::vector<std::string> keys;
        for (int k = 0; k < 3; ++k) {
          int n = (j + k + t * 3) % 12;
          events.push_back(MakeEvent("p" + std::to_string(n % 2), n));
          keys.push_back("outbox-" + std::to_string(n));
        }
        auto r = node->AppendKeyed(std::move(events), keys);
        ASSERT_TRUE(r.ok()) << r.status().message();
        std::lock_guard<std::mutex> lock(mu);
        for (size_t k = 0; k < keys.size(); ++k) seen[keys[k]].insert((*r)[k]);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(seen.size(), 12u);
  for (const auto& [key, s] : seen) EXPECT_EQ(s.size(), 1u) << key;
  EXPECT_EQ(Count("SELECT count(*) FROM gm_audit_event"), 13);
  EXPECT_EQ(Count("SELECT count(*) FROM gm_audit_event WHERE key IS NULL"), 1);
  // Later retries on either node: the existing seqs.
  auto again = b->AppendKeyed({MakeEvent("p0", 4)}, {"outbox-4"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0], *seen["outbox-4"].begin());
  ASSERT_TRUE(a->Close().ok());
  ASSERT_TRUE(b->Close().ok());
  auto r = VerifyOk();
  EXPECT_TRUE(r.intact()) << Describe(r);
  EXPECT_EQ(r.events, 13);
}

TEST_F(AuditPgTest, TriggersRefuseUpdateDeleteAndTruncate) {
  REQUIRE_PG();
  MakeChain();
  EXPECT_FALSE(Sql("UPDATE gm_audit_event SET event = 'x' WHERE seq = 3").ok());
  EXPECT_FALSE(Sql("DELETE FROM gm_audit_event WHERE seq = 3").ok());
  EXPECT_FALSE(Sql("TRUNCATE gm_audit_event").ok());
  EXPECT_FALSE(Sql("UPDATE gm_audit_checkpoint SET jws = 'x'").ok());
  EXPECT_FALSE(Sql("DELETE FROM gm_audit_key").ok());
  auto r = VerifyOk();
  EXPECT_TRUE(r.intact()) << Describe(r);
  EXPECT_EQ(r.events, 20);
  EXPECT_EQ(r.checkpoints, 3);
}

TEST_F(AuditPgTest, ChangedEventIsCaught) {
  REQUIRE_PG();
  MakeChain();
  Tamper("UPDATE gm_audit_event SET event = replace(event, '\"Lege 0\"', '\"Lege X\"') WHERE seq = 7");
  auto r = VerifyOk();
  EXPECT_TRUE(Has(r, ProblemKind::kEventChanged, 7)) << Describe(r);
  EXPECT_EQ(Kinds(r), std::set<ProblemKind>{ProblemKind::kEventChanged}) << Describe(r);
  // The command line says so too (exit 1).
  ASSERT_TRUE(fs::exists(GM_BINARY)) << "build grunnmur first";
  std::string out;
  EXPECT_EQ(RunCli("audit verify --db '" + url_ + "'", &out), 1) << out;
  EXPECT_NE(out.find("event-changed seq=7"), std::string::npos) << out;
}

TEST_F(AuditPgTest, RemovedEventIsCaught) {
  REQUIRE_PG();
  MakeChain();
  Tamper("DELETE FROM gm_audit_event WHERE seq = 9");
  auto r = VerifyOk();
  EXPECT_TRUE(Has(r, ProblemKind::kEventRemoved, 10)) << Describe(r);
  EXPECT_EQ(Kinds(r), std::set<ProblemKind>{ProblemKind::kEventRemoved}) << Describe(r);
}

TEST_F(AuditPgTest, ReorderedEventsAreCaught) {
  REQUIRE_PG();
  MakeChain();
  Tamper("UPDATE gm_audit_event SET seq = -5 WHERE seq = 5;"
         "UPDATE gm_audit_event SET seq = 5 WHERE seq = 6;"
         "UPDATE gm_audit_event SET seq = 6 WHERE seq = -5;");
  auto r = VerifyOk();
  EXPECT_TRUE(Has(r, ProblemKind::kEventReordered, 5)) << Describe(r);
  EXPECT_TRUE(Has(r, ProblemKind::kEventReordered, 6)) << Describe(r);
  EXPECT_EQ(Kinds(r), std::set<ProblemKind>{ProblemKind::kEventReordered}) << Describe(r);
}

TEST_F(AuditPgTest, TruncatedTailAndForeignKeyAreCaughtAndAppendsRefused) {
  REQUIRE_PG();
  MakeChain();
  // Drop the newest events (after the last checkpoint at 14) and the final
  // checkpoint: the signed head still names 20.
  Tamper("DELETE FROM gm_audit_event WHERE seq > 16; DELETE FROM gm_audit_checkpoint WHERE seq = 20");
  auto r = VerifyOk();
  EXPECT_TRUE(Has(r, ProblemKind::kTruncated, 20)) << Describe(r);
  // A node refuses to extend a chain whose head does not match it.
  LogOptions o;
  o.data_dir = dir_.path();
  o.database_url = url_;
  o.keys = trust::KeyRing::InMemory();
  auto log = AuditLog::Open(o);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), "GM-AUDIT-011");
  // A key archive entry replaced by another key: its signatures no longer verify.
  Tamper("UPDATE gm_audit_key SET jwk = (SELECT jwk FROM gm_audit_key ORDER BY kid DESC LIMIT 1) "
         "WHERE kid = (SELECT min(kid) FROM gm_audit_key)");
  r = VerifyOk();
  EXPECT_TRUE(Kinds(r).count(ProblemKind::kCheckpointInvalid)) << Describe(r);
}

TEST_F(AuditPgTest, VerifyWithoutTablesIsNotFound) {
  REQUIRE_PG();
  VerifyOptions o;
  o.database_url = url_;
  auto r = Verify("", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), "GM-AUDIT-020");
}

// ---- two grunnmur processes on one database ----

TEST_F(AuditPgTest, AccessThroughNodeAShowsInAccessLogReadThroughNodeB) {
  REQUIRE_PG();
  ASSERT_TRUE(fs::exists(GM_BINARY)) << "build grunnmur first";
  constexpr const char* kFnr = "urn:oid:2.16.578.1.12.4.1.4.1";
  constexpr const char* kPid = "12038010008";
  gm::testing::TempDir dir_a, dir_b;  // each node its own data directory and keys
  gm::testing::ShareTestDatabase(dir_a.path(), dir_b.path());
  const std::string db = gm::testing::TestDatabaseFor(dir_a.path());
  std::string out;
  {
    gm::testing::ServerProcess node_a(dir_a.path()), node_b(dir_b.path());
    ASSERT_EQ(node_a.db_url(), node_b.db_url());
    gm::testing::HttpClient a(node_a.port());
    gm::testing::HttpResponse put =
        a.Put("/Patient/anne", std::string(R"({"resourceType":"Patient","id":"anne","identifier":[{"system":")") +
                                   kFnr + R"(","value":")" + kPid + R"("}]})");
    ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
    ASSERT_EQ(a.Get("/Patient/anne").status, 200);

    // The citizen asks node B (its own token, its own keys).
    std::string token = node_b.Token({"--scope", "patient/*.rs", "--as-pid", kPid});
    gm::testing::HttpClient b(node_b.port(), gm::testing::HttpClient::Auth::kNone);
    std::set<std::string> interactions;
    // Appends may go through an outbox relay: wait (bounded) for them.
    for (int attempt = 0; attempt < 100 && !interactions.count("read"); ++attempt) {
      if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      gm::testing::HttpResponse log =
          b.Get("/Patient/anne/$access-log?_count=100", {{"Authorization", "Bearer " + token}});
      ASSERT_EQ(log.status, 200) << log.body;
      interactions.clear();
      if (const json::Value* entries = log.json().find("entry")) {
        for (const auto& e : entries->array()) {
          const json::Value* sub = e.find("resource")->find("subtype");
          if (sub && sub->is_array() && !sub->array().empty())
            interactions.insert(std::string(sub->array()[0].get_string("code")));
        }
      }
    }
    EXPECT_TRUE(interactions.count("read")) << "node A's read is missing from node B's access log";
    EXPECT_TRUE(interactions.count("update") || interactions.count("create"));

    // While both run: one chain, verified from the database alone.
    EXPECT_EQ(RunCli("audit verify --db '" + db + "' --data " + dir_b.path(), &out), 0) << out;
    EXPECT_NE(out.find("intact"), std::string::npos) << out;
  }
  // Both stopped (final checkpoints from both): still intact; both nodes' keys archived.
  EXPECT_EQ(RunCli("audit verify --db '" + db + "' --data /nonexistent", &out), 0) << out;
  EXPECT_NE(out.find("intact"), std::string::npos) << out;
  // No per-node chains: the SQLite audit.db is not created with --db.
  EXPECT_FALSE(fs::exists(fs::path(dir_a.path()) / "audit.db"));
  auto c = PgConnection::Open(db);
  ASSERT_TRUE(c.ok());
  auto kids = (*c)->QueryText("SELECT count(*) FROM gm_audit_key");
  ASSERT_TRUE(kids.ok());
  EXPECT_EQ(*kids, "2");
}

}  // namespace
}  // namespace gm::audit
