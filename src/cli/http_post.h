// The client side of the commands that send data to a running server
// (`grunnmur load`, `grunnmur ingest`): a server URL and one keep-alive
// HTTP/1.1 connection that POSTs bodies and reconnects once when the server
// has closed it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gm::cli {

struct ServerUrl {
  std::string host;   // without [ ] for IPv6 literals
  std::string port = "80";
  std::string base;   // path prefix without trailing slash
  std::string token;  // access token ("" = none), sent as Bearer
};

// "http://host[:port][/base]"; nullopt for anything else (no https here:
// these commands talk to a server on the operator's own network).
std::optional<ServerUrl> ParseServerUrl(std::string_view url);

class PostConnection {
 public:
  explicit PostConnection(ServerUrl url);
  ~PostConnection();
  PostConnection(const PostConnection&) = delete;
  PostConnection& operator=(const PostConnection&) = delete;

  // POSTs body to base + path; returns the HTTP status, or 0 on a transport
  // error (with `error` set). The response body goes to `response`.
  int Post(std::string_view path, std::string_view content_type, const std::string& body,
           std::string& response, std::string& error,
           const std::vector<std::pair<std::string, std::string>>& headers = {});

 private:
  void Close();

  ServerUrl url_;
  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
  bool connected_ = false;
};

}  // namespace gm::cli
