// Disk trouble (issue 10, item 2): the data directory is a size-limited tmpfs
// (mounted by the test; skipped when mounting is not permitted). A ballast
// file fills it until writes fail with ENOSPC. Then: every write refused is a
// clear 5xx with an OperationOutcome carrying a GM-STORE code; nothing is
// acknowledged that is not stored; the server stays up and keeps answering
// reads; when the ballast is removed, writes succeed again; and after a kill -9
// and restart every acknowledged write is there, no refused one is, and
// `grunnmur check` finds the store clean.
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tests/reliability/util.h"

namespace gm::testing {
namespace {

class TmpfsDir {
 public:
  explicit TmpfsDir(const std::string& size) {
    dir_ = holder_.path() + "/data";
    std::filesystem::create_directories(dir_);
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~TmpfsDir() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& path() const { return dir_; }
  const std::string& error() const { return error_; }

 private:
  TempDir holder_;
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

int64_t FreeBytes(const std::string& dir) {
  struct statvfs s{};
  if (::statvfs(dir.c_str(), &s) != 0) return -1;
  return static_cast<int64_t>(s.f_bavail) * static_cast<int64_t>(s.f_frsize);
}

// Fills `path` with zeros until only `leave` bytes of the filesystem are free.
void WriteBallast(const std::string& path, int64_t leave) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  const std::string chunk(64 << 10, '\0');
  int64_t free = FreeBytes(std::filesystem::path(path).parent_path().string());
  while (free - static_cast<int64_t>(chunk.size()) > leave && out) {
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    out.flush();
    free -= static_cast<int64_t>(chunk.size());
  }
}

std::string BasicWith(const std::string& id, size_t filler) {
  return R"({"resourceType":"Basic","id":")" + id + R"(","code":{"text":")" +
         std::string(filler, 'x') + R"("}})";
}

TEST(DiskFullTest, FullDiskIsA5xxNothingFalselyAcknowledgedAndRecovers) {
  TmpfsDir fs("32m");
  if (!fs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (" << fs.error() << "); needs root";
  const std::string ballast = fs.path() + "/ballast";
  std::vector<std::string> acked, refused;
  int other = 0;
  std::string refusal_code;
  int refusal_status = 0;
  {
    ServerProcess server(fs.path());
    HttpClient c(server.port());
    // A few writes with space, then fill the disk.
    for (int i = 0; i < 5; ++i) {
      std::string id = "disk-a" + std::to_string(i);
      ASSERT_EQ(c.Put("/Basic/" + id, BasicWith(id, 1000)).status, 201);
      acked.push_back(id);
    }
    WriteBallast(ballast, 256 << 10);
    for (int i = 0; i < 200 && refused.size() < 5; ++i) {
      std::string id = "disk-b" + std::to_string(i);
      HttpResponse r = c.Put("/Basic/" + id, BasicWith(id, 50000));
      if (r.status == 201) {
        acked.push_back(id);
      } else if (r.status >= 500) {
        refused.push_back(id);
        refusal_status = r.status;
        const json::Value& oo = r.json();
        EXPECT_EQ(oo.get_string("resourceType"), "OperationOutcome") << r.body;
        if (const json::Value* issues = oo.find("issue"); issues && issues->size() > 0) {
          if (const json::Value* d = issues->array()[0].find("details")) {
            if (const json::Value* cs = d->find("coding"); cs && cs->size() > 0) {
              refusal_code = std::string(cs->array()[0].get_string("code"));
            }
          }
          if (refusal_code.empty()) refusal_code = std::string(issues->array()[0].get_string("diagnostics"));
        }
      } else {
        ++other;
      }
    }
    ASSERT_FALSE(refused.empty()) << "the disk never filled up";
    EXPECT_EQ(other, 0);
    EXPECT_TRUE(refusal_status == 503 || refusal_status == 507) << refusal_status;
    EXPECT_NE(refusal_code.find("GM-STORE-"), std::string::npos) << refusal_code;
    // Still up: reads of acknowledged writes work while the disk is full.
    EXPECT_EQ(::kill(server.pid(), 0), 0);
    EXPECT_EQ(c.Get("/Basic/" + acked.front()).status, 200);
    EXPECT_EQ(c.Get("/metadata").status, 200);
    for (const std::string& id : refused) EXPECT_EQ(c.Get("/Basic/" + id).status, 404) << id;

    // Space returns: writes succeed again.
    std::filesystem::remove(ballast);
    for (int i = 0; i < 5; ++i) {
      std::string id = "disk-c" + std::to_string(i);
      HttpResponse r = c.Put("/Basic/" + id, BasicWith(id, 50000));
      EXPECT_EQ(r.status, 201) << r.body.substr(0, 300);
      if (r.status == 201) acked.push_back(id);
    }
    server.Kill9();
  }
  {
    ServerProcess server(fs.path());
    HttpClient c(server.port());
    for (const std::string& id : acked) EXPECT_EQ(c.Get("/Basic/" + id).status, 200) << id;
    for (const std::string& id : refused) EXPECT_EQ(c.Get("/Basic/" + id).status, 404) << id;
  }
  CommandResult check = RunCheck(fs.path());
  EXPECT_EQ(check.exit_code, 0) << check.output;
  std::printf("[disk] tmpfs 32 MiB filled: %zu writes acknowledged (all present after kill -9), "
              "%zu refused with %d %s (none present), recovered after space returned\n",
              acked.size(), refused.size(), refusal_status, refusal_code.c_str());
}

}  // namespace
}  // namespace gm::testing
