#include "core/time.h"

#include <gtest/gtest.h>

namespace gm::time {
namespace {

constexpr int64_t kSec = 1000000;
constexpr int64_t kDay = 86400 * kSec;

TEST(FhirDateTime, PrecisionGivesRanges) {
  auto y = ParseFhirDateTime("2024");
  ASSERT_TRUE(y);
  EXPECT_EQ(y->begin_us, DaysFromCivil(2024, 1, 1) * kDay);
  EXPECT_EQ(y->end_us, DaysFromCivil(2025, 1, 1) * kDay);
  auto m = ParseFhirDateTime("2024-02");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->end_us - m->begin_us, 29 * kDay);  // leap year
  auto d = ParseFhirDateTime("2023-12-31");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->end_us - d->begin_us, kDay);
  auto s = ParseFhirDateTime("2024-03-05T10:00:00+01:00");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->begin_us, DaysFromCivil(2024, 3, 5) * kDay + 9 * 3600 * kSec);
  EXPECT_EQ(s->end_us - s->begin_us, kSec);
  auto ms = ParseFhirDateTime("2024-03-05T10:00:00.123Z");
  ASSERT_TRUE(ms);
  EXPECT_EQ(ms->end_us - ms->begin_us, 1000);
  auto minute = ParseFhirDateTime("2024-03-05T10:00Z");
  ASSERT_TRUE(minute);
  EXPECT_EQ(minute->end_us - minute->begin_us, 60 * kSec);
}

TEST(FhirDateTime, RejectsMalformed) {
  for (const char* bad : {"", "24", "2024-13", "2024-02-30", "2023-02-29", "2024-01-01T25:00",
                          "2024-01-01T10:00:00+15:00", "2024-01-01 10:00", "2024-01-01T10:00:00.Z",
                          "yesterday", "2024-1-1"}) {
    EXPECT_FALSE(ParseFhirDateTime(bad)) << bad;
  }
}

TEST(Instant, FormatsMilliseconds) {
  int64_t t = DaysFromCivil(2024, 5, 1) * kDay + (10 * 3600 + 20 * 60 + 30) * kSec + 123456;
  EXPECT_EQ(FormatInstant(t), "2024-05-01T10:20:30.123Z");
  EXPECT_EQ(FormatInstant(0), "1970-01-01T00:00:00.000Z");
  auto back = ParseFhirDateTime(FormatInstant(t));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->begin_us, t - 456);
}

TEST(HttpDate, RoundTrip) {
  int64_t t = DaysFromCivil(2024, 5, 1) * kDay + (10 * 3600 + 20 * 60 + 30) * kSec;
  EXPECT_EQ(FormatHttpDate(t), "Wed, 01 May 2024 10:20:30 GMT");
  EXPECT_EQ(ParseHttpDate("Wed, 01 May 2024 10:20:30 GMT"), t);
  EXPECT_EQ(FormatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_FALSE(ParseHttpDate("Wed, 31 Feb 2024 10:20:30 GMT"));
  EXPECT_FALSE(ParseHttpDate("2024-05-01"));
}

}  // namespace
}  // namespace gm::time
