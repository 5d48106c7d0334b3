// grunnmur synth (a deterministic synthetic Norway to files) and the demo
// population that `grunnmur serve --demo N` loads into an empty store.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
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
  options.threads = args.threads;
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

// The citizens loaded before LoadDemo returns when the rest may load in the
// background: enough for the demo's example queries, quick to load.
constexpr size_t kDemoForeground = 100;

struct DemoBackground::State {
  std::thread thread;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  bool foreground_done = false;
  int foreground_result = 0;
  void SignalForeground(int result) {
    std::lock_guard<std::mutex> lock(mu);
    if (foreground_done) return;
    foreground_done = true;
    foreground_result = result;
    cv.notify_all();
  }
};

DemoBackground::DemoBackground() : state_(std::make_unique<State>()) {}
DemoBackground::~DemoBackground() { Stop(); }

void DemoBackground::Stop() {
  if (!state_->thread.joinable()) return;
  state_->stop = true;
  state_->thread.join();
}

namespace {

// Loads the demo population; signals `state` once the registry and the first
// `foreground` citizens are in (or on failure). Returns 0 on success.
int LoadDemoPopulation(rest::Service& service, size_t patients, size_t foreground,
                       DemoBackground::State& state) {
  auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
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
      state.SignalForeground(1);
      return 1;
    }
  }
  resources += reg.size();
  // Citizens: whole citizens (all or nothing), ~400 resources per
  // transaction, posted from a few threads so the store's group commit
  // batches them; fewer threads once the server is serving.
  std::vector<json::Value> batch;
  std::vector<std::vector<json::Value>> pending;
  Status result;
  std::mutex mu;
  size_t citizens = 0;
  auto flush = [&](std::vector<std::vector<json::Value>>& work) {
    std::atomic<size_t> next{0};
    std::vector<std::thread> threads;
    int n = citizens <= foreground ? 4 : 2;
    for (int t = 0; t < n; ++t) {
      threads.emplace_back([&] {
        for (size_t i = next++; i < work.size() && !state.stop; i = next++) {
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
  Status stopped = Status::Error(ErrorCategory::kUnavailable, "GM-SYN-011", "exception",
                                 "demo load stopped (the server is stopping)");
  Status gen_status = gen.ForEachPatient([&](std::vector<json::Value>& group) -> Status {
    if (state.stop) return stopped;
    ++citizens;
    resources += group.size();
    for (json::Value& r : group) batch.push_back(std::move(r));
    if (batch.size() >= 400 || citizens == foreground) {
      pending.push_back(std::move(batch));
      batch.clear();
    }
    if (pending.size() >= 16 || citizens == foreground) flush(pending);
    if (citizens == foreground && result.ok()) {
      if (foreground < patients) {
        spdlog::info("demo: {} of {} synthetic citizens loaded in {:.1f} s; the rest loads in the background",
                     foreground, patients, seconds());
      }
      state.SignalForeground(0);
    }
    return state.stop ? stopped : result;
  });
  if (!batch.empty()) pending.push_back(std::move(batch));
  if (gen_status.ok()) flush(pending);
  if (state.stop) {
    spdlog::warn("demo: stopped after {} of {} citizens (a later start leaves the non-empty store alone)",
                 citizens, patients);
    state.SignalForeground(1);
    return 1;
  }
  if (!gen_status.ok() || !result.ok()) {
    spdlog::error("demo: {}", (!result.ok() ? result : gen_status).message());
    state.SignalForeground(1);
    return 1;
  }
  spdlog::info("demo: loaded {} synthetic citizens ({} resources) in {:.1f} s", patients, resources,
               seconds());
  state.SignalForeground(0);
  return 0;
}

}  // namespace

int LoadDemo(rest::Service& service, store::Store& store, size_t patients, DemoBackground* background) {
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
  spdlog::info("demo: try GET /Patient?general-practitioner=PractitionerRole/prr1 (a GP's list), "
               "GET /Patient/p1, GET /Observation?patient=p1, GET /DiagnosticReport?patient=p1, "
               "GET /Practitioner?_count=10");
  if (background == nullptr || patients <= kDemoForeground) {
    DemoBackground::State state;
    return LoadDemoPopulation(service, patients, patients, state);
  }
  DemoBackground::State& state = *background->state_;
  state.thread = std::thread([&service, patients, &state] {
    (void)LoadDemoPopulation(service, patients, kDemoForeground, state);
  });
  std::unique_lock<std::mutex> lock(state.mu);
  state.cv.wait(lock, [&] { return state.foreground_done; });
  return state.foreground_result;
}

}  // namespace gm::cli
