#include "store/postgres/pg_query.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <optional>
#include <utility>

namespace gm::store::postgres {

std::string TruncateIndexed(std::string_view s) {
  if (s.size() <= kMaxIndexedText) return std::string(s);
  size_t n = kMaxIndexedText;
  // Never cut a UTF-8 sequence: back off over continuation bytes.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n));
}

std::vector<std::string> TextTokens(std::string_view text) {
  std::vector<std::string> out;
  std::string tok;
  for (char ch : text) {
    const unsigned char u = static_cast<unsigned char>(ch);
    if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || u >= 0x80) {
      tok += ch;
    } else if (u >= 'A' && u <= 'Z') {
      tok += char(u - 'A' + 'a');
    } else if (!tok.empty()) {
      out.push_back(TruncateIndexed(tok));
      tok.clear();
    }
  }
  if (!tok.empty()) out.push_back(TruncateIndexed(tok));
  return out;
}

std::vector<std::string> Lexemes(const std::vector<const IndexEntry*>& entries) {
  std::set<std::string> seen;
  std::vector<std::string> out;
  size_t bytes = 0;
  for (const IndexEntry* e : entries) {
    for (std::string& t : TextTokens(e->text)) {
      if (bytes + t.size() > kMaxTsvectorBytes) return out;
      if (seen.insert(t).second) {
        bytes += t.size();
        out.push_back(std::move(t));
      }
    }
  }
  return out;
}

namespace {

using Kind = IndexEntry::Kind;
using Op = Clause::Op;
using Cmp = Clause::Cmp;

constexpr std::string_view kCursorTag = "search";
// SQLite's compound-select limit is 500 on Debian; above this many branches a
// driver falls back to one SELECT with OR-ed conditions.
constexpr size_t kMaxUnionBranches = 400;
constexpr int kNoDriver = 1000;

Status BadClause(const std::string& param, const std::string& why) {
  return Status::Error(ErrorCategory::kInvalid, "GM-STORE-031", "invalid",
                       "Search parameter '" + param + "' cannot be evaluated: " + why);
}

const char* TableOf(Kind k) {
  switch (k) {
    case Kind::kToken:
      return "idx_token";
    case Kind::kString:
      return "idx_string";
    case Kind::kDate:
      return "idx_date";
    case Kind::kNumber:
      return "idx_number";
    case Kind::kQuantity:
      return "idx_quantity";
    case Kind::kReference:
      return "idx_reference";
    case Kind::kUri:
      return "idx_uri";
    case Kind::kComposite:
      return "idx_composite";
    case Kind::kText:
      return "idx_text";
  }
  return "idx_token";
}

// Bound parameters, numbered in order of addition.
class Params {
 public:
  std::string Add(KeyValue v) {
    values_.push_back(std::move(v));
    return "$" + std::to_string(values_.size());
  }
  // Text compared with index columns is cut like the stored values (kMaxIndexedText).
  std::string AddText(std::string s) { return Add(KeyValue(TruncateIndexed(s))); }
  // The exclusive upper bound of every indexed text starting with `prefix`.
  std::string AddUpper(const std::string& prefix) {
    return Add(KeyValue(TruncateIndexed(prefix) + "\xF4\x8F\xBF\xBF"));
  }
  std::string AddInt(int64_t i) { return Add(KeyValue(i)); }
  std::string AddReal(double d) { return Add(KeyValue(d)); }
  std::vector<KeyValue>& values() { return values_; }

 private:
  std::vector<KeyValue> values_;
};

// Upper bounds of prefixes: the prefix followed by U+10FFFF, the greatest
// code point (text columns use the bytewise "C" collation).

std::string JoinOr(const std::vector<std::string>& terms) {
  if (terms.empty()) return "FALSE";
  if (terms.size() == 1) return terms[0];
  std::string s;
  for (const std::string& t : terms) s += (s.empty() ? "(" : " OR (") + t + ")";
  return s;
}

std::string JoinAnd(const std::vector<std::string>& terms) {
  if (terms.empty()) return "TRUE";
  std::string s;
  for (const std::string& t : terms) s += (s.empty() ? "(" : " AND (") + t + ")";
  return s;
}

// One index table restricted to some pids, with alternative conditions on alias t.
struct Part {
  std::string table;
  std::string pid_cond;  // e.g. "t.pid IN ($1,$2)"; empty for the compartment table
  std::vector<std::string> branches;
};

// A clause compiled to SQL over a scope's resource alias.
struct CompiledClause {
  bool never = false;   // cannot match
  bool always = false;  // imposes nothing
  int priority = kNoDriver;
  bool resource_level = false;  // pred is on the alias's own columns (driver via its index)
  std::string driver;           // SELECT of distinct candidate rids (column rid), or ""
  std::string pred;             // boolean expression over the scope alias
};

// The resources one (possibly nested) query ranges over.
struct Scope {
  std::string alias;               // "r" at the top, "r1", "r2" ... nested
  std::vector<std::string> types;  // sorted, unique; empty = every type
  int depth = 0;
};

// A query's clauses compiled over a scope; `driver` indexes the chosen driver.
struct Filter {
  bool never = false;
  std::vector<CompiledClause> clauses;
  size_t driver = std::string::npos;
  int priority = kNoDriver;
};

struct ParamPid {
  int64_t pid;
  std::string type;
  Kind kind;
};

std::string ExistsPred(const Part& part, bool negate, const std::string& alias) {
  std::string s = negate ? "NOT EXISTS (SELECT 1 FROM " : "EXISTS (SELECT 1 FROM ";
  s += part.table + " AS t WHERE t.rid = " + alias + ".rid";
  if (!part.pid_cond.empty()) s += " AND " + part.pid_cond;
  if (!part.branches.empty()) s += " AND (" + JoinOr(part.branches) + ")";
  return s + ")";
}

std::string DriverSql(const std::vector<Part>& parts) {
  size_t n = 0;
  for (const Part& part : parts) n += part.branches.size();
  auto select = [](const Part& part, bool distinct, const std::string& cond) {
    std::string s = distinct ? "SELECT DISTINCT t.rid AS rid FROM " : "SELECT t.rid AS rid FROM ";
    s += part.table + " AS t WHERE ";
    if (!part.pid_cond.empty()) s += part.pid_cond + " AND ";
    return s + "(" + cond + ")";
  };
  if (n == 1) {
    for (const Part& part : parts) {
      if (!part.branches.empty()) return select(part, true, part.branches[0]);
    }
  }
  std::string sql;
  for (const Part& part : parts) {
    if (n > kMaxUnionBranches) {
      sql += (sql.empty() ? "" : " UNION ") + select(part, false, JoinOr(part.branches));
      continue;
    }
    for (const std::string& b : part.branches) {
      sql += (sql.empty() ? "" : " UNION ") + select(part, false, b);
    }
  }
  return sql;
}

// Splits "Type/id" (one slash, no scheme) into its parts.
bool SplitLocalReference(const std::string& ref, std::string& type, std::string& id) {
  size_t slash = ref.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == ref.size()) return false;
  if (ref.find('/', slash + 1) != std::string::npos || ref.find(':') != std::string::npos) {
    return false;
  }
  type = ref.substr(0, slash);
  id = ref.substr(slash + 1);
  return true;
}

