#include "patch/fhirpath_patch.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fhir/primitives.h"
#include "fhirpath/fhirpath.h"

namespace gm::patch {

namespace {

constexpr size_t kMaxQuotedPath = 120;

enum class OpType { kAdd, kInsert, kDelete, kReplace, kMove };

// One operation of the patch, with pointers into the Parameters resource.
struct Operation {
  size_t number = 0;
  OpType type = OpType::kAdd;
  std::string_view type_name;
  std::string_view path;
  std::string_view name;
  const json::Value* value = nullptr;  // the "value" part
  std::optional<int64_t> index;
  std::optional<int64_t> source;
  std::optional<int64_t> destination;
};

// The parts each operation type takes (besides "type").
struct PartRule {
  bool path, name, value, index, source, destination;
};

PartRule RuleFor(OpType t) {
  switch (t) {
    case OpType::kAdd:
      return {true, true, true, false, false, false};
    case OpType::kInsert:
      return {true, false, true, true, false, false};
    case OpType::kDelete:
      return {true, false, false, false, false, false};
    case OpType::kReplace:
      return {true, false, true, false, false, false};
    case OpType::kMove:
      return {true, false, false, false, true, true};
  }
  return {};
}

// Printable, truncated text of a patch-supplied string for messages.
std::string Quote(std::string_view s) {
  std::string out = "'";
  size_t n = std::min(s.size(), kMaxQuotedPath);
  while (n < s.size() && n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out += (c < 0x20 || c == 0x7F) ? '?' : s[i];
  }
  if (n < s.size()) out += "...";
  out += "'";
  return out;
}

std::string Capitalize(std::string_view s) {
  std::string r(s);
  if (!r.empty() && r[0] >= 'a' && r[0] <= 'z') r[0] = static_cast<char>(r[0] - 'a' + 'A');
  return r;
}

std::string Uncapitalize(std::string_view s) {
  std::string r(s);
  if (!r.empty() && r[0] >= 'A' && r[0] <= 'Z') r[0] = static_cast<char>(r[0] - 'A' + 'a');
  return r;
}

// "valueString" → "String"; empty when the key is not value[x].
std::string_view ValueSuffix(std::string_view key) {
  if (key.size() > 5 && key.starts_with("value") && key[5] >= 'A' && key[5] <= 'Z') {
    return key.substr(5);
  }
  return {};
}

bool AllNull(const json::Value& a) {
  return std::all_of(a.array().begin(), a.array().end(),
                     [](const json::Value& v) { return v.is_null(); });
}

Status Invalid(std::string code, std::string text) {
  return Status::Error(ErrorCategory::kInvalid, std::move(code), "invalid", std::move(text));
}

// An element's content: a complex value, or a primitive's value and companion.
struct Content {
  json::Value value;                     // null when a primitive has only a companion
  std::optional<json::Value> companion;  // a primitive's "_name" object
};

// A value built from a "value" part, with the FHIR type it has.
struct Built {
  Content content;
  std::string type;  // "CodeableConcept", "date", "Patient" (for a resource)
  bool resource = false;
  bool from_parts = false;
};

// Where an element lives: member `key` of `owner` (an object of type
// `owner_type`), at `index` when the member is an array.
struct Slot {
  json::Value* owner = nullptr;
  const fhir::TypeDef* owner_type = nullptr;
  std::string key;  // JSON name without '_' ("given", "valueQuantity")
  std::optional<size_t> index;
  const fhir::ElementDef* element = nullptr;
  const fhir::TypeRef* type = nullptr;  // the element's (chosen) type
};

class Patcher {
 public:
  Patcher(const fhir::Model& model, uint64_t max_steps, json::Value& doc)
      : model_(model), max_steps_(max_steps), doc_(doc) {}

  Status Apply(const Operation& op) {
    op_ = &op;
    CompileResult compiled = Compile(op.path);
    if (!compiled.status.ok()) return compiled.status;
    fhirpath::EvalOptions eval;
    eval.max_steps = max_steps_;
    auto items = compiled.expression->Evaluate(doc_, eval);
    if (!items.ok()) {
      return Fail("GM-FPATCH-010", "evaluating the path failed (" + items.status().code() + ")");
    }
    switch (op.type) {
      case OpType::kAdd:
        return Add(*items);
      case OpType::kInsert:
        return Insert(*items);
      case OpType::kDelete:
        return Delete(*items);
      case OpType::kReplace:
        return Replace(*items);
      case OpType::kMove:
        return Move(*items);
    }
    return Status::Ok();
  }

 private:
  struct CompileResult {
    Status status;
    std::optional<fhirpath::Expression> expression;
  };

  CompileResult Compile(std::string_view path) {
    fhirpath::CompileOptions co;
    std::string_view rt = doc_.get_string("resourceType");
    if (model_.IsResourceType(rt)) co.context_type = rt;
    auto e = fhirpath::Expression::Compile(path, co);
    if (!e.ok()) {
      return {Invalid("GM-FPATCH-006", Prefix() + "the path is not a valid FHIRPath expression: " +
                                           e.status().message()),
              std::nullopt};
    }
    return {Status::Ok(), std::move(e).value()};
  }

