#include "tests/patch/fhir_xml.h"

#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "fhir/primitives.h"

namespace gm::testing {

namespace {

Status Error(std::string text) {
  return Status::Error(ErrorCategory::kInvalid, "GM-XML-001", "invalid", std::move(text));
}

// The local name of an element or attribute ("Patient" for "f:Patient").
std::string_view LocalName(const char* name) {
  std::string_view n = name;
  size_t colon = n.find(':');
  return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

bool IsNamespaceAttribute(std::string_view name) {
  return name == "xmlns" || name.starts_with("xmlns:");
}

// Child elements, skipping whitespace text; other text is an error.
Status Elements(const pugi::xml_node& parent, std::vector<pugi::xml_node>& out) {
  for (pugi::xml_node child : parent.children()) {
    if (child.type() == pugi::node_element) {
      out.push_back(child);
    } else if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
      for (const char* p = child.value(); *p; ++p) {
        if (!std::strchr(" \t\r\n", *p)) {
          return Error("text content inside <" + std::string(parent.name()) + ">");
        }
      }
    }
  }
  return Status::Ok();
}

void AppendEscaped(std::string_view s, bool attribute, std::string& out) {
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += attribute ? ">" : "&gt;";
        break;
      case '"':
        out += attribute ? "&quot;" : "\"";
        break;
      default:
        out += c;
    }
  }
}

void AppendXhtml(const pugi::xml_node& node, std::string& out) {
  switch (node.type()) {
    case pugi::node_element: {
      out += '<';
      out += node.name();
      for (pugi::xml_attribute a : node.attributes()) {
        out += ' ';
        out += a.name();
        out += "=\"";
        AppendEscaped(a.value(), true, out);
        out += '"';
      }
      if (!node.first_child()) {
        out += "/>";
        return;
      }
      out += '>';
      for (pugi::xml_node child : node.children()) AppendXhtml(child, out);
      out += "</";
      out += node.name();
      out += '>';
      return;
    }
    case pugi::node_pcdata:
    case pugi::node_cdata:
      AppendEscaped(node.value(), false, out);
      return;
    default:
      return;
  }
}

class Converter {
 public:
  explicit Converter(const fhir::Model& model) : model_(model) {}

  Result<json::Value> Resource(const pugi::xml_node& el) {
    std::string name(LocalName(el.name()));
    const fhir::TypeDef* type = model_.Type(name);
    if (type == nullptr || type->kind != fhir::TypeKind::kResource || type->abstract) {
      return Error("<" + name + "> is not a resource type");
    }
    json::Value out = json::Value::MakeObject();
    out.set("resourceType", json::Value(name));
    GM_RETURN_IF_ERROR(Members(el, *type, /*resource=*/true, out));
    return out;
  }

 private:
  // The members of one JSON property, gathered over repeated XML elements.
  struct Field {
    std::string key;
    bool array = false;
    bool primitive = false;
    std::vector<json::Value> values;
    std::vector<json::Value> companions;
  };

  Status Members(const pugi::xml_node& el, const fhir::TypeDef& type, bool resource,
                 json::Value& out) {
    for (pugi::xml_attribute a : el.attributes()) {
      std::string_view name = a.name();
      if (IsNamespaceAttribute(name)) continue;
      bool allowed = !resource && (name == "id" || (name == "url" && type.name == "Extension"));
      if (!allowed) {
        return Error("attribute '" + std::string(name) + "' on <" + std::string(el.name()) + ">");
      }
      out.set(name, json::Value(std::string(a.value())));
    }
    std::vector<pugi::xml_node> children;
    GM_RETURN_IF_ERROR(Elements(el, children));
    std::vector<Field> fields;
    for (const pugi::xml_node& child : children) {
      std::string name(LocalName(child.name()));
      fhir::TypeDef::Match m = type.Find(name);
      if (m.element == nullptr || (type.name == "Extension" && name == "url")) {
        return Error("<" + name + "> is not an element of " + type.name);
      }
      Field* field = nullptr;
      for (Field& f : fields) {
        if (f.key == name) field = &f;
      }
      if (field == nullptr) {
        fields.push_back(Field{name, m.element->array, false, {}, {}});
        field = &fields.back();
      } else if (!field->array) {
        return Error("<" + name + "> repeats but is not a list");
      }
      GM_RETURN_IF_ERROR(Value(child, *m.element, m, *field));
    }
    for (Field& f : fields) {
      bool any_value = false, any_companion = false;
      for (const json::Value& v : f.values) any_value |= !v.is_null();
      for (const json::Value& c : f.companions) any_companion |= !c.is_null();
      if (!f.primitive || any_value) {
        out.set(f.key, f.array ? json::Value(std::move(f.values)) : std::move(f.values[0]));
      }
      if (f.primitive && any_companion) {
        out.set("_" + f.key,
                f.array ? json::Value(std::move(f.companions)) : std::move(f.companions[0]));
      }
    }
    return Status::Ok();
  }

