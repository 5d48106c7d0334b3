// What several nodes on one PostgreSQL database must share beyond the data
// (docs/SCALING.md): the replay check of DPoP proofs and client assertions
// (trust/postgres/pg_replay.h), signing keys rotated on a shared key
// directory (trust::KeyRing reloads it; a new key signs only after every node
// publishes it), and deleted definitions (rest::RefreshStoredProfiles).
//
// Needs GM_TEST_PG_URL (see tests/support/server_process.h); skipped without it.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "tests/support/server_process.h"
#include "trust/jose.h"
#include "trust/postgres/pg_replay.h"
#include "trust/tokens.h"

namespace gm::testing {
namespace {

namespace fs = std::filesystem;

// Both nodes answer under one public base URL, as behind a load balancer:
// DPoP proofs (htu) and client assertions (aud) name it, not a node.
constexpr const char* kBase = "http://grunnmur.shared.test";

std::string RunCmd(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return "FAILED";
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  return ::pclose(p) == 0 ? out : "FAILED";
}

int64_t Now() { return static_cast<int64_t>(::time(nullptr)); }

// ---- The PostgreSQL ReplayGuard itself ---------------------------------------

class PgReplay : public ::testing::Test {
 protected:
  void SetUp() override {
    if (TestPostgresUrl().empty()) GTEST_SKIP() << "GM_TEST_PG_URL is not set";
    url_ = TestDatabaseFor(dir_.path());
  }
  TempDir dir_;
  std::string url_;
};

TEST_F(PgReplay, TwoNodesShareOneJtiSpacePerScope) {
  auto node_a = trust::PgReplayStore::Open(url_);
  auto node_b = trust::PgReplayStore::Open(url_);  // a second node: its own sessions
  ASSERT_TRUE(node_a.ok()) << node_a.status().message();
  ASSERT_TRUE(node_b.ok()) << node_b.status().message();
  auto dpop_a = (*node_a)->Guard("dpop"), dpop_b = (*node_b)->Guard("dpop");
  auto assertion_b = (*node_b)->Guard("assertion");
  const int64_t now = Now();
  EXPECT_TRUE(dpop_a->FirstUse("thumb:jti-1", now + 60, now));
  EXPECT_FALSE(dpop_b->FirstUse("thumb:jti-1", now + 60, now));  // the other node saw it
  EXPECT_FALSE(dpop_a->FirstUse("thumb:jti-1", now + 60, now));  // so did this one
  EXPECT_TRUE(assertion_b->FirstUse("thumb:jti-1", now + 60, now));  // another scope
  EXPECT_TRUE(dpop_b->FirstUse("thumb:jti-2", now + 60, now));
  // Once expired, a row is taken over (the verifiers' time windows refuse
  // such old proofs anyway).
  EXPECT_TRUE((*node_b)->FirstUse("dpop", "old-jti", now - 10, now - 20));
  EXPECT_TRUE((*node_a)->FirstUse("dpop", "old-jti", now + 60, now));
  EXPECT_FALSE((*node_b)->FirstUse("dpop", "old-jti", now + 60, now));
}

TEST_F(PgReplay, ConcurrentUsesOfOneJtiOnManyNodesAcceptExactlyOne) {
  std::vector<std::shared_ptr<trust::PgReplayStore>> nodes;
  for (int i = 0; i < 3; ++i) {
    auto n = trust::PgReplayStore::Open(url_, 2);
    ASSERT_TRUE(n.ok()) << n.status().message();
    nodes.push_back(*n);
  }
  for (int round = 0; round < 5; ++round) {
    std::atomic<int> accepted{0};
    std::vector<std::thread> threads;
    const std::string jti = "race-" + std::to_string(round);
    for (int t = 0; t < 9; ++t) {
      threads.emplace_back([&, t] {
        auto guard = nodes[t % 3]->Guard("dpop");
        if (guard->FirstUse(jti, Now() + 60, Now())) ++accepted;
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(accepted.load(), 1) << jti;
  }
}

TEST_F(PgReplay, ExpiredRowsArePurgedInBoundedBatches) {
  auto node = trust::PgReplayStore::Open(url_);
  ASSERT_TRUE(node.ok());
  const int64_t now = Now();
  const int64_t then = now - 100;  // the checks happen at `then`; the rows expire at now - 5
  const int extra = 7;
  for (int i = 0; i < trust::PgReplayStore::kPurgeBatch + extra; ++i) {
    ASSERT_TRUE((*node)->FirstUse("purge", "expired-" + std::to_string(i), now - 5, then));
  }
  ASSERT_TRUE((*node)->FirstUse("purge", "live", now + 60, then));
  auto first = (*node)->PurgeExpired(now);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(*first, trust::PgReplayStore::kPurgeBatch);  // bounded
  auto second = (*node)->PurgeExpired(now);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, extra);
  EXPECT_EQ(*(*node)->PurgeExpired(now), 0);
  EXPECT_FALSE((*node)->FirstUse("purge", "live", now + 60, then));  // the live row stays
  // The checks themselves purge, at most every kPurgeIntervalS seconds.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*node)->FirstUse("purge", "later-" + std::to_string(i), now - 5, then));
  }
  const int64_t later = now;  // more than kPurgeIntervalS after the last purge
  static_assert(trust::PgReplayStore::kPurgeIntervalS < 100);
  ASSERT_TRUE((*node)->FirstUse("purge", "trigger", later + 60, later));
  EXPECT_EQ(*(*node)->PurgeExpired(later), 0);  // already purged by the check
  EXPECT_FALSE((*node)->FirstUse("purge", "live", now + 60, later));
}

TEST_F(PgReplay, FailsClosedWithoutTheDatabase) {
  // Nothing listens on port 1: the store cannot open…
  auto none = trust::PgReplayStore::Open("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2");
  EXPECT_FALSE(none.ok());
  // …and a store whose database goes away answers "seen".
  {
    auto node = trust::PgReplayStore::Open(url_, 1);
    ASSERT_TRUE(node.ok());
    auto guard = (*node)->Guard("dpop");
    EXPECT_TRUE(guard->FirstUse("before-drop", Now() + 60, Now()));
    // Dropping the table stands in for a database failure the session cannot recover from.
    auto admin = trust::PgReplayStore::Open(url_, 1);
    ASSERT_TRUE(admin.ok());
    ASSERT_EQ(RunCmd("psql -X -q '" + url_ + "' -c 'DROP TABLE gm_replay' 2>&1 >/dev/null"), "")
        << "psql is needed for this test";
    EXPECT_FALSE(guard->FirstUse("after-drop", Now() + 60, Now()));
  }
  // Opening again re-creates the table.
  auto again = trust::PgReplayStore::Open(url_);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE((*again)->Guard("dpop")->FirstUse("after-drop", Now() + 60, Now()));
}

TEST_F(PgReplay, CostPerCheck) {
  auto node = trust::PgReplayStore::Open(url_);
  ASSERT_TRUE(node.ok());
  auto guard = (*node)->Guard("dpop");
  const int n = 300;
  int accepted = 0;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) accepted += guard->FirstUse("cost-" + std::to_string(i), Now() + 60, Now());
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
  EXPECT_EQ(accepted, n);
  // Reported, not asserted (no timing assertions): one round trip per new jti.
  std::printf("[ replay check ] %d checks, %.1f us each\n", n, double(us) / n);
  RecordProperty("replay_check_us", std::to_string(us / n));
}

// ---- Two real nodes ----------------------------------------------------------

// A `grunnmur serve --db` node on a port chosen here, so that both nodes can
// be given one --base-url (ServerProcess reads its port from the base URL).
class Node {
 public:
  Node(const std::string& data_dir, const std::vector<std::string>& extra) : data_dir_(data_dir) {
    port_ = FreePort();
    std::vector<std::string> args = {GM_BINARY, "serve", "--listen",
                                     "127.0.0.1:" + std::to_string(port_), "--data", data_dir,
                                     "--log-level", "warn", "--db", TestDatabaseFor(data_dir)};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      int null_fd = ::open("/dev/null", O_WRONLY);
      ::dup2(null_fd, STDOUT_FILENO);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 600; ++i) {
      try {
        if (HttpClient(port_, HttpClient::Auth::kNone).Get("/readyz").status == 200) {
          ready_ = true;
          return;
        }
      } catch (const std::exception&) {
        // not listening yet
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~Node() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  bool ready() const { return ready_; }
  uint16_t port() const { return port_; }
  // `grunnmur token --data DIR ARGS…` ("" on failure).
  std::string Token(const std::string& args) const {
    std::string out = RunCmd(std::string(GM_BINARY) + " token --data " + data_dir_ + " " + args);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out == "FAILED" ? std::string() : out;
  }

 private:
  static uint16_t FreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
  }
  std::string data_dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool ready_ = false;
};

class SharedState : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (TestPostgresUrl().empty()) return;
    a_dir_ = new TempDir();
    b_dir_ = new TempDir();
    client_key_ = new trust::Jwk(trust::Jwk::Generate(trust::Alg::kES256, "ehr-shared"));
    const std::string jwks_file = a_dir_->path() + "/ehr-jwks.json";
    {
      json::Value jwks = json::Value::MakeObject();
      json::Value keys = json::Value::MakeArray();
      keys.push_back(client_key_->PublicJson());
      jwks.set("keys", keys);
      std::ofstream(jwks_file) << json::Write(jwks);
    }
    ASSERT_NE(RunCmd(std::string(GM_BINARY) + " client add --data " + a_dir_->path() +
                     " --id ehr-shared --jwks " + jwks_file +
                     " --scope 'system/Patient.rs' --orgnr 983658725"),
              "FAILED");
    const std::vector<std::string> args = {
        "--base-url", kBase, "--definitions-refresh", "1",
        "--profiles", std::string(GM_SHARED_DIR) + "/norway/no-basis-2.2.2"};
    a_ = new Node(a_dir_->path(), args);
    // Node B: its own data directory on the same database, with the key and
    // client directories shared (a mounted volume; here a symlink).
    const fs::path a = a_dir_->path(), b = b_dir_->path();
    fs::create_directory_symlink(a / "keys", b / "keys");
    fs::create_directory_symlink(a / "clients", b / "clients");
    fs::copy_file(a / "search-page.key", b / "search-page.key");
    ShareTestDatabase(a.string(), b.string());
    b_ = new Node(b_dir_->path(), args);
  }
  static void TearDownTestSuite() {
    delete a_;
    delete b_;
    a_ = b_ = nullptr;
    delete a_dir_;
    delete b_dir_;
    delete client_key_;
  }
  void SetUp() override {
    if (TestPostgresUrl().empty()) {
      GTEST_SKIP() << "GM_TEST_PG_URL is not set (make test runs this against a throwaway "
                      "cluster: scripts/pg-cluster run)";
    }
    ASSERT_TRUE(a_ != nullptr && a_->ready());
    ASSERT_TRUE(b_ != nullptr && b_->ready());
    system_token_ = a_->Token("--scope 'system/*.cruds'");
    ASSERT_FALSE(system_token_.empty());
  }

