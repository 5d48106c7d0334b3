// The FHIR R4 type index FHIRPath navigates with: every type reachable from
// the resources, each with a hash table of its child elements (choice
// elements under their stem name) and a pointer to its base type.
#include <deque>
#include <mutex>
#include <unordered_map>

#include "fhirpath/internal.h"

namespace gm::fhirpath::internal {

uint64_t HashName(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h ^ (h >> 29);
}

void ElemTable::Build(std::vector<Elem> elems) {
  elems_ = std::move(elems);
  size_t cap = 8;
  while (cap < elems_.size() * 2) cap *= 2;
  slots_.assign(cap, -1);
  mask_ = cap - 1;
  for (size_t k = 0; k < elems_.size(); ++k) {
    uint64_t h = HashName(elems_[k].name) & mask_;
    while (slots_[h] >= 0) h = (h + 1) & mask_;
    slots_[h] = static_cast<int32_t>(k);
  }
}

namespace {

std::string Capitalize(std::string_view s) {
  std::string r(s);
  if (!r.empty() && r[0] >= 'a' && r[0] <= 'z') r[0] = static_cast<char>(r[0] - 'a' + 'A');
  return r;
}

SysKind SysFromName(std::string_view s) {
  if (s == "System.Boolean") return SysKind::kBoolean;
  if (s == "System.Integer") return SysKind::kInteger;
  if (s == "System.Decimal") return SysKind::kDecimal;
  if (s == "System.String") return SysKind::kString;
  if (s == "System.Date") return SysKind::kDate;
  if (s == "System.DateTime") return SysKind::kDateTime;
  if (s == "System.Time") return SysKind::kTime;
  return SysKind::kNone;
}

class Index {
 public:
  Index() {
    const fhir::Model& model = fhir::Model::R4();
    std::deque<const fhir::TypeDef*> work;
    auto visit = [&](const fhir::TypeDef* def) {
      if (def == nullptr || by_def_.count(def)) return;
      owned_.push_back(std::make_unique<FType>());
      FType* t = owned_.back().get();
      t->def = def;
      t->name = def->name;
      t->primitive = def->IsPrimitive();
      t->resource = def->kind == fhir::TypeKind::kResource;
      t->abstract_ = def->abstract;
      t->system = SysFromName(def->system_type);
      by_def_[def] = t;
      work.push_back(def);
    };
    for (const std::string& name : model.ResourceTypes()) visit(model.Type(name));
    for (const char* name :
         {"Resource", "DomainResource", "Element", "BackboneElement", "MetadataResource"}) {
      visit(model.Type(name));
    }
    while (!work.empty()) {
      const fhir::TypeDef* def = work.front();
      work.pop_front();
      if (!def->base.empty()) visit(model.Type(def->base));
      for (const fhir::ElementDef& el : def->elements) {
        visit(el.type);
        for (const fhir::TypeRef& ref : el.types) visit(model.Type(ref.code));
      }
    }
    for (const auto& t : owned_) {
      by_name_[t->name] = t.get();
      if (!t->def->base.empty()) t->base = Get(model.Type(t->def->base));
    }
    size_t cap = 16;
    while (cap < owned_.size() * 2) cap *= 2;
    slots_.assign(cap, nullptr);
    for (const auto& t : owned_) {
      uint64_t h = HashName(t->name) & (cap - 1);
      while (slots_[h] != nullptr) h = (h + 1) & (cap - 1);
      slots_[h] = t.get();
    }
    // R4 types positiveInt and unsignedInt values as System.String (their
    // regex); they are integers, like their base type.
    for (const auto& t : owned_) {
      if (!t->primitive || t->system != SysKind::kString) continue;
      for (const FType* b = t->base; b != nullptr && b->primitive; b = b->base) {
        if (b->system != SysKind::kString && b->system != SysKind::kNone) {
          t->system = b->system;
          break;
        }
      }
    }
    const FType* id_type = by_name_.count("id") ? by_name_["id"] : nullptr;
    for (const auto& t : owned_) {
      std::vector<Elem> elems;
      for (const fhir::ElementDef& el : t->def->elements) {
        Elem e;
        e.name = el.name;
        e.def = &el;
        e.choice = el.choice;
        if (el.choice) {
          for (const fhir::TypeRef& ref : el.types) {
            if (const FType* ct = Get(model.Type(ref.code))) {
              e.choices.push_back({Capitalize(ref.code), ct});
            }
          }
        } else {
          e.type = Get(el.type);
          if (e.type == nullptr && el.types.size() == 1) e.type = Get(model.Type(el.types[0].code));
          // R4's definitions give Resource.id the FHIR type "string"; the
          // specification (and the FHIRPath suite) type it as "id".
          if (t->resource && el.name == "id" && id_type != nullptr) e.type = id_type;
        }
        elems.push_back(std::move(e));
      }
      t->elements.Build(std::move(elems));
    }
  }

  const FType* Get(const fhir::TypeDef* def) const {
    auto it = by_def_.find(def);
    return it == by_def_.end() ? nullptr : it->second;
  }
  const FType* Find(std::string_view name) const {
    uint64_t mask = slots_.size() - 1;
    for (uint64_t h = HashName(name) & mask;; h = (h + 1) & mask) {
      const FType* t = slots_[h];
      if (t == nullptr) return nullptr;
      if (SameName(t->name, name)) return t;
    }
  }

 private:
  std::vector<std::unique_ptr<FType>> owned_;
  std::unordered_map<const fhir::TypeDef*, FType*> by_def_;
  std::unordered_map<std::string_view, FType*> by_name_;
  std::vector<const FType*> slots_;  // open addressing by HashName(name)
};

const Index& TheIndex() {
  static const Index* index = new Index();
  return *index;
}

}  // namespace

const FType* FindType(std::string_view name) { return TheIndex().Find(name); }

const FType* ResourceType(const json::Value& node) {
  const json::Value* rt = node.find("resourceType");
  if (rt == nullptr || !rt->is_string()) return nullptr;
  const FType* t = TheIndex().Find(rt->str());
  return t != nullptr && t->resource ? t : nullptr;
}

bool IsA(const FType* t, const FType* ancestor) {
  for (int guard = 0; t != nullptr && guard < 32; ++guard, t = t->base) {
    if (t == ancestor) return true;
  }
  return false;
}

}  // namespace gm::fhirpath::internal