// A tsquery (as text) for full-text values: every word must begin a word of
// the column's text (each word split into tokens like the stored text; the
// last token is a prefix); values OR. Lexemes are quoted, so no tsquery
// syntax gets through.
std::optional<std::string> TsQuery(const std::vector<Clause::Value>& values) {
  std::vector<std::string> alternatives;
  for (const Clause::Value& v : values) {
    std::vector<std::string> terms;
    std::string word;
    auto flush = [&] {
      std::vector<std::string> tokens = TextTokens(word);
      word.clear();
      for (size_t i = 0; i < tokens.size(); ++i) {
        std::string quoted = "'";
        for (char ch : tokens[i]) {
          if (ch == '\'' || ch == '\\') quoted += ch;
          quoted += ch;
        }
        terms.push_back(quoted + (i + 1 == tokens.size() ? "':*" : "'"));
      }
    };
    for (char ch : v.code) {
      if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
        flush();
      } else {
        word += ch;
      }
    }
    flush();
    if (terms.empty()) continue;
    std::string conj;
    for (const std::string& t : terms) conj += (conj.empty() ? "" : " & ") + t;
    alternatives.push_back("(" + conj + ")");
  }
  if (alternatives.empty()) return std::nullopt;
  std::string m;
  for (const std::string& a : alternatives) m += (m.empty() ? "" : " | ") + a;
  return m;
}

class Compiler {
 public:
  Compiler(PgConnection& c, int64_t now_us) : c_(c), now_us_(now_us) {}

  Result<CompiledQuery> Page(const Query& q, size_t limit);
  Result<CompiledQuery> Count(const Query& q, int64_t at_most);

 private:
  struct Key {
    std::string expr;
    bool desc = false;
    bool nullable = false;
  };
  struct Source {
    std::string from;
    std::vector<std::string> where;
  };

  Scope TopScope(const Query& q) const;
  Scope SubScope(const Query& sub, const Scope& parent);
  Result<std::vector<ParamPid>> Pids(const std::string& param, const std::vector<std::string>& types);
  // "t.pid IN (...)" over the pids of `param` of `kind` within `types`; "" if none.
  Result<std::string> PidCond(const std::string& param, Kind kind,
                              const std::vector<std::string>& types);
  Result<Filter> CompileFilter(const Query& q, const Scope& s);
  Result<CompiledClause> CompileClause(const Clause& cl, const Scope& s);
  Result<CompiledClause> CompileChain(const Clause& cl, const Scope& s);
  Result<CompiledClause> CompileHas(const Clause& cl, const Scope& s);
  Result<CompiledClause> CompileComposite(const Clause& cl, const Scope& s);
  Result<CompiledClause> CompileText(const Clause& cl, const Scope& s);
  Result<std::vector<std::string>> ValueBranches(const Clause& cl, Kind kind,
                                                 const Clause::Value& v);
  Result<std::string> SlotCondition(const std::string& param, const Clause& component, int slot);
  std::vector<std::string> DateBranches(const std::string& b, const std::string& e,
                                        const Clause::Value& v);
  std::string PointDatePred(const std::string& col, const Clause::Value& v);
  std::vector<std::string> NumberBranches(const std::string& val, const std::string& lo,
                                          const std::string& hi, const Clause::Value& v);
  std::string TypeFilter(const Scope& s);
  // FROM and WHERE selecting the scope's matching resources: through the
  // driver if there is one (all_preds: also repeat the driver's own predicate).
  Source SourceOf(const Filter& f, const Scope& s, bool use_driver);
  Status AddSortKeys(const Query& q, const Scope& s);

  PgConnection& c_;
  int64_t now_us_;
  Params p_;
  std::map<std::string, std::vector<ParamPid>> pid_cache_;
  std::vector<Key> keys_;
  int next_alias_ = 0;
};

Scope Compiler::TopScope(const Query& q) const {
  Scope s;
  s.alias = "r";
  if (!q.type.empty()) {
    s.types.push_back(q.type);
  } else {
    s.types = q.types;
    std::sort(s.types.begin(), s.types.end());
    s.types.erase(std::unique(s.types.begin(), s.types.end()), s.types.end());
  }
  return s;
}

Scope Compiler::SubScope(const Query& sub, const Scope& parent) {
  Scope s = TopScope(sub);
  s.alias = "r" + std::to_string(++next_alias_);
  s.depth = parent.depth + 1;
  return s;
}

