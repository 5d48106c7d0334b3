// ProfileRegistry: compiling StructureDefinitions into element trees, and the
// ValueSets/CodeSystems used by required bindings.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "fhir/validator.h"
#include "profile/compiled.h"
#include "profile/profile.h"
#include "profile/shared.h"
#include "validation/invariants.h"

namespace gm::profile {

using internal::ElementNode;

namespace {

Status AddError(std::string code, std::string type, std::string text) {
  return Status::Error(ErrorCategory::kUnprocessable, std::move(code), std::move(type),
                       std::move(text));
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.emplace_back(s.substr(start, p == std::string_view::npos ? s.npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

int ParseMax(std::string_view s, int fallback) {
  if (s == "*") return -1;
  if (s.empty()) return fallback;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return fallback;
    v = v * 10 + (c - '0');
    if (v > 1'000'000) return -1;
  }
  return v;
}

int ParseMin(const json::Value* v, int fallback) {
  if (v == nullptr || !v->is_number()) return fallback;
  return ParseMax(v->str(), fallback);
}

std::string StripVersion(std::string_view url) {
  size_t bar = url.find('|');
  return std::string(bar == url.npos ? url : url.substr(0, bar));
}

// The (key, expression) pairs of every constraint in the base model: a
// profile snapshot repeats them, and the structural validator evaluates them.
const std::unordered_set<std::string>& CoreConstraints(const fhir::Model& model) {
  static std::mutex mu;
  static std::unordered_map<const fhir::Model*, std::unordered_set<std::string>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(&model);
  if (it != cache.end()) return it->second;
  std::unordered_set<std::string>& set = cache[&model];
  std::unordered_set<const fhir::TypeDef*> seen;
  std::vector<const fhir::TypeDef*> work;
  auto visit = [&](const fhir::TypeDef* t) {
    if (t != nullptr && seen.insert(t).second) work.push_back(t);
  };
  auto add = [&](const std::vector<fhir::Constraint>& list) {
    for (const fhir::Constraint& c : list) set.insert(c.key + '\n' + c.expression);
  };
  for (const std::string& name : model.ResourceTypes()) visit(model.Type(name));
  for (const char* name : {"Extension", "Element", "BackboneElement", "Resource", "DomainResource"}) {
    visit(model.Type(name));
  }
  while (!work.empty()) {
    const fhir::TypeDef* t = work.back();
    work.pop_back();
    add(t->constraints);
    if (!t->base.empty()) visit(model.Type(t->base));
    for (const fhir::ElementDef& el : t->elements) {
      add(el.constraints);
      visit(el.type);
      for (const fhir::TypeRef& ref : el.types) visit(model.Type(ref.code));
    }
  }
  return set;
}

const fhir::ElementDef* ModelChild(const fhir::TypeDef* type, std::string_view stem) {
  if (type == nullptr) return nullptr;
  for (const fhir::ElementDef& e : type->elements) {
    if (e.name == stem) return &e;
  }
  return nullptr;
}

void FlattenConcepts(const json::Value* concepts, std::unordered_set<std::string>& out) {
  if (concepts == nullptr || !concepts->is_array()) return;
  for (const json::Value& c : concepts->array()) {
    std::string_view code = c.get_string("code");
    if (!code.empty()) out.emplace(code);
    FlattenConcepts(c.find("concept"), out);
  }
}

}  // namespace

// Profile constraints known to be broken as published, keyed by profile url,
// constraint key and exact expression (like validation::KnownBrokenInvariants).
const std::vector<BrokenProfileInvariant>& KnownBrokenProfileInvariants() {
  static const std::vector<BrokenProfileInvariant> kList = {
      {"http://hl7.no/fhir/StructureDefinition/no-basis-AppointmentResponse", "inv-1",
       "extension.where(url = 'http://hl7.no/fhir/StructureDefinition/no-basis-shortnotice')."
       "value.exists() and actor.type.value = 'Patient'",
       "extension.where(url = 'http://hl7.no/fhir/StructureDefinition/no-basis-shortnotice')."
       "value.exists() implies (actor.type = 'Patient' or actor.reference.startsWith('Patient/'))",
       "its human text says the shortNotice extension may only be used when the actor is a "
       "Patient, but the expression says every response must carry the extension ('and' for "
       "'implies'), failing every AppointmentResponse without it; evaluated as the text says"},
  };
  return kList;
}

Profile::Profile() = default;
Profile::~Profile() = default;

struct ProfileCompiler {
  const fhir::Model& model;
  std::string url;
  std::unordered_map<std::string, ElementNode*> by_id;

  static void FillTypes(ElementNode& n, const json::Value& e) {
    const json::Value* types = e.find("type");
    if (types == nullptr || !types->is_array()) return;
    for (const json::Value& t : types->array()) {
      internal::TypeSpec spec;
      spec.code = std::string(t.get_string("code"));
      if (const json::Value* p = t.find("profile"); p && p->is_array()) {
        for (const json::Value& s : p->array()) {
          if (s.is_string()) spec.profiles.push_back(s.str());
        }
      }
      if (const json::Value* p = t.find("targetProfile"); p && p->is_array()) {
        for (const json::Value& s : p->array()) {
          if (s.is_string()) spec.target_profiles.push_back(s.str());
        }
      }
      n.types.push_back(std::move(spec));
    }
  }

  void FillInvariants(ElementNode& n, const json::Value& e) {
    const json::Value* cs = e.find("constraint");
    if (cs == nullptr || !cs->is_array()) return;
    const auto& core = CoreConstraints(model);
    for (const json::Value& c : cs->array()) {
      std::string key(c.get_string("key"));
      std::string expr(c.get_string("expression"));
      if (key.empty() || expr.empty() || fhir::IsNativeConstraint(key)) continue;
      if (core.count(key + '\n' + expr)) continue;
      bool skip = false;
      for (const auto& k : validation::KnownBrokenInvariants()) {
        if (key == k.key && expr == k.expression) {
          if (k.replacement.empty()) skip = true;
          expr = std::string(k.replacement);
        }
      }
      for (const auto& k : KnownBrokenProfileInvariants()) {
        if (url == k.profile && key == k.key && expr == k.expression) expr = k.replacement;
      }
      if (skip) continue;
      internal::Invariant inv;
      inv.key = key;
      inv.severity = std::string(c.get_string("severity"));
      inv.human = std::string(c.get_string("human"));
      auto compiled = fhirpath::Expression::Compile(expr);
      if (compiled.ok()) {
        inv.expression = std::move(compiled).value();
      } else {
        inv.compile_failure = compiled.status().code();
      }
      n.invariants.push_back(std::move(inv));
    }
  }

  static void FillSlicing(ElementNode& n, const json::Value& e) {
    const json::Value* s = e.find("slicing");
    if (s == nullptr || !s->is_object()) return;
    n.sliced = true;
    if (std::string_view r = s->get_string("rules"); !r.empty()) n.rules = std::string(r);
    if (const json::Value* o = s->find("ordered"); o && o->is_bool()) n.ordered = o->as_bool();
    if (const json::Value* ds = s->find("discriminator"); ds && ds->is_array()) {
      for (const json::Value& d : ds->array()) {
        internal::Discriminator disc;
        std::string_view type = d.get_string("type");
        std::string_view path = d.get_string("path");
        using K = internal::Discriminator::Kind;
        disc.kind = type == "value"     ? K::kValue
                    : type == "pattern" ? K::kPattern
                    : type == "exists"  ? K::kExists
                    : type == "type"    ? K::kType
                    : type == "profile" ? K::kProfile
                                        : K::kUnsupported;
        if (path.find_first_of("()[] '") != path.npos) disc.kind = K::kUnsupported;
        if (path != "$this" && !path.empty()) {
          disc.path = Split(path, '.');
          if (!disc.path.empty() && disc.path.front() == "$this") disc.path.erase(disc.path.begin());
        }
        n.discriminators.push_back(std::move(disc));
      }
    }
  }

  void LinkModel(ElementNode& n, const fhir::TypeDef* parent_type,
                 const fhir::ElementDef* sliced_element) {
    n.model_element = sliced_element != nullptr ? sliced_element : ModelChild(parent_type, n.name);
    if (n.model_element != nullptr && n.model_element->type != nullptr) {
      n.model_type = n.model_element->type;
    } else if (n.types.size() == 1) {
      n.model_type = model.Type(n.types[0].code);
    } else {
      n.model_type = nullptr;
    }
    // Reference targets: check when the profile's list differs from the base.
    if (n.model_element == nullptr) return;
    for (const internal::TypeSpec& t : n.types) {
      if (t.target_profiles.empty()) continue;
      const fhir::TypeRef* base = nullptr;
      for (const fhir::TypeRef& r : n.model_element->types) {
        if (r.code == t.code) base = &r;
      }
      std::unordered_set<std::string> base_targets;
      if (base != nullptr) base_targets.insert(base->targets.begin(), base->targets.end());
      for (const std::string& tp : t.target_profiles) {
        std::string_view prefix = "http://hl7.org/fhir/StructureDefinition/";
        if (tp.rfind(prefix, 0) != 0 || !base_targets.count(tp.substr(prefix.size()))) {
          n.check_targets = true;
        }
      }
    }
  }

  Result<std::shared_ptr<Profile>> Compile(const json::Value& sd) {
    if (!sd.is_object() || sd.get_string("resourceType") != "StructureDefinition") {
      return AddError("GM-PROF-001", "invalid", "not a StructureDefinition");
    }
    url = std::string(sd.get_string("url"));
    std::string type(sd.get_string("type"));
    const json::Value* snapshot = sd.find("snapshot");
    const json::Value* elements = snapshot != nullptr ? snapshot->find("element") : nullptr;
    if (url.empty() || type.empty() || elements == nullptr || !elements->is_array() ||
        elements->empty()) {
      return AddError("GM-PROF-002", "required",
                      "a profile needs url, type and snapshot.element (" +
                          (url.empty() ? std::string("no url") : url) + ")");
    }
    if (sd.get_string("derivation") != "constraint") {
      return AddError("GM-PROF-003", "not-supported",
                      "profile " + url + ": only constraint profiles (derivation = constraint) "
                      "can be validated against");
    }
    if (sd.get_string("kind") == "logical" || model.Type(type) == nullptr) {
      return AddError("GM-PROF-003", "not-supported",
                      "profile " + url + ": type " + type + " is not a FHIR R4 type");
    }
    auto profile = std::shared_ptr<Profile>(new Profile());
    profile->url_ = url;
    profile->version_ = std::string(sd.get_string("version"));
    profile->type_ = type;

    auto bad = [&](const std::string& id, const std::string& why) {
      return AddError("GM-PROF-004", "invalid",
                      "profile " + url + ": snapshot element " + id + ": " + why);
    };
    bool first = true;
    for (const json::Value& e : elements->array()) {
      std::string path(e.get_string("path"));
      std::string id(e.get_string("id"));
      if (id.empty()) id = path;
      if (path.empty()) return bad(id, "no path");
      std::vector<std::string> psegs = Split(path, '.');
      std::vector<std::string> isegs = Split(id, '.');
      if (psegs.size() != isegs.size()) return bad(id, "id does not follow path");
      if (psegs[0] != type) return bad(id, "path does not start with the profile's type");
      if (by_id.count(id)) return bad(id, "duplicate element id");

      std::unique_ptr<ElementNode> owned;
      ElementNode* node = nullptr;
      if (first) {
        if (psegs.size() != 1) return bad(id, "the first element must be the type itself");
        profile->root_ = std::make_unique<ElementNode>();
        node = profile->root_.get();
        node->name = type;
        node->model_type = model.Type(type);
        first = false;
      } else {
        if (psegs.size() < 2) return bad(id, "a second root element");
        // The parent: the element whose id is this id without its last segment.
        std::string parent_id = id.substr(0, id.size() - isegs.back().size() - 1);
        auto pit = by_id.find(parent_id);
        if (pit == by_id.end()) return bad(id, "its parent element is not in the snapshot");
        ElementNode* parent = pit->second;
        const std::string& last = isegs.back();
        size_t colon = last.find(':');
        std::string seg = last.substr(0, colon);
        if (seg != psegs.back()) return bad(id, "id does not follow path");
        bool choice = seg.size() > 3 && seg.compare(seg.size() - 3, 3, "[x]") == 0;
        std::string stem = choice ? seg.substr(0, seg.size() - 3) : seg;
        owned = std::make_unique<ElementNode>();
        node = owned.get();
        node->name = stem;
        node->choice = choice;
        const fhir::TypeDef* parent_type = parent->content ? parent->content->model_type
                                                           : parent->model_type;
        FillTypes(*node, e);
        if (colon != std::string::npos) {
          // A slice of the sibling element named by the id without ":slice".
          std::string sliced_id = parent_id + "." + seg;
          auto sit = by_id.find(sliced_id);
          if (sit == by_id.end()) return bad(id, "slice of an element not in the snapshot");
          node->slice_name = last.substr(colon + 1);
          LinkModel(*node, parent_type, sit->second->model_element);
          sit->second->slices.push_back(std::move(owned));
        } else {
          LinkModel(*node, parent_type, nullptr);
          parent->children.push_back(std::move(owned));
        }
      }
      node->id = id;
      node->path = path;
      by_id[id] = node;
      node->min = ParseMin(e.find("min"), 0);
      node->max = ParseMax(e.get_string("max"), -1);
      node->base_min = node->min;
      node->base_max = node->max;
      if (node->model_element != nullptr) {
        node->base_min = node->model_element->min;
        node->base_max = node->model_element->max;
      }
      if (const json::Value* base = e.find("base"); base && base->is_object()) {
        node->base_min = ParseMin(base->find("min"), node->base_min);
        node->base_max = ParseMax(base->get_string("max"), node->base_max);
      }
      for (const json::Member& m : e.object()) {
        if (m.first.rfind("fixed", 0) == 0 && m.first.size() > 5) {
          node->fixed = m.second;
          node->fixed_key = m.first;
        } else if (m.first.rfind("pattern", 0) == 0 && m.first.size() > 7) {
          node->pattern = m.second;
          node->pattern_key = m.first;
        }
      }
      if (const json::Value* b = e.find("binding"); b && b->get_string("strength") == "required") {
        node->required_valueset = StripVersion(b->get_string("valueSet"));
      }
      FillInvariants(*node, e);
      FillSlicing(*node, e);
      if (std::string_view cr = e.get_string("contentReference"); !cr.empty()) {
        node->content_reference = std::string(cr);
      }
      ++profile->element_count_;
    }
    // contentReference "#Composition.section" (or "url#id") → the node with that id.
    for (auto& [id, node] : by_id) {
      if (node->content_reference.empty()) continue;
      size_t hash = node->content_reference.find('#');
      auto it = by_id.find(node->content_reference.substr(hash == std::string::npos ? 0 : hash + 1));
      if (it != by_id.end() && it->second != node) node->content = it->second;
    }
    return profile;
  }
};

ProfileRegistry::ProfileRegistry(const fhir::Model& model) : model_(model) {}
ProfileRegistry::~ProfileRegistry() = default;

bool ProfileRegistry::Handles(std::string_view resource_type) {
  return resource_type == "StructureDefinition" || resource_type == "ValueSet" ||
         resource_type == "CodeSystem";
}

Status ProfileRegistry::Add(const json::Value& structure_definition) {
  ProfileCompiler compiler{model_, {}, {}};
  GM_ASSIGN_OR_RETURN(std::shared_ptr<Profile> profile, compiler.Compile(structure_definition));
  std::unique_lock lock(mu_);
  auto& versions = profiles_[profile->url()];
  versions.erase(std::remove_if(versions.begin(), versions.end(),
                                [&](const auto& p) { return p->version() == profile->version(); }),
                 versions.end());
  versions.push_back(std::move(profile));
  return Status::Ok();
}

Status ProfileRegistry::AddTerminology(const json::Value& resource) {
  std::string_view rt = resource.get_string("resourceType");
  std::string url(resource.get_string("url"));
  if (rt != "ValueSet" && rt != "CodeSystem") {
    return AddError("GM-PROF-001", "invalid", "not a ValueSet or CodeSystem");
  }
  if (url.empty()) return AddError("GM-PROF-002", "required", std::string(rt) + " without url");
  if (rt == "CodeSystem") {
    auto cs = std::make_shared<internal::CodeSystemIndex>();
    cs->url = url;
    cs->complete = resource.get_string("content") == "complete";
    FlattenConcepts(resource.find("concept"), cs->codes);
    std::unique_lock lock(mu_);
    codesystems_[url] = std::move(cs);
  } else {
    std::unique_lock lock(mu_);
    auto& v = valuesets_[url];
    std::string_view version = resource.get_string("version");
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&](const json::Value& x) { return x.get_string("version") == version; }),
            v.end());
    v.push_back(resource);
  }
  return Status::Ok();
}

