#include "tests/support/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <map>
#include <mutex>
#include <thread>

#include "store/postgres/pg_connection.h"

#ifndef GM_BINARY
#error "GM_BINARY must point at the grunnmur binary"
#endif

namespace {
// GM_TEST_BINARY overrides the binary (a copy that a concurrent rebuild
// cannot relink under a running test).
const char* Binary() {
  const char* b = std::getenv("GM_TEST_BINARY");
  return b != nullptr && *b != '\0' ? b : GM_BINARY;
}
}  // namespace


namespace gm::testing {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "grunnmur-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  DropTestDatabase(path_);
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {
std::mutex& TokenMutex() {
  static std::mutex m;
  return m;
}
std::map<uint16_t, std::string>& TokenMap() {
  static std::map<uint16_t, std::string> m;
  return m;
}
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}
}  // namespace

// ---- PostgreSQL (GM_TEST_PG_URL) ----------------------------------------------
// One database per data directory, created on the first server started with
// that directory and dropped with the TempDir: a restarted server finds its
// data, and servers sharing a data directory share a database (several nodes).
namespace {
std::mutex& DbMutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, std::string>& DbByDir() {
  static std::map<std::string, std::string> m;
  return m;
}
// The admin URL with its database name replaced by `db`.
std::string WithDatabase(const std::string& url, const std::string& db) {
  size_t slash = url.find('/', url.find("//") + 2);
  std::string base = slash == std::string::npos ? url : url.substr(0, slash);
  size_t q = slash == std::string::npos ? std::string::npos : url.find('?', slash);
  return base + "/" + db + (q == std::string::npos ? "" : url.substr(q));
}
}  // namespace

std::string TestPostgresUrl() {
  const char* url = std::getenv("GM_TEST_PG_URL");
  return url == nullptr ? std::string() : std::string(url);
}

std::string TestDatabaseFor(const std::string& data_dir) {
  const std::string admin = TestPostgresUrl();
  if (admin.empty()) return {};
  std::lock_guard<std::mutex> l(DbMutex());
  auto it = DbByDir().find(data_dir);
  if (it != DbByDir().end()) return WithDatabase(admin, it->second);
  static int counter = 0;
  std::string name = "gmt_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
  auto c = store::postgres::PgConnection::Open(admin);
  if (!c.ok()) throw std::runtime_error("GM_TEST_PG_URL: " + c.status().message());
  Status st = (*c)->Exec("CREATE DATABASE " + name);
  if (!st.ok()) throw std::runtime_error("CREATE DATABASE failed: " + st.message());
  DbByDir()[data_dir] = name;
  return WithDatabase(admin, name);
}

void ShareTestDatabase(const std::string& from_dir, const std::string& to_dir) {
  if (TestPostgresUrl().empty()) return;
  TestDatabaseFor(from_dir);
  std::lock_guard<std::mutex> l(DbMutex());
  DbByDir()[to_dir] = DbByDir()[from_dir];
}

void DropTestDatabase(const std::string& data_dir) {
  const std::string admin = TestPostgresUrl();
  if (admin.empty()) return;
  std::string name;
  {
    std::lock_guard<std::mutex> l(DbMutex());
    auto it = DbByDir().find(data_dir);
    if (it == DbByDir().end()) return;
    name = it->second;
    DbByDir().erase(it);
  }
  auto c = store::postgres::PgConnection::Open(admin);
  if (c.ok()) (void)(*c)->Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
}

std::string TokenForPort(uint16_t port) {
  std::lock_guard<std::mutex> l(TokenMutex());
  auto it = TokenMap().find(port);
  return it == TokenMap().end() ? std::string() : it->second;
}

