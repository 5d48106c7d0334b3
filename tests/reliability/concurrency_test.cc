// Concurrency (issue 10, item 6), against the real server:
//  - 16 clients x rounds of the same conditional create at once: exactly one
//    resource per round (0 duplicates);
//  - 16 clients x If-Match read-modify-write of one counter: every 2xx update
//    incremented it, so the final value equals the number of 2xx (0 lost
//    updates) and the version equals that number + 1;
//  - 16 clients of mixed reads and writes, then a consistency check: every
//    acknowledged create is readable and found by search, every read of a
//    resource answered 200 with the content last acknowledged to that client
//    (or newer), and `grunnmur check` finds the store clean.
// Short mode by default; GM_LONG=1 runs more rounds.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/reliability/util.h"

namespace gm::testing {
namespace {

constexpr int kClients = 16;

class ConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override { server_ = std::make_unique<ServerProcess>(dir_.path()); }
  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(ConcurrencyTest, ConditionalCreatesMakeNoDuplicates) {
  const int rounds = LongMode() ? 200 : 25;
  std::barrier sync(kClients);
  std::atomic<int> created{0}, matched{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&] {
      HttpClient c(server_->port());
      for (int r = 0; r < rounds; ++r) {
        const std::string value = "cc-" + std::to_string(r);
        sync.arrive_and_wait();  // all 16 send the same create at once
        HttpResponse res = c.Post(
            "/Patient",
            R"({"resourceType":"Patient","identifier":[{"system":"urn:test:cc","value":")" +
                value + R"("}]})",
            {{"If-None-Exist", "identifier=urn:test:cc|" + value}});
        if (res.status == 201) {
          ++created;
        } else if (res.status == 200) {
          ++matched;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), rounds);
  EXPECT_EQ(matched.load(), rounds * (kClients - 1));
  EXPECT_EQ(other.load(), 0);
  HttpClient c(server_->port());
  int duplicates = 0;
  for (int r = 0; r < rounds; ++r) {
    HttpResponse res =
        c.Get("/Patient?identifier=urn:test:cc|cc-" + std::to_string(r) + "&_total=accurate");
    ASSERT_EQ(res.status, 200);
    const json::Value* e = res.json().find("entry");
    size_t n = e == nullptr ? 0 : e->size();
    EXPECT_EQ(n, 1u) << "round " << r;
    if (n > 1) duplicates += static_cast<int>(n - 1);
  }
  std::printf("[concurrency] conditional create: %d rounds x %d clients, %d created, %d "
              "duplicates\n", rounds, kClients, created.load(), duplicates);
}

int64_t CounterOf(const json::Value& basic) {
  const json::Value* ext = basic.find("extension");
  if (ext == nullptr || ext->size() == 0) return -1;
  return std::stoll(ext->array()[0].find("valueInteger")->str());
}

std::string BasicWithCounter(int64_t n) {
  return R"({"resourceType":"Basic","id":"counter","code":{"text":"counter"},"extension":[{"url":"urn:test:counter","valueInteger":)" +
         std::to_string(n) + "}]}";
}