Result<std::vector<ParamPid>> Compiler::Pids(const std::string& param,
                                             const std::vector<std::string>& types) {
  std::string key = param;
  for (const std::string& t : types) key += "\x1f" + t;
  auto it = pid_cache_.find(key);
  if (it != pid_cache_.end()) return it->second;
  GM_ASSIGN_OR_RETURN(
      PgResult res,
      c_.Query("SELECT pid, type, kind FROM search_param WHERE param = $1 ORDER BY pid",
               {KeyValue(param)}));
  std::vector<ParamPid> out;
  for (int row = 0; row < res.rows(); ++row) {
    std::string type = res.Text(row, 1);
    if (!types.empty() && !std::binary_search(types.begin(), types.end(), type)) continue;
    out.push_back({res.Int(row, 0), std::move(type), Kind(res.Int(row, 2))});
  }
  pid_cache_[key] = out;
  return out;
}

Result<std::string> Compiler::PidCond(const std::string& param, Kind kind,
                                      const std::vector<std::string>& types) {
  GM_ASSIGN_OR_RETURN(std::vector<ParamPid> pids, Pids(param, types));
  std::vector<std::string> placeholders;
  for (const ParamPid& pp : pids) {
    if (pp.kind == kind) placeholders.push_back(p_.AddInt(pp.pid));
  }
  if (placeholders.empty()) return std::string();
  if (placeholders.size() == 1) return "t.pid = " + placeholders[0];
  std::string cond = "t.pid IN (";
  for (size_t i = 0; i < placeholders.size(); ++i) cond += (i ? "," : "") + placeholders[i];
  return cond + ")";
}

std::vector<std::string> Compiler::DateBranches(const std::string& b, const std::string& e,
                                                const Clause::Value& v) {
  const std::string qb = p_.AddInt(v.begin_us);
  const std::string qe = p_.AddInt(v.end_us);
  const std::string contained = b + " >= " + qb + " AND " + e + " <= " + qe;
  switch (v.cmp) {
    case Cmp::kEq:
      return {b + " >= " + qb + " AND " + b + " < " + qe + " AND " + e + " <= " + qe};
    case Cmp::kNe:
      return {b + " < " + qb, e + " > " + qe};
    case Cmp::kGt:
      return {e + " > " + qe};
    case Cmp::kLt:
      return {b + " < " + qb};
    case Cmp::kGe:
      return {e + " > " + qb + " AND (" + e + " > " + qe + " OR (" + contained + "))"};
    case Cmp::kLe:
      return {b + " < " + qe + " AND (" + b + " < " + qb + " OR (" + contained + "))"};
    case Cmp::kSa:
      return {b + " >= " + qe};
    case Cmp::kEb:
      return {e + " <= " + qb};
    case Cmp::kAp: {
      // Widen by 10% of the distance between the value and now (at least the value itself).
      double mid = (double(v.begin_us) + double(v.end_us)) / 2;
      double delta = std::fabs(double(now_us_) - mid) / 10;
      auto clamp = [](double d) {
        constexpr double lo = double(std::numeric_limits<int64_t>::min());
        constexpr double hi = double(std::numeric_limits<int64_t>::max());
        return d <= lo   ? std::numeric_limits<int64_t>::min()
               : d >= hi ? std::numeric_limits<int64_t>::max()
                         : int64_t(d);
      };
      const std::string wb = p_.AddInt(clamp(double(v.begin_us) - delta));
      const std::string we = p_.AddInt(clamp(double(v.end_us) + delta));
      return {b + " < " + we + " AND " + e + " > " + wb};
    }
  }
  return {"FALSE"};
}

// _lastUpdated is an instant: its range is [lu, lu + 1), which simplifies
// every prefix to a range on the one column.
std::string Compiler::PointDatePred(const std::string& col, const Clause::Value& v) {
  const std::string qb = p_.AddInt(v.begin_us);
  const std::string qe = p_.AddInt(v.end_us);
  switch (v.cmp) {
    case Cmp::kEq:
      return col + " >= " + qb + " AND " + col + " < " + qe;
    case Cmp::kNe:
      return col + " < " + qb + " OR " + col + " >= " + qe;
    case Cmp::kGt:
    case Cmp::kSa:
      return col + " >= " + qe;
    case Cmp::kLt:
    case Cmp::kEb:
      return col + " < " + qb;
    case Cmp::kGe:
      return col + " >= " + qb;
    case Cmp::kLe:
      return col + " < " + qe;
    case Cmp::kAp: {
      std::vector<std::string> b = DateBranches(col, "(" + col + " + 1)", v);
      return b.front();
    }
  }
  return "FALSE";
}

std::vector<std::string> Compiler::NumberBranches(const std::string& val, const std::string& lo_c,
                                                  const std::string& hi_c,
                                                  const Clause::Value& v) {
  const double q = (v.lo + v.hi) / 2;
  switch (v.cmp) {
    case Cmp::kEq: {
      const std::string lo = p_.AddReal(v.lo), hi = p_.AddReal(v.hi);
      return {val + " >= " + lo + " AND " + val + " <= " + hi + " AND " + lo_c + " >= " + lo +
              " AND " + hi_c + " <= " + hi};
    }
    case Cmp::kNe: {
      const std::string lo = p_.AddReal(v.lo), hi = p_.AddReal(v.hi);
      return {lo_c + " < " + lo, hi_c + " > " + hi};
    }
    case Cmp::kGt:
      return {val + " > " + p_.AddReal(q)};
    case Cmp::kLt:
      return {val + " < " + p_.AddReal(q)};
    case Cmp::kGe:
      return {val + " >= " + p_.AddReal(q)};
    case Cmp::kLe:
      return {val + " <= " + p_.AddReal(q)};
    case Cmp::kSa: {
      const std::string hi = p_.AddReal(v.hi);
      return {val + " >= " + hi + " AND " + lo_c + " >= " + hi};
    }
    case Cmp::kEb: {
      const std::string lo = p_.AddReal(v.lo);
      return {val + " <= " + lo + " AND " + hi_c + " <= " + lo};
    }
    case Cmp::kAp: {
      const double d = std::fabs(q) / 10;
      return {val + " >= " + p_.AddReal(std::min(v.lo, q - d)) + " AND " + val +
              " <= " + p_.AddReal(std::max(v.hi, q + d))};
    }
  }
  return {"FALSE"};
}