  std::string Prefix() const {
    return "operation " + std::to_string(op_->number) + " (" + std::string(op_->type_name) + " " +
           Quote(op_->path) + "): ";
  }

  Status Fail(std::string code, const std::string& text) const {
    return Status::Error(ErrorCategory::kUnprocessable, std::move(code), "processing",
                         Prefix() + text);
  }

  // ------------------------------------------------------------ locating

  // The chain of containers from the resource down to `node` (excluded).
  std::optional<std::vector<fhirpath::NodeLocation>> Ancestry(const json::Value* node) {
    std::vector<fhirpath::NodeLocation> chain;
    while (node != &doc_) {
      auto loc = fhirpath::Locate(doc_, node);
      if (!loc) return std::nullopt;
      node = loc->parent;
      chain.push_back(std::move(*loc));
    }
    std::reverse(chain.begin(), chain.end());
    return chain;
  }

  const fhir::TypeDef* ResourceTypeOf(const json::Value& v) const {
    const fhir::TypeDef* t = model_.Type(v.get_string("resourceType"));
    return t != nullptr && t->kind == fhir::TypeKind::kResource ? t : nullptr;
  }

  const fhir::TypeDef* TypeOfMatch(const fhir::TypeDef::Match& m) const {
    if (m.element->choice) return m.type != nullptr ? model_.Type(m.type->code) : nullptr;
    if (m.element->type != nullptr) return m.element->type;
    return m.type != nullptr ? model_.Type(m.type->code) : nullptr;
  }

  // The FHIR type of an object inside the resource (resource, complex,
  // backbone, or a primitive's companion object); null when unknown.
  const fhir::TypeDef* TypeOfObject(const json::Value* node) {
    auto chain = Ancestry(node);
    if (!chain) return nullptr;
    const fhir::TypeDef* t = ResourceTypeOf(doc_);
    for (const fhirpath::NodeLocation& step : *chain) {
      if (t == nullptr) return nullptr;
      const json::Value* child = nullptr;
      if (step.parent->is_object()) {
        std::string_view key = step.key;
        if (key.starts_with("_")) key.remove_prefix(1);
        fhir::TypeDef::Match m = t->Find(key);
        if (m.element == nullptr) return nullptr;
        t = TypeOfMatch(m);
        child = step.parent->find(step.key);
      } else {
        child = &step.parent->array()[step.index];
      }
      if (t != nullptr && t->kind == fhir::TypeKind::kResource && child != nullptr &&
          child->is_object()) {
        t = ResourceTypeOf(*child);
      }
    }
    return t;
  }

  // The slot of an element item (not the resource itself).
  Result<Slot> SlotOf(const fhirpath::Item& item) {
    const json::Value* node = item.node() != nullptr ? item.node() : item.extension_node();
    auto loc = fhirpath::Locate(doc_, node);
    if (!loc) return Fail("GM-FPATCH-013", "the path selects something outside the resource");
    Slot s;
    std::string key;
    if (loc->parent->is_object()) {
      s.owner = loc->parent;
      key = loc->key;
    } else {
      s.index = loc->index;
      auto holder = fhirpath::Locate(doc_, loc->parent);
      if (!holder || !holder->parent->is_object()) {
        return Fail("GM-FPATCH-013", "the path selects something that is not an element");
      }
      s.owner = holder->parent;
      key = holder->key;
    }
    if (key.starts_with("_")) key.erase(0, 1);
    s.key = std::move(key);
    s.owner_type = TypeOfObject(s.owner);
    if (s.owner_type == nullptr) {
      return Fail("GM-FPATCH-013", "the path selects an element of unknown type");
    }
    fhir::TypeDef::Match m = s.owner_type->Find(s.key);
    if (m.element == nullptr) {
      return Fail("GM-FPATCH-013", "the path selects an element the model does not define");
    }
    s.element = m.element;
    s.type = m.type;
    return s;
  }

  bool IsPrimitiveSlot(const Slot& s) const {
    if (s.type == nullptr) return false;
    if (s.type->system) return true;
    const fhir::TypeDef* t = model_.Type(s.type->code);
    return t != nullptr && t->IsPrimitive();
  }

  // Items of an operation must be elements of the resource.
  Status CheckElements(const fhirpath::Collection& items) const {
    for (const fhirpath::Item& it : items) {
      if (!it.is_fhir() || (it.node() == nullptr && it.extension_node() == nullptr)) {
        return Fail("GM-FPATCH-013", "the path selects a computed value, not an element");
      }
    }
    return Status::Ok();
  }

  // ------------------------------------------------------------ values

  // The FHIR type named by a value[x] suffix ("CodeableConcept", "Date").
  const fhir::TypeDef* TypeFromSuffix(std::string_view suffix) const {
    if (const fhir::TypeDef* t = model_.Type(suffix); t != nullptr && !t->IsPrimitive()) return t;
    const fhir::TypeDef* t = model_.Type(Uncapitalize(suffix));
    return t != nullptr && t->IsPrimitive() ? t : nullptr;
  }

