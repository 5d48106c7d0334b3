#include "search/query.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>

#include "core/time.h"
#include "search/fhirpath_indexer.h"
#include "search/fold.h"
#include "search/ucum.h"

namespace gm::search {

namespace {

using store::Clause;

Status Bad(std::string code, std::string text, std::string param = {}) {
  return Status::Error(ErrorCategory::kInvalid, std::move(code), "invalid", std::move(text),
                       std::move(param));
}

bool IsIndexedType(std::string_view t) {
  return t == "token" || t == "string" || t == "date" || t == "number" || t == "quantity" ||
         t == "reference" || t == "uri";
}

// Splits on `sep` outside backslash escapes; the escapes are kept.
std::vector<std::string> SplitRaw(std::string_view v, char sep) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\\' && i + 1 < v.size()) {
      out.back().push_back(c);
      out.back().push_back(v[++i]);
    } else if (c == sep) {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

// "\," "\|" "\$" "\\" → the character.
std::string Unescape(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) ++i;
    out.push_back(v[i]);
  }
  return out;
}

// Splits "system|code" on the first unescaped '|'; both parts unescaped.
bool SplitPipe(std::string_view v, std::string& left, std::string& right) {
  std::vector<std::string> parts = SplitRaw(v, '|');
  if (parts.size() < 2) return false;
  left = Unescape(parts[0]);
  std::string rest;
  for (size_t i = 1; i < parts.size(); ++i) rest += (i > 1 ? "|" : "") + parts[i];
  right = Unescape(rest);
  return true;
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
  for (char c : text) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' ||
          c == 'e' || c == 'E')) {
      return false;
    }
  }
  char* end = nullptr;
  std::string s(text);
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return false;
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

// Date values with their prefixes: each becomes the instant range it covers.
Status AddDateValues(const std::string& name, const std::vector<std::string>& values, Clause& c) {
  for (std::string v : values) {
    Clause::Value cv;
    cv.cmp = TakePrefix(v);
    auto r = time::ParseFhirDateTime(Unescape(v));
    if (!r) return Bad("GM-SEARCH-013", "invalid date in '" + name + "'", name);
    cv.begin_us = r->begin_us;
    cv.end_us = r->end_us;
    c.any_of.push_back(cv);
  }
  return Status::Ok();
}

class Parser {
 public:
  Parser(const fhir::Model& model, const ParseOptions& options, std::vector<std::string>& ignored)
      : model_(model), options_(options), ignored_(ignored) {}

  // One search parameter over resources of `types` (empty: every type).
  // nullopt: ignored (reported in `ignored`).
  Result<std::optional<Clause>> Param(const std::vector<std::string>& types,
                                      const std::string& name, const std::string& value,
                                      int depth);

 private:
  Status Ignore(const std::string& name, const std::string& why) {
    if (options_.strict) return Bad("GM-SEARCH-001", "parameter '" + name + "': " + why, name);
    ignored_.push_back(name);
    return Status::Ok();
  }
  const fhir::SearchParamDef* Def(const std::vector<std::string>& types,
                                  const std::string& code) const;
  Result<std::optional<Clause>> Chain(const std::vector<std::string>& types,
                                      const std::string& name, size_t dot,
                                      const std::string& value, int depth);
  Result<std::optional<Clause>> Has(const std::vector<std::string>& types, const std::string& name,
                                    const std::string& value, int depth);
  Status Typed(const fhir::SearchParamDef& def, const std::string& name,
               const std::string& modifier, const std::vector<std::string>& values, Clause& c);
  Status Token(const std::string& name, const std::string& modifier,
               const std::vector<std::string>& values, Clause& c);
  Status Terminology(const std::string& name, const std::string& modifier,
                     const std::vector<std::string>& values, Clause& c);
  enum class Units { kCanonicalWhenKnown, kAsWritten };
  // Quantity values; with kCanonicalWhenKnown and every value in a known UCUM
  // unit, in canonical units on "<param>:canonical".
  Status Quantity(const std::string& name, const std::vector<std::string>& values, Units units,
                  Clause& c);
  Status Reference(const fhir::SearchParamDef& def, const std::string& name,
                   const std::string& modifier, const std::vector<std::string>& values, Clause& c);
  Status Composite(const fhir::SearchParamDef& def, const std::string& name,
                   const std::vector<std::string>& values, Clause& c);

