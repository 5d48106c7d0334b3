#include "http/wire.h"

#include <gtest/gtest.h>

#include <set>

namespace gm::http::wire {
namespace {

TEST(WireTarget, SplitsAndDecodesThePath) {
  auto t = ParseTarget("/Patient/a%20b%2Fc?name=%C3%B8&x=1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/Patient/a b/c");
  EXPECT_EQ(t->query, "name=%C3%B8&x=1");  // raw

  auto utf8 = ParseTarget("/Patient/S%C3%B8rg%C3%A5rd");
  ASSERT_TRUE(utf8.ok());
  EXPECT_EQ(utf8->path, "/Patient/S\xC3\xB8rg\xC3\xA5rd");

  auto plus = ParseTarget("/a+b?");
  ASSERT_TRUE(plus.ok());
  EXPECT_EQ(plus->path, "/a+b");  // '+' is not a space in a path
  EXPECT_EQ(plus->query, "");
}

TEST(WireTarget, AcceptsAbsoluteFormAndAsterisk) {
  auto abs = ParseTarget("http://example.org:8080/fhir/Patient?_id=1");
  ASSERT_TRUE(abs.ok());
  EXPECT_EQ(abs->path, "/fhir/Patient");
  EXPECT_EQ(abs->query, "_id=1");
  auto bare = ParseTarget("HTTPS://example.org");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->path, "/");
  auto star = ParseTarget("*");
  ASSERT_TRUE(star.ok());
  EXPECT_EQ(star->path, "*");
}

TEST(WireTarget, RejectsBadEncodingsAndForms) {
  for (const char* bad : {"/a%zz", "/a%4", "/a%", "/a%00b", "/%0", "Patient/1", "", "?x=1"}) {
    auto t = ParseTarget(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), kBadPath) << bad;
    EXPECT_EQ(t.status().category(), ErrorCategory::kInvalid);
  }
  // A bad escape in the query is not the server's business.
  EXPECT_TRUE(ParseTarget("/a?x=%zz").ok());
}

TEST(WireRequestId, AcceptsOnlySaneIds) {
  EXPECT_TRUE(IsSaneRequestId("abc-123_X.y"));
  EXPECT_TRUE(IsSaneRequestId(std::string(64, 'a')));
  EXPECT_FALSE(IsSaneRequestId(std::string(65, 'a')));
  EXPECT_FALSE(IsSaneRequestId(""));
  EXPECT_FALSE(IsSaneRequestId("a b"));
  EXPECT_FALSE(IsSaneRequestId("a\nb"));
  EXPECT_FALSE(IsSaneRequestId("ø"));
}

TEST(WireRequestId, GeneratesDistinctHexIds) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewRequestId();
    ASSERT_EQ(id.size(), 32u);
    EXPECT_TRUE(IsSaneRequestId(id));
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(WireHeaders, ValidatesNamesAndValues) {
  EXPECT_TRUE(IsValidHeader("content-type", "application/fhir+json"));
  EXPECT_TRUE(IsValidHeader("ETag", "W/\"1\""));
  EXPECT_FALSE(IsValidHeader("", "x"));
  EXPECT_FALSE(IsValidHeader("bad name", "x"));
  EXPECT_FALSE(IsValidHeader("x", "a\r\nset-cookie: y"));
  EXPECT_FALSE(IsValidHeader("x", std::string("a\0b", 3)));
}

TEST(WireResponseHead, WritesStatusHeadersAndLength) {
  Response r;
  r.status = 201;
  r.SetHeader("Content-Type", "application/fhir+json");
  r.SetHeader("content-length", "999");  // the server's own business: dropped
  r.SetHeader("Connection", "upgrade");  // likewise
  r.body = "{\"a\":1}";
  std::string head;
  AppendResponseHead(r, "rid-1", true, false, head);
  EXPECT_EQ(head.rfind("HTTP/1.1 201 Created\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("content-type: application/fhir+json\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("content-length: 7\r\n"), std::string::npos) << head;
  EXPECT_EQ(head.find("999"), std::string::npos) << head;
  EXPECT_EQ(head.find("upgrade"), std::string::npos) << head;
  EXPECT_EQ(head.find("connection:"), std::string::npos) << head;  // 1.1 keep-alive is implied
  EXPECT_NE(head.find("x-request-id: rid-1\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\ndate: "), std::string::npos) << head;
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
}

TEST(WireResponseHead, ConnectionAndBodylessStatuses) {
  Response r;
  r.status = 204;
  r.body = "ignored";
  std::string head;
  AppendResponseHead(r, "x", false, false, head);
  EXPECT_NE(head.find("connection: close\r\n"), std::string::npos);
  EXPECT_EQ(head.find("content-length"), std::string::npos);

  head.clear();
  r.status = 200;
  AppendResponseHead(r, "x", true, true, head);
  EXPECT_NE(head.find("connection: keep-alive\r\n"), std::string::npos);

  head.clear();
  r.status = 299;  // no reason phrase known
  AppendResponseHead(r, "x", true, false, head);
  EXPECT_EQ(head.rfind("HTTP/1.1 299 \r\n", 0), 0u) << head;
}

TEST(WireLogPath, DropsQueryAndMasksNationalIds) {
  EXPECT_EQ(LogPath("/Patient/123?identifier=01017012345"), "/Patient/123");
  EXPECT_EQ(LogPath("/Patient/01017012345/_history/2"), "/Patient/***********/_history/2");
  EXPECT_EQ(LogPath("/Patient/010170123456"), "/Patient/010170123456");  // 12 digits: not an id
  EXPECT_EQ(LogPath(std::string(500, 'a')).size(), 200u);
}

}  // namespace
}  // namespace gm::http::wire
