// Metrics: per-thread shards, each a small map under its own (uncontended)
// mutex, merged only when rendered.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/server.h"

namespace gm::http {

namespace {

// Upper bounds of the latency histogram buckets, in seconds (+Inf is implied).
constexpr std::array<double, 14> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,    0.25,  0.5,    1,     2.5,  5,     10};
constexpr const char* kBucketLabels[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
                                         "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                                         "1",      "2.5",   "5",      "10"};
constexpr size_t kShards = 16;
// Interactions beyond this many distinct labels per shard are counted as "other".
constexpr size_t kMaxInteractions = 128;
constexpr size_t kMaxLabelLength = 64;

struct Series {
  std::array<uint64_t, kBuckets.size() + 1> buckets{};  // non-cumulative; last is +Inf
  double sum = 0;
  uint64_t count = 0;
  std::vector<std::pair<int, uint64_t>> statuses;  // few distinct values; linear search

  void Merge(const Series& other) {
    for (size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
    sum += other.sum;
    count += other.count;
    for (const auto& [status, n] : other.statuses) AddStatus(status, n);
  }
  void AddStatus(int status, uint64_t n) {
    for (auto& entry : statuses) {
      if (entry.first == status) {
        entry.second += n;
        return;
      }
    }
    statuses.emplace_back(status, n);
  }
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct alignas(64) Shard {
  std::mutex mu;
  std::unordered_map<std::string, Series, StringHash, std::equal_to<>> series;
};

size_t ThisThreadShard() {
  static std::atomic<size_t> next{0};
  thread_local size_t shard = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shard;
}

void AppendLabelValue(std::string_view value, std::string& out) {
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
}

void AppendDouble(double v, std::string& out) {
  char buffer[32];
  int n = std::snprintf(buffer, sizeof buffer, "%.9g", v);
  out.append(buffer, static_cast<size_t>(n));
}

}  // namespace

struct Metrics::Impl {
  std::array<Shard, kShards> shards;
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> connections{0};
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::Record(std::string_view interaction, int status, double seconds) {
  if (interaction.empty() || interaction.size() > kMaxLabelLength) interaction = "other";
  size_t bucket = static_cast<size_t>(std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds) -
                                      kBuckets.begin());
  Shard& shard = impl_->shards[ThisThreadShard()];
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.series.find(interaction);
  if (it == shard.series.end()) {
    if (shard.series.size() >= kMaxInteractions) interaction = "other";
    it = shard.series.try_emplace(std::string(interaction)).first;
  }
  Series& s = it->second;
  ++s.buckets[bucket];
  s.sum += seconds;
  ++s.count;
  s.AddStatus(status, 1);
}

void Metrics::AddInFlight(int64_t delta) {
  impl_->in_flight.fetch_add(delta, std::memory_order_relaxed);
}

void Metrics::AddOpenConnections(int64_t delta) {
  impl_->connections.fetch_add(delta, std::memory_order_relaxed);
}

std::string Metrics::Render(std::string_view extra) const {
  std::map<std::string, Series, std::less<>> merged;
  for (Shard& shard : impl_->shards) {
    std::lock_guard<std::mutex> lock(shard.mu);
    for (const auto& [name, series] : shard.series) merged[name].Merge(series);
  }
  std::string out;
  out.reserve(1024 + merged.size() * 2048 + extra.size());

  out.append(
      "# HELP grunnmur_http_requests_total HTTP requests answered, by interaction and status.\n"
      "# TYPE grunnmur_http_requests_total counter\n");
  for (auto& [name, series] : merged) {
    std::sort(series.statuses.begin(), series.statuses.end());
    for (const auto& [status, n] : series.statuses) {
      out.append("grunnmur_http_requests_total{interaction=\"");
      AppendLabelValue(name, out);
      out.append("\",status=\"").append(std::to_string(status)).append("\"} ");
      out.append(std::to_string(n)).push_back('\n');
    }
  }

  out.append(
      "# HELP grunnmur_http_request_duration_seconds Time from a complete request to its "
      "response written, by interaction.\n"
      "# TYPE grunnmur_http_request_duration_seconds histogram\n");
  for (const auto& [name, series] : merged) {
    std::string label;
    AppendLabelValue(name, label);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < series.buckets.size(); ++i) {
      cumulative += series.buckets[i];
      out.append("grunnmur_http_request_duration_seconds_bucket{interaction=\"").append(label);
      out.append("\",le=\"").append(i < kBuckets.size() ? kBucketLabels[i] : "+Inf");
      out.append("\"} ").append(std::to_string(cumulative)).push_back('\n');
    }
    out.append("grunnmur_http_request_duration_seconds_sum{interaction=\"").append(label);
    out.append("\"} ");
    AppendDouble(series.sum, out);
    out.push_back('\n');
    out.append("grunnmur_http_request_duration_seconds_count{interaction=\"").append(label);
    out.append("\"} ").append(std::to_string(series.count)).push_back('\n');
  }

  out.append(
      "# HELP grunnmur_http_requests_in_flight Requests received and not yet answered.\n"
      "# TYPE grunnmur_http_requests_in_flight gauge\n"
      "grunnmur_http_requests_in_flight ");
  out.append(std::to_string(impl_->in_flight.load(std::memory_order_relaxed))).push_back('\n');
  out.append(
      "# HELP grunnmur_http_open_connections Open client connections.\n"
      "# TYPE grunnmur_http_open_connections gauge\n"
      "grunnmur_http_open_connections ");
  out.append(std::to_string(impl_->connections.load(std::memory_order_relaxed))).push_back('\n');

  out.append(extra);
  if (!extra.empty() && extra.back() != '\n') out.push_back('\n');
  return out;
}

}  // namespace gm::http