Status ProfileRegistry::AddResource(const json::Value& resource) {
  std::string_view rt = resource.get_string("resourceType");
  if (rt == "StructureDefinition") return Add(resource);
  if (rt == "ValueSet" || rt == "CodeSystem") return AddTerminology(resource);
  return Status::Ok();
}

bool ProfileRegistry::Unregister(std::string_view resource_type, std::string_view url,
                                 std::string_view version) {
  std::unique_lock lock(mu_);
  const std::string key(url);
  if (resource_type == "CodeSystem") return codesystems_.erase(key) > 0;
  if (resource_type == "ValueSet") {
    auto it = valuesets_.find(key);
    if (it == valuesets_.end()) return false;
    auto& v = it->second;
    size_t before = v.size();
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&](const json::Value& x) { return x.get_string("version") == version; }),
            v.end());
    bool removed = v.size() != before;
    if (v.empty()) valuesets_.erase(it);
    return removed;
  }
  if (resource_type == "StructureDefinition") {
    auto it = profiles_.find(key);
    if (it == profiles_.end()) return false;
    auto& v = it->second;
    size_t before = v.size();
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&](const auto& p) { return p->version() == version; }),
            v.end());
    bool removed = v.size() != before;
    if (v.empty()) profiles_.erase(it);
    return removed;
  }
  return false;
}