  static std::string Assertion() {
    json::Value h = json::Value::MakeObject();
    h.set("typ", "client-authentication+jwt");
    json::Value c = json::Value::MakeObject();
    c.set("iss", "ehr-shared");
    c.set("sub", "ehr-shared");
    c.set("aud", std::string(kBase) + "/token");
    c.set("iat", Now());
    c.set("exp", Now() + 50);
    c.set("jti", "shared-assertion-" + std::to_string(++n_) + "-" + std::to_string(::getpid()));
    return trust::SignJws(std::move(h), c, *client_key_);
  }
  static HttpResponse TokenRequest(uint16_t port, const std::string& assertion) {
    return HttpClient(port, HttpClient::Auth::kNone)
        .Request("POST", "/token",
                 "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3A"
                 "oauth%3Aclient-assertion-type%3Ajwt-bearer&scope=system%2FPatient.rs"
                 "&client_assertion=" + assertion,
                 {{"Content-Type", "application/x-www-form-urlencoded"}});
  }
  static std::string DpopProof(const trust::Jwk& key, const std::string& method,
                               const std::string& path, const std::string& token) {
    json::Value h = json::Value::MakeObject();
    h.set("typ", "dpop+jwt");
    h.set("jwk", key.PublicJson());
    json::Value c = json::Value::MakeObject();
    c.set("htm", method);
    c.set("htu", std::string(kBase) + path);
    c.set("iat", Now());
    c.set("jti", "shared-dpop-" + std::to_string(++n_) + "-" + std::to_string(::getpid()));
    c.set("ath", trust::Base64UrlEncode(trust::Sha256(token)));
    return trust::SignJws(std::move(h), c, key);
  }
  static std::vector<std::string> Kids(uint16_t port) {
    HttpResponse r = HttpClient(port, HttpClient::Auth::kNone).Get("/jwks");
    std::vector<std::string> kids;
    if (const json::Value* keys = r.json().find("keys")) {
      for (const auto& k : keys->array()) kids.emplace_back(k.get_string("kid"));
    }
    return kids;
  }
  static std::string IssueCode(const HttpResponse& r) {
    const json::Value* issues = r.json().find("issue");
    if (issues == nullptr || issues->empty()) return {};
    const json::Value* details = issues->array()[0].find("details");
    const json::Value* coding = details ? details->find("coding") : nullptr;
    if (coding == nullptr || coding->empty()) return {};
    return std::string(coding->array()[0].get_string("code"));
  }

