#include "fhir/primitives.h"

#include <array>
#include <cstddef>
#include <initializer_list>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace gm::fhir {

namespace {

constexpr size_t kMaxStringChars = 1024 * 1024;  // R4: strings SHALL NOT exceed 1 MB
constexpr int kMaxXhtmlDepth = 256;

struct NameEntry {
  std::string_view name;
  Primitive primitive;
};

constexpr std::array<NameEntry, 20> kNames = {{
    {"boolean", Primitive::kBoolean},
    {"integer", Primitive::kInteger},
    {"decimal", Primitive::kDecimal},
    {"positiveInt", Primitive::kPositiveInt},
    {"unsignedInt", Primitive::kUnsignedInt},
    {"string", Primitive::kString},
    {"markdown", Primitive::kMarkdown},
    {"code", Primitive::kCode},
    {"id", Primitive::kId},
    {"uri", Primitive::kUri},
    {"url", Primitive::kUrl},
    {"canonical", Primitive::kCanonical},
    {"oid", Primitive::kOid},
    {"uuid", Primitive::kUuid},
    {"date", Primitive::kDate},
    {"dateTime", Primitive::kDateTime},
    {"instant", Primitive::kInstant},
    {"time", Primitive::kTime},
    {"base64Binary", Primitive::kBase64Binary},
    {"xhtml", Primitive::kXhtml},
}};

constexpr bool NamesMatchEnumOrder() {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (static_cast<size_t>(kNames[i].primitive) != i) return false;
  }
  return true;
}
static_assert(NamesMatchEnumOrder(), "kNames must be indexed by Primitive");

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// Whitespace as the R4 regular expressions' \s (Java): space, \t, \n, \v, \f, \r.
bool IsRegexSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// Parses exactly `n` digits at text[pos]; -1 when they are not all digits.
int Digits(std::string_view text, size_t pos, size_t n) {
  if (pos + n > text.size()) return -1;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = text[pos + i];
    if (!IsDigit(c)) return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

// True if `s` has a byte below 0x20 other than tab, line feed and carriage return.
bool HasControlCharacter(std::string_view s) {
  size_t i = 0;
#if defined(__SSE2__)
  // Strings can be large (narratives, base64): 16 bytes per step.
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  for (; i + 16 <= s.size(); i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    __m128i at_least_space = _mm_cmpeq_epi8(_mm_max_epu8(v, space), v);
    __m128i allowed = _mm_or_si128(
        at_least_space, _mm_or_si128(_mm_cmpeq_epi8(v, tab),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr))));
    if (_mm_movemask_epi8(allowed) != 0xFFFF) return true;
  }
#endif
  for (; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return true;
  }
  return false;
}

// Common rules of every string-based primitive: not empty, at most 1 MiB
// characters, no control characters other than tab, line feed and carriage
// return. The input is UTF-8 (the JSON parser guarantees it).
std::string_view CheckStringText(std::string_view s) {
  if (s.empty()) return "must not be empty";
  if (HasControlCharacter(s)) return "contains a control character";
  if (s.size() > kMaxStringChars) {
    size_t chars = 0;
    for (unsigned char c : s) chars += (c & 0xC0) != 0x80;
    if (chars > kMaxStringChars) return "is longer than 1 MiB";
  }
  return {};
}

// Digits without leading zeros ("0" alone allowed when allow_zero), value <= limit.
std::string_view CheckUnsignedDigits(std::string_view s, bool allow_zero, int64_t limit) {
  if (s.empty()) return "must not be empty";
  if (s == "0") return allow_zero ? std::string_view() : "must be at least 1";
  if (s[0] == '0') return "must not have leading zeros";
  int64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return "must be a whole number";
    v = v * 10 + (c - '0');
    if (v > limit) return "is out of range (32-bit)";
  }
  return {};
}

std::string_view CheckInteger(std::string_view s) {
  bool negative = !s.empty() && s[0] == '-';
  std::string_view digits = negative ? s.substr(1) : s;
  if (digits.empty()) return "must be a whole number";
  if (digits == "0") return {};
  if (digits[0] == '0') return "must not have leading zeros";
  int64_t v = 0;
  int64_t limit = negative ? 2147483648LL : 2147483647LL;
  for (char c : digits) {
    if (!IsDigit(c)) return "must be a whole number";
    v = v * 10 + (c - '0');
    if (v > limit) return "is out of range (32-bit)";
  }
  return {};
}

// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
std::string_view CheckDecimal(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size() || !IsDigit(s[i])) return "must be a decimal number";
  if (s[i] == '0' && i + 1 < s.size() && IsDigit(s[i + 1])) return "must not have leading zeros";
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i >= s.size() || !IsDigit(s[i])) return "must have digits after the decimal point";
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= s.size() || !IsDigit(s[i])) return "must have digits in the exponent";
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i != s.size()) return "must be a decimal number";
  return {};
}

// [^\s]+(\s[^\s]+)*
std::string_view CheckCode(std::string_view s) {
  if (auto r = CheckStringText(s); !r.empty()) return r;
  if (IsRegexSpace(s.front()) || IsRegexSpace(s.back())) {
    return "must not have leading or trailing whitespace";
  }
  for (size_t i = 1; i < s.size(); ++i) {
    if (IsRegexSpace(s[i]) && IsRegexSpace(s[i - 1])) {
      return "must not contain consecutive whitespace";
    }
  }
  return {};
}

// [A-Za-z0-9\-\.]{1,64}
std::string_view CheckId(std::string_view s) {
  if (s.empty()) return "must not be empty";
  if (s.size() > 64) return "is longer than 64 characters";
  for (char c : s) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '-' && c != '.') {
      return "may contain only letters, digits, '-' and '.'";
    }
  }
  return {};
}

// \S* (and, as for every primitive, not empty)
std::string_view CheckUri(std::string_view s) {
  if (auto r = CheckStringText(s); !r.empty()) return r;
  for (char c : s) {
    if (IsRegexSpace(c)) return "must not contain whitespace";
  }
  return {};
}

// urn:oid:[0-2](\.(0|[1-9][0-9]*))+
std::string_view CheckOid(std::string_view s) {
  constexpr std::string_view kPrefix = "urn:oid:";
  if (s.substr(0, kPrefix.size()) != kPrefix) return "must start with 'urn:oid:'";
  size_t i = kPrefix.size();
  if (i >= s.size() || s[i] < '0' || s[i] > '2') return "must start with arc 0, 1 or 2";
  ++i;
  int arcs = 0;
  while (i < s.size()) {
    if (s[i] != '.') return "must be dot-separated numbers";
    ++i;
    if (i >= s.size() || !IsDigit(s[i])) return "must be dot-separated numbers";
    if (s[i] == '0' && i + 1 < s.size() && IsDigit(s[i + 1])) {
      return "arcs must not have leading zeros";
    }
    while (i < s.size() && IsDigit(s[i])) ++i;
    ++arcs;
  }
  if (arcs == 0) return "must have at least two arcs";
  return {};
}

// urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}
std::string_view CheckUuid(std::string_view s) {
  constexpr std::string_view kPrefix = "urn:uuid:";
  if (s.substr(0, kPrefix.size()) != kPrefix) return "must start with 'urn:uuid:'";
  std::string_view u = s.substr(kPrefix.size());
  if (u.size() != 36) return "must be a lowercase UUID (8-4-4-4-12 hex digits)";
  for (size_t i = 0; i < u.size(); ++i) {
    char c = u[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !(IsDigit(c) || (c >= 'a' && c <= 'f'))) {
      return "must be a lowercase UUID (8-4-4-4-12 hex digits)";
    }
  }
  return {};
}

// (\s*([0-9a-zA-Z\+/=]){4}\s*)+ with '=' only as padding at the very end.
std::string_view CheckBase64(std::string_view s) {
  size_t in_group = 0;  // characters of the current 4-character group
  size_t groups = 0;
  size_t padding = 0;
  for (char c : s) {
    if (IsRegexSpace(c)) {
      if (in_group != 0) return "has whitespace inside a 4-character group";
      continue;
    }
    bool alphabet = IsAlpha(c) || IsDigit(c) || c == '+' || c == '/';
    if (c == '=') {
      if (in_group < 2) return "has misplaced '=' padding";
      ++padding;
    } else if (!alphabet) {
      return "contains a character outside the base64 alphabet";
    } else if (padding > 0) {
      return "has data after '=' padding";
    }
    if (++in_group == 4) {
      in_group = 0;
      ++groups;
    }
  }
  if (groups == 0 && in_group == 0) return "must not be empty";
  if (in_group != 0) return "length is not a multiple of 4";
  return {};
}

