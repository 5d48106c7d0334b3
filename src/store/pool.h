// A fixed set of database connections leased one at a time, shared by the
// store backends (SQLite readers, PostgreSQL sessions).
//
// Acquire blocks until a connection is free; the Lease returns it when it
// goes out of scope. Close refuses new leases, waits for outstanding ones and
// destroys the connections. Thread-safe.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "core/status.h"

namespace gm::store {

// The error of every operation on a closed store (GM-STORE-021).
inline Status Closed() {
  return Status::Error(ErrorCategory::kUnavailable, "GM-STORE-021", "transient",
                       "The store is closed");
}

template <class Conn>
class ConnectionPool {
 public:
  class Lease {
   public:
    Lease(ConnectionPool* pool, Conn* c) : pool_(pool), c_(c) {}
    Lease(Lease&& o) noexcept : pool_(std::exchange(o.pool_, nullptr)), c_(o.c_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_ != nullptr) pool_->Return(c_);
    }
    Conn& operator*() const { return *c_; }
    Conn* operator->() const { return c_; }

   private:
    ConnectionPool* pool_;
    Conn* c_;
  };

  // on_acquire runs on every leased connection outside the pool's lock
  // (PostgreSQL: reconnect a broken session in place).
  explicit ConnectionPool(std::function<void(Conn&)> on_acquire = nullptr)
      : on_acquire_(std::move(on_acquire)) {}

  // Opens n (at least 1) connections with `open`; on error the pool keeps
  // those opened so far (Close releases them).
  Status Open(size_t n, const std::function<Result<std::unique_ptr<Conn>>()>& open) {
    for (size_t i = 0; i < std::max<size_t>(n, 1); ++i) {
      GM_ASSIGN_OR_RETURN(std::unique_ptr<Conn> c, open());
      std::lock_guard<std::mutex> l(mu_);
      free_.push_back(c.get());
      all_.push_back(std::move(c));
    }
    return Status::Ok();
  }

  Result<Lease> Acquire() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return closed_ || !free_.empty(); });
    if (closed_) return Closed();
    Conn* c = free_.back();
    free_.pop_back();
    l.unlock();
    if (on_acquire_) on_acquire_(*c);
    return Lease(this, c);
  }

  void Close() {
    std::unique_lock<std::mutex> l(mu_);
    closed_ = true;
    cv_.notify_all();
    cv_.wait(l, [&] { return free_.size() == all_.size(); });
    free_.clear();
    all_.clear();
  }

 private:
  void Return(Conn* c) {
    std::lock_guard<std::mutex> l(mu_);
    free_.push_back(c);
    cv_.notify_all();
  }

  std::function<void(Conn&)> on_acquire_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> all_;
  std::vector<Conn*> free_;
  bool closed_ = false;
};

}  // namespace gm::store
