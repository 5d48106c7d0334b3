// FhirPathIndexer::ExtractStable + ExtractWriteTime must give exactly what
// Extract gives (the transaction path prepares the stable part before the
// store transaction and adds the write-time part inside it).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <vector>

#include "core/time.h"
#include "search/fhirpath_indexer.h"

namespace gm::search {
namespace {

using Kind = store::IndexEntry::Kind;

const FhirPathIndexer& Indexer() {
  static const FhirPathIndexer* indexer = new FhirPathIndexer(fhir::Model::R4());
  return *indexer;
}

// A printable key for comparing entries as a multiset.
std::string Key(const store::IndexEntry& e) {
  std::string k = e.param + "|" + std::to_string(int(e.kind)) + "|" + e.system + "|" + e.code +
                  "|" + e.text + "|" + std::to_string(e.lo) + "|" + std::to_string(e.hi) + "|" +
                  std::to_string(e.begin_us) + "|" + std::to_string(e.end_us);
  for (const auto& c : e.components) k += "[" + Key(c) + "]";
  return k;
}

std::vector<std::string> Keys(const std::vector<store::IndexEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(Key(e));
  std::sort(out.begin(), out.end());
  return out;
}

void ExpectSplitEqualsWhole(std::string_view type, std::string_view id, const char* text) {
  auto r = json::Parse(text);
  ASSERT_TRUE(r.ok());
  auto whole = Indexer().Extract(type, id, *r);
  ASSERT_TRUE(whole.ok());
  auto stable = Indexer().ExtractStable(type, id, *r);
  ASSERT_TRUE(stable.ok());
  ASSERT_TRUE(stable->has_value());
  auto write_time = Indexer().ExtractWriteTime(type, id, *r);
  ASSERT_TRUE(write_time.ok());

  std::vector<store::IndexEntry> joined = (*stable)->index;
  joined.insert(joined.end(), write_time->begin(), write_time->end());
  EXPECT_EQ(Keys(joined), Keys(whole->index));
  EXPECT_EQ((*stable)->compartments, whole->compartments);
  // The compartments-only extraction (access control, audit) agrees too.
  auto comps = Indexer().Compartments(type, id, *r);
  ASSERT_TRUE(comps.ok());
  EXPECT_EQ(*comps, whole->compartments);

  // The write-time part is exactly the parameters reading meta.lastUpdated /
  // meta.versionId; nothing else depends on them.
  for (const auto& e : *write_time) EXPECT_EQ(e.param, "_lastUpdated");
  for (const auto& e : (*stable)->index) EXPECT_NE(e.param, "_lastUpdated");
}

TEST(IndexerSplit, PatientSplitsOffLastUpdated) {
  ExpectSplitEqualsWhole("Patient", "p1", R"({"resourceType":"Patient","id":"p1",
    "meta":{"versionId":"3","lastUpdated":"2026-11-29T10:00:00.123Z",
            "profile":["http://hl7.no/fhir/StructureDefinition/no-basis-Patient"]},
    "identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"31129956715"}],
    "name":[{"family":"Sørgård","given":["Kari"]}],"gender":"female","birthDate":"1999-12-31",
    "generalPractitioner":[{"reference":"Practitioner/gp1"}]})");
  auto r = json::Parse(R"({"resourceType":"Patient","id":"p1",
    "meta":{"lastUpdated":"2026-11-29T10:00:00.123Z"}})");
  ASSERT_TRUE(r.ok());
  auto write_time = Indexer().ExtractWriteTime("Patient", "p1", *r);
  ASSERT_TRUE(write_time.ok());
  ASSERT_EQ(write_time->size(), 1u);
  EXPECT_EQ((*write_time)[0].kind, Kind::kDate);
  EXPECT_EQ((*write_time)[0].begin_us,
            time::ParseFhirDateTime("2026-11-29T10:00:00.123Z")->begin_us);
}

TEST(IndexerSplit, ObservationWithCompositesAndCompartments) {
  ExpectSplitEqualsWhole("Observation", "o1", R"({"resourceType":"Observation","id":"o1",
    "meta":{"versionId":"1","lastUpdated":"2026-01-02T03:04:05.006+01:00"},
    "status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},
    "subject":{"reference":"Patient/p1"},"performer":[{"reference":"Patient/p2"}],
    "effectiveDateTime":"2026-01-02",
    "component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},
                  "valueQuantity":{"value":80,"unit":"mmHg","system":"http://unitsofmeasure.org",
                                   "code":"mm[Hg]"}}],
    "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">BP</div>"}})");
}

TEST(IndexerSplit, WithoutMetaTheWriteTimePartIsEmpty) {
  auto r = json::Parse(R"({"resourceType":"Organization","id":"o","name":"Helse Nord"})");
  ASSERT_TRUE(r.ok());
  auto write_time = Indexer().ExtractWriteTime("Organization", "o", *r);
  ASSERT_TRUE(write_time.ok());
  EXPECT_TRUE(write_time->empty());
  ExpectSplitEqualsWhole("Organization", "o", R"({"resourceType":"Organization","id":"o",
    "name":"Helse Nord"})");
}

// Compartments() equals Extract().compartments for every official R4
// example (every resource type the examples cover, in order).
TEST(IndexerCompartments, AgreeWithFullExtractionOnTheR4Examples) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(GM_SHARED_DIR) / "conformance" / "examples-r4";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  size_t checked = 0, with_compartments = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto doc = json::Parse(text);
    if (!doc.ok() || !doc->is_object()) continue;
    std::string type(doc->get_string("resourceType"));
    std::string id(doc->get_string("id"));
    auto whole = Indexer().Extract(type, id, *doc);
    ASSERT_TRUE(whole.ok()) << entry.path();
    auto comps = Indexer().Compartments(type, id, *doc);
    ASSERT_TRUE(comps.ok()) << entry.path();
    EXPECT_EQ(*comps, whole->compartments) << entry.path();
    ++checked;
    if (!comps->empty()) ++with_compartments;
  }
  EXPECT_GT(checked, 50u);
  EXPECT_GT(with_compartments, 10u);
}

}  // namespace
}  // namespace gm::search
