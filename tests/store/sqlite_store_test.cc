// CRUD, versions, deletions, history, compartments, reopening, schema
// versioning, closing and crash durability of the SQLite store.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <thread>

#include "store_test_util.h"

namespace gm::store::testing {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000;  // 2023-11-14, microseconds

TEST(SqliteStore, OpensInWalModeWithFullSync) {
  TempDir dir;
  auto s = OpenStore(dir.path());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->journal_mode(), "wal");
  EXPECT_EQ(s->synchronous(), "2");  // FULL
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/grunnmur.db"));
}

TEST(SqliteStore, CreatesMissingDataDirectory) {
  TempDir dir;
  auto s = OpenStore(dir.path() + "/a/b");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/a/b/grunnmur.db"));
}

TEST(SqliteStore, CreateReadUpdateDeleteAndVersions) {
  TempDir dir;
  auto s = OpenStore(dir.path());
  ASSERT_TRUE(PutOne(*s, MakePut("Patient", "p1", 1, kT0)).ok());

  auto r = s->Read("Patient", "p1");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->type, "Patient");
  EXPECT_EQ((*r)->id, "p1");
  EXPECT_EQ((*r)->version, 1);
  EXPECT_EQ((*r)->last_updated_us, kT0);
  EXPECT_FALSE((*r)->deleted);
  EXPECT_EQ((*r)->json, Json("Patient", "p1", 1));

  ASSERT_TRUE(PutOne(*s, MakePut("Patient", "p1", 2, kT0 + 10)).ok());
  r = s->Read("Patient", "p1");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->version, 2);
  EXPECT_EQ((*r)->json, Json("Patient", "p1", 2));

  auto v1 = s->ReadVersion("Patient", "p1", 1);
  ASSERT_TRUE(v1.ok() && v1->has_value());
  EXPECT_EQ((*v1)->json, Json("Patient", "p1", 1));
  EXPECT_EQ((*v1)->last_updated_us, kT0);

  ASSERT_TRUE(PutOne(*s, MakeDelete("Patient", "p1", 3, kT0 + 20)).ok());
  r = s->Read("Patient", "p1");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_TRUE((*r)->deleted);
  EXPECT_EQ((*r)->version, 3);
  EXPECT_EQ((*r)->json, "");
  auto v3 = s->ReadVersion("Patient", "p1", 3);
  ASSERT_TRUE(v3.ok() && v3->has_value());
  EXPECT_TRUE((*v3)->deleted);
  auto v2 = s->ReadVersion("Patient", "p1", 2);
  ASSERT_TRUE(v2.ok() && v2->has_value());
  EXPECT_EQ((*v2)->json, Json("Patient", "p1", 2));

  auto v4 = s->ReadVersion("Patient", "p1", 4);
  ASSERT_TRUE(v4.ok());
  EXPECT_FALSE(v4->has_value());
  auto missing = s->Read("Patient", "nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  auto other_type = s->Read("Observation", "p1");
  ASSERT_TRUE(other_type.ok());
  EXPECT_FALSE(other_type->has_value());

  // A deleted resource can be brought back with the next version.
  ASSERT_TRUE(PutOne(*s, MakePut("Patient", "p1", 4, kT0 + 30)).ok());
  r = s->Read("Patient", "p1");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_FALSE((*r)->deleted);
  EXPECT_EQ((*r)->version, 4);
}

TEST(SqliteStore, PutRequiresTheNextVersion) {
  TempDir dir;
  auto s = OpenStore(dir.path());
  Status bad_first = PutOne(*s, MakePut("Patient", "p1", 2, kT0));
  EXPECT_EQ(bad_first.category(), ErrorCategory::kConflict);
  EXPECT_EQ(bad_first.code(), "GM-STORE-010");
  ASSERT_TRUE(PutOne(*s, MakePut("Patient", "p1", 1, kT0)).ok());
  Status again = PutOne(*s, MakePut("Patient", "p1", 1, kT0));
  EXPECT_EQ(again.code(), "GM-STORE-010");
  Status skip = PutOne(*s, MakePut("Patient", "p1", 3, kT0));
  EXPECT_EQ(skip.code(), "GM-STORE-010");
  auto r = s->Read("Patient", "p1");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->version, 1);
}