  // Builds the content of a "value" part (or a nested part) meant for element
  // `el`; the type check against `el` is KeyFor's.
  Result<Built> Build(const json::Value& part, const fhir::ElementDef& el, int depth) {
    if (depth > 64) return Invalid("GM-FPATCH-007", Prefix() + "the value nests too deeply");
    if (!part.is_object()) {
      return Invalid("GM-FPATCH-007", Prefix() + "a value part is not an object");
    }
    const json::Value* resource = nullptr;
    const json::Value* parts = nullptr;
    std::string value_key;
    int kinds = 0;
    for (const json::Member& m : part.object()) {
      std::string_view key = m.first;
      if (key == "name" || key == "id" || key == "extension" || key == "modifierExtension" ||
          key == "_name") {
        continue;
      }
      if (key == "resource") {
        resource = &m.second;
        ++kinds;
      } else if (key == "part") {
        parts = &m.second;
        ++kinds;
      } else if (!ValueSuffix(key.starts_with("_") ? key.substr(1) : key).empty()) {
        std::string_view base = key.starts_with("_") ? key.substr(1) : key;
        if (value_key.empty()) {
          value_key = base;
          ++kinds;
        } else if (value_key != base) {
          ++kinds;
        }
      } else {
        return Invalid("GM-FPATCH-007",
                       Prefix() + "a value part has the unknown member " + Quote(key));
      }
    }
    if (kinds != 1) {
      return Invalid("GM-FPATCH-007",
                     Prefix() + "a value part needs exactly one of value[x], resource or part");
    }
    Built b;
    if (resource != nullptr) {
      if (!resource->is_object() || ResourceTypeOf(*resource) == nullptr) {
        return Invalid("GM-FPATCH-007",
                       Prefix() + "the resource of a value part is not a resource");
      }
      b.content.value = *resource;
      b.type = std::string(resource->get_string("resourceType"));
      b.resource = true;
      return b;
    }
    if (parts != nullptr) return BuildFromParts(*parts, el, depth);
    const fhir::TypeDef* t = TypeFromSuffix(ValueSuffix(value_key));
    if (t == nullptr) {
      return Invalid("GM-FPATCH-007", Prefix() + "unknown value type " + Quote(value_key));
    }
    b.type = t->name;
    const json::Value* v = part.find(value_key);
    const json::Value* c = part.find("_" + value_key);
    if (v != nullptr) b.content.value = *v;
    if (c != nullptr) {
      if (!t->IsPrimitive() || !c->is_object()) {
        return Invalid("GM-FPATCH-007", Prefix() + "a malformed " + Quote("_" + value_key));
      }
      b.content.companion = *c;
    }
    if (t->IsPrimitive() && v != nullptr) {
      auto p = fhir::PrimitiveFromName(t->name);
      if (p && !fhir::CheckValue(*p, *v).empty()) {
        return Invalid("GM-FPATCH-007", Prefix() + "the value is not a valid " + t->name + " (" +
                                            std::string(fhir::CheckValue(*p, *v)) + ")");
      }
    } else if (!t->IsPrimitive() && (v == nullptr || !v->is_object())) {
      return Invalid("GM-FPATCH-007", Prefix() + Quote(value_key) + " must be a JSON object");
    }
    return b;
  }

  // A complex or backbone value of element `el` built member by member.
  Result<Built> BuildFromParts(const json::Value& parts, const fhir::ElementDef& el, int depth) {
    if (!parts.is_array()) return Invalid("GM-FPATCH-007", Prefix() + "'part' must be an array");
    if (el.choice || el.type == nullptr || el.type->IsPrimitive() ||
        el.type->kind == fhir::TypeKind::kResource) {
      return Fail("GM-FPATCH-016",
                  "element " + Quote(el.name) + " cannot be built from parts; give a value[x]");
    }
    const fhir::TypeDef& type = *el.type;
    json::Value obj = json::Value::MakeObject();
    for (const json::Value& sub : parts.array()) {
      if (!sub.is_object() || !sub.find("name") || !sub.find("name")->is_string()) {
        return Invalid("GM-FPATCH-007", Prefix() + "a nested part has no name");
      }
      std::string_view name = sub.get_string("name");
      const fhir::ElementDef* child = ElementNamed(type, name);
      if (child == nullptr) {
        return Fail("GM-FPATCH-014", "type " + Quote(type.name) + " has no element " + Quote(name));
      }
      GM_ASSIGN_OR_RETURN(Built built, Build(sub, *child, depth + 1));
      GM_ASSIGN_OR_RETURN(std::string key, KeyFor(*child, built));
      if (child->array) {
        AppendEntry(obj, key, IsPrimitiveType(built.type), std::move(built.content));
      } else {
        if (HasElement(obj, *child)) {
          return Invalid("GM-FPATCH-007",
                         Prefix() + "element " + Quote(name) + " is given more than once");
        }
        SetSingle(obj, key, std::move(built.content));
      }
    }
    if (obj.empty()) return Invalid("GM-FPATCH-007", Prefix() + "a value built from no parts");
    Built b;
    b.content.value = std::move(obj);
    b.type = type.name;
    b.from_parts = true;
    return b;
  }

