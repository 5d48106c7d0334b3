#include "search/query.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "core/time.h"
#include "search/fold.h"

namespace gm::search {

namespace {

using store::Clause;

Status Bad(std::string code, std::string text, std::string param = {}) {
  return Status::Error(ErrorCategory::kInvalid, std::move(code), "invalid", std::move(text),
                       std::move(param));
}

bool IsSupportedType(std::string_view t) {
  return t == "token" || t == "string" || t == "date" || t == "number" || t == "quantity" ||
         t == "reference" || t == "uri";
}

// Splits on unescaped commas; "\," "\|" "\$" "\\" unescape.
std::vector<std::string> SplitValues(std::string_view v) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\\' && i + 1 < v.size()) {
      out.back().push_back(v[++i]);
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

// Splits "system|code" on the first unescaped '|'.
bool SplitPipe(std::string_view v, std::string& left, std::string& right) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\') {
      ++i;
      continue;
    }
    if (v[i] == '|') {
      left = std::string(v.substr(0, i));
      right = std::string(v.substr(i + 1));
      return true;
    }
  }
  return false;
}

Clause::Cmp TakePrefix(std::string& v) {
  static const std::pair<const char*, Clause::Cmp> kPrefixes[] = {
      {"eq", Clause::Cmp::kEq}, {"ne", Clause::Cmp::kNe}, {"gt", Clause::Cmp::kGt},
      {"lt", Clause::Cmp::kLt}, {"ge", Clause::Cmp::kGe}, {"le", Clause::Cmp::kLe},
      {"sa", Clause::Cmp::kSa}, {"eb", Clause::Cmp::kEb}, {"ap", Clause::Cmp::kAp}};
  if (v.size() >= 2 && std::isalpha(static_cast<unsigned char>(v[0]))) {
    for (const auto& [p, cmp] : kPrefixes) {
      if (v.compare(0, 2, p) == 0) {
        v.erase(0, 2);
        return cmp;
      }
    }
  }
  return Clause::Cmp::kEq;
}

// A decimal's implicit range per the precision rule: "100" → [99.5, 100.5).
bool NumberRange(std::string_view text, double& lo, double& hi) {
  if (text.empty()) return false;
  char* end = nullptr;
  std::string s(text);
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  for (char c : s) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' ||
          c == 'e' || c == 'E')) {
      return false;
    }
  }
  int exponent = 0;
  size_t e = s.find_first_of("eE");
  std::string mantissa = s.substr(0, e);
  if (e != std::string::npos) exponent = std::atoi(s.c_str() + e + 1);
  size_t dot = mantissa.find('.');
  int decimals = dot == std::string::npos ? 0 : static_cast<int>(mantissa.size() - dot - 1);
  double half = 0.5 * std::pow(10.0, exponent - decimals);
  lo = v - half;
  hi = v + half;
  return true;
}

Status ParseToken(const std::string& param, const std::string& modifier,
                  const std::vector<std::string>& values, Clause& c) {
  c.op = modifier == "not" ? Clause::Op::kTokenNot
         : modifier == "text" ? Clause::Op::kTokenText
                              : Clause::Op::kTokenEq;
  if (!modifier.empty() && modifier != "not" && modifier != "text") {
    return Bad("GM-SEARCH-010", "modifier :" + modifier + " is not supported on token parameter '" +
                                    param + "'", param);
  }
  for (const std::string& v : values) {
    Clause::Value cv;
    if (c.op == Clause::Op::kTokenText) {
      cv.code = Fold(v);
    } else if (std::string sys, code; SplitPipe(v, sys, code)) {
      cv.system = sys;
      cv.system_given = true;
      cv.code = code;
      if (sys.empty() && code.empty()) {
        return Bad("GM-SEARCH-011", "empty token value for '" + param + "'", param);
      }
    } else {
      cv.code = v;
    }
    c.any_of.push_back(std::move(cv));
  }
  return Status::Ok();
}

}  // namespace

std::vector<const fhir::SearchParamDef*> SupportedParams(const fhir::Model& model,
                                                         std::string_view type) {
  std::vector<const fhir::SearchParamDef*> out;
  for (const fhir::SearchParamDef* p : model.SearchParams(type)) {
    if (IsSupportedType(p->type) && (!p->expression.empty() || p->code == "_id" ||
                                     p->code == "_lastUpdated")) {
      out.push_back(p);
    }
  }
  return out;
}

