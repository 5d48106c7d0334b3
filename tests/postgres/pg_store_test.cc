// The PostgreSQL store directly (no HTTP): schema migrations (an older schema
// upgrades, a newer one is refused, simultaneous starts migrate once), the
// basic contract (versions, conflicts, history, search, paging, compartments,
// reindex), cross-instance conditional creates and versioned updates (two
// store instances = two nodes), and EXPLAIN of the key search shapes.
//
// Needs GM_TEST_PG_URL (postgresql://user@host:port/postgres of a server the
// test may create databases on); `make test` starts a throwaway cluster for it
// (scripts/pg-cluster run). Without it every test is skipped.
#include <algorithm>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <sstream>
#include <thread>

#include "store/postgres/pg_connection.h"
#include "store/postgres/pg_schema.h"
#include "store/postgres/pg_store.h"
#include "tests/store/store_test_util.h"
#include "tests/support/server_process.h"

namespace gm::store::testing {
namespace {

using postgres::PgConnection;
using postgres::PostgresStore;
using Op = Clause::Op;
using V = std::vector<std::string>;

constexpr int64_t kT = 1700000000000000;
constexpr const char* kFnr = "urn:oid:2.16.578.1.12.4.1.4.1";
constexpr const char* kLoinc = "http://loinc.org";

// A fresh, empty database, dropped afterwards.
class Db {
 public:
  Db() : dir_() { url_ = gm::testing::TestDatabaseFor(dir_.path()); }
  const std::string& url() const { return url_; }

 private:
  gm::testing::TempDir dir_;
  std::string url_;
};

#define REQUIRE_PG()                                                                   \
  if (gm::testing::TestPostgresUrl().empty())                                          \
  GTEST_SKIP() << "GM_TEST_PG_URL is not set (make test runs this against a throwaway " \
                  "cluster: scripts/pg-cluster run)"

std::unique_ptr<PostgresStore> Open(const std::string& url, int schema_version = 0,
                                    size_t connections = 4) {
  PostgresOptions o;
  o.url = url;
  o.schema_version = schema_version;
  o.connections = connections;
  auto r = PostgresStore::Open(o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.status().message());
  return r.ok() ? std::move(r).value() : nullptr;
}

Clause Cl(Op op, std::string param, std::vector<Clause::Value> values) {
  Clause c;
  c.op = op;
  c.param = std::move(param);
  c.any_of = std::move(values);
  return c;
}
Query Q(std::string type, std::vector<Clause> clauses) {
  Query q;
  q.type = std::move(type);
  q.clauses = std::move(clauses);
  return q;
}
Clause::Value SysCode(std::string system, std::string code) {
  return CodeValue(std::move(code), std::move(system), true);
}
Clause::Value DateValue(int64_t b, int64_t e, Clause::Cmp cmp) {
  Clause::Value v;
  v.begin_us = b;
  v.end_us = e;
  v.cmp = cmp;
  return v;
}

V Find(Store& s, Query q) {
  q.limit = 1000;
  auto page = s.Search(q);
  EXPECT_TRUE(page.ok()) << (page.ok() ? "" : page.status().message());
  return page.ok() ? Sorted(Ids(page->resources)) : V{"<error>"};
}

int SchemaVersion(const std::string& url) {
  auto c = PgConnection::Open(url);
  EXPECT_TRUE(c.ok());
  auto v = postgres::SchemaVersionOf(**c);
  EXPECT_TRUE(v.ok());
  return v.ok() ? *v : -1;
}

TEST(PgMigrations, OlderSchemaUpgradesAndKeepsData) {
  REQUIRE_PG();
  Db db;
  {
    auto s = Open(db.url(), /*schema_version=*/1);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->schema_version_before(), 0);
    EXPECT_EQ(SchemaVersion(db.url()), 1);
    ASSERT_TRUE(PutOne(*s, MakePut("Patient", "p1", 1, kT, {Token("identifier", kFnr, "1")},
                                   {"p1"}))
                    .ok());
  }
  auto c = PgConnection::Open(db.url());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*(*c)->QueryText("SELECT to_regclass('idx_composite') IS NULL"), "t");
  auto s = Open(db.url());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->schema_version_before(), 1);
  EXPECT_EQ(SchemaVersion(db.url()), postgres::kSchemaVersion);
  EXPECT_EQ(*(*c)->QueryText("SELECT to_regclass('idx_composite') IS NOT NULL"), "t");
  auto r = s->Read("Patient", "p1");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->version, 1);
  EXPECT_EQ(Find(*s, Q("Patient", {Cl(Op::kTokenEq, "identifier", {SysCode(kFnr, "1")})})),
            V{"p1"});
  // The new tables work: full text written after the upgrade is found.
  IndexEntry text;
  text.kind = IndexEntry::Kind::kText;
  text.param = "_content";
  text.text = "kari nordmann oslo";
  ASSERT_TRUE(PutOne(*s, MakePut("Patient", "p2", 1, kT + 1, {text}, {"p2"})).ok());
  EXPECT_EQ(Find(*s, Q("Patient", {Cl(Op::kText, "_content", {CodeValue("nord osl")})})),
            V{"p2"});
}