  bool IsPrimitiveType(std::string_view type) const {
    const fhir::TypeDef* t = model_.Type(type);
    return t != nullptr && t->IsPrimitive();
  }

  // An element by its name or its JSON name ("deceased", "deceasedBoolean").
  static const fhir::ElementDef* ElementNamed(const fhir::TypeDef& type, std::string_view name) {
    for (const fhir::ElementDef& el : type.elements) {
      if (el.name == name) return &el;
    }
    return type.Find(name).element;
  }

  // Whether a value of `value_type` fits a declared type; an allowed
  // subtype keeps the declared name (an Age in valueQuantity).
  bool Fits(const Built& b, const fhir::TypeRef& declared) const {
    if (b.resource) {
      return model_.IsA(b.type, declared.code) ||
             (declared.code == "Resource" && model_.IsResourceType(b.type));
    }
    if (declared.system && b.content.companion) return false;  // System types take no "_name"
    if (b.type == declared.code || model_.IsA(b.type, declared.code)) return true;
    const fhir::TypeDef* want = model_.Type(declared.code);
    bool want_primitive = declared.system || (want != nullptr && want->IsPrimitive());
    if (!want_primitive || !IsPrimitiveType(b.type)) return false;
    if (b.content.value.is_null()) return true;
    auto p = fhir::PrimitiveFromName(declared.code);
    return p && fhir::CheckValue(*p, b.content.value).empty();
  }

  // The JSON member name for a built value of element `el`.
  Result<std::string> KeyFor(const fhir::ElementDef& el, const Built& b) {
    if (b.from_parts) return el.name;
    if (!el.choice && el.type != nullptr && el.type->kind == fhir::TypeKind::kBackbone) {
      return Fail("GM-FPATCH-016", "element " + Quote(el.name) +
                                       " has an anonymous type; give its content as parts");
    }
    if (!el.choice) {
      if (el.types.empty() && el.type != nullptr) {
        if (b.type == el.type->name) return el.name;
      } else if (!el.types.empty() && Fits(b, el.types[0])) {
        return el.name;
      }
      return Fail("GM-FPATCH-016",
                  "a " + Quote(b.type) + " value does not fit element " + Quote(el.name));
    }
    for (const fhir::TypeRef& ref : el.types) {
      if (ref.code == b.type) return el.name + Capitalize(ref.code);
    }
    for (const fhir::TypeRef& ref : el.types) {
      if (!IsPrimitiveType(b.type) && model_.IsA(b.type, ref.code)) {
        return el.name + Capitalize(ref.code);
      }
    }
    return Fail("GM-FPATCH-016",
                "a " + Quote(b.type) + " value does not fit element " + Quote(el.name + "[x]"));
  }

  // ------------------------------------------------------------ editing

  // True when the object holds element `el` (any choice variant, value or companion).
  static bool HasElement(const json::Value& obj, const fhir::ElementDef& el) {
    for (const json::Member& m : obj.object()) {
      std::string_view key = m.first;
      if (key.starts_with("_")) key.remove_prefix(1);
      if (key == el.name) return true;
      if (el.choice && key.size() > el.name.size() && key.starts_with(el.name) &&
          key[el.name.size()] >= 'A' && key[el.name.size()] <= 'Z') {
        return true;
      }
    }
    return false;
  }

  static void SetSingle(json::Value& obj, const std::string& key, Content c) {
    if (!c.value.is_null()) {
      obj.set(key, std::move(c.value));
    } else {
      obj.erase(key);
    }
    if (c.companion) {
      obj.set("_" + key, std::move(*c.companion));
    } else {
      obj.erase("_" + key);
    }
  }

  // Removes member `key` (and "_key") where it is empty, null-only or an
  // array of nulls with no companion values.
  static void Normalize(json::Value& obj, const std::string& key) {
    std::string ckey = "_" + key;
    json::Value* c = obj.find(ckey);
    if (c != nullptr && c->is_array() && AllNull(*c)) {
      obj.erase(ckey);
      c = nullptr;
    }
    json::Value* v = obj.find(key);
    if (v != nullptr && v->is_array() && (v->empty() || (c == nullptr && AllNull(*v)))) {
      obj.erase(key);
    }
  }

  static size_t ListSize(const json::Value& obj, const std::string& key) {
    size_t n = 0;
    if (const json::Value* v = obj.find(key); v != nullptr && v->is_array()) n = v->size();
    if (const json::Value* c = obj.find("_" + key); c != nullptr && c->is_array()) {
      n = std::max(n, c->size());
    }
    return n;
  }

