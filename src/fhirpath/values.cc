// System values of FHIRPath: exact decimals, partial dates and times, and
// quantities with a small UCUM unit engine.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "fhirpath/internal.h"

namespace gm::fhirpath::internal {

Status CompileError(const char* code, std::string text) {
  return Status::Error(ErrorCategory::kInvalid, code, "invalid", std::move(text));
}

Status EvalError(const char* code, std::string text) {
  return Status::Error(ErrorCategory::kUnprocessable, code, "processing", std::move(text));
}

// ---------------------------------------------------------------- arena

void* Arena::Allocate(size_t size, size_t align) {
  size_t pad = (align - reinterpret_cast<uintptr_t>(cur_) % align) % align;
  if (cur_ == nullptr || pad + size > left_) {
    size_t block = size + align > 4096 ? size + align : 4096;
    blocks_.push_back(std::make_unique<char[]>(block));
    cur_ = blocks_.back().get();
    left_ = block;
    pad = (align - reinterpret_cast<uintptr_t>(cur_) % align) % align;
  }
  char* p = cur_ + pad;
  cur_ = p + size;
  left_ -= pad + size;
  total_ += size;
  return p;
}

std::string_view Arena::Copy(std::string_view s) {
  if (s.empty()) return {};
  char* p = static_cast<char*>(Allocate(s.size(), 1));
  std::memcpy(p, s.data(), s.size());
  return {p, s.size()};
}

// ---------------------------------------------------------------- decimal

namespace {

using i128 = __int128;

constexpr int kMaxDigits = 36;

struct Pow10Table {
  i128 v[39];
  constexpr Pow10Table() : v() {
    i128 x = 1;
    for (int i = 0; i < 39; ++i) {
      v[i] = x;
      if (i < 38) x *= 10;
    }
  }
};
constexpr Pow10Table kPow10;

i128 Abs(i128 v) { return v < 0 ? -v : v; }

bool MulPow10(i128& m, int n) {
  if (n <= 0) return true;
  if (n > 38) return m == 0;
  i128 r;
  if (__builtin_mul_overflow(m, kPow10.v[n], &r)) return false;
  if (Abs(r) >= kPow10.v[kMaxDigits + 1]) return false;
  m = r;
  return true;
}

// Divides by 10^n rounding half away from zero.
i128 DivPow10Round(i128 m, int n) {
  if (n <= 0) return m;
  if (n > 38) return 0;
  i128 p = kPow10.v[n];
  i128 q = m / p, r = m % p;
  if (Abs(r) * 2 >= p) q += m < 0 ? -1 : 1;
  return q;
}

bool Fits(i128 m) { return Abs(m) < kPow10.v[kMaxDigits + 1]; }

// Reduces scale (rounding) so that scale <= kMaxScale.
Decimal Clamp(Decimal d) {
  if (d.scale > kMaxScale) {
    d.m = DivPow10Round(d.m, d.scale - kMaxScale);
    d.scale = kMaxScale;
  }
  return d;
}

}  // namespace

std::optional<Decimal> ParseDecimal(std::string_view s) {
  size_t i = 0, n = s.size();
  bool neg = false;
  if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  i128 m = 0;
  int digits = 0, scale = 0;
  bool any = false;
  while (i < n && s[i] >= '0' && s[i] <= '9') {
    any = true;
    if (m != 0 || s[i] != '0') {
      if (++digits > kMaxDigits) return std::nullopt;
    }
    m = m * 10 + (s[i++] - '0');
  }
  if (!any) return std::nullopt;
  if (i < n && s[i] == '.') {
    ++i;
    bool frac = false;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      frac = true;
      if (m != 0 || s[i] != '0') {
        if (++digits > kMaxDigits) return std::nullopt;
      }
      m = m * 10 + (s[i++] - '0');
      ++scale;
    }
    if (!frac) return std::nullopt;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < n && (s[i] == '-' || s[i] == '+')) eneg = s[i++] == '-';
    int e = 0;
    bool edig = false;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      edig = true;
      e = e * 10 + (s[i++] - '0');
      if (e > 400) return std::nullopt;
    }
    if (!edig) return std::nullopt;
    scale += eneg ? e : -e;
  }
  if (i != n) return std::nullopt;
  if (scale < 0) {
    if (!MulPow10(m, -scale)) return std::nullopt;
    scale = 0;
  }
  Decimal d{neg ? -m : m, scale};
  if (d.scale > 60) return Decimal{0, kMaxScale};
  return Clamp(d);
}