// Element names that R4 narrative may use: HTML 4.0 chapters 7-11 and 15, plus
// a and img (txt-1), and the image-map elements the reference validator allows.
// Grouped by first letter: this runs for every tag of every narrative.
bool AllowedXhtmlElement(std::string_view name) {
  if (name.empty() || name.size() > 10) return false;
  auto any = [name](std::initializer_list<std::string_view> names) {
    for (std::string_view n : names) {
      if (n == name) return true;
    }
    return false;
  };
  switch (name[0]) {
    case 'a':
      return any({"a", "abbr", "acronym", "address", "area"});
    case 'b':
      return any({"b", "basefont", "bdo", "big", "blockquote", "br"});
    case 'c':
      return any({"caption", "center", "cite", "code", "col", "colgroup"});
    case 'd':
      return any({"dd", "del", "dfn", "dir", "div", "dl", "dt"});
    case 'e':
      return name == "em";
    case 'f':
      return name == "font";
    case 'h':
      return (name.size() == 2 && name[1] >= '1' && name[1] <= '6') || name == "hr";
    case 'i':
      return any({"i", "img", "ins"});
    case 'k':
      return name == "kbd";
    case 'l':
      return name == "li";
    case 'm':
      return any({"map", "menu"});
    case 'o':
      return name == "ol";
    case 'p':
      return any({"p", "pre"});
    case 'q':
      return name == "q";
    case 's':
      return any({"s", "samp", "small", "span", "strike", "strong", "sub", "sup"});
    case 't':
      return any({"table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt"});
    case 'u':
      return any({"u", "ul"});
    case 'v':
      return name == "var";
    default:
      return false;
  }
}

bool IsNameStart(char c) { return IsAlpha(c) || c == '_' || c == ':'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c) || c == '-' || c == '.'; }

// True if an attribute value, ignoring leading whitespace and control
// characters and ASCII case, starts with a script scheme.
bool IsScriptUrl(std::string_view v) {
  std::string_view rest = v;
  while (!rest.empty() && static_cast<unsigned char>(rest.front()) <= 0x20) rest.remove_prefix(1);
  for (std::string_view scheme : {std::string_view("javascript:"), std::string_view("vbscript:")}) {
    if (rest.size() >= scheme.size() && EqualsIgnoreCase(rest.substr(0, scheme.size()), scheme)) {
      return true;
    }
  }
  return false;
}

class XhtmlChecker {
 public:
  explicit XhtmlChecker(std::string_view s) : s_(s) {}

  std::string_view Run() {
    if (auto r = CheckStringText(s_); !r.empty()) return r;
    while (pos_ < s_.size()) {
      size_t lt = s_.find('<', pos_);
      std::string_view text = s_.substr(pos_, lt == std::string_view::npos ? lt : lt - pos_);
      if (auto r = Text(text); !r.empty()) return r;
      if (lt == std::string_view::npos) break;
      pos_ = lt;
      if (auto r = Markup(); !r.empty()) return r;
    }
    if (!root_seen_) return "must be a single <div> element";
    if (depth_ != 0) return "has an unclosed element";
    if (!has_content_) return "must have some non-whitespace content";
    return {};
  }

 private:
  std::string_view Text(std::string_view text) {
    if (depth_ > 0 && has_content_) return {};
    bool blank = true;
    for (char c : text) {
      if (!IsRegexSpace(c)) blank = false;
    }
    if (blank) return {};
    if (depth_ == 0) return "has content outside the root <div>";
    has_content_ = true;
    return {};
  }

  std::string_view Markup() {
    std::string_view rest = s_.substr(pos_);
    if (rest.starts_with("<!--")) {
      size_t end = s_.find("-->", pos_ + 4);
      if (end == std::string_view::npos) return "has an unterminated comment";
      pos_ = end + 3;
      return {};
    }
    if (rest.starts_with("<![CDATA[")) {
      if (depth_ == 0) return "has content outside the root <div>";
      size_t end = s_.find("]]>", pos_ + 9);
      if (end == std::string_view::npos) return "has an unterminated CDATA section";
      if (end > pos_ + 9) has_content_ = true;
      pos_ = end + 3;
      return {};
    }
    if (rest.starts_with("<!") || rest.starts_with("<?")) {
      return "must not contain declarations or processing instructions";
    }
    if (rest.starts_with("</")) return EndTag();
    return StartTag();
  }