Result<ParsedSearch> ParseSearch(const fhir::Model& model, std::string_view type,
                                 const Params& params, const ParseOptions& options) {
  ParsedSearch out;
  out.query.type = std::string(type);
  out.query.limit = options.default_count;
  out.total = "none";
  auto ignore = [&](const std::string& name, const std::string& why) -> Status {
    if (options.strict) return Bad("GM-SEARCH-001", "parameter '" + name + "': " + why, name);
    out.ignored.push_back(name);
    return Status::Ok();
  };
  for (const auto& [raw_name, raw_value] : params) {
    const std::string& name = raw_name;
    if (name == "_format" || name == "_pretty" || name == "_summary" || name == "_elements") {
      continue;
    }
    if (name == "_count") {
      size_t n = 0;
      auto [p, ec] = std::from_chars(raw_value.data(), raw_value.data() + raw_value.size(), n);
      if (ec != std::errc() || p != raw_value.data() + raw_value.size()) {
        return Bad("GM-SEARCH-002", "_count must be a whole number", "_count");
      }
      out.query.limit = std::min(n, options.max_count);
      continue;
    }
    if (name == "_cursor") {
      out.query.after = raw_value;
      continue;
    }
    if (name == "_total") {
      if (raw_value != "none" && raw_value != "estimate" && raw_value != "accurate") {
        return Bad("GM-SEARCH-003", "_total must be none, estimate or accurate", "_total");
      }
      out.total = raw_value;
      continue;
    }
    if (name == "_sort") {
      for (const std::string& key : SplitValues(raw_value)) {
        if (key.empty()) continue;
        store::SortKey sk;
        sk.descending = key[0] == '-';
        sk.param = sk.descending ? key.substr(1) : key;
        if (sk.param != "_id" && sk.param != "_lastUpdated") {
          const fhir::SearchParamDef* def = model.SearchParam(type, sk.param);
          if (def == nullptr || !IsSupportedType(def->type)) {
            return Bad("GM-SEARCH-004", "cannot sort by '" + sk.param + "'", "_sort");
          }
        }
        out.query.sort.push_back(std::move(sk));
      }
      continue;
    }
    if (name == "_type") {
      for (const std::string& t : SplitValues(raw_value)) {
        if (!model.IsResourceType(t)) return Bad("GM-SEARCH-005", "unknown type in _type", "_type");
        out.query.types.push_back(t);
      }
      continue;
    }
    if (name.rfind("_include", 0) == 0 || name.rfind("_revinclude", 0) == 0) {
      Include inc;
      inc.reverse = name.rfind("_revinclude", 0) == 0;
      std::string mod = name.substr(inc.reverse ? 11 : 8);
      if (mod == ":iterate" || mod == ":recurse") {
        inc.iterate = true;
      } else if (!mod.empty()) {
        return Bad("GM-SEARCH-006", "unknown modifier on " + name, name);
      }
      if (raw_value == "*") {
        inc.source_type = "*";
        inc.param = "*";
      } else {
        size_t c1 = raw_value.find(':');
        if (c1 == std::string::npos) return Bad("GM-SEARCH-007", name + " must be Type:param", name);
        inc.source_type = raw_value.substr(0, c1);
        std::string rest = raw_value.substr(c1 + 1);
        size_t c2 = rest.find(':');
        inc.param = rest.substr(0, c2);
        if (c2 != std::string::npos) inc.target_type = rest.substr(c2 + 1);
        const fhir::SearchParamDef* def = model.SearchParam(inc.source_type, inc.param);
        if (!model.IsResourceType(inc.source_type) || def == nullptr || def->type != "reference") {
          return Bad("GM-SEARCH-008", name + " names no reference parameter", name);
        }
      }
      out.includes.push_back(std::move(inc));
      continue;
    }
    if (name == "_contained" || name == "_containedType" || name == "_query" || name == "_filter" ||
        name == "_list" || name == "_has" || name.rfind("_has:", 0) == 0) {
      GM_RETURN_IF_ERROR(ignore(name, "not supported"));
      continue;
    }

    size_t colon = name.find(':');
    std::string code = name.substr(0, colon);
    std::string modifier = colon == std::string::npos ? "" : name.substr(colon + 1);
    if (code.find('.') != std::string::npos) {
      GM_RETURN_IF_ERROR(ignore(name, "chained parameters are not supported yet"));
      continue;
    }
    Clause c;
    c.param = code;
    std::vector<std::string> values = SplitValues(raw_value);
    if (modifier == "missing") {
      if (raw_value != "true" && raw_value != "false") {
        return Bad("GM-SEARCH-012", ":missing takes true or false", name);
      }
      const fhir::SearchParamDef* def = type.empty() ? nullptr : model.SearchParam(type, code);
      if (def == nullptr) {
        GM_RETURN_IF_ERROR(ignore(name, "unknown parameter"));
        continue;
      }
      c.op = Clause::Op::kMissing;
      c.bool_value = raw_value == "true";
      out.query.clauses.push_back(std::move(c));
      continue;
    }
    if (code == "_id") {
      c.op = Clause::Op::kId;
      for (const std::string& v : values) c.any_of.push_back(Clause::Value{.code = v});
      out.query.clauses.push_back(std::move(c));
      continue;
    }
    if (code == "_lastUpdated") {
      c.op = Clause::Op::kLastUpdated;
      for (std::string v : values) {
        Clause::Value cv;
        cv.cmp = TakePrefix(v);
        auto r = time::ParseFhirDateTime(v);
        if (!r) return Bad("GM-SEARCH-013", "invalid date in '" + name + "'", name);
        cv.begin_us = r->begin_us;
        cv.end_us = r->end_us;
        c.any_of.push_back(cv);
      }
      out.query.clauses.push_back(std::move(c));
      continue;
    }
    const fhir::SearchParamDef* def = type.empty() ? nullptr : model.SearchParam(type, code);
    if (def == nullptr) {
      GM_RETURN_IF_ERROR(ignore(name, "unknown search parameter"));
      continue;
    }
    if (!IsSupportedType(def->type) || def->expression.empty()) {
      GM_RETURN_IF_ERROR(ignore(name, "parameter type '" + def->type + "' is not supported yet"));
      continue;
    }
    if (raw_value.empty()) {
      GM_RETURN_IF_ERROR(ignore(name, "empty value"));
      continue;
    }
    const std::string& t = def->type;
    if (t == "token") {
      GM_RETURN_IF_ERROR(ParseToken(code, modifier, values, c));
    } else if (t == "string") {
      if (modifier.empty()) {
        c.op = Clause::Op::kStringPrefix;
      } else if (modifier == "exact") {
        c.op = Clause::Op::kStringExact;
      } else if (modifier == "contains") {
        c.op = Clause::Op::kStringContains;
      } else {
        return Bad("GM-SEARCH-010", "modifier :" + modifier + " is not supported on string", name);
      }
      for (const std::string& v : values) {
        c.any_of.push_back(Clause::Value{.code = c.op == Clause::Op::kStringExact ? v : Fold(v)});
      }
    } else if (t == "date") {
      if (!modifier.empty()) return Bad("GM-SEARCH-010", "date parameters take no modifier", name);
      c.op = Clause::Op::kDateRange;
      for (std::string v : values) {
        Clause::Value cv;
        cv.cmp = TakePrefix(v);
        auto r = time::ParseFhirDateTime(v);
        if (!r) return Bad("GM-SEARCH-013", "invalid date in '" + name + "'", name);
        cv.begin_us = r->begin_us;
        cv.end_us = r->end_us;
        c.any_of.push_back(cv);
      }
    } else if (t == "number" || t == "quantity") {
      if (!modifier.empty()) return Bad("GM-SEARCH-010", "number parameters take no modifier", name);
      c.op = Clause::Op::kNumberRange;
      for (std::string v : values) {
        Clause::Value cv;
        cv.cmp = TakePrefix(v);
        std::string number = v;
        if (t == "quantity") {
          std::string rest;
          if (std::string left; SplitPipe(v, left, rest)) {
            number = left;
            std::string sys, unit;
            if (SplitPipe(rest, sys, unit)) {
              cv.system = sys;
              cv.system_given = !sys.empty();
              cv.code = unit;
            } else {
              cv.code = rest;
            }
          }
        }
        if (!NumberRange(number, cv.lo, cv.hi)) {
          return Bad("GM-SEARCH-014", "invalid number in '" + name + "'", name);
        }
        c.any_of.push_back(cv);
      }
    } else if (t == "reference") {
      c.op = Clause::Op::kReference;
      if (modifier == "identifier") {
        GM_RETURN_IF_ERROR(ignore(name, ":identifier is not supported yet"));
        continue;
      }
      if (!modifier.empty() && !model.IsResourceType(modifier)) {
        return Bad("GM-SEARCH-010", "modifier :" + modifier + " is not a resource type", name);
      }
      for (const std::string& v : values) {
        Clause::Value cv;
        cv.system = modifier;
        size_t slash = v.rfind('/');
        if (v.find("://") != std::string::npos || v.rfind("urn:", 0) == 0) {
          cv.code = v;  // absolute URL or canonical: matched against the reference text
          cv.system_given = true;
        } else if (slash != std::string::npos) {
          std::string rtype = v.substr(0, slash);
          if (v.find("/_history/") != std::string::npos) {
            rtype = v.substr(0, v.find('/'));
            cv.code = v.substr(v.find('/') + 1, v.find("/_history/") - v.find('/') - 1);
          } else {
            cv.code = v.substr(slash + 1);
          }
          if (!model.IsResourceType(rtype)) {
            return Bad("GM-SEARCH-015", "invalid reference value in '" + name + "'", name);
          }
          cv.system = rtype;
        } else {
          cv.code = v;
        }
        c.any_of.push_back(std::move(cv));
      }
    } else if (t == "uri") {
      c.op = modifier == "below"   ? Clause::Op::kUriBelow
             : modifier == "above" ? Clause::Op::kUriAbove
                                   : Clause::Op::kUriEq;
      if (!modifier.empty() && modifier != "below" && modifier != "above") {
        return Bad("GM-SEARCH-010", "modifier :" + modifier + " is not supported on uri", name);
      }
      for (const std::string& v : values) c.any_of.push_back(Clause::Value{.code = v});
    }
    out.query.clauses.push_back(std::move(c));
  }
  return out;
}

}  // namespace gm::search