TEST(SqliteStore, RejectsMalformedPuts) {
  TempDir dir;
  auto s = OpenStore(dir.path());
  EXPECT_EQ(PutOne(*s, MakePut("", "p1", 1, kT0)).code(), "GM-STORE-011");
  EXPECT_EQ(PutOne(*s, MakePut("Patient", "", 1, kT0)).code(), "GM-STORE-011");
  PutRequest empty = MakePut("Patient", "p1", 1, kT0);
  empty.resource.json.clear();
  EXPECT_EQ(PutOne(*s, empty).code(), "GM-STORE-011");
  Status nan = PutOne(*s, MakePut("Observation", "o1", 1, kT0, {Number("value", NAN, 1)}));
  EXPECT_EQ(nan.category(), ErrorCategory::kInvalid);
  EXPECT_EQ(nan.code(), "GM-STORE-011");
  Status backwards = PutOne(*s, MakePut("Observation", "o1", 1, kT0, {Date("date", 10, 5)}));
  EXPECT_EQ(backwards.code(), "GM-STORE-011");
  auto st = s->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->versions, 0);
}

TEST(SqliteStore, TxnSeesItsOwnWritesAndCurrentVersion) {
  TempDir dir;
  auto s = OpenStore(dir.path());
  ASSERT_TRUE(PutOne(*s, MakePut("Patient", "p1", 1, kT0)).ok());
  Status st = s->Write([&](Txn& txn) {
    auto cur = txn.Current("Patient", "p1");
    if (!cur.ok()) return cur.status();
    EXPECT_TRUE(cur->has_value());
    EXPECT_EQ((*cur)->version, 1);
    GM_RETURN_IF_ERROR(txn.Put(MakePut("Patient", "p1", (*cur)->version + 1, kT0 + 1)));
    auto after = txn.Current("Patient", "p1");
    if (!after.ok()) return after.status();
    EXPECT_EQ((*after)->version, 2);
    auto none = txn.Current("Patient", "p2");
    if (!none.ok()) return none.status();
    EXPECT_FALSE(none->has_value());
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  auto r = s->Read("Patient", "p1");
  EXPECT_EQ((*r)->version, 2);
}

TEST(SqliteStore, FnThatThrowsOrRecursesGetsAnErrorAndStoresNothing) {
  TempDir dir;
  auto s = OpenStore(dir.path());
  Status thrown = s->Write([&](Txn& txn) -> Status {
    (void)txn.Put(MakePut("Patient", "p1", 1, kT0));
    throw std::runtime_error("boom");
  });
  EXPECT_EQ(thrown.category(), ErrorCategory::kInternal);
  EXPECT_EQ(thrown.code(), "GM-STORE-022");
  Status nested = s->Write([&](Txn&) { return s->Write([](Txn&) { return Status::Ok(); }); });
  EXPECT_EQ(nested.code(), "GM-STORE-024");
  auto r = s->Read("Patient", "p1");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(SqliteStore, FnReturningOkAfterFailedPutIsRolledBack) {
  TempDir dir;
  auto s = OpenStore(dir.path());
  Status st = s->Write([&](Txn& txn) {
    (void)txn.Put(MakePut("Patient", "a", 1, kT0));
    (void)txn.Put(MakePut("Patient", "b", 7, kT0));  // conflict, ignored by the fn
    return Status::Ok();
  });
  EXPECT_EQ(st.code(), "GM-STORE-010");
  auto r = s->Read("Patient", "a");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

class HistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    s_ = OpenStore(dir_.path());
    // Patient/a: v1 @100, v2 @300, v3 (deleted) @500; Patient/b: v1 @200;
    // Observation/o: v1 @400.
    ASSERT_TRUE(PutOne(*s_, MakePut("Patient", "a", 1, 100)).ok());
    ASSERT_TRUE(PutOne(*s_, MakePut("Patient", "b", 1, 200)).ok());
    ASSERT_TRUE(PutOne(*s_, MakePut("Patient", "a", 2, 300)).ok());
    ASSERT_TRUE(PutOne(*s_, MakePut("Observation", "o", 1, 400)).ok());
    ASSERT_TRUE(PutOne(*s_, MakeDelete("Patient", "a", 3, 500)).ok());
  }
  static std::vector<std::string> Keys(const HistoryPage& p) {
    std::vector<std::string> out;
    for (const ResourceVersion& v : p.versions) {
      out.push_back(v.type + "/" + v.id + "/" + std::to_string(v.version));
    }
    return out;
  }
  TempDir dir_;
  std::unique_ptr<sqlite::SqliteStore> s_;
};

TEST_F(HistoryTest, InstanceNewestFirstWithTotal) {
  HistoryQuery q;
  q.type = "Patient";
  q.id = "a";
  auto h = s_->History(q);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(Keys(*h), (std::vector<std::string>{"Patient/a/3", "Patient/a/2", "Patient/a/1"}));
  EXPECT_TRUE(h->versions[0].deleted);
  EXPECT_EQ(h->versions[0].json, "");
  EXPECT_EQ(h->versions[1].json, Json("Patient", "a", 2));
  ASSERT_TRUE(h->total.has_value());
  EXPECT_EQ(*h->total, 3);
  EXPECT_EQ(h->next, "");

  q.limit = 2;
  auto p1 = s_->History(q);
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(Keys(*p1), (std::vector<std::string>{"Patient/a/3", "Patient/a/2"}));
  ASSERT_NE(p1->next, "");
  q.after = p1->next;
  auto p2 = s_->History(q);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(Keys(*p2), (std::vector<std::string>{"Patient/a/1"}));
  EXPECT_EQ(p2->next, "");
  EXPECT_EQ(*p2->total, 3);

  HistoryQuery none;
  none.type = "Patient";
  none.id = "zzz";
  auto n = s_->History(none);
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->versions.empty());
  EXPECT_EQ(*n->total, 0);
}

TEST_F(HistoryTest, SinceAndAt) {
  HistoryQuery q;
  q.type = "Patient";
  q.id = "a";
  q.since_us = 300;
  auto h = s_->History(q);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(Keys(*h), (std::vector<std::string>{"Patient/a/3", "Patient/a/2"}));
  EXPECT_EQ(*h->total, 2);

  HistoryQuery at;
  at.type = "Patient";
  at.id = "a";
  at.at_us = 350;
  h = s_->History(at);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(Keys(*h), (std::vector<std::string>{"Patient/a/2"}));

  HistoryQuery sys_at;
  sys_at.at_us = 450;
  h = s_->History(sys_at);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(Keys(*h), (std::vector<std::string>{"Observation/o/1", "Patient/a/2", "Patient/b/1"}));
  sys_at.at_us = 99;
  h = s_->History(sys_at);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->versions.empty());
}