  std::string_view ReadName() {
    size_t start = pos_;
    if (pos_ >= s_.size() || !IsNameStart(s_[pos_])) return {};
    while (pos_ < s_.size() && IsNameChar(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }

  void SkipSpace() {
    while (pos_ < s_.size() && IsRegexSpace(s_[pos_])) ++pos_;
  }

  std::string_view EndTag() {
    pos_ += 2;
    std::string_view name = ReadName();
    SkipSpace();
    if (name.empty() || pos_ >= s_.size() || s_[pos_] != '>') return "has a malformed end tag";
    ++pos_;
    if (depth_ == 0 || open_[depth_ - 1] != name) return "has mismatched element tags";
    --depth_;
    return {};
  }

  std::string_view StartTag() {
    ++pos_;
    std::string_view name = ReadName();
    if (name.empty()) return "has a malformed start tag";
    if (depth_ == 0) {
      if (root_seen_) return "must be a single <div> element";
      if (name != "div") return "must have <div> as its root element";
      root_seen_ = true;
    } else if (!AllowedXhtmlElement(name)) {
      return "uses an element that narrative does not allow";
    }
    if (name == "img") has_content_ = true;
    bool xhtml_namespace = false;
    while (true) {
      size_t before = pos_;
      SkipSpace();
      if (pos_ >= s_.size()) return "has an unterminated start tag";
      if (s_[pos_] == '>' || s_.substr(pos_, 2) == "/>") break;
      if (pos_ == before) return "has a malformed attribute";
      std::string_view attr = ReadName();
      if (attr.empty()) return "has a malformed attribute";
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '=') return "has an attribute without a value";
      ++pos_;
      SkipSpace();
      if (pos_ >= s_.size() || (s_[pos_] != '"' && s_[pos_] != '\'')) {
        return "has an unquoted attribute value";
      }
      char quote = s_[pos_++];
      size_t end = s_.find(quote, pos_);
      if (end == std::string_view::npos) return "has an unterminated attribute value";
      std::string_view value = s_.substr(pos_, end - pos_);
      pos_ = end + 1;
      if (value.find('<') != std::string_view::npos) return "has '<' in an attribute value";
      if (attr.size() > 2 && Lower(attr[0]) == 'o' && Lower(attr[1]) == 'n') {
        return "must not have event handler attributes";
      }
      if (IsScriptUrl(value)) return "must not have script URLs";
      if (attr == "xmlns") {
        if (value != "http://www.w3.org/1999/xhtml") return "must use the XHTML namespace";
        xhtml_namespace = true;
      }
    }
    if (depth_ == 0 && !xhtml_namespace) {
      return "root <div> must declare xmlns=\"http://www.w3.org/1999/xhtml\"";
    }
    if (s_[pos_] == '/') {
      pos_ += 2;
      return {};
    }
    ++pos_;
    if (depth_ >= kMaxXhtmlDepth) return "is nested too deeply";
    open_[depth_++] = name;
    return {};
  }

  std::string_view s_;
  size_t pos_ = 0;
  int depth_ = 0;
  bool root_seen_ = false;
  bool has_content_ = false;
  std::array<std::string_view, kMaxXhtmlDepth> open_;
};

int Parse2(std::string_view s, size_t pos, int max) {
  int v = Digits(s, pos, 2);
  return v > max ? -1 : v;
}

// hh:mm:ss(.f+)? at s[pos]; advances pos.
std::string_view ParseClock(std::string_view s, size_t& pos, Temporal* t) {
  int h = Parse2(s, pos, 23);
  if (h < 0) return "hour must be 00-23";
  if (pos + 2 >= s.size() || s[pos + 2] != ':') return "time must be hh:mm:ss";
  int m = Parse2(s, pos + 3, 59);
  if (m < 0) return "minute must be 00-59";
  if (pos + 5 >= s.size() || s[pos + 5] != ':') return "time must be hh:mm:ss";
  int sec = Parse2(s, pos + 6, 60);
  if (sec < 0) return "second must be 00-60";
  pos += 8;
  size_t frac_start = pos;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    frac_start = pos;
    while (pos < s.size() && IsDigit(s[pos])) ++pos;
    if (pos == frac_start) return "fraction of a second needs digits";
  }
  if (t != nullptr) {
    t->hour = h;
    t->minute = m;
    t->second = sec;
    t->fraction = s.substr(frac_start, pos - frac_start);
  }
  return {};
}

}  // namespace

std::optional<Primitive> PrimitiveFromName(std::string_view type_name) {
  // Only names of the same length and first letter are compared: this runs for
  // every primitive value the validator sees.
  for (const NameEntry& e : kNames) {
    if (e.name.size() == type_name.size() && e.name[0] == type_name[0] && e.name == type_name) {
      return e.primitive;
    }
  }
  return std::nullopt;
}

std::string_view PrimitiveName(Primitive p) { return kNames[static_cast<size_t>(p)].name; }

json::Kind JsonKindOf(Primitive p) {
  switch (p) {
    case Primitive::kBoolean:
      return json::Kind::kBool;
    case Primitive::kInteger:
    case Primitive::kDecimal:
    case Primitive::kPositiveInt:
    case Primitive::kUnsignedInt:
      return json::Kind::kNumber;
    default:
      return json::Kind::kString;
  }
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return 0;
  if (month == 2) {
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return leap ? 29 : 28;
  }
  return kDays[month - 1];
}

