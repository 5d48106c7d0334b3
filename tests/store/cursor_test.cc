#include "store/cursor.h"

#include <gtest/gtest.h>

#include <limits>

namespace gm::store {
namespace {

TEST(Cursor, RoundTripsEveryKind) {
  std::vector<KeyValue> values = {std::monostate{},
                                  int64_t(-5),
                                  std::numeric_limits<int64_t>::max(),
                                  2.5,
                                  -0.0,
                                  std::string("Sørgård\xFF|x"),
                                  std::string()};
  std::string c = EncodeCursor("search", values);
  for (char ch : c) EXPECT_TRUE(isalnum(uint8_t(ch)) || ch == '-' || ch == '_') << c;
  auto back = DecodeCursor("search", c, values.size());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, values);
}

TEST(Cursor, RejectsOtherTagsCountsAndGarbage) {
  std::string c = EncodeCursor("history", {int64_t(1), int64_t(2)});
  EXPECT_EQ(DecodeCursor("search", c, 2).status().code(), "GM-STORE-030");
  EXPECT_EQ(DecodeCursor("history", c, 3).status().code(), "GM-STORE-030");
  EXPECT_EQ(DecodeCursor("history", "not a cursor!", 2).status().code(), "GM-STORE-030");
  EXPECT_EQ(DecodeCursor("history", c.substr(0, c.size() - 3), 2).status().code(), "GM-STORE-030");
  EXPECT_EQ(DecodeCursor("history", "", 2).status().category(), ErrorCategory::kInvalid);
  EXPECT_TRUE(DecodeCursor("history", c, 2).ok());
}

}  // namespace
}  // namespace gm::store