Result<std::vector<std::string>> Compiler::ValueBranches(const Clause& cl, Kind kind,
                                                         const Clause::Value& v) {
  switch (kind) {
    case Kind::kToken: {
      if (cl.op == Op::kTokenText) {
        if (v.code.empty()) return std::vector<std::string>{"t.text <> ''"};
        return std::vector<std::string>{"t.text <> '' AND t.text >= " + p_.AddText(v.code) +
                                        " AND t.text < " + p_.AddUpper(v.code)};
      }
      if (cl.op == Op::kTokenOfType) {
        if (v.code.empty() || v.text.empty()) {
          return BadClause(cl.param, ":of-type needs a type code and a value");
        }
        return std::vector<std::string>{"t.code = " + p_.AddText(v.code) +
                                        " AND t.system = " + p_.AddText(v.system) +
                                        " AND t.text = " + p_.AddText(v.text)};
      }
      const bool sys = v.system_given || !v.system.empty();
      if (!v.code.empty()) {
        std::string b = "t.code = " + p_.AddText(v.code);
        if (sys) b += " AND t.system = " + p_.AddText(v.system);
        return std::vector<std::string>{b};
      }
      if (sys) return std::vector<std::string>{"t.system = " + p_.AddText(v.system)};
      return BadClause(cl.param, "a token needs a code or a system");
    }
    case Kind::kString:
      if (cl.op == Op::kStringExact) {
        return std::vector<std::string>{"t.code = " + p_.AddText(v.code)};
      }
      if (cl.op == Op::kStringContains) {
        if (v.code.empty()) return std::vector<std::string>{"TRUE"};
        return std::vector<std::string>{"strpos(t.text, " + p_.AddText(v.code) + ") > 0"};
      }
      if (v.code.empty()) return std::vector<std::string>{"TRUE"};
      return std::vector<std::string>{"t.text >= " + p_.AddText(v.code) + " AND t.text < " +
                                      p_.AddUpper(v.code)};
    case Kind::kDate:
      return DateBranches("t.b", "t.e", v);
    case Kind::kNumber:
      if (!v.code.empty()) return std::vector<std::string>{};  // a unit never matches a number
      return NumberBranches("t.val", "t.lo", "t.hi", v);
    case Kind::kQuantity: {
      std::vector<std::string> out = NumberBranches("t.val", "t.lo", "t.hi", v);
      std::string unit;
      if (!v.code.empty()) {
        unit = "t.code = " + p_.AddText(v.code);
        if (v.system_given || !v.system.empty()) unit += " AND t.system = " + p_.AddText(v.system);
        unit += " AND ";
      } else if (!v.system.empty()) {
        unit = "t.system = " + p_.AddText(v.system) + " AND ";
      }
      for (std::string& b : out) b = unit + b;
      return out;
    }
    case Kind::kReference: {
      if (v.code.empty()) return BadClause(cl.param, "a reference needs a target");
      std::string type = v.system, id = v.code;
      if (v.code.find(':') != std::string::npos || v.code.find('/') != std::string::npos) {
        if (!SplitLocalReference(v.code, type, id)) {
          return std::vector<std::string>{"t.url <> '' AND t.url = " + p_.AddText(v.code)};
        }
        if (!v.system.empty() && v.system != type) return std::vector<std::string>{};
      }
      std::string b = "t.tid = " + p_.AddText(id);
      if (!type.empty()) b += " AND t.ttype = " + p_.AddText(type);
      return std::vector<std::string>{b};
    }
    case Kind::kUri:
      if (cl.op == Op::kUriBelow) {
        // The value itself or anything under it as a path ("/123" is not below "/12").
        std::string dir = v.code;
        if (dir.empty() || dir.back() != '/') dir += '/';
        std::vector<std::string> out = {"t.uri >= " + p_.AddText(dir) + " AND t.uri < " +
                                        p_.AddUpper(dir)};
        if (dir != v.code) out.push_back("t.uri = " + p_.AddText(v.code));
        return out;
      }
      if (cl.op == Op::kUriAbove) {
        // The stored uri is the value itself or a parent path of it.
        std::string in = "t.uri IN (" + p_.AddText(v.code);
        for (size_t i = v.code.size(); i-- > 1;) {
          if (v.code[i] == '/' && v.code[i - 1] != '/') {
            in += "," + p_.AddText(v.code.substr(0, i));
          }
        }
        return std::vector<std::string>{in + ")"};
      }
      return std::vector<std::string>{"t.uri = " + p_.AddText(v.code)};
    case Kind::kComposite:
    case Kind::kText:
      break;
  }
  return std::vector<std::string>{};
}