  // Inserts an entry into the (aligned) list `key` of obj at position i.
  static void InsertEntry(json::Value& obj, const std::string& key, bool primitive, size_t i,
                          Content c) {
    size_t n = ListSize(obj, key);
    auto ensure = [&](const std::string& k) -> json::Value& {
      json::Value* a = obj.find(k);
      if (a == nullptr || !a->is_array()) {
        json::Array filled(n);
        a = &obj.set(k, json::Value(std::move(filled)));
      }
      while (a->size() < n) a->push_back(json::Value());
      return *a;
    };
    if (!primitive) {
      json::Value& a = ensure(key);
      a.array().insert(a.array().begin() + static_cast<std::ptrdiff_t>(i), std::move(c.value));
      return;
    }
    std::string ckey = "_" + key;
    if (!c.value.is_null() || obj.find(key) != nullptr) {
      json::Value& a = ensure(key);
      a.array().insert(a.array().begin() + static_cast<std::ptrdiff_t>(i), std::move(c.value));
    }
    if (c.companion || obj.find(ckey) != nullptr) {
      json::Value& a = ensure(ckey);
      a.array().insert(a.array().begin() + static_cast<std::ptrdiff_t>(i),
                       c.companion ? std::move(*c.companion) : json::Value());
    }
    Normalize(obj, key);
  }

  static void AppendEntry(json::Value& obj, const std::string& key, bool primitive, Content c) {
    InsertEntry(obj, key, primitive, ListSize(obj, key), std::move(c));
  }

  // Removes the entry at i of the (aligned) list `key` and returns it.
  static Content TakeEntry(json::Value& obj, const std::string& key, size_t i) {
    Content out;
    if (json::Value* v = obj.find(key); v != nullptr && v->is_array() && i < v->size()) {
      out.value = std::move(v->array()[i]);
      v->array().erase(v->array().begin() + static_cast<std::ptrdiff_t>(i));
    }
    std::string ckey = "_" + key;
    if (json::Value* c = obj.find(ckey); c != nullptr && c->is_array() && i < c->size()) {
      if (!c->array()[i].is_null()) out.companion = std::move(c->array()[i]);
      c->array().erase(c->array().begin() + static_cast<std::ptrdiff_t>(i));
    }
    Normalize(obj, key);
    return out;
  }

  static Content TakeSingle(json::Value& obj, const std::string& key) {
    Content out;
    if (json::Value* v = obj.find(key)) out.value = std::move(*v);
    if (json::Value* c = obj.find("_" + key)) out.companion = std::move(*c);
    obj.erase(key);
    obj.erase("_" + key);
    return out;
  }

  // Removes objects and arrays left empty by a delete, from `obj` upwards to
  // (not including) the resource.
  void Prune(json::Value* obj) {
    while (obj != &doc_ && obj->is_object() && obj->empty()) {
      auto loc = fhirpath::Locate(doc_, obj);
      if (!loc) return;
      if (loc->parent->is_object()) {
        loc->parent->erase(loc->key);
        obj = loc->parent;
        continue;
      }
      auto holder = fhirpath::Locate(doc_, loc->parent);
      if (!holder || !holder->parent->is_object()) return;
      json::Value* owner = holder->parent;
      std::string key = holder->key;
      if (key.starts_with("_")) {
        loc->parent->array()[loc->index] = json::Value();
        Normalize(*owner, key.substr(1));
      } else {
        loc->parent->array().erase(loc->parent->array().begin() +
                                   static_cast<std::ptrdiff_t>(loc->index));
        if (loc->parent->empty()) owner->erase(key);
      }
      obj = owner;
    }
  }

  // ------------------------------------------------------------ operations

  Result<const fhirpath::Item*> Single(const fhirpath::Collection& items) const {
    GM_RETURN_IF_ERROR(CheckElements(items));
    if (items.empty()) return Fail("GM-FPATCH-011", "the path selects nothing");
    if (items.size() > 1) {
      return Fail("GM-FPATCH-012",
                  "the path selects " + std::to_string(items.size()) + " elements, not one");
    }
    return &items[0];
  }

  Status Add(const fhirpath::Collection& items) {
    GM_ASSIGN_OR_RETURN(const fhirpath::Item* item, Single(items));
    json::Value* container = nullptr;
    const fhir::TypeDef* type = nullptr;
    if (item->node() == &doc_) {
      container = &doc_;
      type = ResourceTypeOf(doc_);
    } else {
      GM_ASSIGN_OR_RETURN(Slot slot, SlotOf(*item));
      if (IsPrimitiveSlot(slot)) {
        GM_ASSIGN_OR_RETURN(container, CompanionOf(slot));
        type = model_.Type(slot.type->code);
      } else {
        // The engine hands out const views of doc_, which this patcher owns.
        container = const_cast<json::Value*>(item->node());
        type = TypeOfObject(container);
      }
    }
    if (type == nullptr || container == nullptr || !container->is_object()) {
      return Fail("GM-FPATCH-013", "the path selects something content cannot be added to");
    }
    const fhir::ElementDef* el = ElementNamed(*type, op_->name);
    if (el == nullptr) {
      return Fail("GM-FPATCH-014",
                  "type " + Quote(type->name) + " has no element " + Quote(op_->name));
    }
    GM_ASSIGN_OR_RETURN(Built built, Build(*op_->value, *el, 0));
    GM_ASSIGN_OR_RETURN(std::string key, KeyFor(*el, built));
    if (el->choice && op_->name != el->name && op_->name != key) {
      return Fail("GM-FPATCH-016", "the value's type does not match " + Quote(op_->name));
    }
    if (el->array) {
      AppendEntry(*container, key, IsPrimitiveType(built.type), std::move(built.content));
      return Status::Ok();
    }
    if (HasElement(*container, *el)) {
      return Fail("GM-FPATCH-015", "element " + Quote(el->name) + " already exists");
    }
    SetSingle(*container, key, std::move(built.content));
    return Status::Ok();
  }