  Status Value(const pugi::xml_node& child, const fhir::ElementDef& el,
               const fhir::TypeDef::Match& m, Field& field) {
    const fhir::TypeDef* ct = nullptr;
    if (el.choice) {
      ct = m.type != nullptr ? model_.Type(m.type->code) : nullptr;
    } else {
      ct = el.type != nullptr ? el.type : (m.type ? model_.Type(m.type->code) : nullptr);
    }
    bool system = m.type != nullptr && m.type->system;
    std::string name(LocalName(child.name()));
    if (name == "div" && ct != nullptr && ct->name == "xhtml") {
      field.primitive = true;
      field.values.push_back(json::Value(XhtmlToString(child)));
      field.companions.push_back(json::Value());
      return Status::Ok();
    }
    if (system || (ct != nullptr && ct->IsPrimitive())) {
      field.primitive = !system;
      return Primitive(child, system ? "string" : ct->name, ct, system, field);
    }
    if (ct == nullptr) return Error("<" + name + "> has no known type");
    if (ct->kind == fhir::TypeKind::kResource) {
      std::vector<pugi::xml_node> inner;
      GM_RETURN_IF_ERROR(Elements(child, inner));
      if (inner.size() != 1) return Error("<" + name + "> must hold exactly one resource");
      GM_ASSIGN_OR_RETURN(json::Value r, Resource(inner[0]));
      field.values.push_back(std::move(r));
      return Status::Ok();
    }
    json::Value obj = json::Value::MakeObject();
    GM_RETURN_IF_ERROR(Members(child, *ct, false, obj));
    field.values.push_back(std::move(obj));
    return Status::Ok();
  }

  Status Primitive(const pugi::xml_node& child, std::string_view type_name,
                   const fhir::TypeDef* type, bool system, Field& field) {
    std::string name(LocalName(child.name()));
    json::Value value;
    json::Value companion = json::Value::MakeObject();
    for (pugi::xml_attribute a : child.attributes()) {
      std::string_view an = a.name();
      if (IsNamespaceAttribute(an)) continue;
      if (an == "value") {
        auto p = fhir::PrimitiveFromName(type_name);
        if (!p) return Error("<" + name + "> has an unknown primitive type");
        std::string text = a.value();
        switch (fhir::JsonKindOf(*p)) {
          case json::Kind::kBool:
            if (text != "true" && text != "false") return Error("<" + name + "> is not a boolean");
            value = json::Value(text == "true");
            break;
          case json::Kind::kNumber:
            value = json::Value::Number(text);
            break;
          default:
            value = json::Value(text);
        }
        if (!fhir::CheckValue(*p, value).empty()) {
          return Error("<" + name + "> has an invalid " + std::string(type_name) + " value");
        }
      } else if (an == "id" && !system) {
        companion.set("id", json::Value(std::string(a.value())));
      } else {
        return Error("attribute '" + std::string(an) + "' on <" + name + ">");
      }
    }
    if (!system && type != nullptr) {
      std::vector<pugi::xml_node> inner;
      GM_RETURN_IF_ERROR(Elements(child, inner));
      json::Array extensions;
      const fhir::TypeDef* ext = model_.Type("Extension");
      for (const pugi::xml_node& e : inner) {
        if (LocalName(e.name()) != "extension" || ext == nullptr) {
          return Error("<" + std::string(e.name()) + "> inside primitive <" + name + ">");
        }
        json::Value obj = json::Value::MakeObject();
        GM_RETURN_IF_ERROR(Members(e, *ext, false, obj));
        extensions.push_back(std::move(obj));
      }
      if (!extensions.empty()) companion.set("extension", json::Value(std::move(extensions)));
    } else if (child.first_child()) {
      return Error("<" + name + "> takes no content");
    }
    if (value.is_null() && companion.empty()) return Error("<" + name + "> is empty");
    field.values.push_back(std::move(value));
    field.companions.push_back(companion.empty() ? json::Value() : std::move(companion));
    return Status::Ok();
  }

