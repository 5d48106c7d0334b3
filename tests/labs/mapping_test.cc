// Svarrapport → NILAR mapping: golden files for a representative set, the
// parser's and validator's errors, envelopes and encodings, ids, hierarchy,
// restriction labels.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "labs/svarrapport.h"
#include "support.h"

namespace gm::labs {
namespace {

const std::string kGolden = std::string(GM_SOURCE_DIR) + "/tests/labs/golden";

std::string ReplaceFirst(std::string s, const std::string& from, const std::string& to) {
  size_t p = s.find(from);
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

json::Value MapSample(const std::string& xml) {
  auto doc = ParseSvarrapport(xml);
  EXPECT_TRUE(doc.ok()) << doc.status().message();
  if (!doc.ok()) return json::Value();
  auto bundle = MapToBundle(*doc);
  EXPECT_TRUE(bundle.ok()) << bundle.status().message();
  return bundle.ok() ? *bundle : json::Value();
}

std::vector<json::Value> OfType(const json::Value& bundle, std::string_view type) {
  std::vector<json::Value> out;
  if (const json::Value* e = bundle.find("entry")) {
    for (const json::Value& x : e->array()) {
      if (x.find("resource")->get_string("resourceType") == type) out.push_back(*x.find("resource"));
    }
  }
  return out;
}

const json::Value* ById(const std::vector<json::Value>& list, std::string_view ref) {
  std::string_view id = ref.substr(ref.find('/') + 1);
  for (const json::Value& r : list) {
    if (r.get_string("id") == id) return &r;
  }
  return nullptr;
}

// The golden result of a sample: the mapped Bundle, or the error issues.
json::Value GoldenValue(const std::string& xml) {
  auto bundle = BuildIngestBundle(xml, nullptr);
  if (bundle.ok()) return *bundle;
  json::Value issues = json::Value::MakeArray();
  for (const Issue& i : bundle.status().issues()) {
    issues.push_back(json::Value(json::Object{{"code", json::Value(i.code)},
                                              {"expression", json::Value(i.expression)},
                                              {"text", json::Value(i.text)}}));
  }
  return json::Value(json::Object{{"rejected", issues}});
}

struct GoldenCase {
  const char* sample;
  const char* golden;
};

// New, corrected, cancelled, preliminary, microbiology with isolates and
// resistance, pathology, radiology, and a message with no FNR. Regenerate
// with GM_UPDATE_GOLDEN=1 (then review the diff by eye).
const GoldenCase kGoldenCases[] = {
    {"Svar_biokjemi_v1-4_Ny.xml", "new-biokjemi.json"},
    {"SvarMBK-Unilab-OUS_Endring_20200317.xml", "corrected-endring.json"},
    {"SvarMBK-Unilab-OUS_Sletting_20200317.xml", "corrected-result-cancelled.json"},
    {"04608455_deleted order_gendate_12.52.09_Unilab.xml", "cancelled-report.json"},
    {"04608395R_SVAR_CLIN _gendate_13.58.56_order_diff_iProsess.xml", "preliminary.json"},
    {"FHI_SVAR_MBIO FHI Resistens_VVHF_DS.xml", "microbiology-resistance.json"},
    {"Svar_patologi_histologi_v1-4_Ny.xml", "pathology-histology.json"},
    {"Svar_radiologi_v1-4_Ny.xml", "radiology.json"},
    {"SVAR_CYTO_eks (1).xml", "no-fnr-rejected.json"},
};

TEST(Golden, RepresentativeMessagesMapAsReviewed) {
  const bool update = std::getenv("GM_UPDATE_GOLDEN") != nullptr;
  for (const GoldenCase& c : kGoldenCases) {
    SCOPED_TRACE(c.sample);
    json::Value got = GoldenValue(testing::Sample(c.sample));
    std::string path = kGolden + "/" + c.golden;
    if (update) {
      std::ofstream(path, std::ios::binary) << json::Write(got, {.pretty = true}) << "\n";
      continue;
    }
    auto want = json::Parse(testing::ReadFile(path));
    ASSERT_TRUE(want.ok()) << path << ": " << want.status().message();
    EXPECT_TRUE(got == *want) << "differs from " << path
                              << " (GM_UPDATE_GOLDEN=1 rewrites it; review the diff)";
  }
}

// Fields of the golden cases checked by hand against the XML.
TEST(Golden, HandCheckedFields) {
  json::Value b = MapSample(testing::Sample("Svar_biokjemi_v1-4_Ny.xml"));
  auto reports = OfType(b, "DiagnosticReport");
  ASSERT_EQ(reports.size(), 1u);
  const json::Value& dr = reports[0];
  EXPECT_EQ(dr.get_string("status"), "final");  // ServType N + Status F
  // GenDate 2020-12-19T13:59:04 (winter: +01:00) is the version date.
  auto patients = OfType(b, "Patient");
  ASSERT_EQ(patients.size(), 1u);
  EXPECT_EQ(patients[0].find("identifier")->array()[0].get_string("value"), "13116900216");
  auto observations = OfType(b, "Observation");
  ASSERT_FALSE(observations.empty());
  // Every observation points back to its report and to the patient's FNR.
  for (const json::Value& o : observations) {
    const json::Value& ext = o.find("extension")->array()[0];
    EXPECT_EQ(ext.get_string("url"),
              "http://nhn.no/fhir/nilar/StructureDefinition/nilar-diagnostic-report-ref");
    EXPECT_EQ(ext.find("valueReference")->get_string("reference"),
              "DiagnosticReport/" + std::string(dr.get_string("id")));
    EXPECT_EQ(o.find("subject")->find("identifier")->get_string("value"), "13116900216");
  }
}

TEST(Mapping, TimesWithoutZoneAreNorwegianLocalTime) {
  // Svar_mikrobiologi: GenDate 2020-12-19T13:59:04 (CET).
  json::Value b = MapSample(testing::Sample("Svar_mikrobiologi_v1-4_Ny.xml"));
  auto dr = OfType(b, "DiagnosticReport");
  ASSERT_EQ(dr.size(), 1u);
  EXPECT_EQ(dr[0].get_string("issued"), "2020-12-19T13:59:04+01:00");
  // The same message sent in summer (CEST).
  std::string xml = ReplaceFirst(testing::Sample("Svar_mikrobiologi_v1-4_Ny.xml"),
                                 "2020-12-19T13:59:04", "2021-06-30T13:59:04");
  auto summer = OfType(MapSample(xml), "DiagnosticReport");
  EXPECT_EQ(summer[0].get_string("issued"), "2021-06-30T13:59:04+02:00");
  // Observation.effective = the specimen's collection time.
  auto obs = OfType(b, "Observation");
  ASSERT_EQ(obs.size(), 1u);
  EXPECT_EQ(obs[0].get_string("effectiveDateTime"), "2020-12-19T13:47:41+01:00");
  EXPECT_EQ(obs[0].get_string("status"), "final");
  EXPECT_EQ(obs[0].find("valueCodeableConcept")->get_string("text"), "Påvist");
}

TEST(Mapping, MicrobiologyKeepsTheIsolateAndResistanceHierarchy) {
  json::Value b = MapSample(testing::Sample("FHI_SVAR_MBIO FHI Resistens_VVHF_DS.xml"));
  auto obs = OfType(b, "Observation");
  auto code = [](const json::Value& o) {
    return std::string(o.find("code")->find("coding")->array()[0].get_string("code"));
  };
  const json::Value* culture = nullptr;
  for (const json::Value& o : obs) {
    if (code(o) == "UD") culture = &o;
  }
  ASSERT_NE(culture, nullptr);
  // UD (culture) → two isolates UD1, UD2 (via RefIdResultItem) → each with a
  // quantity (nested) and resistance results (via RefIdResultItem).
  ASSERT_EQ(culture->find("hasMember")->size(), 2u);
  const json::Value* second =
      ById(obs, culture->find("hasMember")->array()[1].get_string("reference"));
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(code(*second), "IDENT");
  EXPECT_EQ(second->find("identifier")->array()[0].get_string("value"), "UD2");
  const json::Value* isolate =
      ById(obs, culture->find("hasMember")->array()[0].get_string("reference"));
  ASSERT_NE(isolate, nullptr);
  EXPECT_EQ(code(*isolate), "IDENT");
  EXPECT_EQ(isolate->find("valueCodeableConcept")->get_string("text"), "E.COLI");
  std::set<std::string> members;
  for (const json::Value& m : isolate->find("hasMember")->array()) {
    const json::Value* o = ById(obs, m.get_string("reference"));
    ASSERT_NE(o, nullptr);
    members.insert(code(*o));
  }
  EXPECT_TRUE(members.count("KVANT"));
  EXPECT_TRUE(members.count("CX"));
  EXPECT_TRUE(members.count("GM"));
  // Gentamicin: resistant, with the value 15 kept as text.
  for (const json::Value& o : obs) {
    if (code(o) != "GM") continue;
    const json::Value& v = *o.find("valueCodeableConcept");
    EXPECT_EQ(v.find("coding")->array()[0].get_string("code"), "R");
    EXPECT_EQ(v.find("coding")->array()[0].get_string("system"),
              "http://ehelse.no/fhir/CodeSystem/no-kodeverk-8271");
    EXPECT_EQ(v.get_string("text"), "15");
  }
  // Only the roots are the report's results; the tree is whole.
  auto dr = OfType(b, "DiagnosticReport");
  std::set<std::string> roots;
  for (const json::Value& r : dr[0].find("result")->array()) {
    roots.insert(std::string(r.get_string("reference")));
  }
  EXPECT_TRUE(roots.count("Observation/" + std::string(culture->get_string("id"))));
  EXPECT_FALSE(roots.count("Observation/" + std::string(isolate->get_string("id"))));
  size_t reachable = 0;
  std::vector<std::string> todo(roots.begin(), roots.end());
  std::set<std::string> seen;
  while (!todo.empty()) {
    std::string ref = todo.back();
    todo.pop_back();
    if (!seen.insert(ref).second) continue;
    ++reachable;
    const json::Value* o = ById(obs, ref);
    ASSERT_NE(o, nullptr);
    if (const json::Value* hm = o->find("hasMember")) {
      for (const json::Value& m : hm->array()) todo.push_back(std::string(m.get_string("reference")));
    }
  }
  EXPECT_EQ(reachable, obs.size()) << "every observation is reachable from the report";
  // The mother observation's meta.tag carries the codes of the whole tree.
  std::set<std::string> tags;
  for (const json::Value& t : culture->find("meta")->find("tag")->array()) {
    tags.insert(std::string(t.get_string("code")));
  }
  EXPECT_TRUE(tags.count("UD") && tags.count("IDENT") && tags.count("CX") && tags.count("R"));
}

TEST(Mapping, IdsAreDeterministicAndIndependentOfTheMessageId) {
  std::string xml = testing::Sample("Svar_biokjemi_v1-4_Ny.xml");
  json::Value a = MapSample(xml);
  EXPECT_TRUE(a == MapSample(xml));
  size_t p = xml.find("<MsgId>") + 7;
  std::string other = xml;
  other[p] = other[p] == 'a' ? 'b' : 'a';
  json::Value b = MapSample(other);
  EXPECT_EQ(OfType(a, "DiagnosticReport")[0].get_string("id"),
            OfType(b, "DiagnosticReport")[0].get_string("id"));
  EXPECT_EQ(OfType(a, "Observation")[0].get_string("id"), OfType(b, "Observation")[0].get_string("id"));
  // A new message is a new notification.
  EXPECT_NE(OfType(a, "Communication")[0].get_string("id"),
            OfType(b, "Communication")[0].get_string("id"));
}

TEST(Mapping, RestrictionsAndReservationsBecomeSecurityLabels) {
  // A 9603 document restriction (NORU: delayed release to the citizen) on the requisition.
  std::string xml = ReplaceFirst(testing::Sample("Svar_biokjemi_v1-4_Ny.xml"), "</ServReq>",
                                 "<Reservation V=\"NORU\" S=\"2.16.578.1.12.4.1.1.9603\" "
                                 "DN=\"Utsatt innsyn\"/></ServReq>");
  json::Value b = MapSample(xml);
  for (const json::Value& e : b.find("entry")->array()) {
    const json::Value& r = *e.find("resource");
    std::string type(r.get_string("resourceType"));
    const json::Value* meta = r.find("meta");
    const json::Value* sec = meta ? meta->find("security") : nullptr;
    if (type == "DiagnosticReport" || type == "Observation" || type == "Specimen" ||
        type == "ServiceRequest") {
      ASSERT_NE(sec, nullptr) << type;
      EXPECT_EQ(sec->array()[0].get_string("system"), kSecurity9603);
      EXPECT_EQ(sec->array()[0].get_string("code"), "NORU");
    } else {
      EXPECT_EQ(sec, nullptr) << type;
    }
  }
  // The reservation is also kept as NILAR's extension on the requisition.
  auto sr = OfType(b, "ServiceRequest");
  ASSERT_EQ(sr.size(), 1u);
  bool ext = false;
  for (const json::Value& x : sr[0].find("extension")->array()) {
    ext = ext || x.get_string("url") == "http://nhn.no/fhir/nilar/StructureDefinition/nilar-reservation";
  }
  EXPECT_TRUE(ext);
  EXPECT_EQ(testing::ValidateAll(OfType(b, "DiagnosticReport")[0]), "");
}

TEST(Parse, MalformedXmlIsRejected) {
  for (const char* bad : {"", "   ", "not xml", "<Message", "<a><b></a>"}) {
    auto r = ParseSvarrapport(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().issues()[0].code, "GM-LAB-001") << bad;
    EXPECT_EQ(r.status().category(), ErrorCategory::kInvalid);
  }
}

TEST(Parse, OtherDocumentsAreNotSvarrapport) {
  auto r = ParseSvarrapport("<Message xmlns=\"urn:other\"><Type V=\"x\"/></Message>");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().issues()[0].code, "GM-LAB-002");
}

TEST(Parse, DtdsAndExternalEntitiesAreRefused) {
  auto r = ParseSvarrapport(
      "<?xml version=\"1.0\"?><!DOCTYPE Message [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
      "<Message xmlns=\"http://www.kith.no/xmlstds/labsvar/2012-02-15\">&x;</Message>");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().issues()[0].code, "GM-LAB-001");
  EXPECT_EQ(r.status().message().find("root:"), std::string::npos);
}

TEST(Parse, XsdErrorsNameTheElementAndQuoteNoData) {
  // DateOfBirth V="19xx-xx-xx" is not a KITH TS.
  auto r = ParseSvarrapport(testing::Sample("SVAR_CLIN eks_SW (2).xml"));
  ASSERT_FALSE(r.ok());
  const Issue& i = r.status().issues()[0];
  EXPECT_EQ(i.code, "GM-LAB-003");
  EXPECT_EQ(i.expression, "/Message/ServReport/Patient/DateOfBirth");
  EXPECT_NE(i.text.find("DateOfBirth"), std::string::npos) << i.text;
  EXPECT_NE(i.text.find("line 24"), std::string::npos) << i.text;
  EXPECT_EQ(i.text.find("19xx"), std::string::npos) << "values are not quoted: " << i.text;
  // A required element missing: the issue is at its parent, naming what was expected.
  std::string xml = testing::Sample("Svar_biokjemi_v1-4_Ny.xml");
  size_t a = xml.find("<MsgId>"), b = xml.find("</MsgId>");
  xml.erase(a, b + 8 - a);
  auto m = ParseSvarrapport(xml);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().issues()[0].expression, "/Message/ServReport");
  EXPECT_NE(m.status().issues()[0].text.find("MsgId"), std::string::npos)
      << m.status().issues()[0].text;
}

