// Group commit: batching, per-fn isolation inside a batch, serialised
// conditional creates, and commit failures that must never be acknowledged.
#include <atomic>
#include <thread>

#include "fault_vfs.h"
#include "store_test_util.h"

namespace gm::store::testing {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000;

// Holds the writer inside a fn until `n` other writes are queued behind it, so
// the next batch's membership is known without relying on timing.
class WriterGate {
 public:
  WriterGate(sqlite::SqliteStore& s, size_t n) : s_(s), n_(n) {
    thread_ = std::thread([this] {
      result_ = s_.Write([this](Txn&) {
        running_ = true;
        while (s_.Counters().queued < n_) std::this_thread::yield();
        if (on_release_) on_release_();
        return Status::Ok();
      });
    });
    while (!running_) std::this_thread::yield();
  }
  ~WriterGate() { Join(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  void OnRelease(std::function<void()> f) { on_release_ = std::move(f); }
  const Status& result() const { return result_; }

 private:
  sqlite::SqliteStore& s_;
  size_t n_;
  std::atomic<bool> running_{false};
  std::function<void()> on_release_;
  Status result_;
  std::thread thread_;
};

TEST(GroupCommit, QueuedWritesShareOneCommit) {
  TempDir dir;
  auto s = OpenStore(dir.path());
  const int64_t commits_before = s->Counters().commits;
  std::vector<Status> results(15);
  {
    WriterGate gate(*s, 15);
    std::vector<std::thread> threads;
    for (int i = 0; i < 15; ++i) {
      threads.emplace_back([&, i] {
        results[i] = PutOne(*s, MakePut("Patient", "p" + std::to_string(i), 1, kT0 + i));
      });
    }
    for (auto& t : threads) t.join();
    gate.Join();
    EXPECT_TRUE(gate.result().ok());
  }
  for (const Status& r : results) EXPECT_TRUE(r.ok()) << r.message();
  // The gate's own batch, then all 15 in one transaction.
  EXPECT_EQ(s->Counters().commits - commits_before, 2);
  EXPECT_EQ(s->Counters().writes_ok, 16);
  for (int i = 0; i < 15; ++i) {
    auto r = s->Read("Patient", "p" + std::to_string(i));
    ASSERT_TRUE(r.ok() && r->has_value());
    EXPECT_EQ((*r)->last_updated_us, kT0 + i);
  }
}

TEST(GroupCommit, BatchesRespectMaxBatch) {
  TempDir dir;
  auto s = OpenStore(dir.path(), {}, /*max_batch=*/4);
  {
    WriterGate gate(*s, 15);
    std::vector<std::thread> threads;
    for (int i = 0; i < 15; ++i) {
      threads.emplace_back([&, i] {
        EXPECT_TRUE(PutOne(*s, MakePut("Patient", "p" + std::to_string(i), 1, kT0)).ok());
      });
    }
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(s->Counters().commits, 1 + 4);  // 4 + 4 + 4 + 3
  auto stats = s->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->resources, 15);
}

TEST(GroupCommit, SixteenThreadsAllResultsCorrect) {
  TempDir dir;
  auto s = OpenStore(dir.path());
  constexpr int kThreads = 16, kPerThread = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Each thread creates resources and keeps updating one of its own.
        std::string own = "t" + std::to_string(t);
        Status a = PutOne(*s, MakePut("Patient", own + "-" + std::to_string(i), 1, kT0 + i,
                                      {Token("identifier", "urn:t", own)}));
        Status b = PutOne(*s, MakePut("Observation", own, i + 1, kT0 + i,
                                      {Token("code", "urn:c", std::to_string(i))}, {own}));
        if (!a.ok() || !b.ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto c = s->Counters();
  EXPECT_EQ(c.writes_ok, kThreads * kPerThread * 2);
  EXPECT_EQ(c.writes_failed, 0);
  EXPECT_LE(c.commits, c.writes_ok);
  auto stats = s->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->resources, kThreads * kPerThread + kThreads);
  EXPECT_EQ(stats->versions, kThreads * kPerThread * 2);
  for (int t = 0; t < kThreads; ++t) {
    std::string own = "t" + std::to_string(t);
    auto r = s->Read("Observation", own);
    ASSERT_TRUE(r.ok() && r->has_value());
    EXPECT_EQ((*r)->version, kPerThread);
    Query q;
    q.type = "Patient";
    q.limit = 1000;
    Clause cl;
    cl.op = Clause::Op::kTokenEq;
    cl.param = "identifier";
    cl.any_of.push_back(CodeValue(own, "urn:t"));
    q.clauses.push_back(cl);
    auto found = s->Search(q);
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(found->resources.size(), size_t(kPerThread));
    // Only the latest version of the observation is indexed.
    Query obs;
    obs.type = "Observation";
    Clause oc;
    oc.op = Clause::Op::kCompartment;
    oc.any_of.push_back(CodeValue(own));
    obs.clauses.push_back(oc);
    auto o = s->Search(obs);
    ASSERT_TRUE(o.ok());
    ASSERT_EQ(o->resources.size(), 1u);
    EXPECT_EQ(o->resources[0].version, kPerThread);
  }
}

TEST(GroupCommit, FailingFnLeavesNothingWhileBatchMatesCommit) {
  TempDir dir;
  auto s = OpenStore(dir.path());
  ASSERT_TRUE(PutOne(*s, MakePut("Patient", "existing", 1, kT0)).ok());
  const int64_t commits_before = s->Counters().commits;
  Status ok1, ok2, ok3, failing, conflict;
  {
    WriterGate gate(*s, 5);
    std::vector<std::thread> threads;
    threads.emplace_back([&] { ok1 = PutOne(*s, MakePut("Patient", "a", 1, kT0)); });
    threads.emplace_back([&] {
      failing = s->Write([&](Txn& txn) {
        GM_RETURN_IF_ERROR(txn.Put(MakePut("Patient", "doomed", 1, kT0,
                                           {Token("identifier", "urn:x", "doomed")}, {"doomed"})));
        GM_RETURN_IF_ERROR(txn.Put(MakePut("Patient", "existing", 2, kT0)));
        return Status::Error(ErrorCategory::kUnprocessable, "TEST-001", "business-rule",
                             "rejected after staging");
      });
    });
    threads.emplace_back([&] { ok2 = PutOne(*s, MakePut("Patient", "b", 1, kT0)); });
    threads.emplace_back([&] {
      conflict = s->Write([&](Txn& txn) {
        GM_RETURN_IF_ERROR(txn.Put(MakePut("Patient", "c-partial", 1, kT0)));
        return txn.Put(MakePut("Patient", "existing", 5, kT0));
      });
    });
    threads.emplace_back([&] { ok3 = PutOne(*s, MakePut("Patient", "c", 1, kT0)); });
    for (auto& t : threads) t.join();
  }
  EXPECT_TRUE(ok1.ok());
  EXPECT_TRUE(ok2.ok());
  EXPECT_TRUE(ok3.ok());
  EXPECT_EQ(failing.code(), "TEST-001");
  EXPECT_EQ(failing.category(), ErrorCategory::kUnprocessable);
  EXPECT_EQ(conflict.code(), "GM-STORE-010");
  EXPECT_EQ(s->Counters().commits - commits_before, 2);  // gate + one shared batch

  for (const char* id : {"a", "b", "c"}) {
    auto r = s->Read("Patient", id);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->has_value()) << id;
  }
  for (const char* id : {"doomed", "c-partial"}) {
    auto r = s->Read("Patient", id);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->has_value()) << id;
  }
  auto existing = s->Read("Patient", "existing");
  EXPECT_EQ((*existing)->version, 1);
  Query q;
  q.type = "Patient";
  Clause cl;
  cl.op = Clause::Op::kTokenEq;
  cl.param = "identifier";
  cl.any_of.push_back(CodeValue("doomed"));
  q.clauses.push_back(cl);
  auto found = s->Search(q);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->resources.empty());
  auto comp = s->Compartment("doomed", {}, 10, "");
  ASSERT_TRUE(comp.ok());
  EXPECT_TRUE(comp->resources.empty());
  // The parameter interned by the rolled-back fn is usable by later writes.
  ASSERT_TRUE(
      PutOne(*s, MakePut("Patient", "later", 1, kT0, {Token("identifier", "urn:x", "doomed")}))
          .ok());
  found = s->Search(q);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(Ids(found->resources), (std::vector<std::string>{"later"}));
}