TEST_F(ConcurrencyTest, IfMatchUpdatesLoseNothing) {
  const int per_client = LongMode() ? 100 : 12;
  {
    HttpClient c(server_->port());
    ASSERT_EQ(c.Put("/Basic/counter", BasicWithCounter(0)).status, 201);
  }
  std::atomic<int64_t> ok{0}, conflicts{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&] {
      HttpClient c(server_->port());
      for (int i = 0; i < per_client; ++i) {
        HttpResponse r = c.Get("/Basic/counter");
        if (r.status != 200) {
          ++other;
          continue;
        }
        const int64_t n = CounterOf(r.json());
        HttpResponse u =
            c.Put("/Basic/counter", BasicWithCounter(n + 1), {{"If-Match", r.header("etag")}});
        if (u.status == 200) {
          ++ok;
        } else if (u.status == 412 || u.status == 409) {
          ++conflicts;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  HttpClient c(server_->port());
  HttpResponse r = c.Get("/Basic/counter");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(CounterOf(r.json()), ok.load()) << "lost updates";
  EXPECT_EQ(std::string(r.json().find("meta")->get_string("versionId")),
            std::to_string(ok.load() + 1));
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(ok.load(), 0);
  std::printf("[concurrency] If-Match: %d clients x %d, %lld updates ok, %lld conflicts (412), "
              "final counter %lld, 0 lost\n", kClients, per_client,
              static_cast<long long>(ok.load()), static_cast<long long>(conflicts.load()),
              static_cast<long long>(CounterOf(r.json())));
}

TEST_F(ConcurrencyTest, MixedReadWriteStaysConsistent) {
  const int ops = LongMode() ? 400 : 40;
  std::mutex mu;
  std::map<std::string, int> acked;  // Observation id -> value last acknowledged
  std::atomic<int> errors{0}, stale{0}, reads{0}, writes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(server_->port());
      std::map<std::string, int> mine;  // what this client wrote last, per id
      std::mt19937 rng(Seed(7) + t);
      for (int i = 0; i < ops; ++i) {
        const int what = rng() % 4;
        if (what == 0 || mine.empty()) {  // create
          HttpResponse r = c.Post(
              "/Observation",
              R"({"resourceType":"Observation","status":"final","code":{"text":"mixed-t)" +
                  std::to_string(t) + R"("},"valueInteger":0})");
          if (r.status != 201) {
            ++errors;
            continue;
          }
          ++writes;
          mine[std::string(r.json().get_string("id"))] = 0;
        } else if (what == 1) {  // update one of mine (only this client writes it)
          auto it = std::next(mine.begin(), rng() % mine.size());
          HttpResponse r = c.Put(
              "/Observation/" + it->first,
              R"({"resourceType":"Observation","id":")" + it->first +
                  R"(","status":"final","code":{"text":"mixed-t)" + std::to_string(t) +
                  R"("},"valueInteger":)" + std::to_string(it->second + 1) + "}");
          if (r.status != 200) {
            ++errors;
            continue;
          }
          ++writes;
          ++it->second;
        } else if (what == 2) {  // read one of mine: never older than acknowledged
          auto it = std::next(mine.begin(), rng() % mine.size());
          HttpResponse r = c.Get("/Observation/" + it->first);
          ++reads;
          if (r.status != 200) {
            ++errors;
            continue;
          }
          if (std::stoi(r.json().find("valueInteger")->str()) != it->second) ++stale;
        } else {  // search mine: every acknowledged create is found
          HttpResponse r = c.Get("/Observation?code:text=mixed-t" + std::to_string(t) +
                                 "&_count=1000&_elements=id");
          ++reads;
          if (r.status != 200) {
            ++errors;
            continue;
          }
          const json::Value* e = r.json().find("entry");
          if ((e == nullptr ? 0 : e->size()) < mine.size()) ++stale;
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      acked.insert(mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(stale.load(), 0) << "a read missed an acknowledged write";
  HttpClient c(server_->port());
  size_t found = 0;
  ASSERT_TRUE(ForEachEntry(c, "/Observation?_count=500", [&](const json::Value& e) {
    const json::Value& o = *e.find("resource");
    auto it = acked.find(std::string(o.get_string("id")));
    ASSERT_TRUE(it != acked.end()) << "unknown observation";
    EXPECT_EQ(std::stoi(o.find("valueInteger")->str()), it->second);
    EXPECT_EQ(std::string(o.find("meta")->get_string("versionId")),
              std::to_string(it->second + 1));
    ++found;
  }));
  EXPECT_EQ(found, acked.size());
  server_->Terminate();
  CommandResult check = RunCheck(dir_.path());
  EXPECT_EQ(check.exit_code, 0) << check.output;
  std::printf("[concurrency] mixed: %d clients, %d writes, %d reads, %zu resources, 0 stale, "
              "check exit %d\n", kClients, writes.load(), reads.load(), acked.size(),
              check.exit_code);
}

}  // namespace
}  // namespace gm::testing