std::string DecimalToString(const Decimal& d) {
  i128 m = Abs(d.m);
  char buf[64];
  int len = 0;
  do {
    buf[len++] = static_cast<char>('0' + static_cast<int>(m % 10));
    m /= 10;
  } while (m != 0);
  while (len <= d.scale) buf[len++] = '0';
  std::string out;
  if (d.m < 0) out.push_back('-');
  for (int k = len - 1; k >= 0; --k) {
    out.push_back(buf[k]);
    if (k == d.scale && d.scale > 0) out.push_back('.');
  }
  return out;
}

Decimal DecimalFromInt(int64_t v) { return Decimal{v, 0}; }

int DecimalCompare(const Decimal& a, const Decimal& b) {
  i128 ma = a.m, mb = b.m;
  if (a.scale < b.scale) {
    if (!MulPow10(ma, b.scale - a.scale)) return ma < 0 ? -1 : 1;
  } else if (b.scale < a.scale) {
    if (!MulPow10(mb, a.scale - b.scale)) return mb < 0 ? 1 : -1;
  }
  return ma < mb ? -1 : (ma > mb ? 1 : 0);
}

static bool Align(const Decimal& a, const Decimal& b, i128& ma, i128& mb, int& scale) {
  ma = a.m;
  mb = b.m;
  scale = a.scale > b.scale ? a.scale : b.scale;
  return MulPow10(ma, scale - a.scale) && MulPow10(mb, scale - b.scale);
}

bool DecimalAdd(const Decimal& a, const Decimal& b, Decimal& out) {
  i128 ma, mb;
  int s;
  if (!Align(a, b, ma, mb, s)) return false;
  out = Decimal{ma + mb, s};
  return Fits(out.m);
}

bool DecimalSub(const Decimal& a, const Decimal& b, Decimal& out) {
  i128 ma, mb;
  int s;
  if (!Align(a, b, ma, mb, s)) return false;
  out = Decimal{ma - mb, s};
  return Fits(out.m);
}

bool DecimalMul(const Decimal& a0, const Decimal& b0, Decimal& out) {
  Decimal a = a0, b = b0;
  i128 r;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!__builtin_mul_overflow(a.m, b.m, &r) && Fits(r)) {
      out = Clamp(Decimal{r, a.scale + b.scale});
      return true;
    }
    a = DecimalNormalize(a);
    b = DecimalNormalize(b);
  }
  // Give up digits beyond the 18th significant one of each operand.
  auto shrink = [](Decimal d) {
    while (Abs(d.m) >= kPow10.v[18] && d.scale > 0) {
      d.m = DivPow10Round(d.m, 1);
      --d.scale;
    }
    return d;
  };
  a = shrink(a);
  b = shrink(b);
  if (__builtin_mul_overflow(a.m, b.m, &r) || !Fits(r)) return false;
  out = Clamp(Decimal{r, a.scale + b.scale});
  return true;
}

bool DecimalDiv(const Decimal& a, const Decimal& b, Decimal& out) {
  if (b.m == 0) return false;
  // Result scale target: enough digits for 20 significant places where possible.
  for (int target = 24; target >= 0; target -= 4) {
    int k = target - a.scale + b.scale;
    i128 num = a.m;
    int rscale = target;
    if (k < 0) {
      rscale = a.scale - b.scale;
      k = 0;
      if (rscale < 0) {
        if (!MulPow10(num, -rscale)) return false;
        rscale = 0;
      }
    }
    // One extra digit for rounding.
    if (!MulPow10(num, k + 1)) continue;
    i128 q = num / b.m;
    q = q / 10 + (Abs(q % 10) >= 5 ? (q < 0 ? -1 : 1) : 0);
    out = DecimalNormalize(Decimal{q, rscale});
    return true;
  }
  return false;
}

bool DecimalMod(const Decimal& a, const Decimal& b, Decimal& out) {
  if (b.m == 0) return false;
  i128 ma, mb;
  int s;
  if (!Align(a, b, ma, mb, s)) return false;
  out = Decimal{ma % mb, s};
  return true;
}

Decimal DecimalRound(const Decimal& d, int digits) {
  if (digits < 0) digits = 0;
  if (d.scale <= digits) return d;
  return Decimal{DivPow10Round(d.m, d.scale - digits), digits};
}