TEST(PgMigrations, NewerSchemaIsRefusedAndLeftAlone) {
  REQUIRE_PG();
  Db db;
  { ASSERT_NE(Open(db.url()), nullptr); }
  auto c = PgConnection::Open(db.url());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Exec("UPDATE schema_version SET version = 99").ok());
  PostgresOptions o;
  o.url = db.url();
  auto s = PostgresStore::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), "GM-STORE-002");
  EXPECT_NE(s.status().message().find("newer"), std::string::npos) << s.status().message();
  EXPECT_EQ(SchemaVersion(db.url()), 99);
}

TEST(PgMigrations, SimultaneousStartsMigrateOnce) {
  REQUIRE_PG();
  Db db;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, from_empty{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      PostgresOptions o;
      o.url = db.url();
      o.connections = 1;
      auto s = PostgresStore::Open(o);
      if (s.ok()) {
        ++ok;
        if ((*s)->schema_version_before() == 0) ++from_empty;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(from_empty.load(), 1);  // exactly one node created the schema
  EXPECT_EQ(SchemaVersion(db.url()), postgres::kSchemaVersion);
}

TEST(PgMigrations, ForeignDatabaseIsRefused) {
  REQUIRE_PG();
  Db db;
  auto c = PgConnection::Open(db.url());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Exec("CREATE TABLE resource(x int)").ok());
  PostgresOptions o;
  o.url = db.url();
  auto s = PostgresStore::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), "GM-STORE-003");
}

TEST(PgStore, UnreachableServerIsUnavailable) {
  REQUIRE_PG();
  PostgresOptions o;
  o.url = "postgresql://gmtest@127.0.0.1:1/none?connect_timeout=2";
  auto s = PostgresStore::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), "GM-STORE-001");
  EXPECT_EQ(s.status().category(), ErrorCategory::kUnavailable);
}

// A 2xx means durable: sessions never commit asynchronously, even on a
// server configured with synchronous_commit = off (as the test cluster is).
TEST(PgStore, SessionsCommitSynchronously) {
  REQUIRE_PG();
  auto c = PgConnection::Open(gm::testing::TestPostgresUrl());
  ASSERT_TRUE(c.ok());
  auto v = (*c)->QueryText("SHOW synchronous_commit");
  ASSERT_TRUE(v.ok());
  EXPECT_NE(*v, "off");
}