  const fhir::Model& model_;
  const ParseOptions& options_;
  std::vector<std::string>& ignored_;
};

const fhir::SearchParamDef* Parser::Def(const std::vector<std::string>& types,
                                        const std::string& code) const {
  if (types.empty()) {
    const fhir::SearchParamDef* d = model_.SearchParam("Resource", code);
    return d != nullptr ? d : model_.SearchParam("DomainResource", code);
  }
  for (const std::string& t : types) {
    if (const fhir::SearchParamDef* d = model_.SearchParam(t, code)) return d;
  }
  return nullptr;
}

Status Parser::Token(const std::string& name, const std::string& modifier,
                     const std::vector<std::string>& values, Clause& c) {
  if (modifier == "in" || modifier == "not-in" || modifier == "above" || modifier == "below") {
    return Terminology(name, modifier, values, c);
  }
  if (modifier == "of-type") {
    c.op = Clause::Op::kTokenOfType;
    c.param += ":of-type";
    for (const std::string& v : values) {
      std::vector<std::string> parts = SplitRaw(v, '|');
      if (parts.size() != 3 || parts[1].empty() || parts[2].empty()) {
        return Bad("GM-SEARCH-011", ":of-type takes type-system|type-code|value in '" + name + "'",
                   name);
      }
      Clause::Value cv;
      cv.system = Unescape(parts[0]);
      cv.system_given = true;
      cv.code = Unescape(parts[1]);
      cv.text = Unescape(parts[2]);
      c.any_of.push_back(std::move(cv));
    }
    return Status::Ok();
  }
  if (!modifier.empty() && modifier != "not" && modifier != "text") {
    return Bad("GM-SEARCH-010",
               "modifier :" + modifier + " is not supported on token parameter '" + name + "'",
               name);
  }
  c.op = modifier == "not"    ? Clause::Op::kTokenNot
         : modifier == "text" ? Clause::Op::kTokenText
                              : Clause::Op::kTokenEq;
  for (const std::string& v : values) {
    Clause::Value cv;
    if (c.op == Clause::Op::kTokenText) {
      cv.code = Fold(Unescape(v));
    } else if (std::string sys, code; SplitPipe(v, sys, code)) {
      cv.system = sys;
      cv.system_given = true;
      cv.code = code;
      if (sys.empty() && code.empty()) {
        return Bad("GM-SEARCH-011", "empty token value for '" + name + "'", name);
      }
    } else {
      cv.code = Unescape(v);
      if (cv.code.empty()) return Bad("GM-SEARCH-011", "empty token value for '" + name + "'", name);
    }
    c.any_of.push_back(std::move(cv));
  }
  return Status::Ok();
}

Status Parser::Terminology(const std::string& name, const std::string& modifier,
                           const std::vector<std::string>& values, Clause& c) {
  if (options_.terminology == nullptr) {
    return Status::Error(ErrorCategory::kNotImplemented, "GM-SEARCH-030", "not-supported",
                         "the :" + modifier + " modifier ('" + name +
                             "') needs a terminology service, which this server does not have "
                             "yet",
                         name);
  }
  std::vector<CodeRef> codes;
  for (const std::string& v : values) {
    Result<std::vector<CodeRef>> r = std::vector<CodeRef>{};
    if (modifier == "in" || modifier == "not-in") {
      r = options_.terminology->Expand(Unescape(v));
    } else {
      std::string sys, code;
      if (!SplitPipe(v, sys, code)) code = Unescape(v);
      if (code.empty()) return Bad("GM-SEARCH-011", "empty token value for '" + name + "'", name);
      r = options_.terminology->Related(
          sys, code, modifier == "above" ? Subsumption::kAbove : Subsumption::kBelow);
    }
    if (!r.ok()) return r.status();
    codes.insert(codes.end(), r->begin(), r->end());
  }
  c.op = modifier == "not-in" ? Clause::Op::kTokenNot : Clause::Op::kTokenEq;
  for (CodeRef& cr : codes) {
    Clause::Value cv;
    cv.system_given = !cr.system.empty();
    cv.system = std::move(cr.system);
    cv.code = std::move(cr.code);
    if (!cv.code.empty()) c.any_of.push_back(std::move(cv));
  }
  if (c.any_of.empty() && c.op == Clause::Op::kTokenEq) {
    // An empty expansion matches nothing: no resource has an empty id.
    c.op = Clause::Op::kId;
    c.param = "_id";
    c.any_of.push_back(Clause::Value{});
  }
  if (c.any_of.empty()) {
    // :not-in an empty value set excludes nothing: every resource has an id
    // (_id:missing=false holds for all of them).
    c.op = Clause::Op::kMissing;
    c.param = "_id";
    c.bool_value = false;
  }
  return Status::Ok();
}