Decimal DecimalTruncate(const Decimal& d, int digits) {
  if (digits < 0) digits = 0;
  if (d.scale <= digits) return d;
  int n = d.scale - digits;
  return Decimal{n > 38 ? 0 : d.m / kPow10.v[n], digits};
}

Decimal DecimalNormalize(const Decimal& d) {
  Decimal r = d;
  if (r.m == 0) return Decimal{0, 0};
  while (r.scale > 0 && r.m % 10 == 0) {
    r.m /= 10;
    --r.scale;
  }
  return r;
}

bool DecimalRescale(const Decimal& d, int scale, Decimal& out) {
  if (scale < d.scale) {
    out = DecimalRound(d, scale);
    return true;
  }
  i128 m = d.m;
  if (!MulPow10(m, scale - d.scale)) return false;
  out = Decimal{m, scale};
  return true;
}

double DecimalToDouble(const Decimal& d) {
  return std::strtod(DecimalToString(d).c_str(), nullptr);
}

std::optional<Decimal> DecimalFromDouble(double v) {
  if (!std::isfinite(v)) return std::nullopt;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  auto d = ParseDecimal(buf);
  if (!d) return std::nullopt;
  return DecimalNormalize(*d);
}

bool DecimalIsInteger(const Decimal& d) { return DecimalNormalize(d).scale == 0; }

bool DecimalToInt64(const Decimal& d, int64_t& out) {
  i128 q = d.scale > 38 ? 0 : d.m / kPow10.v[d.scale];
  if (q > INT64_MAX || q < INT64_MIN) return false;
  out = static_cast<int64_t>(q);
  return true;
}

// ---------------------------------------------------------------- dates

int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return kDays[(m - 1) % 12];
}

namespace {

bool Digits(std::string_view s, size_t& i, int n, int& out) {
  if (i + n > s.size()) return false;
  int v = 0;
  for (int k = 0; k < n; ++k) {
    char c = s[i + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  i += n;
  out = v;
  return true;
}

bool ParseDatePart(std::string_view s, size_t& i, DateTime& d) {
  int v;
  if (!Digits(s, i, 4, v)) return false;
  d.year = v;
  d.precision = kYear;
  if (i < s.size() && s[i] == '-') {
    ++i;
    if (!Digits(s, i, 2, v) || v < 1 || v > 12) return false;
    d.month = static_cast<int8_t>(v);
    d.precision = kMonth;
    if (i < s.size() && s[i] == '-') {
      ++i;
      if (!Digits(s, i, 2, v) || v < 1 || v > DaysInMonth(d.year, d.month)) return false;
      d.day = static_cast<int8_t>(v);
      d.precision = kDay;
    }
  }
  return true;
}

bool ParseTimePart(std::string_view s, size_t& i, DateTime& d) {
  int v;
  if (!Digits(s, i, 2, v) || v > 23) return false;
  d.hour = static_cast<int8_t>(v);
  d.precision = kHour;
  if (i < s.size() && s[i] == ':') {
    ++i;
    if (!Digits(s, i, 2, v) || v > 59) return false;
    d.minute = static_cast<int8_t>(v);
    d.precision = kMinute;
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!Digits(s, i, 2, v) || v > 60) return false;
      d.second = static_cast<int8_t>(v > 59 ? 59 : v);
      d.precision = kSecond;
      if (i < s.size() && s[i] == '.') {
        ++i;
        int ms = 0, nd = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
          if (nd < 3) ms = ms * 10 + (s[i] - '0');
          ++nd;
          ++i;
        }
        if (nd == 0) return false;
        for (int k = nd; k < 3; ++k) ms *= 10;
        d.ms = static_cast<int16_t>(ms);
        d.precision = kMillis;
      }
    }
  }
  return true;
}

bool ParseTz(std::string_view s, size_t& i, DateTime& d) {
  if (i >= s.size()) return true;
  if (s[i] == 'Z') {
    ++i;
    d.has_tz = true;
    d.tz = 0;
    return true;
  }
  if (s[i] != '+' && s[i] != '-') return false;
  int sign = s[i] == '-' ? -1 : 1;
  ++i;
  int h, m;
  if (!Digits(s, i, 2, h) || h > 14) return false;
  if (i >= s.size() || s[i] != ':') return false;
  ++i;
  if (!Digits(s, i, 2, m) || m > 59) return false;
  d.has_tz = true;
  d.tz = static_cast<int16_t>(sign * (h * 60 + m));
  return true;
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int32_t& y, int8_t& m, int8_t& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = static_cast<int8_t>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int8_t>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int32_t>(yy + (m <= 2));
}

}  // namespace

