// FHIRPath functions (N1 §5 and the FHIR R4 additions), plus the boundary
// functions of FHIRPath 2.1 that the R4 suite exercises.
#include <re2/re2.h>

#include <algorithm>
#include <cmath>

#include "fhirpath/eval.h"

namespace gm::fhirpath::internal {

namespace {

bool IsAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

// Byte offsets of each code point, plus the end.
std::vector<size_t> CodePoints(std::string_view s) {
  std::vector<size_t> off;
  off.reserve(s.size() + 1);
  for (size_t k = 0; k < s.size(); ++k) {
    if ((static_cast<unsigned char>(s[k]) & 0xC0) != 0x80) off.push_back(k);
  }
  off.push_back(s.size());
  return off;
}

size_t CharLength(std::string_view s) {
  if (IsAscii(s)) return s.size();
  return CodePoints(s).size() - 1;
}

// Case mapping for ASCII and Latin-1 (æ ø å and friends).
std::string MapCase(std::string_view s, bool upper) {
  std::string out;
  out.reserve(s.size());
  for (size_t k = 0; k < s.size(); ++k) {
    unsigned char c = static_cast<unsigned char>(s[k]);
    if (c < 0x80) {
      if (upper && c >= 'a' && c <= 'z') c = static_cast<unsigned char>(c - 32);
      if (!upper && c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c + 32);
      out.push_back(static_cast<char>(c));
    } else if (c == 0xC3 && k + 1 < s.size()) {
      unsigned char d = static_cast<unsigned char>(s[k + 1]);
      unsigned cp = 0xC0 + (d & 0x3F);
      if (upper && cp >= 0xE0 && cp <= 0xFE && cp != 0xF7) cp -= 0x20;
      if (!upper && cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) cp += 0x20;
      out.push_back(static_cast<char>(0xC3));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      ++k;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(std::string_view in, bool url) {
  std::string out;
  size_t k = 0;
  while (k + 2 < in.size() + 2 && k < in.size()) {
    uint32_t v = static_cast<unsigned char>(in[k]) << 16;
    if (k + 1 < in.size()) v |= static_cast<unsigned char>(in[k + 1]) << 8;
    if (k + 2 < in.size()) v |= static_cast<unsigned char>(in[k + 2]);
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(k + 1 < in.size() ? kB64[(v >> 6) & 63] : '=');
    out.push_back(k + 2 < in.size() ? kB64[v & 63] : '=');
    k += 3;
  }
  if (url) {
    for (char& c : out) {
      if (c == '+') c = '-';
      if (c == '/') c = '_';
    }
  }
  return out;
}

bool Base64Decode(std::string_view in, bool url, std::string& out) {
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == (url ? '-' : '+'))
      v = 62;
    else if (c == (url ? '_' : '/'))
      v = 63;
    else if (c == '=')
      break;
    else
      return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string HtmlUnescape(std::string_view s) {
  static const std::pair<std::string_view, char> kEntities[] = {{"&amp;", '&'},  {"&lt;", '<'},
                                                                {"&gt;", '>'},   {"&quot;", '"'},
                                                                {"&#39;", '\''}, {"&apos;", '\''}};
  std::string out;
  for (size_t k = 0; k < s.size();) {
    bool done = false;
    if (s[k] == '&') {
      for (const auto& [e, c] : kEntities) {
        if (s.substr(k, e.size()) == e) {
          out.push_back(c);
          k += e.size();
          done = true;
          break;
        }
      }
    }
    if (!done) out.push_back(s[k++]);
  }
  return out;
}

std::string JsonEscape(std::string_view s) {
  std::string quoted;
  json::WriteString(s, quoted);
  return quoted.substr(1, quoted.size() - 2);
}

std::string JsonUnescape(std::string_view s) {
  std::string out;
  for (size_t k = 0; k < s.size(); ++k) {
    if (s[k] != '\\' || k + 1 >= s.size()) {
      out.push_back(s[k]);
      continue;
    }
    char e = s[++k];
    switch (e) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'u':
        if (k + 4 < s.size()) {
          uint32_t cp = static_cast<uint32_t>(
              std::strtoul(std::string(s.substr(k + 1, 4)).c_str(), nullptr, 16));
          if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
          } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
          } else {
            out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
          }
          k += 4;
        }
        break;
      default:
        out.push_back(e);
    }
  }
  return out;
}

bool StringToBool(std::string_view s, bool& out) {
  std::string l = MapCase(s, false);
  if (l == "true" || l == "t" || l == "yes" || l == "y" || l == "1" || l == "1.0") {
    out = true;
    return true;
  }
  if (l == "false" || l == "f" || l == "no" || l == "n" || l == "0" || l == "0.0") {
    out = false;
    return true;
  }
  return false;
}

bool StringToInteger(std::string_view s, int64_t& out) {
  size_t k = 0;
  bool neg = false;
  if (k < s.size() && (s[k] == '+' || s[k] == '-')) neg = s[k++] == '-';
  if (k == s.size() || s.size() - k > 18) return false;
  int64_t v = 0;
  for (; k < s.size(); ++k) {
    if (s[k] < '0' || s[k] > '9') return false;
    v = v * 10 + (s[k] - '0');
  }
  out = neg ? -v : v;
  return true;
}

bool StringToDecimal(std::string_view s, Decimal& out) {
  for (char c : s) {
    if (c == 'e' || c == 'E') return false;
  }
  if (!s.empty() && s.back() == '.') return false;
  auto d = ParseDecimal(s);
  if (!d) return false;
  out = *d;
  return true;
}

// "5", "5.1 'mg'", "2 weeks".
bool StringToQuantity(std::string_view s, Quantity& q, std::string& unit_holder) {
  size_t k = 0;
  while (k < s.size() && s[k] != ' ') ++k;
  Decimal v;
  if (!StringToDecimal(s.substr(0, k), v)) return false;
  q.value = v;
  while (k < s.size() && s[k] == ' ') ++k;
  std::string_view rest = s.substr(k);
  if (rest.empty()) {
    q.unit = "1";
    q.calendar = CalUnit::kNone;
    return true;
  }
  if (rest.size() >= 2 && rest.front() == '\'' && rest.back() == '\'') {
    unit_holder = std::string(rest.substr(1, rest.size() - 2));
    if (unit_holder.empty()) return false;
    q.unit = unit_holder;
    q.calendar = CalUnit::kNone;
    return true;
  }
  CalUnit c = CalendarKeyword(rest);
  if (c == CalUnit::kNone) return false;
  unit_holder = std::string(rest);
  q.unit = unit_holder;
  q.calendar = c;
  return true;
}

int PrecisionDigits(const DateTime& d, ValueKind k) {
  if (k == ValueKind::kTime) {
    static const int kTime[] = {0, 0, 0, 0, 2, 4, 6, 9};
    return kTime[d.precision];
  }
  static const int kDate[] = {0, 4, 6, 8, 10, 12, 14, 17};
  return kDate[d.precision];
}

// Fills fields below the current precision with their lowest or highest value.
void FillBoundary(DateTime& d, bool high) {
  if (d.precision < kMonth) d.month = high ? 12 : 1;
  if (d.precision < kDay) d.day = static_cast<int8_t>(high ? DaysInMonth(d.year, d.month) : 1);
  if (d.precision < kHour) d.hour = high ? 23 : 0;
  if (d.precision < kMinute) d.minute = high ? 59 : 0;
  if (d.precision < kSecond) d.second = high ? 59 : 0;
  if (d.precision < kMillis) d.ms = high ? 999 : 0;
}

int8_t PrecisionFromDigits(int digits, bool time) {
  if (time) {
    switch (digits) {
      case 2:
        return kHour;
      case 4:
        return kMinute;
      case 6:
        return kSecond;
      case 9:
        return kMillis;
      default:
        return 0;
    }
  }
  switch (digits) {
    case 4:
      return kYear;
    case 6:
      return kMonth;
    case 8:
      return kDay;
    case 10:
      return kHour;
    case 12:
      return kMinute;
    case 14:
      return kSecond;
    case 17:
      return kMillis;
    default:
      return 0;
  }
}

// Decimal boundary: the value ± half a unit in its last digit, given with
// `digits` decimal places (low truncates, high rounds half up).
bool DecimalBoundary(const Decimal& d, int digits, bool high, Decimal& out) {
  if (digits < 0 || digits > 28) return false;
  bool neg = d.m < 0;
  Decimal mag{neg ? -d.m : d.m, d.scale};
  bool up = high != neg;  // moving away from zero
  Decimal half{5, mag.scale + 1};
  Decimal b;
  if (up) {
    if (!DecimalAdd(mag, half, b)) return false;
  } else {
    if (!DecimalSub(mag, half, b)) return false;
  }
  Decimal r = up ? DecimalRound(b, digits) : DecimalTruncate(b, digits);
  if (!DecimalRescale(r, digits, out)) return false;
  if (neg) out.m = -out.m;
  return true;
}

// Basic XHTML safety check for narrative: no active content.
bool HtmlIsSafe(std::string_view html) {
  std::string l = MapCase(html, false);
  static const char* kBanned[] = {"<script", "<iframe", "<object",     "<embed",   "<form",
                                  "<input",  "<frame",  "<applet",     "<base",    "<link",
                                  "<meta",   "<style",  "javascript:", "vbscript:"};
  for (const char* b : kBanned) {
    if (l.find(b) != std::string::npos) return false;
  }
  // Event handler attributes (onclick=, onload= ...).
  for (size_t p = l.find(" on"); p != std::string::npos; p = l.find(" on", p + 1)) {
    size_t k = p + 3;
    while (k < l.size() && l[k] >= 'a' && l[k] <= 'z') ++k;
    while (k < l.size() && l[k] == ' ') ++k;
    if (k < l.size() && l[k] == '=' && k > p + 3) {
      // Only inside a tag.
      size_t lt = l.rfind('<', p), gt = l.rfind('>', p);
      if (lt != std::string::npos && (gt == std::string::npos || gt < lt)) return false;
    }
  }
  size_t start = l.find_first_not_of(" \t\r\n");
  return start != std::string::npos && l.compare(start, 4, "<div") == 0;
}

std::shared_ptr<RE2> CompileRegex(std::string_view pattern) {
  RE2::Options opts;
  opts.set_dot_nl(true);
  opts.set_log_errors(false);
  opts.set_max_mem(8 << 20);
  return std::make_shared<RE2>(re2::StringPiece(pattern.data(), pattern.size()), opts);
}

}  // namespace

// Replaces every match of re in s by subst, where $1..$9 name groups. The
// result is built incrementally so that it cannot outgrow `limit`.
Status Evaluator::ReplaceAll(const RE2& re, std::string_view s, std::string_view subst,
                             size_t limit, std::string& out) {
  int groups = re.NumberOfCapturingGroups();
  if (groups > 9) groups = 9;
  re2::StringPiece match[10];
  re2::StringPiece text(s.data(), s.size());
  size_t pos = 0;
  while (pos <= s.size()) {
    GM_RETURN_IF_ERROR(Tick(1));
    if (!re.Match(text, pos, s.size(), RE2::UNANCHORED, match, groups + 1)) break;
    size_t start = static_cast<size_t>(match[0].data() - s.data());
    size_t end = start + match[0].size();
    out.append(s.substr(pos, start - pos));
    for (size_t k = 0; k < subst.size(); ++k) {
      char c = subst[k];
      if (c == '$' && k + 1 < subst.size() && subst[k + 1] >= '0' && subst[k + 1] <= '9') {
        int g = subst[++k] - '0';
        if (g <= groups && match[g].data() != nullptr) out.append(match[g].data(), match[g].size());
      } else {
        out.push_back(c);
      }
    }
    if (out.size() > limit) return LimitError("string length limit exceeded");
    if (end == start) {
      // An empty match: keep the next character and move on.
      if (start < s.size()) {
        size_t next = start + 1;
        while (next < s.size() && (static_cast<unsigned char>(s[next]) & 0xC0) == 0x80) ++next;
        out.append(s.substr(start, next - start));
        pos = next;
      } else {
        pos = s.size() + 1;
      }
    } else {
      pos = end;
    }
  }
  if (pos < s.size()) out.append(s.substr(pos));
  if (out.size() > limit) return LimitError("string length limit exceeded");
  return Status::Ok();
}

Status Evaluator::Call(const Node* n, const Frame& f, const Coll& in, Coll& out) {
  const auto& args = n->args;
  // Iterates a lambda argument with $this = each item and $index.
  auto each = [&](const Node* expr, auto&& fn) -> Status {
    Coll one;
    Frame lf;
    lf.self = &one;
    lf.total = f.total;
    for (size_t k = 0; k < in.size(); ++k) {
      one.clear();
      one.push_back(in[k]);
      lf.index = static_cast<int64_t>(k);
      Coll r;
      GM_RETURN_IF_ERROR(Eval(expr, lf, r));
      GM_RETURN_IF_ERROR(fn(k, r));
    }
    return Status::Ok();
  };
  auto single = [&](const Item*& it) { return Single(in, n, it); };
  auto input_scalar = [&](bool& present, Scalar& s) -> Status {
    const Item* it = nullptr;
    GM_RETURN_IF_ERROR(single(it));
    present = it != nullptr && ToScalar(*it, s);
    return Status::Ok();
  };
  auto input_string = [&](bool& present, std::string_view& s) -> Status {
    Scalar sc;
    GM_RETURN_IF_ERROR(input_scalar(present, sc));
    if (!present) {
      if (!in.empty() && in[0].kind() == ValueKind::kFhir &&
          (Access::type(in[0]) == nullptr || !Access::type(in[0])->primitive)) {
        return Error(n, kErrType,
                     "'" + n->name + "' expects a String, got " + std::string(TypeNameOf(in[0])));
      }
      return Status::Ok();
    }
    if (sc.kind != ValueKind::kString) {
      return Error(n, kErrType,
                   "'" + n->name + "' expects a String, got " + std::string(TypeNameOf(in[0])));
    }
    s = sc.s;
    return Status::Ok();
  };
  auto push_bool = [&](bool b) {
    out.push_back(Access::Bool(b));
    return Status::Ok();
  };
  auto push_string = [&](std::string_view s) -> Status {
    Item it;
    GM_RETURN_IF_ERROR(MakeString(s, it));
    out.push_back(it);
    return Status::Ok();
  };
  auto eval_arg = [&](size_t k, Coll& c) { return Eval(args[k], f, c); };
  auto all_bool = [&](bool want, bool any) -> Status {
    bool result = !any;
    for (const Item& it : in) {
      Scalar s;
      if (!ToScalar(it, s) || s.kind != ValueKind::kBoolean) {
        return Error(n, kErrType, "'" + n->name + "' expects Booleans");
      }
      if (any && s.b == want) result = true;
      if (!any && s.b != want) result = false;
    }
    return push_bool(result);
  };

  switch (n->fn) {
    // ------------------------------------------------ existence
    case Fn::kEmpty:
      return push_bool(in.empty());
    case Fn::kExists:
      if (args.empty()) return push_bool(!in.empty());
      {
        bool found = false;
        GM_RETURN_IF_ERROR(each(args[0], [&](size_t, const Coll& r) -> Status {
          std::optional<bool> b;
          GM_RETURN_IF_ERROR(Bool(r, args[0], b));
          if (b == true) found = true;
          return Status::Ok();
        }));
        return push_bool(found);
      }
    case Fn::kAll: {
      bool all = true;
      GM_RETURN_IF_ERROR(each(args[0], [&](size_t, const Coll& r) -> Status {
        std::optional<bool> b;
        GM_RETURN_IF_ERROR(Bool(r, args[0], b));
        if (b != true) all = false;
        return Status::Ok();
      }));
      return push_bool(all);
    }
    case Fn::kAllTrue:
      return all_bool(true, false);
    case Fn::kAnyTrue:
      return all_bool(true, true);
    case Fn::kAllFalse:
      return all_bool(false, false);
    case Fn::kAnyFalse:
      return all_bool(false, true);
    case Fn::kSubsetOf:
    case Fn::kSupersetOf: {
      Coll other;
      GM_RETURN_IF_ERROR(eval_arg(0, other));
      const Coll& sub = n->fn == Fn::kSubsetOf ? in : other;
      const Coll& super = n->fn == Fn::kSubsetOf ? other : in;
      GM_RETURN_IF_ERROR(Tick(sub.size() * super.size()));
      for (const Item& it : sub) {
        if (!Contains(super, it)) return push_bool(false);
      }
      return push_bool(true);
    }
    case Fn::kCount:
      out.push_back(Access::Int(static_cast<int64_t>(in.size())));
      return Status::Ok();
    case Fn::kDistinct:
    case Fn::kIsDistinct: {
      GM_RETURN_IF_ERROR(Tick(in.size() * in.size() / 2));
      Coll d;
      for (const Item& it : in) {
        if (!Contains(d, it)) d.push_back(it);
      }
      if (n->fn == Fn::kIsDistinct) return push_bool(d.size() == in.size());
      out.Append(d.data(), d.size());
      return Status::Ok();
    }

    // ------------------------------------------------ filtering and projection
    case Fn::kWhere:
      return each(args[0], [&](size_t k, const Coll& r) -> Status {
        std::optional<bool> b;
        GM_RETURN_IF_ERROR(Bool(r, args[0], b));
        if (b == true) out.push_back(in[k]);
        return Status::Ok();
      });
    case Fn::kSelect:
      return each(args[0], [&](size_t, const Coll& r) -> Status {
        out.Append(r.data(), r.size());
        return CheckSize(out);
      });
    case Fn::kRepeat: {
      Coll queue = in;
      Coll one;
      Frame lf;
      lf.self = &one;
      for (size_t q = 0; q < queue.size(); ++q) {
        one.clear();
        one.push_back(queue[q]);
        Coll r;
        GM_RETURN_IF_ERROR(Eval(args[0], lf, r));
        GM_RETURN_IF_ERROR(Tick(r.size() * (out.size() + 1)));
        for (const Item& it : r) {
          if (!Contains(out, it)) {
            out.push_back(it);
            queue.push_back(it);
          }
        }
        GM_RETURN_IF_ERROR(CheckSize(out));
      }
      return Status::Ok();
    }
    case Fn::kOfType:
      for (const Item& it : in) {
        if (IsTypeOf(it, n->type, true)) out.push_back(it);
      }
      return Status::Ok();

    // ------------------------------------------------ subsetting
    case Fn::kSingle: {
      const Item* it = nullptr;
      GM_RETURN_IF_ERROR(single(it));
      if (it) out.push_back(*it);
      return Status::Ok();
    }
    case Fn::kFirst:
      if (!in.empty()) out.push_back(in[0]);
      return Status::Ok();
    case Fn::kLast:
      if (!in.empty()) out.push_back(in[in.size() - 1]);
      return Status::Ok();
    case Fn::kTail:
      if (in.size() > 1) out.Append(in.data() + 1, in.size() - 1);
      return Status::Ok();
    case Fn::kSkip:
    case Fn::kTake: {
      bool present = false;
      int64_t num = 0;
      GM_RETURN_IF_ERROR(ArgInteger(args[0], f, present, num));
      if (!present) return Status::Ok();
      if (num < 0) num = 0;
      size_t k = static_cast<size_t>(num) < in.size() ? static_cast<size_t>(num) : in.size();
      if (n->fn == Fn::kSkip) {
        out.Append(in.data() + k, in.size() - k);
      } else {
        out.Append(in.data(), k);
      }
      return Status::Ok();
    }
    case Fn::kIntersect: {
      Coll other;
      GM_RETURN_IF_ERROR(eval_arg(0, other));
      GM_RETURN_IF_ERROR(Tick(in.size() * (other.size() + 1)));
      for (const Item& it : in) {
        if (Contains(other, it) && !Contains(out, it)) out.push_back(it);
      }
      return Status::Ok();
    }
    case Fn::kExclude: {
      Coll other;
      GM_RETURN_IF_ERROR(eval_arg(0, other));
      GM_RETURN_IF_ERROR(Tick(in.size() * (other.size() + 1)));
      for (const Item& it : in) {
        if (!Contains(other, it)) out.push_back(it);
      }
      return Status::Ok();
    }

    // ------------------------------------------------ combining
    case Fn::kUnion: {
      Coll other;
      GM_RETURN_IF_ERROR(eval_arg(0, other));
      GM_RETURN_IF_ERROR(Tick((in.size() + other.size()) * (in.size() + other.size()) / 2));
      for (const Coll* c : {&in, static_cast<const Coll*>(&other)}) {
        for (const Item& it : *c) {
          if (!Contains(out, it)) out.push_back(it);
        }
      }
      return Status::Ok();
    }
    case Fn::kCombine: {
      Coll other;
      GM_RETURN_IF_ERROR(eval_arg(0, other));
      out.Append(in.data(), in.size());
      out.Append(other.data(), other.size());
      return Status::Ok();
    }

    // ------------------------------------------------ utility
    case Fn::kIif: {
      if (in.size() > 1) {
        return Error(n, kErrSingleton, "iif() on a collection of " + std::to_string(in.size()));
      }
      Frame lf = f;
      lf.self = &in;
      Coll c;
      GM_RETURN_IF_ERROR(Eval(args[0], lf, c));
      std::optional<bool> b;
      GM_RETURN_IF_ERROR(Bool(c, args[0], b));
      if (b == true) return Eval(args[1], lf, out);
      if (args.size() > 2) return Eval(args[2], lf, out);
      return Status::Ok();
    }
    case Fn::kTrace: {
      bool present = false;
      std::string_view name;
      std::string holder;
      GM_RETURN_IF_ERROR(ArgString(args[0], f, present, name, holder));
      if (options().trace) {
        Coll shown;
        if (args.size() > 1) {
          GM_RETURN_IF_ERROR(each(args[1], [&](size_t, const Coll& r) -> Status {
            shown.Append(r.data(), r.size());
            return Status::Ok();
          }));
        } else {
          shown = in;
        }
        Collection c;
        Access::items(c).assign(shown.begin(), shown.end());
        options().trace(name, c);
      }
      out.Append(in.data(), in.size());
      return Status::Ok();
    }
    case Fn::kNow:
      out.push_back(MakeDt(ValueKind::kDateTime, Now()));
      return Status::Ok();
    case Fn::kToday: {
      DateTime d = Now();
      d.precision = kDay;
      d.has_tz = false;
      out.push_back(MakeDt(ValueKind::kDate, d));
      return Status::Ok();
    }
    case Fn::kTimeOfDay: {
      DateTime d = Now();
      d.year = 0;
      d.month = d.day = 1;
      d.has_tz = false;
      out.push_back(MakeDt(ValueKind::kTime, d));
      return Status::Ok();
    }
    case Fn::kAggregate: {
      Coll total;
      if (args.size() > 1) GM_RETURN_IF_ERROR(eval_arg(1, total));
      Coll one;
      Frame lf;
      lf.self = &one;
      for (size_t k = 0; k < in.size(); ++k) {
        one.clear();
        one.push_back(in[k]);
        lf.index = static_cast<int64_t>(k);
        lf.total = &total;
        Coll next;
        GM_RETURN_IF_ERROR(Eval(args[0], lf, next));
        total = std::move(next);
      }
      out.Append(total.data(), total.size());
      return Status::Ok();
    }
    case Fn::kSort: {
      struct Keyed {
        Item item;
        std::vector<Scalar> keys;
        std::vector<bool> has;
      };
      std::vector<Keyed> rows;
      rows.reserve(in.size());
      Coll one;
      Frame lf;
      lf.self = &one;
      for (size_t k = 0; k < in.size(); ++k) {
        Keyed row{in[k], {}, {}};
        if (args.empty()) {
          Scalar s;
          row.has.push_back(ToScalar(in[k], s));
          row.keys.push_back(s);
        }
        for (const Node* key : args) {
          one.clear();
          one.push_back(in[k]);
          lf.index = static_cast<int64_t>(k);
          Coll r;
          GM_RETURN_IF_ERROR(Eval(key, lf, r));
          const Item* it = nullptr;
          GM_RETURN_IF_ERROR(Single(r, key, it));
          Scalar s;
          row.has.push_back(it != nullptr && ToScalar(*it, s));
          row.keys.push_back(s);
        }
        rows.push_back(std::move(row));
      }
      GM_RETURN_IF_ERROR(Tick(rows.size() * 8));
      auto cmp = [](const Scalar& a, const Scalar& b) -> int {
        auto num = [](const Scalar& s, Decimal& d) {
          if (s.kind == ValueKind::kInteger)
            d = DecimalFromInt(s.i);
          else if (s.kind == ValueKind::kDecimal)
            d = s.d;
          else
            return false;
          return true;
        };
        Decimal da, db;
        if (num(a, da) && num(b, db)) return DecimalCompare(da, db);
        if (a.kind == ValueKind::kString && b.kind == ValueKind::kString) {
          int r = a.s.compare(b.s);
          return r < 0 ? -1 : (r > 0 ? 1 : 0);
        }
        if (a.kind == b.kind && (a.kind == ValueKind::kDate || a.kind == ValueKind::kDateTime ||
                                 a.kind == ValueKind::kTime)) {
          DtKind k = a.kind == ValueKind::kDate   ? DtKind::kDate
                     : a.kind == ValueKind::kTime ? DtKind::kTime
                                                  : DtKind::kDateTime;
          return CompareDateTime(a.dt, k, b.dt, k).value_or(0);
        }
        if (a.kind == ValueKind::kBoolean && b.kind == ValueKind::kBoolean) {
          return static_cast<int>(a.b) - static_cast<int>(b.b);
        }
        return 0;
      };
      std::stable_sort(rows.begin(), rows.end(), [&](const Keyed& a, const Keyed& b) {
        for (size_t k = 0; k < a.keys.size(); ++k) {
          bool desc = !args.empty() && args[k]->descending;
          int c;
          if (a.has[k] != b.has[k]) {
            return !a.has[k];  // empty keys first, in either direction
          } else if (!a.has[k]) {
            c = 0;
          } else {
            c = cmp(a.keys[k], b.keys[k]);
          }
          if (c != 0) return desc ? c > 0 : c < 0;
        }
        return false;
      });
      for (const Keyed& r : rows) out.push_back(r.item);
      return Status::Ok();
    }

    // ------------------------------------------------ boolean
    case Fn::kNot: {
      std::optional<bool> b;
      GM_RETURN_IF_ERROR(Bool(in, n, b));
      if (b) out.push_back(Access::Bool(!*b));
      return Status::Ok();
    }

    // ------------------------------------------------ types
    case Fn::kIs:
    case Fn::kAs: {
      const Item* it = nullptr;
      GM_RETURN_IF_ERROR(single(it));
      if (it == nullptr) return Status::Ok();
      if (n->fn == Fn::kIs) return push_bool(IsTypeOf(*it, n->type, false));
      if (IsTypeOf(*it, n->type, true)) out.push_back(*it);
      return Status::Ok();
    }
    case Fn::kType:
      for (const Item& it : in) {
        if (it.kind() == ValueKind::kFhir) {
          const FType* t = Access::type(it);
          if (t != nullptr) out.push_back(Access::TypeInfo(true, t->name));
        } else {
          out.push_back(Access::TypeInfo(false, TypeNameOf(it)));
        }
      }
      return Status::Ok();

    // ------------------------------------------------ conversion
    case Fn::kToBoolean:
    case Fn::kConvertsToBoolean:
    case Fn::kToInteger:
    case Fn::kConvertsToInteger:
    case Fn::kToDecimal:
    case Fn::kConvertsToDecimal:
    case Fn::kToString:
    case Fn::kConvertsToString:
    case Fn::kToDate:
    case Fn::kConvertsToDate:
    case Fn::kToDateTime:
    case Fn::kConvertsToDateTime:
    case Fn::kToTime:
    case Fn::kConvertsToTime:
    case Fn::kToQuantity:
    case Fn::kConvertsToQuantity: {
      bool present = false;
      Scalar s;
      GM_RETURN_IF_ERROR(input_scalar(present, s));
      if (!present) return Status::Ok();
      bool converts = n->fn == Fn::kConvertsToBoolean || n->fn == Fn::kConvertsToInteger ||
                      n->fn == Fn::kConvertsToDecimal || n->fn == Fn::kConvertsToString ||
                      n->fn == Fn::kConvertsToDate || n->fn == Fn::kConvertsToDateTime ||
                      n->fn == Fn::kConvertsToTime || n->fn == Fn::kConvertsToQuantity;
      Scalar r;
      bool ok = false;
      std::string holder;
      switch (n->fn) {
        case Fn::kToBoolean:
        case Fn::kConvertsToBoolean:
          r.kind = ValueKind::kBoolean;
          if (s.kind == ValueKind::kBoolean) {
            ok = true;
            r.b = s.b;
          } else if (s.kind == ValueKind::kInteger) {
            ok = s.i == 0 || s.i == 1;
            r.b = s.i == 1;
          } else if (s.kind == ValueKind::kDecimal) {
            ok = DecimalCompare(s.d, Decimal{0, 0}) == 0 || DecimalCompare(s.d, Decimal{1, 0}) == 0;
            r.b = DecimalCompare(s.d, Decimal{1, 0}) == 0;
          } else if (s.kind == ValueKind::kString) {
            ok = StringToBool(s.s, r.b);
          }
          break;
        case Fn::kToInteger:
        case Fn::kConvertsToInteger:
          r.kind = ValueKind::kInteger;
          if (s.kind == ValueKind::kInteger) {
            ok = true;
            r.i = s.i;
          } else if (s.kind == ValueKind::kBoolean) {
            ok = true;
            r.i = s.b ? 1 : 0;
          } else if (s.kind == ValueKind::kString) {
            ok = StringToInteger(s.s, r.i);
          }
          break;
        case Fn::kToDecimal:
        case Fn::kConvertsToDecimal:
          r.kind = ValueKind::kDecimal;
          if (s.kind == ValueKind::kDecimal) {
            ok = true;
            r.d = s.d;
          } else if (s.kind == ValueKind::kInteger) {
            ok = true;
            r.d = DecimalFromInt(s.i);
          } else if (s.kind == ValueKind::kBoolean) {
            ok = true;
            r.d = Decimal{s.b ? 10 : 0, 1};
          } else if (s.kind == ValueKind::kString) {
            ok = StringToDecimal(s.s, r.d);
          }
          break;
        case Fn::kToString:
        case Fn::kConvertsToString:
          ok = true;
          holder = ScalarToString(s);
          r.kind = ValueKind::kString;
          r.s = holder;
          break;
        case Fn::kToDate:
        case Fn::kConvertsToDate:
          r.kind = ValueKind::kDate;
          if (s.kind == ValueKind::kDate) {
            ok = true;
            r.dt = s.dt;
          } else if (s.kind == ValueKind::kDateTime) {
            ok = true;
            r.dt = s.dt;
            if (r.dt.precision > kDay) r.dt.precision = kDay;
            r.dt.has_tz = false;
          } else if (s.kind == ValueKind::kString) {
            ok = ParseDate(s.s, r.dt);
            if (!ok && ParseDateTime(s.s, r.dt)) {
              ok = true;
              if (r.dt.precision > kDay) r.dt.precision = kDay;
              r.dt.has_tz = false;
            }
          }
          break;
        case Fn::kToDateTime:
        case Fn::kConvertsToDateTime:
          r.kind = ValueKind::kDateTime;
          if (s.kind == ValueKind::kDateTime || s.kind == ValueKind::kDate) {
            ok = true;
            r.dt = s.dt;
          } else if (s.kind == ValueKind::kString) {
            ok = ParseDateTime(s.s, r.dt);
          }
          break;
        case Fn::kToTime:
        case Fn::kConvertsToTime:
          r.kind = ValueKind::kTime;
          if (s.kind == ValueKind::kTime) {
            ok = true;
            r.dt = s.dt;
          } else if (s.kind == ValueKind::kString) {
            ok = ParseTime(s.s, r.dt);
          }
          break;
        default: {  // quantity
          r.kind = ValueKind::kQuantity;
          if (s.kind == ValueKind::kQuantity) {
            ok = true;
            r.q = s.q;
          } else if (s.kind == ValueKind::kInteger || s.kind == ValueKind::kDecimal) {
            ok = true;
            r.q.value = s.kind == ValueKind::kInteger ? DecimalFromInt(s.i) : s.d;
            r.q.unit = "1";
          } else if (s.kind == ValueKind::kBoolean) {
            ok = true;
            r.q.value = Decimal{s.b ? 10 : 0, 1};
            r.q.unit = "1";
          } else if (s.kind == ValueKind::kString) {
            ok = StringToQuantity(s.s, r.q, holder);
          }
          if (ok && !args.empty()) {
            bool p = false;
            std::string_view unit;
            std::string uh;
            GM_RETURN_IF_ERROR(ArgString(args[0], f, p, unit, uh));
            if (!p) return Status::Ok();
            Quantity target;
            target.value = Decimal{1, 0};
            target.unit = unit;
            target.calendar = CalendarKeyword(unit);
            Decimal from, to;
            ok = QuantityToCommon(r.q, target, from, to);
            if (ok) {
              Decimal v;
              ok = DecimalDiv(from, to, v);
              r.q.value = v;
              r.q.unit = unit;
              r.q.calendar = target.calendar;
              holder = std::string(unit);
              r.q.unit = holder;
            }
          }
        }
      }
      if (converts) return push_bool(ok);
      if (!ok) return Status::Ok();
      if (r.kind == ValueKind::kString) return push_string(r.s);
      out.push_back(FromScalar(r));
      return Status::Ok();
    }

    // ------------------------------------------------ strings
    case Fn::kIndexOf:
    case Fn::kStartsWith:
    case Fn::kEndsWith:
    case Fn::kContains:
    case Fn::kSplit:
    case Fn::kMatches:
    case Fn::kMatchesFull: {
      bool present = false;
      std::string_view s;
      GM_RETURN_IF_ERROR(input_string(present, s));
      bool apresent = false;
      std::string_view a;
      std::string holder;
      GM_RETURN_IF_ERROR(ArgString(args[0], f, apresent, a, holder));
      if (!present || !apresent) return Status::Ok();
      switch (n->fn) {
        case Fn::kIndexOf: {
          size_t p = s.find(a);
          if (p == std::string_view::npos) {
            out.push_back(Access::Int(-1));
          } else {
            out.push_back(Access::Int(static_cast<int64_t>(CharLength(s.substr(0, p)))));
          }
          return Status::Ok();
        }
        case Fn::kStartsWith:
          return push_bool(s.substr(0, a.size()) == a);
        case Fn::kEndsWith:
          return push_bool(s.size() >= a.size() && s.substr(s.size() - a.size()) == a);
        case Fn::kContains:
          return push_bool(s.find(a) != std::string_view::npos);
        case Fn::kSplit: {
          if (a.empty()) {
            std::vector<size_t> cp = CodePoints(s);
            for (size_t k = 0; k + 1 < cp.size(); ++k) {
              out.push_back(Access::Str(s.substr(cp[k], cp[k + 1] - cp[k])));
            }
            return Status::Ok();
          }
          size_t start = 0;
          while (true) {
            GM_RETURN_IF_ERROR(Tick(1));
            size_t p = s.find(a, start);
            if (p == std::string_view::npos) {
              out.push_back(Access::Str(s.substr(start)));
              break;
            }
            out.push_back(Access::Str(s.substr(start, p - start)));
            start = p + a.size();
          }
          return CheckSize(out);
        }
        default: {
          std::shared_ptr<const RE2> re = n->regex;
          if (!re) {
            auto compiled = CompileRegex(a);
            if (!compiled->ok()) {
              return Error(args[0], kErrRegex, "invalid regular expression: " + compiled->error());
            }
            re = std::move(compiled);
          }
          re2::StringPiece text(s.data(), s.size());
          bool m =
              n->fn == Fn::kMatchesFull ? RE2::FullMatch(text, *re) : RE2::PartialMatch(text, *re);
          return push_bool(m);
        }
      }
    }
    case Fn::kReplaceMatches: {
      bool present = false;
      std::string_view s;
      GM_RETURN_IF_ERROR(input_string(present, s));
      bool p1 = false, p2 = false;
      std::string_view pattern, subst;
      std::string h1, h2;
      GM_RETURN_IF_ERROR(ArgString(args[0], f, p1, pattern, h1));
      GM_RETURN_IF_ERROR(ArgString(args[1], f, p2, subst, h2));
      if (!present || !p1 || !p2) return Status::Ok();
      if (pattern.empty()) return push_string(s);
      std::shared_ptr<const RE2> re = n->regex;
      if (!re) {
        auto compiled = CompileRegex(pattern);
        if (!compiled->ok()) {
          return Error(args[0], kErrRegex, "invalid regular expression: " + compiled->error());
        }
        re = std::move(compiled);
      }
      std::string result;
      GM_RETURN_IF_ERROR(ReplaceAll(*re, s, subst, options().max_string_bytes, result));
      return push_string(result);
    }
    case Fn::kReplace: {
      bool present = false;
      std::string_view s;
      GM_RETURN_IF_ERROR(input_string(present, s));
      bool p1 = false, p2 = false;
      std::string_view pattern, subst;
      std::string h1, h2;
      GM_RETURN_IF_ERROR(ArgString(args[0], f, p1, pattern, h1));
      GM_RETURN_IF_ERROR(ArgString(args[1], f, p2, subst, h2));
      if (!present || !p1 || !p2) return Status::Ok();
      std::string result;
      if (pattern.empty()) {
        std::vector<size_t> cp = CodePoints(s);
        result += subst;
        for (size_t k = 0; k + 1 < cp.size(); ++k) {
          result += s.substr(cp[k], cp[k + 1] - cp[k]);
          result += subst;
          if (result.size() > options().max_string_bytes) return LimitError("string too long");
        }
        return push_string(result);
      }
      size_t start = 0;
      while (true) {
        size_t p = s.find(pattern, start);
        if (p == std::string_view::npos) break;
        result += s.substr(start, p - start);
        result += subst;
        if (result.size() > options().max_string_bytes) return LimitError("string too long");
        start = p + pattern.size();
      }
      result += s.substr(start);
      return push_string(result);
    }
    case Fn::kSubstring: {
      bool present = false;
      std::string_view s;
      GM_RETURN_IF_ERROR(input_string(present, s));
      bool ps = false, pl = false;
      int64_t start = 0, len = -1;
      GM_RETURN_IF_ERROR(ArgInteger(args[0], f, ps, start));
      if (args.size() > 1) {
        GM_RETURN_IF_ERROR(ArgInteger(args[1], f, pl, len));
        if (!pl) len = -1;
      }
      if (!present || !ps) return Status::Ok();
      std::vector<size_t> cp = CodePoints(s);
      int64_t count = static_cast<int64_t>(cp.size()) - 1;
      if (start < 0 || start >= count) return Status::Ok();
      int64_t end = len < 0 ? count : std::min(count, start + len);
      if (end < start) end = start;
      out.push_back(Access::Str(s.substr(cp[start], cp[end] - cp[start])));
      return Status::Ok();
    }
    case Fn::kUpper:
    case Fn::kLower:
    case Fn::kLength:
    case Fn::kToChars:
    case Fn::kTrim: {
      bool present = false;
      std::string_view s;
      GM_RETURN_IF_ERROR(input_string(present, s));
      if (!present) return Status::Ok();
      switch (n->fn) {
        case Fn::kUpper:
          return push_string(MapCase(s, true));
        case Fn::kLower:
          return push_string(MapCase(s, false));
        case Fn::kLength:
          out.push_back(Access::Int(static_cast<int64_t>(CharLength(s))));
          return Status::Ok();
        case Fn::kToChars: {
          std::vector<size_t> cp = CodePoints(s);
          for (size_t k = 0; k + 1 < cp.size(); ++k) {
            out.push_back(Access::Str(s.substr(cp[k], cp[k + 1] - cp[k])));
          }
          return Status::Ok();
        }
        default: {
          size_t b = s.find_first_not_of(" \t\r\n\f\v");
          if (b == std::string_view::npos) return push_string("");
          size_t e = s.find_last_not_of(" \t\r\n\f\v");
          out.push_back(Access::Str(s.substr(b, e - b + 1)));
          return Status::Ok();
        }
      }
    }
    case Fn::kJoin: {
      std::string_view sep;
      std::string holder;
      bool present = true;
      if (!args.empty()) GM_RETURN_IF_ERROR(ArgString(args[0], f, present, sep, holder));
      if (!present) sep = {};
      std::string result;
      bool first = true;
      for (const Item& it : in) {
        Scalar s;
        if (!ToScalar(it, s) || s.kind != ValueKind::kString) {
          return Error(n, kErrType, "join() expects Strings");
        }
        if (!first) result += sep;
        first = false;
        result += s.s;
        if (result.size() > options().max_string_bytes) return LimitError("string too long");
      }
      return push_string(result);
    }
    case Fn::kEncode:
    case Fn::kDecode:
    case Fn::kEscape:
    case Fn::kUnescape: {
      bool present = false;
      std::string_view s;
      GM_RETURN_IF_ERROR(input_string(present, s));
      bool pf = false;
      std::string_view format;
      std::string holder;
      GM_RETURN_IF_ERROR(ArgString(args[0], f, pf, format, holder));
      if (!present || !pf) return Status::Ok();
      std::string r;
      if (n->fn == Fn::kEncode) {
        if (format == "base64" || format == "urlbase64") {
          r = Base64Encode(s, format == "urlbase64");
        } else if (format == "hex") {
          static const char kHex[] = "0123456789abcdef";
          for (unsigned char c : s) {
            r.push_back(kHex[c >> 4]);
            r.push_back(kHex[c & 15]);
          }
        } else {
          return Status::Ok();
        }
      } else if (n->fn == Fn::kDecode) {
        if (format == "base64" || format == "urlbase64") {
          if (!Base64Decode(s, format == "urlbase64", r)) return Status::Ok();
        } else if (format == "hex") {
          if (s.size() % 2 != 0) return Status::Ok();
          for (size_t k = 0; k < s.size(); k += 2) {
            auto hex = [](char c) {
              return c >= '0' && c <= '9'   ? c - '0'
                     : c >= 'a' && c <= 'f' ? c - 'a' + 10
                     : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                            : -1;
            };
            int hi = hex(s[k]), lo = hex(s[k + 1]);
            if (hi < 0 || lo < 0) return Status::Ok();
            r.push_back(static_cast<char>(hi * 16 + lo));
          }
        } else {
          return Status::Ok();
        }
      } else if (n->fn == Fn::kEscape) {
        if (format == "html")
          r = HtmlEscape(s);
        else if (format == "json")
          r = JsonEscape(s);
        else
          return Status::Ok();
      } else {
        if (format == "html")
          r = HtmlUnescape(s);
        else if (format == "json")
          r = JsonUnescape(s);
        else
          return Status::Ok();
      }
      return push_string(r);
    }

    // ------------------------------------------------ math
    case Fn::kAbs:
    case Fn::kCeiling:
    case Fn::kExp:
    case Fn::kFloor:
    case Fn::kLn:
    case Fn::kLog:
    case Fn::kPower:
    case Fn::kRound:
    case Fn::kSqrt:
    case Fn::kTruncate: {
      bool present = false;
      Scalar s;
      GM_RETURN_IF_ERROR(input_scalar(present, s));
      if (!present) return Status::Ok();
      if (n->fn == Fn::kAbs && s.kind == ValueKind::kQuantity) {
        Quantity q = s.q;
        if (q.value.m < 0) q.value.m = -q.value.m;
        out.push_back(MakeQuantity(q));
        return Status::Ok();
      }
      if (s.kind != ValueKind::kInteger && s.kind != ValueKind::kDecimal) {
        return Error(n, kErrType, "'" + n->name + "' expects a number");
      }
      bool is_int = s.kind == ValueKind::kInteger;
      Decimal d = is_int ? DecimalFromInt(s.i) : s.d;
      switch (n->fn) {
        case Fn::kAbs:
          if (is_int) {
            out.push_back(Access::Int(s.i < 0 ? -s.i : s.i));
          } else {
            d.m = d.m < 0 ? -d.m : d.m;
            out.push_back(MakeDecimal(d));
          }
          return Status::Ok();
        case Fn::kCeiling:
        case Fn::kFloor:
        case Fn::kTruncate: {
          Decimal t = DecimalTruncate(d, 0);
          int64_t v;
          if (!DecimalToInt64(t, v)) return Status::Ok();
          bool frac = DecimalCompare(t, d) != 0;
          if (frac && n->fn == Fn::kCeiling && d.m > 0) ++v;
          if (frac && n->fn == Fn::kFloor && d.m < 0) --v;
          out.push_back(Access::Int(v));
          return Status::Ok();
        }
        case Fn::kRound: {
          int64_t digits = 0;
          if (!args.empty()) {
            bool p = false;
            GM_RETURN_IF_ERROR(ArgInteger(args[0], f, p, digits));
            if (!p) return Status::Ok();
            if (digits < 0) return Error(args[0], kErrArgument, "round() precision must be >= 0");
          }
          out.push_back(
              MakeDecimal(DecimalRound(d, static_cast<int>(std::min<int64_t>(digits, 28)))));
          return Status::Ok();
        }
        case Fn::kPower: {
          bool p = false;
          Scalar e;
          GM_RETURN_IF_ERROR(ArgScalar(args[0], f, p, e));
          if (!p) return Status::Ok();
          if (e.kind != ValueKind::kInteger && e.kind != ValueKind::kDecimal) {
            return Error(args[0], kErrType, "power() expects a number");
          }
          if (is_int && e.kind == ValueKind::kInteger && e.i >= 0) {
            int64_t r = 1, base = s.i, exp = e.i;
            bool overflow = false;
            while (exp > 0 && !overflow) {
              if (exp & 1) overflow |= __builtin_mul_overflow(r, base, &r);
              exp >>= 1;
              if (exp > 0) overflow |= __builtin_mul_overflow(base, base, &base);
            }
            if (overflow) return Status::Ok();
            out.push_back(Access::Int(r));
            return Status::Ok();
          }
          double ex =
              e.kind == ValueKind::kInteger ? static_cast<double>(e.i) : DecimalToDouble(e.d);
          auto r = DecimalFromDouble(std::pow(DecimalToDouble(d), ex));
          if (r) out.push_back(MakeDecimal(*r));
          return Status::Ok();
        }
        default: {
          double x = DecimalToDouble(d), r = 0;
          if (n->fn == Fn::kExp) r = std::exp(x);
          if (n->fn == Fn::kLn) r = std::log(x);
          if (n->fn == Fn::kSqrt) r = std::sqrt(x);
          if (n->fn == Fn::kLog) {
            bool p = false;
            Scalar b;
            GM_RETURN_IF_ERROR(ArgScalar(args[0], f, p, b));
            if (!p) return Status::Ok();
            if (b.kind != ValueKind::kInteger && b.kind != ValueKind::kDecimal) {
              return Error(args[0], kErrType, "log() expects a number");
            }
            double base =
                b.kind == ValueKind::kInteger ? static_cast<double>(b.i) : DecimalToDouble(b.d);
            r = std::log(x) / std::log(base);
          }
          auto dr = DecimalFromDouble(r);
          if (dr) out.push_back(MakeDecimal(*dr));
          return Status::Ok();
        }
      }
    }

    // ------------------------------------------------ tree navigation
    case Fn::kChildren:
      for (const Item& it : in) Children(it, out);
      return CheckSize(out);
    case Fn::kDescendants: {
      Coll level = in;
      while (!level.empty()) {
        Coll next;
        for (const Item& it : level) Children(it, next);
        GM_RETURN_IF_ERROR(Tick(next.size()));
        out.Append(next.data(), next.size());
        GM_RETURN_IF_ERROR(CheckSize(out));
        level = std::move(next);
      }
      return Status::Ok();
    }

    // ------------------------------------------------ FHIR additions
    case Fn::kExtension: {
      bool present = false;
      std::string_view url;
      std::string holder;
      GM_RETURN_IF_ERROR(ArgString(args[0], f, present, url, holder));
      if (!present) return Status::Ok();
      static const FType* ext_type = FindType("Extension");
      for (const Item& it : in) {
        if (it.kind() != ValueKind::kFhir) continue;
        const FType* t = Access::type(it);
        const json::Value* obj = t != nullptr && t->primitive ? Access::ext(it) : Access::node(it);
        if (obj == nullptr) continue;
        const json::Value* exts = obj->find("extension");
        if (exts == nullptr || !exts->is_array()) continue;
        for (const json::Value& e : exts->array()) {
          if (e.get_string("url") == url) out.push_back(Access::Fhir(ext_type, &e, nullptr));
        }
      }
      return Status::Ok();
    }
    case Fn::kHasValue: {
      if (in.size() != 1) return push_bool(false);
      const Item& it = in[0];
      if (it.kind() != ValueKind::kFhir) return push_bool(true);
      const FType* t = Access::type(it);
      const json::Value* node = Access::node(it);
      return push_bool(t != nullptr && t->primitive && node != nullptr && !node->is_null());
    }
    case Fn::kGetValue: {
      if (in.size() != 1) return Status::Ok();
      const FType* t = in[0].kind() == ValueKind::kFhir ? Access::type(in[0]) : nullptr;
      if (in[0].kind() == ValueKind::kFhir && (t == nullptr || !t->primitive)) return Status::Ok();
      Scalar s;
      if (ToScalar(in[0], s)) out.push_back(FromScalar(s));
      return Status::Ok();
    }
    case Fn::kResolve: {
      static const FType* reference = FindType("Reference");
      for (const Item& it : in) {
        std::string_view ref;
        if (it.kind() == ValueKind::kFhir && IsA(Access::type(it), reference)) {
          const json::Value* node = Access::node(it);
          if (node == nullptr) continue;
          ref = node->get_string("reference");
        } else {
          Scalar s;
          if (!ToScalar(it, s) || s.kind != ValueKind::kString) continue;
          ref = s.s;
        }
        if (ref.empty()) continue;
        const json::Value* found = nullptr;
        const Item* root = root_resource() ? root_resource() : resource();
        const json::Value* root_node =
            root != nullptr && root->kind() == ValueKind::kFhir ? Access::node(*root) : nullptr;
        if (ref[0] == '#' && root_node != nullptr) {
          if (const json::Value* contained = root_node->find("contained")) {
            for (const json::Value& c : contained->array()) {
              if (c.get_string("id") == ref.substr(1)) found = &c;
            }
          }
        }
        if (found == nullptr && root_node != nullptr &&
            root_node->get_string("resourceType") == "Bundle") {
          if (const json::Value* entries = root_node->find("entry")) {
            for (const json::Value& e : entries->array()) {
              const json::Value* res = e.find("resource");
              if (res == nullptr) continue;
              std::string_view full = e.get_string("fullUrl");
              std::string local = std::string(res->get_string("resourceType")) + "/" +
                                  std::string(res->get_string("id"));
              if (full == ref || local == ref ||
                  (ref.size() > local.size() && ref.substr(ref.size() - local.size()) == local &&
                   ref[ref.size() - local.size() - 1] == '/')) {
                found = res;
                break;
              }
            }
          }
        }
        if (found == nullptr && options().resolver) found = options().resolver(ref);
        if (found != nullptr) out.push_back(Access::Fhir(ResourceType(*found), found, nullptr));
      }
      return Status::Ok();
    }
    case Fn::kMemberOf: {
      bool present = false;
      std::string_view vs;
      std::string holder;
      GM_RETURN_IF_ERROR(ArgString(args[0], f, present, vs, holder));
      if (!present || !options().terminology) return Status::Ok();
      for (const Item& it : in) {
        std::optional<bool> r = options().terminology(it, vs);
        if (r) out.push_back(Access::Bool(*r));
      }
      return Status::Ok();
    }
    case Fn::kConformsTo: {
      bool present = false;
      std::string_view url;
      std::string holder;
      GM_RETURN_IF_ERROR(ArgString(args[0], f, present, url, holder));
      if (!present) return Status::Ok();
      constexpr std::string_view kCore = "http://hl7.org/fhir/StructureDefinition/";
      const FType* core = nullptr;
      if (url.substr(0, kCore.size()) == kCore) core = FindType(url.substr(kCore.size()));
      for (const Item& it : in) {
        if (core != nullptr) {
          out.push_back(Access::Bool(it.kind() == ValueKind::kFhir && IsA(Access::type(it), core)));
          continue;
        }
        if (!options().conforms_to) {
          return Error(n, kErrProfile, "cannot check conformance to '" + std::string(url) + "'");
        }
        std::optional<bool> r = options().conforms_to(it, url);
        if (r) out.push_back(Access::Bool(*r));
      }
      return Status::Ok();
    }
    case Fn::kHtmlChecks: {
      const Item* it = nullptr;
      GM_RETURN_IF_ERROR(single(it));
      if (it == nullptr) return Status::Ok();
      Scalar s;
      if (!ToScalar(*it, s) || s.kind != ValueKind::kString) return push_bool(false);
      return push_bool(HtmlIsSafe(s.s));
    }
    case Fn::kGetResourceKey:
      for (const Item& it : in) {
        const json::Value* node = it.kind() == ValueKind::kFhir ? Access::node(it) : nullptr;
        if (node == nullptr || !Access::type(it) || !Access::type(it)->resource) continue;
        if (const json::Value* id = node->find("id"); id && id->is_string()) {
          out.push_back(Access::Str(id->str()));
        }
      }
      return Status::Ok();
    case Fn::kGetReferenceKey: {
      static const FType* reference = FindType("Reference");
      for (const Item& it : in) {
        if (it.kind() != ValueKind::kFhir || !IsA(Access::type(it), reference)) continue;
        const json::Value* node = Access::node(it);
        if (node == nullptr) continue;
        std::string_view ref = node->get_string("reference");
        size_t hist = ref.find("/_history/");
        if (hist != std::string_view::npos) ref = ref.substr(0, hist);
        size_t slash = ref.rfind('/');
        if (slash == std::string_view::npos || slash == 0) continue;
        std::string_view id = ref.substr(slash + 1);
        std::string_view head = ref.substr(0, slash);
        size_t ts = head.rfind('/');
        std::string_view type = ts == std::string_view::npos ? head : head.substr(ts + 1);
        if (n->type.fhir != nullptr && type != n->type.fhir->name) continue;
        if (!id.empty()) out.push_back(Access::Str(id));
      }
      return Status::Ok();
    }

    // ------------------------------------------------ boundaries (FHIRPath 2.1)
    case Fn::kLowBoundary:
    case Fn::kHighBoundary:
    case Fn::kPrecision: {
      bool present = false;
      Scalar s;
      GM_RETURN_IF_ERROR(input_scalar(present, s));
      if (!present) return Status::Ok();
      bool high = n->fn == Fn::kHighBoundary;
      bool has_digits = false;
      int64_t digits = 0;
      if (!args.empty()) {
        GM_RETURN_IF_ERROR(ArgInteger(args[0], f, has_digits, digits));
        if (!has_digits) return Status::Ok();
      }
      if (s.kind == ValueKind::kInteger || s.kind == ValueKind::kDecimal ||
          s.kind == ValueKind::kQuantity) {
        Decimal d = s.kind == ValueKind::kInteger   ? DecimalFromInt(s.i)
                    : s.kind == ValueKind::kDecimal ? s.d
                                                    : s.q.value;
        if (n->fn == Fn::kPrecision) {
          out.push_back(Access::Int(d.scale));
          return Status::Ok();
        }
        Decimal r;
        if (!DecimalBoundary(d,
                             has_digits ? static_cast<int>(std::clamp<int64_t>(digits, -1, 99)) : 8,
                             high, r)) {
          return Status::Ok();
        }
        if (s.kind == ValueKind::kQuantity) {
          Quantity q = s.q;
          q.value = r;
          out.push_back(MakeQuantity(q));
        } else {
          out.push_back(MakeDecimal(r));
        }
        return Status::Ok();
      }
      if (s.kind == ValueKind::kDate || s.kind == ValueKind::kDateTime ||
          s.kind == ValueKind::kTime) {
        if (n->fn == Fn::kPrecision) {
          out.push_back(Access::Int(PrecisionDigits(s.dt, s.kind)));
          return Status::Ok();
        }
        bool time = s.kind == ValueKind::kTime;
        DateTime d = s.dt;
        // An hour without minutes is not a valid FHIR time: treat T08 as T08:00.
        if (d.precision == kHour) d.precision = kMinute;
        // Without a precision the boundary is an instant (a Date becomes a DateTime).
        int8_t target =
            has_digits ? PrecisionFromDigits(static_cast<int>(digits), time) : int8_t{kMillis};
        if (target == 0) return Status::Ok();
        FillBoundary(d, high);
        d.precision = target;
        ValueKind k = s.kind;
        if (!time) {
          if (target <= kDay) {
            k = ValueKind::kDate;
            d.has_tz = false;
          } else {
            k = ValueKind::kDateTime;
            if (!d.has_tz) {
              d.has_tz = true;
              d.tz = high ? -12 * 60 : 14 * 60;
            }
          }
        }
        out.push_back(MakeDt(k, d));
        return Status::Ok();
      }
      return Status::Ok();
    }
    case Fn::kComparable: {
      bool present = false, p2 = false;
      Scalar a, b;
      GM_RETURN_IF_ERROR(input_scalar(present, a));
      GM_RETURN_IF_ERROR(ArgScalar(args[0], f, p2, b));
      if (!present || !p2) return Status::Ok();
      if (a.kind != ValueKind::kQuantity || b.kind != ValueKind::kQuantity) {
        return Error(n, kErrType, "comparable() expects Quantities");
      }
      Decimal va, vb;
      return push_bool(QuantityToCommon(a.q, b.q, va, vb));
    }
  }
  return Error(n, kErrUnknownFunction, "function not implemented: " + n->name);
}

}  // namespace gm::fhirpath::internal