Status Parser::Quantity(const std::string& name, const std::vector<std::string>& values,
                        Units units, Clause& c) {
  c.op = Clause::Op::kNumberRange;
  std::vector<Clause::Value> original;
  std::vector<Clause::Value> canonical;
  bool all_canonical = true;
  for (std::string v : values) {
    Clause::Value cv;
    cv.cmp = TakePrefix(v);
    std::string number = Unescape(v);
    std::vector<std::string> parts = SplitRaw(v, '|');
    if (parts.size() > 1) {
      number = Unescape(parts[0]);
      if (parts.size() == 2) {
        cv.code = Unescape(parts[1]);
      } else if (parts.size() == 3) {
        cv.system = Unescape(parts[1]);
        cv.system_given = !cv.system.empty();
        cv.code = Unescape(parts[2]);
      } else {
        return Bad("GM-SEARCH-014", "invalid quantity in '" + name + "'", name);
      }
    }
    if (!NumberRange(number, cv.lo, cv.hi)) {
      return Bad("GM-SEARCH-014", "invalid number in '" + name + "'", name);
    }
    std::optional<UcumCanonical> u;
    if (units == Units::kCanonicalWhenKnown && !cv.code.empty() &&
        (cv.system.empty() || cv.system == kUcumSystem)) {
      u = CanonicalUnit(cv.code);
    }
    if (u) {
      // Both ends scaled, then widened by a few ulps so that a value stored
      // in another unit is not lost to rounding at the edge.
      Clause::Value cc = cv;
      cc.system.clear();
      cc.system_given = false;
      cc.code = u->unit;
      cc.lo = cv.lo * u->factor;
      cc.hi = cv.hi * u->factor;
      cc.lo -= std::fabs(cc.lo) * 1e-12;
      cc.hi += std::fabs(cc.hi) * 1e-12;
      canonical.push_back(std::move(cc));
    } else {
      all_canonical = false;
    }
    original.push_back(std::move(cv));
  }
  if (all_canonical && !canonical.empty()) {
    c.param += ":canonical";
    c.any_of = std::move(canonical);
  } else {
    c.any_of = std::move(original);
  }
  return Status::Ok();
}

Status Parser::Reference(const fhir::SearchParamDef& def, const std::string& name,
                         const std::string& modifier, const std::vector<std::string>& values,
                         Clause& c) {
  if (modifier == "identifier") {
    c.param += ":identifier";
    return Token(name, "", values, c);
  }
  c.op = Clause::Op::kReference;
  if (!modifier.empty() && !model_.IsResourceType(modifier)) {
    return Bad("GM-SEARCH-010", "modifier :" + modifier + " is not a resource type", name);
  }
  for (const std::string& raw : values) {
    std::string v = Unescape(raw);
    if (v.empty()) return Bad("GM-SEARCH-015", "empty reference in '" + name + "'", name);
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
      if (!model_.IsResourceType(rtype) || cv.code.empty()) {
        return Bad("GM-SEARCH-015", "invalid reference value in '" + name + "'", name);
      }
      if (!modifier.empty() && modifier != rtype) {
        return Bad("GM-SEARCH-015", "the reference's type differs from :" + modifier, name);
      }
      cv.system = rtype;
    } else {
      cv.code = v;
    }
    c.any_of.push_back(std::move(cv));
  }
  return Status::Ok();
}