int64_t ToEpochMs(const DateTime& d) {
  int64_t days = DaysFromCivil(d.year, d.month, d.day);
  return ((days * 24 + d.hour) * 60 + d.minute) * 60000 + d.second * 1000 + d.ms;
}

void FromEpochMs(int64_t ms, DateTime& d) {
  int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
  int64_t rest = ms - days * 86400000;
  CivilFromDays(days, d.year, d.month, d.day);
  d.hour = static_cast<int8_t>(rest / 3600000);
  d.minute = static_cast<int8_t>(rest / 60000 % 60);
  d.second = static_cast<int8_t>(rest / 1000 % 60);
  d.ms = static_cast<int16_t>(rest % 1000);
}

namespace {

// Shifts wall-clock time by `minutes` (used to move to UTC).
DateTime ShiftMinutes(const DateTime& d, int minutes) {
  DateTime r = d;
  FromEpochMs(ToEpochMs(d) + int64_t{minutes} * 60000, r);
  return r;
}

int Level(int8_t precision) { return precision >= kSecond ? 6 : precision; }

std::optional<int> CompareFields(const DateTime& a, const DateTime& b, bool time_only) {
  int la = Level(a.precision), lb = Level(b.precision);
  int lmin = la < lb ? la : lb;
  int64_t va[6] = {a.year, a.month, a.day, a.hour, a.minute, a.second * 1000 + a.ms};
  int64_t vb[6] = {b.year, b.month, b.day, b.hour, b.minute, b.second * 1000 + b.ms};
  int start = time_only ? 3 : 0;
  for (int k = start; k < lmin; ++k) {
    if (va[k] != vb[k]) return va[k] < vb[k] ? -1 : 1;
  }
  if (la != lb) return std::nullopt;
  return 0;
}

}  // namespace

bool ParseDate(std::string_view s, DateTime& out) {
  DateTime d;
  size_t i = 0;
  if (!ParseDatePart(s, i, d) || i != s.size()) return false;
  out = d;
  return true;
}

bool ParseDateTime(std::string_view s, DateTime& out) {
  DateTime d;
  size_t i = 0;
  if (!ParseDatePart(s, i, d)) return false;
  if (i < s.size() && s[i] == 'T') {
    ++i;
    if (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (d.precision != kDay) return false;
      if (!ParseTimePart(s, i, d)) return false;
      if (!ParseTz(s, i, d)) return false;
    }
  }
  if (i != s.size()) return false;
  out = d;
  return true;
}

bool ParseTime(std::string_view s, DateTime& out) {
  DateTime d;
  size_t i = 0;
  if (!ParseTimePart(s, i, d) || i != s.size()) return false;
  out = d;
  return true;
}

std::string FormatDateTime(const DateTime& d, DtKind kind) {
  char buf[64];
  std::string out;
  if (kind != DtKind::kTime) {
    std::snprintf(buf, sizeof buf, "%04d", static_cast<int>(d.year));
    out += buf;
    if (d.precision >= kMonth) {
      std::snprintf(buf, sizeof buf, "-%02d", d.month);
      out += buf;
    }
    if (d.precision >= kDay) {
      std::snprintf(buf, sizeof buf, "-%02d", d.day);
      out += buf;
    }
    if (kind == DtKind::kDate || d.precision <= kDay) return out;
    out.push_back('T');
  }
  std::snprintf(buf, sizeof buf, "%02d", d.hour);
  out += buf;
  if (d.precision >= kMinute) {
    std::snprintf(buf, sizeof buf, ":%02d", d.minute);
    out += buf;
  }
  if (d.precision >= kSecond) {
    std::snprintf(buf, sizeof buf, ":%02d", d.second);
    out += buf;
  }
  if (d.precision >= kMillis) {
    std::snprintf(buf, sizeof buf, ".%03d", d.ms);
    out += buf;
  }
  if (kind == DtKind::kDateTime && d.has_tz) {
    if (d.tz == 0) {
      out.push_back('Z');
    } else {
      int t = d.tz < 0 ? -d.tz : d.tz;
      std::snprintf(buf, sizeof buf, "%c%02d:%02d", d.tz < 0 ? '-' : '+', t / 60, t % 60);
      out += buf;
    }
  }
  return out;
}