TEST(PgStore, VersionsHistoryConflictsAndDeletes) {
  REQUIRE_PG();
  Db db;
  auto s = Open(db.url());
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(PutOne(*s, MakePut("Patient", "a", 1, kT)).ok());
  ASSERT_TRUE(PutOne(*s, MakePut("Patient", "a", 2, kT + 10)).ok());
  Status conflict = PutOne(*s, MakePut("Patient", "a", 2, kT + 20));
  EXPECT_EQ(conflict.code(), "GM-STORE-010");
  EXPECT_EQ(conflict.category(), ErrorCategory::kConflict);
  // A fn whose Put failed stores nothing, even if it returns Ok.
  Status half = s->Write([&](Txn& txn) {
    EXPECT_TRUE(txn.Put(MakePut("Patient", "b", 1, kT + 30)).ok());
    (void)txn.Put(MakePut("Patient", "a", 7, kT + 30));
    return Status::Ok();
  });
  EXPECT_EQ(half.code(), "GM-STORE-010");
  EXPECT_FALSE(s->Read("Patient", "b")->has_value());
  // Writing from inside a write fn is refused.
  Status nested = s->Write([&](Txn&) { return s->Write([](Txn&) { return Status::Ok(); }); });
  EXPECT_EQ(nested.code(), "GM-STORE-024");

  ASSERT_TRUE(PutOne(*s, MakeDelete("Patient", "a", 3, kT + 40)).ok());
  auto cur = s->Read("Patient", "a");
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_TRUE((*cur)->deleted);
  auto v1 = s->ReadVersion("Patient", "a", 1);
  ASSERT_TRUE(v1.ok() && v1->has_value());
  EXPECT_EQ((*v1)->json, Json("Patient", "a", 1));
  HistoryQuery hq;
  hq.type = "Patient";
  hq.id = "a";
  hq.limit = 2;
  auto h = s->History(hq);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->total, 3);
  ASSERT_EQ(h->versions.size(), 2u);
  EXPECT_EQ(h->versions[0].version, 3);
  hq.after = h->next;
  auto h2 = s->History(hq);
  ASSERT_TRUE(h2.ok());
  ASSERT_EQ(h2->versions.size(), 1u);
  EXPECT_EQ(h2->versions[0].version, 1);
  HistoryQuery all;
  all.limit = 10;
  auto sys = s->History(all);
  ASSERT_TRUE(sys.ok());
  EXPECT_EQ(sys->versions.size(), 3u);
  auto stats = s->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->resources, 0);
  EXPECT_EQ(stats->versions, 3);
  EXPECT_GT(stats->bytes, 0);
}

