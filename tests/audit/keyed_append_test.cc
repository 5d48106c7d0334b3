// AppendKeyed on the SQLite audit log: a key already in the chain is skipped
// (same seq, no second copy), also across reopen and under concurrent
// callers; and audit.db files from before keyed appends (no key column) are
// verifiable as they are, open, get the column, and keep verifying.
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "audit/log.h"
#include "tests/support/server_process.h"
#include "trust/tokens.h"

namespace gm::audit {
namespace {
namespace fs = std::filesystem;

constexpr int64_t kT0 = 1'764'000'000'000'000;

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

class KeyedAppendTest : public ::testing::Test {
 protected:
  std::unique_ptr<AuditLog> OpenLog() {
    auto keys = trust::KeyRing::Open((fs::path(dir_.path()) / "keys").string());
    EXPECT_TRUE(keys.ok());
    LogOptions o;
    o.data_dir = dir_.path();
    o.keys = *keys;
    o.clock = &clock_;
    o.checkpoint_every = 10;
    auto log = AuditLog::Open(o);
    EXPECT_TRUE(log.ok()) << log.status().message();
    return log.ok() ? std::move(log).value() : nullptr;
  }
  std::string Db() const { return (fs::path(dir_.path()) / "audit.db").string(); }
  int64_t Count(const std::string& sql) const {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(Db().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
    int64_t n = -1;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  }
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(Db().c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "") << " in " << sql;
    sqlite3_close(db);
  }
  void ExpectIntact(int64_t events) {
    auto r = Verify(dir_.path());
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(r->intact()) << (r->problems.empty() ? "" : r->problems[0].detail);
    EXPECT_EQ(r->events, events);
    EXPECT_EQ(r->signed_through, events);
  }

  testing::TempDir dir_;
  ManualClock clock_{kT0};
};

TEST_F(KeyedAppendTest, SameKeyTwiceIsOneEventWithTheSameSeq) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->Append({MakeEvent("p1", 1)}).ok());  // plain: key NULL
  auto first = log->AppendKeyed({MakeEvent("p1", 2), MakeEvent("p2", 3)}, {"k-a", "k-b"});
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(*first, (std::vector<int64_t>{2, 3}));
  // Again (the outbox relay retrying after a crash), with one new event in between.
  auto again = log->AppendKeyed({MakeEvent("p1", 2), MakeEvent("p3", 4), MakeEvent("p2", 3)},
                                {"k-a", "k-c", "k-b"});
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(*again, (std::vector<int64_t>{2, 4, 3}));
  // A key repeated inside one call is stored once.
  auto dup = log->AppendKeyed({MakeEvent("p4", 5), MakeEvent("p4", 5)}, {"k-d", "k-d"});
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(*dup, (std::vector<int64_t>{5, 5}));
  EXPECT_EQ(log->last_seq(), 5);
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(Count("SELECT count(*) FROM audit_event"), 5);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_event WHERE key IS NULL"), 1);
  EXPECT_EQ(Count("SELECT seq FROM audit_event WHERE key = 'k-c'"), 4);
  ExpectIntact(5);

  // Reopened: the keys are still known.
  log = OpenLog();
  ASSERT_NE(log, nullptr);
  auto after = log->AppendKeyed({MakeEvent("p2", 3), MakeEvent("p5", 6)}, {"k-b", "k-e"});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, (std::vector<int64_t>{3, 6}));
  ASSERT_TRUE(log->Close().ok());
  ExpectIntact(6);
}

TEST_F(KeyedAppendTest, AllSkippedWritesNothing) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->AppendKeyed({MakeEvent("p1", 1)}, {"only"}).ok());
  auto again = log->AppendKeyed({MakeEvent("p1", 1)}, {"only"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, std::vector<int64_t>{1});
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(Count("SELECT count(*) FROM audit_event"), 1);
  ExpectIntact(1);
}

TEST_F(KeyedAppendTest, WrongNumberOfKeysOrEmptyKeyIsRefused) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  auto r = log->AppendKeyed({MakeEvent("p1", 1), MakeEvent("p1", 2)}, {"one"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), "GM-AUDIT-015");
  r = log->AppendKeyed({MakeEvent("p1", 1)}, {""});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), "GM-AUDIT-015");
  EXPECT_EQ(log->last_seq(), 0);
}

TEST_F(KeyedAppendTest, ConcurrentRetriesOfTheSameKeysStoreEachOnce) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  // 6 threads each deliver the same 20 keyed events (in their own order,
  // two per call) — like several relays draining one outbox.
  constexpr int kThreads = 6, kKeys = 20;
  std::mutex mu;
  std::map<std::string, std::set<int64_t>> seen;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int j = 0; j < kKeys; j += 2) {
        int a = (j + t * 2) % kKeys, b = a + 1;
        auto r = log->AppendKeyed({MakeEvent("p" + std::to_string(a % 3), a),
                                   MakeEvent("p" + std::to_string(b % 3), b)},
                                  {"key-" + std::to_string(a), "key-" + std::to_string(b)});
        ASSERT_TRUE(r.ok()) << r.status().message();
        std::lock_guard<std::mutex> lock(mu);
        seen["key-" + std::to_string(a)].insert((*r)[0]);
        seen["key-" + std::to_string(b)].insert((*r)[1]);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(seen.size(), size_t(kKeys));
  std::set<int64_t> seqs;
  for (const auto& [key, s] : seen) {
    EXPECT_EQ(s.size(), 1u) << key << " got several seqs";
    seqs.insert(*s.begin());
  }
  EXPECT_EQ(seqs.size(), size_t(kKeys));
  EXPECT_EQ(*seqs.begin(), 1);
  EXPECT_EQ(*seqs.rbegin(), kKeys);
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(Count("SELECT count(*) FROM audit_event"), kKeys);
  ExpectIntact(kKeys);
}

TEST_F(KeyedAppendTest, OldFormatFileWithoutKeyColumnVerifiesOpensAndUpgrades) {
  {
    auto log = OpenLog();
    ASSERT_NE(log, nullptr);
    for (int i = 1; i <= 12; ++i) ASSERT_TRUE(log->Append({MakeEvent("p1", i)}).ok());
    ASSERT_TRUE(log->Close().ok());
  }
  // Make it the format written before keyed appends: no key column, no index.
  Sql("DROP INDEX audit_event_key; ALTER TABLE audit_event DROP COLUMN key");
  EXPECT_EQ(Count("SELECT count(*) FROM pragma_table_info('audit_event') WHERE name = 'key'"), 0);
  ExpectIntact(12);  // Verify reads the old file as it is (read-only)
  EXPECT_EQ(Count("SELECT count(*) FROM pragma_table_info('audit_event') WHERE name = 'key'"), 0);

  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(Count("SELECT count(*) FROM pragma_table_info('audit_event') WHERE name = 'key'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_event WHERE key IS NULL"), 12);
  auto r = log->AppendKeyed({MakeEvent("p1", 13)}, {"new-key"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, std::vector<int64_t>{13});
  r = log->AppendKeyed({MakeEvent("p1", 13)}, {"new-key"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::vector<int64_t>{13});
  auto page = log->EventsForPatient("p1", 500);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->entries.size(), 13u);
  ASSERT_TRUE(log->Close().ok());
  ExpectIntact(13);
}

}  // namespace
}  // namespace gm::audit