std::optional<int> CompareDateTime(const DateTime& a, DtKind ka, const DateTime& b, DtKind kb) {
  if ((ka == DtKind::kTime) != (kb == DtKind::kTime)) return std::nullopt;
  if (ka == DtKind::kTime) return CompareFields(a, b, true);
  bool timed = a.precision >= kHour && b.precision >= kHour;
  if (!timed || (!a.has_tz && !b.has_tz)) return CompareFields(a, b, false);
  if (a.has_tz && b.has_tz) {
    return CompareFields(ShiftMinutes(a, -a.tz), ShiftMinutes(b, -b.tz), false);
  }
  // One side has no time zone: it could be anywhere from -12:00 to +14:00.
  bool a_local = !a.has_tz;
  const DateTime& local = a_local ? a : b;
  const DateTime& zoned = a_local ? b : a;
  DateTime z = ShiftMinutes(zoned, -zoned.tz);
  std::optional<int> lo = CompareFields(ShiftMinutes(local, -14 * 60), z, false);
  std::optional<int> hi = CompareFields(ShiftMinutes(local, 12 * 60), z, false);
  if (!lo || !hi || *lo != *hi) return std::nullopt;
  return a_local ? *lo : -*lo;
}

// ---------------------------------------------------------------- quantities

CalUnit CalendarKeyword(std::string_view w) {
  static const std::pair<std::string_view, CalUnit> kWords[] = {
      {"year", CalUnit::kYear},
      {"years", CalUnit::kYear},
      {"month", CalUnit::kMonth},
      {"months", CalUnit::kMonth},
      {"week", CalUnit::kWeek},
      {"weeks", CalUnit::kWeek},
      {"day", CalUnit::kDay},
      {"days", CalUnit::kDay},
      {"hour", CalUnit::kHour},
      {"hours", CalUnit::kHour},
      {"minute", CalUnit::kMinute},
      {"minutes", CalUnit::kMinute},
      {"second", CalUnit::kSecond},
      {"seconds", CalUnit::kSecond},
      {"millisecond", CalUnit::kMillis},
      {"milliseconds", CalUnit::kMillis},
  };
  for (const auto& [k, u] : kWords) {
    if (k == w) return u;
  }
  return CalUnit::kNone;
}

std::string FormatQuantity(const Quantity& q) {
  std::string out = DecimalToString(q.value);
  out.push_back(' ');
  if (q.calendar != CalUnit::kNone) {
    out += q.unit;
  } else {
    out.push_back('\'');
    out += q.unit;
    out.push_back('\'');
  }
  return out;
}