  // The companion object of a primitive slot, created when absent.
  Result<json::Value*> CompanionOf(const Slot& slot) {
    std::string ckey = "_" + slot.key;
    if (!slot.index) {
      json::Value* c = slot.owner->find(ckey);
      if (c == nullptr || c->is_null()) c = &slot.owner->set(ckey, json::Value::MakeObject());
      return c;
    }
    size_t n = ListSize(*slot.owner, slot.key);
    json::Value* c = slot.owner->find(ckey);
    if (c == nullptr || !c->is_array()) c = &slot.owner->set(ckey, json::Value(json::Array(n)));
    while (c->size() < n) c->push_back(json::Value());
    json::Value& entry = c->array()[*slot.index];
    if (entry.is_null()) entry = json::Value::MakeObject();
    return &entry;
  }

  // The list the items are the entries of (owner and key; all items in it).
  Result<Slot> ListOf(const fhirpath::Collection& items) {
    GM_RETURN_IF_ERROR(CheckElements(items));
    if (items.empty()) return Fail("GM-FPATCH-011", "the path selects nothing");
    Slot first;
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].node() == &doc_) {
        return Fail("GM-FPATCH-018", "the path selects the resource, not a list");
      }
      GM_ASSIGN_OR_RETURN(Slot s, SlotOf(items[i]));
      if (!s.index || !s.element->array) {
        return Fail("GM-FPATCH-018", "the path selects an element that does not repeat");
      }
      if (i == 0) {
        first = std::move(s);
      } else if (s.owner != first.owner || s.key != first.key) {
        return Fail("GM-FPATCH-018", "the path selects elements of more than one list");
      }
    }
    return first;
  }

  Status Insert(const fhirpath::Collection& items) {
    GM_RETURN_IF_ERROR(CheckElements(items));
    Slot list;
    if (items.empty()) {
      GM_ASSIGN_OR_RETURN(list, AbsentList());
    } else {
      GM_ASSIGN_OR_RETURN(list, ListOf(items));
    }
    size_t n = ListSize(*list.owner, list.key);
    if (*op_->index < 0 || static_cast<uint64_t>(*op_->index) > n) {
      return Fail("GM-FPATCH-017", "index " + std::to_string(*op_->index) +
                                       " is outside the list of " + std::to_string(n));
    }
    GM_ASSIGN_OR_RETURN(Built built, Build(*op_->value, *list.element, 0));
    GM_ASSIGN_OR_RETURN(std::string key, KeyFor(*list.element, built));
    InsertEntry(*list.owner, key, IsPrimitiveType(built.type), static_cast<size_t>(*op_->index),
                std::move(built.content));
    return Status::Ok();
  }

  // For an insert into a list that does not exist yet: a path ending in a
  // member name ("Patient.identifier") names the list through its owner.
  Result<Slot> AbsentList() {
    std::string_view path = op_->path;
    while (!path.empty() && (path.back() == ' ' || path.back() == '\t')) path.remove_suffix(1);
    size_t end = path.size();
    size_t start = end;
    while (start > 0) {
      char c = path[start - 1];
      bool ident =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
      if (!ident) break;
      --start;
    }
    if (start == end || start < 2 || path[start - 1] != '.') {
      return Fail("GM-FPATCH-011", "the path selects nothing");
    }
    std::string_view member = path.substr(start, end - start);
    CompileResult owner_expr = Compile(path.substr(0, start - 1));
    if (!owner_expr.status.ok()) return Fail("GM-FPATCH-011", "the path selects nothing");
    fhirpath::EvalOptions eval;
    eval.max_steps = max_steps_;
    auto owners = owner_expr.expression->Evaluate(doc_, eval);
    if (!owners.ok() || owners->size() != 1 || !(*owners)[0].is_fhir() ||
        (*owners)[0].node() == nullptr || !(*owners)[0].node()->is_object()) {
      return Fail("GM-FPATCH-011", "the path selects nothing");
    }
    Slot s;
    // The engine hands out const views of doc_, which this patcher owns.
    s.owner = const_cast<json::Value*>((*owners)[0].node());
    s.owner_type = s.owner == &doc_ ? ResourceTypeOf(doc_) : TypeOfObject(s.owner);
    if (s.owner_type == nullptr) return Fail("GM-FPATCH-011", "the path selects nothing");
    s.element = s.owner_type->Child(member);
    if (s.element == nullptr || !s.element->array) {
      return Fail("GM-FPATCH-018", "the path does not name a repeating element");
    }
    s.key = s.element->name;
    return s;
  }

  Status Delete(const fhirpath::Collection& items) {
    GM_RETURN_IF_ERROR(CheckElements(items));
    if (items.empty()) return Status::Ok();
    if (items.size() > 1) {
      return Fail("GM-FPATCH-012",
                  "the path selects " + std::to_string(items.size()) + " elements, not one");
    }
    if (items[0].node() == &doc_) return Fail("GM-FPATCH-013", "the resource cannot be deleted");
    GM_ASSIGN_OR_RETURN(Slot slot, SlotOf(items[0]));
    if (slot.index) {
      TakeEntry(*slot.owner, slot.key, *slot.index);
    } else {
      TakeSingle(*slot.owner, slot.key);
    }
    Prune(slot.owner);
    return Status::Ok();
  }

  Status Replace(const fhirpath::Collection& items) {
    GM_ASSIGN_OR_RETURN(const fhirpath::Item* item, Single(items));
    if (item->node() == &doc_) return Fail("GM-FPATCH-013", "the resource cannot be replaced");
    GM_ASSIGN_OR_RETURN(Slot slot, SlotOf(*item));
    GM_ASSIGN_OR_RETURN(Built built, Build(*op_->value, *slot.element, 0));
    GM_ASSIGN_OR_RETURN(std::string key, KeyFor(*slot.element, built));
    json::Value& owner = *slot.owner;
    if (slot.index) {
      if (key != slot.key) return Fail("GM-FPATCH-016", "the value does not fit the list");
      TakeEntry(owner, slot.key, *slot.index);
      InsertEntry(owner, key, IsPrimitiveType(built.type), *slot.index, std::move(built.content));
      return Status::Ok();
    }
    if (key != slot.key) RenameMember(owner, slot.key, key);
    SetSingle(owner, key, std::move(built.content));
    return Status::Ok();
  }

  // Renames member `from` (and "_from") in place, keeping the member order.
  static void RenameMember(json::Value& obj, const std::string& from, const std::string& to) {
    for (json::Member& m : obj.object()) {
      if (m.first == from) {
        m.first = to;
      } else if (m.first == "_" + from) {
        m.first = "_" + to;
      }
    }
  }

  Status Move(const fhirpath::Collection& items) {
    GM_ASSIGN_OR_RETURN(Slot list, ListOf(items));
    size_t n = ListSize(*list.owner, list.key);
    for (int64_t v : {*op_->source, *op_->destination}) {
      if (v < 0 || static_cast<uint64_t>(v) >= n) {
        return Fail("GM-FPATCH-017", "position " + std::to_string(v) + " is outside the list of " +
                                         std::to_string(n));
      }
    }
    bool primitive = IsPrimitiveSlot(list);
    Content c = TakeEntry(*list.owner, list.key, static_cast<size_t>(*op_->source));
    InsertEntry(*list.owner, list.key, primitive, static_cast<size_t>(*op_->destination),
                std::move(c));
    return Status::Ok();
  }

  const fhir::Model& model_;
  const uint64_t max_steps_;
  json::Value& doc_;
  const Operation* op_ = nullptr;
};

