// The HTTP server: an acceptor and one Session per connection on a pool of
// io threads; every Session's operations run on its own strand. A complete
// request is moved to the worker pool, which calls the Handler and posts the
// Response back to the Session's strand to be written.
//
// Each Session is a small state machine:
//   idle      waiting for the first byte of a request (idle_timeout)
//   reading   header and body arriving (read_timeout for the whole request)
//   handling  the request is with a worker
//   writing   the response is being sent (idle_timeout without progress)
//   lingering after a response with "connection: close": our side is shut
//             down, the client's remaining bytes are drained briefly so that
//             the close does not reset the connection under the response
//   closed
// One timer per Session enforces the deadline of the current state; it
// cancels the socket's operations, which then complete with an error that the
// state handles (a 408 when reading, a quiet close otherwise).
#include "http/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <condition_variable>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "http/wire.h"

namespace gm::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

std::string_view Request::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

void Response::SetHeader(std::string_view name, std::string value) {
  std::string key(name);
  wire::ToLower(key);
  auto it = std::find_if(headers.begin(), headers.end(),
                         [&](const auto& h) { return EqualsIgnoreCase(h.first, key); });
  if (it == headers.end()) {
    headers.emplace_back(std::move(key), std::move(value));
    return;
  }
  it->second = std::move(value);
  headers.erase(std::remove_if(it + 1, headers.end(),
                               [&](const auto& h) { return EqualsIgnoreCase(h.first, key); }),
                headers.end());
}

namespace {

// A request body in a std::string that reserves at most kMaxReserve ahead of
// the bytes actually received, so a large declared Content-Length costs
// memory only as the body arrives.
struct RequestBody {
  using value_type = std::string;
  static constexpr uint64_t kMaxReserve = 1u << 20;

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(bhttp::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>& length, ErrorCode& ec) {
      if (length) body_.reserve(static_cast<size_t>(std::min(*length, kMaxReserve)));
      ec = {};
    }

    template <class ConstBufferSequence>
    size_t put(const ConstBufferSequence& buffers, ErrorCode& ec) {
      size_t n = 0;
      for (auto b : beast::buffers_range_ref(buffers)) {
        body_.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      ec = {};
      return n;
    }

    void finish(ErrorCode& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

using RequestMessage = bhttp::request<RequestBody>;
using RequestParser = bhttp::request_parser<RequestBody>;

constexpr std::string_view k100Continue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr auto kMaxLinger = std::chrono::milliseconds(2000);
// Enough to swallow the rest of a refused over-size upload sent by a client
// that reads the answer only after sending (most do), so it gets the 413
// instead of a reset; the time limit above bounds what a slow peer can cost.
constexpr size_t kLingerDrainLimit = 128u << 20;
constexpr size_t kInitialBuffer = 4096;
constexpr size_t kBodyBuffer = 64u << 10;
constexpr auto kAcceptRetry = std::chrono::milliseconds(50);
constexpr auto kCloseWait = std::chrono::milliseconds(2000);

bool IsBeastHttpError(const ErrorCode& ec) {
  return &ec.category() == &bhttp::make_error_code(bhttp::error::bad_method).category();
}

class Session;

// The server's state shared by the acceptor, the Sessions and the control
// thread. Thread-safety: `options`, `handler`, `errors` are immutable after
// construction; `metrics` is thread-safe; the session registry is guarded by
// `sessions_mu`; the acceptor is used only on `accept_strand`.
class Core {
 public:
  Core(ServerOptions o, Handler h, ErrorResponder e)
      : options(std::move(o)),
        handler(std::move(h)),
        errors(std::move(e)),
        ioc(static_cast<int>(std::max<size_t>(1, options.io_threads))),
        accept_strand(asio::make_strand(ioc)) {}

  // Runs on a worker thread: builds the Request, calls the Handler, checks the Response.
  Response Handle(RequestMessage&& message, const std::string& remote, std::string& request_id);
  // A response for an error the server detects itself, never throwing.
  Response ErrorResponse(int status, const char* code, const std::string& text);
  // Serialises and sends a 503 without blocking, then closes.
  void Refuse(tcp::socket socket);

  void Accept();
  void Register(const std::shared_ptr<Session>& session);
  void Unregister(Session* session);
  // Posts f(session) to each open Session's strand.
  template <typename F>
  void ForEachSession(F f);
  // Waits until no Session is open or the deadline passes; true if none is open.
  bool WaitForSessions(Clock::time_point deadline);

  const ServerOptions options;
  const Handler handler;
  const ErrorResponder errors;
  Metrics metrics;

  std::mutex sessions_mu;
  std::condition_variable sessions_cv;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;  // guarded by sessions_mu
  std::atomic<size_t> open_sessions{0};
  std::atomic<bool> stopping{false};

  // I/O objects are declared after the registry so that they (and the
  // Sessions their pending handlers own) are destroyed first.
  asio::io_context ioc;
  asio::strand<asio::io_context::executor_type> accept_strand;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_retry;
  std::vector<std::thread> io_threads;
  std::optional<asio::thread_pool> workers;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Core& core, tcp::socket socket)
      : core_(core), socket_(std::move(socket)), timer_(socket_.get_executor()) {
    ErrorCode ec;
    tcp::endpoint peer = socket_.remote_endpoint(ec);
    if (!ec) remote_ = peer.address().to_string() + ":" + std::to_string(peer.port());
    socket_.set_option(tcp::no_delay(true), ec);
    socket_.non_blocking(true, ec);  // for the first, synchronous write attempt
    core_.metrics.AddOpenConnections(1);
  }

  ~Session() {
    if (in_flight_) core_.metrics.AddInFlight(-1);
    core_.metrics.AddOpenConnections(-1);
    core_.Unregister(this);
  }

  void Start() {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      self->buffer_.reserve(kInitialBuffer);
      self->ReadRequest();
    });
  }