TEST_F(HistoryTest, TypeAndSystem) {
  HistoryQuery type;
  type.type = "Patient";
  auto h = s_->History(type);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(Keys(*h),
            (std::vector<std::string>{"Patient/a/3", "Patient/a/2", "Patient/b/1", "Patient/a/1"}));
  EXPECT_FALSE(h->total.has_value());

  HistoryQuery sys;
  sys.since_us = 200;
  h = s_->History(sys);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(Keys(*h), (std::vector<std::string>{"Patient/a/3", "Observation/o/1", "Patient/a/2",
                                                "Patient/b/1"}));

  HistoryQuery paged;
  paged.limit = 2;
  std::vector<std::string> all;
  for (int i = 0; i < 10; ++i) {
    auto p = s_->History(paged);
    ASSERT_TRUE(p.ok());
    for (auto& k : Keys(*p)) all.push_back(k);
    if (p->next.empty()) break;
    paged.after = p->next;
  }
  EXPECT_EQ(all, (std::vector<std::string>{"Patient/a/3", "Observation/o/1", "Patient/a/2",
                                           "Patient/b/1", "Patient/a/1"}));
}

TEST_F(HistoryTest, BadCursorsAndQueries) {
  HistoryQuery q;
  q.after = "garbage!";
  EXPECT_EQ(s_->History(q).status().code(), "GM-STORE-030");
  HistoryQuery inst;
  inst.type = "Patient";
  inst.id = "a";
  inst.limit = 1;
  auto p = s_->History(inst);
  ASSERT_TRUE(p.ok());
  HistoryQuery sys;
  sys.after = p->next;  // an instance cursor is not a system cursor
  EXPECT_EQ(s_->History(sys).status().code(), "GM-STORE-030");
  HistoryQuery no_type;
  no_type.id = "a";
  EXPECT_EQ(s_->History(no_type).status().code(), "GM-STORE-032");
}