// One component's condition on slot `slot` of idx_composite (columns s, c,
// lo, hi, v, b, e with the slot number appended): token system/code, string
// folded text in c, reference type/id (or url) in s/c, uri in c, number and
// quantity ranges (quantity unit system/code in s/c), date ranges in b/e.
Result<std::string> Compiler::SlotCondition(const std::string& param, const Clause& comp,
                                            int slot) {
  if (comp.any_of.size() != 1) return BadClause(param, "a composite component takes one value");
  const Clause::Value& v = comp.any_of[0];
  const std::string n = std::to_string(slot);
  const std::string s = "t.s" + n, c = "t.c" + n;
  switch (comp.op) {
    case Op::kTokenEq: {
      const bool sys = v.system_given || !v.system.empty();
      if (!v.code.empty()) {
        std::string b = c + " = " + p_.AddText(v.code);
        if (sys) b += " AND " + s + " = " + p_.AddText(v.system);
        return b;
      }
      if (sys) return s + " = " + p_.AddText(v.system);
      return BadClause(param, "a token component needs a code or a system");
    }
    case Op::kStringPrefix:
      return c + " >= " + p_.AddText(v.code) + " AND " + c + " < " + p_.AddUpper(v.code);
    case Op::kStringExact:
      return c + " = " + p_.AddText(v.code);
    case Op::kStringContains:
      return "strpos(" + c + ", " + p_.AddText(v.code) + ") > 0";
    case Op::kDateRange:
      return "(" + JoinOr(DateBranches("t.b" + n, "t.e" + n, v)) + ")";
    case Op::kNumberRange: {
      std::string unit;
      if (!v.code.empty()) {
        unit = c + " = " + p_.AddText(v.code) + " AND ";
        if (v.system_given || !v.system.empty()) unit += s + " = " + p_.AddText(v.system) + " AND ";
      } else if (!v.system.empty()) {
        unit = s + " = " + p_.AddText(v.system) + " AND ";
      }
      return unit + "(" + JoinOr(NumberBranches("t.v" + n, "t.lo" + n, "t.hi" + n, v)) + ")";
    }
    case Op::kReference: {
      if (v.code.empty()) return BadClause(param, "a reference component needs a target");
      std::string type = v.system, id = v.code;
      if (v.code.find(':') != std::string::npos || v.code.find('/') != std::string::npos) {
        if (!SplitLocalReference(v.code, type, id)) return c + " = " + p_.AddText(v.code);
        if (!v.system.empty() && v.system != type) return std::string("FALSE");
      }
      std::string b = c + " = " + p_.AddText(id);
      if (!type.empty()) b += " AND " + s + " = " + p_.AddText(type);
      return b;
    }
    case Op::kUriEq:
      return c + " = " + p_.AddText(v.code);
    default:
      return BadClause(param, "unsupported composite component");
  }
}

std::string Compiler::TypeFilter(const Scope& s) {
  if (s.types.empty()) return "";
  if (s.types.size() == 1) return s.alias + ".type = " + p_.AddText(s.types[0]);
  std::string f = s.alias + ".type IN (";
  for (size_t i = 0; i < s.types.size(); ++i) f += (i ? "," : "") + p_.AddText(s.types[i]);
  return f + ")";
}

Result<CompiledClause> Compiler::CompileChain(const Clause& cl, const Scope& s) {
  CompiledClause out;
  if (!cl.sub) return BadClause(cl.param, "a chain needs a nested query");
  Scope sub = SubScope(*cl.sub, s);
  if (sub.depth > kMaxNesting) return BadClause(cl.param, "chains nest too deeply");
  GM_ASSIGN_OR_RETURN(std::string pid, PidCond(cl.param, Kind::kReference, s.types));
  if (pid.empty()) {
    out.never = true;
    return out;
  }
  GM_ASSIGN_OR_RETURN(Filter f, CompileFilter(*cl.sub, sub));
  if (f.never) {
    out.never = true;
    return out;
  }
  const std::string& a = sub.alias;
  Source probe = SourceOf(f, sub, false);
  out.pred = "EXISTS (SELECT 1 FROM idx_reference AS t CROSS JOIN resource AS " + a +
             " WHERE t.rid = " + s.alias + ".rid AND " + pid + " AND " + a + ".type = t.ttype AND " +
             a + ".id = t.tid";
  for (const std::string& w : probe.where) out.pred += " AND " + w;
  out.pred += ")";
  if (f.priority < kNoDriver) {
    Source src = SourceOf(f, sub, true);
    GM_ASSIGN_OR_RETURN(std::string pid2, PidCond(cl.param, Kind::kReference, s.types));
    const std::string sa = "s" + a.substr(1);
    out.driver = "SELECT DISTINCT t.rid AS rid FROM (SELECT " + a + ".type AS type, " + a +
                 ".id AS id FROM " + src.from + " WHERE " + JoinAnd(src.where) + ") AS " + sa +
                 " CROSS JOIN idx_reference AS t WHERE t.tid = " + sa + ".id AND t.ttype = " + sa +
                 ".type AND " + pid2;
    out.priority = f.priority;
  }
  return out;
}

Result<CompiledClause> Compiler::CompileHas(const Clause& cl, const Scope& s) {
  CompiledClause out;
  if (!cl.sub) return BadClause(cl.param, "_has needs a nested query");
  Scope sub = SubScope(*cl.sub, s);
  if (sub.depth > kMaxNesting) return BadClause(cl.param, "_has nests too deeply");
  GM_ASSIGN_OR_RETURN(std::string pid, PidCond(cl.param, Kind::kReference, sub.types));
  if (pid.empty()) {
    out.never = true;
    return out;
  }
  GM_ASSIGN_OR_RETURN(Filter f, CompileFilter(*cl.sub, sub));
  if (f.never) {
    out.never = true;
    return out;
  }
  const std::string& a = sub.alias;
  Source probe = SourceOf(f, sub, false);
  out.pred = "EXISTS (SELECT 1 FROM idx_reference AS t CROSS JOIN resource AS " + a +
             " WHERE t.tid = " + s.alias + ".id AND t.ttype = " + s.alias + ".type AND " + pid +
             " AND " + a + ".rid = t.rid";
  for (const std::string& w : probe.where) out.pred += " AND " + w;
  out.pred += ")";
  if (f.priority < kNoDriver) {
    Source src = SourceOf(f, sub, true);
    GM_ASSIGN_OR_RETURN(std::string pid2, PidCond(cl.param, Kind::kReference, sub.types));
    const std::string sa = "s" + a.substr(1), xa = "x" + a.substr(1);
    out.driver = "SELECT DISTINCT " + xa + ".rid AS rid FROM (SELECT " + a + ".rid AS rid FROM " +
                 src.from + " WHERE " + JoinAnd(src.where) + ") AS " + sa +
                 " CROSS JOIN idx_reference AS t CROSS JOIN resource AS " + xa + " WHERE t.rid = " +
                 sa + ".rid AND " + pid2 + " AND " + xa + ".type = t.ttype AND " + xa +
                 ".id = t.tid";
    out.priority = f.priority;
  }
  return out;
}

