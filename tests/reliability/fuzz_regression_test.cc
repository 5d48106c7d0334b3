// The fuzz harnesses (fuzz/harness.h) run in the normal test build: every
// input saved under fuzz/regressions/<target>/ (each a crash the fuzzers once
// found, named after it) and a few hand-made hostile inputs per target must
// pass the harness's oracle (a failing oracle aborts the test binary). Under
// `make test-sanitize` this replays them with ASan and UBSan as well.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "fuzz/harness.h"

namespace gm::testing {
namespace {

using Harness = int (*)(const uint8_t*, size_t);

int Feed(Harness h, std::string_view input) {
  return h(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

const std::pair<const char*, Harness> kTargets[] = {
    {"fuzz_json", gm::fuzz::Json},           {"fuzz_fhirpath", gm::fuzz::FhirPath},
    {"fuzz_search", gm::fuzz::Search},       {"fuzz_http", gm::fuzz::Http},
    {"fuzz_json_patch", gm::fuzz::JsonPatch}, {"fuzz_fhirpath_patch", gm::fuzz::FhirPathPatch},
    {"fuzz_jwt", gm::fuzz::Jwt},             {"fuzz_svarrapport", gm::fuzz::Svarrapport},
};

TEST(FuzzRegressionTest, SavedInputsPass) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(GM_SOURCE_DIR) / "fuzz" / "regressions";
  int replayed = 0;
  for (const auto& [name, harness] : kTargets) {
    if (!fs::is_directory(root / name)) continue;
    for (const auto& f : fs::directory_iterator(root / name)) {
      std::ifstream in(f.path(), std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      SCOPED_TRACE(f.path().string());
      EXPECT_EQ(Feed(harness, data), 0);
      ++replayed;
    }
  }
  std::printf("[fuzz-regression] %d saved inputs replayed\n", replayed);
}

// fuzz_fhirpath found (UBSan): an integer literal of more than 18 digits
// overflowed int64 while it was accumulated, before the parser turned it into
// a decimal (src/fhirpath/parser.cc NumberLiteral). Now it is accumulated only
// when it fits; longer literals are decimals.
TEST(FuzzRegressionTest, FhirpathIntegerLiteralOverflow) {
  auto e = fhirpath::Expression::Compile("40000000000000000000 + 2");
  ASSERT_TRUE(e.ok()) << e.status().message();
  json::Value empty = json::Value::MakeObject();
  auto r = e->Evaluate(empty);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].ToString().value_or("?"), "40000000000000000002");
  EXPECT_EQ(Feed(gm::fuzz::FhirPath, "(1 | 1) =" + std::string(100, '0') + "4 | 2"), 0);
}

TEST(FuzzRegressionTest, JsonHostileInputs) {
  EXPECT_EQ(Feed(gm::fuzz::Json, std::string(200000, '[')), 0);
  EXPECT_EQ(Feed(gm::fuzz::Json, "{\"a\":1.50e-0000,\"b\":\"\\ud800\",\"c\":-0}"), 0);
  EXPECT_EQ(Feed(gm::fuzz::Json, "{\"resourceType\":\"Patient\",\"name\":[{\"given\":[\"\xff\"]}]}"), 0);
  EXPECT_EQ(Feed(gm::fuzz::Json, "{\"resourceType\":\"Observation\",\"valueQuantity\":{\"value\":1e999999}}"), 0);
  EXPECT_EQ(Feed(gm::fuzz::Json, "{\"resourceType\":\"Bundle\",\"entry\":[{\"resource\":{\"resourceType\":\"Bundle\"}}]}"), 0);
}

TEST(FuzzRegressionTest, FhirPathHostileInputs) {
  for (const char* e : {"(((((((((((1)))))))))))", "repeat(children())", "descendants().descendants()",
                        "name.given.select($this + $this + $this)", "'a'.matches('(a+)+$')",
                        "1 / 0", "9223372036854775807 + 1", "@2024-13-45", "%resource.`a b`",
                        "iif(true, iif(true, iif(true, 1)))", "(1 | 2 | 3).aggregate($total + $this, 0)"}) {
    SCOPED_TRACE(e);
    EXPECT_EQ(Feed(gm::fuzz::FhirPath, e), 0);
  }
}

TEST(FuzzRegressionTest, SearchHostileInputs) {
  for (std::string q : {"\x01name=%", "\x01name=%zz&&&=&_sort=", "\x02subject.subject.subject.subject.subject.subject.subject.name=x",
                        "\x02_has:Observation:subject:_has:Observation:subject:code=1",
                        "\x01" "birthdate=ge99999-99-99T99:99", "\x02value-quantity=1e400|x|y",
                        "\x07" "_count=18446744073709551616", "\x02" "code-value-quantity=a$b$c$d"}) {
    SCOPED_TRACE(q);
    EXPECT_EQ(Feed(gm::fuzz::Search, q), 0);
  }
}

TEST(FuzzRegressionTest, HttpHostileInputs) {
  for (std::string r : {std::string("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
                        std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"),
                        std::string("GET /%00%ff?%%% HTTP/1.1\r\n\r\n"),
                        std::string("GET / HTTP/1.1\r\n") + std::string(20000, 'a') + ": b\r\n\r\n",
                        std::string("\r\n\r\n\r\n"), std::string("GET / HTTP/9.9\r\n\r\n")}) {
    EXPECT_EQ(Feed(gm::fuzz::Http, r), 0);
  }
}

TEST(FuzzRegressionTest, PatchHostileInputs) {
  for (const char* p : {R"([{"op":"move","from":"/name","path":"/name/0"}])",
                        R"([{"op":"add","path":"/name/-/given/-","value":1}])",
                        R"([{"op":"copy","from":"","path":"/a~1b"}])",
                        R"([{"op":"test","path":"/a~b/c~1d/2/e","value":null}])",
                        R"([{"op":"remove","path":"/name/18446744073709551616"}])"}) {
    SCOPED_TRACE(p);
    EXPECT_EQ(Feed(gm::fuzz::JsonPatch, p), 0);
  }
  for (const char* p : {R"({"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"move"},{"name":"path","valueString":"Patient.contact"},{"name":"source","valueInteger":1},{"name":"destination","valueInteger":-1}]}]})",
                        R"({"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"insert"},{"name":"path","valueString":"Patient.name"},{"name":"index","valueInteger":2147483647},{"name":"value","valueHumanName":{"family":"X"}}]}]})",
                        R"j({"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.descendants()"}]}]})j"}) {
    SCOPED_TRACE(p);
    EXPECT_EQ(Feed(gm::fuzz::FhirPathPatch, p), 0);
  }
}

