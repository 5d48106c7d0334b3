#include "labs/xml.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>

#include <memory>
#include <mutex>

extern "C" {
extern const char gm_labs_xsd_kith_start[];
extern const char gm_labs_xsd_kith_end[];
extern const char gm_labs_xsd_v13_start[];
extern const char gm_labs_xsd_v13_end[];
extern const char gm_labs_xsd_v14_start[];
extern const char gm_labs_xsd_v14_end[];
extern const char gm_labs_xsd_base64_start[];
extern const char gm_labs_xsd_base64_end[];
}

namespace gm::labs {

namespace {

constexpr std::string_view kNsV13 = "http://www.kith.no/xmlstds/labsvar/2008-12-01";
constexpr std::string_view kNsV14 = "http://www.kith.no/xmlstds/labsvar/2012-02-15";

std::string_view Embedded(const char* start, const char* end) {
  return std::string_view(start, static_cast<size_t>(end - start));
}

// The schema set for one Svarrapport version: the version's XSD (which
// imports kith.xsd) plus the Base64Container declaration its RefDoc/Content
// wildcard demands, tied together by a small wrapper schema.
std::string WrapperXsd(std::string_view ns, std::string_view file) {
  std::string w;
  w += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  w += "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" targetNamespace=\"";
  w += ns;
  w += "\" elementFormDefault=\"qualified\">\n";
  w += "<xs:include schemaLocation=\"gm-embedded:" + std::string(file) + "\"/>\n";
  w += "<xs:import namespace=\"http://www.kith.no/xmlstds/base64container\" "
       "schemaLocation=\"gm-embedded:kith-base64.xsd\"/>\n";
  w += "</xs:schema>\n";
  return w;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Every external resource libxml2 asks for is served from memory or refused:
// no network, no file system (also shuts out XXE in messages).
xmlParserInputPtr EmbeddedLoader(const char* url, const char* /*id*/, xmlParserCtxtPtr ctxt) {
  std::string_view u = url ? url : "";
  std::string_view data;
  if (EndsWith(u, "kith-base64.xsd")) {
    data = Embedded(gm_labs_xsd_base64_start, gm_labs_xsd_base64_end);
  } else if (EndsWith(u, "kith.xsd")) {
    data = Embedded(gm_labs_xsd_kith_start, gm_labs_xsd_kith_end);
  } else if (EndsWith(u, "svar-v13.xsd")) {
    data = Embedded(gm_labs_xsd_v13_start, gm_labs_xsd_v13_end);
  } else if (EndsWith(u, "svar-v1.4.xsd")) {
    data = Embedded(gm_labs_xsd_v14_start, gm_labs_xsd_v14_end);
  } else {
    return nullptr;
  }
  xmlParserInputBufferPtr buf = xmlParserInputBufferCreateMem(
      data.data(), static_cast<int>(data.size()), XML_CHAR_ENCODING_NONE);
  if (buf == nullptr) return nullptr;
  xmlParserInputPtr in = xmlNewIOInputStream(ctxt, buf, XML_CHAR_ENCODING_NONE);
  if (in == nullptr) {
    xmlFreeParserInputBuffer(buf);
    return nullptr;
  }
  if (url != nullptr) in->filename = reinterpret_cast<char*>(xmlStrdup(BAD_CAST url));
  return in;
}

void IgnoreErrors(void*, xmlErrorPtr) {}
void IgnoreGeneric(void*, const char*, ...) {}

struct Schemas {
  xmlSchemaPtr v13 = nullptr;
  xmlSchemaPtr v14 = nullptr;
  std::string problem;
};

xmlSchemaPtr Compile(std::string_view ns, std::string_view file, std::string& problem) {
  std::string wrapper = WrapperXsd(ns, file);
  xmlSchemaParserCtxtPtr pctxt =
      xmlSchemaNewMemParserCtxt(wrapper.data(), static_cast<int>(wrapper.size()));
  if (pctxt == nullptr) {
    problem = "cannot create the schema parser";
    return nullptr;
  }
  xmlSchemaSetParserStructuredErrors(pctxt, IgnoreErrors, nullptr);
  xmlSchemaPtr schema = xmlSchemaParse(pctxt);
  xmlSchemaFreeParserCtxt(pctxt);
  if (schema == nullptr) problem = "the embedded " + std::string(file) + " does not compile";
  return schema;
}

const Schemas& GetSchemas() {
  static Schemas* schemas = [] {
    xmlInitParser();
    xmlSetExternalEntityLoader(EmbeddedLoader);
    xmlSetGenericErrorFunc(nullptr, IgnoreGeneric);
    auto* s = new Schemas;
    s->v13 = Compile(kNsV13, "svar-v13.xsd", s->problem);
    s->v14 = Compile(kNsV14, "svar-v1.4.xsd", s->problem);
    return s;
  }();
  return *schemas;
}

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

void CollectText(const xmlNode* n, std::string& out) {
  for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
    if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
      if (c->content) out += reinterpret_cast<const char*>(c->content);
    } else if (c->type == XML_ELEMENT_NODE) {
      size_t before = out.size();
      CollectText(c, out);
      // Block-level markup (xhtml paragraphs, line breaks) becomes a line break.
      std::string_view nm = reinterpret_cast<const char*>(c->name);
      if ((nm == "p" || nm == "br" || nm == "div" || nm == "li") && out.size() >= before) {
        out += "\n";
      }
    }
  }
}

XmlNode Convert(const xmlNode* n, int depth) {
  XmlNode out;
  out.name = reinterpret_cast<const char*>(n->name);
  out.line = static_cast<int>(xmlGetLineNo(n));
  for (const xmlAttr* a = n->properties; a != nullptr; a = a->next) {
    xmlChar* v = xmlNodeListGetString(n->doc, a->children, 1);
    out.attrs.emplace_back(reinterpret_cast<const char*>(a->name),
                           v ? reinterpret_cast<const char*>(v) : "");
    if (v) xmlFree(v);
  }
  std::string text;
  CollectText(n, text);
  out.text = Trim(std::move(text));
  if (depth < 64) {
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
      if (c->type == XML_ELEMENT_NODE) out.children.push_back(Convert(c, depth + 1));
    }
  }
  return out;
}

