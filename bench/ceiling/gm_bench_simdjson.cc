// Ingest ceiling, parsing side (bench/README.md, "ingest"): how fast can the
// same NDJSON transaction bundles merely be parsed, with simdjson's DOM parser
// (libsimdjson-dev from Debian), on one thread?
//
//   gm_bench_simdjson [--min-seconds S] FILE.ndjson...
//
// The files are read into one padded buffer (untimed). Then each line is
// parsed into a DOM and walked: every Bundle.entry[].resource is counted, and
// every element of the tree is visited once (so the work includes more than
// finding the structural characters). Passes repeat until --min-seconds
// (default 1) have passed; prints one JSON object with resources/s and MB/s
// of the mean pass, and peak RSS.
#include <simdjson.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "gm_bench_simdjson: %s\n", what.c_str());
  std::exit(1);
}

double PeakRssMib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  }
  return 0;
}

// Visits every node; returns the number of nodes.
long long Walk(simdjson::dom::element e) {
  long long n = 1;
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array a = e.get_array().value_unsafe();
      for (simdjson::dom::element x : a) n += Walk(x);
      break;
    }
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object o = e.get_object().value_unsafe();
      for (simdjson::dom::key_value_pair kv : o) n += Walk(kv.value);
      break;
    }
    default:
      break;
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  double min_seconds = 1.0;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--min-seconds" && i + 1 < argc) min_seconds = std::atof(argv[++i]);
    else files.push_back(a);
  }
  if (files.empty()) Die("usage: gm_bench_simdjson [--min-seconds S] FILE.ndjson...");
  std::string all;
  for (auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) Die("cannot read " + f);
    std::ostringstream ss;
    ss << in.rdbuf();
    all += ss.str();
    if (!all.empty() && all.back() != '\n') all += '\n';
  }
  // One padded copy: each line is parsed in place (the bytes after a line, and
  // the padding at the end, make reading SIMDJSON_PADDING past it safe).
  simdjson::padded_string buf(all);
  std::vector<std::string_view> lines;
  {
    std::string_view v(buf.data(), buf.size());
    size_t pos = 0;
    while (pos < v.size()) {
      size_t nl = v.find('\n', pos);
      if (nl == std::string_view::npos) nl = v.size();
      if (nl > pos) lines.push_back(v.substr(pos, nl - pos));
      pos = nl + 1;
    }
  }
  simdjson::dom::parser parser;
  long long resources = 0, nodes = 0;
  int passes = 0;
  auto t0 = std::chrono::steady_clock::now();
  double elapsed = 0;
  do {
    resources = 0;
    nodes = 0;
    for (std::string_view line : lines) {
      simdjson::dom::element doc;
      if (auto err = parser.parse(line.data(), line.size(), false).get(doc)) Die(simdjson::error_message(err));
      nodes += Walk(doc);
      simdjson::dom::array entries;
      if (doc["entry"].get(entries) == simdjson::SUCCESS) {
        for (simdjson::dom::element e : entries) {
          simdjson::dom::object r;
          if (e["resource"].get(r) == simdjson::SUCCESS) ++resources;
        }
      }
    }
    ++passes;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (elapsed < min_seconds);
  double per_pass = elapsed / passes;
  std::printf("{\"contender\": \"simdjson\", \"simdjson_version\": \"%s\", \"implementation\": \"%s\", "
              "\"documents\": %zu, \"resources\": %lld, \"nodes\": %lld, \"bytes\": %zu, \"passes\": %d, "
              "\"seconds_per_pass\": %.6f, \"resources_per_s\": %.1f, \"mb_per_s\": %.1f, \"peak_rss_mib\": %.1f}\n",
              SIMDJSON_STRINGIFY(SIMDJSON_VERSION), simdjson::get_active_implementation()->name().c_str(), lines.size(), resources,
              nodes, all.size(), passes, per_pass, resources / per_pass, all.size() / per_pass / 1e6, PeakRssMib());
  return 0;
}
