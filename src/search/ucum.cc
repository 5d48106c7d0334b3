#include "search/ucum.h"

#include <array>
#include <cctype>
#include <cmath>

namespace gm::search {
namespace {

// Base dimensions of the canonical form, in output order.
constexpr int kDims = 6;
constexpr std::array<const char*, kDims> kDimNames = {"g", "m", "s", "mol", "eq", "[IU]"};
enum Dim { kMass, kLength, kTime, kAmount, kEquivalent, kIU };

struct Quantity {
  double factor = 1.0;
  std::array<int, kDims> exp{};

  void Multiply(const Quantity& o, int power) {
    factor *= std::pow(o.factor, power);
    for (int i = 0; i < kDims; ++i) exp[i] += o.exp[i] * power;
  }
};

struct Atom {
  const char* code;
  bool metric;  // takes a prefix
  double factor;
  std::array<int, kDims> exp;
};

// factor × g^a m^b s^c mol^d eq^e [IU]^f
constexpr Atom kAtoms[] = {
    {"g", true, 1, {1, 0, 0, 0, 0, 0}},
    {"m", true, 1, {0, 1, 0, 0, 0, 0}},
    {"s", true, 1, {0, 0, 1, 0, 0, 0}},
    {"L", true, 1e-3, {0, 3, 0, 0, 0, 0}},
    {"l", true, 1e-3, {0, 3, 0, 0, 0, 0}},
    {"mol", true, 1, {0, 0, 0, 1, 0, 0}},
    {"eq", true, 1, {0, 0, 0, 0, 1, 0}},
    {"[IU]", true, 1, {0, 0, 0, 0, 0, 1}},
    {"[iU]", true, 1, {0, 0, 0, 0, 0, 1}},
    {"U", true, 1e-6 / 60, {0, 0, -1, 1, 0, 0}},
    {"kat", true, 1, {0, 0, -1, 1, 0, 0}},
    {"Hz", true, 1, {0, 0, -1, 0, 0, 0}},
    {"Pa", true, 1e3, {1, -1, -2, 0, 0, 0}},
    {"bar", true, 1e8, {1, -1, -2, 0, 0, 0}},
    {"m[Hg]", true, 133322.387415 * 1e3, {1, -1, -2, 0, 0, 0}},
    {"J", true, 1e3, {1, 2, -2, 0, 0, 0}},
    {"cal", true, 4.184e3, {1, 2, -2, 0, 0, 0}},
    {"N", true, 1e3, {1, 1, -2, 0, 0, 0}},
    {"W", true, 1e3, {1, 2, -3, 0, 0, 0}},
    {"min", false, 60, {0, 0, 1, 0, 0, 0}},
    {"h", false, 3600, {0, 0, 1, 0, 0, 0}},
    {"d", false, 86400, {0, 0, 1, 0, 0, 0}},
    {"wk", false, 604800, {0, 0, 1, 0, 0, 0}},
    {"mo", false, 2629800, {0, 0, 1, 0, 0, 0}},
    {"a", false, 31557600, {0, 0, 1, 0, 0, 0}},
    {"%", false, 1e-2, {0, 0, 0, 0, 0, 0}},
    {"[ppm]", false, 1e-6, {0, 0, 0, 0, 0, 0}},
    {"[ppb]", false, 1e-9, {0, 0, 0, 0, 0, 0}},
    {"[in_i]", false, 0.0254, {0, 1, 0, 0, 0, 0}},
    {"[ft_i]", false, 0.3048, {0, 1, 0, 0, 0, 0}},
    {"[lb_av]", false, 453.59237, {1, 0, 0, 0, 0, 0}},
    {"[oz_av]", false, 28.349523125, {1, 0, 0, 0, 0, 0}},
};

struct Prefix {
  const char* code;
  double factor;
};
// "da" first: prefixes are tried longest first.
constexpr Prefix kPrefixes[] = {
    {"da", 1e1},  {"Y", 1e24},  {"Z", 1e21},  {"E", 1e18},  {"P", 1e15},  {"T", 1e12},
    {"G", 1e9},   {"M", 1e6},   {"k", 1e3},   {"h", 1e2},   {"d", 1e-1},  {"c", 1e-2},
    {"m", 1e-3},  {"u", 1e-6},  {"n", 1e-9},  {"p", 1e-12}, {"f", 1e-15}, {"a", 1e-18},
    {"z", 1e-21}, {"y", 1e-24},
};

const Atom* FindAtom(std::string_view code) {
  for (const Atom& a : kAtoms) {
    if (code == a.code) return &a;
  }
  return nullptr;
}

// A simple unit: an atom, with or without a prefix.
std::optional<Quantity> SimpleUnit(std::string_view text) {
  Quantity q;
  if (const Atom* a = FindAtom(text)) {
    q.factor = a->factor;
    q.exp = a->exp;
    return q;
  }
  for (const Prefix& p : kPrefixes) {
    std::string_view code(p.code);
    if (text.size() <= code.size() || text.substr(0, code.size()) != code) continue;
    const Atom* a = FindAtom(text.substr(code.size()));
    if (a == nullptr || !a->metric) continue;
    q.factor = p.factor * a->factor;
    q.exp = a->exp;
    return q;
  }
  return std::nullopt;
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::optional<Quantity> Parse() {
    std::optional<Quantity> q = Term();
    if (!q || pos_ != s_.size()) return std::nullopt;
    return q;
  }

 private:
  // term := ['/'] component (('.' | '/') component)*
  std::optional<Quantity> Term() {
    Quantity total;
    int sign = 1;
    if (Peek() == '/') {
      ++pos_;
      sign = -1;
    }
    for (;;) {
      std::optional<Quantity> c = Component();
      if (!c) return std::nullopt;
      total.Multiply(*c, sign);
      if (Peek() == '.') {
        ++pos_;
        sign = 1;
      } else if (Peek() == '/') {
        ++pos_;
        sign = -1;
      } else {
        return total;
      }
    }
  }

  // component := '(' term ')' exponent? | annotation | integer ['*'|'^' exponent] | simple exponent?
  std::optional<Quantity> Component() {
    if (++depth_ > 16) return std::nullopt;
    std::optional<Quantity> out = ComponentInner();
    --depth_;
    return out;
  }

  std::optional<Quantity> ComponentInner() {
    if (Peek() == '(') {
      ++pos_;
      std::optional<Quantity> inner = Term();
      if (!inner || Peek() != ')') return std::nullopt;
      ++pos_;
      int e = 1;
      if (!Exponent(e)) return std::nullopt;
      Quantity q;
      q.Multiply(*inner, e);
      return q;
    }
    if (Peek() == '{') {
      if (!SkipAnnotation()) return std::nullopt;
      return Quantity{};
    }
    if (std::isdigit(static_cast<unsigned char>(Peek()))) {
      size_t start = pos_;
      while (std::isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
      double base = std::stod(std::string(s_.substr(start, pos_ - start)));
      Quantity q;
      if (Peek() == '*' || Peek() == '^') {
        ++pos_;
        int e = 0;
        if (!Exponent(e) || e == 0) return std::nullopt;
        q.factor = std::pow(base, e);
      } else {
        q.factor = base;
      }
      if (Peek() == '{' && !SkipAnnotation()) return std::nullopt;
      return q;
    }
    // A simple unit runs to the next operator, exponent digit or annotation;
    // square brackets may contain anything but ']'.
    size_t start = pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '[') {
        size_t close = s_.find(']', pos_);
        if (close == std::string_view::npos) return std::nullopt;
        pos_ = close + 1;
        continue;
      }
      if (c == '.' || c == '/' || c == '(' || c == ')' || c == '{' || c == '+' || c == '-' ||
          std::isdigit(static_cast<unsigned char>(c))) {
        break;
      }
      ++pos_;
    }
    if (pos_ == start) return std::nullopt;
    std::optional<Quantity> unit = SimpleUnit(s_.substr(start, pos_ - start));
    if (!unit) return std::nullopt;
    int e = 1;
    if (!Exponent(e)) return std::nullopt;
    if (Peek() == '{' && !SkipAnnotation()) return std::nullopt;
    Quantity q;
    q.Multiply(*unit, e);
    return q;
  }

