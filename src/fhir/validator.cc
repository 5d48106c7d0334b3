#include "fhir/validator.h"

#include <algorithm>
#include <deque>
#include <optional>

#include "fhir/primitives.h"

namespace gm::fhir {
namespace internal {

namespace {

constexpr size_t kMaxDepth = 160;  // objects nested deeper are not validated further
constexpr size_t kMaxQuoted = 40;  // bytes of a member or type name quoted in a text

// The type of an element defined by contentReference (Questionnaire.item.item),
// which has no type list of its own; ElementDef::type holds its definition.
const TypeRef kContentReferenceType{"BackboneElement", false, {}};

// Per element of the object being validated: the members that carry it.
struct Slot {
  const json::Value* value = nullptr;      // member "name" (or "valueQuantity")
  const json::Value* companion = nullptr;  // member "_name"
  const TypeRef* type = nullptr;           // the (chosen) type; null when absent
};

// How values of one element are checked.
struct ValueKind {
  const TypeDef* type = nullptr;  // null for a FHIRPath System type without a FHIR type
  std::optional<Primitive> primitive;
  bool system = false;    // FHIRPath System type: no "_name" companion
  bool resource = false;  // holds a resource of the type its resourceType names
};

// A member or type name for a message: truncated, without control characters or quotes.
std::string Quote(std::string_view s) {
  std::string out = "'";
  size_t n = std::min(s.size(), kMaxQuoted);
  while (n < s.size() && n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out += (c < 0x20 || c == 0x7F || c == '\'' || c == '"' || c == '`' || c == '\\') ? '?' : s[i];
  }
  if (n < s.size()) out += "...";
  out += "'";
  return out;
}

bool IsFhirPathKeyword(std::string_view s) {
  for (std::string_view k : {"and", "or", "xor", "implies", "div", "mod", "true", "false"}) {
    if (s == k) return true;
  }
  return false;
}

// A name as a FHIRPath identifier: plain, or delimited with backticks when it
// is a keyword or has other characters (truncated and sanitized).
void AppendPathName(std::string_view s, std::string& out) {
  bool plain = !s.empty() && !IsFhirPathKeyword(s) && s.size() <= kMaxQuoted;
  for (size_t i = 0; plain && i < s.size(); ++i) {
    char c = s[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    plain = letter || (i > 0 && c >= '0' && c <= '9');
  }
  if (plain) {
    out += s;
    return;
  }
  std::string q = Quote(s);
  out += '`';
  out.append(q, 1, q.size() - 2);
  out += '`';
}

std::string_view JsonKindName(json::Kind k) {
  switch (k) {
    case json::Kind::kBool:
      return "boolean";
    case json::Kind::kNumber:
      return "number";
    case json::Kind::kString:
      return "string";
    case json::Kind::kArray:
      return "array";
    case json::Kind::kObject:
      return "object";
    case json::Kind::kNull:
      break;
  }
  return "null";
}

}  // namespace

class Validator {
 public:
  Validator(const Model& model, const ValidateOptions& options, std::vector<Issue>& issues)
      : model_(model), options_(options), issues_(issues) {
    path_.reserve(32);
    extension_type_ = model_.Type("Extension");
    if (extension_type_ != nullptr) {
      for (size_t i = 0; i < extension_type_->elements.size(); ++i) {
        const std::string& n = extension_type_->elements[i].name;
        if (n == "value") extension_value_ = i;
        if (n == "extension") extension_extension_ = i;
      }
    }
  }

  void Run(const json::Value& resource) {
    if (!resource.is_object()) {
      Add("GM-VAL-001", "structure", "Resource must be a JSON object");
      return;
    }
    ResourceNode(resource, nullptr, /*contained=*/false, /*top=*/true);
  }

  std::string Location() const {
    std::string out;
    for (const Segment& s : path_) {
      if (!out.empty()) out += '.';
      AppendPathName(s.name, out);
      if (!s.of_type.empty()) {
        out += ".ofType(";
        out += s.of_type;
        out += ')';
      }
      if (s.index >= 0) {
        out += '[';
        out += std::to_string(s.index);
        out += ']';
      }
    }
    return out;
  }

 private:
  struct Segment {
    std::string_view name;
    std::string_view of_type;  // chosen type of a choice element
    int index = -1;            // position in a repeating element
  };