TEST(PgStore, SearchEveryKindPagingCompartmentAndReindex) {
  REQUIRE_PG();
  Db db;
  auto s = Open(db.url());
  ASSERT_NE(s, nullptr);
  Status st = s->Write([&](Txn& txn) {
    GM_RETURN_IF_ERROR(txn.Put(MakePut("Patient", "p1", 1, kT,
                                       {Token("identifier", kFnr, "111"),
                                        String("name", "sorgard", "Sørgård"),
                                        Date("birthdate", kT, kT + 86400000000LL)},
                                       {"p1"})));
    GM_RETURN_IF_ERROR(txn.Put(MakePut("Patient", "p2", 1, kT + 1,
                                       {Token("identifier", kFnr, "222"),
                                        String("name", "hansen", "Hansen")},
                                       {"p2"})));
    for (int i = 0; i < 7; ++i) {
      const std::string id = "o" + std::to_string(i);
      GM_RETURN_IF_ERROR(txn.Put(MakePut(
          "Observation", id, 1, kT + 100 + i,
          {Token("code", kLoinc, i % 2 ? "odd" : "even"), Reference("subject", "Patient", "p1"),
           Quantity("value-quantity", i, i + 0.5, "http://unitsofmeasure.org", "mg"),
           Uri("instantiates", "http://example.org/q/" + std::to_string(i))},
          {"p1"})));
    }
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Find(*s, Q("Patient", {Cl(Op::kTokenEq, "identifier", {SysCode(kFnr, "111")})})),
            V{"p1"});
  EXPECT_EQ(Find(*s, Q("Patient", {Cl(Op::kStringPrefix, "name", {CodeValue("sor")})})),
            V{"p1"});
  EXPECT_EQ(Find(*s, Q("Patient", {Cl(Op::kStringExact, "name", {CodeValue("Hansen")})})),
            V{"p2"});
  EXPECT_EQ(Find(*s, Q("Patient", {Cl(Op::kStringContains, "name", {CodeValue("rga")})})),
            V{"p1"});
  EXPECT_EQ(Find(*s, Q("Patient", {Cl(Op::kDateRange, "birthdate",
                                      {DateValue(kT - 1000, kT + 2 * 86400000000LL,
                                                 Clause::Cmp::kEq)})})),
            V{"p1"});
  EXPECT_EQ(Find(*s, Q("Observation", {Cl(Op::kTokenEq, "code", {SysCode(kLoinc, "odd")})})),
            (V{"o1", "o3", "o5"}));
  EXPECT_EQ(Find(*s, Q("Observation", {Cl(Op::kTokenNot, "code", {SysCode(kLoinc, "odd")})})),
            (V{"o0", "o2", "o4", "o6"}));
  Clause::Value gt;
  gt.lo = 4;
  gt.hi = 5;
  gt.cmp = Clause::Cmp::kGe;
  // ge compares midpoints: o4's value [4, 4.5) has midpoint 4.25 < 4.5.
  EXPECT_EQ(Find(*s, Q("Observation", {Cl(Op::kNumberRange, "value-quantity", {gt})})),
            (V{"o5", "o6"}));
  EXPECT_EQ(Find(*s, Q("Observation", {Cl(Op::kUriBelow, "instantiates",
                                          {CodeValue("http://example.org/q")})})).size(),
            7u);
  // A chain: observations of the patient named Sørgård.
  Clause chain;
  chain.op = Op::kChain;
  chain.param = "subject";
  chain.sub = std::make_shared<Query>(
      Q("Patient", {Cl(Op::kStringPrefix, "name", {CodeValue("sorg")})}));
  EXPECT_EQ(Find(*s, Q("Observation", {chain})).size(), 7u);
  // _has: patients with an "odd" observation.
  Clause has;
  has.op = Op::kHas;
  has.param = "subject";
  has.sub = std::make_shared<Query>(
      Q("Observation", {Cl(Op::kTokenEq, "code", {SysCode(kLoinc, "odd")})}));
  EXPECT_EQ(Find(*s, Q("Patient", {has})), V{"p1"});
  auto count = s->Count(Q("Observation", {}), 5);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 5);

  // Keyset paging, sorted by a parameter descending, forward and back.
  Query sorted = Q("Observation", {});
  sorted.sort = {{"value-quantity", true}};
  sorted.limit = 3;
  std::vector<std::string> seen;
  std::vector<std::string> cursors;
  for (;;) {
    auto page = s->Search(sorted);
    ASSERT_TRUE(page.ok()) << page.status().message();
    for (const auto& r : page->resources) seen.push_back(r.id);
    if (page->next.empty()) break;
    cursors.push_back(page->next);
    sorted.after = page->next;
  }
  EXPECT_EQ(seen, (V{"o6", "o5", "o4", "o3", "o2", "o1", "o0"}));
  Query back = sorted;
  back.after = cursors.back();
  back.direction = PageDirection::kBackward;
  auto prev = s->Search(back);
  ASSERT_TRUE(prev.ok());
  EXPECT_EQ(Ids(prev->resources), (V{"o4", "o3", "o2"}));
  // A cursor of another operation is refused.
  Query bad = Q("Observation", {});
  bad.after = "AAAA";
  EXPECT_EQ(s->Search(bad).status().code(), "GM-STORE-030");

  auto comp = s->Compartment("p1", {"Observation"}, 4, "");
  ASSERT_TRUE(comp.ok());
  EXPECT_EQ(comp->resources.size(), 4u);
  ASSERT_FALSE(comp->next.empty());
  auto comp2 = s->Compartment("p1", {"Observation"}, 4, comp->next);
  ASSERT_TRUE(comp2.ok());
  EXPECT_EQ(comp2->resources.size(), 3u);
  EXPECT_FALSE(comp2->resources[0].json.empty());

  // Reindex replaces the rows; a stale version is a conflict that fails nothing.
  PutRequest re = MakePut("Patient", "p2", 1, kT + 1, {Token("identifier", kFnr, "333")}, {"p2"});
  Status rs = s->Write([&](Txn& txn) {
    EXPECT_TRUE(txn.Reindex(re).ok());
    PutRequest stale = re;
    stale.resource.version = 5;
    EXPECT_EQ(txn.Reindex(stale).code(), "GM-STORE-012");
    return Status::Ok();
  });
  ASSERT_TRUE(rs.ok()) << rs.message();
  EXPECT_EQ(Find(*s, Q("Patient", {Cl(Op::kTokenEq, "identifier", {SysCode(kFnr, "333")})})),
            V{"p2"});
  EXPECT_EQ(Find(*s, Q("Patient", {Cl(Op::kTokenEq, "identifier", {SysCode(kFnr, "222")})})),
            V{});
}