Result<CompiledClause> Compiler::CompileComposite(const Clause& cl, const Scope& s) {
  CompiledClause out;
  if (cl.any_of.empty()) return BadClause(cl.param, "no value");
  GM_ASSIGN_OR_RETURN(std::string pid, PidCond(cl.param, Kind::kComposite, s.types));
  if (pid.empty()) {
    out.never = true;
    return out;
  }
  Part part{"idx_composite", pid, {}};
  bool keyed = true;
  for (const Clause::Value& v : cl.any_of) {
    if (v.components.empty() || v.components.size() > kMaxCompositeComponents) {
      return BadClause(cl.param, "a composite value needs one value per component");
    }
    std::vector<std::string> conds;
    for (size_t i = 0; i < v.components.size(); ++i) {
      GM_ASSIGN_OR_RETURN(std::string cond, SlotCondition(cl.param, v.components[i], int(i + 1)));
      conds.push_back(std::move(cond));
    }
    const Clause& first = v.components[0];
    if (first.op != Op::kTokenEq || first.any_of.empty() || first.any_of[0].code.empty()) {
      keyed = false;
    }
    part.branches.push_back(JoinAnd(conds));
  }
  out.pred = ExistsPred(part, false, s.alias);
  out.driver = DriverSql({part});
  out.priority = keyed ? 3 : 7;
  return out;
}

Result<CompiledClause> Compiler::CompileText(const Clause& cl, const Scope& s) {
  CompiledClause out;
  if (cl.param != "_text" && cl.param != "_content") {
    return BadClause(cl.param, "full text is indexed for _text and _content only");
  }
  std::optional<std::string> match = TsQuery(cl.any_of);
  if (!match) return BadClause(cl.param, "no words to search for");
  const std::string col = cl.param == "_text" ? "ft.narrative" : "ft.content";
  out.driver = "SELECT ft.rid AS rid FROM idx_text AS ft WHERE " + col + " @@ " +
               p_.Add(KeyValue(*match)) + "::tsquery";
  out.pred = "EXISTS (SELECT 1 FROM idx_text AS ft WHERE ft.rid = " + s.alias + ".rid AND " +
             col + " @@ " + p_.Add(KeyValue(*match)) + "::tsquery)";
  out.priority = 4;
  return out;
}

Result<CompiledClause> Compiler::CompileClause(const Clause& cl, const Scope& s) {
  CompiledClause out;
  const std::string& a = s.alias;
  switch (cl.op) {
    case Op::kId: {
      if (cl.any_of.empty()) return BadClause("_id", "no value");
      out.resource_level = true;
      out.priority = 0;
      out.pred = a + ".id IN (";
      for (size_t i = 0; i < cl.any_of.size(); ++i) {
        out.pred += (i ? "," : "") + p_.AddText(cl.any_of[i].code);
      }
      out.pred += ")";
      return out;
    }
    case Op::kLastUpdated: {
      if (cl.any_of.empty()) return BadClause("_lastUpdated", "no value");
      out.resource_level = true;
      out.priority = 8;
      std::vector<std::string> terms;
      for (const Clause::Value& v : cl.any_of) {
        terms.push_back(PointDatePred(a + ".last_updated_us", v));
      }
      out.pred = "(" + JoinOr(terms) + ")";
      return out;
    }
    case Op::kCompartment: {
      if (cl.any_of.empty()) return BadClause("_compartment", "no patient");
      Part part{"compartment", "", {}};
      for (const Clause::Value& v : cl.any_of) {
        part.branches.push_back("t.patient = " + p_.AddText(v.code));
      }
      out.priority = 2;
      out.pred = ExistsPred(part, false, a);
      out.driver = DriverSql({part});
      return out;
    }
    case Op::kMissing: {
      GM_ASSIGN_OR_RETURN(std::vector<ParamPid> pids, Pids(cl.param, s.types));
      std::vector<Kind> kinds;
      for (const ParamPid& pp : pids) {
        if (std::find(kinds.begin(), kinds.end(), pp.kind) == kinds.end()) kinds.push_back(pp.kind);
      }
      kinds.erase(std::remove(kinds.begin(), kinds.end(), Kind::kText), kinds.end());
      if (kinds.empty()) {
        (cl.bool_value ? out.always : out.never) = true;
        return out;
      }
      std::vector<std::string> exists;
      for (Kind k : kinds) {
        GM_ASSIGN_OR_RETURN(std::string cond, PidCond(cl.param, k, s.types));
        exists.push_back(ExistsPred(Part{TableOf(k), cond, {}}, false, a));
      }
      out.pred = (cl.bool_value ? "NOT (" : "(") + JoinOr(exists) + ")";
      return out;
    }
    case Op::kChain:
      return CompileChain(cl, s);
    case Op::kHas:
      return CompileHas(cl, s);
    case Op::kComposite:
      return CompileComposite(cl, s);
    case Op::kText:
      return CompileText(cl, s);
    default:
      break;
  }

  if (cl.any_of.empty()) return BadClause(cl.param, "no value");
  std::vector<Kind> kinds;
  switch (cl.op) {
    case Op::kTokenEq:
    case Op::kTokenNot:
    case Op::kTokenText:
    case Op::kTokenOfType:
      kinds = {Kind::kToken};
      break;
    case Op::kStringPrefix:
    case Op::kStringExact:
    case Op::kStringContains:
      kinds = {Kind::kString};
      break;
    case Op::kDateRange:
      kinds = {Kind::kDate};
      break;
    case Op::kNumberRange:
      kinds = {Kind::kNumber, Kind::kQuantity};
      break;
    case Op::kReference:
      kinds = {Kind::kReference};
      break;
    default:
      kinds = {Kind::kUri};
      break;
  }
  std::vector<Part> parts;
  for (Kind k : kinds) {
    GM_ASSIGN_OR_RETURN(std::string cond, PidCond(cl.param, k, s.types));
    if (cond.empty()) continue;
    Part part{TableOf(k), cond, {}};
    for (const Clause::Value& v : cl.any_of) {
      GM_ASSIGN_OR_RETURN(std::vector<std::string> b, ValueBranches(cl, k, v));
      part.branches.insert(part.branches.end(), b.begin(), b.end());
    }
    if (!part.branches.empty()) parts.push_back(std::move(part));
  }
  if (cl.op == Op::kTokenNot) {
    if (parts.empty()) {
      out.always = true;
    } else {
      out.pred = ExistsPred(parts[0], true, a);
    }
    return out;
  }
  if (parts.empty()) {
    out.never = true;
    return out;
  }
  std::vector<std::string> exists;
  for (const Part& part : parts) exists.push_back(ExistsPred(part, false, a));
  out.pred = "(" + JoinOr(exists) + ")";
  out.driver = DriverSql(parts);

  auto all_eq = [&] {
    return std::all_of(cl.any_of.begin(), cl.any_of.end(),
                       [](const Clause::Value& v) { return v.cmp == Cmp::kEq; });
  };
  auto all_codes = [&] {
    return std::all_of(cl.any_of.begin(), cl.any_of.end(),
                       [](const Clause::Value& v) { return !v.code.empty(); });
  };
  switch (cl.op) {
    case Op::kReference:
      out.priority = 1;
      break;
    case Op::kTokenEq:
      out.priority = all_codes() ? 3 : 6;
      break;
    case Op::kUriEq:
    case Op::kStringExact:
    case Op::kTokenOfType:
      out.priority = 3;
      break;
    case Op::kStringPrefix:
    case Op::kTokenText:
      out.priority = all_codes() ? 5 : 9;
      break;
    case Op::kUriBelow:
    case Op::kUriAbove:
      out.priority = 5;
      break;
    case Op::kDateRange:
      out.priority = all_eq() ? 6 : 7;
      break;
    case Op::kNumberRange:
      out.priority = 7;
      break;
    default:
      out.priority = 9;
      break;
  }
  return out;
}