  // Records an issue located at the current path, or at the current path plus
  // a child name.
  void Add(std::string_view code, std::string_view type, std::string text,
           std::string_view child = {}) {
    if (stopped_) return;
    if (issues_.size() >= options_.max_issues) {
      issues_.push_back(Issue{Severity::kError, "too-costly", "GM-VAL-029",
                              "Too many issues; validation stopped", Location()});
      stopped_ = true;
      return;
    }
    std::string expression = Location();
    if (!child.empty()) {
      if (!expression.empty()) expression += '.';
      AppendPathName(child, expression);
    }
    issues_.push_back(Issue{Severity::kError, std::string(type), std::string(code), std::move(text),
                            std::move(expression)});
  }

  // A JSON object holding a resource; the path already points at it (empty at the top).
  void ResourceNode(const json::Value& v, const TypeDef* declared, bool contained, bool top) {
    const json::Value* rt = v.find("resourceType");
    if (rt == nullptr) {
      Add("GM-VAL-002", "required", "Missing 'resourceType'");
      return;
    }
    if (!rt->is_string()) {
      Add("GM-VAL-002", "required", "'resourceType' must be a JSON string");
      return;
    }
    const TypeDef* type = model_.Type(rt->str());
    if (type == nullptr || type->kind != TypeKind::kResource) {
      Add("GM-VAL-003", "invalid", "Unknown resource type " + Quote(rt->str()));
      return;
    }
    if (type->abstract) {
      Add("GM-VAL-004", "invalid", "Resource type " + Quote(type->name) + " is abstract");
      return;
    }
    if (declared != nullptr && !model_.IsA(type->name, declared->name)) {
      Add("GM-VAL-027", "invalid",
          "Resource type " + Quote(type->name) + " is not allowed here; expected " +
              Quote(declared->name));
      return;
    }
    if (top) path_.push_back(Segment{type->name, {}, -1});
    const json::Value* saved_resource = resource_;
    const json::Value* saved_root = root_resource_;
    root_resource_ = contained && resource_ != nullptr ? resource_ : &v;
    resource_ = &v;
    if (contained) ContainedRules(v);
    Object(v, *type, /*is_resource=*/true, /*ele1=*/false);
    Hook(&v, nullptr, type, nullptr);
    resource_ = saved_resource;
    root_resource_ = saved_root;
    if (top) path_.pop_back();
  }

  // dom-2, dom-4, dom-5 on a contained resource.
  void ContainedRules(const json::Value& v) {
    if (v.find("contained") != nullptr) {
      Add("GM-VAL-024", "invariant",
          "A contained resource must not contain other resources (dom-2)", "contained");
    }
    const json::Value* meta = v.find("meta");
    if (meta == nullptr || !meta->is_object()) return;
    if (meta->find("versionId") != nullptr || meta->find("lastUpdated") != nullptr) {
      Add("GM-VAL-025", "invariant",
          "A contained resource must not have meta.versionId or meta.lastUpdated (dom-4)", "meta");
    }
    if (meta->find("security") != nullptr) {
      Add("GM-VAL-026", "invariant", "A contained resource must not have security labels (dom-5)",
          "meta");
    }
  }