TEST(PgStore, PutReportsTheCompartmentsItReplaced) {
  REQUIRE_PG();
  Db db;
  auto s = Open(db.url());
  ASSERT_NE(s, nullptr);
  // What each Put replaced, for the audit of writes.
  std::vector<std::vector<std::string>> seen;
  auto put = [&](const PutRequest& p) {
    return s->Write([&](Txn& txn) -> Status {
      GM_RETURN_IF_ERROR(txn.Put(p));
      std::vector<std::string> r = txn.ReplacedCompartments();
      std::sort(r.begin(), r.end());
      seen.push_back(r);
      return Status::Ok();
    });
  };
  ASSERT_TRUE(put(MakePut("Observation", "o1", 1, kT, {}, {"p1", "p3"})).ok());
  ASSERT_TRUE(put(MakePut("Observation", "o1", 2, kT + 1, {}, {"p2"})).ok());
  ASSERT_TRUE(put(MakeDelete("Observation", "o1", 3, kT + 2)).ok());
  ASSERT_TRUE(put(MakePut("Observation", "o1", 4, kT + 3, {}, {"p4"})).ok());
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_TRUE(seen[0].empty());                                   // new
  EXPECT_EQ(seen[1], (std::vector<std::string>{"p1", "p3"}));   // update
  EXPECT_EQ(seen[2], (std::vector<std::string>{"p2"}));         // deletion
  EXPECT_TRUE(seen[3].empty());                                   // after a deletion
}

TEST(PgStore, AuditOutboxCommitsWithItsWrite) {
  REQUIRE_PG();
  Db db;
  auto s = Open(db.url());
  ASSERT_NE(s, nullptr);
  AuditOutboxRow row{.key = "k1", .patient_id = "p1", .time_us = kT, .event = "{\"a\":1}"};
  ASSERT_TRUE(s->Write([&](Txn& txn) -> Status {
                 GM_RETURN_IF_ERROR(txn.Put(MakePut("Patient", "p1", 1, kT)));
                 return txn.StageAudit(row);
               }).ok());
  Status failed = s->Write([&](Txn& txn) -> Status {
    AuditOutboxRow r2 = row;
    r2.key = "k2";
    GM_RETURN_IF_ERROR(txn.StageAudit(r2));
    return txn.Put(MakePut("Patient", "p1", 5, kT));
  });
  EXPECT_FALSE(failed.ok());
  EXPECT_FALSE(s->Write([&](Txn& txn) { return txn.StageAudit(row); }).ok());
  ASSERT_TRUE(s->Write([&](Txn& txn) {
                 return txn.StageAudit(AuditOutboxRow{.key = "k3", .patient_id = "p2",
                                                      .time_us = kT + 1, .event = "{}"});
               }).ok());
  auto pending = s->PendingAudit(10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].key, "k1");
  EXPECT_EQ((*pending)[0].event, "{\"a\":1}");
  EXPECT_EQ((*pending)[0].time_us, kT);
  EXPECT_EQ((*pending)[1].key, "k3");
  ASSERT_TRUE(s->Write([&](Txn& txn) { return txn.RemoveAudit({"k1", "unknown"}); }).ok());
  pending = s->PendingAudit(10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].key, "k3");
}

TEST(PgStore, LongValuesAndOddBytesAreStored) {
  REQUIRE_PG();
  Db db;
  auto s = Open(db.url());
  ASSERT_NE(s, nullptr);
  std::string long_value(5000, 'x');
  long_value += "\xC3\xB8";  // a two-byte character across the cut
  std::string with_nul = std::string("a\0b", 3);
  ASSERT_TRUE(PutOne(*s, MakePut("Patient", "long", 1, kT,
                                 {Token("identifier", "urn:x", long_value, long_value),
                                  String("name", long_value, with_nul)}))
                  .ok());
  EXPECT_EQ(Find(*s, Q("Patient", {Cl(Op::kTokenEq, "identifier",
                                      {SysCode("urn:x", long_value)})})),
            V{"long"});
  EXPECT_EQ(Find(*s, Q("Patient", {Cl(Op::kStringPrefix, "name", {CodeValue("xxxx")})})),
            V{"long"});
}