// /Message/ServReport/Patient/ResultItem[2] — positions only where a name repeats.
std::string PathOf(const xmlNode* n) {
  std::vector<std::string> parts;
  for (; n != nullptr && n->type == XML_ELEMENT_NODE; n = n->parent) {
    std::string part = reinterpret_cast<const char*>(n->name);
    int index = 0, count = 0;
    if (n->parent != nullptr) {
      for (const xmlNode* s = n->parent->children; s != nullptr; s = s->next) {
        if (s->type != XML_ELEMENT_NODE || !xmlStrEqual(s->name, n->name)) continue;
        ++count;
        if (s == n) index = count;
      }
    }
    if (count > 1) part += "[" + std::to_string(index) + "]";
    parts.push_back(std::move(part));
  }
  std::string path;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) path += "/" + *it;
  return path;
}

// libxml2's message without quoted data: '{ns}Name' becomes Name, short
// attribute names stay, every other quoted value becomes (value).
std::string Sanitise(std::string_view msg) {
  std::string out;
  size_t i = 0;
  while (i < msg.size()) {
    if (msg[i] != '\'') {
      if (msg[i] != '\n') out += msg[i];
      ++i;
      continue;
    }
    size_t close = msg.find('\'', i + 1);
    if (close == std::string_view::npos) {
      out += msg.substr(i);
      break;
    }
    std::string_view q = msg.substr(i + 1, close - i - 1);
    bool word = !q.empty() && q.size() <= 40;
    for (char c : q) {
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':')) word = false;
    }
    if (!q.empty() && q[0] == '{') {
      size_t rb = q.find('}');
      out += "'" + std::string(rb == std::string_view::npos ? q : q.substr(rb + 1)) + "'";
    } else if (word) {
      out += "'" + std::string(q) + "'";
    } else {
      out += "(value)";
    }
    i = close + 1;
  }
  // Namespace names in lists of expected elements: "{http://…}Name" → "Name".
  for (size_t lb = out.find('{'); lb != std::string::npos; lb = out.find('{', lb)) {
    size_t rb = out.find('}', lb);
    if (rb == std::string::npos) break;
    out.erase(lb, rb - lb + 1);
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '.')) out.pop_back();
  return out;
}

struct Collector {
  std::vector<Issue> issues;
};

void CollectSchemaError(void* user, xmlErrorPtr e) {
  auto* c = static_cast<Collector*>(user);
  if (e == nullptr || c->issues.size() >= 50) return;
  const xmlNode* node = static_cast<const xmlNode*>(e->node);
  std::string path = node != nullptr && node->type == XML_ELEMENT_NODE ? PathOf(node) : "";
  std::string element = node != nullptr && node->name ? reinterpret_cast<const char*>(node->name)
                                                       : std::string("(document)");
  std::string text = "XSD: element " + element + " (line " + std::to_string(e->line) +
                     "): " + Sanitise(e->message ? e->message : "invalid");
  c->issues.push_back(Issue{Severity::kError, "structure", "GM-LAB-003", std::move(text),
                            std::move(path)});
}

const xmlNode* FindMessage(const xmlNode* n, SvarVersion& version, int depth) {
  for (; n != nullptr; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    if (xmlStrEqual(n->name, BAD_CAST "Message") && n->ns != nullptr && n->ns->href != nullptr) {
      std::string_view ns = reinterpret_cast<const char*>(n->ns->href);
      if (ns == kNsV13 || ns == kNsV14) {
        version = ns == kNsV13 ? SvarVersion::kV13 : SvarVersion::kV14;
        return n;
      }
    }
    if (depth < 12) {
      if (const xmlNode* m = FindMessage(n->children, version, depth + 1)) return m;
    }
  }
  return nullptr;
}

Status Bad(std::string code, std::string text, std::string where = "") {
  return Status::Error(ErrorCategory::kInvalid, std::move(code),
                       code == "GM-LAB-001" ? "structure" : "invalid", std::move(text),
                       std::move(where));
}

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
struct CtxtFree {
  void operator()(xmlParserCtxt* c) const { xmlFreeParserCtxt(c); }
};
struct ValidFree {
  void operator()(xmlSchemaValidCtxt* c) const { xmlSchemaFreeValidCtxt(c); }
};

}  // namespace

