// One grunnmur server per test suite (fresh data directory), shared by its tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/support/server_process.h"

namespace gm::testing {

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = new ServerProcess(dir_->path());
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
    server_ = nullptr;
    dir_ = nullptr;
  }
  void SetUp() override { client_ = std::make_unique<HttpClient>(server_->port()); }

  HttpClient& client() { return *client_; }
  static ServerProcess& server() { return *server_; }

  // Creates a resource and returns its id (asserting 201).
  std::string Create(const std::string& type, const std::string& json) {
    HttpResponse r = client().Post("/" + type, json);
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.json().get_string("id"));
  }

  static TempDir* dir_;
  static ServerProcess* server_;
  std::unique_ptr<HttpClient> client_;
};

inline TempDir* ServerTest::dir_ = nullptr;
inline ServerProcess* ServerTest::server_ = nullptr;

// Number of versions in the system history (counts every write ever acknowledged).
inline int64_t SystemHistoryCount(HttpClient& c) {
  int64_t n = 0;
  std::string next = "/_history?_count=1000";
  while (!next.empty()) {
    HttpResponse r = c.Get(next);
    if (r.status != 200) return -1;
    json::Value b = r.json();
    if (const json::Value* e = b.find("entry")) n += static_cast<int64_t>(e->size());
    next.clear();
    if (const json::Value* links = b.find("link")) {
      for (const auto& l : links->array()) {
        if (l.get_string("relation") == "next") {
          std::string url(l.get_string("url"));
          next = url.substr(url.find('/', 8));
        }
      }
    }
  }
  return n;
}

// First issue's grunnmur code (details.coding[0].code) of an OperationOutcome body.
inline std::string IssueCode(const HttpResponse& r) {
  json::Value oo = r.json();
  const json::Value* issues = oo.find("issue");
  if (issues == nullptr || issues->empty()) return {};
  const json::Value* details = issues->array()[0].find("details");
  if (details == nullptr) return {};
  const json::Value* coding = details->find("coding");
  if (coding == nullptr || coding->empty()) return {};
  return std::string(coding->array()[0].get_string("code"));
}

}  // namespace gm::testing
