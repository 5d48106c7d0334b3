// FHIRPath lexer, parser and compile-time checks.
//
// Grammar: HL7 FHIRPath N1 (http://hl7.org/fhirpath/N1/grammar.html) with the
// FHIR R4 additions. Operator precedence, tightest first: invocation and
// indexer; unary + and -; * / div mod; + - &; is as; |; < > <= >=;
// = ~ != !~; in contains; and; or xor; implies.
#include <re2/re2.h>

#include <unordered_map>

#include "fhirpath/internal.h"

namespace gm::fhirpath::internal {
namespace {

enum class Tok : uint8_t {
  kEof,
  kIdent,       // identifier or keyword
  kDelimIdent,  // `identifier`
  kString,
  kNumber,
  kDate,
  kDateTime,
  kTime,
  kExternal,  // %name
  kSpecial,   // $this $index $total
  kPunct,
};

struct Token {
  Tok kind = Tok::kEof;
  std::string_view text;  // raw text (punctuation, identifiers, numbers, date bodies)
  std::string value;      // unescaped string / identifier value
  uint32_t pos = 0;
};

std::string Where(std::string_view text, uint32_t pos) {
  int line = 1, col = 1;
  for (uint32_t k = 0; k < pos && k < text.size(); ++k) {
    if (text[k] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : s_(text) {}

  Status Run(std::vector<Token>& out) {
    while (true) {
      GM_RETURN_IF_ERROR(SkipSpace());
      Token t;
      t.pos = static_cast<uint32_t>(i_);
      if (i_ >= s_.size()) {
        out.push_back(std::move(t));
        return Status::Ok();
      }
      char c = s_[i_];
      if (IsIdentStart(c)) {
        size_t st = i_;
        while (i_ < s_.size() && IsIdentChar(s_[i_])) ++i_;
        t.kind = Tok::kIdent;
        t.text = s_.substr(st, i_ - st);
        t.value = std::string(t.text);
      } else if (IsDigit(c)) {
        size_t st = i_;
        while (i_ < s_.size() && IsDigit(s_[i_])) ++i_;
        if (i_ + 1 < s_.size() && s_[i_] == '.' && IsDigit(s_[i_ + 1])) {
          ++i_;
          while (i_ < s_.size() && IsDigit(s_[i_])) ++i_;
        }
        t.kind = Tok::kNumber;
        t.text = s_.substr(st, i_ - st);
      } else if (c == '\'' || c == '`') {
        GM_RETURN_IF_ERROR(Quoted(c, t.value));
        t.kind = c == '\'' ? Tok::kString : Tok::kDelimIdent;
        t.text = s_.substr(t.pos, i_ - t.pos);
      } else if (c == '@') {
        GM_RETURN_IF_ERROR(DateLiteral(t));
      } else if (c == '%') {
        ++i_;
        if (i_ < s_.size() && (s_[i_] == '`' || s_[i_] == '\'')) {
          GM_RETURN_IF_ERROR(Quoted(s_[i_], t.value));
        } else if (i_ < s_.size() && IsIdentStart(s_[i_])) {
          size_t st = i_;
          while (i_ < s_.size() && IsIdentChar(s_[i_])) ++i_;
          t.value = std::string(s_.substr(st, i_ - st));
        } else {
          return Error(kErrSyntax, t.pos, "expected a variable name after '%'");
        }
        t.kind = Tok::kExternal;
        t.text = s_.substr(t.pos, i_ - t.pos);
      } else if (c == '$') {
        ++i_;
        size_t st = i_;
        while (i_ < s_.size() && IsIdentChar(s_[i_])) ++i_;
        t.value = std::string(s_.substr(st, i_ - st));
        if (t.value != "this" && t.value != "index" && t.value != "total") {
          return Error(kErrSyntax, t.pos, "unknown special variable '$" + t.value + "'");
        }
        t.kind = Tok::kSpecial;
        t.text = s_.substr(t.pos, i_ - t.pos);
      } else {
        static const char* kTwo[] = {"!=", "!~", "<=", ">="};
        t.kind = Tok::kPunct;
        for (const char* two : kTwo) {
          if (s_.substr(i_, 2) == two) {
            t.text = s_.substr(i_, 2);
            i_ += 2;
            break;
          }
        }
        if (t.text.empty()) {
          if (std::string_view(".,()[]{}+-*/&|=~<>").find(c) == std::string_view::npos) {
            return Error(kErrSyntax, t.pos, std::string("unexpected character '") + c + "'");
          }
          t.text = s_.substr(i_++, 1);
        }
      }
      out.push_back(std::move(t));
    }
  }

  Status Error(const char* code, size_t pos, const std::string& msg) {
    return CompileError(code, "FHIRPath " + Where(s_, static_cast<uint32_t>(pos)) + ": " + msg);
  }

 private:
  Status SkipSpace() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f') {
        ++i_;
      } else if (c == '/' && i_ + 1 < s_.size() && s_[i_ + 1] == '/') {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else if (c == '/' && i_ + 1 < s_.size() && s_[i_ + 1] == '*') {
        size_t end = s_.find("*/", i_ + 2);
        if (end == std::string_view::npos) {
          return Error(kErrUnterminated, i_, "unterminated comment");
        }
        i_ = end + 2;
      } else {
        break;
      }
    }
    return Status::Ok();
  }

  Status Quoted(char q, std::string& out) {
    size_t start = i_++;
    while (true) {
      if (i_ >= s_.size()) {
        return Error(kErrUnterminated, start,
                     q == '\'' ? "unterminated string" : "unterminated identifier");
      }
      char c = s_[i_++];
      if (c == q) return Status::Ok();
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= s_.size()) return Error(kErrUnterminated, start, "unterminated string");
      char e = s_[i_++];
      switch (e) {
        case '\'':
        case '"':
        case '`':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!Hex4(cp)) return Error(kErrLiteral, i_ - 2, "invalid \\u escape");
          if (cp >= 0xD800 && cp < 0xDC00 && s_.substr(i_, 2) == "\\u") {
            size_t save = i_;
            i_ += 2;
            uint32_t lo = 0;
            if (Hex4(lo) && lo >= 0xDC00 && lo < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
              i_ = save;
            }
          }
          AppendUtf8(out, cp);
          break;
        }
        default:
          return Error(kErrLiteral, i_ - 2, std::string("invalid escape '\\") + e + "'");
      }
    }
  }

  bool Hex4(uint32_t& cp) {
    if (i_ + 4 > s_.size()) return false;
    for (int k = 0; k < 4; ++k) {
      char h = s_[i_ + k];
      int v = IsDigit(h)               ? h - '0'
              : (h >= 'a' && h <= 'f') ? h - 'a' + 10
              : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                       : -1;
      if (v < 0) return false;
      cp = cp * 16 + static_cast<uint32_t>(v);
    }
    i_ += 4;
    return true;
  }

  bool DigitsAt(size_t p, int n) const {
    if (p + n > s_.size()) return false;
    for (int k = 0; k < n; ++k) {
      if (!IsDigit(s_[p + k])) return false;
    }
    return true;
  }

  // hh(:mm(:ss(.f+)?)?)? at i_; returns false when no hour.
  bool TimeFormat() {
    if (!DigitsAt(i_, 2)) return false;
    i_ += 2;
    if (i_ < s_.size() && s_[i_] == ':' && DigitsAt(i_ + 1, 2)) {
      i_ += 3;
      if (i_ < s_.size() && s_[i_] == ':' && DigitsAt(i_ + 1, 2)) {
        i_ += 3;
        if (i_ + 1 < s_.size() && s_[i_] == '.' && IsDigit(s_[i_ + 1])) {
          ++i_;
          while (i_ < s_.size() && IsDigit(s_[i_])) ++i_;
        }
      }
    }
    return true;
  }

  Status DateLiteral(Token& t) {
    size_t start = i_++;
    if (i_ < s_.size() && s_[i_] == 'T') {
      ++i_;
      size_t body = i_;
      if (!TimeFormat()) return Error(kErrLiteral, start, "invalid time literal");
      t.kind = Tok::kTime;
      t.text = s_.substr(body, i_ - body);
      return Status::Ok();
    }
    size_t body = i_;
    if (!DigitsAt(i_, 4)) return Error(kErrLiteral, start, "invalid date literal");
    i_ += 4;
    if (i_ < s_.size() && s_[i_] == '-' && DigitsAt(i_ + 1, 2)) {
      i_ += 3;
      if (i_ < s_.size() && s_[i_] == '-' && DigitsAt(i_ + 1, 2)) i_ += 3;
    }
    t.kind = Tok::kDate;
    if (i_ < s_.size() && s_[i_] == 'T') {
      ++i_;
      t.kind = Tok::kDateTime;
      if (TimeFormat()) {
        if (i_ < s_.size() && s_[i_] == 'Z') {
          ++i_;
        } else if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-') && DigitsAt(i_ + 1, 2) &&
                   i_ + 3 < s_.size() && s_[i_ + 3] == ':' && DigitsAt(i_ + 4, 2)) {
          i_ += 6;
        }
      }
    }
    t.text = s_.substr(body, i_ - body);
    return Status::Ok();
  }

  std::string_view s_;
  size_t i_ = 0;
};