Status ProfileRegistry::LoadDirectory(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".json" && it->is_regular_file()) files.push_back(it->path());
  }
  if (ec) {
    return Status::Error(ErrorCategory::kInternal, "GM-PROF-005", "exception",
                         "cannot read profile directory " + path + ": " + ec.message());
  }
  std::sort(files.begin(), files.end());
  std::vector<Issue> problems;
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in.good() && !in.eof()) {
      problems.push_back(Issue{Severity::kError, "exception", "GM-PROF-005",
                               f.filename().string() + ": cannot be read", ""});
      continue;
    }
    auto parsed = json::Parse(ss.str());
    if (!parsed.ok()) {
      problems.push_back(Issue{Severity::kError, "exception", "GM-PROF-005",
                               f.filename().string() + ": " + parsed.status().message(), ""});
      continue;
    }
    if (!Handles(parsed->get_string("resourceType"))) continue;
    Status st = AddResource(*parsed);
    if (!st.ok()) {
      for (Issue i : st.issues()) {
        i.text = f.filename().string() + ": " + i.text;
        problems.push_back(std::move(i));
      }
    }
  }
  if (!problems.empty()) return Status(ErrorCategory::kUnprocessable, std::move(problems));
  return Status::Ok();
}

std::shared_ptr<const Profile> ProfileRegistry::Find(std::string_view canonical) const {
  size_t bar = canonical.find('|');
  std::string url(canonical.substr(0, bar));
  std::shared_lock lock(mu_);
  auto it = profiles_.find(url);
  if (it == profiles_.end() || it->second.empty()) return nullptr;
  if (bar == std::string_view::npos) return it->second.back();
  std::string_view version = canonical.substr(bar + 1);
  for (const auto& p : it->second) {
    if (p->version() == version) return p;
  }
  return nullptr;
}

