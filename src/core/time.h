// FHIR and HTTP date/time text ⇄ Unix microseconds. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gm::time {

// A FHIR date, dateTime or instant as the range of instants it covers:
// "2024" → [2024-01-01T00:00Z, 2025-01-01T00:00Z); "2024-03-05T10:00:00+01:00"
// → one second. Values without a zone are taken as UTC.
struct Range {
  int64_t begin_us = 0;  // inclusive
  int64_t end_us = 0;    // exclusive
};

// Parses date / dateTime / instant / partial forms (YYYY, YYYY-MM, YYYY-MM-DD,
// YYYY-MM-DDThh:mm[:ss[.fff]][Z|±hh:mm]). nullopt if malformed.
std::optional<Range> ParseFhirDateTime(std::string_view text);

// "2024-05-01T10:20:30.123Z" (millisecond precision, UTC).
std::string FormatInstant(int64_t us);
// RFC 7231 IMF-fixdate: "Wed, 01 May 2024 10:20:30 GMT".
std::string FormatHttpDate(int64_t us);
// Parses IMF-fixdate (the only form HTTP/1.1 senders must generate). nullopt if malformed.
std::optional<int64_t> ParseHttpDate(std::string_view text);

// Days since 1970-01-01 for a proleptic Gregorian date, and back.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
void CivilFromDays(int64_t days, int64_t& y, unsigned& m, unsigned& d);

}  // namespace gm::time