struct FnInfo {
  Fn fn;
  int min_args;
  int max_args;  // -1: any
};

const std::unordered_map<std::string_view, FnInfo>& Functions() {
  static const auto* table = new std::unordered_map<std::string_view, FnInfo>{
      {"empty", {Fn::kEmpty, 0, 0}},
      {"exists", {Fn::kExists, 0, 1}},
      {"all", {Fn::kAll, 1, 1}},
      {"allTrue", {Fn::kAllTrue, 0, 0}},
      {"anyTrue", {Fn::kAnyTrue, 0, 0}},
      {"allFalse", {Fn::kAllFalse, 0, 0}},
      {"anyFalse", {Fn::kAnyFalse, 0, 0}},
      {"subsetOf", {Fn::kSubsetOf, 1, 1}},
      {"supersetOf", {Fn::kSupersetOf, 1, 1}},
      {"count", {Fn::kCount, 0, 0}},
      {"distinct", {Fn::kDistinct, 0, 0}},
      {"isDistinct", {Fn::kIsDistinct, 0, 0}},
      {"where", {Fn::kWhere, 1, 1}},
      {"select", {Fn::kSelect, 1, 1}},
      {"repeat", {Fn::kRepeat, 1, 1}},
      {"ofType", {Fn::kOfType, 1, 1}},
      {"single", {Fn::kSingle, 0, 0}},
      {"first", {Fn::kFirst, 0, 0}},
      {"last", {Fn::kLast, 0, 0}},
      {"tail", {Fn::kTail, 0, 0}},
      {"skip", {Fn::kSkip, 1, 1}},
      {"take", {Fn::kTake, 1, 1}},
      {"intersect", {Fn::kIntersect, 1, 1}},
      {"exclude", {Fn::kExclude, 1, 1}},
      {"union", {Fn::kUnion, 1, 1}},
      {"combine", {Fn::kCombine, 1, 1}},
      {"iif", {Fn::kIif, 2, 3}},
      {"toBoolean", {Fn::kToBoolean, 0, 0}},
      {"convertsToBoolean", {Fn::kConvertsToBoolean, 0, 0}},
      {"toInteger", {Fn::kToInteger, 0, 0}},
      {"convertsToInteger", {Fn::kConvertsToInteger, 0, 0}},
      {"toDecimal", {Fn::kToDecimal, 0, 0}},
      {"convertsToDecimal", {Fn::kConvertsToDecimal, 0, 0}},
      {"toString", {Fn::kToString, 0, 0}},
      {"convertsToString", {Fn::kConvertsToString, 0, 0}},
      {"toDate", {Fn::kToDate, 0, 0}},
      {"convertsToDate", {Fn::kConvertsToDate, 0, 0}},
      {"toDateTime", {Fn::kToDateTime, 0, 0}},
      {"convertsToDateTime", {Fn::kConvertsToDateTime, 0, 0}},
      {"toTime", {Fn::kToTime, 0, 0}},
      {"convertsToTime", {Fn::kConvertsToTime, 0, 0}},
      {"toQuantity", {Fn::kToQuantity, 0, 1}},
      {"convertsToQuantity", {Fn::kConvertsToQuantity, 0, 1}},
      {"indexOf", {Fn::kIndexOf, 1, 1}},
      {"substring", {Fn::kSubstring, 1, 2}},
      {"startsWith", {Fn::kStartsWith, 1, 1}},
      {"endsWith", {Fn::kEndsWith, 1, 1}},
      {"contains", {Fn::kContains, 1, 1}},
      {"upper", {Fn::kUpper, 0, 0}},
      {"lower", {Fn::kLower, 0, 0}},
      {"replace", {Fn::kReplace, 2, 2}},
      {"matches", {Fn::kMatches, 1, 1}},
      {"matchesFull", {Fn::kMatchesFull, 1, 1}},
      {"replaceMatches", {Fn::kReplaceMatches, 2, 2}},
      {"length", {Fn::kLength, 0, 0}},
      {"toChars", {Fn::kToChars, 0, 0}},
      {"trim", {Fn::kTrim, 0, 0}},
      {"split", {Fn::kSplit, 1, 1}},
      {"join", {Fn::kJoin, 0, 1}},
      {"encode", {Fn::kEncode, 1, 1}},
      {"decode", {Fn::kDecode, 1, 1}},
      {"escape", {Fn::kEscape, 1, 1}},
      {"unescape", {Fn::kUnescape, 1, 1}},
      {"abs", {Fn::kAbs, 0, 0}},
      {"ceiling", {Fn::kCeiling, 0, 0}},
      {"exp", {Fn::kExp, 0, 0}},
      {"floor", {Fn::kFloor, 0, 0}},
      {"ln", {Fn::kLn, 0, 0}},
      {"log", {Fn::kLog, 1, 1}},
      {"power", {Fn::kPower, 1, 1}},
      {"round", {Fn::kRound, 0, 1}},
      {"sqrt", {Fn::kSqrt, 0, 0}},
      {"truncate", {Fn::kTruncate, 0, 0}},
      {"children", {Fn::kChildren, 0, 0}},
      {"descendants", {Fn::kDescendants, 0, 0}},
      {"trace", {Fn::kTrace, 1, 2}},
      {"now", {Fn::kNow, 0, 0}},
      {"today", {Fn::kToday, 0, 0}},
      {"timeOfDay", {Fn::kTimeOfDay, 0, 0}},
      {"aggregate", {Fn::kAggregate, 1, 2}},
      {"not", {Fn::kNot, 0, 0}},
      {"is", {Fn::kIs, 1, 1}},
      {"as", {Fn::kAs, 1, 1}},
      {"type", {Fn::kType, 0, 0}},
      {"extension", {Fn::kExtension, 1, 1}},
      {"hasValue", {Fn::kHasValue, 0, 0}},
      {"getValue", {Fn::kGetValue, 0, 0}},
      {"resolve", {Fn::kResolve, 0, 0}},
      {"memberOf", {Fn::kMemberOf, 1, 1}},
      {"conformsTo", {Fn::kConformsTo, 1, 1}},
      {"htmlChecks", {Fn::kHtmlChecks, 0, 0}},
      {"lowBoundary", {Fn::kLowBoundary, 0, 1}},
      {"highBoundary", {Fn::kHighBoundary, 0, 1}},
      {"precision", {Fn::kPrecision, 0, 0}},
      {"comparable", {Fn::kComparable, 1, 1}},
      {"sort", {Fn::kSort, 0, -1}},
      {"getResourceKey", {Fn::kGetResourceKey, 0, 0}},
      {"getReferenceKey", {Fn::kGetReferenceKey, 0, 1}},
  };
  return *table;
}

