// The authorization-code flow's state: pushed requests, login values and
// codes are single use and expire (a ManualClock moves time; no sleeping);
// PKCE S256; redirect URI rules of client registration.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "trust/authcode.h"
#include "trust/clients.h"

namespace gm::trust {
namespace {

constexpr int64_t kNow = 1'790'000'000;

PushedRequest Request(std::string client = "app-1") {
  PushedRequest r;
  r.client_id = std::move(client);
  r.redirect_uri = "https://app.test/cb";
  r.scope = "openid patient/Observation.rs";
  r.state = "s1";
  r.code_challenge = "wHuB0lTHK9P6FVaVqIQhGgo4j1Kvk6AYg2KsYCW2pEk";
  return r;
}

class AuthCodeTest : public ::testing::Test {
 protected:
  ManualClock clock_{kNow * 1'000'000};
  AuthCodeStore store_{clock_};
};

TEST_F(AuthCodeTest, RequestUriIsSingleUse) {
  auto uri = store_.PushRequest(Request());
  ASSERT_TRUE(uri);
  EXPECT_EQ(uri->rfind("urn:ietf:params:oauth:request_uri:", 0), 0u);
  auto first = store_.TakeRequest(*uri);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->client_id, "app-1");
  EXPECT_EQ(first->state, "s1");
  EXPECT_FALSE(store_.TakeRequest(*uri));  // reuse
  EXPECT_FALSE(store_.TakeRequest("urn:ietf:params:oauth:request_uri:unknown"));
  EXPECT_FALSE(store_.TakeRequest(uri->substr(34)));  // without the prefix
}

TEST_F(AuthCodeTest, RequestUriExpires) {
  auto uri = store_.PushRequest(Request());
  ASSERT_TRUE(uri);
  clock_.Advance((store_.options().request_ttl_s + 1) * 1'000'000);
  EXPECT_FALSE(store_.TakeRequest(*uri));
}

TEST_F(AuthCodeTest, LoginValueNeedsTheBrowserBindingAndIsSpentEitherWay) {
  std::string binding;
  auto login = store_.StartLogin(Request(), &binding);
  ASSERT_TRUE(login);
  EXPECT_EQ(binding.size(), 43u);
  EXPECT_NE(*login, binding);
  EXPECT_FALSE(store_.TakeLogin(*login, "another-browser"));
  EXPECT_FALSE(store_.TakeLogin(*login, binding));  // spent by the failed attempt

  auto login2 = store_.StartLogin(Request(), &binding);
  ASSERT_TRUE(login2);
  auto r = store_.TakeLogin(*login2, binding);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->redirect_uri, "https://app.test/cb");
  EXPECT_FALSE(store_.TakeLogin(*login2, binding));
}

TEST_F(AuthCodeTest, LoginValueExpires) {
  std::string binding;
  auto login = store_.StartLogin(Request(), &binding);
  ASSERT_TRUE(login);
  clock_.Advance((store_.options().login_ttl_s + 1) * 1'000'000);
  EXPECT_FALSE(store_.TakeLogin(*login, binding));
}

TEST_F(AuthCodeTest, CodeIsSingleUseAndShortLived) {
  CodeGrant g;
  g.request = Request();
  g.pid = "13097248022";
  g.scope = "openid patient/Observation.rs";
  auto code = store_.IssueCode(g);
  ASSERT_TRUE(code);
  auto got = store_.TakeCode(*code);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->pid, "13097248022");
  EXPECT_FALSE(store_.TakeCode(*code));  // reuse

  auto code2 = store_.IssueCode(g);
  ASSERT_TRUE(code2);
  EXPECT_NE(*code, *code2);
  clock_.Advance(store_.options().code_ttl_s * 1'000'000);
  EXPECT_TRUE(store_.TakeCode(*code2));  // still valid at exactly its lifetime
  auto code3 = store_.IssueCode(g);
  clock_.Advance((store_.options().code_ttl_s + 1) * 1'000'000);
  EXPECT_FALSE(store_.TakeCode(*code3));  // expired
}

TEST_F(AuthCodeTest, FullStoreRefusesNewFlowsButKeepsOld) {
  AuthCodeStore small(clock_, AuthCodeOptions{.max_entries = 2});
  auto a = small.PushRequest(Request());
  auto b = small.PushRequest(Request());
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(small.PushRequest(Request()));
  EXPECT_TRUE(small.TakeRequest(*a));
  // After expiry, room is made from expired entries.
  clock_.Advance(1000 * 1'000'000);
  EXPECT_TRUE(small.PushRequest(Request()));
  EXPECT_TRUE(small.PushRequest(Request()));
}

