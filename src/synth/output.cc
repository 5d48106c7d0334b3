// grunnmur synth: writing a population to files.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include "synth/synth.h"

namespace gm::synth {

namespace {

// Appends to a file through a large buffer.
class Out {
 public:
  explicit Out(const std::string& path) : f_(std::fopen(path.c_str(), "wb")), path_(path) {}
  ~Out() { (void)Close(); }
  bool ok() const { return f_ != nullptr && !failed_; }
  void Line(const std::string& text) {
    buf_ += text;
    buf_ += '\n';
    if (buf_.size() > (1u << 20)) Flush();
  }
  void Flush() {
    if (f_ != nullptr && !buf_.empty()) {
      failed_ |= std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size();
    }
    buf_.clear();
  }
  Status Close() {
    Flush();
    if (f_ != nullptr) {
      failed_ |= std::fclose(f_) != 0;
      f_ = nullptr;
    }
    if (failed_) {
      return Status::Error(ErrorCategory::kUnavailable, "GM-SYN-002", "exception",
                           "cannot write " + path_);
    }
    return Status::Ok();
  }

 private:
  std::FILE* f_;
  std::string path_;
  std::string buf_;
  bool failed_ = false;
};

Status OpenError(const std::string& path) {
  return Status::Error(ErrorCategory::kUnavailable, "GM-SYN-001", "exception",
                       "cannot create " + path);
}

}  // namespace

Result<Counts> WriteOutput(const Options& options, const std::string& dir, Format format) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return OpenError(dir);
  Generator gen(options);
  // Default: one thread on small machines (measured on 2 shared cores, a
  // second thread cost more than it gained), else all but one core, up to 8.
  unsigned cores = std::thread::hardware_concurrency();
  int threads = options.threads > 0 ? options.threads
                                    : static_cast<int>(cores >= 4 ? std::min(cores - 1, 8u) : 1u);
  Counts counts;
  std::string line;
  if (format == Format::kNdjson) {
    std::map<std::string, std::unique_ptr<Out>> files;
    auto emit = [&](const json::Value& r, const std::string& text) -> Status {
      std::string type(r.get_string("resourceType"));
      auto it = files.find(type);
      if (it == files.end()) {
        std::string path = dir + "/" + type + ".ndjson";
        auto out = std::make_unique<Out>(path);
        if (!out->ok()) return OpenError(path);
        it = files.emplace(type, std::move(out)).first;
      }
      it->second->Line(text);
      ++counts.resources;
      return Status::Ok();
    };
    for (const json::Value& r : gen.Registry()) {
      line.clear();
      json::Write(r, line);
      GM_RETURN_IF_ERROR(emit(r, line));
    }
    GM_RETURN_IF_ERROR(gen.ForEachPatientParallel(
        threads,
        [](std::vector<json::Value>& group, std::vector<std::string>& lines) {
          lines.resize(group.size());
          for (size_t i = 0; i < group.size(); ++i) json::Write(group[i], lines[i]);
        },
        [&](std::vector<json::Value>& group, std::vector<std::string>& lines) -> Status {
          ++counts.patients;
          for (size_t i = 0; i < group.size(); ++i) GM_RETURN_IF_ERROR(emit(group[i], lines[i]));
          return Status::Ok();
        }));
    for (auto& [type, out] : files) GM_RETURN_IF_ERROR(out->Close());
  } else {
    Out registry(dir + "/registry.ndjson");
    Out patients(dir + "/patients.ndjson");
    if (!registry.ok()) return OpenError(dir + "/registry.ndjson");
    if (!patients.ok()) return OpenError(dir + "/patients.ndjson");
    const auto& reg = gen.Registry();
    for (size_t i = 0; i < reg.size(); i += 500) {
      std::vector<json::Value> chunk(reg.begin() + static_cast<std::ptrdiff_t>(i),
                                     reg.begin() + static_cast<std::ptrdiff_t>(std::min(reg.size(), i + 500)));
      line.clear();
      json::Write(TransactionBundle(chunk), line);
      registry.Line(line);
    }
    counts.resources += reg.size();
    GM_RETURN_IF_ERROR(gen.ForEachPatientParallel(
        threads,
        [](std::vector<json::Value>& group, std::vector<std::string>& lines) {
          lines.assign(1, std::string());
          json::Write(TransactionBundle(group), lines[0]);
        },
        [&](std::vector<json::Value>& group, std::vector<std::string>& lines) -> Status {
          ++counts.patients;
          counts.resources += group.size();
          patients.Line(lines[0]);
          return Status::Ok();
        }));
    GM_RETURN_IF_ERROR(registry.Close());
    GM_RETURN_IF_ERROR(patients.Close());
  }
  Out manifest(dir + "/manifest.json");
  if (!manifest.ok()) return OpenError(dir + "/manifest.json");
  manifest.Line("{\"patients\":" + std::to_string(counts.patients) +
                ",\"seed\":" + std::to_string(options.seed) +
                ",\"resources\":" + std::to_string(counts.resources) + ",\"format\":\"" +
                (format == Format::kNdjson ? "ndjson" : "bundles") + "\"}");
  GM_RETURN_IF_ERROR(manifest.Close());
  return counts;
}

}  // namespace gm::synth
