#include "fhir/shape.h"

#include <algorithm>
#include <cstdint>
#include <utility>

namespace gm::fhir {

namespace {

constexpr std::string_view kSubsettedSystem =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";
constexpr std::string_view kSubsettedCode = "SUBSETTED";

std::string_view StripCompanion(std::string_view key) {
  return !key.empty() && key[0] == '_' ? key.substr(1) : key;
}

// Matches a member name to an element; null element when unknown. Elements
// defined by contentReference have no type list: their type is element->type.
struct ElementMatch {
  const ElementDef* element = nullptr;
  const TypeDef* type = nullptr;  // type of the values (for resources: the declared type)
};

ElementMatch Lookup(const Model& model, const TypeDef& owner, std::string_view key) {
  TypeDef::Match m = owner.Find(StripCompanion(key));
  if (m.element == nullptr) return {};
  if (m.element->choice) {
    return m.type != nullptr ? ElementMatch{m.element, model.Type(m.type->code)} : ElementMatch{};
  }
  return {m.element, m.element->type};
}

const TypeDef* ResourceTypeOf(const Model& model, const json::Value& v) {
  if (!v.is_object()) return nullptr;
  const TypeDef* t = model.Type(v.get_string("resourceType"));
  return t != nullptr && t->kind == TypeKind::kResource && !t->abstract ? t : nullptr;
}

// The type of one value of an element of `declared` type: for resource-typed
// elements (contained, Bundle.entry.resource) the type its resourceType names.
const TypeDef* ValueType(const Model& model, const TypeDef* declared, const json::Value& value) {
  if (declared != nullptr && declared->kind == TypeKind::kResource) {
    return ResourceTypeOf(model, value);
  }
  return declared;
}

void CanonicalizeObject(json::Value& v, const TypeDef& type, bool is_resource, const Model& model);

void CanonicalizeValue(json::Value& v, const TypeDef* type, const Model& model) {
  if (v.is_array()) {
    for (json::Value& item : v.array()) CanonicalizeValue(item, type, model);
    return;
  }
  if (!v.is_object()) return;
  if (type != nullptr && type->kind == TypeKind::kResource) {
    if (const TypeDef* actual = ResourceTypeOf(model, v))
      CanonicalizeObject(v, *actual, true, model);
    return;
  }
  if (type != nullptr) CanonicalizeObject(v, *type, false, model);
}

void CanonicalizeObject(json::Value& v, const TypeDef& type, bool is_resource, const Model& model) {
  json::Object& members = v.object();
  std::vector<std::pair<uint64_t, size_t>> order;
  order.reserve(members.size());
  bool sorted = true;
  for (size_t i = 0; i < members.size(); ++i) {
    const std::string& key = members[i].first;
    uint64_t rank;
    if (is_resource && key == "resourceType") {
      rank = 0;
    } else {
      bool companion = !key.empty() && key[0] == '_';
      ElementMatch m = Lookup(model, type, key);
      if (m.element == nullptr) {
        rank = UINT64_MAX;
      } else {
        size_t index = static_cast<size_t>(m.element - type.elements.data());
        rank = 1 + 2 * index + (companion ? 1 : 0);
        if (m.type != nullptr && (companion || !m.type->IsPrimitive())) {
          CanonicalizeValue(members[i].second, m.type, model);
        }
      }
    }
    if (!order.empty() && rank < order.back().first) sorted = false;
    order.emplace_back(rank, i);
  }
  if (sorted) return;
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  json::Object reordered;
  reordered.reserve(members.size());
  for (const auto& [rank, i] : order) reordered.push_back(std::move(members[i]));
  members = std::move(reordered);
}

bool InSummary(const ElementDef& el) { return el.summary || el.min > 0 || el.modifier; }

// True for a summarized value with nothing left to show: an empty object or
// array, or an element with only its id (which would break ele-1).
bool Hollow(const json::Value& v) {
  if (v.is_array()) return v.empty();
  if (!v.is_object()) return false;
  return v.empty() || (v.size() == 1 && v.find("id") != nullptr);
}

json::Value SummaryObject(const json::Value& obj, const TypeDef& type, bool is_resource,
                          const Model& model);

// A summarized copy of one value of an included element (Hollow when nothing is left).
json::Value SummaryValue(const json::Value& v, const TypeDef* type, const Model& model) {
  if (!v.is_object() || type == nullptr) return v;
  if (type->kind == TypeKind::kResource) {
    json::Value out = SummaryObject(v, *type, true, model);
    AddSubsettedTag(out);
    return out;
  }
  return SummaryObject(v, *type, false, model);
}

json::Value SummaryObject(const json::Value& obj, const TypeDef& type, bool is_resource,
                          const Model& model) {
  json::Value out = json::Value::MakeObject();
  for (const json::Member& member : obj.object()) {
    const std::string& key = member.first;
    const json::Value& value = member.second;
    if (is_resource && key == "resourceType") {
      out.object().push_back(member);
      continue;
    }
    ElementMatch m = Lookup(model, type, key);
    if (m.element == nullptr || !InSummary(*m.element)) continue;
    const TypeDef* child = m.type;
    bool whole =
        key[0] == '_' || child == nullptr || child->IsPrimitive() || child->name == "Extension";
    if (whole) {
      out.object().push_back(member);
      continue;
    }
    json::Value shaped;
    if (value.is_array()) {
      shaped = json::Value::MakeArray();
      for (const json::Value& item : value.array()) {
        json::Value s = SummaryValue(item, ValueType(model, child, item), model);
        if (!Hollow(s)) shaped.push_back(std::move(s));
      }
    } else {
      shaped = SummaryValue(value, ValueType(model, child, value), model);
    }
    if (Hollow(shaped)) continue;
    out.object().emplace_back(key, std::move(shaped));
  }
  return out;
}

json::Value TextObject(const json::Value& obj, const TypeDef& type, const Model& model) {
  json::Value out = json::Value::MakeObject();
  for (const json::Member& member : obj.object()) {
    const std::string& key = member.first;
    std::string_view name = StripCompanion(key);
    bool keep = key == "resourceType" || name == "id" || name == "meta" || name == "text";
    if (!keep) {
      ElementMatch m = Lookup(model, type, key);
      keep = m.element != nullptr && m.element->min > 0;
    }
    if (keep) out.object().push_back(member);
  }
  return out;
}

json::Value DataObject(const json::Value& obj) {
  json::Value out = json::Value::MakeObject();
  for (const json::Member& member : obj.object()) {
    if (member.first != "text" && member.first != "_text") out.object().push_back(member);
  }
  return out;
}

// The index of the top-level element that an _elements entry names, or -1.
long ElementIndex(const TypeDef& type, std::string_view name) {
  if (name.size() > type.name.size() && name.starts_with(type.name) &&
      name[type.name.size()] == '.') {
    name.remove_prefix(type.name.size() + 1);
  }
  name = name.substr(0, name.find('.'));
  if (name.ends_with("[x]")) name.remove_suffix(3);
  for (size_t i = 0; i < type.elements.size(); ++i) {
    if (type.elements[i].name == name) return static_cast<long>(i);
  }
  TypeDef::Match m = type.Find(name);
  if (m.element != nullptr) return static_cast<long>(m.element - type.elements.data());
  return -1;
}

json::Value ElementsObject(json::Value&& obj, const TypeDef& type,
                           const std::vector<std::string>& names, const Model& model) {
  std::vector<bool> selected(type.elements.size(), false);
  for (const std::string& n : names) {
    long i = ElementIndex(type, n);
    if (i >= 0) selected[static_cast<size_t>(i)] = true;
  }
  json::Value out = json::Value::MakeObject();
  for (json::Member& member : obj.object()) {
    const std::string& key = member.first;
    std::string_view name = StripCompanion(key);
    bool keep = key == "resourceType" || name == "id" || name == "meta";
    if (!keep) {
      ElementMatch m = Lookup(model, type, key);
      if (m.element != nullptr) {
        keep =
            m.element->min > 0 || selected[static_cast<size_t>(m.element - type.elements.data())];
      }
    }
    if (keep) out.object().push_back(std::move(member));
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<Summary> ParseSummary(std::string_view value) {
  if (value == "true") return Summary::kTrue;
  if (value == "false") return Summary::kFalse;
  if (value == "text") return Summary::kText;
  if (value == "data") return Summary::kData;
  if (value == "count") return Summary::kCount;
  return Status::Error(ErrorCategory::kInvalid, "GM-SHAPE-001", "invalid",
                       "_summary must be one of true, text, data, count, false");
}

std::vector<std::string> ParseElements(std::string_view value) {
  std::vector<std::string> out;
  while (true) {
    size_t comma = value.find(',');
    std::string_view item = Trim(value.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

bool Subsets(const ShapeOptions& options) {
  return options.summary != Summary::kFalse || !options.elements.empty();
}

json::Value Shape(const json::Value& resource, const ShapeOptions& options) {
  const Model& model = options.model != nullptr ? *options.model : Model::R4();
  const TypeDef* type = ResourceTypeOf(model, resource);
  if (type == nullptr || !Subsets(options)) return resource;
  json::Value out;
  switch (options.summary) {
    case Summary::kTrue:
    case Summary::kCount:
      out = SummaryObject(resource, *type, true, model);
      break;
    case Summary::kText:
      out = TextObject(resource, *type, model);
      break;
    case Summary::kData:
      out = DataObject(resource);
      break;
    case Summary::kFalse:
      out = resource;
      break;
  }
  if (!options.elements.empty())
    out = ElementsObject(std::move(out), *type, options.elements, model);
  AddSubsettedTag(out);
  return out;
}

void AddSubsettedTag(json::Value& resource) {
  if (!resource.is_object()) return;
  json::Value* meta = resource.find("meta");
  if (meta == nullptr) {
    json::Object& members = resource.object();
    size_t at = 0;
    for (size_t i = 0; i < members.size(); ++i) {
      if (members[i].first == "resourceType" || members[i].first == "id") at = i + 1;
    }
    members.insert(members.begin() + static_cast<long>(at),
                   json::Member("meta", json::Value::MakeObject()));
    meta = &members[at].second;
  }
  if (!meta->is_object()) return;
  json::Value* tags = meta->find("tag");
  if (tags == nullptr) tags = &meta->set("tag", json::Value::MakeArray());
  if (!tags->is_array()) return;
  for (const json::Value& t : tags->array()) {
    if (t.get_string("system") == kSubsettedSystem && t.get_string("code") == kSubsettedCode) {
      return;
    }
  }
  json::Value tag = json::Value::MakeObject();
  tag.set("system", kSubsettedSystem);
  tag.set("code", kSubsettedCode);
  tags->push_back(std::move(tag));
}

void Canonicalize(json::Value& resource, const Model* model) {
  const Model& m = model != nullptr ? *model : Model::R4();
  if (const TypeDef* type = ResourceTypeOf(m, resource))
    CanonicalizeObject(resource, *type, true, m);
}

void Serialize(const json::Value& resource, std::string& out, const SerializeOptions& options) {
  json::Value copy = resource;
  Canonicalize(copy, options.model);
  json::Write(copy, out, json::WriteOptions{.pretty = options.pretty});
}

std::string Serialize(const json::Value& resource, const SerializeOptions& options) {
  std::string out;
  Serialize(resource, out, options);
  return out;
}

}  // namespace gm::fhir