Status Parser::Composite(const fhir::SearchParamDef& def, const std::string& name,
                         const std::vector<std::string>& values, Clause& c) {
  c.op = Clause::Op::kComposite;
  std::vector<const fhir::SearchParamDef*> comps;
  for (const auto& comp : def.components) {
    const fhir::SearchParamDef* cd = ComponentDefinition(model_, comp.definition);
    if (cd == nullptr || !IsIndexedType(cd->type)) {
      return Bad("GM-SEARCH-016", "composite parameter '" + name + "' cannot be searched", name);
    }
    comps.push_back(cd);
  }
  if (comps.empty() || comps.size() > store::kMaxCompositeComponents) {
    return Bad("GM-SEARCH-016",
               "composite parameter '" + name + "' has more components than are indexed", name);
  }
  std::vector<std::vector<std::string>> split;
  bool any_quantity = false, all_canonical = true;
  for (const std::string& v : values) {
    split.push_back(SplitRaw(v, '$'));
    const std::vector<std::string>& parts = split.back();
    if (parts.size() != comps.size()) {
      return Bad("GM-SEARCH-016",
                 "'" + name + "' takes " + std::to_string(comps.size()) + " values joined by '$'",
                 name);
    }
    for (size_t i = 0; i < comps.size(); ++i) {
      if (parts[i].empty()) {
        return Bad("GM-SEARCH-016", "empty component value in '" + name + "'", name);
      }
      if (comps[i]->type != "quantity") continue;
      any_quantity = true;
      Clause probe;
      GM_RETURN_IF_ERROR(Quantity(name, {parts[i]}, Units::kCanonicalWhenKnown, probe));
      if (probe.param != ":canonical") all_canonical = false;
    }
  }
  // Either every quantity component is searched in canonical units (on the
  // "<code>:canonical" entries) or every one as written.
  const Units units = any_quantity && all_canonical ? Units::kCanonicalWhenKnown : Units::kAsWritten;
  for (const std::vector<std::string>& parts : split) {
    Clause::Value cv;
    for (size_t i = 0; i < comps.size(); ++i) {
      Clause part;
      part.param = comps[i]->code;
      const std::string& t = comps[i]->type;
      if (t == "string") {
        part.op = Clause::Op::kStringPrefix;
        part.any_of.push_back(Clause::Value{.code = Fold(Unescape(parts[i]))});
      } else if (t == "quantity") {
        GM_RETURN_IF_ERROR(Quantity(name, {parts[i]}, units, part));
      } else {
        GM_RETURN_IF_ERROR(Typed(*comps[i], name, "", {parts[i]}, part));
      }
      if (part.any_of.size() != 1) {
        return Bad("GM-SEARCH-016", "invalid component value in '" + name + "'", name);
      }
      cv.components.push_back(std::move(part));
    }
    c.any_of.push_back(std::move(cv));
  }
  if (any_quantity && all_canonical) c.param += ":canonical";
  return Status::Ok();
}

Status Parser::Typed(const fhir::SearchParamDef& def, const std::string& name,
                     const std::string& modifier, const std::vector<std::string>& values,
                     Clause& c) {
  const std::string& t = def.type;
  if (t == "token") return Token(name, modifier, values, c);
  if (t == "string") {
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
      std::string text = Unescape(v);
      c.any_of.push_back(
          Clause::Value{.code = c.op == Clause::Op::kStringExact ? text : Fold(text)});
    }
    return Status::Ok();
  }
  if (t == "date") {
    if (!modifier.empty()) return Bad("GM-SEARCH-010", "date parameters take no modifier", name);
    c.op = Clause::Op::kDateRange;
    GM_RETURN_IF_ERROR(AddDateValues(name, values, c));
    return Status::Ok();
  }
  if (t == "number") {
    if (!modifier.empty()) return Bad("GM-SEARCH-010", "number parameters take no modifier", name);
    c.op = Clause::Op::kNumberRange;
    for (std::string v : values) {
      Clause::Value cv;
      cv.cmp = TakePrefix(v);
      if (!NumberRange(Unescape(v), cv.lo, cv.hi)) {
        return Bad("GM-SEARCH-014", "invalid number in '" + name + "'", name);
      }
      c.any_of.push_back(cv);
    }
    return Status::Ok();
  }
  if (t == "quantity") {
    if (!modifier.empty()) {
      return Bad("GM-SEARCH-010", "quantity parameters take no modifier", name);
    }
    return Quantity(name, values, Units::kCanonicalWhenKnown, c);
  }
  if (t == "reference") return Reference(def, name, modifier, values, c);
  if (t == "uri") {
    c.op = modifier == "below"   ? Clause::Op::kUriBelow
           : modifier == "above" ? Clause::Op::kUriAbove
                                 : Clause::Op::kUriEq;
    if (!modifier.empty() && modifier != "below" && modifier != "above") {
      return Bad("GM-SEARCH-010", "modifier :" + modifier + " is not supported on uri", name);
    }
    for (const std::string& v : values) c.any_of.push_back(Clause::Value{.code = Unescape(v)});
    return Status::Ok();
  }
  if (t == "composite") {
    if (!modifier.empty()) {
      return Bad("GM-SEARCH-010", "composite parameters take no modifier", name);
    }
    return Composite(def, name, values, c);
  }
  return Bad("GM-SEARCH-010", "parameter type '" + t + "' cannot be searched", name);
}