TEST(SqliteStore, HistoryPagingIsStableUnderConcurrentWrites) {
  TempDir dir;
  auto s = OpenStore(dir.path());
  std::set<std::string> before;
  for (int i = 0; i < 60; ++i) {
    std::string id = "r" + std::to_string(i % 20);
    int64_t v = i / 20 + 1;
    ASSERT_TRUE(PutOne(*s, MakePut("Patient", id, v, kT0 + i)).ok());
    before.insert("Patient/" + id + "/" + std::to_string(v));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        std::string id = "w" + std::to_string(t) + "-" + std::to_string(i);
        // New versions land both after and (by their timestamps) inside the
        // range already paged through.
        int64_t lu = (i % 2) ? kT0 + 1000 + i : kT0 + (i % 60);
        if (PutOne(*s, MakePut("Patient", id, 1, lu)).ok()) ++written;
      }
    });
  }
  // Page only once the writers are writing, so pages and writes interleave.
  for (int i = 0; i < 10000 && written.load() < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (std::string type : {std::string(), std::string("Patient")}) {
    HistoryQuery q;
    q.type = type;
    q.limit = 7;
    std::vector<std::string> seen;
    for (int page = 0; page < 10000; ++page) {
      auto p = s->History(q);
      ASSERT_TRUE(p.ok()) << p.status().message();
      for (const ResourceVersion& v : p->versions) {
        seen.push_back(v.type + "/" + v.id + "/" + std::to_string(v.version));
      }
      if (p->next.empty()) break;
      q.after = p->next;
      // Let writers interleave between pages.
      std::this_thread::yield();
    }
    std::set<std::string> unique(seen.begin(), seen.end());
    EXPECT_EQ(unique.size(), seen.size()) << "duplicates across pages";
    for (const std::string& k : before) EXPECT_EQ(unique.count(k), 1u) << k;
  }
  stop = true;
  for (auto& t : writers) t.join();
  EXPECT_GT(written.load(), 0);
}

TEST(SqliteStore, CompartmentListsCurrentMembersPaged) {
  TempDir dir;
  auto s = OpenStore(dir.path());
  ASSERT_TRUE(PutOne(*s, MakePut("Patient", "p1", 1, kT0, {}, {"p1"})).ok());
  ASSERT_TRUE(PutOne(*s, MakePut("Observation", "o1", 1, kT0, {}, {"p1"})).ok());
  ASSERT_TRUE(PutOne(*s, MakePut("Observation", "o2", 1, kT0, {}, {"p2", "p1"})).ok());
  ASSERT_TRUE(PutOne(*s, MakePut("Observation", "o3", 1, kT0, {}, {"p2"})).ok());
  ASSERT_TRUE(PutOne(*s, MakePut("Condition", "c1", 1, kT0, {}, {"p1"})).ok());
  ASSERT_TRUE(PutOne(*s, MakePut("Condition", "c2", 1, kT0, {}, {"p1"})).ok());
  ASSERT_TRUE(PutOne(*s, MakeDelete("Condition", "c2", 2, kT0 + 1)).ok());
  // o1 moves from p1 to p2.
  ASSERT_TRUE(PutOne(*s, MakePut("Observation", "o1", 2, kT0 + 2, {}, {"p2"})).ok());

  auto all = s->Compartment("p1", {}, 10, "");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Sorted(Ids(all->resources)), (std::vector<std::string>{"c1", "o2", "p1"}));
  EXPECT_EQ(all->next, "");
  for (const ResourceVersion& r : all->resources) EXPECT_EQ(r.json, Json(r.type, r.id, 1));

  auto obs = s->Compartment("p2", {"Observation"}, 10, "");
  ASSERT_TRUE(obs.ok());
  EXPECT_EQ(Sorted(Ids(obs->resources)), (std::vector<std::string>{"o1", "o2", "o3"}));

  std::vector<std::string> paged;
  std::string after;
  for (int i = 0; i < 10; ++i) {
    auto p = s->Compartment("p2", {"Observation", "Condition"}, 2, after);
    ASSERT_TRUE(p.ok());
    for (auto& id : Ids(p->resources)) paged.push_back(id);
    if (p->next.empty()) break;
    after = p->next;
  }
  EXPECT_EQ(Sorted(paged), (std::vector<std::string>{"o1", "o2", "o3"}));
  EXPECT_EQ(s->Compartment("p2", {}, 2, "bogus").status().code(), "GM-STORE-030");
}

