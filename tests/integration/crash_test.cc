// Durability: kill -9 while transactions are in flight. After a restart every
// acknowledged transaction is fully there and no transaction is half applied.
#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

std::string TransactionFor(const std::string& key) {
  return R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:7d1c0f0e-0000-4000-8000-000000000001",
     "resource":{"resourceType":"Patient","identifier":[{"system":"urn:test:crash","value":")" + key + R"("}]},
     "request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Observation","status":"final","code":{"text":")" + key + R"("},
       "subject":{"reference":"urn:uuid:7d1c0f0e-0000-4000-8000-000000000001"}},
     "request":{"method":"POST","url":"Observation"}},
    {"resource":{"resourceType":"Observation","status":"preliminary","code":{"text":")" + key + R"("},
       "subject":{"reference":"urn:uuid:7d1c0f0e-0000-4000-8000-000000000001"}},
     "request":{"method":"POST","url":"Observation"}}]})";
}

int64_t CountType(HttpClient& c, const std::string& type) {
  int64_t n = 0;
  std::string next = "/" + type + "/_history?_count=1000";
  while (!next.empty()) {
    HttpResponse r = c.Get(next);
    if (r.status != 200) return -1;
    json::Value b = r.json();
    if (const json::Value* e = b.find("entry")) n += static_cast<int64_t>(e->size());
    next.clear();
    for (const auto& l : b.find("link")->array()) {
      if (l.get_string("relation") == "next") {
        std::string url(l.get_string("url"));
        next = url.substr(url.find('/', 8));
      }
    }
  }
  return n;
}

TEST(CrashTest, KillNineLosesNothingAcknowledged) {
  TempDir dir;
  std::mt19937 rng(12345);
  std::vector<std::string> acknowledged_locations;
  std::mutex mu;
  const int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    auto server = std::make_unique<ServerProcess>(dir.path());
    std::atomic<int> acked{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t) {
      writers.emplace_back([&, t] {
        try {
          HttpClient c(server->port());
          for (int n = 0; !stop.load(); ++n) {
            std::string key = "r" + std::to_string(round) + "-t" + std::to_string(t) + "-" +
                              std::to_string(n);
            HttpResponse r = c.Post("/", TransactionFor(key));
            if (r.status != 200) continue;
            std::lock_guard<std::mutex> lock(mu);
            for (const auto& e : r.json().find("entry")->array()) {
              std::string loc(e.find("response")->get_string("location"));
              acknowledged_locations.push_back(loc.substr(0, loc.find("/_history")));
            }
            ++acked;
          }
        } catch (const std::exception&) {
          // The server was killed under us: expected.
        }
      });
    }
    int threshold = 20 + static_cast<int>(rng() % 40);
    while (acked.load() < threshold) std::this_thread::yield();
    server->Kill9();
    stop = true;
    for (auto& w : writers) w.join();
  }
  ServerProcess server(dir.path());
  HttpClient c(server.port());
  for (const std::string& loc : acknowledged_locations) {
    EXPECT_EQ(c.Get("/" + loc).status, 200) << "lost acknowledged " << loc;
  }
  int64_t patients = CountType(c, "Patient");
  int64_t observations = CountType(c, "Observation");
  EXPECT_GT(patients, 0);
  EXPECT_EQ(observations, 2 * patients) << "a transaction was half applied";
  EXPECT_GE(patients * 3, static_cast<int64_t>(acknowledged_locations.size()));
}

}  // namespace
}  // namespace gm::testing
