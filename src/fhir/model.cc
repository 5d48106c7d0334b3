#include "fhir/model.h"

#include <cstdlib>
#include <iostream>

extern "C" {
extern const char gm_fhir_model_start[];
extern const char gm_fhir_model_end[];
}

namespace gm::fhir {

std::string_view EmbeddedModelJson() {
  return std::string_view(gm_fhir_model_start,
                          static_cast<size_t>(gm_fhir_model_end - gm_fhir_model_start));
}

namespace {

constexpr size_t kTypeShift = 8;  // index_ packs (element << 8) | (chosen type + 1)

std::string Capitalize(std::string_view s) {
  std::string r(s);
  if (!r.empty() && r[0] >= 'a' && r[0] <= 'z') r[0] = static_cast<char>(r[0] - 'a' + 'A');
  return r;
}

TypeKind KindOf(std::string_view k) {
  if (k == "primitive-type") return TypeKind::kPrimitive;
  if (k == "resource") return TypeKind::kResource;
  if (k == "logical") return TypeKind::kLogical;
  return TypeKind::kComplex;
}

std::vector<std::string> Strings(const json::Value* v) {
  std::vector<std::string> out;
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& e : v->array()) {
    if (e.is_string()) out.push_back(e.str());
  }
  return out;
}

std::vector<Constraint> Constraints(const json::Value* v) {
  std::vector<Constraint> out;
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& c : v->array()) {
    if (!c.is_array() || c.size() < 4) continue;
    out.push_back(Constraint{c.array()[0].str(), c.array()[1].str(), c.array()[2].str(),
                             c.array()[3].str()});
  }
  return out;
}

int ToInt(const json::Value* v, int fallback) {
  if (v == nullptr || !v->is_number()) return fallback;
  return std::atoi(v->str().c_str());
}

}  // namespace

const ElementDef* TypeDef::Child(std::string_view name) const {
  auto it = index_.find(std::string(name));
  if (it == index_.end() || (it->second & ((1u << kTypeShift) - 1)) != 0) return nullptr;
  return &elements[it->second >> kTypeShift];
}

TypeDef::Match TypeDef::Find(std::string_view json_name) const {
  auto it = index_.find(std::string(json_name));
  if (it == index_.end()) return {};
  const ElementDef& e = elements[it->second >> kTypeShift];
  size_t t = it->second & ((1u << kTypeShift) - 1);
  if (t == 0) return {&e, e.types.size() == 1 ? &e.types[0] : nullptr};
  return {&e, &e.types[t - 1]};
}

Result<Model> Model::FromJson(const json::Value& doc) {
  Model m;
  m.version_ = std::string(doc.get_string("version"));
  const json::Value* types = doc.find("types");
  if (types == nullptr || !types->is_array()) {
    return Status::Error(ErrorCategory::kInternal, "GM-MODEL-001", "exception",
                         "FHIR model has no types");
  }
  // Pass 1: create type definitions and their elements (backbones by path).
  std::unordered_map<std::string, TypeDef*> by_path;
  struct Pending {
    TypeDef* owner;
    size_t index;
    std::string content_ref;
  };
  std::vector<Pending> pending;
  for (const auto& t : types->array()) {
    auto def = std::make_unique<TypeDef>();
    def->name = std::string(t.get_string("n"));
    def->kind = KindOf(t.get_string("k"));
    def->base = std::string(t.get_string("b"));
    def->abstract = ToInt(t.find("a"), 0) != 0;
    def->regex = std::string(t.get_string("rx"));
    def->system_type = std::string(t.get_string("sys"));
    def->constraints = Constraints(t.find("rc"));
    TypeDef* root = def.get();
    by_path[root->name] = root;
    m.owned_.push_back(std::move(def));
    const json::Value* elements = t.find("e");
    if (elements == nullptr) continue;
    for (const auto& e : elements->array()) {
      std::string path(e.get_string("p"));
      size_t dot = path.rfind('.');
      if (dot == std::string::npos) continue;
      std::string parent_path = path.substr(0, dot);
      auto parent_it = by_path.find(parent_path);
      TypeDef* parent = nullptr;
      if (parent_it != by_path.end()) {
        parent = parent_it->second;
      } else {
        // First child of an inline backbone element: create its type.
        auto bb = std::make_unique<TypeDef>();
        bb->name = parent_path;
        bb->kind = TypeKind::kBackbone;
        bb->base = root->kind == TypeKind::kResource ? "BackboneElement" : "Element";
        parent = bb.get();
        by_path[parent_path] = parent;
        m.owned_.push_back(std::move(bb));
      }
      ElementDef el;
      el.path = path;
      el.name = path.substr(dot + 1);
      if (el.name.size() > 3 && el.name.compare(el.name.size() - 3, 3, "[x]") == 0) {
        el.choice = true;
        el.name.resize(el.name.size() - 3);
      }
      el.min = ToInt(e.find("mn"), 0);
      el.max = ToInt(e.find("mx"), 1);
      el.array = ToInt(e.find("ar"), 0) != 0;
      el.summary = ToInt(e.find("su"), 0) != 0;
      el.modifier = ToInt(e.find("mo"), 0) != 0;
      el.constraints = Constraints(e.find("co"));
      if (const json::Value* bd = e.find("bd"); bd && bd->is_array() && bd->size() == 2) {
        el.binding_strength = bd->array()[0].str();
        el.binding_valueset = bd->array()[1].str();
      }
      if (const json::Value* ty = e.find("ty"); ty && ty->is_array()) {
        for (const auto& r : ty->array()) {
          TypeRef ref;
          ref.code = std::string(r.get_string("c"));
          ref.system = ToInt(r.find("s"), 0) != 0;
          ref.targets = Strings(r.find("t"));
          el.types.push_back(std::move(ref));
        }
      }
      parent->elements.push_back(std::move(el));
      pending.push_back({parent, parent->elements.size() - 1, std::string(e.get_string("cr"))});
    }
  }
  for (const auto& def : m.owned_) m.types_[def->name] = def.get();

  // Pass 2: index children and resolve element types.
  for (const auto& def : m.owned_) {
    for (size_t i = 0; i < def->elements.size(); ++i) {
      const ElementDef& el = def->elements[i];
      if (el.choice) {
        for (size_t t = 0; t < el.types.size(); ++t) {
          def->index_[el.name + Capitalize(el.types[t].code)] = (i << kTypeShift) | (t + 1);
        }
      } else {
        def->index_[el.name] = i << kTypeShift;
      }
    }
  }
  for (const auto& p : pending) {
    ElementDef& el = p.owner->elements[p.index];
    if (!p.content_ref.empty()) {
      auto it = by_path.find(p.content_ref);
      if (it != by_path.end()) el.type = it->second;
      continue;
    }
    if (el.choice || el.types.size() != 1) continue;
    auto bb = by_path.find(el.path);
    if (bb != by_path.end() && bb->second->kind == TypeKind::kBackbone) {
      el.type = bb->second;
    } else {
      auto it = m.types_.find(el.types[0].code);
      if (it != m.types_.end()) el.type = it->second;
    }
  }

  for (const auto& def : m.owned_) {
    if (def->kind == TypeKind::kResource && !def->abstract) m.resource_types_.push_back(def->name);
  }

  if (const json::Value* sps = doc.find("searchParams"); sps && sps->is_array()) {
    for (const auto& s : sps->array()) {
      auto sp = std::make_unique<SearchParamDef>();
      sp->code = std::string(s.get_string("c"));
      sp->url = std::string(s.get_string("u"));
      sp->type = std::string(s.get_string("ty"));
      sp->expression = std::string(s.get_string("x"));
      sp->base = Strings(s.find("b"));
      sp->target = Strings(s.find("t"));
      sp->modifiers = Strings(s.find("m"));
      if (const json::Value* cp = s.find("cp"); cp && cp->is_array()) {
        for (const auto& c : cp->array()) {
          if (c.is_array() && c.size() == 2) {
            sp->components.push_back({c.array()[0].str(), c.array()[1].str()});
          }
        }
      }
      for (const auto& b : sp->base) m.params_by_base_[b].push_back(sp.get());
      m.params_.push_back(std::move(sp));
    }
  }
  if (const json::Value* c = doc.find("compartment"); c && c->is_object()) {
    for (const auto& [type, params] : c->object()) m.compartment_[type] = Strings(&params);
  }
  if (const json::Value* c = doc.find("codes"); c && c->is_object()) {
    for (const auto& [url, codes] : c->object()) m.codes_[url] = Strings(&codes);
  }
  return m;
}