// Connections the server dropped (restart, idle timeout in a pooler) are
// re-established: reads and writes succeed afterwards without a restart.
TEST(PgStore, ReconnectsAfterTheServerDroppedItsConnections) {
  REQUIRE_PG();
  Db db;
  auto s = Open(db.url(), 0, 2);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(PutOne(*s, MakePut("Patient", "r1", 1, kT, {Token("identifier", kFnr, "9")})).ok());
  auto admin = PgConnection::Open(gm::testing::TestPostgresUrl());
  ASSERT_TRUE(admin.ok());
  auto killed = (*admin)->QueryText(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
      "(SELECT current_database() FROM (SELECT 1) AS x WHERE false) OR datname = $1",
      {KeyValue(db.url().substr(db.url().rfind('/') + 1))});
  ASSERT_TRUE(killed.ok()) << killed.status().message();
  EXPECT_GE(std::stoi(*killed), 3);  // the pool's two and the interning connection
  for (int i = 0; i < 3; ++i) {
    auto r = s->Read("Patient", "r1");
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_TRUE(r->has_value());
  }
  Status w = PutOne(*s, MakePut("Patient", "r2", 1, kT, {Token("identifier", kFnr, "10")}));
  EXPECT_TRUE(w.ok()) << w.message();
  w = PutOne(*s, MakePut("Patient", "r3", 1, kT, {Token("identifier", kFnr, "11")}));
  EXPECT_TRUE(w.ok()) << w.message();
  EXPECT_EQ(Find(*s, Q("Patient", {Cl(Op::kTokenEq, "identifier", {SysCode(kFnr, "11")})})),
            V{"r3"});
}