struct OpInfo {
  BinOp op;
  int prec;
};

// Binary operator at token t, or prec 0.
OpInfo BinaryOp(const Token& t) {
  if (t.kind == Tok::kPunct) {
    static const std::pair<std::string_view, OpInfo> kOps[] = {
        {"*", {BinOp::kMul, 10}},  {"/", {BinOp::kDiv, 10}},      {"+", {BinOp::kAdd, 9}},
        {"-", {BinOp::kSub, 9}},   {"&", {BinOp::kConcat, 9}},    {"|", {BinOp::kUnion, 7}},
        {"<", {BinOp::kLt, 6}},    {"<=", {BinOp::kLe, 6}},       {">", {BinOp::kGt, 6}},
        {">=", {BinOp::kGe, 6}},   {"=", {BinOp::kEq, 5}},        {"!=", {BinOp::kNe, 5}},
        {"~", {BinOp::kEquiv, 5}}, {"!~", {BinOp::kNotEquiv, 5}},
    };
    for (const auto& [s, info] : kOps) {
      if (t.text == s) return info;
    }
    return {BinOp::kAdd, 0};
  }
  if (t.kind == Tok::kIdent) {
    static const std::pair<std::string_view, OpInfo> kWords[] = {
        {"div", {BinOp::kIntDiv, 10}}, {"mod", {BinOp::kMod, 10}},
        {"is", {BinOp::kAdd, 8}},      {"as", {BinOp::kAdd, 8}},
        {"in", {BinOp::kIn, 4}},       {"contains", {BinOp::kContains, 4}},
        {"and", {BinOp::kAnd, 3}},     {"or", {BinOp::kOr, 2}},
        {"xor", {BinOp::kXor, 2}},     {"implies", {BinOp::kImplies, 1}},
    };
    for (const auto& [s, info] : kWords) {
      if (t.text == s) return info;
    }
  }
  return {BinOp::kAdd, 0};
}