const Model& Model::R4() {
  static const Model* model = [] {
    auto doc = json::Parse(EmbeddedModelJson(), json::ParseOptions{.max_depth = 64});
    if (!doc.ok()) {
      std::cerr << "grunnmur: embedded FHIR model is corrupt: " << doc.status().message() << "\n";
      std::abort();
    }
    auto m = FromJson(*doc);
    if (!m.ok()) {
      std::cerr << "grunnmur: embedded FHIR model is invalid: " << m.status().message() << "\n";
      std::abort();
    }
    return new Model(std::move(m).value());
  }();
  return *model;
}

const TypeDef* Model::Type(std::string_view name) const {
  auto it = types_.find(std::string(name));
  return it == types_.end() ? nullptr : it->second;
}

bool Model::IsResourceType(std::string_view name) const {
  const TypeDef* t = Type(name);
  return t != nullptr && t->kind == TypeKind::kResource && !t->abstract;
}

bool Model::IsA(std::string_view type, std::string_view ancestor) const {
  std::string current(type);
  for (int guard = 0; guard < 16 && !current.empty(); ++guard) {
    if (current == ancestor) return true;
    const TypeDef* t = Type(current);
    if (t == nullptr) return false;
    current = t->base;
  }
  return false;
}

std::vector<const SearchParamDef*> Model::SearchParams(std::string_view resource_type) const {
  std::vector<const SearchParamDef*> out;
  for (const char* base : {"Resource", "DomainResource"}) {
    if (base == std::string_view("DomainResource") && !IsA(resource_type, "DomainResource")) {
      continue;
    }
    auto it = params_by_base_.find(base);
    if (it != params_by_base_.end()) out.insert(out.end(), it->second.begin(), it->second.end());
  }
  auto it = params_by_base_.find(std::string(resource_type));
  if (it != params_by_base_.end()) out.insert(out.end(), it->second.begin(), it->second.end());
  return out;
}

const SearchParamDef* Model::SearchParam(std::string_view resource_type,
                                         std::string_view code) const {
  for (const SearchParamDef* p : SearchParams(resource_type)) {
    if (p->code == code) return p;
  }
  return nullptr;
}

const std::vector<std::string>* Model::PatientCompartmentParams(
    std::string_view resource_type) const {
  auto it = compartment_.find(std::string(resource_type));
  return it == compartment_.end() ? nullptr : &it->second;
}

const std::vector<std::string>* Model::ValueSetCodes(std::string_view url) const {
  std::string key(url.substr(0, url.find('|')));
  auto it = codes_.find(key);
  return it == codes_.end() ? nullptr : &it->second;
}

}  // namespace gm::fhir