TEST(GroupCommit, SixteenConcurrentConditionalCreatesMakeOneResource) {
  TempDir dir;
  auto s = OpenStore(dir.path());
  for (int round = 0; round < 5; ++round) {
    const std::string ident = "nin-" + std::to_string(round);
    Query q;
    q.type = "Patient";
    Clause cl;
    cl.op = Clause::Op::kTokenEq;
    cl.param = "identifier";
    cl.any_of.push_back(CodeValue(ident, "urn:oid:2.16.578.1.12.4.1.4.1"));
    q.clauses.push_back(cl);

    std::atomic<int> ready{0}, created{0}, existed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&, t] {
        ++ready;
        while (ready < 16) std::this_thread::yield();
        bool made = false;
        Status st = s->Write([&](Txn& txn) {
          made = false;
          auto matches = txn.Match(q, 2);
          if (!matches.ok()) return matches.status();
          if (!matches->empty()) return Status::Ok();
          made = true;
          return txn.Put(MakePut("Patient", ident + "-t" + std::to_string(t), 1, kT0,
                                 {Token("identifier", "urn:oid:2.16.578.1.12.4.1.4.1", ident)}));
        });
        EXPECT_TRUE(st.ok()) << st.message();
        (made ? created : existed)++;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(created.load(), 1);
    EXPECT_EQ(existed.load(), 15);
    auto found = s->Search(q);
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(found->resources.size(), 1u);
  }
  auto stats = s->Stats();
  EXPECT_EQ(stats->resources, 5);
}