  const fhir::Model& model_;
};

std::optional<pugi::xml_node> OnlyElement(const pugi::xml_node& parent) {
  std::vector<pugi::xml_node> elements;
  if (!Elements(parent, elements).ok() || elements.size() != 1) return std::nullopt;
  return elements[0];
}

}  // namespace

std::string XhtmlToString(const pugi::xml_node& element) {
  std::string out;
  AppendXhtml(element, out);
  return out;
}

Result<json::Value> FhirXmlToJson(const pugi::xml_node& resource, const fhir::Model& model) {
  return Converter(model).Resource(resource);
}

Result<json::Value> FhirXmlToJson(std::string_view xml, const fhir::Model& model) {
  pugi::xml_document doc;
  pugi::xml_parse_result r = doc.load_buffer(xml.data(), xml.size(), kFhirXmlParseOptions);
  if (!r) {
    return Status::Error(ErrorCategory::kInvalid, "GM-XML-002", "invalid",
                         std::string("not well-formed XML: ") + r.description());
  }
  return FhirXmlToJson(doc.document_element(), model);
}

Result<json::Value> ConvertFhirPatchTests(std::string_view xml, std::string_view source,
                                          const fhir::Model& model) {
  pugi::xml_document doc;
  pugi::xml_parse_result r = doc.load_buffer(xml.data(), xml.size(), kFhirXmlParseOptions);
  if (!r) {
    return Status::Error(ErrorCategory::kInvalid, "GM-XML-002", "invalid",
                         std::string("not well-formed XML: ") + r.description());
  }
  json::Value cases = json::Value::MakeArray();
  for (pugi::xml_node c : doc.child("tests").children("case")) {
    std::string name = c.attribute("name").value();
    json::Value out = json::Value::MakeObject();
    out.set("name", json::Value(name));
    out.set("mode", json::Value(std::string(c.attribute("mode").value())));
    for (const char* part : {"input", "diff", "output"}) {
      pugi::xml_node holder = c.child(part);
      if (!holder) continue;
      std::optional<pugi::xml_node> res = OnlyElement(holder);
      if (!res) return Error("case '" + name + "': <" + part + "> must hold one resource");
      auto converted = FhirXmlToJson(*res, model);
      if (!converted.ok()) {
        return Error("case '" + name + "', <" + part + ">: " + converted.status().message());
      }
      out.set(part, std::move(converted).value());
    }
    if (pugi::xml_node error = c.child("error")) {
      out.set("error", json::Value(std::string(error.attribute("msg").value())));
    }
    if (out.find("input") == nullptr || out.find("diff") == nullptr ||
        (out.find("output") == nullptr) == (out.find("error") == nullptr)) {
      return Error("case '" + name + "' needs input, diff and either output or error");
    }
    cases.push_back(std::move(out));
  }
  json::Value fixture = json::Value::MakeObject();
  fixture.set("source", json::Value(std::string(source)));
  fixture.set("cases", std::move(cases));
  return fixture;
}

}  // namespace gm::testing
