// grunnmur synth (a deterministic synthetic Norway to files) and the demo
// population that `grunnmur serve --demo N` loads into an empty store.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "http/server.h"
#include "rest/service.h"
#include "store/store.h"
#include "synth/synth.h"

namespace gm::cli {

int RunSynth(const SynthArgs& args) {
  synth::Format format;
  if (args.format == "ndjson") {
    format = synth::Format::kNdjson;
  } else if (args.format == "bundles") {
    format = synth::Format::kBundles;
  } else {
    std::cerr << "unknown --format " << args.format << " (ndjson|bundles)\n";
    return 2;
  }
  synth::Options options;
  options.patients = args.patients;
  options.seed = args.seed;
  auto start = std::chrono::steady_clock::now();
  auto counts = synth::WriteOutput(options, args.out, format);
  if (!counts.ok()) {
    std::cerr << counts.status().code() << ": " << counts.status().message() << "\n";
    return 1;
  }
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "synth: " << counts->patients << " patients, " << counts->resources
            << " resources in " << secs << " s ("
            << static_cast<long long>(secs > 0 ? counts->resources / secs : 0)
            << " resources/s) → " << args.out << "\n";
  return 0;
}

namespace {

// POSTs a transaction Bundle through the service (the same path as HTTP).
Status PostBundle(rest::Service& service, const json::Value& bundle) {
  http::Request req;
  req.method = "POST";
  req.target = "/";
  req.path = "/";
  req.headers = {{"content-type", "application/fhir+json"}, {"prefer", "return=minimal"}};
  req.body = json::Write(bundle);
  req.remote = "demo";
  req.request_id = "demo-load";
  http::Response res = service.Handle(req, /*trusted=*/true);
  if (res.status < 200 || res.status > 299) {
    return Status::Error(ErrorCategory::kInternal, "GM-SYN-010", "exception",
                         "demo load: transaction answered " + std::to_string(res.status) + ": " +
                             res.body.substr(0, 400));
  }
  return Status::Ok();
}

}  // namespace

int LoadDemo(rest::Service& service, store::Store& store, size_t patients) {
  if (patients == 0) return 0;
  auto stats = store.Stats();
  if (!stats.ok()) {
    spdlog::error("demo: cannot read store statistics: {}", stats.status().message());
    return 1;
  }
  if (stats->resources > 0) {
    spdlog::info("demo: the store is not empty ({} resources); nothing loaded", stats->resources);
    return 0;
  }
  auto start = std::chrono::steady_clock::now();
  synth::Options options;
  options.patients = patients;
  options.seed = kDemoSeed;
  synth::Generator gen(options);
  size_t resources = 0;
  const auto& reg = gen.Registry();
  for (size_t i = 0; i < reg.size(); i += 500) {
    std::vector<json::Value> chunk(reg.begin() + static_cast<std::ptrdiff_t>(i),
                                   reg.begin() + static_cast<std::ptrdiff_t>(std::min(reg.size(), i + 500)));
    if (Status st = PostBundle(service, synth::TransactionBundle(chunk)); !st.ok()) {
      spdlog::error("{}", st.message());
      return 1;
    }
  }
  resources += reg.size();
  // Citizens: whole citizens, ~400 resources per transaction, posted from a
  // few threads so the store's group commit batches them.
  std::vector<json::Value> batch;
  std::vector<std::vector<json::Value>> pending;
  Status result;
  std::mutex mu;
  auto flush = [&](std::vector<std::vector<json::Value>>& work) {
    std::atomic<size_t> next{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (size_t i = next++; i < work.size(); i = next++) {
          Status st = PostBundle(service, synth::TransactionBundle(work[i]));
          if (!st.ok()) {
            std::lock_guard<std::mutex> lock(mu);
            if (result.ok()) result = st;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    work.clear();
  };
  Status gen_status = gen.ForEachPatient([&](std::vector<json::Value>& group) -> Status {
    resources += group.size();
    for (json::Value& r : group) batch.push_back(std::move(r));
    if (batch.size() >= 400) {
      pending.push_back(std::move(batch));
      batch.clear();
    }
    if (pending.size() >= 16) flush(pending);
    return result;
  });
  if (!batch.empty()) pending.push_back(std::move(batch));
  if (gen_status.ok()) flush(pending);
  if (!gen_status.ok() || !result.ok()) {
    spdlog::error("demo: {}", (!result.ok() ? result : gen_status).message());
    return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("demo: loaded {} synthetic citizens ({} resources) in {:.1f} s", patients,
               resources, secs);
  spdlog::info("demo: try GET /Patient?general-practitioner=PractitionerRole/prr1 (a GP's list), "
               "GET /Patient/p1, GET /Observation?patient=p1, GET /Practitioner?_count=10");
  return 0;
}

}  // namespace gm::cli