TEST(SqliteStore, ReopenKeepsEverything) {
  TempDir dir;
  {
    auto s = OpenStore(dir.path());
    ASSERT_TRUE(PutOne(*s, MakePut("Patient", "p1", 1, kT0, {Token("identifier", "urn:fnr", "123")},
                                   {"p1"}))
                    .ok());
    ASSERT_TRUE(PutOne(*s, MakePut("Patient", "p1", 2, kT0 + 1,
                                   {Token("identifier", "urn:fnr", "456")}, {"p1"}))
                    .ok());
    ASSERT_TRUE(PutOne(*s, MakePut("Observation", "o1", 1, kT0 + 2,
                                   {Reference("subject", "Patient", "p1")}, {"p1"}))
                    .ok());
    s->Close();
  }
  auto s = OpenStore(dir.path());
  ASSERT_NE(s, nullptr);
  auto r = s->Read("Patient", "p1");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->version, 2);
  auto v1 = s->ReadVersion("Patient", "p1", 1);
  ASSERT_TRUE(v1.ok() && v1->has_value());
  EXPECT_EQ((*v1)->json, Json("Patient", "p1", 1));

  Query q;
  q.type = "Patient";
  Clause c;
  c.op = Clause::Op::kTokenEq;
  c.param = "identifier";
  c.any_of.push_back(CodeValue("456", "urn:fnr"));
  q.clauses.push_back(c);
  auto found = s->Search(q);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(Ids(found->resources), (std::vector<std::string>{"p1"}));
  q.clauses[0].any_of[0].code = "123";  // index rows describe the current version only
  found = s->Search(q);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->resources.empty());

  // New parameters and the interned ones keep working after reopening.
  ASSERT_TRUE(PutOne(*s, MakePut("Observation", "o2", 1, kT0 + 3,
                                 {Reference("subject", "Patient", "p1"),
                                  Token("code", "http://loinc.org", "1-1")},
                                 {"p1"}))
                  .ok());
  Query refs;
  refs.type = "Observation";
  Clause rc;
  rc.op = Clause::Op::kReference;
  rc.param = "subject";
  rc.any_of.push_back(CodeValue("p1", "Patient"));
  refs.clauses.push_back(rc);
  auto obs = s->Search(refs);
  ASSERT_TRUE(obs.ok());
  EXPECT_EQ(Sorted(Ids(obs->resources)), (std::vector<std::string>{"o1", "o2"}));
  auto stats = s->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->resources, 3);
  EXPECT_EQ(stats->versions, 4);
  EXPECT_GT(stats->bytes, 0);
}