TEST(Parse, BothVersionsAndTheMsgHeadEnvelope) {
  auto v13 = ParseSvarrapport(testing::Sample("RTG01anonym.xml"));
  ASSERT_TRUE(v13.ok()) << v13.status().message();
  EXPECT_EQ(v13->version, SvarVersion::kV13);
  std::string xml = testing::Sample("Svar_radiologi_v1-4_Ny.xml");
  auto v14 = ParseSvarrapport(xml);
  ASSERT_TRUE(v14.ok()) << v14.status().message();
  EXPECT_EQ(v14->version, SvarVersion::kV14);
  // The same Message inside a MsgHead envelope maps to the same Bundle.
  size_t start = xml.find("<Message");
  std::string wrapped =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
      "<MsgHead xmlns=\"http://www.kith.no/xmlstds/msghead/2006-05-24\"><MsgInfo/>"
      "<Document><RefDoc><Content>" +
      xml.substr(start) + "</Content></RefDoc></Document></MsgHead>";
  auto env = ParseSvarrapport(wrapped);
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_TRUE(*MapToBundle(*env) == *MapToBundle(*v14));
}

TEST(Parse, AByteOrderMarkDecidesTheEncoding) {
  // UTF-16LE with BOM whose declaration says ISO-8859-1: parsed (then XSD-invalid
  // for a reason of its own, not an encoding error).
  auto r = ParseSvarrapport(testing::Sample("Eksempel ENDRING fra OUS Mikrobiologi.xml"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().issues()[0].code, "GM-LAB-003") << r.status().message();
  // ISO-8859-1 messages keep their letters.
  json::Value b = MapSample(testing::Sample("SvarMBK-Unilab-OUS_Endring_20200317.xml"));
  auto dr = OfType(b, "DiagnosticReport");
  std::string comment(dr[0].find("extension")->array()[1].find("valueAnnotation")->get_string("text"));
  EXPECT_NE(comment.find("prøver"), std::string::npos) << comment;
}

TEST(Parse, TruncatedAndCorruptedMessagesFailCleanly) {
  // Every prefix (in steps) and a few byte flips of a real message: never a
  // crash, and every failure carries a GM-LAB code.
  std::string xml = testing::Sample("FHI_SVAR_MBIO FHI Resistens_VVHF_DS.xml");
  size_t failures = 0;
  auto check = [&](const std::string& input) {
    auto r = BuildIngestBundle(input, nullptr);
    if (r.ok()) return;
    ++failures;
    ASSERT_FALSE(r.status().issues().empty());
    EXPECT_EQ(r.status().issues()[0].code.rfind("GM-LAB-", 0), 0u) << r.status().message();
  };
  for (size_t n = 0; n < xml.size(); n += 211) check(xml.substr(0, n));
  for (size_t p = 50; p < xml.size(); p += 997) {
    std::string bad = xml;
    bad[p] = '<';
    check(bad);
  }
  EXPECT_GT(failures, 60u);
}

TEST(Identity, NoUsablePatientIdentityIsRejected) {
  auto hnr = BuildIngestBundle(testing::Sample("SVAR_CYTO_eks (1).xml"), nullptr);
  ASSERT_FALSE(hnr.ok());
  EXPECT_EQ(hnr.status().issues()[0].code, "GM-LAB-030");
  EXPECT_EQ(hnr.status().category(), ErrorCategory::kUnprocessable);
  auto bad = BuildIngestBundle(testing::Sample("svarmelding.xml"), nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().issues()[0].code, "GM-LAB-030");
  EXPECT_EQ(bad.status().message().find("2512790228"), std::string::npos) << "no data in errors";
  // A D-nummer is a usable identity.
  std::string xml = testing::Sample("Svar_biokjemi_v1-4_Ny.xml");
  xml = ReplaceFirst(xml, "<OffId>13116900216</OffId>", "<OffId>53116900390</OffId>");
  xml = ReplaceFirst(xml, "V=\"FNR\"", "V=\"DNR\"");
  auto dnr = BuildIngestBundle(xml, nullptr);
  ASSERT_TRUE(dnr.ok()) << dnr.status().message();
  auto p = OfType(*dnr, "Patient");
  EXPECT_EQ(p[0].find("identifier")->array()[0].get_string("system"), "urn:oid:2.16.578.1.12.4.1.4.2");
}

}  // namespace
}  // namespace gm::labs
