// The server over real sockets on 127.0.0.1, with a Beast client. Timeouts
// are configured tiny where a test needs one to fire; tests assert outcomes
// (status codes, closed connections), never durations.
#include "http/server.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace gm::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;
using ClientResponse = bhttp::response<bhttp::string_body>;

// Formats server-detected errors as "<code> <text>" so tests can see the code.
Response TestErrors(int status, const std::string& code, const std::string& text) {
  Response r;
  r.status = status;
  r.SetHeader("content-type", "text/plain");
  r.body = code + " " + text;
  r.interaction = "error";
  return r;
}

// Echoes what the server handed over, one field per line.
Response Echo(Request& req) {
  Response r;
  r.SetHeader("content-type", "text/plain");
  r.body = "method=" + req.method + "\npath=" + req.path + "\nquery=" + req.query +
           "\nbody=" + req.body + "\nrid=" + req.request_id + "\n";
  for (const auto& [name, value] : req.headers) r.body += "h:" + name + "=" + value + "\n";
  r.interaction = "echo";
  return r;
}

class Client {
 public:
  explicit Client(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  ClientResponse Request(bhttp::verb method, const std::string& target,
                         const std::string& body = {},
                         const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    bhttp::request<bhttp::string_body> req(method, target, 11);
    req.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.prepare_payload();
    bhttp::write(socket_, req);
    return Read(method == bhttp::verb::head);
  }

  ClientResponse Get(const std::string& target) { return Request(bhttp::verb::get, target); }

  void WriteRaw(std::string_view bytes) { asio::write(socket_, asio::buffer(bytes)); }

  // Reads one response; an error leaves result() at 0.
  ClientResponse Read(bool head = false) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64u << 20);
    parser.skip(head);
    ErrorCode ec;
    bhttp::read(socket_, buffer_, parser, ec);
    if (ec) {
      last_error_ = ec;
      ClientResponse failed;
      failed.result(0);
      return failed;
    }
    return parser.release();
  }

  // True when the server has closed the connection (EOF or reset, no more data).
  bool ServerClosed() {
    if (buffer_.size() > 0) return false;
    char byte;
    ErrorCode ec;
    size_t n = socket_.read_some(asio::buffer(&byte, 1), ec);
    return n == 0 && (ec == asio::error::eof || ec == asio::error::connection_reset);
  }

  ErrorCode last_error() const { return last_error_; }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  ErrorCode last_error_;
};

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options, Handler handler = Echo) {
    options.host = "127.0.0.1";
    options.port = 0;
    options.log_requests = false;
    server_ = std::make_unique<Server>(options, std::move(handler), TestErrors);
    Status status = server_->Start();
    ASSERT_TRUE(status.ok()) << status.message();
    ASSERT_NE(server_->port(), 0);
  }

  void TearDown() override {
    if (server_) server_->Stop(std::chrono::milliseconds(1000));
  }

  static ServerOptions Options() {
    ServerOptions o;
    o.io_threads = 2;
    o.worker_threads = 4;
    return o;
  }

  uint16_t port() const { return server_->port(); }

  std::unique_ptr<Server> server_;
};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  std::mutex mu;
  std::set<std::string> remotes;
  StartServer(Options(), [&](Request& req) {
    {
      std::lock_guard<std::mutex> lock(mu);
      remotes.insert(req.remote);
    }
    return Echo(req);
  });
  Client client(port());
  for (int i = 0; i < 5; ++i) {
    ClientResponse r = client.Request(bhttp::verb::post, "/Patient/" + std::to_string(i) + "?x=1",
                                      "body" + std::to_string(i));
    ASSERT_EQ(r.result_int(), 200) << client.last_error().message();
    EXPECT_TRUE(r.keep_alive());
    EXPECT_TRUE(Contains(r.body(), "path=/Patient/" + std::to_string(i) + "\n")) << r.body();
    EXPECT_TRUE(Contains(r.body(), "body=body" + std::to_string(i) + "\n"));
    EXPECT_TRUE(Contains(r.body(), "method=POST\n"));
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(remotes.size(), 1u);
  EXPECT_TRUE(Contains(*remotes.begin(), "127.0.0.1:"));
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer(Options());
  Client client(port());
  client.WriteRaw(
      "GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "GET /third HTTP/1.1\r\nHost: x\r\n\r\n");
  ClientResponse first = client.Read();
  ClientResponse second = client.Read();
  ClientResponse third = client.Read();
  EXPECT_TRUE(Contains(first.body(), "path=/first\n")) << first.body();
  EXPECT_TRUE(Contains(second.body(), "path=/second\n"));
  EXPECT_TRUE(Contains(second.body(), "body=abc\n"));
  EXPECT_TRUE(Contains(third.body(), "path=/third\n"));
}

TEST_F(ServerTest, ConcurrentClients) {
  std::atomic<int> handled{0};
  StartServer(Options(), [&](Request& req) {
    ++handled;
    return Echo(req);
  });
  constexpr int kClients = 8;
  constexpr int kRequests = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      Client client(port());
      for (int i = 0; i < kRequests; ++i) {
        std::string path = "/c" + std::to_string(c) + "/r" + std::to_string(i);
        ClientResponse r = client.Get(path);
        if (r.result_int() == 200 && Contains(r.body(), "path=" + path + "\n")) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kClients * kRequests);
  EXPECT_EQ(handled.load(), kClients * kRequests);
}

TEST_F(ServerTest, ChunkedBodyWithinTheLimitArrivesDecoded) {
  ServerOptions o = Options();
  o.max_body_bytes = 1024;
  StartServer(o);
  Client client(port());
  client.WriteRaw(
      "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  ClientResponse r = client.Read();
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_TRUE(Contains(r.body(), "body=hello world\n")) << r.body();
}

TEST_F(ServerTest, ContentLengthOverTheLimitIs413) {
  ServerOptions o = Options();
  o.max_body_bytes = 1024;
  std::atomic<int> handled{0};
  StartServer(o, [&](Request& req) {
    ++handled;
    return Echo(req);
  });
  Client client(port());
  client.WriteRaw("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n");
  ClientResponse r = client.Read();
  EXPECT_EQ(r.result_int(), 413);
  EXPECT_TRUE(Contains(r.body(), "GM-HTTP-003")) << r.body();
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(client.ServerClosed());
  EXPECT_EQ(handled.load(), 0);
}

TEST_F(ServerTest, ChunkedBodyGrowingOverTheLimitIs413) {
  ServerOptions o = Options();
  o.max_body_bytes = 1024;
  std::atomic<int> handled{0};
  StartServer(o, [&](Request& req) {
    ++handled;
    return Echo(req);
  });
  Client client(port());
  std::string chunk(600, 'a');
  client.WriteRaw("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  client.WriteRaw("258\r\n" + chunk + "\r\n258\r\n" + chunk + "\r\n");  // 2 × 600 bytes
  ClientResponse r = client.Read();
  EXPECT_EQ(r.result_int(), 413);
  EXPECT_TRUE(Contains(r.body(), "GM-HTTP-003")) << r.body();
  EXPECT_TRUE(client.ServerClosed());
  EXPECT_EQ(handled.load(), 0);
}

TEST_F(ServerTest, HugeHeaderBlockIs431) {
  ServerOptions o = Options();
  o.max_header_bytes = 1024;
  StartServer(o);
  Client client(port());
  client.WriteRaw("GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'b') + "\r\n\r\n");
  ClientResponse r = client.Read();
  EXPECT_EQ(r.result_int(), 431);
  EXPECT_TRUE(Contains(r.body(), "GM-HTTP-004")) << r.body();
  EXPECT_TRUE(client.ServerClosed());
}

TEST_F(ServerTest, GarbageIs400AndCloses) {
  StartServer(Options());
  Client client(port());
  client.WriteRaw("HELLO THERE\r\n\r\n");
  ClientResponse r = client.Read();
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_TRUE(Contains(r.body(), "GM-HTTP-001")) << r.body();
  EXPECT_TRUE(client.ServerClosed());
}

TEST_F(ServerTest, BadContentLengthIs400) {
  StartServer(Options());
  Client client(port());
  client.WriteRaw("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n");
  EXPECT_EQ(client.Read().result_int(), 400);
  EXPECT_TRUE(client.ServerClosed());
}

TEST_F(ServerTest, AmbiguousBodyLengthIs400) {
  StartServer(Options());
  {
    Client client(port());
    client.WriteRaw(
        "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        "abc");
    EXPECT_EQ(client.Read().result_int(), 400);
    EXPECT_TRUE(client.ServerClosed());
  }
  {
    Client client(port());
    client.WriteRaw("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc");
    EXPECT_EQ(client.Read().result_int(), 400);
    EXPECT_TRUE(client.ServerClosed());
  }
}

TEST_F(ServerTest, HeaderThatNeverCompletesIs408) {
  ServerOptions o = Options();
  o.read_timeout = std::chrono::milliseconds(100);
  StartServer(o);
  Client client(port());
  client.WriteRaw("GET /x HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  ClientResponse r = client.Read();
  EXPECT_EQ(r.result_int(), 408);
  EXPECT_TRUE(Contains(r.body(), "GM-HTTP-005")) << r.body();
  EXPECT_TRUE(client.ServerClosed());
}

TEST_F(ServerTest, BodyThatNeverCompletesIs408) {
  ServerOptions o = Options();
  o.read_timeout = std::chrono::milliseconds(100);
  std::atomic<int> handled{0};
  StartServer(o, [&](Request& req) {
    ++handled;
    return Echo(req);
  });
  Client client(port());
  client.WriteRaw("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  ClientResponse r = client.Read();
  EXPECT_EQ(r.result_int(), 408);
  EXPECT_TRUE(client.ServerClosed());
  EXPECT_EQ(handled.load(), 0);
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosed) {
  ServerOptions o = Options();
  o.idle_timeout = std::chrono::milliseconds(100);
  StartServer(o);
  Client client(port());
  EXPECT_EQ(client.Get("/x").result_int(), 200);
  EXPECT_TRUE(client.ServerClosed());  // closed without a response
}

TEST_F(ServerTest, ResponseThatTheClientDoesNotReadIsAbandoned) {
  ServerOptions o = Options();
  o.idle_timeout = std::chrono::milliseconds(100);
  StartServer(o, [](Request&) {
    Response r;
    r.body.assign(64u << 20, 'x');  // more than the socket buffers hold
    r.interaction = "big";
    return r;
  });
  Client client(port());
  client.WriteRaw("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  // The server records the request once it gives up on the write.
  while (!Contains(server_->metrics().Render(),
                   "grunnmur_http_requests_total{interaction=\"big\",status=\"200\"} 1")) {
    std::this_thread::yield();
  }
  ClientResponse r = client.Read();
  EXPECT_EQ(r.result_int(), 0);  // the response is cut short
  EXPECT_TRUE(client.last_error());
}

TEST_F(ServerTest, Expect100ContinueGetsAnInterimResponse) {
  StartServer(Options());
  Client client(port());
  client.WriteRaw(
      "PUT /Patient/1 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  ClientResponse interim = client.Read();
  EXPECT_EQ(interim.result_int(), 100);
  client.WriteRaw("hello");
  ClientResponse r = client.Read();
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_TRUE(Contains(r.body(), "body=hello\n")) << r.body();
}

TEST_F(ServerTest, HeadGetsHeadersOnlyAndTheHandlerSeesGet) {
  StartServer(Options(), [](Request& req) {
    Response r;
    r.body = req.method == "GET" ? "hello world" : "unexpected";
    return r;
  });
  Client client(port());
  ClientResponse head = client.Request(bhttp::verb::head, "/x");
  ASSERT_EQ(head.result_int(), 200);
  EXPECT_EQ(head[bhttp::field::content_length], "11");
  EXPECT_TRUE(head.body().empty());
  // No stray body bytes: the next response on the connection parses cleanly.
  ClientResponse get = client.Get("/x");
  EXPECT_EQ(get.body(), "hello world");
}

TEST_F(ServerTest, HandlerExceptionIs500AndTheServerKeepsServing) {
  StartServer(Options(), [](Request& req) -> Response {
    if (req.path == "/boom") throw std::runtime_error("kaboom");
    return Echo(req);
  });
  Client client(port());
  ClientResponse boom = client.Get("/boom");
  EXPECT_EQ(boom.result_int(), 500);
  EXPECT_TRUE(Contains(boom.body(), "GM-HTTP-006")) << boom.body();
  EXPECT_FALSE(Contains(boom.body(), "kaboom"));
  EXPECT_EQ(client.Get("/fine").result_int(), 200);
  Client other(port());
  EXPECT_EQ(other.Get("/fine").result_int(), 200);
}

TEST_F(ServerTest, HeaderInjectionByTheHandlerIs500) {
  StartServer(Options(), [](Request&) {
    Response r;
    r.SetHeader("location", "/a\r\nset-cookie: x=1");
    return r;
  });
  Client client(port());
  ClientResponse r = client.Get("/x");
  EXPECT_EQ(r.result_int(), 500);
  EXPECT_TRUE(Contains(r.body(), "GM-HTTP-007")) << r.body();
  EXPECT_EQ(r.count("set-cookie"), 0u);
}

TEST_F(ServerTest, PathIsPercentDecodedAndQueryKeptRaw) {
  StartServer(Options());
  Client client(port());
  ClientResponse r = client.Get("/Patient/S%C3%B8rg%C3%A5rd%2F1?name=S%C3%B8rg%C3%A5rd&x=a+b");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_TRUE(Contains(r.body(), "path=/Patient/S\xC3\xB8rg\xC3\xA5rd/1\n")) << r.body();
  EXPECT_TRUE(Contains(r.body(), "query=name=S%C3%B8rg%C3%A5rd&x=a+b\n")) << r.body();

  ClientResponse bad = client.Get("/Patient/%zz");
  EXPECT_EQ(bad.result_int(), 400);
  EXPECT_TRUE(Contains(bad.body(), "GM-HTTP-002")) << bad.body();
  ClientResponse nul = client.Get("/Patient/a%00b");
  EXPECT_EQ(nul.result_int(), 400);
  // The request was read completely, so the connection stays usable.
  EXPECT_EQ(client.Get("/ok").result_int(), 200);
}

TEST_F(ServerTest, HeaderNamesAreLowerCased) {
  StartServer(Options());
  Client client(port());
  ClientResponse r =
      client.Request(bhttp::verb::get, "/x", "", {{"X-Custom-Header", "Some Value"}});
  EXPECT_TRUE(Contains(r.body(), "h:x-custom-header=Some Value\n")) << r.body();
  EXPECT_TRUE(Contains(r.body(), "h:host=127.0.0.1\n"));
}

TEST_F(ServerTest, RequestIdIsTakenWhenSaneElseGenerated) {
  StartServer(Options());
  Client client(port());
  ClientResponse given =
      client.Request(bhttp::verb::get, "/x", "", {{"X-Request-Id", "abc-1.2_3"}});
  EXPECT_EQ(given["x-request-id"], "abc-1.2_3");
  EXPECT_TRUE(Contains(given.body(), "rid=abc-1.2_3\n"));

  ClientResponse insane =
      client.Request(bhttp::verb::get, "/x", "", {{"X-Request-Id", "bad id; drop table"}});
  std::string id(insane["x-request-id"]);
  EXPECT_EQ(id.size(), 32u);
  EXPECT_TRUE(Contains(insane.body(), "rid=" + id + "\n")) << insane.body();

  ClientResponse none = client.Get("/x");
  EXPECT_EQ(none["x-request-id"].size(), 32u);
  EXPECT_NE(std::string(none["x-request-id"]), id);
}

TEST_F(ServerTest, Http10WithoutKeepAliveIsClosedAfterTheResponse) {
  StartServer(Options());
  Client client(port());
  client.WriteRaw("GET /x HTTP/1.0\r\n\r\n");
  ClientResponse r = client.Read();
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_TRUE(client.ServerClosed());
}

TEST_F(ServerTest, ConnectionsOverTheLimitAreRefused) {
  ServerOptions o = Options();
  o.max_connections = 1;
  StartServer(o);
  Client first(port());
  ASSERT_EQ(first.Get("/x").result_int(), 200);  // the first connection is registered
  Client second(port());
  ClientResponse refused = second.Read();
  EXPECT_EQ(refused.result_int(), 503);
  EXPECT_TRUE(Contains(refused.body(), "GM-HTTP-008")) << refused.body();
  EXPECT_EQ(first.Get("/x").result_int(), 200);
}

TEST_F(ServerTest, MetricsCountEveryRequest) {
  StartServer(Options(), [this](Request& req) {
    Response r;
    if (req.path == "/metrics") {
      r.body = server_->metrics().Render("extra_line 1\n");
      r.interaction = "metrics";
    } else if (req.path == "/missing") {
      r.status = 404;
      r.interaction = "read";
    } else {
      r.interaction = "read";
    }
    return r;
  });
  Client client(port());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(client.Get("/Patient/1").result_int(), 200);
  EXPECT_EQ(client.Get("/missing").result_int(), 404);
  // The same connection: earlier responses are recorded before the next request is read.
  std::string text = client.Get("/metrics").body();
  EXPECT_TRUE(
      Contains(text, "grunnmur_http_requests_total{interaction=\"read\",status=\"200\"} 3\n"))
      << text;
  EXPECT_TRUE(
      Contains(text, "grunnmur_http_requests_total{interaction=\"read\",status=\"404\"} 1\n"));
  EXPECT_TRUE(
      Contains(text, "grunnmur_http_request_duration_seconds_count{interaction=\"read\"} 4\n"));
  EXPECT_TRUE(Contains(
      text, "grunnmur_http_request_duration_seconds_bucket{interaction=\"read\",le=\"+Inf\"} 4\n"));
  EXPECT_TRUE(Contains(text, "grunnmur_http_requests_in_flight 1\n"));  // the /metrics request
  EXPECT_TRUE(Contains(text, "grunnmur_http_open_connections 1\n"));
  EXPECT_TRUE(Contains(text, "extra_line 1\n"));
}

TEST_F(ServerTest, RejectedRequestsAreCountedToo) {
  ServerOptions o = Options();
  o.max_header_bytes = 512;
  StartServer(o);
  {
    Client client(port());
    client.WriteRaw("GET /x HTTP/1.1\r\nX-Big: " + std::string(2000, 'b') + "\r\n\r\n");
    EXPECT_EQ(client.Read().result_int(), 431);
    EXPECT_TRUE(client.ServerClosed());
  }
  // The rejection is recorded before the connection is closed.
  EXPECT_TRUE(
      Contains(server_->metrics().Render(),
               "grunnmur_http_requests_total{interaction=\"rejected\",status=\"431\"} 1\n"));
}

// Collects log lines; Lines() may be called while the server logs.
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

TEST_F(ServerTest, AccessLogHasNoQueryStringOrNationalId) {
  auto sink = std::make_shared<CaptureSink>();
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  ServerOptions o = Options();
  StartServer(o);
  // StartServer turns logging off; start a second server with it on.
  o.host = "127.0.0.1";
  o.port = 0;
  o.log_requests = true;
  Server logged(o, Echo, TestErrors);
  ASSERT_TRUE(logged.Start().ok());
  {
    Client client(logged.port());
    ClientResponse r =
        client.Request(bhttp::verb::get, "/Patient/01017012345?identifier=secret-value", "",
                       {{"X-Request-Id", "log-test-1"}});
    EXPECT_EQ(r.result_int(), 200);
    // The first request is logged before the connection reads the next one.
    EXPECT_EQ(client.Get("/second").result_int(), 200);
  }
  logged.Stop();
  {
    Client quiet(port());  // the server started with logging off
    EXPECT_EQ(quiet.Get("/quiet").result_int(), 200);
    EXPECT_EQ(quiet.Get("/quiet2").result_int(), 200);
  }
  spdlog::set_default_logger(previous);

  std::vector<std::string> lines = sink->Lines();
  std::string line;
  for (const auto& l : lines) {
    if (Contains(l, "request_id=log-test-1")) line = l;
  }
  ASSERT_FALSE(line.empty()) << "no access log line";
  EXPECT_TRUE(Contains(line, "method=GET")) << line;
  EXPECT_TRUE(Contains(line, "path=/Patient/***********")) << line;
  EXPECT_TRUE(Contains(line, "status=200")) << line;
  EXPECT_TRUE(Contains(line, "bytes=")) << line;
  EXPECT_TRUE(Contains(line, "ms=")) << line;
  for (const auto& l : lines) {
    EXPECT_FALSE(Contains(l, "secret-value")) << l;
    EXPECT_FALSE(Contains(l, "01017012345")) << l;
  }
  for (const auto& l : lines) EXPECT_FALSE(Contains(l, "path=/quiet")) << l;
}

TEST_F(ServerTest, GracefulStopFinishesInFlightRequests) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  StartServer(Options(), [&](Request& req) {
    if (req.path == "/slow") {
      entered.set_value();
      released.wait();
      Response r;
      r.body = "done";
      return r;
    }
    return Echo(req);
  });
  const uint16_t p = port();

  Client idle(p);
  ASSERT_EQ(idle.Get("/x").result_int(), 200);

  std::promise<ClientResponse> slow_response;
  std::thread slow_client([&] {
    Client client(p);
    slow_response.set_value(client.Get("/slow"));
  });
  entered.get_future().wait();

  std::thread stopper([&] { server_->Stop(std::chrono::milliseconds(30000)); });
  // Stop has begun once new connections are refused.
  asio::io_context ioc;
  for (;;) {
    tcp::socket probe(ioc);
    ErrorCode ec;
    probe.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), p), ec);
    if (ec) break;
    std::this_thread::yield();
  }
  EXPECT_TRUE(idle.ServerClosed());  // idle connections are closed at once
  release.set_value();

  ClientResponse r = slow_response.get_future().get();
  slow_client.join();
  stopper.join();
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "done");
  EXPECT_FALSE(r.keep_alive());

  tcp::socket after(ioc);
  ErrorCode ec;
  after.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), p), ec);
  EXPECT_TRUE(ec);
  server_->Wait();  // returns: the server has stopped
}

TEST_F(ServerTest, StopFromAnotherThreadReleasesWait) {
  StartServer(Options());
  std::thread waiter([this] { server_->Wait(); });
  server_->Stop();
  waiter.join();
  server_->Stop();  // a second Stop is harmless
  SUCCEED();
}

TEST(ServerLifecycle, BindFailureIsAnError) {
  ServerOptions o;
  o.port = 0;
  o.log_requests = false;
  Server first(o, Echo, TestErrors);
  ASSERT_TRUE(first.Start().ok());
  o.port = first.port();
  Server second(o, Echo, TestErrors);
  Status status = second.Start();
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), "GM-HTTP-009");
  EXPECT_FALSE(first.Start().ok());  // started twice
  second.Wait();                     // never started: returns at once
}

}  // namespace
}  // namespace gm::http
