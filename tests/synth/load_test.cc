// grunnmur synth → grunnmur load → the real server, and serve --demo.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/json.h"
#include "tests/support/server_process.h"

namespace gm {
namespace {

using testing::HttpClient;
using testing::ServerProcess;
using testing::TempDir;

struct CmdRun {
  int exit_code = -1;
  std::string output;
};

CmdRun Command(const std::string& args, const std::string& scratch) {
  std::string out = scratch + "/cmd-output.txt";
  std::string cmd = std::string(GM_BINARY) + " " + args + " > " + out + " 2>&1";
  int rc = std::system(cmd.c_str());
  CmdRun r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  r.output = ss.str();
  return r;
}

json::Value FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  auto v = json::Parse(line);
  EXPECT_TRUE(v.ok()) << path;
  return v.ok() ? *v : json::Value();
}

std::string IdentifierValue(const json::Value& r, std::string_view system) {
  for (const auto& id : r.find("identifier")->array()) {
    if (id.get_string("system") == system) return std::string(id.get_string("value"));
  }
  return {};
}

int64_t Total(const testing::HttpResponse& res) {
  const json::Value* t = res.json().find("total");
  return t != nullptr && t->is_number() ? std::stoll(t->str()) : -1;
}

// Number of matches in a searchset page.
int64_t Matches(const testing::HttpResponse& res) {
  const json::Value* e = res.json().find("entry");
  return e == nullptr ? 0 : static_cast<int64_t>(e->size());
}

TEST(Load, NdjsonPopulationIntoTheServerAndRegistryQueries) {
  TempDir dir;
  std::string out = dir.path() + "/pop";
  CmdRun synth = Command("synth --patients 40 --seed 11 --out " + out, dir.path());
  ASSERT_EQ(synth.exit_code, 0) << synth.output;
  EXPECT_NE(synth.output.find("resources/s"), std::string::npos);

  ServerProcess server(dir.path() + "/data");
  CmdRun load = Command("load " + out + " --url " + server.base_url() + " --token " + server.token() + " --connections 3", dir.path());
  ASSERT_EQ(load.exit_code, 0) << load.output;
  EXPECT_NE(load.output.find("resources/s"), std::string::npos) << load.output;

  HttpClient http(server.port());
  EXPECT_EQ(Total(http.Get("/Patient?_summary=count")), 40);

  // A citizen by fødselsnummer, with POST _search (the number stays out of the URL).
  json::Value patient = FirstLine(out + "/Patient.ndjson");
  std::string fnr = IdentifierValue(patient, "urn:oid:2.16.578.1.12.4.1.4.1");
  ASSERT_EQ(fnr.size(), 11u);
  auto found = http.Request("POST", "/Patient/_search",
                            "identifier=urn%3Aoid%3A2.16.578.1.12.4.1.4.1%7C" + fnr,
                            {{"content-type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(found.status, 200) << found.body;
  ASSERT_EQ(Matches(found), 1) << found.body;
  EXPECT_EQ(found.json().find("entry")->array()[0].find("resource")->get_string("id"),
            patient.get_string("id"));

  // Health personnel by HPR number, an organisation by HER-id.
  json::Value pr = FirstLine(out + "/Practitioner.ndjson");
  std::string hpr = IdentifierValue(pr, "urn:oid:2.16.578.1.12.4.1.4.4");
  auto by_hpr = http.Get("/Practitioner?identifier=urn:oid:2.16.578.1.12.4.1.4.4|" + hpr);
  ASSERT_EQ(Matches(by_hpr), 1) << by_hpr.body;
  json::Value org = FirstLine(out + "/Organization.ndjson");
  std::string her = IdentifierValue(org, "urn:oid:2.16.578.1.12.4.1.2");
  auto by_her = http.Get("/Organization?identifier=urn:oid:2.16.578.1.12.4.1.2|" + her);
  ASSERT_EQ(Matches(by_her), 1) << by_her.body;

  // The GP list both ways: this GP's patients, and my GP.
  std::string gp(patient.find("generalPractitioner")->array()[0].get_string("reference"));
  EXPECT_EQ(Total(http.Get("/Patient?general-practitioner=" + gp + "&_summary=count")), 40);
  auto mine = http.Get("/PractitionerRole?_id=" + gp.substr(gp.find('/') + 1));
  ASSERT_EQ(Matches(mine), 1) << mine.body;
  auto with_gp = http.Get("/Patient?_id=" + std::string(patient.get_string("id")) +
                          "&_include=Patient:general-practitioner");
  ASSERT_EQ(Matches(with_gp), 2) << with_gp.body;
  EXPECT_EQ(with_gp.json().find("entry")->array()[1].find("resource")->get_string("resourceType"),
            "PractitionerRole");
  // Parental responsibility: from the parent (by FNR) to the children they represent,
  // and from the RelatedPerson to the parent's own Patient (Patient.link).
  json::Value rp = FirstLine(out + "/RelatedPerson.ndjson");
  std::string parent_fnr = IdentifierValue(rp, "urn:oid:2.16.578.1.12.4.1.4.1");
  if (parent_fnr.empty()) parent_fnr = IdentifierValue(rp, "urn:oid:2.16.578.1.12.4.1.4.2");
  auto represented = http.Request("POST", "/RelatedPerson/_search",
                                  "identifier=" + parent_fnr,
                                  {{"content-type", "application/x-www-form-urlencoded"}});
  ASSERT_GE(Matches(represented), 1) << represented.body;
  auto parent = http.Get("/Patient?link=RelatedPerson/" + std::string(rp.get_string("id")));
  ASSERT_EQ(Matches(parent), 1) << parent.body;
  EXPECT_EQ(IdentifierValue(*parent.json().find("entry")->array()[0].find("resource"),
                            rp.find("identifier")->array()[0].get_string("system")),
            parent_fnr);

  // A re-load is idempotent (PUT at the synthetic ids).
  CmdRun again = Command("load " + out + " --url " + server.base_url() + " --token " + server.token(), dir.path());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(Total(http.Get("/Patient?_summary=count")), 40);
}

TEST(Load, BundlesFormatAndClearFailure) {
  TempDir dir;
  std::string out = dir.path() + "/pop";
  ASSERT_EQ(Command("synth --patients 25 --seed 2 --format bundles --out " + out, dir.path()).exit_code, 0);
  ASSERT_TRUE(std::filesystem::exists(out + "/registry.ndjson"));
  ASSERT_TRUE(std::filesystem::exists(out + "/patients.ndjson"));
  ServerProcess server(dir.path() + "/data");
  CmdRun load = Command("load " + out + " --url " + server.base_url() + " --token " + server.token() + " --patients-per-bundle 4",
                     dir.path());
  ASSERT_EQ(load.exit_code, 0) << load.output;
  HttpClient http(server.port());
  EXPECT_EQ(Total(http.Get("/Patient?_summary=count")), 25);

  // A resource the server refuses: the load stops with the HTTP status.
  std::string bad = dir.path() + "/bad";
  std::filesystem::create_directories(bad);
  {
    std::ofstream f(bad + "/Patient.ndjson");
    f << R"({"resourceType":"Patient","id":"x1","gender":"not-a-gender"})" << "\n";
  }
  CmdRun fail = Command("load " + bad + " --url " + server.base_url() + " --token " + server.token(), dir.path());
  EXPECT_EQ(fail.exit_code, 1) << fail.output;
  EXPECT_NE(fail.output.find("HTTP 4"), std::string::npos) << fail.output;

  // No server at all: a clear connection failure.
  CmdRun down = Command("load " + out + " --url http://127.0.0.1:1", dir.path());
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.output.find("connection failed"), std::string::npos) << down.output;
}

TEST(Demo, LoadsIntoAnEmptyStoreOnlyOnce) {
  TempDir dir;
  std::string data = dir.path() + "/data";
  {
    ServerProcess server(data, {"--demo", "20"});
    HttpClient http(server.port());
    EXPECT_EQ(Total(http.Get("/Patient?_summary=count")), 20);
    EXPECT_GT(Total(http.Get("/Practitioner?_summary=count")), 0);
    EXPECT_GT(Total(http.Get("/Observation?_summary=count")), 0);
  }
  {
    ServerProcess server(data, {"--demo", "35"});  // not empty: nothing loaded
    HttpClient http(server.port());
    EXPECT_EQ(Total(http.Get("/Patient?_summary=count")), 20);
  }
}

// Beyond the first 100 citizens the demo loads in the background: the server
// serves at once, the population completes, and a stop during the load is clean.
TEST(Demo, LoadsTheRestInTheBackgroundAndStopsCleanly) {
  TempDir dir;
  {
    ServerProcess server(dir.path() + "/data", {"--demo", "130"});
    HttpClient http(server.port());
    // Served while loading: at least the first 100 citizens are in.
    EXPECT_GE(Total(http.Get("/Patient?_summary=count")), 100);
    int64_t n = 0;
    for (int i = 0; i < 600 && n < 130; ++i) {  // polls for at most ~2 minutes
      n = Total(http.Get("/Patient?_summary=count"));
      if (n < 130) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    EXPECT_EQ(n, 130);
    EXPECT_GT(Total(http.Get("/DiagnosticReport?_summary=count")), 0);
    EXPECT_GT(Total(http.Get("/Specimen?_summary=count")), 0);
    // The last citizen's record is in: Patient and history in one transaction.
    EXPECT_GT(Total(http.Get("/Encounter?patient=p130&_summary=count")) +
                  Total(http.Get("/Immunization?patient=p130&_summary=count")),
              0);
  }
  {
    ServerProcess server(dir.path() + "/data2", {"--demo", "2000"});
    EXPECT_EQ(server.Terminate(), 0);  // SIGTERM while the background load runs
  }
}

}  // namespace
}  // namespace gm
