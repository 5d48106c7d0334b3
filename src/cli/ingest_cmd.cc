// grunnmur ingest svarrapport FILE… --url URL [--token T]: sends each KITH
// Svarrapport XML file, as a lab's system would, to POST [base]/$svarrapport
// of a running server (one message per request, one keep-alive connection)
// and prints one line per file: what was written, or why it was rejected.
// Exit status: 0 every file ingested, 1 some rejected, 2 the server could not
// be reached or a file could not be read.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "cli/commands.h"
#include "cli/http_post.h"
#include "core/json.h"

namespace gm::cli {

namespace {

// "3 created, 5 updated, 4 unchanged" from a transaction-response.
std::string Summary(const json::Value& bundle) {
  std::map<std::string, size_t> n;
  if (const json::Value* entries = bundle.find("entry")) {
    for (const json::Value& e : entries->array()) {
      const json::Value* r = e.find("response");
      std::string_view status = r ? r->get_string("status") : "";
      if (status.rfind("201", 0) == 0) ++n["created"];
      else if (status.rfind("200", 0) == 0 && r->find("location")) ++n["updated"];
      else ++n["matched"];
    }
  }
  std::string out;
  for (const char* k : {"created", "updated", "matched"}) {
    if (!out.empty()) out += ", ";
    out += std::to_string(n[k]) + " " + k;
  }
  return out;
}

// "GM-LAB-003 /Message/ServReport: text" of the first issue of an OperationOutcome.
std::string FirstIssue(const json::Value& oo) {
  const json::Value* issues = oo.find("issue");
  if (issues == nullptr || issues->empty()) return "(no OperationOutcome)";
  const json::Value& i = issues->array()[0];
  std::string code;
  if (const json::Value* d = i.find("details")) {
    if (const json::Value* c = d->find("coding"); c && !c->empty()) {
      code = std::string(c->array()[0].get_string("code"));
    }
  }
  std::string where;
  if (const json::Value* e = i.find("expression"); e && !e->empty()) {
    where = " " + std::string(e->array()[0].str());
  }
  std::string more = issues->size() > 1 ? " (+" + std::to_string(issues->size() - 1) + " more)" : "";
  std::string text(i.get_string("diagnostics"));
  if (!code.empty() && text.rfind(code + ": ", 0) == 0) text = text.substr(code.size() + 2);
  return code + where + ": " + text + more;
}

}  // namespace

int RunIngestSvarrapport(const IngestArgs& args) {
  auto target = ParseServerUrl(args.url);
  if (!target) {
    std::fprintf(stderr, "--url must be http://HOST[:PORT][/base]\n");
    return 2;
  }
  target->token = args.token;
  if (target->token.empty()) {
    if (const char* env = std::getenv("GRUNNMUR_TOKEN")) target->token = env;
  }
  PostConnection sender(*target);
  size_t ok = 0, rejected = 0;
  for (const std::string& file : args.files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "%s: cannot be read\n", file.c_str());
      return 2;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string body, error;
    int status = sender.Post("/$svarrapport", "application/xml", ss.str(), body, error);
    if (status == 0) {
      std::fprintf(stderr, "%s: the server could not be reached: %s\n", file.c_str(), error.c_str());
      return 2;
    }
    auto parsed = json::Parse(body);
    if (status == 200 && parsed.ok()) {
      ++ok;
      std::printf("%s: ingested (%s)\n", file.c_str(), Summary(*parsed).c_str());
    } else {
      ++rejected;
      std::printf("%s: rejected, HTTP %d %s\n", file.c_str(), status,
                  parsed.ok() ? FirstIssue(*parsed).c_str() : "");
    }
  }
  std::printf("%zu ingested, %zu rejected\n", ok, rejected);
  return rejected == 0 ? 0 : 1;
}

}  // namespace gm::cli