void SetSchemaVersion(const std::string& dir, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir + "/grunnmur.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

TEST(SqliteStore, PutReportsTheCompartmentsItReplaced) {
  TempDir dir;
  auto s = OpenStore(dir.path());
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
  ASSERT_TRUE(put(MakePut("Observation", "o1", 1, kT0, {}, {"p1", "p3"})).ok());
  ASSERT_TRUE(put(MakePut("Observation", "o1", 2, kT0 + 1, {}, {"p2"})).ok());
  ASSERT_TRUE(put(MakeDelete("Observation", "o1", 3, kT0 + 2)).ok());
  ASSERT_TRUE(put(MakePut("Observation", "o1", 4, kT0 + 3, {}, {"p4"})).ok());
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_TRUE(seen[0].empty());                                   // new
  EXPECT_EQ(seen[1], (std::vector<std::string>{"p1", "p3"}));   // update
  EXPECT_EQ(seen[2], (std::vector<std::string>{"p2"}));         // deletion
  EXPECT_TRUE(seen[3].empty());                                   // after a deletion
}

// The audit outbox commits and rolls back with the writes of its transaction.
TEST(SqliteStore, AuditOutboxCommitsWithItsWrite) {
  TempDir dir;
  auto s = OpenStore(dir.path());
  AuditOutboxRow row{.key = "k1", .patient_id = "p1", .time_us = kT0, .event = "{\"a\":1}"};
  ASSERT_TRUE(s->Write([&](Txn& txn) -> Status {
                 GM_RETURN_IF_ERROR(txn.Put(MakePut("Patient", "p1", 1, kT0)));
                 return txn.StageAudit(row);
               }).ok());
  // A failing write keeps neither its version nor its audit row.
  Status failed = s->Write([&](Txn& txn) -> Status {
    AuditOutboxRow r2 = row;
    r2.key = "k2";
    GM_RETURN_IF_ERROR(txn.StageAudit(r2));
    return txn.Put(MakePut("Patient", "p1", 5, kT0));  // wrong version: conflict
  });
  EXPECT_EQ(failed.code(), "GM-STORE-010");
  // Keys are unique: staging the same key again fails the write.
  Status dup = s->Write([&](Txn& txn) { return txn.StageAudit(row); });
  EXPECT_FALSE(dup.ok());
  EXPECT_EQ(s->Write([&](Txn& txn) {
               return txn.StageAudit(AuditOutboxRow{.key = "", .patient_id = "p", .event = "x"});
             }).code(),
            "GM-STORE-011");
  ASSERT_TRUE(s->Write([&](Txn& txn) {
                 return txn.StageAudit(AuditOutboxRow{.key = "k3", .patient_id = "p2",
                                                      .time_us = kT0 + 1, .event = "{}"});
               }).ok());
  auto pending = s->PendingAudit(10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].key, "k1");
  EXPECT_EQ((*pending)[0].patient_id, "p1");
  EXPECT_EQ((*pending)[0].time_us, kT0);
  EXPECT_EQ((*pending)[0].event, "{\"a\":1}");
  EXPECT_EQ((*pending)[1].key, "k3");
  EXPECT_LT((*pending)[0].seq, (*pending)[1].seq);
  auto one = s->PendingAudit(1);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  ASSERT_TRUE(s->Write([&](Txn& txn) {
                 return txn.RemoveAudit({"k1", "unknown"});
               }).ok());
  pending = s->PendingAudit(10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].key, "k3");
  // Survives reopening.
  s.reset();
  auto again = OpenStore(dir.path());
  pending = again->PendingAudit(10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
}

