// FHIRPath benchmark contender: grunnmur's engine (gm::fhirpath).
//
// The JavaScript contender (bench/fhirpath/js_bench.mjs, npm `fhirpath`) reads
// the same case file and speaks the same three commands, so bench/run can run
// them alternately:
//
//   gm_bench_fhirpath export --suite tests-fhir-r4.xml --inputs DIR
//                            --searchparams search-parameters.json --samples DIR
//       writes the case file (JSON) to stdout: the official suite's valid
//       expressions over their inputs, and every R4 search-parameter
//       expression over the sample resources of its base types.
//   gm_bench_fhirpath check CASES
//       compiles and evaluates every case once; prints which it accepts.
//   gm_bench_fhirpath measure CASES IDS GROUP SECONDS
//       evaluates the accepted cases (ids file) of GROUP round-robin for at
//       least SECONDS (after one warm-up pass) and prints evaluations/s.
//
// Expressions are compiled once, outside the timed loop, as a server does
// (the indexer compiles every search parameter at start-up).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <pugixml.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/json.h"
#include "fhirpath/fhirpath.h"

namespace {

using gm::json::Value;
namespace fp = gm::fhirpath;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Fail(const std::string& why) {
  std::fprintf(stderr, "gm_bench_fhirpath: %s\n", why.c_str());
  return 2;
}

Value ParseFileOrDie(const std::string& path) {
  auto parsed = gm::json::Parse(ReadFile(path));
  if (!parsed.ok()) {
    std::fprintf(stderr, "gm_bench_fhirpath: %s: %s\n", path.c_str(),
                 parsed.status().message().c_str());
    std::exit(2);
  }
  return std::move(parsed).value();
}

Value Case(const std::string& id, const std::string& group, const std::string& expr,
           const std::string& input) {
  Value c = Value::MakeObject();
  c.set("id", id);
  c.set("group", group);
  c.set("expr", expr);
  c.set("input", input);
  return c;
}

int Export(const std::map<std::string, std::string>& args) {
  for (const char* k : {"--suite", "--inputs", "--searchparams", "--samples"}) {
    if (!args.count(k)) return Fail(std::string("export needs ") + k);
  }
  Value cases = Value::MakeArray();
  int invalid = 0;
  pugi::xml_document doc;
  if (!doc.load_file(args.at("--suite").c_str())) return Fail("cannot read the suite");
  std::set<std::string> seen;
  for (pugi::xml_node group : doc.child("tests").children("group")) {
    for (pugi::xml_node test : group.children("test")) {
      pugi::xml_node expr = test.child("expression");
      if (!std::string(expr.attribute("invalid").value()).empty()) {
        ++invalid;  // the suite expects an error: nothing to time
        continue;
      }
      std::string name = test.attribute("name").value();
      std::string id = "suite:" + name;
      for (int k = 2; seen.count(id); ++k) id = "suite:" + name + "#" + std::to_string(k);
      seen.insert(id);
      std::string input = test.attribute("inputfile").value();
      if (!input.empty()) input = args.at("--inputs") + "/" + input.substr(0, input.rfind('.')) + ".json";
      cases.push_back(Case(id, "suite", expr.text().get(), input));
    }
  }
  // Sample resources: one file per resource type (written by bench/gen.mjs --samples).
  std::map<std::string, std::string> samples;  // type -> path
  for (const char* type : {"Patient", "Observation", "MedicationRequest", "Encounter", "Condition",
                           "Practitioner"}) {
    std::string path = args.at("--samples") + "/" + type + ".json";
    if (std::ifstream(path).good()) samples[type] = path;
  }
  Value bundle = ParseFileOrDie(args.at("--searchparams"));
  int params = 0;
  if (const Value* entries = bundle.find("entry")) {
    for (const Value& e : entries->array()) {
      const Value* r = e.find("resource");
      if (r == nullptr) continue;
      std::string expr(r->get_string("expression"));
      if (expr.empty()) continue;
      const Value* base = r->find("base");
      if (base == nullptr) continue;
      for (const Value& b : base->array()) {
        auto s = samples.find(b.str());
        if (s == samples.end()) continue;
        cases.push_back(Case("sp:" + b.str() + "." + std::string(r->get_string("code")), "searchparam",
                             expr, s->second));
        ++params;
      }
    }
  }
  Value out = Value::MakeObject();
  out.set("suite_expected_invalid", Value(invalid));
  out.set("cases", std::move(cases));
  std::cout << gm::json::Write(out) << "\n";
  return 0;
}

struct Loaded {
  std::string id, group, expr, input;
};

struct Runner {
  std::vector<Loaded> cases;
  std::map<std::string, std::unique_ptr<Value>> inputs;
  const Value& Input(const std::string& path) {
    static const Value kNull;
    if (path.empty()) return kNull;
    auto& slot = inputs[path];
    if (!slot) slot = std::make_unique<Value>(ParseFileOrDie(path));
    return *slot;
  }
  void Load(const std::string& path) {
    Value v = ParseFileOrDie(path);
    for (const Value& c : v.find("cases")->array()) {
      cases.push_back({std::string(c.get_string("id")), std::string(c.get_string("group")),
                       std::string(c.get_string("expr")), std::string(c.get_string("input"))});
    }
  }
  gm::Result<fp::Expression> Compile(const Loaded& c) {
    const Value& in = Input(c.input);
    fp::CompileOptions o;
    std::string type;
    if (in.is_object()) type = std::string(in.get_string("resourceType"));
    o.context_type = type;
    return fp::Expression::Compile(c.expr, o);
  }
};

int Check(const std::string& cases_path) {
  Runner r;
  r.Load(cases_path);
  Value accepted = Value::MakeArray();
  Value compile_rejected = Value::MakeArray();
  Value eval_rejected = Value::MakeArray();
  for (const Loaded& c : r.cases) {
    auto e = r.Compile(c);
    if (!e.ok()) {
      compile_rejected.push_back(Value(c.id));
      continue;
    }
    auto res = e->Evaluate(r.Input(c.input));
    if (!res.ok()) {
      eval_rejected.push_back(Value(c.id));
      continue;
    }
    accepted.push_back(Value(c.id));
  }
  Value out = Value::MakeObject();
  out.set("engine", "grunnmur");
  out.set("accepted", std::move(accepted));
  out.set("compile_rejected", std::move(compile_rejected));
  out.set("eval_rejected", std::move(eval_rejected));
  std::cout << gm::json::Write(out) << "\n";
  return 0;
}

int Measure(const std::string& cases_path, const std::string& ids_path, const std::string& group,
            double seconds) {
  Runner r;
  r.Load(cases_path);
  std::set<std::string> ids;
  const Value id_list = ParseFileOrDie(ids_path);
  for (const Value& v : id_list.array()) ids.insert(v.str());
  struct Ready {
    fp::Expression expr;
    const Value* input;
  };
  std::vector<Ready> ready;
  for (const Loaded& c : r.cases) {
    if (c.group != group || !ids.count(c.id)) continue;
    auto e = r.Compile(c);
    if (!e.ok()) return Fail("case " + c.id + " no longer compiles");
    ready.push_back({std::move(e).value(), &r.Input(c.input)});
  }
  if (ready.empty()) return Fail("no cases in group " + group);
  size_t sink = 0;
  auto pass = [&]() {
    for (const Ready& c : ready) {
      auto res = c.expr.Evaluate(*c.input);
      sink += res.ok() ? res->size() + 1 : 0;
    }
  };
  pass();  // warm-up: inputs, caches
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  uint64_t evals = 0;
  double elapsed = 0;
  do {
    pass();
    evals += ready.size();
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds);
  Value out = Value::MakeObject();
  out.set("engine", "grunnmur");
  out.set("group", group);
  out.set("cases", Value(static_cast<int64_t>(ready.size())));
  out.set("evaluations", Value(static_cast<int64_t>(evals)));
  out.set("seconds", Value::Number(std::to_string(elapsed)));
  out.set("evals_per_s", Value::Number(std::to_string(evals / elapsed)));
  out.set("checksum", Value(static_cast<int64_t>(sink)));
  std::cout << gm::json::Write(out) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.empty()) return Fail("usage: export|check|measure ...");
  if (a[0] == "export") {
    std::map<std::string, std::string> args;
    for (size_t k = 1; k + 1 < a.size(); k += 2) args[a[k]] = a[k + 1];
    return Export(args);
  }
  if (a[0] == "check" && a.size() == 2) return Check(a[1]);
  if (a[0] == "measure" && a.size() == 5) return Measure(a[1], a[2], a[3], std::stod(a[4]));
  return Fail("usage: export ARGS | check CASES | measure CASES IDS GROUP SECONDS");
}