std::string_view ParseTemporal(Primitive p, std::string_view s, Temporal* out) {
  Temporal local;
  Temporal* t = out != nullptr ? out : &local;
  *t = Temporal();
  size_t pos = 0;
  if (p == Primitive::kTime) {
    t->precision = Temporal::Precision::kSecond;
    if (auto r = ParseClock(s, pos, t); !r.empty()) return r;
    if (pos != s.size()) return "time must be hh:mm:ss with an optional fraction";
    return {};
  }
  if (p != Primitive::kDate && p != Primitive::kDateTime && p != Primitive::kInstant) {
    return "is not a date or time type";
  }
  bool instant = p == Primitive::kInstant;
  int year = Digits(s, 0, 4);
  if (year < 0) return "must start with a 4-digit year";
  if (year == 0) return "year 0000 is not allowed";
  t->year = year;
  pos = 4;
  if (pos == s.size()) return instant ? "instant must have date, time and timezone" : "";
  if (s[pos] != '-') return "year must be followed by '-MM'";
  t->month = Parse2(s, pos + 1, 12);
  if (t->month < 1) return "month must be 01-12";
  t->precision = Temporal::Precision::kMonth;
  pos += 3;
  if (pos == s.size()) return instant ? "instant must have date, time and timezone" : "";
  if (s[pos] != '-') return "month must be followed by '-DD'";
  t->day = Digits(s, pos + 1, 2);
  if (t->day < 1 || t->day > DaysInMonth(year, t->month)) {
    return "day is out of range for the month";
  }
  t->precision = Temporal::Precision::kDay;
  pos += 3;
  if (pos == s.size()) return instant ? "instant must have date, time and timezone" : "";
  if (p == Primitive::kDate) return "date must not have a time";
  if (s[pos] != 'T') return "date must be followed by 'T' and a time";
  ++pos;
  if (auto r = ParseClock(s, pos, t); !r.empty()) return r;
  t->precision = Temporal::Precision::kSecond;
  if (pos == s.size()) return "a time must have a timezone (Z or +hh:mm)";
  if (s[pos] == 'Z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int sign = s[pos] == '-' ? -1 : 1;
    int zh = Digits(s, pos + 1, 2);
    int zm = pos + 3 < s.size() && s[pos + 3] == ':' ? Digits(s, pos + 4, 2) : -1;
    if (zh < 0 || zm < 0) return "timezone must be Z or +hh:mm";
    if (zm > 59 || zh > 14 || (zh == 14 && zm != 0)) return "timezone offset is out of range";
    t->zone_offset_minutes = sign * (zh * 60 + zm);
    pos += 6;
  } else {
    return "a time must have a timezone (Z or +hh:mm)";
  }
  t->has_zone = true;
  if (pos != s.size()) return "has trailing characters";
  return {};
}

std::string_view CheckLexical(Primitive p, std::string_view s) {
  switch (p) {
    case Primitive::kBoolean:
      return s == "true" || s == "false" ? std::string_view() : "must be true or false";
    case Primitive::kInteger:
      return CheckInteger(s);
    case Primitive::kDecimal:
      return CheckDecimal(s);
    case Primitive::kPositiveInt:
      return CheckUnsignedDigits(s, false, 2147483647LL);
    case Primitive::kUnsignedInt:
      return CheckUnsignedDigits(s, true, 2147483647LL);
    case Primitive::kString:
    case Primitive::kMarkdown:
      return CheckStringText(s);
    case Primitive::kCode:
      return CheckCode(s);
    case Primitive::kId:
      return CheckId(s);
    case Primitive::kUri:
    case Primitive::kUrl:
    case Primitive::kCanonical:
      return CheckUri(s);
    case Primitive::kOid:
      return CheckOid(s);
    case Primitive::kUuid:
      return CheckUuid(s);
    case Primitive::kDate:
    case Primitive::kDateTime:
    case Primitive::kInstant:
    case Primitive::kTime:
      return ParseTemporal(p, s, nullptr);
    case Primitive::kBase64Binary:
      return CheckBase64(s);
    case Primitive::kXhtml:
      return XhtmlChecker(s).Run();
  }
  return "is not a primitive type";
}

std::string_view CheckValue(Primitive p, const json::Value& v) {
  switch (JsonKindOf(p)) {
    case json::Kind::kBool:
      return v.is_bool() ? std::string_view() : "must be a JSON boolean";
    case json::Kind::kNumber:
      return v.is_number() ? CheckLexical(p, v.str()) : "must be a JSON number";
    default:
      return v.is_string() ? CheckLexical(p, v.str()) : "must be a JSON string";
  }
}

}  // namespace gm::fhir