  // The members of an object of `type` (a resource, complex type, backbone
  // element, or the id/extension of a primitive's companion).
  void Object(const json::Value& obj, const TypeDef& type, bool is_resource, bool ele1) {
    if (depth_ >= kMaxDepth) {
      Add("GM-VAL-030", "too-costly", "Content is nested too deeply to validate");
      return;
    }
    if (slots_.size() <= depth_) slots_.emplace_back();
    std::vector<Slot>& slots = slots_[depth_];
    slots.assign(type.elements.size(), Slot{});
    ++depth_;
    for (const json::Member& member : obj.object()) {
      if (stopped_) break;
      const std::string& key = member.first;
      if (is_resource && key == "resourceType") continue;
      bool companion = !key.empty() && key[0] == '_';
      std::string_view name = companion ? std::string_view(key).substr(1) : std::string_view(key);
      TypeDef::Match m = type.Find(name);
      if (m.element != nullptr && m.type == nullptr && m.element->type != nullptr) {
        m.type = &kContentReferenceType;
      }
      if (m.element == nullptr || m.type == nullptr) {
        Unknown(type, key);
        continue;
      }
      const ElementDef& el = *m.element;
      Slot& slot = slots[static_cast<size_t>(m.element - type.elements.data())];
      if (companion) {
        ValueKind k = KindOf(el, *m.type, is_resource);
        if (!k.primitive || k.system) {
          Add("GM-VAL-006", "structure",
              "Element " + Quote(el.name) + " takes no " + Quote(key) + " companion", key);
          continue;
        }
      }
      if (slot.type != nullptr && slot.type != m.type) {
        Add("GM-VAL-010", "structure",
            "Element " + Quote(el.name + "[x]") + " has more than one type", el.name);
        continue;
      }
      slot.type = m.type;
      (companion ? slot.companion : slot.value) = &member.second;
    }
    for (size_t i = 0; i < slots.size() && !stopped_; ++i) {
      const ElementDef& el = type.elements[i];
      const Slot& slot = slots[i];
      if (slot.type == nullptr) {
        if (el.min > 0) {
          Add("GM-VAL-012", "required",
              "Missing required element " + Quote(el.choice ? el.name + "[x]" : el.name), el.name);
        }
        continue;
      }
      Element(el, slot, is_resource);
    }
    if (&type == extension_type_) {
      bool has_value = slots[extension_value_].type != nullptr;
      bool has_extensions = slots[extension_extension_].type != nullptr;
      if (has_value && has_extensions) {
        Add("GM-VAL-022", "invariant",
            "Extension must not have both a value and nested extensions (ext-1)");
      } else if (!has_value && !has_extensions) {
        Add("GM-VAL-023", "invariant", "Extension must have a value or nested extensions (ext-1)");
      }
    }
    if (ele1 && obj.size() == 1 && obj.find("id") != nullptr) {
      Add("GM-VAL-021", "invariant", "Element must have content other than 'id' (ele-1)");
    }
    --depth_;
  }

  ValueKind KindOf(const ElementDef& el, const TypeRef& ref, bool owner_is_resource) const {
    ValueKind k;
    k.system = ref.system;
    if (owner_is_resource && el.name == "id") {
      k.primitive = Primitive::kId;  // Resource.id is an id (its System.String type is a quirk)
      k.system = true;
      return k;
    }
    const TypeDef* type = el.choice ? model_.Type(ref.code) : el.type;
    if (type == nullptr) {
      if (ref.system) k.primitive = Primitive::kString;  // System.String
      return k;
    }
    k.type = type;
    if (type->IsPrimitive()) {
      k.primitive = PrimitiveFromName(type->name);
    } else if (type->kind == TypeKind::kResource) {
      k.resource = true;
    }
    return k;
  }

  void Element(const ElementDef& el, const Slot& slot, bool owner_is_resource) {
    ValueKind k = KindOf(el, *slot.type, owner_is_resource);
    path_.push_back(Segment{el.name, el.choice ? std::string_view(slot.type->code) : ""});
    const json::Value* v = slot.value;
    const json::Value* c = slot.companion;
    if (el.array) {
      RepeatingElement(el, k, v, c);
    } else if ((v != nullptr && v->is_array()) || (c != nullptr && c->is_array())) {
      Add("GM-VAL-008", "structure", "Element " + Quote(el.name) + " must not be a JSON array");
    } else {
      if (el.max == 0) {
        Add("GM-VAL-013", "structure", "Element " + Quote(el.name) + " is not allowed here");
      }
      if (k.primitive) {
        PrimitiveItem(el, k, v, c, /*aligned=*/false);
      } else {
        Complex(el, k, *v);
      }
    }
    path_.pop_back();
  }