// ------------------------------------------------------------ parsing

Result<int64_t> IntegerPart(const json::Value& part, size_t number, std::string_view name) {
  const json::Value* v = part.find("valueInteger");
  if (v == nullptr) v = part.find("valueUnsignedInt");
  if (v == nullptr) v = part.find("valuePositiveInt");
  int64_t out = 0;
  if (v != nullptr && v->is_number()) {
    const std::string& t = v->str();
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    if (ec == std::errc() && ptr == t.data() + t.size()) return out;
  }
  return Invalid("GM-FPATCH-003", "operation " + std::to_string(number) + ": part " + Quote(name) +
                                      " needs a valueInteger");
}

Result<std::string_view> StringPart(const json::Value& part, size_t number, std::string_view name,
                                    bool code) {
  const json::Value* v = part.find(code ? "valueCode" : "valueString");
  if (v == nullptr && code) v = part.find("valueString");
  if (v != nullptr && v->is_string() && !v->str().empty()) return std::string_view(v->str());
  return Invalid("GM-FPATCH-003", "operation " + std::to_string(number) + ": part " + Quote(name) +
                                      " needs a " + (code ? "valueCode" : "valueString"));
}

Result<Operation> ParseOperation(const json::Value& param, size_t number) {
  std::string where = "operation " + std::to_string(number) + ": ";
  if (!param.is_object() || param.get_string("name") != "operation") {
    return Invalid("GM-FPATCH-002", where + "a parameter must be an object named 'operation'");
  }
  const json::Value* parts = param.find("part");
  if (parts == nullptr || !parts->is_array()) {
    return Invalid("GM-FPATCH-002", where + "an operation needs its parts");
  }
  for (const json::Member& m : param.object()) {
    if (m.first == "resource" || !ValueSuffix(m.first).empty()) {
      return Invalid("GM-FPATCH-002", where + "an operation has parts, not a value");
    }
  }
  Operation op;
  op.number = number;
  const json::Value* seen[7] = {};
  static constexpr std::string_view kNames[7] = {"type",  "path",   "name",       "value",
                                                 "index", "source", "destination"};
  for (const json::Value& part : parts->array()) {
    const json::Value* name = part.is_object() ? part.find("name") : nullptr;
    if (name == nullptr || !name->is_string()) {
      return Invalid("GM-FPATCH-003", where + "a part must be an object with a name");
    }
    size_t k = 0;
    while (k < 7 && kNames[k] != name->str()) ++k;
    if (k == 7) return Invalid("GM-FPATCH-003", where + "unknown part " + Quote(name->str()));
    if (seen[k] != nullptr) {
      return Invalid("GM-FPATCH-003", where + "part " + Quote(name->str()) + " is repeated");
    }
    seen[k] = &part;
  }
  if (seen[0] == nullptr) return Invalid("GM-FPATCH-004", where + "the part 'type' is missing");
  GM_ASSIGN_OR_RETURN(op.type_name, StringPart(*seen[0], number, "type", true));
  static constexpr std::pair<std::string_view, OpType> kTypes[] = {{"add", OpType::kAdd},
                                                                   {"insert", OpType::kInsert},
                                                                   {"delete", OpType::kDelete},
                                                                   {"replace", OpType::kReplace},
                                                                   {"move", OpType::kMove}};
  bool known = false;
  for (const auto& [n, t] : kTypes) {
    if (op.type_name == n) {
      op.type = t;
      known = true;
    }
  }
  if (!known) {
    return Invalid("GM-FPATCH-004", where + "unknown operation type " + Quote(op.type_name));
  }
  PartRule rule = RuleFor(op.type);
  bool wanted[7] = {true,       rule.path,   rule.name,       rule.value,
                    rule.index, rule.source, rule.destination};
  for (size_t k = 1; k < 7; ++k) {
    if (wanted[k] && seen[k] == nullptr) {
      return Invalid("GM-FPATCH-005",
                     where + std::string(op.type_name) + " needs the part " + Quote(kNames[k]));
    }
    if (!wanted[k] && seen[k] != nullptr) {
      return Invalid("GM-FPATCH-005", where + std::string(op.type_name) +
                                          " does not take the part " + Quote(kNames[k]));
    }
  }
  GM_ASSIGN_OR_RETURN(op.path, StringPart(*seen[1], number, "path", false));
  if (seen[2] != nullptr) {
    GM_ASSIGN_OR_RETURN(op.name, StringPart(*seen[2], number, "name", false));
  }
  op.value = seen[3];
  if (seen[4] != nullptr) {
    GM_ASSIGN_OR_RETURN(op.index, IntegerPart(*seen[4], number, "index"));
  }
  if (seen[5] != nullptr) {
    GM_ASSIGN_OR_RETURN(op.source, IntegerPart(*seen[5], number, "source"));
  }
  if (seen[6] != nullptr) {
    GM_ASSIGN_OR_RETURN(op.destination, IntegerPart(*seen[6], number, "destination"));
  }
  return op;
}