Result<Filter> Compiler::CompileFilter(const Query& q, const Scope& s) {
  Filter f;
  for (const Clause& cl : q.clauses) {
    GM_ASSIGN_OR_RETURN(CompiledClause cc, CompileClause(cl, s));
    if (cc.never) {
      f.never = true;
      return f;
    }
    if (!cc.always) f.clauses.push_back(std::move(cc));
  }
  for (size_t i = 0; i < f.clauses.size(); ++i) {
    const CompiledClause& cc = f.clauses[i];
    if (cc.driver.empty() && !cc.resource_level) continue;
    if (cc.priority < f.priority) {
      f.priority = cc.priority;
      f.driver = i;
    }
  }
  return f;
}

Compiler::Source Compiler::SourceOf(const Filter& f, const Scope& s, bool use_driver) {
  Source src;
  const std::string& a = s.alias;
  const bool indexed = use_driver && f.driver != std::string::npos &&
                       !f.clauses[f.driver].resource_level;
  if (indexed) {
    const std::string d = "d" + a.substr(1);
    src.from = "(" + f.clauses[f.driver].driver + ") AS " + d + " CROSS JOIN resource AS " + a;
    src.where.push_back(a + ".rid = " + d + ".rid");
  } else {
    src.from = "resource AS " + a;
  }
  src.where.push_back(a + ".deleted = 0");
  std::string tf = TypeFilter(s);
  if (!tf.empty()) src.where.push_back(tf);
  for (size_t i = 0; i < f.clauses.size(); ++i) {
    if (indexed && i == f.driver) continue;
    src.where.push_back(f.clauses[i].pred);
  }
  return src;
}

Status Compiler::AddSortKeys(const Query& q, const Scope& s) {
  for (const SortKey& sk : q.sort) {
    if (sk.param == "_lastUpdated") {
      keys_.push_back({"r.last_updated_us", sk.descending, false});
      continue;
    }
    if (sk.param == "_id") {
      keys_.push_back({"r.id", sk.descending, false});
      continue;
    }
    std::vector<std::string> subqueries;
    std::vector<char> sql_types;  // 't' text, 'i' bigint, 'r' double precision
    for (Kind k : {Kind::kToken, Kind::kString, Kind::kDate, Kind::kNumber, Kind::kQuantity,
                   Kind::kReference, Kind::kUri}) {
      GM_ASSIGN_OR_RETURN(std::string cond, PidCond(sk.param, k, s.types));
      if (cond.empty()) continue;
      std::string col;
      switch (k) {
        case Kind::kToken:
          col = "t.code";
          break;
        case Kind::kString:
          col = "t.text";
          break;
        case Kind::kDate:
          col = sk.descending ? "t.e" : "t.b";
          break;
        case Kind::kNumber:
        case Kind::kQuantity:
          col = "t.val";
          break;
        case Kind::kReference:
          col = "CASE WHEN t.tid <> '' THEN t.ttype || '/' || t.tid ELSE t.url END";
          break;
        default:
          col = "t.uri";
          break;
      }
      subqueries.push_back(std::string("(SELECT ") + (sk.descending ? "MAX(" : "MIN(") + col +
                           ") FROM " + TableOf(k) + " AS t WHERE t.rid = r.rid AND " + cond + ")");
      sql_types.push_back(k == Kind::kDate                                    ? 'i'
                          : k == Kind::kNumber || k == Kind::kQuantity ? 'r'
                                                                       : 't');
    }
    // PostgreSQL's COALESCE needs one type: mixed kinds compare as text.
    if (std::adjacent_find(sql_types.begin(), sql_types.end(), std::not_equal_to<>()) !=
        sql_types.end()) {
      for (std::string& sub : subqueries) sub += "::text";
    }
    std::string expr;
    if (subqueries.empty()) {
      expr = "NULL::text";
    } else if (subqueries.size() == 1) {
      expr = subqueries[0];
    } else {
      expr = "COALESCE(";
      for (size_t i = 0; i < subqueries.size(); ++i) expr += (i ? ", " : "") + subqueries[i];
      expr += ")";
    }
    keys_.push_back({expr, sk.descending, true});
  }
  if (q.sort.empty() && s.types.size() == 1) keys_.push_back({"r.last_updated_us", false, false});
  return Status::Ok();
}