std::string ServerProcess::Token(const std::vector<std::string>& token_args) const {
  std::string cmd = std::string(Binary()) + " token --data " + ShellQuote(data_dir_);
  for (const auto& a : token_args) cmd += " " + ShellQuote(a);
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {};
  std::string out;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (pclose(p) != 0) return {};
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

ServerProcess::ServerProcess(std::string data_dir, std::vector<std::string> extra_args) {
  const std::string db_url = TestDatabaseFor(data_dir);
  db_url_ = db_url;
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // The server must not outlive a test that crashed: it would hold the
    // test's output pipe open and hang ctest.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    std::vector<std::string> args = {Binary(), "serve", "--listen", "127.0.0.1:0", "--data",
                                     data_dir, "--log-level", "warn"};
    if (!db_url.empty()) {
      args.push_back("--db");
      args.push_back(db_url);
    }
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  // Read stdout until "listening on http://127.0.0.1:PORT".
  std::string text;
  char buf[256];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
    size_t at = text.find("listening on http://127.0.0.1:");
    if (at != std::string::npos) {
      size_t nl = text.find('\n', at);
      if (nl == std::string::npos) continue;
      port_ = static_cast<uint16_t>(std::atoi(text.c_str() + at + 30));
      break;
    }
  }
  // Keep draining stdout in the background so the child never blocks on a full pipe.
  int fd = out[0];
  std::thread([fd] {
    char sink[256];
    while (read(fd, sink, sizeof sink) > 0) {
    }
    close(fd);
  }).detach();
  if (port_ == 0) {
    Kill9();
    throw std::runtime_error("grunnmur did not start: " + text);
  }
  data_dir_ = data_dir;
  token_ = Token({"--scope", "system/*.cruds", "--ttl", "86400"});
  if (token_.empty()) {
    Kill9();
    throw std::runtime_error("grunnmur token failed");
  }
  {
    std::lock_guard<std::mutex> l(TokenMutex());
    TokenMap()[port_] = token_;
  }
  for (int i = 0; i < 600; ++i) {
    try {
      HttpClient c(port_);
      if (c.Get("/readyz").status == 200) return;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Kill9();
  throw std::runtime_error("grunnmur never became ready");
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Terminate();
}

void ServerProcess::Kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

int ServerProcess::Terminate() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 600; ++i) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::string HttpResponse::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

const json::Value& HttpResponse::json() const& {
  if (!parsed_) {
    auto v = json::Parse(body, json::ParseOptions{.max_depth = 1024});
    parsed_ = std::make_shared<const json::Value>(v.ok() ? std::move(v).value() : json::Value());
  }
  return *parsed_;
}

json::Value HttpResponse::json() && { return static_cast<const HttpResponse&>(*this).json(); }

struct HttpClient::Impl {
  boost::asio::io_context io;
  std::unique_ptr<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  uint16_t port;
  std::string token;
  bool connected = false;

  void Connect() {
    tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port);
    stream = std::make_unique<beast::tcp_stream>(io);
    stream->connect(ep);
    buffer.clear();
    connected = true;
  }
};

HttpClient::HttpClient(uint16_t port, Auth auth) : impl_(std::make_unique<Impl>()) {
  impl_->port = port;
  if (auth == Auth::kServerToken) impl_->token = TokenForPort(port);
  impl_->Connect();
}

HttpClient::~HttpClient() {
  beast::error_code ec;
  if (impl_->stream) impl_->stream->socket().shutdown(tcp::socket::shutdown_both, ec);
}

HttpResponse HttpClient::Request(const std::string& method, const std::string& target,
                                 const std::string& body,
                                 std::vector<std::pair<std::string, std::string>> headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->connected) impl_->Connect();
    bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(method), target, 11);
    req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(impl_->port));
    req.keep_alive(true);
    bool has_auth = false;
    for (auto& [k, v] : headers) {
      req.set(k, v);
      if (beast::iequals(k, "authorization")) has_auth = true;
    }
    if (!has_auth && !impl_->token.empty()) {
      req.set(bhttp::field::authorization, "Bearer " + impl_->token);
    }
    req.body() = body;
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req.prepare_payload();
    }
    beast::error_code ec;
    bhttp::write(*impl_->stream, req, ec);
    if (ec) {
      impl_->connected = false;
      continue;
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(1ull << 32);
    if (method == "HEAD") parser.skip(true);
    bhttp::read(*impl_->stream, impl_->buffer, parser, ec);
    if (ec) {
      impl_->connected = false;
      if (attempt == 0 && (ec == bhttp::error::end_of_stream || ec == boost::asio::error::connection_reset)) {
        continue;
      }
      throw std::runtime_error("HTTP read failed: " + ec.message());
    }
    auto res = parser.release();
    HttpResponse out;
    out.status = res.result_int();
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    out.body = std::move(res.body());
    if (!res.keep_alive()) impl_->connected = false;
    return out;
  }
  throw std::runtime_error("HTTP request failed to send");
}

HttpResponse HttpClient::Post(const std::string& target, const std::string& json,
                              std::vector<std::pair<std::string, std::string>> headers) {
  headers.emplace_back("Content-Type", "application/fhir+json");
  return Request("POST", target, json, std::move(headers));
}

HttpResponse HttpClient::Put(const std::string& target, const std::string& json,
                             std::vector<std::pair<std::string, std::string>> headers) {
  headers.emplace_back("Content-Type", "application/fhir+json");
  return Request("PUT", target, json, std::move(headers));
}

}  // namespace gm::testing
