// Test support: the real grunnmur binary on a free loopback port with a fresh
// data directory, and a small blocking HTTP/1.1 client with keep-alive.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/json.h"

namespace gm::testing {

// A temporary directory removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// PostgreSQL runs of the suites: when the environment variable GM_TEST_PG_URL
// names a PostgreSQL server (postgresql://user@host:port/postgres), every
// ServerProcess uses `--db` with a database of its own, created on the first
// start with a data directory and reused by later servers with the same data
// directory (restarts; several nodes on one database); TempDir's destructor
// drops it. Without the variable, servers use SQLite in the data directory.
std::string TestPostgresUrl();  // "" when GM_TEST_PG_URL is unset
// The --db URL for servers on `data_dir` ("" without GM_TEST_PG_URL).
std::string TestDatabaseFor(const std::string& data_dir);
void DropTestDatabase(const std::string& data_dir);
// Servers on `to_dir` use the database of `from_dir` (several nodes, each with
// its own data directory: its own audit log, copies of the shared keys).
void ShareTestDatabase(const std::string& from_dir, const std::string& to_dir);

class ServerProcess {
 public:
  // Starts `grunnmur serve` on 127.0.0.1:0 with the given data directory and
  // extra arguments; waits until it prints its address and answers /readyz.
  // With GM_TEST_PG_URL set, on that data directory's PostgreSQL database.
  explicit ServerProcess(std::string data_dir, std::vector<std::string> extra_args = {});
  ~ServerProcess();  // SIGTERM, then wait (SIGKILL after a grace period)

  uint16_t port() const { return port_; }
  // An access token for this server with scope system/*.cruds, minted by
  // `grunnmur token` from the data directory; HttpClient sends it by default.
  const std::string& token() const { return token_; }
  // A token with other scopes or identity (arguments as for `grunnmur token`).
  std::string Token(const std::vector<std::string>& token_args) const;
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  // The PostgreSQL database URL the server uses ("" for SQLite).
  const std::string& db_url() const { return db_url_; }
  bool running() const { return pid_ > 0; }
  // kill -9, without waiting for anything.
  void Kill9();
  // SIGTERM and wait; returns the exit status (as from waitpid).
  int Terminate();

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string data_dir_;
  std::string token_;
  std::string db_url_;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const;
  // The parsed body (null on failure), parsed once and kept with the response,
  // so references into it stay valid as long as the response does.
  // On a temporary response (client().Get(...).json()) the value is returned
  // by value, so binding it to a const reference is safe too.
  const json::Value& json() const&;
  json::Value json() &&;

 private:
  mutable std::shared_ptr<const json::Value> parsed_;
};

// The access token registered for a test server's port ("" if none).
std::string TokenForPort(uint16_t port);

class HttpClient {
 public:
  enum class Auth { kServerToken, kNone };
  // kServerToken: every request carries "Authorization: Bearer <token>" of
  // the ServerProcess on that port (unless the request sets Authorization).
  explicit HttpClient(uint16_t port, Auth auth = Auth::kServerToken);
  ~HttpClient();
  HttpResponse Request(const std::string& method, const std::string& target,
                       const std::string& body = {},
                       std::vector<std::pair<std::string, std::string>> headers = {});
  HttpResponse Get(const std::string& target,
                   std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Request("GET", target, {}, std::move(headers));
  }
  // Body sent as application/fhir+json.
  HttpResponse Post(const std::string& target, const std::string& json,
                    std::vector<std::pair<std::string, std::string>> headers = {});
  HttpResponse Put(const std::string& target, const std::string& json,
                   std::vector<std::pair<std::string, std::string>> headers = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gm::testing