const XmlNode* XmlNode::child(std::string_view n) const {
  for (const XmlNode& c : children) {
    if (c.name == n) return &c;
  }
  return nullptr;
}

std::vector<const XmlNode*> XmlNode::all(std::string_view n) const {
  std::vector<const XmlNode*> out;
  for (const XmlNode& c : children) {
    if (c.name == n) out.push_back(&c);
  }
  return out;
}

std::string XmlNode::child_text(std::string_view n) const {
  const XmlNode* c = child(n);
  return c ? c->text : std::string();
}

std::string XmlNode::attr(std::string_view n) const {
  for (const auto& [k, v] : attrs) {
    if (k == n) return v;
  }
  return {};
}

std::string XmlNode::child_attr(std::string_view n, std::string_view a) const {
  const XmlNode* c = child(n);
  return c ? c->attr(a) : std::string();
}

Result<SvarDocument> ParseSvarrapport(std::string_view bytes) {
  const Schemas& schemas = GetSchemas();
  if (schemas.v13 == nullptr || schemas.v14 == nullptr) {
    return Status::Error(ErrorCategory::kInternal, "GM-LAB-009", "exception", schemas.problem);
  }
  if (bytes.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Bad("GM-LAB-001", "the body is empty; expected a Svarrapport XML message");
  }
  if (bytes.size() > static_cast<size_t>(64) * 1024 * 1024) {
    return Status::Error(ErrorCategory::kPayloadTooLarge, "GM-LAB-001", "too-costly",
                         "the message is larger than 64 MiB");
  }
  // A byte-order mark is authoritative (XML 1.0 appendix F), whatever the
  // declaration says.
  const char* encoding = nullptr;
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
      static_cast<unsigned char>(bytes[1]) == 0xFE) {
    encoding = "UTF-16LE";
    bytes.remove_prefix(2);
  } else if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0xFE &&
             static_cast<unsigned char>(bytes[1]) == 0xFF) {
    encoding = "UTF-16BE";
    bytes.remove_prefix(2);
  } else if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xEF &&
             static_cast<unsigned char>(bytes[1]) == 0xBB &&
             static_cast<unsigned char>(bytes[2]) == 0xBF) {
    encoding = "UTF-8";
    bytes.remove_prefix(3);
  }
  std::unique_ptr<xmlParserCtxt, CtxtFree> ctxt(xmlNewParserCtxt());
  if (!ctxt) return Status::Error(ErrorCategory::kInternal, "GM-LAB-009", "exception", "no parser");
  std::unique_ptr<xmlDoc, DocFree> doc(xmlCtxtReadMemory(
      ctxt.get(), bytes.data(), static_cast<int>(bytes.size()), "svarrapport.xml", encoding,
      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA));
  if (!doc) {
    const xmlError* e = xmlCtxtGetLastError(ctxt.get());
    std::string text = "not well-formed XML";
    if (e != nullptr) {
      text += " (line " + std::to_string(e->line) + "): " + Sanitise(e->message ? e->message : "");
    }
    return Bad("GM-LAB-001", text);
  }
  if (doc->intSubset != nullptr || doc->extSubset != nullptr) {
    return Bad("GM-LAB-001", "a document type declaration (DTD) is not accepted");
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  SvarVersion version = SvarVersion::kV14;
  const xmlNode* message = root ? FindMessage(root, version, 0) : nullptr;
  if (message == nullptr) {
    std::string got = root && root->name ? reinterpret_cast<const char*>(root->name) : "nothing";
    return Bad("GM-LAB-002",
               "not a Svarrapport: expected a Message element in the namespace of v1.3 (" +
                   std::string(kNsV13) + ") or v1.4 (" + std::string(kNsV14) +
                   "); the document element is " + got.substr(0, 60),
               "/" + got.substr(0, 60));
  }
  std::unique_ptr<xmlSchemaValidCtxt, ValidFree> vctxt(
      xmlSchemaNewValidCtxt(version == SvarVersion::kV13 ? schemas.v13 : schemas.v14));
  if (!vctxt) return Status::Error(ErrorCategory::kInternal, "GM-LAB-009", "exception", "no validator");
  Collector collector;
  xmlSchemaSetValidStructuredErrors(vctxt.get(), CollectSchemaError, &collector);
  int rc = message == root ? xmlSchemaValidateDoc(vctxt.get(), doc.get())
                           : xmlSchemaValidateOneElement(vctxt.get(),
                                                         const_cast<xmlNode*>(message));
  if (rc != 0) {
    if (collector.issues.empty()) {
      collector.issues.push_back(Issue{Severity::kError, "structure", "GM-LAB-003",
                                       "XSD: the message does not validate", "/Message"});
    }
    return Status(ErrorCategory::kInvalid, std::move(collector.issues));
  }
  SvarDocument out;
  out.version = version;
  out.message = Convert(message, 0);
  return out;
}

}  // namespace gm::labs