// ---------------------------------------------------------------- static types

struct SType {
  bool any = true;
  std::vector<const FType*> types;
  SysKind sys = SysKind::kNone;
  bool unordered = false;

  static SType Any() { return SType{}; }
  static SType Fhir(std::vector<const FType*> t) {
    SType s;
    s.any = t.empty();
    s.types = std::move(t);
    return s;
  }
  static SType Sys(SysKind k) {
    SType s;
    s.any = false;
    s.sys = k;
    return s;
  }
};

class Parser {
 public:
  Parser(std::string_view text, const CompileOptions& options, Program& program)
      : text_(text), options_(options), p_(program) {}

  Status Run() {
    Lexer lexer(text_);
    GM_RETURN_IF_ERROR(lexer.Run(toks_));
    const Node* root = nullptr;
    GM_RETURN_IF_ERROR(Expr(0, root));
    if (Peek().kind != Tok::kEof) return Unexpected(Peek());
    p_.root = root;
    if (!options_.context_type.empty()) {
      const FType* ctx = FindType(options_.context_type);
      if (ctx == nullptr) {
        return CompileError(kErrUnknownType,
                            "unknown context type '" + std::string(options_.context_type) + "'");
      }
      context_ = SType::Fhir({ctx});
      SType ignored;
      GM_RETURN_IF_ERROR(Check(root, context_, 0, ignored));
    }
    return Status::Ok();
  }