TEST(SqliteStore, RefusesNewerSchemaAndForeignFiles) {
  TempDir dir;
  {
    auto s = OpenStore(dir.path());
    ASSERT_TRUE(PutOne(*s, MakePut("Patient", "p1", 1, kT0)).ok());
  }
  SetSchemaVersion(dir.path(), "UPDATE schema_version SET version = 99");
  SqliteOptions o;
  o.directory = dir.path();
  auto refused = OpenSqlite(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().category(), ErrorCategory::kUnavailable);
  EXPECT_EQ(refused.status().code(), "GM-STORE-002");
  // Refusing changed nothing: restoring the version makes it usable again.
  SetSchemaVersion(dir.path(), "UPDATE schema_version SET version = 2");
  {
    auto ok = OpenSqlite(o);
    ASSERT_TRUE(ok.ok());
    auto r = (*ok)->Read("Patient", "p1");
    ASSERT_TRUE(r.ok() && r->has_value());
  }
  // A version 1 database (before the audit outbox) is migrated and keeps its data.
  SetSchemaVersion(dir.path(), "DROP TABLE audit_outbox; UPDATE schema_version SET version = 1");
  {
    auto ok = OpenSqlite(o);
    ASSERT_TRUE(ok.ok()) << ok.status().message();
    auto r = (*ok)->Read("Patient", "p1");
    ASSERT_TRUE(r.ok() && r->has_value());
    ASSERT_TRUE((*ok)->Write([](Txn& txn) {
                      return txn.StageAudit(
                          AuditOutboxRow{.key = "k", .patient_id = "p1", .event = "{}"});
                    }).ok());
    auto pending = (*ok)->PendingAudit(5);
    ASSERT_TRUE(pending.ok());
    EXPECT_EQ(pending->size(), 1u);
  }
  // Reopening does not migrate again (the migration recorded version 2).
  auto ok = OpenSqlite(o);
  ASSERT_TRUE(ok.ok());

  TempDir foreign;
  SetSchemaVersion(foreign.path(), "CREATE TABLE t(x)");
  o.directory = foreign.path();
  auto f = OpenSqlite(o);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), "GM-STORE-003");
}

TEST(SqliteStore, CloseDrainsAndThenRefuses) {
  TempDir dir;
  auto s = OpenStore(dir.path());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, closed{0}, other{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        Status st = PutOne(
            *s, MakePut("Patient", "t" + std::to_string(t) + "-" + std::to_string(i), 1, kT0));
        if (st.ok()) {
          ++ok;
        } else if (st.code() == "GM-STORE-021") {
          ++closed;
        } else {
          ++other;
        }
      }
    });
  }
  s->Close();
  for (auto& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok + closed, 160);
  Status after = PutOne(*s, MakePut("Patient", "late", 1, kT0));
  EXPECT_EQ(after.category(), ErrorCategory::kUnavailable);
  EXPECT_EQ(after.code(), "GM-STORE-021");
  EXPECT_EQ(s->Read("Patient", "late").status().category(), ErrorCategory::kUnavailable);
  s->Close();  // idempotent

  // Every acknowledged write is there after reopening.
  auto again = OpenStore(dir.path());
  auto stats = again->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->resources, ok.load());
}

// A child process writes as fast as it can and reports each acknowledged id
// through a pipe; the parent kills it with SIGKILL mid-stream and then checks
// that every acknowledged write survived.
TEST(SqliteStore, AcknowledgedWritesSurviveKill9) {
  TempDir dir;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    SqliteOptions o;
    o.directory = dir.path();
    auto s = OpenSqlite(o);
    if (!s.ok()) _exit(2);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0;; ++i) {
          std::string id = "k" + std::to_string(t) + "-" + std::to_string(i);
          if (!PutOne(**s, MakePut("Patient", id, 1, kT0)).ok()) _exit(3);
          std::string line = id + "\n";
          if (write(fds[1], line.data(), line.size()) != ssize_t(line.size())) _exit(4);
        }
      });
    }
    for (auto& t : threads) t.join();
    _exit(0);
  }
  close(fds[1]);
  std::string acked;
  char buf[4096];
  size_t lines = 0;
  while (lines < 200) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    ASSERT_GT(n, 0) << "child stopped early";
    acked.append(buf, size_t(n));
    lines = size_t(std::count(acked.begin(), acked.end(), '\n'));
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status));
  while (true) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    acked.append(buf, size_t(n));
  }
  close(fds[0]);

  auto s = OpenStore(dir.path());
  ASSERT_NE(s, nullptr);
  size_t checked = 0;
  size_t start = 0;
  while (true) {
    size_t end = acked.find('\n', start);
    if (end == std::string::npos) break;
    std::string id = acked.substr(start, end - start);
    start = end + 1;
    auto r = s->Read("Patient", id);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->has_value()) << "acknowledged but lost: " << id;
    ++checked;
  }
  EXPECT_GE(checked, 200u);
}

}  // namespace
}  // namespace gm::store::testing
