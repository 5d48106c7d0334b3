#include "store/sqlite/query.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <utility>

namespace gm::store::sqlite {
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
  }
  return "idx_token";
}

// Bound parameters, numbered in order of addition.
class Params {
 public:
  std::string Add(KeyValue v) {
    values_.push_back(std::move(v));
    return "?" + std::to_string(values_.size());
  }
  std::string AddText(std::string s) { return Add(KeyValue(std::move(s))); }
  std::string AddInt(int64_t i) { return Add(KeyValue(i)); }
  std::string AddReal(double d) { return Add(KeyValue(d)); }
  std::vector<KeyValue>& values() { return values_; }

 private:
  std::vector<KeyValue> values_;
};

// Upper bound (exclusive) of all strings starting with `prefix`: 0xFF never
// occurs in UTF-8, and SQLite compares text bytewise.
std::string PrefixEnd(const std::string& prefix) { return prefix + "\xFF"; }

std::string JoinOr(const std::vector<std::string>& terms) {
  if (terms.empty()) return "0";
  if (terms.size() == 1) return terms[0];
  std::string s;
  for (const std::string& t : terms) s += (s.empty() ? "(" : " OR (") + t + ")";
  return s;
}

// One index table restricted to some pids, with alternative conditions on alias t.
struct Part {
  std::string table;
  std::string pid_cond;  // e.g. "t.pid IN (?1,?2)"; empty for the compartment table
  std::vector<std::string> branches;
};

// A clause compiled to SQL.
struct CompiledClause {
  bool never = false;   // cannot match
  bool always = false;  // imposes nothing
  int priority = kNoDriver;
  bool resource_level = false;  // pred is on r's own columns (usable as driver via its index)
  std::vector<Part> parts;      // index-driven clauses
  std::string pred;             // boolean expression over alias r
};

struct ParamPid {
  int64_t pid;
  std::string type;
  Kind kind;
};

class Compiler {
 public:
  Compiler(Connection& c, const Query& q, int64_t now_us) : c_(c), q_(q), now_us_(now_us) {
    if (!q.type.empty()) {
      types_.push_back(q.type);
    } else {
      types_ = q.types;
      std::sort(types_.begin(), types_.end());
      types_.erase(std::unique(types_.begin(), types_.end()), types_.end());
    }
  }

  Result<CompiledQuery> Compile(size_t limit);

 private:
  Result<std::vector<ParamPid>> Pids(const std::string& param);
  // "t.pid IN (...)" over the pids of `param` with one of `kinds`; nullopt if none.
  Result<std::optional<std::pair<Kind, std::string>>> PidCond(const std::string& param, Kind kind);
  Result<CompiledClause> CompileClause(const Clause& cl);
  Result<std::vector<std::string>> ValueBranches(const Clause& cl, Kind kind,
                                                 const Clause::Value& v);
  std::vector<std::string> DateBranches(const std::string& b, const std::string& e,
                                        const Clause::Value& v);
  std::string PointDatePred(const std::string& col, const Clause::Value& v);
  std::vector<std::string> NumberBranches(const Clause::Value& v);
  std::string TypeFilter();
  Status AddSortKeys();

  struct Key {
    std::string expr;
    bool desc = false;
    bool nullable = false;
  };

  Connection& c_;
  const Query& q_;
  int64_t now_us_;
  std::vector<std::string> types_;
  Params p_;
  std::map<std::string, std::vector<ParamPid>> pid_cache_;
  std::vector<Key> keys_;
};

Result<std::vector<ParamPid>> Compiler::Pids(const std::string& param) {
  auto it = pid_cache_.find(param);
  if (it != pid_cache_.end()) return it->second;
  GM_ASSIGN_OR_RETURN(Statement st,
                      c_.Prepare("SELECT pid, type, kind FROM search_param WHERE param = ?1"));
  st.Bind(1, std::string_view(param));
  std::vector<ParamPid> out;
  for (;;) {
    GM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    std::string type = st.Text(1);
    if (!types_.empty() && !std::binary_search(types_.begin(), types_.end(), type)) continue;
    out.push_back({st.Int(0), std::move(type), Kind(st.Int(2))});
  }
  pid_cache_[param] = out;
  return out;
}

Result<std::optional<std::pair<Kind, std::string>>> Compiler::PidCond(const std::string& param,
                                                                      Kind kind) {
  GM_ASSIGN_OR_RETURN(std::vector<ParamPid> pids, Pids(param));
  std::vector<std::string> placeholders;
  for (const ParamPid& pp : pids) {
    if (pp.kind == kind) placeholders.push_back(p_.AddInt(pp.pid));
  }
  if (placeholders.empty()) return std::optional<std::pair<Kind, std::string>>();
  std::string cond;
  if (placeholders.size() == 1) {
    cond = "t.pid = " + placeholders[0];
  } else {
    cond = "t.pid IN (";
    for (size_t i = 0; i < placeholders.size(); ++i) {
      cond += (i ? "," : "") + placeholders[i];
    }
    cond += ")";
  }
  return std::optional<std::pair<Kind, std::string>>(std::make_pair(kind, cond));
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
  return {"0"};
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
  return "0";
}

