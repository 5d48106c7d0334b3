#include "cli/http_post.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace gm::cli {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = boost::asio::ip::tcp;

std::optional<ServerUrl> ParseServerUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  url.remove_prefix(kScheme.size());
  ServerUrl out;
  size_t slash = url.find('/');
  std::string_view hostport = url.substr(0, slash);
  if (slash != std::string_view::npos) out.base = std::string(url.substr(slash));
  while (!out.base.empty() && out.base.back() == '/') out.base.pop_back();
  size_t colon = hostport.rfind(':');
  if (colon != std::string_view::npos && hostport.find(']', colon) == std::string_view::npos) {
    out.host = std::string(hostport.substr(0, colon));
    out.port = std::string(hostport.substr(colon + 1));
  } else {
    out.host = std::string(hostport);
  }
  if (out.host.size() > 2 && out.host.front() == '[') out.host = out.host.substr(1, out.host.size() - 2);
  if (out.host.empty() || out.port.empty()) return std::nullopt;
  return out;
}

PostConnection::PostConnection(ServerUrl url) : url_(std::move(url)), stream_(ioc_) {}

PostConnection::~PostConnection() {
  if (connected_) Close();
}

int PostConnection::Post(std::string_view path, std::string_view content_type,
                         const std::string& body, std::string& response, std::string& error,
                         const std::vector<std::pair<std::string, std::string>>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      if (!connected_) {
        tcp::resolver resolver(ioc_);
        stream_.connect(resolver.resolve(url_.host, url_.port));
        connected_ = true;
      }
      bhttp::request<bhttp::string_body> req{bhttp::verb::post, url_.base + std::string(path), 11};
      req.set(bhttp::field::host, url_.host);
      req.set(bhttp::field::content_type, content_type);
      req.set(bhttp::field::accept, "application/fhir+json");
      for (const auto& [name, value] : headers) req.set(name, value);
      if (!url_.token.empty()) req.set(bhttp::field::authorization, "Bearer " + url_.token);
      req.keep_alive(true);
      req.body() = body;
      req.prepare_payload();
      bhttp::write(stream_, req);
      beast::flat_buffer buffer;
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(boost::none);
      bhttp::read(stream_, buffer, parser);
      auto res = parser.release();
      if (!res.keep_alive()) Close();
      response = std::move(res.body());
      return static_cast<int>(res.result_int());
    } catch (const std::exception& e) {
      Close();
      error = e.what();
    }
  }
  return 0;
}

void PostConnection::Close() {
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
  connected_ = false;
}

}  // namespace gm::cli