 private:
  const Token& Peek(size_t ahead = 0) const {
    size_t k = pos_ + ahead;
    return k < toks_.size() ? toks_[k] : toks_.back();
  }
  const Token& Next() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }
  bool IsPunct(const Token& t, std::string_view s) const {
    return t.kind == Tok::kPunct && t.text == s;
  }
  Status Error(const char* code, uint32_t pos, const std::string& msg) const {
    return CompileError(code, "FHIRPath " + Where(text_, pos) + ": " + msg);
  }
  Status Unexpected(const Token& t) const {
    if (t.kind == Tok::kEof) return Error(kErrSyntax, t.pos, "unexpected end of expression");
    return Error(kErrSyntax, t.pos, "unexpected '" + std::string(t.text) + "'");
  }
  Status Expect(std::string_view punct) {
    if (!IsPunct(Peek(), punct)) {
      const Token& t = Peek();
      std::string got = t.kind == Tok::kEof ? "end of expression" : "'" + std::string(t.text) + "'";
      return Error(kErrSyntax, t.pos, "expected '" + std::string(punct) + "' but found " + got);
    }
    Next();
    return Status::Ok();
  }

  Node* New(NodeKind kind, uint32_t pos) {
    p_.nodes.push_back(std::make_unique<Node>());
    Node* n = p_.nodes.back().get();
    n->kind = kind;
    n->pos = pos;
    return n;
  }

  // Records the depth of a composite node; deep trees are refused so that
  // evaluation, which recurses over the tree, stays within the stack.
  Status Finish(Node* n) {
    int d = 0;
    if (n->input != nullptr) d = n->input->depth;
    for (const Node* a : n->args) {
      if (a != nullptr && a->depth > d) d = a->depth;
    }
    n->depth = d + 1;
    if (n->depth > options_.max_depth) {
      return Error(kErrTooDeep, n->pos, "expression is nested too deeply");
    }
    return Status::Ok();
  }

  Status Enter(uint32_t pos) {
    if (++depth_ > options_.max_depth) {
      return Error(kErrTooDeep, pos, "expression is nested too deeply");
    }
    return Status::Ok();
  }

  Status Expr(int min_prec, const Node*& out) {
    GM_RETURN_IF_ERROR(Enter(Peek().pos));
    const Node* left = nullptr;
    GM_RETURN_IF_ERROR(Unary(left));
    while (true) {
      const Token& t = Peek();
      OpInfo info = BinaryOp(t);
      if (info.prec == 0 || info.prec < min_prec) break;
      Next();
      if (t.text == "is" || t.text == "as") {
        Node* n = New(t.text == "is" ? NodeKind::kIs : NodeKind::kAs, t.pos);
        n->input = left;
        GM_RETURN_IF_ERROR(TypeSpecifier(n->type));
        GM_RETURN_IF_ERROR(Finish(n));
        left = n;
        continue;
      }
      const Node* right = nullptr;
      GM_RETURN_IF_ERROR(Expr(info.prec + 1, right));
      Node* n = New(NodeKind::kBinary, t.pos);
      n->op = info.op;
      n->args = {left, right};
      GM_RETURN_IF_ERROR(Finish(n));
      left = n;
    }
    --depth_;
    out = left;
    return Status::Ok();
  }

  Status Unary(const Node*& out) {
    const Token& t = Peek();
    if (IsPunct(t, "+") || IsPunct(t, "-")) {
      bool neg = t.text == "-";
      uint32_t pos = t.pos;
      Next();
      GM_RETURN_IF_ERROR(Enter(pos));
      const Node* operand = nullptr;
      GM_RETURN_IF_ERROR(Unary(operand));
      --depth_;
      if (!neg) {
        out = operand;
        return Status::Ok();
      }
      Node* n = New(NodeKind::kNegate, pos);
      n->args = {operand};
      GM_RETURN_IF_ERROR(Finish(n));
      out = n;
      return Status::Ok();
    }
    return Postfix(out);
  }

  Status Postfix(const Node*& out) {
    const Node* left = nullptr;
    GM_RETURN_IF_ERROR(Term(left));
    int pushed = 0;
    while (true) {
      const Token& t = Peek();
      if (IsPunct(t, ".")) {
        Next();
        GM_RETURN_IF_ERROR(Enter(t.pos));
        ++pushed;
        const Token& id = Next();
        if (id.kind != Tok::kIdent && id.kind != Tok::kDelimIdent) return Unexpected(id);
        const Node* n = nullptr;
        GM_RETURN_IF_ERROR(Invocation(id, left, n));
        left = n;
      } else if (IsPunct(t, "[")) {
        Next();
        GM_RETURN_IF_ERROR(Enter(t.pos));
        ++pushed;
        const Node* index = nullptr;
        GM_RETURN_IF_ERROR(Expr(0, index));
        GM_RETURN_IF_ERROR(Expect("]"));
        Node* n = New(NodeKind::kIndexer, t.pos);
        n->input = left;
        n->args = {index};
        GM_RETURN_IF_ERROR(Finish(n));
        left = n;
      } else {
        break;
      }
    }
    depth_ -= pushed;
    out = left;
    return Status::Ok();
  }

  // identifier [ '(' args ')' ] applied to `input` (null: against $this).
  Status Invocation(const Token& id, const Node* input, const Node*& out) {
    if (id.kind == Tok::kIdent && IsPunct(Peek(), "(")) return Call(id, input, out);
    if (input == nullptr && id.kind == Tok::kIdent) {
      // A leading type name filters the input by type: Patient.name.
      if (!id.value.empty() && id.value[0] >= 'A' && id.value[0] <= 'Z') {
        if (const FType* t = FindType(id.value)) {
          Node* n = New(NodeKind::kTypeFilter, id.pos);
          n->type.fhir = t;
          n->type.name = id.value;
          n->name = id.value;
          out = n;
          return Status::Ok();
        }
      }
    }
    if (input == nullptr && id.kind == Tok::kDelimIdent && !id.value.empty() &&
        id.value[0] >= 'A' && id.value[0] <= 'Z') {
      if (const FType* t = FindType(id.value)) {
        Node* n = New(NodeKind::kTypeFilter, id.pos);
        n->type.fhir = t;
        n->type.name = id.value;
        n->name = id.value;
        out = n;
        return Status::Ok();
      }
    }
    Node* n = New(NodeKind::kMember, id.pos);
    n->input = input;
    n->name = id.value;
    n->ext_name = "_" + id.value;
    n->hash = HashName(id.value);
    GM_RETURN_IF_ERROR(Finish(n));
    out = n;
    return Status::Ok();
  }

  Status Call(const Token& id, const Node* input, const Node*& out) {
    auto it = Functions().find(id.value);
    if (it == Functions().end()) {
      return Error(kErrUnknownFunction, id.pos, "unknown function '" + id.value + "'");
    }
    const FnInfo& info = it->second;
    Node* n = New(NodeKind::kCall, id.pos);
    n->fn = info.fn;
    n->name = id.value;
    n->input = input;
    Next();  // (
    bool type_arg = info.fn == Fn::kIs || info.fn == Fn::kAs || info.fn == Fn::kOfType ||
                    info.fn == Fn::kGetReferenceKey;
    if (!IsPunct(Peek(), ")")) {
      if (type_arg) {
        GM_RETURN_IF_ERROR(TypeSpecifier(n->type));
        n->args.push_back(nullptr);
      } else {
        while (true) {
          const Node* arg = nullptr;
          GM_RETURN_IF_ERROR(Expr(0, arg));
          n->args.push_back(arg);
          if (!IsPunct(Peek(), ",")) break;
          Next();
        }
      }
    }
    GM_RETURN_IF_ERROR(Expect(")"));
    int argc = static_cast<int>(n->args.size());
    if (argc < info.min_args || (info.max_args >= 0 && argc > info.max_args)) {
      std::string want = info.min_args == info.max_args
                             ? std::to_string(info.min_args)
                             : std::to_string(info.min_args) + ".." +
                                   (info.max_args < 0 ? "n" : std::to_string(info.max_args));
      return Error(kErrArity, id.pos,
                   "function '" + id.value + "' takes " + want + " argument(s), got " +
                       std::to_string(argc));
    }
    if (info.fn == Fn::kSort) {
      for (const Node*& arg : n->args) {
        if (arg->kind == NodeKind::kNegate) {
          Node* desc = New(NodeKind::kLiteral, arg->pos);
          *desc = *arg->args[0];
          desc->descending = true;
          arg = desc;
        }
      }
    }
    if ((info.fn == Fn::kMatches || info.fn == Fn::kMatchesFull ||
         info.fn == Fn::kReplaceMatches) &&
        n->args[0]->kind == NodeKind::kLiteral &&
        n->args[0]->literal.kind() == ValueKind::kString) {
      std::string_view pattern = Access::s(n->args[0]->literal);
      RE2::Options opts;
      opts.set_dot_nl(true);
      opts.set_log_errors(false);
      opts.set_max_mem(8 << 20);
      auto re = std::make_shared<const RE2>(re2::StringPiece(pattern.data(), pattern.size()), opts);
      if (!re->ok()) {
        return Error(kErrRegex, n->args[0]->pos, "invalid regular expression: " + re->error());
      }
      n->regex = re;
    }
    GM_RETURN_IF_ERROR(Finish(n));
    out = n;
    return Status::Ok();
  }

  // qualifiedIdentifier: id ('.' id)?
  Status TypeSpecifier(TypeSpec& spec) {
    const Token& first = Next();
    if (first.kind != Tok::kIdent && first.kind != Tok::kDelimIdent) return Unexpected(first);
    std::string ns, name = first.value;
    if (IsPunct(Peek(), ".") && (Peek(1).kind == Tok::kIdent || Peek(1).kind == Tok::kDelimIdent)) {
      Next();
      ns = name;
      name = Next().value;
    }
    spec.name = ns.empty() ? name : ns + "." + name;
    static const std::pair<std::string_view, SysKind> kSystem[] = {
        {"Boolean", SysKind::kBoolean}, {"Integer", SysKind::kInteger},
        {"Decimal", SysKind::kDecimal}, {"String", SysKind::kString},
        {"Date", SysKind::kDate},       {"DateTime", SysKind::kDateTime},
        {"Time", SysKind::kTime},
    };
    auto system = [&](std::string_view n) {
      for (const auto& [s, k] : kSystem) {
        if (s == n) {
          spec.system = k;
          return true;
        }
      }
      if (n == "Quantity") return spec.quantity = true;
      if (n == "Any") return spec.any = true;
      return false;
    };
    if (ns == "System") {
      if (!system(name)) spec.never = true;
      return Status::Ok();
    }
    if (ns.empty() || ns == "FHIR") {
      if (const FType* t = FindType(name)) {
        spec.fhir = t;
        return Status::Ok();
      }
      if (ns.empty() && system(name)) return Status::Ok();
    }
    return Error(kErrUnknownType, first.pos, "unknown type '" + spec.name + "'");
  }

  Status Term(const Node*& out) {
    const Token& t = Next();
    switch (t.kind) {
      case Tok::kEof:
        return Unexpected(t);
      case Tok::kNumber:
        return NumberLiteral(t, out);
      case Tok::kString: {
        Node* n = New(NodeKind::kLiteral, t.pos);
        n->literal = Access::Str(p_.arena.Copy(t.value));
        out = n;
        return Status::Ok();
      }
      case Tok::kDate:
      case Tok::kDateTime:
      case Tok::kTime: {
        DateTime dt;
        bool ok = t.kind == Tok::kDate       ? ParseDate(t.text, dt)
                  : t.kind == Tok::kDateTime ? ParseDateTime(t.text, dt)
                                             : ParseTime(t.text, dt);
        if (!ok) return Error(kErrLiteral, t.pos, "invalid date/time literal");
        Node* n = New(NodeKind::kLiteral, t.pos);
        ValueKind k = t.kind == Tok::kDate       ? ValueKind::kDate
                      : t.kind == Tok::kDateTime ? ValueKind::kDateTime
                                                 : ValueKind::kTime;
        n->literal = Access::Dt(k, p_.arena.New<DateTime>(dt));
        out = n;
        return Status::Ok();
      }
      case Tok::kExternal: {
        std::string constant;
        if (t.value == "ucum") constant = "http://unitsofmeasure.org";
        if (t.value == "sct") constant = "http://snomed.info/sct";
        if (t.value == "loinc") constant = "http://loinc.org";
        if (t.value.rfind("vs-", 0) == 0) {
          constant = "http://hl7.org/fhir/ValueSet/" + t.value.substr(3);
        }
        if (t.value.rfind("ext-", 0) == 0) {
          constant = "http://hl7.org/fhir/StructureDefinition/" + t.value.substr(4);
        }
        if (!constant.empty()) {
          Node* n = New(NodeKind::kLiteral, t.pos);
          n->literal = Access::Str(p_.arena.Copy(constant));
          out = n;
          return Status::Ok();
        }
        Node* n = New(NodeKind::kVariable, t.pos);
        n->name = t.value;
        out = n;
        return Status::Ok();
      }
      case Tok::kSpecial: {
        Node* n = New(t.value == "this"    ? NodeKind::kThis
                      : t.value == "index" ? NodeKind::kIndex
                                           : NodeKind::kTotal,
                      t.pos);
        out = n;
        return Status::Ok();
      }
      case Tok::kIdent:
        if (t.text == "true" || t.text == "false") {
          Node* n = New(NodeKind::kLiteral, t.pos);
          n->literal = Access::Bool(t.text == "true");
          out = n;
          return Status::Ok();
        }
        return Invocation(t, nullptr, out);
      case Tok::kDelimIdent:
        return Invocation(t, nullptr, out);
      case Tok::kPunct:
        if (t.text == "(") {
          const Node* inner = nullptr;
          GM_RETURN_IF_ERROR(Expr(0, inner));
          GM_RETURN_IF_ERROR(Expect(")"));
          out = inner;
          return Status::Ok();
        }
        if (t.text == "{") {
          GM_RETURN_IF_ERROR(Expect("}"));
          out = New(NodeKind::kEmpty, t.pos);
          return Status::Ok();
        }
        return Unexpected(t);
    }
    return Unexpected(t);
  }

  Status NumberLiteral(const Token& t, const Node*& out) {
    Node* n = New(NodeKind::kLiteral, t.pos);
    const Token& u = Peek();
    bool quantity = u.kind == Tok::kString ||
                    (u.kind == Tok::kIdent && CalendarKeyword(u.text) != CalUnit::kNone);
    bool is_decimal = t.text.find('.') != std::string_view::npos;
    if (quantity) {
      Next();
      auto d = ParseDecimal(t.text);
      if (!d) return Error(kErrLiteral, t.pos, "number out of range");
      Quantity q;
      q.value = *d;
      q.unit = p_.arena.Copy(u.kind == Tok::kString ? std::string_view(u.value) : u.text);
      q.calendar = u.kind == Tok::kString ? CalUnit::kNone : CalendarKeyword(u.text);
      if (u.kind == Tok::kString && q.unit.empty()) {
        return Error(kErrLiteral, u.pos, "empty unit");
      }
      n->literal = Access::Qty(p_.arena.New<Quantity>(q));
    } else if (!is_decimal) {
      int64_t v = 0;
      bool ok = t.text.size() <= 18;
      if (ok) {
        for (char c : t.text) v = v * 10 + (c - '0');  // 18 digits cannot overflow
      }
      if (!ok) {
        auto d = ParseDecimal(t.text);
        if (!d) return Error(kErrLiteral, t.pos, "number out of range");
        n->literal = Access::Dec(p_.arena.New<Decimal>(*d));
      } else {
        n->literal = Access::Int(v);
      }
    } else {
      auto d = ParseDecimal(t.text);
      if (!d) return Error(kErrLiteral, t.pos, "number out of range");
      n->literal = Access::Dec(p_.arena.New<Decimal>(*d));
    }
    out = n;
    return Status::Ok();
  }

  // ---------------------------------------------------------------- checks

  Status StrictError(uint32_t pos, const std::string& msg) const {
    return Error(kErrStrict, pos, msg);
  }

  // Static type of a node given the type of $this. Only what navigation needs.
  Status Check(const Node* n, const SType& self, int depth, SType& out) {
    if (depth > options_.max_depth + 16) return Error(kErrTooDeep, n->pos, "too deep");
    out = SType::Any();
    SType in = self;
    if (n->input != nullptr) GM_RETURN_IF_ERROR(Check(n->input, self, depth + 1, in));
    switch (n->kind) {
      case NodeKind::kLiteral:
        out = SType::Sys(SysKindOf(n->literal.kind()));
        return Status::Ok();
      case NodeKind::kThis:
        out = self;
        return Status::Ok();
      case NodeKind::kIndex:
        out = SType::Sys(SysKind::kInteger);
        return Status::Ok();
      case NodeKind::kVariable:
        if (n->name == "context") out = context_;
        return Status::Ok();
      case NodeKind::kMember:
        return CheckMember(n, in, out);
      case NodeKind::kTypeFilter: {
        if (in.any) {
          out = SType::Fhir({n->type.fhir});
          return Status::Ok();
        }
        bool possible = false;
        for (const FType* t : in.types) {
          if (IsA(t, n->type.fhir) || IsA(n->type.fhir, t)) possible = true;
        }
        if (!possible && options_.strict) {
          return StrictError(n->pos, "the input is never of type '" + n->type.name + "'");
        }
        out = SType::Fhir({n->type.fhir});
        return Status::Ok();
      }
      case NodeKind::kIndexer: {
        SType idx;
        GM_RETURN_IF_ERROR(Check(n->args[0], self, depth + 1, idx));
        if (options_.strict && in.unordered) {
          return StrictError(n->pos, "indexing an unordered collection");
        }
        out = in;
        return Status::Ok();
      }
      case NodeKind::kAs:
        out = n->type.fhir ? SType::Fhir({n->type.fhir}) : SType::Any();
        return Status::Ok();
      case NodeKind::kIs:
        out = SType::Sys(SysKind::kBoolean);
        return Status::Ok();
      case NodeKind::kNegate:
      case NodeKind::kBinary: {
        for (const Node* a : n->args) {
          SType ignored;
          GM_RETURN_IF_ERROR(Check(a, self, depth + 1, ignored));
        }
        return Status::Ok();
      }
      case NodeKind::kCall:
        return CheckCall(n, self, in, depth, out);
      default:
        return Status::Ok();
    }
  }

  Status CheckMember(const Node* n, const SType& in, SType& out) {
    if (in.any || in.types.empty()) return Status::Ok();
    std::vector<const FType*> result;
    bool open = false;
    for (const FType* t : in.types) {
      if (t->abstract_ && t->resource) open = true;
      const Elem* e = t->elements.Find(n->name, n->hash);
      if (e == nullptr) continue;
      if (e->choice) {
        for (const auto& c : e->choices) result.push_back(c.type);
      } else if (e->type == nullptr || (e->type->resource && e->type->abstract_)) {
        open = true;
      } else {
        result.push_back(e->type);
      }
    }
    if (result.empty() && !open) {
      std::string names;
      for (const FType* t : in.types) {
        if (in.types.size() > 3) {
          names = "the input";
          break;
        }
        if (!names.empty()) names += "|";
        names += t->name;
      }
      return Error(kErrUnknownElement, n->pos, names + " has no element '" + n->name + "'");
    }
    out = open ? SType::Any() : SType::Fhir(std::move(result));
    return Status::Ok();
  }

  Status CheckCall(const Node* n, const SType& self, const SType& in, int depth, SType& out) {
    bool lambda = false;
    switch (n->fn) {
      case Fn::kWhere:
      case Fn::kSelect:
      case Fn::kAll:
      case Fn::kExists:
      case Fn::kRepeat:
      case Fn::kAggregate:
      case Fn::kSort:
      case Fn::kIif:
      case Fn::kTrace:
        lambda = true;
        break;
      default:
        break;
    }
    std::vector<SType> args;
    for (const Node* a : n->args) {
      SType at;
      if (a != nullptr) {
        SType focus = lambda ? in : self;
        if (n->fn == Fn::kAggregate || n->fn == Fn::kIif) focus = SType::Any();
        if (lambda && n->fn != Fn::kIif && n->fn != Fn::kAggregate) focus.unordered = false;
        GM_RETURN_IF_ERROR(Check(a, focus, depth + 1, at));
      }
      args.push_back(std::move(at));
    }
    switch (n->fn) {
      case Fn::kWhere:
      case Fn::kFirst:
      case Fn::kLast:
      case Fn::kTail:
      case Fn::kSkip:
      case Fn::kTake:
      case Fn::kSingle:
      case Fn::kDistinct:
      case Fn::kTrace:
      case Fn::kExclude:
      case Fn::kIntersect:
      case Fn::kSort:
        if (options_.strict && in.unordered &&
            (n->fn == Fn::kFirst || n->fn == Fn::kLast || n->fn == Fn::kTail ||
             n->fn == Fn::kSkip || n->fn == Fn::kTake)) {
          return StrictError(n->pos, "'" + n->name + "' on an unordered collection");
        }
        out = in;
        return Status::Ok();
      case Fn::kSelect:
      case Fn::kRepeat:
        out = args[0];
        return Status::Ok();
      case Fn::kOfType:
      case Fn::kAs:
        out = n->type.fhir ? SType::Fhir({n->type.fhir}) : SType::Any();
        return Status::Ok();
      case Fn::kChildren:
      case Fn::kDescendants:
        out = SType::Any();
        out.unordered = true;
        return Status::Ok();
      case Fn::kExtension:
        out = SType::Fhir({FindType("Extension")});
        return Status::Ok();
      case Fn::kIif:
        if (options_.strict && !args[0].any && args[0].types.empty() &&
            args[0].sys != SysKind::kBoolean) {
          return StrictError(n->args[0]->pos, "iif criterion is not a Boolean");
        }
        return Status::Ok();
      default:
        return Status::Ok();
    }
  }

  std::string_view text_;
  const CompileOptions& options_;
  Program& p_;
  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  SType context_;
};

}  // namespace

Result<std::shared_ptr<const Program>> Parse(std::string_view text, const CompileOptions& options) {
  if (text.size() > options.max_length) {
    return CompileError(kErrTooLong, "FHIRPath expression is longer than " +
                                         std::to_string(options.max_length) + " characters");
  }
  auto program = std::make_shared<Program>();
  program->text = std::string(text);
  Parser parser(program->text, options, *program);
  GM_RETURN_IF_ERROR(parser.Run());
  return std::shared_ptr<const Program>(std::move(program));
}

}  // namespace gm::fhirpath::internal