Result<std::optional<Clause>> Parser::Has(const std::vector<std::string>& types,
                                          const std::string& name, const std::string& value,
                                          int depth) {
  // _has:Type:param:rest
  std::string_view rest = std::string_view(name).substr(5);
  size_t c1 = rest.find(':');
  size_t c2 = c1 == std::string_view::npos ? c1 : rest.find(':', c1 + 1);
  if (c2 == std::string_view::npos || c1 == 0 || c2 == c1 + 1 || c2 + 1 == rest.size()) {
    return Bad("GM-SEARCH-019", "_has takes _has:Type:reference-parameter:parameter", name);
  }
  std::string source(rest.substr(0, c1));
  std::string param(rest.substr(c1 + 1, c2 - c1 - 1));
  std::string inner(rest.substr(c2 + 1));
  if (!model_.IsResourceType(source)) {
    return Bad("GM-SEARCH-019", "_has names an unknown resource type", name);
  }
  const fhir::SearchParamDef* def = model_.SearchParam(source, param);
  if (def == nullptr || def->type != "reference") {
    return Bad("GM-SEARCH-019", "_has: '" + param + "' is not a reference parameter of " + source,
               name);
  }
  if (!types.empty() && !def->target.empty()) {
    bool any = std::any_of(types.begin(), types.end(), [&](const std::string& t) {
      return std::find(def->target.begin(), def->target.end(), t) != def->target.end();
    });
    if (!any) {
      return Bad("GM-SEARCH-019", "_has: " + source + "." + param + " cannot point at this type",
                 name);
    }
  }
  GM_ASSIGN_OR_RETURN(std::optional<Clause> sub, Param({source}, inner, value, depth + 1));
  if (!sub) return std::optional<Clause>();
  auto q = std::make_shared<store::Query>();
  q->type = source;
  q->clauses.push_back(std::move(*sub));
  Clause c;
  c.op = Clause::Op::kHas;
  c.param = param;
  c.sub = std::move(q);
  return std::optional<Clause>(std::move(c));
}

Result<std::optional<Clause>> Parser::Chain(const std::vector<std::string>& types,
                                            const std::string& name, size_t dot,
                                            const std::string& value, int depth) {
  std::string head = name.substr(0, dot);
  std::string rest = name.substr(dot + 1);
  size_t colon = head.find(':');
  std::string code = head.substr(0, colon);
  std::string type_modifier = colon == std::string::npos ? "" : head.substr(colon + 1);
  const fhir::SearchParamDef* def = Def(types, code);
  if (def == nullptr) {
    GM_RETURN_IF_ERROR(Ignore(name, "unknown search parameter"));
    return std::optional<Clause>();
  }
  if (def->type != "reference") {
    return Bad("GM-SEARCH-017", "'" + code + "' is not a reference parameter, so it cannot chain",
               name);
  }
  std::vector<std::string> candidates;
  if (!type_modifier.empty()) {
    if (!model_.IsResourceType(type_modifier)) {
      return Bad("GM-SEARCH-010", "modifier :" + type_modifier + " is not a resource type", name);
    }
    candidates.push_back(type_modifier);
  } else if (!def->target.empty()) {
    candidates = def->target;
  } else {
    candidates = model_.ResourceTypes();
  }
  std::string next = rest.substr(0, rest.find_first_of(":."));
  std::vector<std::string> targets;
  for (const std::string& t : candidates) {
    if (!model_.IsResourceType(t)) continue;
    if (next.rfind("_has", 0) == 0 || next == "_text" || next == "_content" || next == "_list" ||
        model_.SearchParam(t, next) != nullptr) {
      targets.push_back(t);
    }
  }
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  if (targets.empty()) {
    return Bad("GM-SEARCH-017",
               "no type that '" + code + "' can point at has the parameter '" + next + "'", name);
  }
  GM_ASSIGN_OR_RETURN(std::optional<Clause> sub, Param(targets, rest, value, depth + 1));
  if (!sub) return std::optional<Clause>();
  auto q = std::make_shared<store::Query>();
  if (targets.size() == 1) {
    q->type = targets[0];
  } else {
    q->types = targets;
  }
  q->clauses.push_back(std::move(*sub));
  Clause c;
  c.op = Clause::Op::kChain;
  c.param = code;
  c.sub = std::move(q);
  return std::optional<Clause>(std::move(c));
}

