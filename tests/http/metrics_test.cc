#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "http/server.h"

namespace gm::http {
namespace {

bool Contains(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

TEST(Metrics, RendersCountersHistogramsAndGauges) {
  Metrics m;
  m.Record("read", 200, 0.0004);
  m.Record("read", 200, 0.003);
  m.Record("read", 404, 2.0);
  m.Record("search-type", 200, 20.0);
  m.AddInFlight(3);
  m.AddInFlight(-1);
  m.AddOpenConnections(5);
  std::string text = m.Render("custom_metric 7\n");

  EXPECT_TRUE(Contains(text, "# TYPE grunnmur_http_requests_total counter\n"));
  EXPECT_TRUE(
      Contains(text, "grunnmur_http_requests_total{interaction=\"read\",status=\"200\"} 2\n"))
      << text;
  EXPECT_TRUE(
      Contains(text, "grunnmur_http_requests_total{interaction=\"read\",status=\"404\"} 1\n"));
  EXPECT_TRUE(Contains(
      text, "grunnmur_http_requests_total{interaction=\"search-type\",status=\"200\"} 1\n"));

  EXPECT_TRUE(Contains(text, "# TYPE grunnmur_http_request_duration_seconds histogram\n"));
  // Buckets are cumulative.
  EXPECT_TRUE(Contains(
      text,
      "grunnmur_http_request_duration_seconds_bucket{interaction=\"read\",le=\"0.0005\"} 1\n"))
      << text;
  EXPECT_TRUE(Contains(
      text,
      "grunnmur_http_request_duration_seconds_bucket{interaction=\"read\",le=\"0.005\"} 2\n"));
  EXPECT_TRUE(Contains(
      text, "grunnmur_http_request_duration_seconds_bucket{interaction=\"read\",le=\"1\"} 2\n"));
  EXPECT_TRUE(Contains(
      text, "grunnmur_http_request_duration_seconds_bucket{interaction=\"read\",le=\"2.5\"} 3\n"));
  EXPECT_TRUE(Contains(
      text, "grunnmur_http_request_duration_seconds_bucket{interaction=\"read\",le=\"+Inf\"} 3\n"));
  EXPECT_TRUE(Contains(
      text,
      "grunnmur_http_request_duration_seconds_bucket{interaction=\"search-type\",le=\"10\"} 0\n"));
  EXPECT_TRUE(Contains(text,
                       "grunnmur_http_request_duration_seconds_bucket{interaction=\"search-type\","
                       "le=\"+Inf\"} 1\n"));
  EXPECT_TRUE(
      Contains(text, "grunnmur_http_request_duration_seconds_count{interaction=\"read\"} 3\n"));
  EXPECT_TRUE(
      Contains(text, "grunnmur_http_request_duration_seconds_sum{interaction=\"read\"} 2.0034\n"))
      << text;

  EXPECT_TRUE(Contains(text, "# TYPE grunnmur_http_requests_in_flight gauge\n"));
  EXPECT_TRUE(Contains(text, "grunnmur_http_requests_in_flight 2\n"));
  EXPECT_TRUE(Contains(text, "grunnmur_http_open_connections 5\n"));
  EXPECT_EQ(text.substr(text.size() - 16), "custom_metric 7\n");
}

TEST(Metrics, EscapesLabelValues) {
  Metrics m;
  m.Record("a\"b\\c\nd", 500, 0.1);
  EXPECT_TRUE(
      Contains(m.Render(),
               "grunnmur_http_requests_total{interaction=\"a\\\"b\\\\c\\nd\",status=\"500\"} 1\n"));
}

TEST(Metrics, EmptyOrOverlongLabelsCountAsOther) {
  Metrics m;
  m.Record("", 200, 0.1);
  m.Record(std::string(200, 'x'), 200, 0.1);
  EXPECT_TRUE(Contains(m.Render(),
                       "grunnmur_http_requests_total{interaction=\"other\",status=\"200\"} 2\n"));
}

TEST(Metrics, ConcurrentRecordsAreAllCounted) {
  Metrics m;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < kPerThread; ++i) {
        m.Record(i % 2 == 0 ? "read" : "create", i % 2 == 0 ? 200 : 201, 0.001);
        m.AddInFlight(1);
        m.AddInFlight(-1);
      }
    });
  }
  std::string during = m.Render();  // rendering concurrently with recording is safe
  EXPECT_TRUE(Contains(during, "# TYPE grunnmur_http_requests_total counter"));
  for (auto& t : threads) t.join();
  std::string text = m.Render();
  const int half = kThreads * kPerThread / 2;
  EXPECT_TRUE(Contains(text, "grunnmur_http_requests_total{interaction=\"read\",status=\"200\"} " +
                                 std::to_string(half) + "\n"))
      << text;
  EXPECT_TRUE(
      Contains(text, "grunnmur_http_requests_total{interaction=\"create\",status=\"201\"} " +
                         std::to_string(half) + "\n"));
  EXPECT_TRUE(Contains(text, "grunnmur_http_requests_in_flight 0\n"));
}

}  // namespace
}  // namespace gm::http
