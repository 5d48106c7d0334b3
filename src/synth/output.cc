// grunnmur synth: writing a population to files.
#include <cstdio>
#include <filesystem>
#include <map>

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
  Counts counts;
  std::string line;
  if (format == Format::kNdjson) {
    std::map<std::string, std::unique_ptr<Out>> files;
    auto emit = [&](const json::Value& r) -> Status {
      std::string type(r.get_string("resourceType"));
      auto it = files.find(type);
      if (it == files.end()) {
        std::string path = dir + "/" + type + ".ndjson";
        auto out = std::make_unique<Out>(path);
        if (!out->ok()) return OpenError(path);
        it = files.emplace(type, std::move(out)).first;
      }
      line.clear();
      json::Write(r, line);
      it->second->Line(line);
      ++counts.resources;
      return Status::Ok();
    };
    for (const json::Value& r : gen.Registry()) GM_RETURN_IF_ERROR(emit(r));
    GM_RETURN_IF_ERROR(gen.ForEachPatient([&](std::vector<json::Value>& group) -> Status {
      ++counts.patients;
      for (const json::Value& r : group) GM_RETURN_IF_ERROR(emit(r));
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
    GM_RETURN_IF_ERROR(gen.ForEachPatient([&](std::vector<json::Value>& group) -> Status {
      ++counts.patients;
      counts.resources += group.size();
      line.clear();
      json::Write(TransactionBundle(group), line);
      patients.Line(line);
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