Result<std::optional<Clause>> Parser::Param(const std::vector<std::string>& types,
                                            const std::string& name, const std::string& value,
                                            int depth) {
  if (depth > store::kMaxQueryNesting) {
    return Bad("GM-SEARCH-018", "chains and _has nest too deeply", name);
  }
  if (name.rfind("_has:", 0) == 0) return Has(types, name, value, depth);
  if (name == "_has") return Bad("GM-SEARCH-019", "_has takes _has:Type:param:parameter", name);
  const size_t colon = name.find(':');
  const size_t dot = name.find('.');
  if (dot != std::string::npos) return Chain(types, name, dot, value, depth);
  const std::string code = name.substr(0, colon);
  const std::string modifier = colon == std::string::npos ? "" : name.substr(colon + 1);
  if (value.empty()) {
    GM_RETURN_IF_ERROR(Ignore(name, "empty value"));
    return std::optional<Clause>();
  }
  std::vector<std::string> values = SplitRaw(value, ',');
  Clause c;
  c.param = code;

  if (modifier == "missing") {
    if (value != "true" && value != "false") {
      return Bad("GM-SEARCH-012", ":missing takes true or false", name);
    }
    if (Def(types, code) == nullptr) {
      GM_RETURN_IF_ERROR(Ignore(name, "unknown parameter"));
      return std::optional<Clause>();
    }
    c.op = Clause::Op::kMissing;
    c.bool_value = value == "true";
    return std::optional<Clause>(std::move(c));
  }
  if (code == "_id") {
    if (!modifier.empty()) return Bad("GM-SEARCH-010", "_id takes no modifier", name);
    c.op = Clause::Op::kId;
    for (const std::string& v : values) c.any_of.push_back(Clause::Value{.code = Unescape(v)});
    return std::optional<Clause>(std::move(c));
  }
  if (code == "_lastUpdated") {
    if (!modifier.empty()) return Bad("GM-SEARCH-010", "_lastUpdated takes no modifier", name);
    c.op = Clause::Op::kLastUpdated;
    GM_RETURN_IF_ERROR(AddDateValues(name, values, c));
    return std::optional<Clause>(std::move(c));
  }
  if (code == "_text" || code == "_content") {
    if (!modifier.empty()) return Bad("GM-SEARCH-010", code + " takes no modifier", name);
    c.op = Clause::Op::kText;
    for (const std::string& v : values) {
      std::string words = Fold(Unescape(v));
      if (words.find_first_not_of(" \t\r\n") == std::string::npos) {
        return Bad("GM-SEARCH-021", code + " needs at least one word", name);
      }
      c.any_of.push_back(Clause::Value{.code = std::move(words)});
    }
    return std::optional<Clause>(std::move(c));
  }
  if (code == "_list") {
    if (!modifier.empty()) return Bad("GM-SEARCH-010", "_list takes no modifier", name);
    auto q = std::make_shared<store::Query>();
    q->type = "List";
    Clause ids;
    ids.op = Clause::Op::kId;
    ids.param = "_id";
    for (const std::string& v : values) {
      std::string id = Unescape(v);
      if (id.empty() || id[0] == '$') {
        GM_RETURN_IF_ERROR(Ignore(name, "functional lists are not supported"));
        return std::optional<Clause>();
      }
      ids.any_of.push_back(Clause::Value{.code = std::move(id)});
    }
    q->clauses.push_back(std::move(ids));
    c.op = Clause::Op::kHas;
    c.param = "item";
    c.sub = std::move(q);
    return std::optional<Clause>(std::move(c));
  }
  const fhir::SearchParamDef* def = Def(types, code);
  if (def == nullptr) {
    GM_RETURN_IF_ERROR(Ignore(name, "unknown search parameter"));
    return std::optional<Clause>();
  }
  if (def->expression.empty() || !(IsIndexedType(def->type) || def->type == "composite")) {
    GM_RETURN_IF_ERROR(Ignore(name, "parameter type '" + def->type + "' is not supported"));
    return std::optional<Clause>();
  }
  GM_RETURN_IF_ERROR(Typed(*def, name, modifier, values, c));
  return std::optional<Clause>(std::move(c));
}

}  // namespace