// Two store instances on one database are two nodes: conditional creates
// (Match, then Put if nothing matched) never duplicate, and read-modify-write
// cycles (Current, then Put current + 1) never lose an update.
TEST(PgStore, TwoInstancesConditionalCreateAndVersionedUpdates) {
  REQUIRE_PG();
  Db db;
  auto a = Open(db.url(), 0, 4);
  auto b = Open(db.url(), 0, 4);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::atomic<int> created{0}, failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      Store& s = i % 2 ? *a : *b;
      bool made = false;
      Status st = s.Write([&](Txn& txn) -> Status {
        made = false;
        GM_ASSIGN_OR_RETURN(
            auto ids,
            txn.Match(Q("Patient", {Cl(Op::kTokenEq, "identifier", {SysCode(kFnr, "42")})}), 2));
        if (!ids.empty()) return Status::Ok();
        made = true;
        return txn.Put(MakePut("Patient", "c" + std::to_string(i), 1, kT,
                               {Token("identifier", kFnr, "42")}, {"c"}));
      });
      if (!st.ok()) ++failed;
      if (st.ok() && made) ++created;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(Find(*a, Q("Patient", {Cl(Op::kTokenEq, "identifier", {SysCode(kFnr, "42")})})).size(),
            1u);

  ASSERT_TRUE(PutOne(*a, MakePut("Basic", "counter", 1, kT)).ok());
  threads.clear();
  const int kUpdates = 40;
  std::atomic<int> updated{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      Store& s = i % 2 ? *a : *b;
      for (int k = 0; k < kUpdates / 8; ++k) {
        Status st = s.Write([&](Txn& txn) -> Status {
          GM_ASSIGN_OR_RETURN(auto cur, txn.Current("Basic", "counter"));
          if (!cur.has_value()) return Status::Error(ErrorCategory::kNotFound, "T", "t", "gone");
          return txn.Put(MakePut("Basic", "counter", cur->version + 1, kT + 1));
        });
        if (st.ok()) ++updated;
        EXPECT_TRUE(st.ok()) << st.code() << ": " << st.message();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(updated.load(), kUpdates);
  auto cur = a->Read("Basic", "counter");
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_EQ((*cur)->version, kUpdates + 1);
}

// Every key search shape is served by an index: with sequential scans
// disabled the planner still finds a plan without one (a "Seq Scan" would
// mean that no index can serve the shape).
TEST(PgStore, ExplainKeySearchesUseIndexes) {
  REQUIRE_PG();
  Db db;
  auto s = Open(db.url());
  ASSERT_NE(s, nullptr);
  Status st = s->Write([&](Txn& txn) {
    for (int i = 0; i < 200; ++i) {
      const std::string p = "p" + std::to_string(i);
      GM_RETURN_IF_ERROR(txn.Put(MakePut("Patient", p, 1, kT + i,
                                         {Token("identifier", kFnr, std::to_string(1000 + i)),
                                          String("name", "name" + std::to_string(i), "N"),
                                          Date("birthdate", kT + i, kT + i + 1)},
                                         {p})));
      GM_RETURN_IF_ERROR(txn.Put(MakePut(
          "Observation", "o" + std::to_string(i), 1, kT + i,
          {Token("code", kLoinc, std::to_string(i % 20)), Reference("subject", "Patient", p),
           Date("date", kT + i, kT + i + 1)},
          {p})));
    }
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  auto c = PgConnection::Open(db.url());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Exec("ANALYZE").ok());
  ASSERT_TRUE((*c)->Exec("ALTER DATABASE " +
                         *(*c)->QueryText("SELECT current_database()") +
                         " SET enable_seqscan = off")
                  .ok());
  s = Open(db.url());  // new connections pick up the setting
  ASSERT_NE(s, nullptr);
  Query by_lu = Q("Observation", {});
  by_lu.limit = 10;
  Query sorted = Q("Observation", {Cl(Op::kCompartment, "", {CodeValue("p3")})});
  sorted.sort = {{"date", true}};
  Clause chain;
  chain.op = Op::kChain;
  chain.param = "subject";
  chain.sub = std::make_shared<Query>(
      Q("Patient", {Cl(Op::kTokenEq, "identifier", {SysCode(kFnr, "1003")})}));
  std::vector<std::pair<std::string, Query>> shapes = {
      {"identifier", Q("Patient", {Cl(Op::kTokenEq, "identifier", {SysCode(kFnr, "1003")})})},
      {"code without system", Q("Observation", {Cl(Op::kTokenEq, "code", {CodeValue("3")})})},
      {"subject", Q("Observation", {Cl(Op::kReference, "subject", {SysCode("Patient", "p3")})})},
      {"compartment + code",
       Q("Observation", {Cl(Op::kCompartment, "", {CodeValue("p3")}),
                         Cl(Op::kTokenEq, "code", {SysCode(kLoinc, "3")})})},
      {"name prefix", Q("Patient", {Cl(Op::kStringPrefix, "name", {CodeValue("name1")})})},
      {"date range", Q("Observation", {Cl(Op::kDateRange, "date",
                                          {DateValue(kT, kT + 10, Clause::Cmp::kGe)})})},
      {"chain subject.identifier", Q("Observation", {chain})},
      {"lastUpdated order", by_lu},
      {"compartment sorted by date", sorted},
  };
  for (const auto& [name, q] : shapes) {
    auto plan = s->ExplainSearch(q);
    ASSERT_TRUE(plan.ok()) << name << ": " << plan.status().message();
    ASSERT_FALSE(plan->empty()) << name;
    EXPECT_EQ(plan->find("Seq Scan"), std::string::npos) << name << ":\n" << *plan;
    EXPECT_NE(plan->find("Index"), std::string::npos) << name << ":\n" << *plan;
  }
  // The listing by _lastUpdated walks the (type, last_updated) index in order.
  auto plan = s->ExplainSearch(by_lu);
  ASSERT_TRUE(plan.ok());
  EXPECT_NE(plan->find("resource_type_lu"), std::string::npos) << *plan;
  // Identifier lookups use the token table's key.
  plan = s->ExplainSearch(shapes[0].second);
  ASSERT_TRUE(plan.ok());
  EXPECT_NE(plan->find("on idx_token"), std::string::npos) << *plan;
  // Sort values are looked up per candidate by rid.
  plan = s->ExplainSearch(sorted);
  ASSERT_TRUE(plan.ok());
  EXPECT_NE(plan->find("idx_date_rid"), std::string::npos) << *plan;
}

}  // namespace
}  // namespace gm::store::testing
