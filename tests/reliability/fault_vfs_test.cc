// Disk trouble at the storage layer (issue 10, item 2): the fault-injecting
// SQLite VFS of the store tests (tests/store/fault_vfs.h, selected through
// SqliteInternalOptions::vfs) makes fsync or write fail on demand. A write
// whose commit cannot be made durable must fail with kUnavailable (the server
// maps it to 503) and must not be visible; the store must keep working and
// accept writes again once the fault is gone; after reopening, everything
// acknowledged is there and `grunnmur check` finds the store clean.
#include <gtest/gtest.h>

#include "core/time.h"
#include "fhir/model.h"
#include "search/fhirpath_indexer.h"
#include "store/sqlite/sqlite_store.h"
#include "tests/store/fault_vfs.h"
#include "tests/reliability/util.h"

namespace gm::testing {
namespace {

store::PutRequest BasicPut(const std::string& id, int64_t version) {
  store::PutRequest put;
  put.resource.type = "Basic";
  put.resource.id = id;
  put.resource.version = version;
  put.resource.last_updated_us = 1764000000000000 + version * 1000;
  put.resource.json = R"({"resourceType":"Basic","id":")" + id + R"(","meta":{"versionId":")" +
                      std::to_string(version) + R"(","lastUpdated":")" +
                      time::FormatInstant(put.resource.last_updated_us) +
                      R"("},"code":{"text":"fault"}})";
  // The index and compartments the write path would store (grunnmur check compares them).
  static const search::FhirPathIndexer indexer(fhir::Model::R4());
  auto doc = json::Parse(put.resource.json);
  auto extracted = indexer.Extract("Basic", id, *doc);
  if (extracted.ok()) {
    put.index = std::move(extracted->index);
    put.compartments = std::move(extracted->compartments);
  }
  return put;
}

class FaultVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::testing::FaultVfsFailSyncs(false);
    store::testing::FaultVfsFailWrites(false);
    auto s = store::sqlite::SqliteStore::Open(store::SqliteOptions{.directory = dir_.path()},
                                              store::sqlite::SqliteInternalOptions{.vfs = store::testing::FaultVfsName()});
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store::testing::FaultVfsFailSyncs(false);
    store::testing::FaultVfsFailWrites(false);
  }
  Status Put(const std::string& id, int64_t version) {
    return store_->Write([&](store::Txn& txn) { return txn.Put(BasicPut(id, version)); });
  }
  bool Present(const std::string& id) {
    auto r = store_->Read("Basic", id);
    return r.ok() && r->has_value();
  }
  // Reopens with the default VFS and runs `grunnmur check`.
  void ReopenAndCheck(const std::vector<std::string>& present, const std::vector<std::string>& absent) {
    store_->Close();
    store_.reset();
    {
      auto s = store::OpenSqlite(store::SqliteOptions{.directory = dir_.path()});
      ASSERT_TRUE(s.ok());
      for (const std::string& id : present) {
        auto r = (*s)->Read("Basic", id);
        EXPECT_TRUE(r.ok() && r->has_value()) << "acknowledged " << id << " lost";
      }
      for (const std::string& id : absent) {
        auto r = (*s)->Read("Basic", id);
        EXPECT_TRUE(r.ok() && !r->has_value()) << "refused " << id << " present";
      }
      (*s)->Close();
    }
    CommandResult check = RunCheck(dir_.path());
    EXPECT_EQ(check.exit_code, 0) << check.output;
  }
  TempDir dir_;
  std::unique_ptr<store::sqlite::SqliteStore> store_;
};

TEST_F(FaultVfsTest, FailedFsyncIsNotAcknowledgedAndTheStoreRecovers) {
  ASSERT_TRUE(Put("a", 1).ok());
  store::testing::FaultVfsFailSyncs(true);
  Status st = Put("b", 1);
  store::testing::FaultVfsFailSyncs(false);
  ASSERT_FALSE(st.ok()) << "a write whose fsync failed was acknowledged";
  EXPECT_EQ(st.category(), ErrorCategory::kUnavailable) << st.code() << " " << st.message();
  EXPECT_FALSE(Present("b"));
  EXPECT_TRUE(Present("a"));
  // The fault is gone: the same write succeeds, and later ones too.
  ASSERT_TRUE(Put("b", 1).ok());
  ASSERT_TRUE(Put("c", 1).ok());
  ASSERT_TRUE(Put("a", 2).ok());
  std::printf("[fault-vfs] fsync failure: %s %s, store recovered\n", st.code().c_str(),
              st.message().c_str());
  ReopenAndCheck({"a", "b", "c"}, {});
}

TEST_F(FaultVfsTest, FailedWriteIsNotAcknowledgedAndTheStoreRecovers) {
  ASSERT_TRUE(Put("a", 1).ok());
  store::testing::FaultVfsFailWrites(true);
  Status st = Put("w", 1);
  Status st2 = Put("x", 1);
  store::testing::FaultVfsFailWrites(false);
  ASSERT_FALSE(st.ok());
  ASSERT_FALSE(st2.ok());
  EXPECT_EQ(st.category(), ErrorCategory::kUnavailable) << st.code() << " " << st.message();
  EXPECT_FALSE(Present("w"));
  ASSERT_TRUE(Put("y", 1).ok());
  std::printf("[fault-vfs] write failure (SQLITE_FULL): %s %s, store recovered\n",
              st.code().c_str(), st.message().c_str());
  ReopenAndCheck({"a", "y"}, {"w", "x"});
}

}  // namespace
}  // namespace gm::testing
