// Client registry, private_key_jwt client assertions and scope grants.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "trust/clients.h"

namespace gm::trust {
namespace {

constexpr int64_t kNow = 1'790'000'000;
constexpr const char* kAud = "https://grunnmur.test/token";

class ClientsTest : public ::testing::Test {
 protected:
  ClientsTest()
      : dir_(::testing::TempDir() + "/gm-clients-" + std::to_string(::getpid())),
        registry_(dir_),
        clock_(kNow * 1'000'000),
        key_(Jwk::Generate(Alg::kES256, "ehr-key-1")) {
    std::filesystem::remove_all(dir_);
    json::Value jwks = json::Value::MakeObject();
    json::Value keys = json::Value::MakeArray();
    keys.push_back(key_.PublicJson());
    jwks.set("keys", keys);
    EXPECT_TRUE(registry_.Put("ehr-1", "Test EHR", jwks, "system/Observation.crus system/Patient.rs",
                              "983658725", "974589095")
                    .ok());
    check_.audiences = {kAud};
  }
  ~ClientsTest() override { std::filesystem::remove_all(dir_); }

  json::Value Claims() {
    json::Value c = json::Value::MakeObject();
    c.set("iss", "ehr-1");
    c.set("sub", "ehr-1");
    c.set("aud", kAud);
    c.set("iat", kNow);
    c.set("nbf", kNow);
    c.set("exp", kNow + 60);
    c.set("jti", "assertion-" + std::to_string(++n_));
    return c;
  }
  std::string Sign(const json::Value& claims, const Jwk& key, std::string typ = "client-authentication+jwt") {
    json::Value h = json::Value::MakeObject();
    if (!typ.empty()) h.set("typ", typ);
    return SignJws(std::move(h), claims, key);
  }
  Result<AuthenticatedClient> Verify(const std::string& assertion) {
    return VerifyClientAssertion(assertion, registry_, check_, clock_, replay_);
  }

  std::string dir_;
  ClientRegistry registry_;
  ManualClock clock_;
  Jwk key_;
  AssertionCheck check_;
  ReplayCache replay_;
  int n_ = 0;
};

TEST_F(ClientsTest, RegistryKeepsPublicKeysOnly) {
  auto c = registry_.Find("ehr-1");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->name, "Test EHR");
  EXPECT_EQ((*c)->orgnr_parent, "983658725");
  ASSERT_EQ((*c)->keys.size(), 1u);
  EXPECT_EQ((*c)->keys[0].Thumbprint(), key_.Thumbprint());
  EXPECT_FALSE((*c)->keys[0].is_private());
  EXPECT_FALSE(registry_.Find("nobody")->has_value());
  EXPECT_FALSE(registry_.Find("../etc/passwd")->has_value());
  // A JWKS with a private key is refused.
  json::Value jwks = json::Value::MakeObject();
  json::Value keys = json::Value::MakeArray();
  json::Value priv = key_.PublicJson();
  priv.set("d", Base64UrlEncode(std::string(32, '\x07')));
  keys.push_back(priv);
  jwks.set("keys", keys);
  EXPECT_EQ(registry_.Put("leaky", "", jwks, "system/*.rs", "", "").code(), "GM-AUTH-062");
  EXPECT_EQ(registry_.Put("../x", "", jwks, "system/*.rs", "", "").code(), "GM-AUTH-060");
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    auto perms = std::filesystem::status(e.path()).permissions();
    EXPECT_EQ(perms & std::filesystem::perms::others_all, std::filesystem::perms::none);
  }
}

TEST_F(ClientsTest, GoodAssertionIsAcceptedOnce) {
  std::string a = Sign(Claims(), key_);
  auto ok = Verify(a);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->client.client_id, "ehr-1");
  auto again = Verify(a);
  EXPECT_EQ(again.status().code(), "GM-AUTH-055");
}

