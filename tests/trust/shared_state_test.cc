// State that several nodes share: the DPoP replay check through the
// ReplayGuard interface, and a key directory re-read on change, with
// activation times that let every node publish a rotated key before any
// node signs with it. (The PostgreSQL ReplayGuard and real nodes:
// tests/postgres/shared_state_test.cc.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "trust/jose.h"
#include "trust/tokens.h"

namespace gm::trust {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1'790'000'000;  // seconds
constexpr const char* kUrl = "https://grunnmur.test/Patient";

std::string Proof(const Jwk& key, const std::string& jti, int64_t iat = kNow) {
  json::Value h = json::Value::MakeObject();
  h.set("typ", "dpop+jwt");
  h.set("jwk", key.PublicJson());
  json::Value c = json::Value::MakeObject();
  c.set("htm", "GET");
  c.set("htu", kUrl);
  c.set("iat", iat);
  c.set("jti", jti);
  return SignJws(std::move(h), c, key);
}

// A guard that records its calls and answers as told (a database that fails).
class ScriptedGuard final : public ReplayGuard {
 public:
  explicit ScriptedGuard(bool answer) : answer_(answer) {}
  bool FirstUse(std::string_view jti, int64_t expires_at_s, int64_t now_s) override {
    last_jti = std::string(jti);
    last_expiry = expires_at_s;
    last_now = now_s;
    ++calls;
    return answer_;
  }
  std::string last_jti;
  int64_t last_expiry = 0, last_now = 0;
  int calls = 0;

 private:
  bool answer_;
};

VerifierOptions OptionsWith(std::shared_ptr<ReplayGuard> guard) {
  VerifierOptions o;
  o.audience = "grunnmur";
  o.dpop_replay = std::move(guard);
  return o;
}

TEST(ReplayGuardTest, VerifiersSharingAGuardRefuseAProofReplayedToTheOther) {
  ManualClock clock(kNow * 1'000'000);
  auto shared = std::make_shared<ReplayCache>();
  TokenVerifier node_a(OptionsWith(shared), clock), node_b(OptionsWith(shared), clock);
  Jwk key = Jwk::Generate(Alg::kES256, "");
  const std::string proof = Proof(key, "shared-jti-1");
  auto first = node_a.VerifyDpopProof(proof, "GET", kUrl, std::nullopt);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(*first, key.Thumbprint());
  auto replayed = node_b.VerifyDpopProof(proof, "GET", kUrl, std::nullopt);
  ASSERT_FALSE(replayed.ok());
  EXPECT_EQ(replayed.status().code(), "GM-AUTH-011");
  // A fresh jti is fine on either node.
  EXPECT_TRUE(node_b.VerifyDpopProof(Proof(key, "shared-jti-2"), "GET", kUrl, std::nullopt).ok());
}

TEST(ReplayGuardTest, VerifiersWithTheirOwnCacheDoNotShare) {
  // What a node without a shared guard does (one node, SQLite): its own cache.
  ManualClock clock(kNow * 1'000'000);
  TokenVerifier node_a(OptionsWith(nullptr), clock), node_b(OptionsWith(nullptr), clock);
  Jwk key = Jwk::Generate(Alg::kES256, "");
  const std::string proof = Proof(key, "own-jti-1");
  EXPECT_TRUE(node_a.VerifyDpopProof(proof, "GET", kUrl, std::nullopt).ok());
  EXPECT_FALSE(node_a.VerifyDpopProof(proof, "GET", kUrl, std::nullopt).ok());
  EXPECT_TRUE(node_b.VerifyDpopProof(proof, "GET", kUrl, std::nullopt).ok());
}

TEST(ReplayGuardTest, TheGuardGetsAScopedKeyAndTheProofsLifetimeAndItsNoIsFinal) {
  ManualClock clock(kNow * 1'000'000);
  auto refusing = std::make_shared<ScriptedGuard>(false);  // e.g. the database is down
  VerifierOptions o = OptionsWith(refusing);
  TokenVerifier verifier(o, clock);
  Jwk key = Jwk::Generate(Alg::kES256, "");
  auto r = verifier.VerifyDpopProof(Proof(key, "never-seen-1", kNow - 10), "GET", kUrl,
                                    std::nullopt);
  ASSERT_FALSE(r.ok());  // fail closed
  EXPECT_EQ(r.status().code(), "GM-AUTH-011");
  EXPECT_EQ(refusing->calls, 1);
  EXPECT_EQ(refusing->last_jti, key.Thumbprint() + ":never-seen-1");
  EXPECT_EQ(refusing->last_now, kNow);
  // Remembered for as long as the proof could be accepted: iat + max age + leeway.
  EXPECT_EQ(refusing->last_expiry, kNow - 10 + o.dpop_max_age_s + o.leeway_s);
  // A proof that fails an earlier check never reaches the guard.
  EXPECT_FALSE(verifier.VerifyDpopProof(Proof(key, "never-seen-2"), "POST", kUrl, std::nullopt)
                   .ok());
  EXPECT_EQ(refusing->calls, 1);
}

// ---- KeyRing on a shared directory -------------------------------------------

class SharedKeyDir : public ::testing::Test {
 protected:
  SharedKeyDir() : clock_(kNow * 1'000'000) {
    dir_ = ::testing::TempDir() + "/gm-shared-keys-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
  }
  ~SharedKeyDir() override { fs::remove_all(dir_); }
  std::shared_ptr<KeyRing> Open() {
    auto ring = KeyRing::Open(dir_, Alg::kES256, &clock_);
    EXPECT_TRUE(ring.ok()) << ring.status().message();
    return ring.ok() ? *ring : nullptr;
  }
  static std::vector<std::string> Kids(const KeyRing& ring) {
    std::vector<std::string> kids;
    const json::Value jwks = ring.PublicJwks();
    for (const auto& k : jwks.find("keys")->array()) {
      kids.emplace_back(k.get_string("kid"));
    }
    return kids;
  }
  void Advance(int64_t s) { clock_.Advance(s * 1'000'000); }