TEST(Pkce, S256) {
  // Challenge computed independently (Python hashlib: base64url(sha256(v)), no padding).
  const std::string verifier = "dBjftJeZ4CVP-mJ92K9n8HshNf7y2sU6fJ5Y8gwN4mA";
  const std::string challenge = "wHuB0lTHK9P6FVaVqIQhGgo4j1Kvk6AYg2KsYCW2pEk";
  EXPECT_TRUE(PkceS256Matches(verifier, challenge));
  EXPECT_FALSE(PkceS256Matches(verifier + "x", challenge));
  // "plain": the verifier presented as its own challenge does not match.
  EXPECT_FALSE(PkceS256Matches(verifier, verifier));
  EXPECT_FALSE(PkceS256Matches("short", challenge));               // < 43 characters
  EXPECT_FALSE(PkceS256Matches(std::string(129, 'a'), challenge));  // > 128
  EXPECT_FALSE(PkceS256Matches(verifier.substr(0, 42) + "+", challenge));  // bad character
  EXPECT_TRUE(IsS256Challenge(challenge));
  EXPECT_FALSE(IsS256Challenge(challenge + "="));
  EXPECT_FALSE(IsS256Challenge("abc"));
}

TEST(Handles, AreRandomAndUrlSafe) {
  std::string a = RandomHandle(), b = RandomHandle();
  EXPECT_EQ(a.size(), 43u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  EXPECT_TRUE(SafeEquals("abc", "abc"));
  EXPECT_FALSE(SafeEquals("abc", "abd"));
  EXPECT_FALSE(SafeEquals("abc", "abcd"));
}

TEST(RedirectUris, Rules) {
  EXPECT_TRUE(IsAcceptableRedirectUri("https://ehr.example.no/callback"));
  EXPECT_TRUE(IsAcceptableRedirectUri("https://ehr.example.no/cb?tenant=1"));
  EXPECT_TRUE(IsAcceptableRedirectUri("http://127.0.0.1:5000/cb"));
  EXPECT_TRUE(IsAcceptableRedirectUri("http://localhost/cb"));
  EXPECT_TRUE(IsAcceptableRedirectUri("http://[::1]:8000/cb"));
  EXPECT_FALSE(IsAcceptableRedirectUri("http://ehr.example.no/cb"));  // plain http, not loopback
  EXPECT_FALSE(IsAcceptableRedirectUri("http://127.0.0.1.evil.test/cb"));
  EXPECT_FALSE(IsAcceptableRedirectUri("https://ehr.example.no/cb#frag"));
  EXPECT_FALSE(IsAcceptableRedirectUri("https://user@ehr.example.no/cb"));
  EXPECT_FALSE(IsAcceptableRedirectUri("javascript:alert(1)"));
  EXPECT_FALSE(IsAcceptableRedirectUri("/relative"));
  EXPECT_FALSE(IsAcceptableRedirectUri("https://a.test/<script>"));
}

TEST(ClientRegistryGrants, RedirectUrisAndGrantTypes) {
  std::string dir = ::testing::TempDir() + "/gm-authcode-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  ClientRegistry reg(dir);
  json::Value jwks = json::Value::MakeObject();
  json::Value keys = json::Value::MakeArray();
  keys.push_back(Jwk::Generate(Alg::kES256, "k1").PublicJson());
  jwks.set("keys", keys);
  // Old-style registration: client_credentials only.
  ASSERT_TRUE(reg.Put("sys", "System", jwks, "system/*.rs", "", "").ok());
  auto sys = reg.Find("sys");
  ASSERT_TRUE(sys.ok() && sys->has_value());
  EXPECT_TRUE((*sys)->Allows("client_credentials"));
  EXPECT_FALSE((*sys)->Allows("authorization_code"));
  // With a redirect URI: both by default.
  ASSERT_TRUE(
      reg.Put("app", "App", jwks, "patient/*.rs", "", "", {"https://app.test/cb"}, {}).ok());
  auto app = reg.Find("app");
  ASSERT_TRUE(app.ok() && app->has_value());
  EXPECT_TRUE((*app)->Allows("authorization_code"));
  EXPECT_TRUE((*app)->HasRedirectUri("https://app.test/cb"));
  EXPECT_FALSE((*app)->HasRedirectUri("https://app.test/cb/"));  // exact match only
  EXPECT_FALSE((*app)->HasRedirectUri("https://app.test/CB"));
  // Refused: a bad redirect URI, an unknown grant type, a code grant without URIs.
  EXPECT_EQ(reg.Put("x", "X", jwks, "", "", "", {"http://evil.test/cb"}, {}).code(),
            "GM-AUTH-065");
  EXPECT_EQ(reg.Put("x", "X", jwks, "", "", "", {"https://a.test/cb"}, {"password"}).code(),
            "GM-AUTH-066");
  EXPECT_EQ(reg.Put("x", "X", jwks, "", "", "", {}, {"authorization_code"}).code(),
            "GM-AUTH-066");
  EXPECT_FALSE(reg.Find("x")->has_value());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gm::trust