size_t ProfileRegistry::size() const {
  std::shared_lock lock(mu_);
  size_t n = 0;
  for (const auto& [url, v] : profiles_) n += v.size();
  return n;
}

std::vector<std::string> ProfileRegistry::Urls() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [url, v] : profiles_) out.push_back(url);
  std::sort(out.begin(), out.end());
  return out;
}

bool ProfileRegistry::HasValueSet(std::string_view valueset) const {
  std::shared_lock lock(mu_);
  auto it = valuesets_.find(std::string(valueset.substr(0, valueset.find('|'))));
  return it != valuesets_.end() && !it->second.empty();
}

std::optional<bool> ProfileRegistry::ValueSetContains(std::string_view valueset,
                                                      std::string_view system,
                                                      std::string_view code) const {
  std::shared_lock lock(mu_);
  size_t bar = valueset.find('|');
  auto it = valuesets_.find(std::string(valueset.substr(0, bar)));
  if (it == valuesets_.end() || it->second.empty()) return std::nullopt;
  const json::Value* vs = &it->second.back();
  if (bar != std::string_view::npos) {
    vs = nullptr;
    for (const json::Value& v : it->second) {
      if (v.get_string("version") == valueset.substr(bar + 1)) vs = &v;
    }
    if (vs == nullptr) return std::nullopt;
  }
  auto system_matches = [&](std::string_view s) { return system.empty() || s == system; };
  auto listed = [&](const json::Value* concepts) {
    if (concepts == nullptr || !concepts->is_array()) return false;
    for (const json::Value& c : concepts->array()) {
      if (c.get_string("code") == code) return true;
    }
    return false;
  };
  // An expansion, when present, is authoritative.
  if (const json::Value* exp = vs->find("expansion"); exp && exp->find("contains")) {
    std::vector<const json::Value*> stack{exp->find("contains")};
    while (!stack.empty()) {
      const json::Value* list = stack.back();
      stack.pop_back();
      if (!list->is_array()) continue;
      for (const json::Value& c : list->array()) {
        if (c.get_string("code") == code && system_matches(c.get_string("system"))) return true;
        if (const json::Value* sub = c.find("contains")) stack.push_back(sub);
      }
    }
    return false;
  }
  const json::Value* compose = vs->find("compose");
  if (compose == nullptr) return std::nullopt;
  bool unknown = false, found = false;
  if (const json::Value* inc = compose->find("include"); inc && inc->is_array()) {
    for (const json::Value& i : inc->array()) {
      std::string_view s = i.get_string("system");
      if (i.find("valueSet") != nullptr || i.find("filter") != nullptr || s.empty()) {
        if (s.empty() || system_matches(s)) unknown = true;
        continue;
      }
      if (!system_matches(s)) continue;
      if (const json::Value* concepts = i.find("concept")) {
        if (listed(concepts)) found = true;
        continue;
      }
      auto cs = codesystems_.find(std::string(s));
      if (cs == codesystems_.end() || !cs->second->complete) {
        unknown = true;
      } else if (cs->second->codes.count(std::string(code))) {
        found = true;
      }
    }
  }
  if (found) {
    if (const json::Value* exc = compose->find("exclude"); exc && exc->is_array()) {
      for (const json::Value& e : exc->array()) {
        if (system_matches(e.get_string("system")) && listed(e.find("concept"))) return false;
      }
    }
    return true;
  }
  if (unknown) return std::nullopt;
  return false;
}

}  // namespace gm::profile
