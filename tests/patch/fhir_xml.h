// Test tooling: FHIR XML (http://hl7.org/fhir/R4/xml.html) to FHIR JSON
// (http://hl7.org/fhir/R4/json.html), enough for HL7's FHIR Patch test cases,
// and the conversion of those cases into the JSON fixture the patch tests run.
//
// The R4 model (fhir/model.h) decides arrays and singles, choice types and
// primitive kinds: booleans and numbers become JSON booleans and numbers,
// other primitives strings; a primitive's "id" attribute and <extension>
// children go to its "_name" companion (aligned with nulls in arrays);
// Element.id and Extension.url attributes become members; Narrative.div is
// serialized back to XHTML text; resources inside elements (contained,
// Bundle.entry.resource, Parameters.parameter.resource) become objects with
// resourceType. Comments and whitespace between elements are ignored.
//
// Not part of the server: linked by the patch tests and the fixture tool only.
#pragma once

#include <pugixml.hpp>
#include <string>
#include <string_view>

#include "core/json.h"
#include "core/status.h"
#include "fhir/model.h"

namespace gm::testing {

// Converts one resource element (<Patient xmlns="http://hl7.org/fhir">).
// Errors (kInvalid, GM-XML-001): an element or attribute the model does not
// define, a single element repeated, a primitive without a valid value.
Result<json::Value> FhirXmlToJson(const pugi::xml_node& resource, const fhir::Model& model);

// Parses FHIR XML text holding one resource. Errors as above, or GM-XML-002
// when the text is not well-formed XML.
Result<json::Value> FhirXmlToJson(std::string_view xml, const fhir::Model& model);

// Serializes an XHTML element and its content as XML text (the JSON form of
// Narrative.div): attributes in document order with double quotes, empty
// elements as <name/>, text escaped for &, < and >.
std::string XhtmlToString(const pugi::xml_node& element);

// The parse options the converter expects: whitespace-only text is kept
// (it is content inside XHTML), line ends normalized, comments dropped.
constexpr unsigned kFhirXmlParseOptions = pugi::parse_default | pugi::parse_ws_pcdata;

// The fixture's "source" member: where its cases come from.
inline constexpr std::string_view kFhirPatchTestsSource =
    "HL7 FHIR Patch test cases, ../shared/conformance/patch/fhir-patch-tests.xml, converted "
    "from FHIR XML to FHIR JSON by tests/patch/fhir_patch_fixture_gen";

// Converts HL7's fhir-patch-tests.xml into the fixture document:
//   {"source": <source>, "cases": [{"name", "mode", "input", "diff",
//    "output" | "error"}, ...]}
// with every resource converted to JSON.
Result<json::Value> ConvertFhirPatchTests(std::string_view xml, std::string_view source,
                                          const fhir::Model& model);

}  // namespace gm::testing