  void RepeatingElement(const ElementDef& el, const ValueKind& k, const json::Value* v,
                        const json::Value* c) {
    bool bad = false;
    for (const json::Value* a : {v, c}) {
      if (a == nullptr) continue;
      std::string shown = (a == c ? "_" : "") + el.name;
      if (!a->is_array()) {
        Add("GM-VAL-007", "structure", "Element " + Quote(shown) + " must be a JSON array");
        bad = true;
      } else if (a->empty()) {
        Add("GM-VAL-019", "structure", "Element " + Quote(shown) + " must not be an empty array");
        bad = true;
      }
    }
    if (bad) return;
    size_t nv = v != nullptr ? v->size() : 0;
    size_t nc = c != nullptr ? c->size() : 0;
    if (v != nullptr && c != nullptr && nv != nc) {
      Add("GM-VAL-015", "structure",
          "Arrays " + Quote(el.name) + " and " + Quote("_" + el.name) +
              " must have the same length");
    }
    size_t n = std::max(nv, nc);
    if (el.max >= 0 && n > static_cast<size_t>(el.max)) {
      Add("GM-VAL-013", "structure",
          "Element " + Quote(el.name) + " allows at most " + std::to_string(el.max) +
              (el.max == 1 ? " entry" : " entries") + ", found " + std::to_string(n));
    }
    if (n < static_cast<size_t>(std::max(el.min, 0))) {
      Add("GM-VAL-012", "required",
          "Element " + Quote(el.name) + " needs at least " + std::to_string(el.min) +
              " entries, found " + std::to_string(n));
    }
    for (size_t i = 0; i < n && !stopped_; ++i) {
      path_.back().index = static_cast<int>(i);
      const json::Value* vi = i < nv ? &v->array()[i] : nullptr;
      const json::Value* ci = i < nc ? &c->array()[i] : nullptr;
      if (k.primitive) {
        PrimitiveItem(el, k, vi, ci, /*aligned=*/v != nullptr && c != nullptr);
      } else {
        Complex(el, k, *vi);
      }
    }
  }

  // One occurrence of a primitive: its value and/or its "_name" companion
  // (either may be absent or JSON null).
  void PrimitiveItem(const ElementDef& el, const ValueKind& k, const json::Value* v,
                     const json::Value* c, bool aligned) {
    bool v_null = v != nullptr && v->is_null();
    bool c_null = c != nullptr && c->is_null();
    if (v_null && c_null) {
      Add("GM-VAL-017", "structure",
          Quote(el.name) + " and " + Quote("_" + el.name) + " must not both be null");
      return;
    }
    if ((v_null && c == nullptr) || (c_null && v == nullptr) || ((v_null || c_null) && !aligned)) {
      Add("GM-VAL-016", "structure", "null is not allowed here");
    }
    bool has_value = v != nullptr && !v_null;
    if (has_value) PrimitiveValue(el, k, *v);
    if (c != nullptr && !c_null) Companion(el, k, *c, has_value);
    if (has_value || (c != nullptr && !c_null)) {
      Hook(has_value ? v : nullptr, c != nullptr && !c_null ? c : nullptr, k.type, &el);
    }
  }

  void PrimitiveValue(const ElementDef& el, const ValueKind& k, const json::Value& v) {
    Primitive p = *k.primitive;
    json::Kind want = JsonKindOf(p);
    if (v.kind() != want) {
      Add("GM-VAL-009", "structure",
          "Element " + Quote(el.name) + " (" + std::string(PrimitiveName(p)) + ") must be a JSON " +
              std::string(JsonKindName(want)) + ", found " + std::string(JsonKindName(v.kind())));
      return;
    }
    if (want == json::Kind::kBool) return;
    if (v.is_string() && v.str().empty()) {
      Add("GM-VAL-020", "value", "Element " + Quote(el.name) + " must not be an empty string");
      return;
    }
    std::string_view reason = CheckLexical(p, v.str());
    if (!reason.empty()) {
      Add("GM-VAL-014", "value",
          "Invalid " + std::string(PrimitiveName(p)) + " value: " + std::string(reason));
      return;
    }
    if (p == Primitive::kCode && el.binding_strength == "required") {
      const std::vector<std::string>* codes = model_.ValueSetCodes(el.binding_valueset);
      if (codes != nullptr && std::find(codes->begin(), codes->end(), v.str()) == codes->end()) {
        std::string_view vs = el.binding_valueset;
        vs = vs.substr(0, vs.find('|'));
        Add("GM-VAL-028", "code-invalid",
            "Value is not a code of the required value set " + std::string(vs));
      }
    }
  }