// Found by the sanitizer run of JwtHostileInputs (UBSan): a numeric claim
// such as "exp":1e999 was cast from double to int64 (infinite: undefined
// behaviour), and "iat":-9223372036854775808 with "exp":9223372036854775807
// overflowed exp + leeway and exp - iat, in src/trust/tokens.cc. Now IntClaim
// treats claims beyond ±1e18 s as absent, so such a token is refused as
// having no usable exp (GM-AUTH-008).
TEST(FuzzRegressionTest, JwtTimeClaimsOutOfRange) {
  auto& w = gm::fuzz::fuzz_jwt_detail::TheWorld();
  for (const char* exp : {"1e999", "-1e999", "1e30", "9.3e18", "9223372036854775807"}) {
    json::Value payload = *json::Parse(R"({"iss":"https://grunnmur.test","aud":"grunnmur","iat":1,"scope":"system/*.cruds","exp":)" +
                                       std::string(exp) + "}");
    const std::string auth =
        "Bearer " + trust::SignJws(*json::Parse(R"({"typ":"at+jwt"})"), payload, w.keys->Current());
    trust::RequestAuth req;
    req.authorization = auth;
    req.method = "GET";
    req.url = "http://127.0.0.1:8080/Patient";
    auto r = w.verifier->Verify(req);
    ASSERT_FALSE(r.ok()) << exp;
    EXPECT_EQ(r.status().code(), "GM-AUTH-008") << exp << ": " << r.status().message();
  }
}

TEST(FuzzRegressionTest, JwtHostileInputs) {
  for (std::string in : {std::string("\x00") + "Bearer a.b.c", std::string("\x00") + "DPoP ..\n..",
                         std::string("\x00") + "Bearer " + std::string(100000, 'A') + "." + std::string(10, 'B') + ".",
                         std::string("\x01") + R"({"iss":"https://grunnmur.test","aud":"grunnmur","exp":1e999})",
                         std::string("\x01") + R"({"iss":"https://grunnmur.test","aud":"grunnmur","iat":-9223372036854775808,"exp":9223372036854775807})",
                         std::string("\x02") + R"({"typ":"at+jwt","crit":["exp"],"b64":false})",
                         std::string("\x03") + R"({"kty":"RSA","n":"","e":""})",
                         std::string("\x03") + R"({"kty":"EC","crv":"P-256","x":"","y":"","d":""})",
                         std::string("\x04") + "patient/*.*?" + std::string(1000, '&')}) {
    EXPECT_EQ(Feed(gm::fuzz::Jwt, in), 0);
  }
}

}  // namespace
}  // namespace gm::testing