class FaultTest : public ::testing::Test {
 protected:
  void TearDown() override {
    FaultVfsFailSyncs(false);
    FaultVfsFailWrites(false);
  }
};

TEST_F(FaultTest, FailedFsyncFailsTheWholeBatch) {
  TempDir dir;
  sqlite::SqliteInternalOptions internal;
  internal.vfs = FaultVfsName();
  auto s = OpenStore(dir.path(), internal);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(PutOne(*s, MakePut("Patient", "before", 1, kT0)).ok());

  std::vector<Status> results(5);
  Status gate_result;
  {
    WriterGate gate(*s, 5);
    gate.OnRelease([] { FaultVfsFailSyncs(true); });
    std::vector<std::thread> threads;
    for (int i = 0; i < 5; ++i) {
      threads.emplace_back([&, i] {
        results[i] = PutOne(*s, MakePut("Patient", "lost" + std::to_string(i), 1, kT0));
      });
    }
    for (auto& t : threads) t.join();
    gate.Join();
    gate_result = gate.result();
  }
  FaultVfsFailSyncs(false);
  // The gate's own transaction wrote nothing, so its COMMIT needed no fsync.
  EXPECT_TRUE(gate_result.ok());
  for (const Status& r : results) {
    EXPECT_EQ(r.category(), ErrorCategory::kUnavailable);
    EXPECT_EQ(r.code(), "GM-STORE-020");
  }
  EXPECT_EQ(s->Counters().failed_commits, 1);
  for (int i = 0; i < 5; ++i) {
    auto r = s->Read("Patient", "lost" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_FALSE(r->has_value());
  }
  // The store recovers once the disk does.
  ASSERT_TRUE(PutOne(*s, MakePut("Patient", "after", 1, kT0)).ok());
  s->Close();
  auto reopened = OpenStore(dir.path());
  for (const char* id : {"before", "after"}) {
    auto r = reopened->Read("Patient", id);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->has_value()) << id;
  }
}

TEST_F(FaultTest, DiskFullIsUnavailableAndRecovers) {
  TempDir dir;
  sqlite::SqliteInternalOptions internal;
  internal.vfs = FaultVfsName();
  auto s = OpenStore(dir.path(), internal);
  ASSERT_NE(s, nullptr);
  FaultVfsFailWrites(true);
  Status full = PutOne(*s, MakePut("Patient", "x", 1, kT0, {Token("identifier", "s", "x")}));
  FaultVfsFailWrites(false);
  EXPECT_EQ(full.category(), ErrorCategory::kUnavailable);
  EXPECT_FALSE(full.ok());
  auto r = s->Read("Patient", "x");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  ASSERT_TRUE(PutOne(*s, MakePut("Patient", "x", 1, kT0, {Token("identifier", "s", "x")})).ok());
  r = s->Read("Patient", "x");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->has_value());
}

}  // namespace
}  // namespace gm::store::testing