namespace {

struct UnitDef {
  const char* factor;  // in the units of `base`
  const char* base;    // a UCUM expression over base units, or "" for base units
  bool metric;
};

enum BaseDim { kM, kG, kS, kRad, kK, kC, kCd, kMol, kEq, kArb };

const std::unordered_map<std::string_view, UnitDef>& UnitTable() {
  static const auto* table = new std::unordered_map<std::string_view, UnitDef>{
      {"m", {"1", "", true}},
      {"g", {"1", "", true}},
      {"s", {"1", "", true}},
      {"rad", {"1", "", true}},
      {"K", {"1", "", true}},
      {"C", {"1", "", true}},
      {"cd", {"1", "", true}},
      {"mol", {"1", "", true}},
      {"eq", {"1", "", true}},
      {"1", {"1", "", false}},
      {"%", {"0.01", "1", false}},
      {"[ppth]", {"0.001", "1", false}},
      {"[ppm]", {"0.000001", "1", false}},
      {"[ppb]", {"0.000000001", "1", false}},
      {"[pi]", {"3.1415926535897932384626433832795028841971693993751", "1", false}},
      {"deg", {"0.0174532925199432957692369076848861271344287188854", "rad", false}},
      {"sr", {"1", "rad2", true}},
      {"min", {"60", "s", false}},
      {"h", {"3600", "s", false}},
      {"d", {"86400", "s", false}},
      {"wk", {"604800", "s", false}},
      {"a", {"31557600", "s", false}},
      {"a_j", {"31557600", "s", false}},
      {"a_t", {"31556925.216", "s", false}},
      {"a_g", {"31556952", "s", false}},
      {"mo", {"2629800", "s", false}},
      {"mo_j", {"2629800", "s", false}},
      {"mo_g", {"2629746", "s", false}},
      {"Hz", {"1", "s-1", true}},
      {"N", {"1000", "g.m.s-2", true}},
      {"Pa", {"1000", "g.m-1.s-2", true}},
      {"J", {"1000", "g.m2.s-2", true}},
      {"W", {"1000", "g.m2.s-3", true}},
      {"A", {"1", "C.s-1", true}},
      {"V", {"1000", "g.m2.s-2.C-1", true}},
      {"Ohm", {"1000", "g.m2.s-1.C-2", true}},
      {"S", {"0.001", "g-1.m-2.s.C2", true}},
      {"F", {"0.001", "g-1.m-2.s2.C2", true}},
      {"Wb", {"1000", "g.m2.s-1.C-1", true}},
      {"T", {"1000", "g.s-1.C-1", true}},
      {"H", {"1000", "g.m2.C-2", true}},
      {"kat", {"1", "mol.s-1", true}},
      {"U", {"0.000001", "mol.min-1", true}},
      {"l", {"0.001", "m3", true}},
      {"L", {"0.001", "m3", true}},
      {"ar", {"100", "m2", true}},
      {"t", {"1000000", "g", true}},
      {"u", {"0.0000000000000000000000016605402", "g", true}},
      {"bar", {"100000000", "g.m-1.s-2", true}},
      {"atm", {"101325000", "g.m-1.s-2", false}},
      {"m[Hg]", {"133322000", "g.m-1.s-2", true}},
      {"m[H2O]", {"9806650", "g.m-1.s-2", true}},
      {"cal", {"4184", "g.m2.s-2", true}},
      {"[Cal]", {"4184000", "g.m2.s-2", false}},
      {"eV", {"0.0000000000000001602177330", "g.m2.s-2", true}},
      {"osm", {"1", "mol", true}},
      {"Ao", {"0.0000000001", "m", false}},
      {"[in_i]", {"0.0254", "m", false}},
      {"[ft_i]", {"0.3048", "m", false}},
      {"[yd_i]", {"0.9144", "m", false}},
      {"[mi_i]", {"1609.344", "m", false}},
      {"[lb_av]", {"453.59237", "g", false}},
      {"[oz_av]", {"28.349523125", "g", false}},
      {"[gr]", {"0.06479891", "g", false}},
      {"[st_av]", {"6350.29318", "g", false}},
      {"[gal_us]", {"0.003785411784", "m3", false}},
      {"[qt_us]", {"0.000946352946", "m3", false}},
      {"[pt_us]", {"0.000473176473", "m3", false}},
      {"[foz_us]", {"0.0000295735295625", "m3", false}},
      {"[tsp_us]", {"0.00000492892159375", "m3", false}},
      {"[tbs_us]", {"0.0000147867647812", "m3", false}},
      {"[cup_us]", {"0.0002365882365", "m3", false}},
      {"[psi]", {"6894757.29316836", "g.m-1.s-2", false}},
      {"[degR]", {"0.5555555555555555555555555555", "K", false}},
      {"[drp]", {"0.00000005", "m3", false}},
      {"[mesh_i]", {"39.37007874015748031496062992", "m-1", false}},
      {"g%", {"10000", "g.m-3", true}},
      {"[HPF]", {"1", "1", false}},
      {"[LPF]", {"100", "1", false}},
  };
  return *table;
}

struct Prefix {
  const char* sym;
  int exp;
};
const Prefix kPrefixes[] = {{"da", 1},  {"Y", 24},  {"Z", 21},  {"E", 18},  {"P", 15},
                            {"T", 12},  {"G", 9},   {"M", 6},   {"k", 3},   {"h", 2},
                            {"d", -1},  {"c", -2},  {"m", -3},  {"u", -6},  {"n", -9},
                            {"p", -12}, {"f", -15}, {"a", -18}, {"z", -21}, {"y", -24}};

Decimal Pow10Decimal(int e) {
  if (e >= 0) return Decimal{kPow10.v[e], 0};
  return Decimal{1, -e};
}

struct Canon {
  Decimal factor{1, 0};
  std::array<int8_t, 10> dim{};
};

bool MulCanon(Canon& acc, const Canon& u, int exp) {
  for (int k = 0; k < (exp < 0 ? -exp : exp); ++k) {
    Decimal r;
    if (exp > 0) {
      if (!DecimalMul(acc.factor, u.factor, r)) return false;
    } else {
      if (!DecimalDiv(acc.factor, u.factor, r)) return false;
    }
    acc.factor = r;
  }
  for (int k = 0; k < 10; ++k) acc.dim[k] = static_cast<int8_t>(acc.dim[k] + u.dim[k] * exp);
  return true;
}

bool ParseTerm(std::string_view s, size_t& i, Canon& out, int depth);

bool AtomCanon(std::string_view atom, Canon& out, int depth) {
  const auto& table = UnitTable();
  auto lookup = [&](std::string_view a, Canon& c) -> bool {
    auto it = table.find(a);
    if (it == table.end()) return false;
    c = Canon{};
    if (it->second.base[0] == '\0') {
      static const std::pair<std::string_view, int> kBase[] = {
          {"m", kM}, {"g", kG},   {"s", kS},     {"rad", kRad}, {"K", kK},
          {"C", kC}, {"cd", kCd}, {"mol", kMol}, {"eq", kEq}};
      for (const auto& [n, d] : kBase) {
        if (n == a) c.dim[d] = 1;
      }
      return true;
    }
    std::string_view base = it->second.base;
    size_t j = 0;
    if (!ParseTerm(base, j, c, depth + 1) || j != base.size()) return false;
    auto f = ParseDecimal(it->second.factor);
    Decimal r;
    if (!f || !DecimalMul(c.factor, *f, r)) return false;
    c.factor = r;
    return true;
  };
  if (lookup(atom, out)) return true;
  for (const Prefix& p : kPrefixes) {
    size_t n = std::strlen(p.sym);
    if (atom.size() > n && atom.compare(0, n, p.sym) == 0) {
      auto it = table.find(atom.substr(n));
      if (it == table.end() || !it->second.metric) continue;
      Canon c;
      if (!lookup(atom.substr(n), c)) continue;
      Decimal r;
      if (!DecimalMul(c.factor, Pow10Decimal(p.exp), r)) return false;
      c.factor = r;
      out = c;
      return true;
    }
  }
  return false;
}

// component: '(' term ')' | annotation | factor | atom exponent?
bool ParseComponent(std::string_view s, size_t& i, Canon& out, int depth) {
  if (depth > 16 || i >= s.size()) return false;
  out = Canon{};
  if (s[i] == '(') {
    ++i;
    if (!ParseTerm(s, i, out, depth + 1)) return false;
    if (i >= s.size() || s[i] != ')') return false;
    ++i;
  } else if (s[i] == '{') {
    size_t e = s.find('}', i);
    if (e == std::string_view::npos) return false;
    i = e + 1;
    return true;
  } else if (s[i] >= '0' && s[i] <= '9') {
    size_t st = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    std::string_view num = s.substr(st, i - st);
    if (i < s.size() && (s[i] == '*' || s[i] == '^') && num == "10") {
      ++i;
      bool neg = false;
      if (i < s.size() && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
      size_t es = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
      if (es == i || i - es > 2) return false;
      int e = std::atoi(std::string(s.substr(es, i - es)).c_str());
      if (e > 30) return false;
      out.factor = Pow10Decimal(neg ? -e : e);
    } else {
      auto f = ParseDecimal(num);
      if (!f) return false;
      out.factor = *f;
      return true;
    }
  } else {
    size_t st = i;
    int bracket = 0;
    while (i < s.size()) {
      char c = s[i];
      if (c == '[') ++bracket;
      if (c == ']') --bracket;
      if (bracket == 0 && (c == '.' || c == '/' || c == '(' || c == ')' || c == '{' || c == '+' ||
                           c == '-' || (c >= '0' && c <= '9'))) {
        break;
      }
      ++i;
    }
    if (i == st) return false;
    std::string_view atom = s.substr(st, i - st);
    // Atoms like m[Hg] contain brackets after letters; ones like "10*" are handled above.
    if (!AtomCanon(atom, out, depth)) return false;
  }
  // Optional exponent.
  if (i < s.size() && (s[i] == '-' || s[i] == '+' || (s[i] >= '0' && s[i] <= '9'))) {
    bool neg = false;
    if (s[i] == '-' || s[i] == '+') neg = s[i++] == '-';
    size_t es = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (es == i || i - es > 2) return false;
    int e = std::atoi(std::string(s.substr(es, i - es)).c_str());
    Canon base = out;
    out = Canon{};
    if (!MulCanon(out, base, neg ? -e : e)) return false;
  }
  if (i < s.size() && s[i] == '{') {
    size_t e = s.find('}', i);
    if (e == std::string_view::npos) return false;
    i = e + 1;
  }
  return true;
}

bool ParseTerm(std::string_view s, size_t& i, Canon& out, int depth) {
  if (depth > 16) return false;
  out = Canon{};
  bool first = true;
  while (i < s.size() && s[i] != ')') {
    int exp = 1;
    if (s[i] == '/') {
      exp = -1;
      ++i;
    } else if (!first) {
      if (s[i] != '.') return false;
      ++i;
    }
    Canon c;
    if (!ParseComponent(s, i, c, depth)) return false;
    if (!MulCanon(out, c, exp)) return false;
    first = false;
  }
  return !first;
}

}  // namespace

UcumCanonical UcumParse(std::string_view unit) {
  UcumCanonical r;
  Canon c;
  size_t i = 0;
  if (unit.empty() || unit.size() > 200) return r;
  if (!ParseTerm(unit, i, c, 0) || i != unit.size()) return r;
  r.factor = c.factor;
  r.dim = c.dim;
  r.ok = true;
  return r;
}

namespace {

// UCUM code for calendar durations of fixed length.
std::string_view CalendarUcum(CalUnit u) {
  switch (u) {
    case CalUnit::kWeek:
      return "wk";
    case CalUnit::kDay:
      return "d";
    case CalUnit::kHour:
      return "h";
    case CalUnit::kMinute:
      return "min";
    case CalUnit::kSecond:
      return "s";
    case CalUnit::kMillis:
      return "ms";
    default:
      return {};
  }
}

// Rounds a converted value to a sane number of places.
Decimal Tidy(const Decimal& d) {
  Decimal r = d.scale > 20 ? DecimalRound(d, 20) : d;
  return r;
}

}  // namespace

bool QuantityToCommon(const Quantity& a, const Quantity& b, Decimal& va, Decimal& vb) {
  bool ay = a.calendar == CalUnit::kYear || a.calendar == CalUnit::kMonth;
  bool by = b.calendar == CalUnit::kYear || b.calendar == CalUnit::kMonth;
  if (ay || by) {
    if (!(ay && by)) return false;
    va = a.value;
    vb = b.value;
    Decimal twelve{12, 0};
    if (a.calendar == CalUnit::kYear && b.calendar == CalUnit::kMonth) {
      return DecimalMul(a.value, twelve, va);
    }
    if (a.calendar == CalUnit::kMonth && b.calendar == CalUnit::kYear) {
      return DecimalMul(b.value, twelve, vb);
    }
    return true;
  }
  std::string_view ua = a.calendar != CalUnit::kNone ? CalendarUcum(a.calendar) : a.unit;
  std::string_view ub = b.calendar != CalUnit::kNone ? CalendarUcum(b.calendar) : b.unit;
  if (ua == ub) {
    va = a.value;
    vb = b.value;
    return true;
  }
  UcumCanonical ca = UcumParse(ua), cb = UcumParse(ub);
  if (!ca.ok || !cb.ok || ca.dim != cb.dim) return false;
  Decimal ra, rb;
  if (!DecimalMul(a.value, ca.factor, ra) || !DecimalMul(b.value, cb.factor, rb)) return false;
  va = Tidy(ra);
  vb = Tidy(rb);
  return true;
}

bool QuantityMul(const Quantity& a, const Quantity& b, bool divide, Decimal& value,
                 std::string& unit) {
  if ((a.calendar == CalUnit::kYear || a.calendar == CalUnit::kMonth) ||
      (b.calendar == CalUnit::kYear || b.calendar == CalUnit::kMonth)) {
    return false;
  }
  std::string_view ua = a.calendar != CalUnit::kNone ? CalendarUcum(a.calendar) : a.unit;
  std::string_view ub = b.calendar != CalUnit::kNone ? CalendarUcum(b.calendar) : b.unit;
  if (!UcumParse(ua).ok || !UcumParse(ub).ok) return false;
  if (divide) {
    if (!DecimalDiv(a.value, b.value, value)) return false;
  } else {
    if (!DecimalMul(a.value, b.value, value)) return false;
  }
  auto simple = [](std::string_view u) {
    for (char c : u) {
      if (c == '.' || c == '/') return false;
    }
    return true;
  };
  if (ub == "1") {
    unit = std::string(ua);
  } else if (ua == "1" && !divide) {
    unit = std::string(ub);
  } else {
    unit = std::string(ua);
    unit += divide ? "/" : ".";
    if (simple(ub)) {
      unit += ub;
    } else {
      unit += "(";
      unit += ub;
      unit += ")";
    }
  }
  return true;
}

}  // namespace gm::fhirpath::internal
