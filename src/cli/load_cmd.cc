// grunnmur load DIR --url URL: loads `grunnmur synth` output into a running
// server with transaction Bundles (PUT at the synthetic ids, so a re-load is
// idempotent) over several keep-alive connections in parallel.
//
// Input: the bundles format (registry.ndjson, then patients.ndjson — one
// transaction per line; --patients-per-bundle lines are merged into one
// request) or the ndjson format (<Type>.ndjson; registry types first, then
// the rest, --resources-per-bundle resources per transaction).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "cli/commands.h"
#include "cli/http_post.h"
#include "core/json.h"

namespace gm::cli {

namespace {

// Reads request bodies from line files, thread-safely.
class Source {
 public:
  struct File {
    std::string path;
    bool bundles;  // each line a transaction Bundle (else a resource)
  };
  Source(std::vector<File> files, size_t per_request)
      : files_(std::move(files)), per_request_(per_request) {}

  // The next request body; nullopt at the end (or on a read/parse error, see error()).
  std::optional<std::string> Next(size_t& resources) {
    std::vector<std::string> lines;
    bool bundles = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      while (lines.empty()) {
        if (!in_.is_open()) {
          if (next_file_ >= files_.size()) return std::nullopt;
          in_.open(files_[next_file_].path);
          current_bundles_ = files_[next_file_].bundles;
          ++next_file_;
          if (!in_) {
            error_ = "cannot read " + files_[next_file_ - 1].path;
            return std::nullopt;
          }
        }
        std::string line;
        while (lines.size() < per_request_ && std::getline(in_, line)) {
          if (!line.empty()) lines.push_back(std::move(line));
        }
        bundles = current_bundles_;
        if (lines.size() < per_request_) in_.close();
      }
    }
    json::Value bundle = json::Value::MakeObject();
    bundle.set("resourceType", "Bundle");
    bundle.set("type", "transaction");
    json::Value entries = json::Value::MakeArray();
    resources = 0;
    for (const std::string& line : lines) {
      auto v = json::Parse(line);
      if (!v.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        error_ = "unparsable line: " + v.status().message();
        return std::nullopt;
      }
      if (bundles) {
        json::Value* e = v->find("entry");
        if (e == nullptr || !e->is_array()) continue;
        for (json::Value& entry : e->array()) {
          ++resources;
          entries.push_back(std::move(entry));
        }
      } else {
        std::string url =
            std::string(v->get_string("resourceType")) + "/" + std::string(v->get_string("id"));
        json::Value entry = json::Value::MakeObject();
        entry.set("resource", std::move(*v));
        json::Value request = json::Value::MakeObject();
        request.set("method", "PUT");
        request.set("url", url);
        entry.set("request", std::move(request));
        entries.push_back(std::move(entry));
        ++resources;
      }
    }
    bundle.set("entry", std::move(entries));
    return json::Write(bundle);
  }
  std::string error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  std::vector<File> files_;
  size_t per_request_;
  std::mutex mu_;
  std::ifstream in_;
  bool current_bundles_ = false;
  size_t next_file_ = 0;
  std::string error_;
};

// Sends everything from `source` over `connections` connections; false on the first failure.
bool Drain(Source& source, const ServerUrl& url, size_t connections, std::atomic<size_t>& resources,
           std::atomic<size_t>& requests, std::string& failure) {
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::vector<std::thread> threads;
  for (size_t t = 0; t < connections; ++t) {
    threads.emplace_back([&] {
      PostConnection conn(url);
      while (!failed.load()) {
        size_t n = 0;
        std::optional<std::string> body = source.Next(n);
        if (!body) break;
        std::string response, error;
        int status = conn.Post("/", "application/fhir+json", *body, response, error,
                               {{"Prefer", "return=minimal"}});
        if (status < 200 || status > 299) {
          std::lock_guard<std::mutex> lock(mu);
          if (!failed.exchange(true)) {
            failure = status == 0 ? "connection failed: " + error
                                  : "HTTP " + std::to_string(status) + ": " + response.substr(0, 2000);
            if (status == 401 && response.find("GM-AUTH-008") != std::string::npos) {
              failure += "\n(the access token expired during the load: mint one that lives "
                         "longer than the load, e.g. grunnmur token --ttl 3600)";
            }
          }
          break;
        }
        resources += n;
        ++requests;
      }
    });
  }
  for (auto& t : threads) t.join();
  if (!failed && !source.error().empty()) {
    failure = source.error();
    return false;
  }
  return !failed;
}

}  // namespace

