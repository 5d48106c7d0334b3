// Audit of writes in the same transaction as the write (issue "Trust",
// item 4: "Audit of a write commits in the same transaction as the write").
//
// The tamper-evident chain (audit/log.h) cannot share a transaction with the
// FHIR store (on SQLite it is another file; on PostgreSQL appends to the one
// chain are serialised across nodes, which a data write must not wait for).
// So a write stages its AuditEvents in the store's audit outbox
// (store::Txn::StageAudit), inside the write's own transaction: both commit,
// or neither. Afterwards:
//   1. the request's thread hands the staged events to the chain with
//      AuditLog::AppendKeyed (keyed by the outbox row's key, so doing it twice
//      adds nothing) before the answer leaves;
//   2. AuditRelay (a background thread of serve) takes over whatever is left in
//      the outbox — rows whose step 1 failed, or was cut short by a crash —
//      and removes rows the chain holds. At start-up it drains the outbox
//      before the server takes requests.
// A write therefore never exists without its audit record; if step 1 fails
// the write's answer still says what happened (it did), and the record
// reaches the chain at the relay's next pass.
//
// How a write finds its audit: Service opens a WriteAuditScope on the
// request's thread around the handler; AuditingStore (the Store the REST
// layer writes through) wraps every Write fn run under a scope so that, when
// the fn succeeds, one AuditEvent per patient it touched (compartments of every
// version it stored, and of the version a deletion replaced) is staged in the
// same transaction. The events are built by the scope's builder (service.cc:
// rest::AccessEvents with the request's principal and decisions).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "audit/event.h"
#include "core/status.h"
#include "store/store.h"

namespace gm::audit {
class AuditLog;
}

namespace gm::rest {

// One request's write audit. Lives on the request's thread (RAII: installs
// itself as the thread's current scope, restores the previous one).
class WriteAuditScope {
 public:
  // Builds the events for the patients a write touched (one per patient).
  using Builder = std::function<Result<std::vector<audit::Event>>(const std::vector<std::string>&)>;
  WriteAuditScope(Builder build, std::function<std::string()> new_key);
  ~WriteAuditScope();
  WriteAuditScope(const WriteAuditScope&) = delete;
  WriteAuditScope& operator=(const WriteAuditScope&) = delete;

  static WriteAuditScope* Current();

  // Staged and committed so far (by every successful Write of the request).
  const std::vector<audit::Event>& events() const { return events_; }
  const std::vector<std::string>& keys() const { return keys_; }
  const std::vector<std::string>& patients() const { return patients_; }
  bool staged() const { return !keys_.empty(); }

  // Hands the committed events to the chain (AppendKeyed). Error: the chain
  // refused them; they stay in the outbox for the relay.
  Status Publish(audit::AuditLog& log);

 private:
  friend class AuditingStore;
  Builder build_;
  std::function<std::string()> new_key_;
  WriteAuditScope* previous_ = nullptr;
  std::vector<audit::Event> events_;
  std::vector<std::string> keys_;
  std::vector<std::string> patients_;
  bool published_ = false;
};

// The Store the REST layer writes through: forwards everything to `inner`;
// Write(fn) under a WriteAuditScope stages the write's audit in fn's
// transaction (see above). Without a scope it is `inner` unchanged.
class AuditingStore final : public store::Store {
 public:
  explicit AuditingStore(store::Store& inner) : inner_(inner) {}

  Result<std::optional<store::ResourceVersion>> Read(const std::string& type,
                                                     const std::string& id) override {
    return inner_.Read(type, id);
  }
  Result<std::optional<store::ResourceVersion>> ReadVersion(const std::string& type,
                                                            const std::string& id,
                                                            int64_t version) override {
    return inner_.ReadVersion(type, id, version);
  }
  Result<store::HistoryPage> History(const store::HistoryQuery& query) override {
    return inner_.History(query);
  }
  Result<store::QueryPage> Search(const store::Query& query) override {
    return inner_.Search(query);
  }
  Result<int64_t> Count(const store::Query& query, int64_t at_most) override {
    return inner_.Count(query, at_most);
  }
  Result<store::QueryPage> Compartment(const std::string& patient_id,
                                       const std::vector<std::string>& types, size_t limit,
                                       const std::string& after) override {
    return inner_.Compartment(patient_id, types, limit, after);
  }
  Status Write(const std::function<Status(store::Txn&)>& fn) override;
  Result<std::vector<store::AuditOutboxRow>> PendingAudit(size_t limit) override {
    return inner_.PendingAudit(limit);
  }
  Result<store::StoreStats> Stats() override { return inner_.Stats(); }
  void Close() override { inner_.Close(); }

 private:
  store::Store& inner_;
};

// Takes over the audit outbox: chains (AppendKeyed) and removes its rows.
class AuditRelay {
 public:
  AuditRelay(store::Store& store, audit::AuditLog& log) : store_(store), log_(log) {}
  ~AuditRelay();  // Stop()s

  // One pass: up to `limit` rows, oldest first; returns how many were
  // chained-and-removed. Safe to run on several nodes at once (keys).
  Result<size_t> DrainOnce(size_t limit = 1000);
  // Drains until the outbox is empty (start-up).
  Status DrainAll();
  // A background pass every `period_ms` (and at Stop, a last one).
  void Start(int period_ms = 1000);
  void Stop();

 private:
  store::Store& store_;
  audit::AuditLog& log_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace gm::rest
