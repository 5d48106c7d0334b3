// Writes the FHIRPath Patch fixture: HL7's fhir-patch-tests.xml converted to
// FHIR JSON (tests/patch/fhir-patch-tests.json). Run once when the XML changes:
//   fhir_patch_fixture_gen ../shared/conformance/patch/fhir-patch-tests.xml
//                          tests/patch/fhir-patch-tests.json
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/patch/fhir_xml.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <fhir-patch-tests.xml> <out.json>\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", argv[1]);
    return 1;
  }
  std::stringstream xml;
  xml << in.rdbuf();
  auto fixture = gm::testing::ConvertFhirPatchTests(xml.str(), gm::testing::kFhirPatchTestsSource,
                                                    gm::fhir::Model::R4());
  if (!fixture.ok()) {
    std::fprintf(stderr, "%s\n", fixture.status().message().c_str());
    return 1;
  }
  std::string text = gm::json::Write(*fixture, {.pretty = true});
  text += '\n';
  std::ofstream out(argv[2], std::ios::binary);
  out << text;
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", argv[2]);
    return 1;
  }
  std::printf("%zu cases written to %s\n", fixture->find("cases")->size(), argv[2]);
  return 0;
}