  // The server is stopping: an idle connection closes now; one with a request
  // under way finishes it and closes after the response.
  void Drain() {
    if (phase_ == Phase::kIdle) Close();
  }

  void Close() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    Disarm();
    timer_.cancel();
    ErrorCode ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  asio::any_io_executor executor() { return socket_.get_executor(); }

 private:
  enum class Phase { kIdle, kReading, kHandling, kWriting, kLingering, kClosed };

  // Sets the deadline of the current state. The timer is moved only when the
  // new deadline is earlier than its expiry; otherwise it fires early and
  // waits again, so that the per-request cost is a few field writes.
  void Arm(std::chrono::milliseconds timeout) {
    deadline_ = Clock::now() + timeout;
    timed_out_ = false;
    if (!timer_waiting_ || timer_expiry_ > deadline_) StartTimer(deadline_);
  }

  void Disarm() {
    deadline_ = Clock::time_point::max();
    timed_out_ = false;
  }

  void StartTimer(Clock::time_point expiry) {
    timer_expiry_ = expiry;
    timer_waiting_ = true;
    timer_.expires_at(expiry);
    timer_.async_wait(
        [self = shared_from_this(), generation = ++timer_generation_](const ErrorCode& ec) {
          if (generation != self->timer_generation_) return;  // superseded by a newer wait
          self->timer_waiting_ = false;
          if (ec || self->phase_ == Phase::kClosed) return;
          if (self->deadline_ == Clock::time_point::max()) return;  // no deadline now
          if (Clock::now() < self->deadline_) {
            self->StartTimer(self->deadline_);
            return;
          }
          self->timed_out_ = true;
          ErrorCode ignored;
          self->socket_.cancel(ignored);
        });
  }