std::vector<std::string> Compiler::NumberBranches(const Clause::Value& v) {
  const double q = (v.lo + v.hi) / 2;
  switch (v.cmp) {
    case Cmp::kEq: {
      const std::string lo = p_.AddReal(v.lo), hi = p_.AddReal(v.hi);
      return {"t.val >= " + lo + " AND t.val <= " + hi + " AND t.lo >= " + lo +
              " AND t.hi <= " + hi};
    }
    case Cmp::kNe: {
      const std::string lo = p_.AddReal(v.lo), hi = p_.AddReal(v.hi);
      return {"t.lo < " + lo, "t.hi > " + hi};
    }
    case Cmp::kGt:
      return {"t.val > " + p_.AddReal(q)};
    case Cmp::kLt:
      return {"t.val < " + p_.AddReal(q)};
    case Cmp::kGe:
      return {"t.val >= " + p_.AddReal(q)};
    case Cmp::kLe:
      return {"t.val <= " + p_.AddReal(q)};
    case Cmp::kSa: {
      const std::string hi = p_.AddReal(v.hi);
      return {"t.val >= " + hi + " AND t.lo >= " + hi};
    }
    case Cmp::kEb: {
      const std::string lo = p_.AddReal(v.lo);
      return {"t.val <= " + lo + " AND t.hi <= " + lo};
    }
    case Cmp::kAp: {
      const double d = std::fabs(q) / 10;
      return {"t.val >= " + p_.AddReal(std::min(v.lo, q - d)) +
              " AND t.val <= " + p_.AddReal(std::max(v.hi, q + d))};
    }
  }
  return {"0"};
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

Result<std::vector<std::string>> Compiler::ValueBranches(const Clause& cl, Kind kind,
                                                         const Clause::Value& v) {
  switch (kind) {
    case Kind::kToken: {
      if (cl.op == Op::kTokenText) {
        if (v.code.empty()) return std::vector<std::string>{"t.text <> ''"};
        return std::vector<std::string>{"t.text <> '' AND t.text >= " + p_.AddText(v.code) +
                                        " AND t.text < " + p_.AddText(PrefixEnd(v.code))};
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
        if (v.code.empty()) return std::vector<std::string>{"1"};
        return std::vector<std::string>{"instr(t.text, " + p_.AddText(v.code) + ") > 0"};
      }
      if (v.code.empty()) return std::vector<std::string>{"1"};
      return std::vector<std::string>{"t.text >= " + p_.AddText(v.code) + " AND t.text < " +
                                      p_.AddText(PrefixEnd(v.code))};
    case Kind::kDate:
      return DateBranches("t.b", "t.e", v);
    case Kind::kNumber:
      if (!v.code.empty()) return std::vector<std::string>{};  // a unit never matches a number
      return NumberBranches(v);
    case Kind::kQuantity: {
      std::vector<std::string> out = NumberBranches(v);
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
                                        p_.AddText(PrefixEnd(dir))};
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
  }
  return std::vector<std::string>{};
}

std::string Compiler::TypeFilter() {
  if (types_.empty()) return "";
  if (types_.size() == 1) return "r.type = " + p_.AddText(types_[0]);
  std::string s = "r.type IN (";
  for (size_t i = 0; i < types_.size(); ++i) s += (i ? "," : "") + p_.AddText(types_[i]);
  return s + ")";
}

std::string ExistsPred(const Part& part, bool negate) {
  std::string s = negate ? "NOT EXISTS (SELECT 1 FROM " : "EXISTS (SELECT 1 FROM ";
  s += part.table + " AS t WHERE t.rid = r.rid";
  if (!part.pid_cond.empty()) s += " AND " + part.pid_cond;
  if (!part.branches.empty()) s += " AND (" + JoinOr(part.branches) + ")";
  return s + ")";
}

Result<CompiledClause> Compiler::CompileClause(const Clause& cl) {
  CompiledClause out;
  switch (cl.op) {
    case Op::kId: {
      if (cl.any_of.empty()) return BadClause("_id", "no value");
      out.resource_level = true;
      out.priority = 0;
      out.pred = "r.id IN (";
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
      for (const Clause::Value& v : cl.any_of)
        terms.push_back(PointDatePred("r.last_updated_us", v));
      out.pred = "(" + JoinOr(terms) + ")";
      return out;
    }
    case Op::kCompartment: {
      if (cl.any_of.empty()) return BadClause("_compartment", "no patient");
      Part part{"compartment", "", {}};
      for (const Clause::Value& v : cl.any_of)
        part.branches.push_back("t.patient = " + p_.AddText(v.code));
      out.priority = 2;
      out.pred = ExistsPred(part, false);
      out.parts.push_back(std::move(part));
      return out;
    }
    case Op::kMissing: {
      GM_ASSIGN_OR_RETURN(std::vector<ParamPid> pids, Pids(cl.param));
      std::vector<Kind> kinds;
      for (const ParamPid& pp : pids) {
        if (std::find(kinds.begin(), kinds.end(), pp.kind) == kinds.end()) kinds.push_back(pp.kind);
      }
      if (kinds.empty()) {
        (cl.bool_value ? out.always : out.never) = true;
        return out;
      }
      std::vector<std::string> exists;
      for (Kind k : kinds) {
        GM_ASSIGN_OR_RETURN(auto cond, PidCond(cl.param, k));
        exists.push_back(ExistsPred(Part{TableOf(k), cond->second, {}}, false));
      }
      out.pred = (cl.bool_value ? "NOT (" : "(") + JoinOr(exists) + ")";
      return out;
    }
    default:
      break;
  }

  if (cl.any_of.empty()) return BadClause(cl.param, "no value");
  std::vector<Kind> kinds;
  switch (cl.op) {
    case Op::kTokenEq:
    case Op::kTokenNot:
    case Op::kTokenText:
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
  for (Kind k : kinds) {
    GM_ASSIGN_OR_RETURN(auto cond, PidCond(cl.param, k));
    if (!cond) continue;
    Part part{TableOf(k), cond->second, {}};
    for (const Clause::Value& v : cl.any_of) {
      GM_ASSIGN_OR_RETURN(std::vector<std::string> b, ValueBranches(cl, k, v));
      part.branches.insert(part.branches.end(), b.begin(), b.end());
    }
    if (!part.branches.empty()) out.parts.push_back(std::move(part));
  }
  if (cl.op == Op::kTokenNot) {
    if (out.parts.empty()) {
      out.always = true;
    } else {
      out.pred = ExistsPred(out.parts[0], true);
      out.parts.clear();
    }
    return out;
  }
  if (out.parts.empty()) {
    out.never = true;
    return out;
  }
  std::vector<std::string> exists;
  for (const Part& part : out.parts) exists.push_back(ExistsPred(part, false));
  out.pred = "(" + JoinOr(exists) + ")";

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

std::string DriverSql(const std::vector<Part>& parts) {
  size_t n = 0;
  for (const Part& part : parts) n += part.branches.size();
  auto select = [](const Part& part, bool distinct, const std::string& cond) {
    std::string s = distinct ? "SELECT DISTINCT t.rid FROM " : "SELECT t.rid FROM ";
    s += part.table + " AS t WHERE ";
    if (!part.pid_cond.empty()) s += part.pid_cond + " AND ";
    return s + "(" + cond + ")";
  };
  if (n == 1) return select(parts[0], true, parts[0].branches[0]);
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

Status Compiler::AddSortKeys() {
  for (const SortKey& sk : q_.sort) {
    if (sk.param == "_lastUpdated") {
      keys_.push_back({"r.last_updated_us", sk.descending, false});
      continue;
    }
    if (sk.param == "_id") {
      keys_.push_back({"r.id", sk.descending, false});
      continue;
    }
    GM_ASSIGN_OR_RETURN(std::vector<ParamPid> pids, Pids(sk.param));
    std::vector<std::string> subqueries;
    for (Kind k : {Kind::kToken, Kind::kString, Kind::kDate, Kind::kNumber, Kind::kQuantity,
                   Kind::kReference, Kind::kUri}) {
      GM_ASSIGN_OR_RETURN(auto cond, PidCond(sk.param, k));
      if (!cond) continue;
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
        case Kind::kUri:
          col = "t.uri";
          break;
      }
      subqueries.push_back(std::string("(SELECT ") + (sk.descending ? "MAX(" : "MIN(") + col +
                           ") FROM " + TableOf(k) + " AS t WHERE t.rid = r.rid AND " +
                           cond->second + ")");
    }
    std::string expr;
    if (subqueries.empty()) {
      expr = "NULL";
    } else if (subqueries.size() == 1) {
      expr = subqueries[0];
    } else {
      expr = "COALESCE(";
      for (size_t i = 0; i < subqueries.size(); ++i) expr += (i ? ", " : "") + subqueries[i];
      expr += ")";
    }
    keys_.push_back({expr, sk.descending, true});
  }
  if (q_.sort.empty() && types_.size() == 1) keys_.push_back({"r.last_updated_us", false, false});
  return Status::Ok();
}

Result<CompiledQuery> Compiler::Compile(size_t limit) {
  CompiledQuery out;
  std::vector<CompiledClause> clauses;
  for (const Clause& cl : q_.clauses) {
    GM_ASSIGN_OR_RETURN(CompiledClause cc, CompileClause(cl));
    if (cc.never) {
      out.never_matches = true;
      return out;
    }
    if (!cc.always) clauses.push_back(std::move(cc));
  }
  GM_RETURN_IF_ERROR(AddSortKeys());
  out.key_count = keys_.size();

  std::optional<std::vector<KeyValue>> after;
  if (!q_.after.empty()) {
    GM_ASSIGN_OR_RETURN(std::vector<KeyValue> v,
                        DecodeCursor(kCursorTag, q_.after, keys_.size() + 1));
    after = std::move(v);
  }

  int best = kNoDriver;
  size_t driver = clauses.size();
  for (size_t i = 0; i < clauses.size(); ++i) {
    if (clauses[i].priority < best) {
      best = clauses[i].priority;
      driver = i;
    }
  }

  std::string sql = "SELECT r.rid, r.type, r.id, r.version, r.last_updated_us";
  for (const Key& k : keys_) sql += ", " + k.expr;
  std::vector<std::string> where;
  if (driver < clauses.size() && !clauses[driver].resource_level) {
    sql += " FROM (" + DriverSql(clauses[driver].parts) + ") AS d CROSS JOIN resource AS r";
    where.push_back("r.rid = d.rid");
  } else {
    sql += " FROM resource AS r";
  }
  where.push_back("r.deleted = 0");
  std::string tf = TypeFilter();
  if (!tf.empty()) where.push_back(tf);
  for (size_t i = 0; i < clauses.size(); ++i) {
    if (i == driver && !clauses[i].resource_level) continue;
    where.push_back(clauses[i].pred);
  }

  // Ordering: the sort keys (nullable ones with missing values last), then rid
  // in the direction of the first key.
  struct Term {
    std::string expr;
    bool desc;
  };
  std::vector<Term> terms;
  for (const Key& k : keys_) {
    if (k.nullable) terms.push_back({"(" + k.expr + " IS NULL)", false});
    terms.push_back({k.expr, k.desc});
  }
  const bool tie_desc = !keys_.empty() && keys_[0].desc;
  terms.push_back({"r.rid", tie_desc});

  if (after) {
    std::vector<KeyValue> cv;
    bool uniform = true;
    for (size_t i = 0; i < keys_.size(); ++i) {
      const KeyValue& v = (*after)[i];
      if (keys_[i].nullable) {
        cv.emplace_back(int64_t(std::holds_alternative<std::monostate>(v) ? 1 : 0));
        uniform = false;
      }
      if (keys_[i].desc != tie_desc) uniform = false;
      cv.push_back(v);
    }
    cv.push_back(after->back());
    if (!std::holds_alternative<int64_t>(cv.back())) {
      return InvalidCursorError();
    }
    if (uniform) {
      std::string lhs, rhs;
      for (size_t i = 0; i < terms.size(); ++i) {
        lhs += (i ? ", " : "") + terms[i].expr;
        rhs += (i ? ", " : "") + p_.Add(cv[i]);
      }
      where.push_back("(" + lhs + ") " + (tie_desc ? "<" : ">") + " (" + rhs + ")");
    } else {
      std::vector<std::string> ors;
      std::vector<std::string> placeholders;
      for (size_t i = 0; i < terms.size(); ++i) placeholders.push_back(p_.Add(cv[i]));
      for (size_t i = 0; i < terms.size(); ++i) {
        if (std::holds_alternative<std::monostate>(cv[i])) continue;
        std::string conj;
        for (size_t j = 0; j < i; ++j) conj += terms[j].expr + " IS " + placeholders[j] + " AND ";
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

}  // namespace

Result<CompiledQuery> CompileQuery(Connection& c, const Query& query, size_t limit,
                                   int64_t now_us) {
  Compiler compiler(c, query, now_us);
  return compiler.Compile(limit);
}

std::string CursorAfterRow(const CompiledQuery& q, const Statement& row) {
  std::vector<KeyValue> values;
  for (size_t i = 0; i < q.key_count; ++i) values.push_back(row.Value(int(kColFirstKey + i)));
  values.emplace_back(row.Int(kColRid));
  return EncodeCursor(kCursorTag, values);
}

void BindAll(const CompiledQuery& q, Statement& st) {
  for (size_t i = 0; i < q.params.size(); ++i) st.Bind(int(i + 1), q.params[i]);
}

}  // namespace gm::store::sqlite
