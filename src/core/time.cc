#include "core/time.h"

#include <cstdio>

namespace gm::time {

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

namespace {

constexpr int64_t kUsPerSec = 1000000;
constexpr int64_t kUsPerDay = 86400 * kUsPerSec;

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

bool Digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

}  // namespace

std::optional<Range> ParseFhirDateTime(std::string_view s) {
  int year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  if (!Digits(s, 0, 4, year)) return std::nullopt;
  if (s.size() == 4) {
    int64_t b = DaysFromCivil(year, 1, 1) * kUsPerDay;
    return Range{b, DaysFromCivil(year + 1, 1, 1) * kUsPerDay};
  }
  if (s[4] != '-' || !Digits(s, 5, 2, month) || month < 1 || month > 12) return std::nullopt;
  if (s.size() == 7) {
    int64_t b = DaysFromCivil(year, month, 1) * kUsPerDay;
    int64_t e = month == 12 ? DaysFromCivil(year + 1, 1, 1) : DaysFromCivil(year, month + 1, 1);
    return Range{b, e * kUsPerDay};
  }
  if (s.size() < 10 || s[7] != '-' || !Digits(s, 8, 2, day) || day < 1 ||
      static_cast<unsigned>(day) > DaysInMonth(year, month)) {
    return std::nullopt;
  }
  int64_t day_start = DaysFromCivil(year, month, day) * kUsPerDay;
  if (s.size() == 10) return Range{day_start, day_start + kUsPerDay};
  if (s[10] != 'T' || !Digits(s, 11, 2, hour) || s.size() < 16 || s[13] != ':' ||
      !Digits(s, 14, 2, minute) || hour > 23 || minute > 59) {
    return std::nullopt;
  }
  size_t pos = 16;
  int64_t precision = 60 * kUsPerSec;
  int64_t frac_us = 0;
  if (pos < s.size() && s[pos] == ':') {
    if (!Digits(s, pos + 1, 2, second) || second > 60) return std::nullopt;
    pos += 3;
    precision = kUsPerSec;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      size_t start = pos;
      int64_t scale = 100000;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (scale > 0) {
          frac_us += (s[pos] - '0') * scale;
          scale /= 10;
        }
        ++pos;
      }
      if (pos == start) return std::nullopt;
      size_t digits = pos - start;
      precision = 1;
      for (size_t i = digits; i < 6; ++i) precision *= 10;
    }
  }
  int64_t offset_us = 0;
  if (pos < s.size()) {
    if (s[pos] == 'Z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      int oh = 0, om = 0;
      if (!Digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
          !Digits(s, pos + 4, 2, om) || oh > 14 || om > 59) {
        return std::nullopt;
      }
      offset_us = (oh * 3600 + om * 60) * kUsPerSec * (s[pos] == '-' ? -1 : 1);
      pos += 6;
    } else {
      return std::nullopt;
    }
  }
  if (pos != s.size()) return std::nullopt;
  int64_t b = day_start + (static_cast<int64_t>(hour) * 3600 + minute * 60 + second) * kUsPerSec +
              frac_us - offset_us;
  return Range{b, b + precision};
}

std::string FormatInstant(int64_t us) {
  int64_t days = us >= 0 ? us / kUsPerDay : (us - kUsPerDay + 1) / kUsPerDay;
  int64_t rem = us - days * kUsPerDay;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  int64_t secs = rem / kUsPerSec;
  int64_t ms = (rem % kUsPerSec) / 1000;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), m, d, static_cast<long long>(secs / 3600),
                static_cast<long long>((secs / 60) % 60), static_cast<long long>(secs % 60),
                static_cast<long long>(ms));
  return buf;
}

namespace {
const char* const kWeekdays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
}  // namespace

std::string FormatHttpDate(int64_t us) {
  int64_t secs_total = us >= 0 ? us / kUsPerSec : (us - kUsPerSec + 1) / kUsPerSec;
  int64_t days = secs_total >= 0 ? secs_total / 86400 : (secs_total - 86399) / 86400;
  int64_t secs = secs_total - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  int64_t wd = ((days % 7) + 7) % 7;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04lld %02lld:%02lld:%02lld GMT", kWeekdays[wd], d,
                kMonths[m - 1], static_cast<long long>(y), static_cast<long long>(secs / 3600),
                static_cast<long long>((secs / 60) % 60), static_cast<long long>(secs % 60));
  return buf;
}

std::optional<int64_t> ParseHttpDate(std::string_view s) {
  // "Wed, 01 May 2024 10:20:30 GMT"
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
      s[16] != ' ' || s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  int d, y, hh, mm, ss;
  if (!Digits(s, 5, 2, d) || !Digits(s, 12, 4, y) || !Digits(s, 17, 2, hh) ||
      !Digits(s, 20, 2, mm) || !Digits(s, 23, 2, ss)) {
    return std::nullopt;
  }
  unsigned month = 0;
  for (unsigned i = 0; i < 12; ++i) {
    if (s.substr(8, 3) == kMonths[i]) month = i + 1;
  }
  if (month == 0 || d < 1 || static_cast<unsigned>(d) > DaysInMonth(y, month) || hh > 23 ||
      mm > 59 || ss > 60) {
    return std::nullopt;
  }
  return (DaysFromCivil(y, month, d) * 86400 + hh * 3600 + mm * 60 + ss) * kUsPerSec;
}

}  // namespace gm::time
