// The FHIR XML → JSON converter used to build the FHIRPath Patch fixture.
#include "tests/patch/fhir_xml.h"

#include <gtest/gtest.h>

#include "core/json.h"

namespace gm::testing {
namespace {

json::Value J(std::string_view text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.ok() ? std::move(v).value() : json::Value();
}

json::Value Convert(std::string_view xml) {
  auto r = FhirXmlToJson(xml, fhir::Model::R4());
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : json::Value();
}

TEST(FhirXml, PrimitivesGetTheirJsonKinds) {
  json::Value r = Convert(R"(<Patient xmlns="http://hl7.org/fhir">
      <id value="p1"/>
      <active value="true"/>
      <birthDate value="1970-01-01"/>
      <multipleBirthInteger value="2"/>
    </Patient>)");
  EXPECT_EQ(r, J(R"({"resourceType":"Patient","id":"p1","active":true,"birthDate":"1970-01-01",
                     "multipleBirthInteger":2})"));
  ASSERT_NE(r.find("multipleBirthInteger"), nullptr);
  EXPECT_TRUE(r.find("multipleBirthInteger")->is_number());
  json::Value q = Convert(R"(<Observation xmlns="http://hl7.org/fhir"><status value="final"/>
      <code><text value="x"/></code>
      <valueQuantity><value value="1.50"/><unit value="mg"/></valueQuantity></Observation>)");
  ASSERT_NE(q.find("valueQuantity"), nullptr);
  EXPECT_EQ(q.find("valueQuantity")->find("value")->str(), "1.50");
  EXPECT_TRUE(q.find("valueQuantity")->find("value")->is_number());
}

TEST(FhirXml, ArraysFollowTheModel) {
  json::Value r = Convert(R"(<Patient xmlns="http://hl7.org/fhir">
      <name><family value="Berg"/><given value="Ola"/></name>
      <maritalStatus><text value="m"/></maritalStatus>
    </Patient>)");
  EXPECT_EQ(r, J(R"({"resourceType":"Patient","name":[{"family":"Berg","given":["Ola"]}],
                     "maritalStatus":{"text":"m"}})"));
}

TEST(FhirXml, PrimitiveExtensionsAndIdsGoToCompanions) {
  json::Value r = Convert(R"(<Patient xmlns="http://hl7.org/fhir">
      <name>
        <given value="A"/>
        <given id="g2">
          <extension url="http://x"><valueString value="b"/></extension>
        </given>
        <given value="C"/>
      </name>
      <birthDate value="1970-01-01">
        <extension url="http://hl7.org/fhir/StructureDefinition/patient-birthTime">
          <valueDateTime value="1970-01-01T10:00:00Z"/>
        </extension>
      </birthDate>
    </Patient>)");
  EXPECT_EQ(r, J(R"({"resourceType":"Patient",
      "name":[{"given":["A",null,"C"],
               "_given":[null,{"id":"g2","extension":[{"url":"http://x","valueString":"b"}]},null]}],
      "birthDate":"1970-01-01",
      "_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                                  "valueDateTime":"1970-01-01T10:00:00Z"}]}})"));
}

TEST(FhirXml, ElementIdsAndExtensionUrls) {
  json::Value r = Convert(R"(<Patient xmlns="http://hl7.org/fhir">
      <extension url="http://a"><valueBoolean value="false"/></extension>
      <maritalStatus id="m1"><text value="x"/></maritalStatus>
    </Patient>)");
  EXPECT_EQ(r, J(R"({"resourceType":"Patient","extension":[{"url":"http://a","valueBoolean":false}],
                     "maritalStatus":{"id":"m1","text":"x"}})"));
}

TEST(FhirXml, NarrativeIsXhtmlText) {
  json::Value r = Convert(
      "<Patient xmlns=\"http://hl7.org/fhir\"><text><status value=\"generated\"/>"
      "<div xmlns=\"http://www.w3.org/1999/xhtml\">\n  <p class=\"a&amp;b\">1 &lt; 2 &amp; "
      "&quot;q&quot;<br/></p>\n</div></text></Patient>");
  ASSERT_NE(r.find("text"), nullptr);
  EXPECT_EQ(r.find("text")->get_string("div"),
            "<div xmlns=\"http://www.w3.org/1999/xhtml\">\n  <p class=\"a&amp;b\">1 &lt; 2 &amp; "
            "\"q\"<br/></p>\n</div>");
}

TEST(FhirXml, ResourcesInsideElements) {
  json::Value r = Convert(R"(<Observation xmlns="http://hl7.org/fhir">
      <contained><Patient><id value="p"/><active value="true"/></Patient></contained>
      <status value="final"/><code><text value="x"/></code>
      <subject><reference value="#p"/></subject>
    </Observation>)");
  EXPECT_EQ(r, J(R"({"resourceType":"Observation",
      "contained":[{"resourceType":"Patient","id":"p","active":true}],
      "status":"final","code":{"text":"x"},"subject":{"reference":"#p"}})"));
}

TEST(FhirXml, Errors) {
  for (
      std::string_view bad : {
          R"(<Patient xmlns="http://hl7.org/fhir"><colour value="red"/></Patient>)",
          R"(<Patient xmlns="http://hl7.org/fhir"><birthDate value="1"/><birthDate value="2"/></Patient>)",
          R"(<Patient xmlns="http://hl7.org/fhir"><active value="yes"/></Patient>)",
          R"(<Patient xmlns="http://hl7.org/fhir"><active/></Patient>)",
          R"(<Patient xmlns="http://hl7.org/fhir"><active value="true" colour="red"/></Patient>)",
          R"(<Patient xmlns="http://hl7.org/fhir">text</Patient>)",
          R"(<Nothing xmlns="http://hl7.org/fhir"/>)",
      }) {
    auto r = FhirXmlToJson(bad, fhir::Model::R4());
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), "GM-XML-001") << bad;
    }
  }
  auto r = FhirXmlToJson("<Patient", fhir::Model::R4());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), "GM-XML-002");
}

}  // namespace
}  // namespace gm::testing