  static inline TempDir* a_dir_ = nullptr;
  static inline TempDir* b_dir_ = nullptr;
  static inline Node* a_ = nullptr;
  static inline Node* b_ = nullptr;
  static inline trust::Jwk* client_key_ = nullptr;
  static inline int n_ = 0;
  std::string system_token_;
  std::vector<std::pair<std::string, std::string>> Auth() const {
    return {{"Authorization", "Bearer " + system_token_}};
  }
};

TEST_F(SharedState, ADpopProofUsedAtOneNodeIsRefusedAtTheOther) {
  trust::Jwk dpop_key = trust::Jwk::Generate(trust::Alg::kES256, "");
  const std::string token =
      a_->Token("--scope 'system/*.rs' --dpop-jkt " + dpop_key.Thumbprint());
  const std::string proof = DpopProof(dpop_key, "GET", "/Patient", token);
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Authorization", "DPoP " + token}, {"DPoP", proof}};
  HttpClient a(a_->port(), HttpClient::Auth::kNone), b(b_->port(), HttpClient::Auth::kNone);
  HttpResponse first = a.Get("/Patient", headers);
  ASSERT_EQ(first.status, 200) << first.body;
  HttpResponse replayed = b.Get("/Patient", headers);
  EXPECT_EQ(replayed.status, 401) << replayed.body;
  EXPECT_EQ(IssueCode(replayed), "GM-AUTH-011") << replayed.body;
  // …and at the node that saw it first.
  EXPECT_EQ(a.Get("/Patient", headers).status, 401);
  // A fresh proof with the same token and key is fine on node B.
  EXPECT_EQ(b.Get("/Patient", {{"Authorization", "DPoP " + token},
                               {"DPoP", DpopProof(dpop_key, "GET", "/Patient", token)}})
                .status,
            200);
}

TEST_F(SharedState, AClientAssertionUsedAtOneNodeIsRefusedAtTheOther) {
  const std::string assertion = Assertion();
  HttpResponse first = TokenRequest(a_->port(), assertion);
  ASSERT_EQ(first.status, 200) << first.body;
  HttpResponse replayed = TokenRequest(b_->port(), assertion);
  EXPECT_EQ(replayed.status, 401) << replayed.body;
  EXPECT_EQ(replayed.json().get_string("error"), "invalid_client") << replayed.body;
  EXPECT_EQ(TokenRequest(b_->port(), Assertion()).status, 200);  // a fresh one is fine
}

TEST_F(SharedState, ARotatedKeyIsPublishedByBothNodesBeforeItSignsAndThenVerifiesOnBoth) {
  const std::string old_token = b_->Token("--scope 'system/*.rs'");
  const std::string old_kid(trust::DecodeJws(old_token)->header.get_string("kid"));
  std::string out = RunCmd(std::string(GM_BINARY) + " keys rotate --data " + a_dir_->path());
  ASSERT_NE(out, "FAILED");
  EXPECT_NE(out.find("pending: verifies, signs in"), std::string::npos) << out;
  // Both nodes publish the new key (after it, the signing key stays first)
  // within the reload interval; polled with a generous bound.
  std::string new_kid;
  bool published_pending_on_both = false;
  for (int i = 0; i < 100 && !published_pending_on_both; ++i) {
    std::vector<std::string> ka = Kids(a_->port()), kb = Kids(b_->port());
    if (ka.size() == 2 && kb.size() == 2 && ka == kb) {
      new_kid = ka[1];
      published_pending_on_both = ka[0] == old_kid && new_kid != old_kid;
    }
    if (!published_pending_on_both) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(published_pending_on_both);
  // Until activation the old key signs, on both nodes (the rotation left
  // 10 s; every node published the new key well within that).
  const std::string before(
      TokenRequest(a_->port(), Assertion()).json().get_string("access_token"));
  EXPECT_EQ(trust::DecodeJws(before)->header.get_string("kid"), old_kid);
  const std::string before_b(
      TokenRequest(b_->port(), Assertion()).json().get_string("access_token"));
  EXPECT_EQ(trust::DecodeJws(before_b)->header.get_string("kid"), old_kid);
  // Then the new one, on both nodes.
  bool active_on_both = false;
  for (int i = 0; i < 300 && !active_on_both; ++i) {
    std::vector<std::string> ka = Kids(a_->port()), kb = Kids(b_->port());
    active_on_both = !ka.empty() && ka[0] == new_kid && !kb.empty() && kb[0] == new_kid;
    if (!active_on_both) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(active_on_both);
  HttpResponse issued = TokenRequest(a_->port(), Assertion());
  ASSERT_EQ(issued.status, 200) << issued.body;
  const std::string from_a(issued.json().get_string("access_token"));
  EXPECT_EQ(trust::DecodeJws(from_a)->header.get_string("kid"), new_kid);
  const std::string from_b(TokenRequest(b_->port(), Assertion()).json().get_string("access_token"));
  EXPECT_EQ(trust::DecodeJws(from_b)->header.get_string("kid"), new_kid);
  for (Node* node : {a_, b_}) {
    HttpClient c(node->port(), HttpClient::Auth::kNone);
    for (const std::string& t : {from_a, from_b, old_token, before, before_b}) {
      EXPECT_EQ(c.Get("/Patient", {{"Authorization", "Bearer " + t}}).status, 200)
          << "kid " << trust::DecodeJws(t)->header.get_string("kid") << " at port "
          << node->port();
    }
  }
}

TEST_F(SharedState, ADefinitionDeletedThroughOneNodeStopsBeingEnforcedOnTheOther) {
  const std::string base = std::string(GM_SHARED_DIR) + "/norway/no-basis-2.2.2/";
  std::ifstream in(base + "no-basis-Patient.structuredefinition-profile.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto sd = json::Parse(text, json::ParseOptions{.max_depth = 256});
  ASSERT_TRUE(sd.ok());
  sd->erase("id");
  sd->erase("text");
  const std::string url = "http://grunnmur.test/StructureDefinition/shared-state-identified-patient";
  sd->set("url", url);
  sd->set("name", "SharedStateIdentifiedPatient");
  sd->set("baseDefinition", "http://hl7.no/fhir/StructureDefinition/no-basis-Patient");
  for (auto& e : (*sd->find("snapshot")).find("element")->array()) {
    if (e.get_string("id") == "Patient.identifier") e.set("min", 1);
  }
  sd->erase("differential");
  HttpClient a(a_->port(), HttpClient::Auth::kNone), b(b_->port(), HttpClient::Auth::kNone);
  HttpResponse created = a.Post("/StructureDefinition", json::Write(*sd), Auth());
  ASSERT_EQ(created.status, 201) << created.body.substr(0, 500);
  const std::string sd_id(created.json().get_string("id"));
  const std::string claim = R"({"resourceType":"Patient","meta":{"profile":[")" + url +
                            R"("]},"gender":"female"})";
  // Wait until node B enforces it (created through A: within the refresh period).
  auto poll_b = [&](int want_status) {
    for (int i = 0; i < 100; ++i) {
      HttpResponse r = b.Post("/Patient", claim, Auth());
      if (r.status == 201) b.Request("DELETE", "/Patient/" + std::string(r.json().get_string("id")), "", Auth());
      if (r.status == want_status) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  };
  ASSERT_TRUE(poll_b(422));
  // Deleted through node A: node B stops enforcing it within the refresh period…
  HttpResponse deleted = a.Request("DELETE", "/StructureDefinition/" + sd_id, "", Auth());
  ASSERT_TRUE(deleted.status == 200 || deleted.status == 204) << deleted.status << deleted.body;
  EXPECT_TRUE(poll_b(201));
  // …and so does node A (it learns of its own delete the same way).
  bool a_forgot = false;
  for (int i = 0; i < 100 && !a_forgot; ++i) {
    HttpResponse r = a.Post("/Patient", claim, Auth());
    a_forgot = r.status == 201;
    if (!a_forgot) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(a_forgot);

  // A definition whose url is changed (superseded) through node A: the old url
  // stops being enforced on node B, the new one starts.
  sd->set("url", url + "-v1");
  HttpResponse v1 = a.Post("/StructureDefinition", json::Write(*sd), Auth());
  ASSERT_EQ(v1.status, 201) << v1.body.substr(0, 300);
  const std::string v1_id(v1.json().get_string("id"));
  const std::string claim_v1 = R"({"resourceType":"Patient","meta":{"profile":[")" + url +
                               R"(-v1"]},"gender":"female"})";
  const std::string claim_v2 = R"({"resourceType":"Patient","meta":{"profile":[")" + url +
                               R"(-v2"]},"gender":"female"})";
  auto poll = [&](HttpClient& c, const std::string& body, int want_status) {
    for (int i = 0; i < 100; ++i) {
      HttpResponse r = c.Post("/Patient", body, Auth());
      if (r.status == want_status) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  };
  ASSERT_TRUE(poll(b, claim_v1, 422));
  sd->set("id", v1_id);
  sd->set("url", url + "-v2");
  HttpResponse v2 = a.Put("/StructureDefinition/" + v1_id, json::Write(*sd), Auth());
  ASSERT_EQ(v2.status, 200) << v2.body.substr(0, 300);
  EXPECT_TRUE(poll(b, claim_v2, 422));
  EXPECT_TRUE(poll(b, claim_v1, 201));
}

}  // namespace
}  // namespace gm::testing