std::vector<const fhir::SearchParamDef*> SupportedParams(const fhir::Model& model,
                                                         std::string_view type) {
  std::vector<const fhir::SearchParamDef*> out;
  for (const fhir::SearchParamDef* p : model.SearchParams(type)) {
    const bool indexed = (IsIndexedType(p->type) || p->type == "composite") &&
                         !p->expression.empty();
    if (indexed || p->code == "_id" || p->code == "_lastUpdated" || p->code == "_text" ||
        p->code == "_content") {
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
  Parser parser(model, options, out.ignored);

  for (const auto& [name, value] : params) {
    if (name != "_type") continue;
    for (const std::string& t : SplitRaw(value, ',')) {
      if (!model.IsResourceType(t)) return Bad("GM-SEARCH-005", "unknown type in _type", "_type");
      out.query.types.push_back(t);
    }
  }
  std::vector<std::string> scope;
  if (!type.empty()) {
    scope.emplace_back(type);
  } else {
    scope = out.query.types;
    std::sort(scope.begin(), scope.end());
    scope.erase(std::unique(scope.begin(), scope.end()), scope.end());
  }

  for (const auto& [name, raw_value] : params) {
    if (name == "_format" || name == "_pretty" || name == "_summary" || name == "_elements" ||
        name == "_page" || name == "_type") {
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
    if (name == "_cursor" || name == "_before") {
      out.query.after = raw_value;
      out.query.direction =
          name == "_before" ? store::PageDirection::kBackward : store::PageDirection::kForward;
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
      for (const std::string& raw_key : SplitRaw(raw_value, ',')) {
        std::string key = Unescape(raw_key);
        if (key.empty()) continue;
        store::SortKey sk;
        sk.descending = key[0] == '-';
        sk.param = sk.descending ? key.substr(1) : key;
        if (sk.param != "_id" && sk.param != "_lastUpdated") {
          const fhir::SearchParamDef* def = nullptr;
          if (scope.empty()) {
            def = model.SearchParam("Resource", sk.param);
          } else {
            for (const std::string& t : scope) {
              if ((def = model.SearchParam(t, sk.param)) != nullptr) break;
            }
          }
          if (def == nullptr || !IsIndexedType(def->type) || def->expression.empty()) {
            return Bad("GM-SEARCH-004", "cannot sort by '" + sk.param + "'", "_sort");
          }
        }
        out.query.sort.push_back(std::move(sk));
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
        if (!model.IsResourceType(inc.source_type)) {
          return Bad("GM-SEARCH-008", name + " names an unknown type", name);
        }
        if (inc.param != "*") {
          const fhir::SearchParamDef* def = model.SearchParam(inc.source_type, inc.param);
          if (def == nullptr || def->type != "reference") {
            return Bad("GM-SEARCH-008", name + " names no reference parameter", name);
          }
        }
        if (!inc.target_type.empty() && !model.IsResourceType(inc.target_type)) {
          return Bad("GM-SEARCH-008", name + " names an unknown target type", name);
        }
      }
      out.includes.push_back(std::move(inc));
      continue;
    }
    if (name == "_contained" || name == "_containedType" || name == "_query" ||
        name == "_filter") {
      if (options.strict) {
        return Bad("GM-SEARCH-001", "parameter '" + name + "': not supported", name);
      }
      out.ignored.push_back(name);
      continue;
    }
    GM_ASSIGN_OR_RETURN(std::optional<Clause> clause, parser.Param(scope, name, raw_value, 0));
    if (clause) out.query.clauses.push_back(std::move(*clause));
  }
  // Bounded work per search: the store compiles each clause and value into SQL
  // (whose expression depth is limited), so hostile queries are refused here.
  size_t values = 0;
  for (const Clause& c : out.query.clauses) values += c.any_of.size();
  if (out.query.clauses.size() > kMaxSearchClauses || values > kMaxSearchValues) {
    return Bad("GM-SEARCH-022",
               "too many search parameters or values (at most " +
                   std::to_string(kMaxSearchClauses) + " parameters and " +
                   std::to_string(kMaxSearchValues) + " values)",
               "");
  }
  return out;
}

}  // namespace gm::search
