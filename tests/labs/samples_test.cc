// Every sample message: parsed, XSD-validated, mapped; each resource valid
// (structure, invariants, NILAR profiles) — or rejected for a stated reason.
#include <gtest/gtest.h>

#include <map>

#include "labs/svarrapport.h"
#include "support.h"

namespace gm::labs {
namespace {

using testing::ValidateAll;

// The samples that cannot be ingested, and the code of the reason.
const std::map<std::string, std::string>& Rejected() {
  static const std::map<std::string, std::string> m = {
      // XSD-invalid as sent (the lab's message breaks its own schema):
      {"04607403_reultMIK_message1_unilab.xml", "GM-LAB-003"},  // text inside AdditionalId
      {"FHI_001_9aff709a-f665-40eb-8e72-1ffb2bbd076f_ahus.xml", "GM-LAB-003"},  // text in Message
      {"FHI_eksempelmeldingdyrksOUSunilab.xml", "GM-LAB-003"},  // misspelt <Adress>
      {"SVAR_CLIN 1 unilab_ENDRING.xml", "GM-LAB-003"},  // HCPerson out of order
      {"SVAR_CLIN eks_SW (2).xml", "GM-LAB-003"},        // DateOfBirth 19xx-xx-xx
      {"SVAR_CLIN unilab  (1).xml", "GM-LAB-003"},       // text in Content, DateOfBirth
      {"SVAR_CLIN unilab_ekstern (2).xml", "GM-LAB-003"},  // DateOfBirth 19xx-xx-xx
      {"SVAR_CLIN unilab_ekstern (3).xml", "GM-LAB-003"},  // DateOfBirth 19xx-xx-xx
      {"SVAR_CYTO_eks (4).xml", "GM-LAB-003"},  // text inside empty ServType/MsgType
      {"SVAR_CYTO_eks (5).xml", "GM-LAB-003"},  // text inside empty ServType
      {"Eksempel ENDRING fra OUS Mikrobiologi.xml", "GM-LAB-003"},  // ResultItem order
      // No usable patient identity (rejected, never guessed):
      {"SVAR_CYTO_eks (1).xml", "GM-LAB-030"},  // a local H-nummer only
      {"svarmelding.xml", "GM-LAB-030"},        // a 10-digit "FNR"
  };
  return m;
}

TEST(Samples, EveryMessageIngestsAndValidatesOrIsRejectedForAStatedReason) {
  size_t ingested = 0, rejected = 0, resources = 0, claimed = 0;
  for (const std::string& name : testing::SampleNames()) {
    SCOPED_TRACE(name);
    std::string xml = testing::Sample(name);
    auto bundle = BuildIngestBundle(xml, nullptr);
    auto reason = Rejected().find(name);
    if (reason != Rejected().end()) {
      ASSERT_FALSE(bundle.ok()) << "expected a rejection";
      EXPECT_EQ(bundle.status().issues().front().code, reason->second)
          << bundle.status().message();
      ++rejected;
      continue;
    }
    ASSERT_TRUE(bundle.ok()) << bundle.status().message();
    ++ingested;
    const json::Value* entries = bundle->find("entry");
    ASSERT_NE(entries, nullptr);
    bool has_report = false;
    for (const json::Value& e : entries->array()) {
      const json::Value& r = *e.find("resource");
      ++resources;
      if (const json::Value* meta = r.find("meta"); meta && meta->find("profile")) ++claimed;
      if (r.get_string("resourceType") == "DiagnosticReport") has_report = true;
      std::string problems = ValidateAll(r);
      EXPECT_EQ(problems, "") << r.get_string("resourceType") << "/" << r.get_string("id");
    }
    EXPECT_TRUE(has_report);
  }
  std::printf("svarrapport samples: %zu ingested, %zu rejected; %zu resources, %zu claim a NILAR "
              "profile\n",
              ingested, rejected, resources, claimed);
  EXPECT_EQ(ingested + rejected, testing::SampleNames().size());
  EXPECT_EQ(rejected, Rejected().size());
}

}  // namespace
}  // namespace gm::labs
