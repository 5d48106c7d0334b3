// Svarrapport XML: parsing (libxml2) and XSD validation against the embedded
// KITH schemas, into a small immutable element tree the mapper reads.
//
// Accepted input: a Svarrapport <Message> of v1.3
// (http://www.kith.no/xmlstds/labsvar/2008-12-01) or v1.4
// (http://www.kith.no/xmlstds/labsvar/2012-02-15), either as the document
// element or wrapped in a KITH MsgHead envelope (the first Message element of
// one of those namespaces anywhere below the root is taken; the envelope
// itself is not schema-validated: its XSD is not part of the reference
// material). A byte-order mark decides the encoding (XML 1.0 appendix F), so
// a UTF-16 file whose declaration claims another encoding still parses.
// Documents with a DTD are refused (no entity expansion, no network, no file
// access: every schema the validator needs is served from memory).
//
// Errors (category kInvalid; text never quotes values from the message):
//   GM-LAB-001  not well-formed XML, DTD present, empty body
//   GM-LAB-002  not a Svarrapport v1.3/v1.4 Message
//   GM-LAB-003  XSD-invalid: one issue per violation, expression = the
//               element's path (/Message/ServReport/Patient/ResultItem[2]/…),
//               text names the element and the line
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace gm::labs {

struct XmlNode {
  std::string name;  // local name, namespace dropped
  std::vector<std::pair<std::string, std::string>> attrs;  // local name → value
  std::string text;  // all descendant text, concatenated, trimmed
  std::vector<XmlNode> children;  // elements only
  int line = 0;

  const XmlNode* child(std::string_view n) const;
  std::vector<const XmlNode*> all(std::string_view n) const;
  // Text of the named child, empty if absent.
  std::string child_text(std::string_view n) const;
  // Attribute value, empty if absent.
  std::string attr(std::string_view n) const;
  // Attribute of the named child ("V" of <Status V="F"/>).
  std::string child_attr(std::string_view n, std::string_view a) const;
};

enum class SvarVersion { kV13, kV14 };

struct SvarDocument {
  SvarVersion version = SvarVersion::kV14;
  XmlNode message;  // the <Message> element
};

// Parses and validates. Thread-safe (schemas are compiled once, shared).
Result<SvarDocument> ParseSvarrapport(std::string_view bytes);

}  // namespace gm::labs