  ManualClock clock_;
  std::string dir_;
};

TEST_F(SharedKeyDir, ARotationOnOneNodeIsPublishedEverywhereBeforeItSigns) {
  auto node_a = Open();
  auto node_b = Open();
  ASSERT_TRUE(node_a && node_b);
  const std::string old_kid = node_a->Current().kid();
  ASSERT_EQ(node_b->Current().kid(), old_kid);
  // `keys rotate` on node B with the default activation delay.
  ASSERT_TRUE(node_b->Rotate(2, KeyRing::kDefaultActivationDelayS).ok());
  std::vector<std::string> b_kids = Kids(*node_b);
  ASSERT_EQ(b_kids.size(), 2u);
  EXPECT_EQ(b_kids[0], old_kid);  // still the current key: it signs
  const std::string new_kid = b_kids[1];
  EXPECT_EQ(node_b->Current().kid(), old_kid);
  EXPECT_TRUE(node_b->Find(new_kid).has_value());  // verifies at once
  EXPECT_EQ(node_b->ActivationOf(new_kid), kNow + KeyRing::kDefaultActivationDelayS);
  EXPECT_TRUE(fs::exists(fs::path(dir_) / (new_kid + ".activation")));
  // Node A re-reads the directory after at most the reload interval.
  EXPECT_FALSE(node_a->Find(new_kid).has_value());
  Advance(KeyRing::kKeyReloadIntervalS);
  ASSERT_TRUE(node_a->Find(new_kid).has_value());
  EXPECT_EQ(Kids(*node_a), (std::vector<std::string>{old_kid, new_kid}));
  EXPECT_EQ(node_a->Current().kid(), old_kid);
  EXPECT_EQ(node_a->ActivationOf(new_kid), kNow + KeyRing::kDefaultActivationDelayS);
  // At the activation time both nodes sign with the new key; the old one verifies.
  Advance(KeyRing::kDefaultActivationDelayS - KeyRing::kKeyReloadIntervalS - 1);
  EXPECT_EQ(node_a->Current().kid(), old_kid);
  Advance(1);
  EXPECT_EQ(node_a->Current().kid(), new_kid);
  EXPECT_EQ(node_b->Current().kid(), new_kid);
  EXPECT_EQ(Kids(*node_a), (std::vector<std::string>{new_kid, old_kid}));
  EXPECT_TRUE(node_a->Find(old_kid).has_value());
  // A ring opened later reads the activation time from the sidecar.
  auto node_c = Open();
  EXPECT_EQ(node_c->Current().kid(), new_kid);
  EXPECT_EQ(node_c->ActivationOf(new_kid), kNow + KeyRing::kDefaultActivationDelayS);
}

TEST_F(SharedKeyDir, RetiredKeysDisappearFromTheOtherNodes) {
  auto node_a = Open();
  auto node_b = Open();
  const std::string first = node_a->Current().kid();
  ASSERT_TRUE(node_b->Rotate(1).ok());  // active at once
  ASSERT_TRUE(node_b->Rotate(1).ok());  // retires the first key
  EXPECT_FALSE(node_b->Find(first).has_value());
  EXPECT_FALSE(fs::exists(fs::path(dir_) / (first + ".pem")));
  EXPECT_TRUE(node_a->Find(first).has_value());  // until node A looks again
  Advance(KeyRing::kKeyReloadIntervalS);
  EXPECT_FALSE(node_a->Find(first).has_value());
  EXPECT_EQ(Kids(*node_a), Kids(*node_b));
  EXPECT_EQ(node_a->Current().kid(), node_b->Current().kid());
}

TEST_F(SharedKeyDir, PendingKeysNeverRetireTheKeyThatSigns) {
  auto ring = Open();
  const std::string signing = ring->Current().kid();
  ASSERT_TRUE(ring->Rotate(0, 30).ok());
  ASSERT_TRUE(ring->Rotate(0, 30).ok());
  EXPECT_EQ(ring->Current().kid(), signing);
  EXPECT_EQ(Kids(*ring).size(), 3u);
  EXPECT_TRUE(fs::exists(fs::path(dir_) / (signing + ".pem")));
  Advance(30);
  EXPECT_NE(ring->Current().kid(), signing);
  // The next rotation retires everything older than the current key (keep 0).
  ASSERT_TRUE(ring->Rotate(0).ok());
  EXPECT_EQ(Kids(*ring).size(), 1u);
}

TEST_F(SharedKeyDir, AKeyFileCopiedInWithoutItsActivationTimeWaitsTheDefaultDelay) {
  auto node_a = Open();
  const std::string old_kid = node_a->Current().kid();
  // Another node's key directory, copied in file by file: the key arrives
  // without its sidecar (or an operator drops a key in by hand).
  Jwk copied = Jwk::Generate(Alg::kES256, "k99999999999999999-copied");
  {
    std::ofstream out(fs::path(dir_) / (copied.kid() + ".pem"));
    out << copied.PrivatePem();
  }
  Advance(KeyRing::kKeyReloadIntervalS);
  ASSERT_TRUE(node_a->Find(copied.kid()).has_value());
  EXPECT_EQ(node_a->Current().kid(), old_kid);
  Advance(KeyRing::kDefaultActivationDelayS);
  EXPECT_EQ(node_a->Current().kid(), copied.kid());
  // A half-written key file is skipped and read again later.
  {
    std::ofstream out(fs::path(dir_) / "k99999999999999999-half.pem");
    out << "-----BEGIN PRIVATE KEY-----\nMIGH";
  }
  Advance(KeyRing::kKeyReloadIntervalS);
  EXPECT_FALSE(node_a->Find("k99999999999999999-half").has_value());
  EXPECT_EQ(node_a->Current().kid(), copied.kid());
}

TEST_F(SharedKeyDir, ReloadsAreRateLimited) {
  auto node_a = Open();
  auto node_b = Open();
  ASSERT_TRUE(node_b->Rotate(2).ok());
  const std::string new_kid = node_b->Current().kid();
  // Within the interval node A does not look at the directory, however often it is used.
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(node_a->Find(new_kid).has_value());
  Advance(KeyRing::kKeyReloadIntervalS - 1);
  EXPECT_FALSE(node_a->Find(new_kid).has_value());
  Advance(1);
  EXPECT_TRUE(node_a->Find(new_kid).has_value());
  EXPECT_EQ(node_a->Current().kid(), new_kid);  // its sidecar says: active now
}

}  // namespace
}  // namespace gm::trust