  void ReadRequest() {
    if (phase_ == Phase::kClosed) return;
    if (core_.stopping.load(std::memory_order_relaxed)) {
      Close();
      return;
    }
    parser_.emplace();
    parser_->header_limit(
        static_cast<uint32_t>(std::min<size_t>(core_.options.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(static_cast<uint64_t>(core_.options.max_body_bytes));
    if (buffer_.size() > 0) {
      ReadHeader();
      return;
    }
    phase_ = Phase::kIdle;
    Arm(core_.options.idle_timeout);
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const ErrorCode& ec) {
      if (ec || self->phase_ != Phase::kIdle || self->timed_out_) {
        self->Close();
        return;
      }
      self->ReadHeader();
    });
  }

  void ReadHeader() {
    phase_ = Phase::kReading;
    Arm(core_.options.read_timeout);
    bhttp::async_read_header(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](const ErrorCode& ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(const ErrorCode& ec) {
    if (ec || timed_out_) {
      OnReadError(ec);
      return;
    }
    const auto& message = parser_->get();
    if (!parser_->chunked() && message.count(bhttp::field::transfer_encoding) > 0) {
      // RFC 9112 §6.3: a request whose transfer coding does not end in chunked has no
      // knowable length; answering it could desynchronise the connection.
      SendError(400, wire::kMalformedRequest, "unsupported Transfer-Encoding");
      return;
    }
    if (parser_->is_done()) {
      Dispatch();
      return;
    }
    if (parser_->chunked() || parser_->content_length().value_or(0) > kBodyBuffer / 4) {
      buffer_.reserve(kBodyBuffer);
    }
    if (message.version() >= 11 &&
        EqualsIgnoreCase(message[bhttp::field::expect], "100-continue")) {
      asio::async_write(socket_, asio::buffer(k100Continue.data(), k100Continue.size()),
                        [self = shared_from_this()](const ErrorCode& ec, size_t) {
                          if (ec || self->timed_out_) {
                            self->OnReadError(ec);
                            return;
                          }
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(socket_, buffer_, *parser_,
                      [self = shared_from_this()](const ErrorCode& ec, size_t) {
                        if (ec || self->timed_out_) {
                          self->OnReadError(ec);
                          return;
                        }
                        self->Dispatch();
                      });
  }

  void OnReadError(const ErrorCode& ec) {
    if (phase_ == Phase::kClosed) return;
    if (timed_out_) {
      SendError(408, wire::kRequestTimeout, "the request did not arrive in time");
      return;
    }
    if (ec == bhttp::error::body_limit) {
      SendError(413, wire::kBodyTooLarge,
                "the request body is larger than " + std::to_string(core_.options.max_body_bytes) +
                    " bytes");
    } else if (ec == bhttp::error::header_limit ||
               (ec == bhttp::error::buffer_overflow && !parser_->is_header_done())) {
      SendError(431, wire::kHeaderTooLarge,
                "the request header block is larger than " +
                    std::to_string(core_.options.max_header_bytes) + " bytes");
    } else if (ec == bhttp::error::buffer_overflow) {
      SendError(413, wire::kBodyTooLarge, "the request body is too large");
    } else if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
               !IsBeastHttpError(ec)) {
      Close();  // the client went away, or the connection failed
    } else {
      SendError(400, wire::kMalformedRequest, "malformed HTTP request: " + ec.message());
    }
  }

  // Answers an error the server detected while reading, then closes.
  void SendError(int status, const char* code, const std::string& text) {
    Disarm();
    started_ = Clock::now();
    http10_ = false;
    head_request_ = false;
    method_ = "-";
    std::string request_id;
    if (parser_ && parser_->is_header_done()) {
      const auto& message = parser_->get();
      method_ = std::string(message.method_string());
      http10_ = message.version() < 11;
      head_request_ = message.method() == bhttp::verb::head;
      std::string_view given = message["x-request-id"];
      if (wire::IsSaneRequestId(given)) request_id = std::string(given);
      if (core_.options.log_requests) log_path_ = wire::LogPath(message.target());
    } else {
      log_path_ = "-";
    }
    if (request_id.empty()) request_id = wire::NewRequestId();
    Response response = core_.ErrorResponse(status, code, text);
    response.interaction = "rejected";
    Write(std::move(response), std::move(request_id), false);
  }

  void Dispatch() {
    Disarm();
    phase_ = Phase::kHandling;
    started_ = Clock::now();
    in_flight_ = true;
    core_.metrics.AddInFlight(1);
    RequestMessage message = parser_->release();
    parser_.reset();
    keep_alive_ = message.keep_alive();
    http10_ = message.version() < 11;
    head_request_ = message.method() == bhttp::verb::head;
    if (core_.options.log_requests) {
      method_ = std::string(message.method_string());
      log_path_ = wire::LogPath(message.target());
    }
    if (buffer_.capacity() > 4 * kInitialBuffer && buffer_.size() < kInitialBuffer) {
      buffer_.shrink_to_fit();
    }
    asio::post(*core_.workers, [self = shared_from_this(), message = std::move(message)]() mutable {
      std::string request_id;
      Response response = self->core_.Handle(std::move(message), self->remote_, request_id);
      asio::post(self->socket_.get_executor(), [self, response = std::move(response),
                                                request_id = std::move(request_id)]() mutable {
        self->OnResponse(std::move(response), std::move(request_id));
      });
    });
  }

  void OnResponse(Response response, std::string request_id) {
    if (phase_ == Phase::kClosed) {
      EndInFlight();
      return;
    }
    bool keep_alive = keep_alive_ && !core_.stopping.load(std::memory_order_relaxed) &&
                      !EqualsIgnoreCase(ResponseConnection(response), "close");
    Write(std::move(response), std::move(request_id), keep_alive);
  }

  static std::string_view ResponseConnection(const Response& response) {
    for (const auto& [name, value] : response.headers) {
      if (EqualsIgnoreCase(name, "connection")) return value;
    }
    return {};
  }

  void Write(Response response, std::string request_id, bool keep_alive) {
    phase_ = Phase::kWriting;
    keep_alive_ = keep_alive;
    status_ = response.status;
    interaction_ = std::move(response.interaction);
    request_id_ = std::move(request_id);
    body_bytes_ = response.body.size();
    head_.clear();
    wire::AppendResponseHead(response, request_id_, keep_alive, http10_, head_);
    bool no_body = head_request_ || response.status == 204 || response.status == 304;
    body_ = no_body ? std::string() : std::move(response.body);
    written_ = 0;
    WriteSome();
  }

  // Writes what it can without waiting, then waits for the socket (with the
  // write deadline) only if bytes remain.
  void WriteSome() {
    for (;;) {
      size_t head_done = std::min(written_, head_.size());
      size_t body_done = written_ - head_done;
      std::array<asio::const_buffer, 2> buffers = {asio::buffer(head_) + head_done,
                                                   asio::buffer(body_) + body_done};
      if (written_ == head_.size() + body_.size()) {
        OnWritten();
        return;
      }
      ErrorCode ec;
      size_t n = socket_.write_some(buffers, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        Arm(core_.options.idle_timeout);
        socket_.async_write_some(buffers,
                                 [self = shared_from_this()](const ErrorCode& ec, size_t n) {
                                   if (ec) {
                                     self->Finish();
                                     self->Close();
                                     return;
                                   }
                                   self->written_ += n;
                                   self->WriteSome();
                                 });
        return;
      }
      if (ec) {
        Finish();
        Close();
        return;
      }
      written_ += n;
    }
  }

  void OnWritten() {
    Disarm();
    Finish();
    if (phase_ == Phase::kClosed) return;
    if (keep_alive_) {
      ReadRequest();
    } else {
      Linger();
    }
  }

  // Records and logs the request whose response was sent (or failed to send).
  void Finish() {
    double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    core_.metrics.Record(interaction_, status_, seconds);
    if (core_.options.log_requests) {
      spdlog::info("http method={} path={} status={} bytes={} ms={:.3f} request_id={}", method_,
                   log_path_, status_, body_bytes_, seconds * 1000, request_id_);
    }
    EndInFlight();
    head_.clear();
    body_.clear();
    if (body_.capacity() > kBodyBuffer) body_.shrink_to_fit();
  }

  void EndInFlight() {
    if (!in_flight_) return;
    in_flight_ = false;
    core_.metrics.AddInFlight(-1);
  }

  void Linger() {
    phase_ = Phase::kLingering;
    ErrorCode ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
      Close();
      return;
    }
    drained_ = 0;
    Arm(std::min<std::chrono::milliseconds>(core_.options.read_timeout, kMaxLinger));
    DrainSome();
  }

  void DrainSome() {
    buffer_.consume(buffer_.size());
    socket_.async_read_some(buffer_.prepare(kInitialBuffer),
                            [self = shared_from_this()](const ErrorCode& ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->timed_out_ || self->drained_ > kLingerDrainLimit) {
                                self->Close();
                                return;
                              }
                              self->DrainSome();
                            });
  }

  Core& core_;
  tcp::socket socket_;  // its executor is this Session's strand
  asio::steady_timer timer_;
  std::string remote_;  // immutable after construction

  // State below is touched only on the strand.
  Phase phase_ = Phase::kIdle;
  Clock::time_point deadline_ = Clock::time_point::max();  // max: none
  Clock::time_point timer_expiry_;
  bool timer_waiting_ = false;
  uint64_t timer_generation_ = 0;
  bool timed_out_ = false;  // the deadline passed; the socket's operations were cancelled
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;

  bool keep_alive_ = false;
  bool http10_ = false;
  bool head_request_ = false;
  bool in_flight_ = false;
  Clock::time_point started_;
  std::string method_;
  std::string log_path_;
  std::string request_id_;
  std::string interaction_;
  int status_ = 0;
  size_t body_bytes_ = 0;
  std::string head_;
  std::string body_;
  size_t written_ = 0;
  size_t drained_ = 0;
};

Response Core::ErrorResponse(int status, const char* code, const std::string& text) {
  Response response;
  try {
    if (errors) response = errors(status, code, text);
  } catch (const std::exception& e) {
    spdlog::error("http: the error responder threw: {}", e.what());
  } catch (...) {
    spdlog::error("http: the error responder threw");
  }
  bool valid = response.status >= 200 && response.status <= 599;
  for (const auto& [name, value] : response.headers) {
    valid = valid && wire::IsValidHeader(name, value);
  }
  if (!valid || !errors) {
    response = Response();
    response.status = status;
    response.SetHeader("content-type", "text/plain; charset=utf-8");
    response.body = std::string(code) + ": " + text + "\n";
  }
  return response;
}

Response Core::Handle(RequestMessage&& message, const std::string& remote,
                      std::string& request_id) {
  Request request;
  request.method = message.method() == bhttp::verb::head ? std::string("GET")
                                                         : std::string(message.method_string());
  request.target = std::string(message.target());
  request.headers.reserve(16);
  for (const auto& field : message) {
    std::string name(field.name_string());
    wire::ToLower(name);
    request.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  request.body = std::move(message.body());
  request.remote = remote;
  std::string_view given = request.Header("x-request-id");
  request.request_id = wire::IsSaneRequestId(given) ? std::string(given) : wire::NewRequestId();
  request_id = request.request_id;

  Result<wire::Target> target = wire::ParseTarget(request.target);
  if (!target.ok()) {
    Response response = ErrorResponse(400, wire::kBadPath, target.status().message());
    response.interaction = "rejected";
    return response;
  }
  request.path = std::move(target->path);
  request.query = std::move(target->query);

  Response response;
  try {
    response = handler(request);
  } catch (const std::exception& e) {
    spdlog::error("http: handler failed request_id={}: {}", request_id, e.what());
    return ErrorResponse(500, wire::kHandlerFailed, "internal server error");
  } catch (...) {
    spdlog::error("http: handler failed request_id={}", request_id);
    return ErrorResponse(500, wire::kHandlerFailed, "internal server error");
  }
  bool valid = response.status >= 200 && response.status <= 599;
  for (const auto& [name, value] : response.headers) {
    valid = valid && wire::IsValidHeader(name, value);
  }
  if (!valid) {
    spdlog::error("http: handler returned an invalid response (status {}) request_id={}",
                  response.status, request_id);
    Response error = ErrorResponse(500, wire::kBadResponse, "internal server error");
    error.interaction = response.interaction;
    return error;
  }
  return response;
}

void Core::Refuse(tcp::socket socket) {
  Response response =
      ErrorResponse(503, wire::kTooManyConnections, "the server has too many open connections");
  std::string out;
  wire::AppendResponseHead(response, wire::NewRequestId(), false, false, out);
  out += response.body;
  ErrorCode ec;
  socket.non_blocking(true, ec);
  if (!ec) socket.write_some(asio::buffer(out), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
  metrics.Record("rejected", 503, 0);
}

void Core::Accept() {
  acceptor->async_accept(asio::make_strand(ioc), [this](const ErrorCode& ec, tcp::socket socket) {
    if (stopping.load() || !acceptor->is_open()) {
      ErrorCode ignored;
      socket.close(ignored);
      return;
    }
    if (ec) {
      spdlog::warn("http: accept failed: {}", ec.message());
      accept_retry->expires_after(kAcceptRetry);
      accept_retry->async_wait([this](const ErrorCode& wait_ec) {
        if (!wait_ec && !stopping.load()) Accept();
      });
      return;
    }
    if (open_sessions.load() >= options.max_connections) {
      Refuse(std::move(socket));
    } else {
      auto session = std::make_shared<Session>(*this, std::move(socket));
      Register(session);
      session->Start();
    }
    Accept();
  });
}

void Core::Register(const std::shared_ptr<Session>& session) {
  std::lock_guard<std::mutex> lock(sessions_mu);
  sessions.emplace(session.get(), session);
  open_sessions.store(sessions.size());
}

void Core::Unregister(Session* session) {
  std::lock_guard<std::mutex> lock(sessions_mu);
  sessions.erase(session);
  open_sessions.store(sessions.size());
  if (sessions.empty()) sessions_cv.notify_all();
}

template <typename F>
void Core::ForEachSession(F f) {
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard<std::mutex> lock(sessions_mu);
    for (auto& [raw, weak] : sessions) {
      if (auto session = weak.lock()) open.push_back(std::move(session));
    }
  }
  for (auto& session : open) {
    asio::post(session->executor(), [session, f] { f(*session); });
  }
}

bool Core::WaitForSessions(Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(sessions_mu);
  return sessions_cv.wait_until(lock, deadline, [&] { return sessions.empty(); });
}

}  // namespace

struct Server::Impl : Core {
  using Core::Core;

  enum class State { kNew, kRunning, kStopping, kStopped };
  std::mutex state_mu;
  std::condition_variable state_cv;
  State state = State::kNew;  // guarded by state_mu
  uint16_t port = 0;
};

Server::Server(ServerOptions options, Handler handler, ErrorResponder errors)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(errors))) {}

Server::~Server() { Stop(std::chrono::milliseconds(0)); }

Status Server::Start() {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.state_mu);
  if (s.state != Impl::State::kNew) {
    return Status::Error(ErrorCategory::kInternal, "GM-HTTP-010", "exception",
                         "the server was already started");
  }
  auto fail = [&](const std::string& what, const ErrorCode& ec) {
    return Status::Error(ErrorCategory::kUnavailable, "GM-HTTP-009", "exception",
                         "cannot listen on " + s.options.host + ":" +
                             std::to_string(s.options.port) + ": " + what + ": " + ec.message());
  };
  ErrorCode ec;
  tcp::endpoint endpoint;
  asio::ip::address address = asio::ip::make_address(s.options.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, s.options.port);
  } else {
    tcp::resolver resolver(s.ioc);
    auto results = resolver.resolve(s.options.host, std::to_string(s.options.port), ec);
    if (ec || results.empty()) return fail("resolve", ec);
    endpoint = results.begin()->endpoint();
  }
  s.acceptor.emplace(s.accept_strand);
  s.acceptor->open(endpoint.protocol(), ec);
  if (ec) return fail("open", ec);
  s.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  s.acceptor->bind(endpoint, ec);
  if (ec) return fail("bind", ec);
  s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen", ec);
  s.port = s.acceptor->local_endpoint(ec).port();
  s.accept_retry.emplace(s.accept_strand);
  s.workers.emplace(std::max<size_t>(1, s.options.worker_threads));
  s.work.emplace(s.ioc.get_executor());
  asio::post(s.accept_strand, [&s] { s.Accept(); });
  for (size_t i = 0; i < std::max<size_t>(1, s.options.io_threads); ++i) {
    s.io_threads.emplace_back([&s] {
      for (;;) {
        try {
          s.ioc.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("http: io thread caught: {}", e.what());
        }
      }
    });
  }
  s.state = Impl::State::kRunning;
  return Status::Ok();
}