  void Companion(const ElementDef& el, const ValueKind& k, const json::Value& c, bool has_value) {
    if (!c.is_object()) {
      Add("GM-VAL-009", "structure",
          "Element " + Quote("_" + el.name) + " must be a JSON object, found " +
              std::string(JsonKindName(c.kind())));
      return;
    }
    if (c.empty()) {
      Add("GM-VAL-018", "structure",
          "Element " + Quote("_" + el.name) + " must not be an empty object");
      return;
    }
    if (k.type == nullptr) return;
    Object(c, *k.type, /*is_resource=*/false, /*ele1=*/false);
    if (!has_value && c.size() == 1 && c.find("id") != nullptr) {
      Add("GM-VAL-021", "invariant",
          "Element must have a value or extensions, not only 'id' (ele-1)");
    }
  }

  void Complex(const ElementDef& el, const ValueKind& k, const json::Value& v) {
    if (v.is_null()) {
      Add("GM-VAL-016", "structure", "null is not allowed here");
      return;
    }
    if (!v.is_object()) {
      Add("GM-VAL-009", "structure",
          "Element " + Quote(el.name) + " must be a JSON object, found " +
              std::string(JsonKindName(v.kind())));
      return;
    }
    if (v.empty()) {
      Add("GM-VAL-018", "structure", "Element " + Quote(el.name) + " must not be an empty object");
      return;
    }
    if (k.resource) {
      ResourceNode(v, k.type, /*contained=*/el.name == "contained", /*top=*/false);
      return;
    }
    if (k.type == nullptr) return;
    Object(v, *k.type, /*is_resource=*/false, /*ele1=*/true);
    Hook(&v, nullptr, k.type, &el);
  }

  void Unknown(const TypeDef& type, const std::string& key) {
    std::string_view name = key;
    if (!name.empty() && name[0] == '_') name.remove_prefix(1);
    for (const ElementDef& el : type.elements) {
      if (el.choice && name.size() > el.name.size() && name.starts_with(el.name) &&
          name[el.name.size()] >= 'A' && name[el.name.size()] <= 'Z') {
        Add("GM-VAL-011", "structure",
            Quote(key) + " is not an allowed type of " + Quote(el.name + "[x]"), el.name);
        return;
      }
    }
    Add("GM-VAL-005", "structure", "Unknown element " + Quote(key), key);
  }

  void Hook(const json::Value* node, const json::Value* companion, const TypeDef* type,
            const ElementDef* el) {
    if (!options_.invariants || stopped_) return;
    bool constrained = (el != nullptr && !el->constraints.empty()) ||
                       (type != nullptr && !type->constraints.empty());
    if (!constrained) return;
    InvariantSite site;
    site.validator_ = this;
    site.node_ = node;
    site.companion_ = companion;
    site.type_ = type;
    site.element_ = el;
    site.resource_ = resource_;
    site.root_resource_ = root_resource_;
    options_.invariants(site, issues_);
    if (issues_.size() > options_.max_issues) {
      issues_.resize(options_.max_issues);
      Add("GM-VAL-029", "too-costly", "Too many issues; validation stopped");
    }
  }

  const Model& model_;
  const ValidateOptions& options_;
  std::vector<Issue>& issues_;
  std::vector<Segment> path_;
  std::deque<std::vector<Slot>> slots_;  // one per object depth; a deque keeps references valid
  size_t depth_ = 0;
  bool stopped_ = false;
  const json::Value* resource_ = nullptr;
  const json::Value* root_resource_ = nullptr;
  const TypeDef* extension_type_ = nullptr;
  size_t extension_value_ = 0;
  size_t extension_extension_ = 0;
};

}  // namespace internal

std::string InvariantSite::Location() const {
  return validator_ != nullptr ? validator_->Location() : std::string();
}

std::vector<Issue> Validate(const json::Value& resource, const ValidateOptions& options) {
  std::vector<Issue> issues;
  const Model& model = options.model != nullptr ? *options.model : Model::R4();
  internal::Validator(model, options, issues).Run(resource);
  return issues;
}

Status ValidateResource(const json::Value& resource, const ValidateOptions& options) {
  std::vector<Issue> issues = Validate(resource, options);
  if (issues.empty()) return Status::Ok();
  return Status(ErrorCategory::kUnprocessable, std::move(issues));
}

bool IsNativeConstraint(std::string_view key) {
  for (std::string_view k : {"ele-1", "ext-1", "dom-2", "dom-4", "dom-5", "txt-1", "txt-2"}) {
    if (key == k) return true;
  }
  return false;
}

}  // namespace gm::fhir
