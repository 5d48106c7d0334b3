#include "search/fhirpath_indexer.h"

#include "no/confidentiality.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_set>

#include "core/time.h"
#include "search/fold.h"
#include "search/ucum.h"

namespace gm::search {

namespace {

using Kind = store::IndexEntry::Kind;

// Keeps the alternatives of "A.x | B.y | C.z" that can apply to `type`.
std::string ExpressionFor(const std::string& expression, const std::string& type) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  bool in_string = false;
  for (size_t i = 0; i < expression.size(); ++i) {
    char c = expression[i];
    if (c == '\'' && (i == 0 || expression[i - 1] != '\\')) in_string = !in_string;
    if (in_string) continue;
    if (c == '(' || c == '[') ++depth;
    if (c == ')' || c == ']') --depth;
    if (c == '|' && depth == 0) {
      parts.push_back(expression.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(expression.substr(start));
  std::string out;
  for (std::string p : parts) {
    size_t b = p.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) continue;
    p = p.substr(b);
    while (!p.empty() && std::isspace(static_cast<unsigned char>(p.back()))) p.pop_back();
    size_t end = 0;
    while (end < p.size() && (std::isalnum(static_cast<unsigned char>(p[end])) || p[end] == '_')) {
      ++end;
    }
    std::string head = p.substr(0, end);
    bool type_prefixed = !head.empty() && std::isupper(static_cast<unsigned char>(head[0])) &&
                         end < p.size() && p[end] == '.';
    if (type_prefixed && head != type && head != "Resource" && head != "DomainResource") continue;
    if (!out.empty()) out += " | ";
    out += p;
  }
  return out;
}

std::string_view Str(const json::Value* v) {
  return v != nullptr && v->is_string() ? std::string_view(v->str()) : std::string_view();
}

void AddToken(std::vector<store::IndexEntry>& out, const std::string& param, std::string_view system,
              std::string_view code, std::string_view text) {
  if (code.empty() && text.empty()) return;
  store::IndexEntry e;
  e.kind = Kind::kToken;
  e.param = param;
  e.system = std::string(system);
  e.code = std::string(code);
  if (!text.empty()) e.text = Fold(text);
  out.push_back(std::move(e));
}

void AddString(std::vector<store::IndexEntry>& out, const std::string& param,
               std::string_view value) {
  if (value.empty()) return;
  store::IndexEntry e;
  e.kind = Kind::kString;
  e.param = param;
  e.code = std::string(value.substr(0, 1024));
  e.text = Fold(e.code);
  out.push_back(std::move(e));
}

void AddDate(std::vector<store::IndexEntry>& out, const std::string& param, int64_t begin,
             int64_t end) {
  store::IndexEntry e;
  e.kind = Kind::kDate;
  e.param = param;
  e.begin_us = begin;
  e.end_us = end;
  out.push_back(std::move(e));
}

// The implicit range of a decimal's text (precision rule).
bool DecimalRange(std::string_view text, double& lo, double& hi) {
  std::string s(text);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  size_t e = s.find_first_of("eE");
  int exponent = e == std::string::npos ? 0 : std::atoi(s.c_str() + e + 1);
  std::string mantissa = s.substr(0, e);
  size_t dot = mantissa.find('.');
  int decimals = dot == std::string::npos ? 0 : static_cast<int>(mantissa.size() - dot - 1);
  double half = 0.5 * std::pow(10.0, exponent - decimals);
  lo = v - half;
  hi = v + half;
  return true;
}

void AddReference(std::vector<store::IndexEntry>& out, const std::string& param,
                  std::string_view ref) {
  if (ref.empty() || ref.front() == '#') return;
  store::IndexEntry e;
  e.kind = Kind::kReference;
  e.param = param;
  std::string_view local = ref;
  bool absolute = ref.find("://") != std::string_view::npos || ref.rfind("urn:", 0) == 0;
  if (size_t h = local.find("/_history/"); h != std::string_view::npos) local = local.substr(0, h);
  if (absolute) e.text = std::string(ref);
  // Type/id at the end of a relative or absolute reference.
  size_t slash = local.rfind('/');
  if (slash != std::string_view::npos && slash > 0) {
    size_t prev = local.rfind('/', slash - 1);
    std::string_view type = local.substr(prev == std::string_view::npos ? 0 : prev + 1,
                                         slash - (prev == std::string_view::npos ? 0 : prev + 1));
    std::string_view id = local.substr(slash + 1);
    if (fhir::Model::R4().IsResourceType(type) && !id.empty()) {
      e.system = std::string(type);
      e.code = std::string(id);
    }
  } else if (!absolute) {
    e.code = std::string(local);
  }
  if (e.code.empty() && e.text.empty()) return;
  out.push_back(std::move(e));
}

void DateEntries(const std::string& param, const fhirpath::Item& item, std::string_view tn,
                 const json::Value* node, std::vector<store::IndexEntry>& out) {
  constexpr int64_t kMin = -62135596800000000LL;  // 0001-01-01
  constexpr int64_t kMax = 253402300800000000LL;  // 10000-01-01
  if (tn == "date" || tn == "dateTime" || tn == "instant" || tn == "Date" || tn == "DateTime") {
    auto text = item.ToString();
    if (!text) return;
    if (auto r = time::ParseFhirDateTime(*text)) AddDate(out, param, r->begin_us, r->end_us);
  } else if (tn == "Period" && node) {
    std::optional<time::Range> s, e;
    if (auto v = Str(node->find("start")); !v.empty()) s = time::ParseFhirDateTime(v);
    if (auto v = Str(node->find("end")); !v.empty()) e = time::ParseFhirDateTime(v);
    if (!s && !e) return;
    AddDate(out, param, s ? s->begin_us : kMin, e ? e->end_us : kMax);
  } else if (tn == "Timing" && node) {
    if (const json::Value* events = node->find("event"); events && events->is_array()) {
      for (const auto& ev : events->array()) {
        if (auto r = time::ParseFhirDateTime(Str(&ev))) AddDate(out, param, r->begin_us, r->end_us);
      }
    }
    if (const json::Value* rep = node->find("repeat")) {
      if (const json::Value* b = rep->find("boundsPeriod")) {
        std::optional<time::Range> s, e;
        if (auto v = Str(b->find("start")); !v.empty()) s = time::ParseFhirDateTime(v);
        if (auto v = Str(b->find("end")); !v.empty()) e = time::ParseFhirDateTime(v);
        if (s || e) AddDate(out, param, s ? s->begin_us : kMin, e ? e->end_us : kMax);
      }
    }
  }
}

// The canonical-unit twin of a UCUM quantity entry, if its unit is known.
std::optional<store::IndexEntry> CanonicalQuantity(const store::IndexEntry& e) {
  if (e.kind != Kind::kQuantity || e.code.empty()) return std::nullopt;
  if (!e.system.empty() && e.system != kUcumSystem) return std::nullopt;
  std::optional<UcumCanonical> c = CanonicalUnit(e.code);
  if (!c) return std::nullopt;
  store::IndexEntry out = e;
  out.system = kUcumSystem;
  out.code = c->unit;
  out.lo = e.lo * c->factor;
  out.hi = e.hi * c->factor;
  return out;
}

enum class Derived { kInclude, kOmit };

void AppendValues(const fhir::SearchParamDef& def, const fhirpath::Item& item,
                  std::vector<store::IndexEntry>& out, Derived derived) {
  const bool with_derived = derived == Derived::kInclude;
  const std::string& param = def.code;
  const std::string& t = def.type;
  std::string_view tn = item.type_name();
  const json::Value* node = item.node();
  if (t == "token") {
    if (tn == "Coding" && node) {
      AddToken(out, param, Str(node->find("system")), Str(node->find("code")),
               Str(node->find("display")));
    } else if (tn == "CodeableConcept" && node) {
      if (const json::Value* codings = node->find("coding"); codings && codings->is_array()) {
        for (const auto& c : codings->array()) {
          AddToken(out, param, Str(c.find("system")), Str(c.find("code")), Str(c.find("display")));
        }
      }
      if (auto text = Str(node->find("text")); !text.empty()) AddToken(out, param, "", "", text);
    } else if (tn == "Identifier" && node) {
      std::string_view type_text;
      const json::Value* ty = node->find("type");
      if (ty != nullptr) type_text = Str(ty->find("text"));
      std::string_view value = Str(node->find("value"));
      AddToken(out, param, Str(node->find("system")), value, type_text);
      const json::Value* codings = ty != nullptr ? ty->find("coding") : nullptr;
      if (with_derived && !value.empty() && codings != nullptr && codings->is_array()) {
        for (const auto& c : codings->array()) {
          if (Str(c.find("code")).empty()) continue;
          store::IndexEntry e;
          e.kind = Kind::kToken;
          e.param = param + ":of-type";
          e.system = std::string(Str(c.find("system")));
          e.code = std::string(Str(c.find("code")));
          e.text = std::string(value);
          out.push_back(std::move(e));
        }
      }
    } else if (tn == "ContactPoint" && node) {
      AddToken(out, param, Str(node->find("system")), Str(node->find("value")), "");
    } else if (tn == "boolean" || tn == "Boolean") {
      if (auto s = item.ToString()) AddToken(out, param, "", *s, "");
    } else if (item.has_value()) {
      if (auto s = item.ToString()) AddToken(out, param, "", *s, "");
    }
  } else if (t == "string") {
    if (tn == "HumanName" && node) {
      for (const char* k : {"family", "text"}) AddString(out, param, Str(node->find(k)));
      for (const char* k : {"given", "prefix", "suffix"}) {
        if (const json::Value* a = node->find(k); a && a->is_array()) {
          for (const auto& v : a->array()) AddString(out, param, Str(&v));
        }
      }
    } else if (tn == "Address" && node) {
      for (const char* k : {"text", "city", "district", "state", "postalCode", "country"}) {
        AddString(out, param, Str(node->find(k)));
      }
      if (const json::Value* a = node->find("line"); a && a->is_array()) {
        for (const auto& v : a->array()) AddString(out, param, Str(&v));
      }
    } else if (item.has_value()) {
      if (auto s = item.ToString()) AddString(out, param, *s);
    }
  } else if (t == "date") {
    DateEntries(param, item, tn, node, out);
  } else if (t == "number") {
    if (item.has_value()) {
      double lo, hi;
      if (auto s = item.ToString(); s && DecimalRange(*s, lo, hi)) {
        store::IndexEntry e;
        e.kind = Kind::kNumber;
        e.param = param;
        e.lo = lo;
        e.hi = hi;
        out.push_back(std::move(e));
      }
    }
  } else if (t == "quantity") {
    if ((tn == "Quantity" || tn == "Age" || tn == "Duration" || tn == "Distance" ||
         tn == "Count" || tn == "SimpleQuantity" || tn == "Money") &&
        node) {
      const json::Value* value = node->find("value");
      double lo, hi;
      if (value && value->is_number() && DecimalRange(value->str(), lo, hi)) {
        store::IndexEntry e;
        e.kind = Kind::kQuantity;
        e.param = param;
        e.system = std::string(Str(node->find("system")));
        e.code = std::string(Str(node->find("code")));
        if (e.code.empty()) e.code = std::string(Str(node->find("unit")));
        if (tn == "Money") e.code = std::string(Str(node->find("currency")));
        e.text = std::string(Str(node->find("unit")));
        e.lo = lo;
        e.hi = hi;
        std::optional<store::IndexEntry> canonical;
        if (with_derived && tn != "Money") canonical = CanonicalQuantity(e);
        out.push_back(std::move(e));
        if (canonical) {
          canonical->param = param + ":canonical";
          out.push_back(std::move(*canonical));
        }
      }
    }
  } else if (t == "reference") {
    if (tn == "Reference" && node) {
      AddReference(out, param, Str(node->find("reference")));
      const json::Value* identifier = node->find("identifier");
      if (with_derived && identifier != nullptr && identifier->is_object()) {
        AddToken(out, param + ":identifier", Str(identifier->find("system")),
                 Str(identifier->find("value")), "");
      }
    } else if ((tn == "canonical" || tn == "uri" || tn == "url") && item.has_value()) {
      if (auto s = item.ToString()) AddReference(out, param, *s);
    }
  } else if (t == "uri") {
    if (item.has_value()) {
      if (auto s = item.ToString()) {
        store::IndexEntry e;
        e.kind = Kind::kUri;
        e.param = param;
        e.code = *s;
        out.push_back(std::move(e));
      }
    }
  }
}

}  // namespace

void AppendEntries(const fhir::SearchParamDef& def, const fhirpath::Item& item,
                   std::vector<store::IndexEntry>& out) {
  AppendValues(def, item, out, Derived::kInclude);
}

const fhir::SearchParamDef* ComponentDefinition(const fhir::Model& model, std::string_view id) {
  static const auto* by_id = [&model] {
    auto* m = new std::unordered_map<std::string, const fhir::SearchParamDef*>();
    for (const std::string& type : model.ResourceTypes()) {
      for (const fhir::SearchParamDef* def : model.SearchParams(type)) {
        size_t slash = def->url.rfind('/');
        m->emplace(slash == std::string::npos ? def->url : def->url.substr(slash + 1), def);
      }
    }
    return m;
  }();
  auto it = by_id->find(std::string(id));
  return it == by_id->end() ? nullptr : it->second;
}

std::string NarrativeText(std::string_view xhtml) {
  static const std::pair<std::string_view, std::string_view> kEntities[] = {
      {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"},
      {"&#39;", "'"}, {"&nbsp;", " "}};
  std::string out;
  out.reserve(xhtml.size());
  for (size_t i = 0; i < xhtml.size();) {
    char c = xhtml[i];
    if (c == '<') {
      size_t close = xhtml.find('>', i);
      if (close == std::string_view::npos) break;
      if (!out.empty() && out.back() != ' ') out += ' ';
      i = close + 1;
      continue;
    }
    if (c == '&') {
      bool done = false;
      for (const auto& [entity, text] : kEntities) {
        if (xhtml.substr(i, entity.size()) == entity) {
          out += text;
          i += entity.size();
          done = true;
          break;
        }
      }
      if (done) continue;
    }
    out += c;
    ++i;
  }
  // Runs of white space become one space; none at the ends.
  std::string collapsed;
  collapsed.reserve(out.size());
  for (char c : out) {
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (space) {
      if (!collapsed.empty() && collapsed.back() != ' ') collapsed += ' ';
    } else {
      collapsed += c;
    }
  }
  if (!collapsed.empty() && collapsed.back() == ' ') collapsed.pop_back();
  return collapsed;
}

namespace {

constexpr size_t kMaxContentBytes = 64 * 1024;

// Every text value of a resource (member names, ids, systems, urls and
// references left out), for _content.
void CollectContent(const json::Value& v, std::string_view key, std::string& out) {
  if (out.size() >= kMaxContentBytes) return;
  static const std::unordered_set<std::string_view> kSkip = {
      "resourceType", "id",     "system",      "url",       "reference", "fullUrl",
      "versionId",    "lastUpdated", "profile", "status",   "contentType", "data"};
  if (v.is_string()) {
    if (kSkip.count(key) != 0) return;
    if (!out.empty()) out += ' ';
    out += key == "div" ? NarrativeText(v.str()) : v.str();
  } else if (v.is_array()) {
    for (const auto& item : v.array()) CollectContent(item, key, out);
  } else if (v.is_object()) {
    for (const auto& [k, item] : v.object()) CollectContent(item, k, out);
  }
}

// resolve() during extraction: a reference "Patient/1" resolves to a stub
// {"resourceType":"Patient"}, enough for "where(resolve() is Patient)".
const json::Value* StubFor(std::string_view reference) {
  static const auto* stubs = [] {
    auto* m = new std::unordered_map<std::string, json::Value>();
    for (const std::string& t : fhir::Model::R4().ResourceTypes()) {
      json::Value v = json::Value::MakeObject();
      v.set("resourceType", t);
      (*m)[t] = std::move(v);
    }
    return m;
  }();
  std::string_view local = reference;
  if (size_t h = local.find("/_history/"); h != std::string_view::npos) local = local.substr(0, h);
  size_t slash = local.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return nullptr;
  size_t prev = local.rfind('/', slash - 1);
  std::string type(local.substr(prev == std::string_view::npos ? 0 : prev + 1,
                                slash - (prev == std::string_view::npos ? 0 : prev + 1)));
  auto it = stubs->find(type);
  return it == stubs->end() ? nullptr : &it->second;
}

std::string EntryKey(const store::IndexEntry& e) {
  std::string k;
  k.reserve(e.system.size() + e.code.size() + e.text.size() + 64);
  k += std::to_string(static_cast<int>(e.kind));
  k += '\x1f';
  k += e.param;
  k += '\x1f';
  k += e.system;
  k += '\x1f';
  k += e.code;
  k += '\x1f';
  k += e.text;
  k += '\x1f';
  k += std::to_string(e.lo) + '\x1f' + std::to_string(e.hi) + '\x1f' +
       std::to_string(e.begin_us) + '\x1f' + std::to_string(e.end_us);
  for (const store::IndexEntry& c : e.components) k += '\x1e' + EntryKey(c);
  return k;
}

}  // namespace

FhirPathIndexer::FhirPathIndexer(const fhir::Model& model) : model_(model) {
  std::unordered_map<std::string, fhirpath::Expression> compiled;
  auto compile = [&](const std::string& text) -> const fhirpath::Expression* {
    auto it = compiled.find(text);
    if (it == compiled.end()) {
      auto expr = fhirpath::Expression::Compile(text);
      if (!expr.ok()) return nullptr;  // reported by the definitions test
      it = compiled.emplace(text, std::move(*expr)).first;
    }
    return &it->second;
  };
  for (const std::string& type : model.ResourceTypes()) {
    std::vector<Param>& params = by_type_[type];
    for (const fhir::SearchParamDef* def : model.SearchParams(type)) {
      if (def->expression.empty()) continue;
      const bool composite = def->type == "composite";
      if (def->type != "token" && def->type != "string" && def->type != "date" &&
          def->type != "number" && def->type != "quantity" && def->type != "reference" &&
          def->type != "uri" && !composite) {
        continue;
      }
      std::string text = ExpressionFor(def->expression, type);
      if (text.empty()) continue;
      const fhirpath::Expression* expr = compile(text);
      if (expr == nullptr) continue;
      Param param{def, *expr, {}};
      param.write_time = text.find("meta.lastUpdated") != std::string::npos ||
                         text.find("meta.versionId") != std::string::npos;
      if (composite) {
        if (def->components.size() != store::kMaxCompositeComponents) continue;
        bool ok = true;
        for (const auto& c : def->components) {
          const fhir::SearchParamDef* cdef = ComponentDefinition(model, c.definition);
          // R4's composites write "value.ofType(DateTime)", which names the
          // System type; the element is a FHIR dateTime.
          std::string text = c.expression;
          for (size_t at = text.find("ofType(DateTime)"); at != std::string::npos;
               at = text.find("ofType(DateTime)", at)) {
            text.replace(at, 16, "ofType(dateTime)");
          }
          const fhirpath::Expression* cexpr = compile(text);
          if (cdef == nullptr || cexpr == nullptr || cdef->type == "composite") {
            ok = false;
            break;
          }
          param.components.push_back(Component{cdef, *cexpr});
        }
        if (!ok) continue;
      }
      params.push_back(std::move(param));
    }
  }
}

void FhirPathIndexer::ExtractComposite(const Param& p, const json::Value& resource,
                                       const fhirpath::EvalOptions& options,
                                       std::vector<store::IndexEntry>& out) const {
  constexpr size_t kMaxPerElement = 64;
  auto elements = p.expression.Evaluate(resource, options);
  if (!elements.ok()) return;
  fhirpath::EvalOptions component_options = options;
  component_options.resource = &resource;
  for (const fhirpath::Item& element : *elements) {
    fhirpath::Collection input;
    input.Add(element, *elements);
    std::vector<std::vector<store::IndexEntry>> values;
    for (const Component& c : p.components) {
      auto items = c.expression.Evaluate(input, component_options);
      std::vector<store::IndexEntry> v;
      if (items.ok()) {
        for (const fhirpath::Item& item : *items) AppendValues(*c.def, item, v, Derived::kOmit);
      }
      // A CodeableConcept's text alone is no code to pair with.
      v.erase(std::remove_if(v.begin(), v.end(),
                             [](const store::IndexEntry& e) {
                               return e.kind == Kind::kToken && e.code.empty();
                             }),
              v.end());
      values.push_back(std::move(v));
    }
    if (values.size() != 2 || values[0].empty() || values[1].empty()) continue;
    size_t n = 0;
    for (const store::IndexEntry& a : values[0]) {
      for (const store::IndexEntry& b : values[1]) {
        if (++n > kMaxPerElement) break;
        store::IndexEntry e;
        e.kind = Kind::kComposite;
        e.param = p.def->code;
        e.components = {a, b};
        std::optional<store::IndexEntry> ca = CanonicalQuantity(a), cb = CanonicalQuantity(b);
        if (ca || cb) {
          store::IndexEntry canonical = e;
          canonical.param += ":canonical";
          if (ca) canonical.components[0] = std::move(*ca);
          if (cb) canonical.components[1] = std::move(*cb);
          out.push_back(std::move(e));
          out.push_back(std::move(canonical));
        } else {
          out.push_back(std::move(e));
        }
      }
    }
  }
}

Result<Extracted> FhirPathIndexer::Extract(std::string_view type, std::string_view id,
                                           const json::Value& resource) const {
  return ExtractPart(type, id, resource, Part::kAll);
}

Result<std::optional<Extracted>> FhirPathIndexer::ExtractStable(
    std::string_view type, std::string_view id, const json::Value& resource) const {
  return std::optional<Extracted>(ExtractPart(type, id, resource, Part::kStable));
}

Result<std::vector<store::IndexEntry>> FhirPathIndexer::ExtractWriteTime(
    std::string_view type, std::string_view id, const json::Value& resource) const {
  return std::move(ExtractPart(type, id, resource, Part::kWriteTime).index);
}

namespace {

// A person under Folkeregister address confidentiality (no/confidentiality.h)
// must not be findable by address either: no address parameters, no narrative
// (_text), and _content without the addresses — else anyone could probe
// where the person lives (Patient?address=…&_id=…).
bool IsAddressParam(std::string_view code) {
  return code == "address" || code.rfind("address-", 0) == 0;
}

}  // namespace

Extracted FhirPathIndexer::ExtractPart(std::string_view type, std::string_view id,
                                       const json::Value& resource, Part part) const {
  Extracted out;
  auto it = by_type_.find(std::string(type));
  if (it == by_type_.end()) return out;
  const bool hide_address = no::HasConfidentialAddress(resource);
  fhirpath::EvalOptions options;
  options.resolver = [](std::string_view reference) { return StubFor(reference); };
  for (const Param& p : it->second) {
    if (part == Part::kStable && p.write_time) continue;
    if (part == Part::kWriteTime && !p.write_time) continue;
    if (hide_address && IsAddressParam(p.def->code)) continue;
    size_t first = out.index.size();
    if (!p.components.empty()) {
      ExtractComposite(p, resource, options, out.index);
    } else {
      auto result = p.expression.Evaluate(resource, options);
      if (!result.ok()) continue;
      for (const fhirpath::Item& item : *result) AppendEntries(*p.def, item, out.index);
    }
    // Drop duplicates within one parameter (e.g. the same code twice).
    std::unordered_set<std::string> keys;
    size_t kept = first;
    for (size_t i = first; i < out.index.size(); ++i) {
      if (keys.insert(EntryKey(out.index[i])).second) {
        if (kept != i) out.index[kept] = std::move(out.index[i]);
        ++kept;
      }
    }
    out.index.resize(kept);
  }
  if (part == Part::kWriteTime) return out;
  // Full text: the narrative (DomainResources) and everything.
  if (model_.IsA(type, "DomainResource") && !hide_address) {
    if (const json::Value* text = resource.find("text")) {
      std::string narrative = NarrativeText(Str(text->find("div")));
      if (narrative.find_first_not_of(" \t\r\n") != std::string::npos) {
        store::IndexEntry e;
        e.kind = Kind::kText;
        e.param = "_text";
        e.text = Fold(narrative.substr(0, kMaxContentBytes));
        out.index.push_back(std::move(e));
      }
    }
  }
  {
    std::string content;
    if (hide_address) {
      // Everything but where the person lives (and the narrative, which may say it).
      json::Value copy = resource;
      no::RemoveAddress(copy);
      CollectContent(copy, "", content);
    } else {
      CollectContent(resource, "", content);
    }
    if (!content.empty()) {
      store::IndexEntry e;
      e.kind = Kind::kText;
      e.param = "_content";
      e.text = Fold(content.substr(0, kMaxContentBytes));
      out.index.push_back(std::move(e));
    }
  }
  out.compartments = CompartmentKeys(type, id, out.index);
  return out;
}

std::vector<std::string> FhirPathIndexer::CompartmentKeys(
    std::string_view type, std::string_view id, const std::vector<store::IndexEntry>& index) const {
  std::vector<std::string> keys;
  if (type == "Patient") keys.emplace_back(id);
  // In the compartment definition's parameter order, so the primary key is
  // the patient the resource is about (subject before performer).
  if (const auto* params = model_.PatientCompartmentParams(type)) {
    for (const std::string& param : *params) {
      for (const auto& e : index) {
        if (e.kind != Kind::kReference || e.param != param || e.system != "Patient" ||
            e.code.empty()) {
          continue;
        }
        if (std::find(keys.begin(), keys.end(), e.code) == keys.end()) keys.push_back(e.code);
      }
    }
  }
  return keys;
}

Result<std::vector<std::string>> FhirPathIndexer::Compartments(std::string_view type,
                                                               std::string_view id,
                                                               const json::Value& resource) const {
  std::vector<store::IndexEntry> index;
  auto it = by_type_.find(std::string(type));
  const auto* params = model_.PatientCompartmentParams(type);
  if (it != by_type_.end() && params != nullptr) {
    fhirpath::EvalOptions options;
    options.resolver = [](std::string_view reference) { return StubFor(reference); };
    for (const Param& p : it->second) {
      if (!p.components.empty() ||
          std::find(params->begin(), params->end(), p.def->code) == params->end()) {
        continue;
      }
      auto result = p.expression.Evaluate(resource, options);
      if (!result.ok()) continue;
      for (const fhirpath::Item& item : *result) AppendEntries(*p.def, item, index);
    }
  }
  return CompartmentKeys(type, id, index);
}

}  // namespace gm::search