int RunLoad(const LoadArgs& args) {
  auto url = ParseServerUrl(args.url);
  if (!url) {
    std::cerr << "load: --url must be http://HOST:PORT[/base]\n";
    return 2;
  }
  url->token = args.token;
  if (url->token.empty()) {
    if (const char* t = std::getenv("GRUNNMUR_TOKEN")) url->token = t;
  }
  namespace fs = std::filesystem;
  std::vector<Source::File> registry, patients;
  if (fs::exists(fs::path(args.dir) / "patients.ndjson")) {
    registry.push_back({(fs::path(args.dir) / "registry.ndjson").string(), true});
    patients.push_back({(fs::path(args.dir) / "patients.ndjson").string(), true});
  } else {
    static const std::vector<std::string> kRegistryTypes = {
        "Organization", "Endpoint", "Location", "HealthcareService", "Practitioner",
        "PractitionerRole"};
    std::vector<std::string> others;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(args.dir, ec)) {
      if (e.path().extension() != ".ndjson") continue;
      std::string type = e.path().stem().string();
      if (std::find(kRegistryTypes.begin(), kRegistryTypes.end(), type) == kRegistryTypes.end()) {
        others.push_back(e.path().string());
      }
    }
    if (ec) {
      std::cerr << "load: cannot read " << args.dir << ": " << ec.message() << "\n";
      return 2;
    }
    // The citizens before what refers to them, the rest by name: a partly
    // loaded store then has few dangling references.
    static const std::vector<std::string> kFirst = {
        "Patient", "RelatedPerson", "EpisodeOfCare", "Encounter", "Condition", "ServiceRequest",
        "Specimen", "Observation", "DiagnosticReport", "MedicationRequest", "MedicationDispense"};
    auto rank = [&](const std::string& path) {
      std::string type = fs::path(path).stem().string();
      auto it = std::find(kFirst.begin(), kFirst.end(), type);
      return static_cast<size_t>(it - kFirst.begin());
    };
    std::sort(others.begin(), others.end(), [&](const std::string& a, const std::string& b) {
      size_t ra = rank(a), rb = rank(b);
      return ra != rb ? ra < rb : a < b;
    });
    for (const std::string& t : kRegistryTypes) {
      fs::path p = fs::path(args.dir) / (t + ".ndjson");
      if (fs::exists(p)) registry.push_back({p.string(), false});
    }
    for (const std::string& p : others) patients.push_back({p, false});
  }
  if (registry.empty() && patients.empty()) {
    std::cerr << "load: no synth output in " << args.dir << "\n";
    return 2;
  }
  bool bundles = !patients.empty() && patients[0].bundles;
  auto start = std::chrono::steady_clock::now();
  std::atomic<size_t> resources{0}, requests{0};
  std::string failure;
  // Registry first: everything else refers to it.
  Source reg(registry, bundles ? 1 : args.resources_per_bundle);
  if (!Drain(reg, *url, args.connections, resources, requests, failure)) {
    std::cerr << "load failed (registry): " << failure << "\n";
    return 1;
  }
  Source pat(patients, bundles ? args.patients_per_bundle : args.resources_per_bundle);
  if (!Drain(pat, *url, args.connections, resources, requests, failure)) {
    std::cerr << "load failed: " << failure << "\n";
    return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "loaded " << resources.load() << " resources in " << requests.load()
            << " transactions in " << secs << " s ("
            << static_cast<long long>(secs > 0 ? resources.load() / secs : 0)
            << " resources/s)" << std::endl;
  return 0;
}

}  // namespace gm::cli