Result<std::vector<Operation>> ParseParameters(const json::Value& parameters,
                                               const FhirPathPatchOptions& options) {
  if (!parameters.is_object() || parameters.get_string("resourceType") != "Parameters") {
    return Invalid("GM-FPATCH-001", "a FHIRPath Patch must be a Parameters resource");
  }
  std::vector<Operation> ops;
  const json::Value* params = parameters.find("parameter");
  if (params == nullptr) return ops;
  if (!params->is_array()) {
    return Invalid("GM-FPATCH-002", "Parameters.parameter must be an array");
  }
  if (params->size() > options.max_operations) {
    return Invalid("GM-FPATCH-002", "a patch may have at most " +
                                        std::to_string(options.max_operations) + " operations");
  }
  for (size_t i = 0; i < params->size(); ++i) {
    GM_ASSIGN_OR_RETURN(Operation op, ParseOperation(params->array()[i], i));
    ops.push_back(op);
  }
  return ops;
}

}  // namespace

Status ApplyFhirPathPatch(const json::Value& parameters, json::Value& resource,
                          const FhirPathPatchOptions& options) {
  const fhir::Model& model = options.model != nullptr ? *options.model : fhir::Model::R4();
  GM_ASSIGN_OR_RETURN(std::vector<Operation> ops, ParseParameters(parameters, options));
  if (ops.empty()) return Status::Ok();
  json::Value doc = resource;
  Patcher patcher(model, options.max_steps, doc);
  for (const Operation& op : ops) GM_RETURN_IF_ERROR(patcher.Apply(op));
  resource = std::move(doc);
  return Status::Ok();
}

}  // namespace gm::patch