  // Optional signed integer exponent; leaves e unchanged when absent.
  bool Exponent(int& e) {
    size_t start = pos_;
    if (Peek() == '+' || Peek() == '-') ++pos_;
    size_t digits = pos_;
    while (std::isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
    if (pos_ == digits) {
      pos_ = start;
      return start == digits;  // a sign without digits is an error
    }
    if (pos_ - digits > 3) return false;
    e = std::stoi(std::string(s_.substr(start, pos_ - start)));
    return true;
  }

  bool SkipAnnotation() {
    size_t close = s_.find('}', pos_);
    if (close == std::string_view::npos) return false;
    pos_ = close + 1;
    return true;
  }

  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }

  std::string_view s_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

std::optional<UcumCanonical> CanonicalUnit(std::string_view code) {
  if (code.empty() || code.size() > 128) return std::nullopt;
  std::optional<Quantity> q = Parser(code).Parse();
  if (!q || !std::isfinite(q->factor) || q->factor <= 0) return std::nullopt;
  UcumCanonical out;
  out.factor = q->factor;
  for (int i = 0; i < kDims; ++i) {
    if (q->exp[i] == 0) continue;
    if (!out.unit.empty()) out.unit += '.';
    out.unit += kDimNames[i];
    if (q->exp[i] != 1) out.unit += std::to_string(q->exp[i]);
  }
  if (out.unit.empty()) out.unit = "1";
  return out;
}

}  // namespace gm::search