TEST_F(ClientsTest, AssertionMutationsAreRefused) {
  struct Case {
    std::string name;
    std::string assertion;
    std::string code;
  };
  std::vector<Case> corpus;
  auto with = [&](std::string name, std::string_view k, json::Value v, std::string code) {
    json::Value c = Claims();
    c.set(k, std::move(v));
    corpus.push_back({std::move(name), Sign(c, key_), std::move(code)});
  };
  auto without = [&](std::string name, std::string_view k, std::string code) {
    json::Value c = Claims();
    c.erase(k);
    corpus.push_back({std::move(name), Sign(c, key_), std::move(code)});
  };
  corpus.push_back({"typ JWT", Sign(Claims(), key_, "JWT"), "GM-AUTH-050"});
  corpus.push_back({"no typ", Sign(Claims(), key_, ""), "GM-AUTH-050"});
  corpus.push_back({"not a JWT", "x.y", "GM-AUTH-050"});
  with("sub differs", "sub", "other", "GM-AUTH-051");
  with("unknown client", "iss", "nobody", "GM-AUTH-051");
  without("no sub", "sub", "GM-AUTH-051");
  corpus.push_back({"foreign key", Sign(Claims(), Jwk::Generate(Alg::kES256, "")), "GM-AUTH-052"});
  with("wrong aud", "aud", "https://elsewhere.test/token", "GM-AUTH-053");
  without("no aud", "aud", "GM-AUTH-053");
  with("expired", "exp", kNow - 10, "GM-AUTH-054");
  without("no exp", "exp", "GM-AUTH-054");
  with("exp too far", "exp", kNow + 120, "GM-AUTH-054");
  with("iat in the future", "iat", kNow + 30, "GM-AUTH-054");
  without("no jti", "jti", "GM-AUTH-055");
  with("exp beyond any time", "exp", json::Value::Number("1e999"), "GM-AUTH-054");
  with("iat beyond any time", "iat", json::Value::Number("-1e300"), "GM-AUTH-054");
  {
    json::Value h = json::Value::MakeObject();
    h.set("typ", "client-authentication+jwt");
    h.set("jku", "https://evil.test/jwks");
    corpus.push_back({"jku header", SignJws(h, Claims(), key_), "GM-AUTH-050"});
  }
  {
    std::string good = Sign(Claims(), key_);
    corpus.push_back({"signature stripped", good.substr(0, good.rfind('.') + 1), "GM-AUTH-052"});
    json::Value h = json::Value::MakeObject();
    h.set("typ", "client-authentication+jwt");
    h.set("alg", "none");
    corpus.push_back({"alg none",
                      Base64UrlEncode(json::Write(h)) + "." + Base64UrlEncode(json::Write(Claims())) + ".",
                      "GM-AUTH-052"});
  }
  for (const auto& c : corpus) {
    auto r = Verify(c.assertion);
    EXPECT_FALSE(r.ok()) << c.name << " was accepted";
    if (!r.ok()) EXPECT_EQ(r.status().code(), c.code) << c.name << ": " << r.status().message();
  }
  EXPECT_GE(corpus.size(), 17u);
}

TEST(GrantScopesTest, OnlyWhatTheClientMayHave) {
  const char* allowed = "system/Observation.crus system/Patient.rs openid";
  EXPECT_EQ(GrantScopes("system/Observation.rs", allowed), "system/Observation.rs");
  EXPECT_EQ(GrantScopes("system/Patient.read", allowed), "system/Patient.rs");
  EXPECT_EQ(GrantScopes("", allowed), "system/Observation.crus system/Patient.rs openid");
  EXPECT_EQ(GrantScopes("system/Patient.rs openid", allowed), "system/Patient.rs openid");
  EXPECT_FALSE(GrantScopes("system/Patient.u", allowed));
  EXPECT_FALSE(GrantScopes("system/*.rs", allowed));
  EXPECT_FALSE(GrantScopes("user/Patient.rs", allowed));
  EXPECT_FALSE(GrantScopes("system/Observation.rs bogus", allowed));
  EXPECT_FALSE(GrantScopes("system/Patient.zz", allowed));
  EXPECT_EQ(GrantScopes("system/Encounter.rs", "system/*.cruds"), "system/Encounter.rs");
}

}  // namespace
}  // namespace gm::trust