uint16_t Server::port() const { return impl_->port; }

void Server::Stop(std::chrono::milliseconds grace) {
  Impl& s = *impl_;
  {
    std::unique_lock<std::mutex> lock(s.state_mu);
    if (s.state == Impl::State::kNew) {
      s.state = Impl::State::kStopped;
      s.state_cv.notify_all();
      return;
    }
    if (s.state != Impl::State::kRunning) {
      s.state_cv.wait(lock, [&] { return s.state == Impl::State::kStopped; });
      return;
    }
    s.state = Impl::State::kStopping;
  }
  const Clock::time_point deadline = Clock::now() + grace;
  s.stopping.store(true);
  {
    std::promise<void> closed;
    asio::post(s.accept_strand, [&] {
      ErrorCode ec;
      s.acceptor->close(ec);
      s.accept_retry->cancel();
      closed.set_value();
    });
    closed.get_future().wait();
  }
  s.ForEachSession([](Session& session) { session.Drain(); });
  if (!s.WaitForSessions(deadline)) {
    s.ForEachSession([](Session& session) { session.Close(); });
  }
  // Handlers still running finish; their responses meet closed connections.
  s.workers->join();
  s.ForEachSession([](Session& session) { session.Close(); });
  s.WaitForSessions(Clock::now() + kCloseWait);
  s.work.reset();
  s.ioc.stop();
  for (std::thread& t : s.io_threads) t.join();
  s.io_threads.clear();

  std::lock_guard<std::mutex> lock(s.state_mu);
  s.state = Impl::State::kStopped;
  s.state_cv.notify_all();
}

void Server::Wait() {
  Impl& s = *impl_;
  std::unique_lock<std::mutex> lock(s.state_mu);
  s.state_cv.wait(lock,
                  [&] { return s.state == Impl::State::kStopped || s.state == Impl::State::kNew; });
}

Metrics& Server::metrics() { return impl_->metrics; }

}  // namespace gm::http