Result<CompiledQuery> Compiler::Page(const Query& q, size_t limit) {
  CompiledQuery out;
  const Scope scope = TopScope(q);
  GM_ASSIGN_OR_RETURN(Filter f, CompileFilter(q, scope));
  if (f.never) {
    out.never_matches = true;
    return out;
  }
  GM_RETURN_IF_ERROR(AddSortKeys(q, scope));
  out.key_count = keys_.size();
  out.backward = q.direction == PageDirection::kBackward;

  std::optional<std::vector<KeyValue>> after;
  if (!q.after.empty()) {
    GM_ASSIGN_OR_RETURN(std::vector<KeyValue> v, DecodeCursor(kCursorTag, q.after, keys_.size() + 1));
    after = std::move(v);
  } else if (out.backward) {
    return InvalidCursorError();
  }

  Source src = SourceOf(f, scope, true);
  std::string sql = "SELECT r.rid, r.type, r.id, r.version, r.last_updated_us";
  for (const Key& k : keys_) sql += ", " + k.expr;
  sql += " FROM " + src.from;
  std::vector<std::string>& where = src.where;

  // Ordering: the sort keys (nullable ones with missing values last), then rid
  // in the direction of the first key. A backward page walks the same order
  // in reverse.
  struct Term {
    std::string expr;
    bool desc;
  };
  std::vector<Term> terms;
  for (const Key& k : keys_) {
    if (k.nullable) terms.push_back({"(" + k.expr + " IS NULL)::int", false});
    terms.push_back({k.expr, k.desc});
  }
  const bool tie_desc = !keys_.empty() && keys_[0].desc;
  terms.push_back({"r.rid", tie_desc});
  if (out.backward) {
    for (Term& t : terms) t.desc = !t.desc;
  }

  if (after) {
    std::vector<KeyValue> cv;
    for (size_t i = 0; i < keys_.size(); ++i) {
      const KeyValue& v = (*after)[i];
      if (keys_[i].nullable) {
        cv.emplace_back(int64_t(std::holds_alternative<std::monostate>(v) ? 1 : 0));
      }
      cv.push_back(v);
    }
    cv.push_back(after->back());
    if (!std::holds_alternative<int64_t>(cv.back())) return InvalidCursorError();
    // One row-value comparison when every term runs the same way and no key
    // can be NULL; otherwise the expanded lexicographic OR.
    bool uniform = true;
    for (const Key& k : keys_) {
      if (k.nullable) uniform = false;
    }
    for (const Term& t : terms) {
      if (t.desc != terms.back().desc) uniform = false;
    }
    if (uniform) {
      std::string lhs, rhs;
      for (size_t i = 0; i < terms.size(); ++i) {
        lhs += (i ? ", " : "") + terms[i].expr;
        rhs += (i ? ", " : "") + p_.Add(cv[i]);
      }
      where.push_back("(" + lhs + ") " + (terms.back().desc ? "<" : ">") + " (" + rhs + ")");
    } else {
      std::vector<std::string> ors;
      std::vector<std::string> placeholders;
      for (size_t i = 0; i < terms.size(); ++i) placeholders.push_back(p_.Add(cv[i]));
      for (size_t i = 0; i < terms.size(); ++i) {
        if (std::holds_alternative<std::monostate>(cv[i])) continue;
        std::string conj;
        for (size_t j = 0; j < i; ++j) conj += terms[j].expr + " IS NOT DISTINCT FROM " + placeholders[j] + " AND ";
        conj += terms[i].expr + (terms[i].desc ? " < " : " > ") + placeholders[i];
        ors.push_back(conj);
      }
      where.push_back("(" + JoinOr(ors) + ")");
    }
  }

  sql += " WHERE ";
  for (size_t i = 0; i < where.size(); ++i) sql += (i ? " AND " : "") + where[i];
  sql += " ORDER BY ";
  for (size_t i = 0; i < terms.size(); ++i) {
    sql += (i ? ", " : "") + terms[i].expr + (terms[i].desc ? " DESC" : " ASC");
  }
  sql += " LIMIT " + p_.AddInt(int64_t(std::min<size_t>(limit, size_t(INT64_MAX))));
  out.sql = std::move(sql);
  out.params = std::move(p_.values());
  return out;
}

Result<CompiledQuery> Compiler::Count(const Query& q, int64_t at_most) {
  CompiledQuery out;
  const Scope scope = TopScope(q);
  GM_ASSIGN_OR_RETURN(Filter f, CompileFilter(q, scope));
  if (f.never) {
    out.never_matches = true;
    return out;
  }
  Source src = SourceOf(f, scope, true);
  out.sql = "SELECT count(*) FROM (SELECT 1 FROM " + src.from + " WHERE " + JoinAnd(src.where) +
            " LIMIT " + p_.AddInt(std::max<int64_t>(at_most, 0)) + ") AS c";
  out.params = std::move(p_.values());
  return out;
}

}  // namespace

Result<CompiledQuery> CompileQuery(PgConnection& c, const Query& query, size_t limit,
                                   int64_t now_us) {
  Compiler compiler(c, now_us);
  return compiler.Page(query, limit);
}

Result<CompiledQuery> CompileCount(PgConnection& c, const Query& query, int64_t at_most,
                                   int64_t now_us) {
  Compiler compiler(c, now_us);
  return compiler.Count(query, at_most);
}

std::string CursorAfterRow(const CompiledQuery& q, const PgResult& res, int row) {
  std::vector<KeyValue> values;
  for (size_t i = 0; i < q.key_count; ++i) values.push_back(res.Value(row, int(kColFirstKey + i)));
  values.emplace_back(res.Int(row, kColRid));
  return EncodeCursor(kCursorTag, values);
}

}  // namespace gm::store::postgres
