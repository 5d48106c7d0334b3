#include "audit/log.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "audit/chain_store.h"
#include "core/json.h"
#include "core/time.h"

namespace gm::audit {
namespace fs = std::filesystem;
using internal::ChainStore;
using internal::EventRow;
using internal::SignedRow;
using internal::Tail;

namespace {

constexpr const char* kCheckpointTyp = "gm-audit-checkpoint";

Status Err(ErrorCategory cat, std::string code, std::string text) {
  return Status::Error(cat, std::move(code), "exception", std::move(text));
}

std::string Hex(std::string_view raw) {
  static const char* d = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

std::optional<std::string> Unhex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = val(hex[i]), lo = val(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

// SHA-256(prev ‖ seq (8 bytes BE) ‖ bytes), raw.
std::string ChainHash(std::string_view prev_raw, int64_t seq, std::string_view bytes) {
  std::string input;
  input.reserve(prev_raw.size() + 8 + bytes.size());
  input.append(prev_raw);
  for (int i = 7; i >= 0; --i)
    input.push_back(static_cast<char>((static_cast<uint64_t>(seq) >> (8 * i)) & 0xff));
  input.append(bytes);
  return trust::Sha256(input);
}

const std::string& ZeroHash() {
  static const std::string z(32, '\0');
  return z;
}

std::string PatientOf(const json::Value& ev) {
  const json::Value* ents = ev.find("entity");
  if (!ents || !ents->is_array()) return {};
  for (const json::Value& e : ents->array()) {
    const json::Value* what = e.find("what");
    if (!what) continue;
    std::string_view ref = what->get_string("reference");
    if (ref.rfind("Patient/", 0) == 0 && e.find("role") &&
        e.find("role")->get_string("code") == "1")
      return std::string(ref.substr(8));
  }
  return {};
}

int64_t RecordedUs(const json::Value& ev) {
  auto r = time::ParseFhirDateTime(ev.get_string("recorded"));
  return r ? r->begin_us : -1;
}

bool IsPostgres(const std::string& url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<ChainStore>> OpenChain(const std::string& data_dir,
                                              const std::string& database_url, bool read_only) {
  if (database_url.empty()) return internal::OpenSqliteChain(data_dir, read_only);
  if (!IsPostgres(database_url))
    return Err(ErrorCategory::kInvalid, "GM-AUDIT-010",
               "the audit database must be a postgresql:// URL");
  return internal::OpenPgChain(database_url, read_only);
}

// The chain's newest state, checked: the stored head must name the newest
// event (else GM-AUDIT-011). hash = raw bytes.
struct Checked {
  int64_t seq = 0;
  std::string hash;
  int64_t last_checkpoint = 0;
};
Result<Checked> CheckTail(const Tail& t) {
  Checked c;
  c.seq = t.seq;
  c.last_checkpoint = t.last_checkpoint;
  c.hash = ZeroHash();
  if (t.seq > 0) {
    auto raw = Unhex(t.hash);
    if (!raw || raw->size() != 32)
      return Err(ErrorCategory::kInternal, "GM-AUDIT-011",
                 "the newest audit record is damaged; run grunnmur audit verify");
    c.hash = *raw;
    if (!t.head || t.head->seq != t.seq || t.head->hash != t.hash)
      return Err(ErrorCategory::kInternal, "GM-AUDIT-011",
                 "the audit log's signed head does not match its newest record; run grunnmur "
                 "audit verify");
  }
  return c;
}

}  // namespace

struct AuditLog::Pending {
  std::vector<Event> events;
  std::vector<std::string> keys;  // empty: plain Append
  std::vector<int64_t> seqs;
  Status status;
  bool done = false;
};

Result<std::unique_ptr<AuditLog>> AuditLog::Open(LogOptions options) {
  if (!options.keys)
    return Err(ErrorCategory::kInternal, "GM-AUDIT-010", "the audit log needs a signing key ring");
  if (options.checkpoint_every < 1) options.checkpoint_every = 1;
  std::unique_ptr<AuditLog> log(new AuditLog());
  log->options_ = options;
  static SystemClock system_clock;
  log->clock_ = options.clock ? options.clock : &system_clock;
  GM_ASSIGN_OR_RETURN(log->writer_, OpenChain(options.data_dir, options.database_url, false));
  GM_ASSIGN_OR_RETURN(Tail tail, log->writer_->ReadTail());
  GM_ASSIGN_OR_RETURN(Checked c, CheckTail(tail));
  log->last_seq_ = c.seq;
  GM_ASSIGN_OR_RETURN(log->reader_, OpenChain(options.data_dir, options.database_url, true));
  return log;
}

AuditLog::~AuditLog() { (void)Close(); }

int64_t AuditLog::last_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_seq_;
}

int64_t AuditLog::commits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return commits_;
}

Result<trust::Jwk> AuditLog::SigningKey() {
  trust::Jwk key = options_.keys->Current();
  if (std::find(archived_kids_.begin(), archived_kids_.end(), key.kid()) == archived_kids_.end()) {
    GM_RETURN_IF_ERROR(writer_->ArchiveKey(key));
    archived_kids_.push_back(key.kid());
  }
  return key;
}

Status AuditLog::WriteSigned(const trust::Jwk& key, int64_t seq, const std::string& hash_hex,
                             int64_t prev_cp, bool head) {
  int64_t now = clock_->NowUs();
  json::Value payload = json::Value::MakeObject();
  payload.set("kind", head ? "head" : "checkpoint");
  payload.set("seq", json::Value(seq));
  payload.set("hash", hash_hex);
  payload.set("time", time::FormatInstant(now));
  payload.set(head ? "last_checkpoint" : "prev_checkpoint", json::Value(prev_cp));
  json::Value header = json::Value::MakeObject();
  header.set("typ", kCheckpointTyp);
  SignedRow row{seq, hash_hex, key.kid(), trust::SignJws(std::move(header), payload, key), now};
  return head ? writer_->WriteHead(row) : writer_->InsertCheckpoint(row);
}

Status AuditLog::WriteBatch(std::vector<Pending*>& batch) {
  // Runs on the leader only. The chain's state is read inside the write
  // transaction: with PostgreSQL other nodes append between our batches.
  GM_ASSIGN_OR_RETURN(trust::Jwk key, SigningKey());
  GM_RETURN_IF_ERROR(writer_->Begin());
  auto tail = writer_->ReadTail();
  Result<Checked> checked = tail.ok() ? CheckTail(*tail) : Result<Checked>(tail.status());
  if (!checked.ok()) {
    writer_->Rollback();
    return checked.status();
  }
  int64_t seq = checked->seq;
  std::string hash = checked->hash;
  int64_t cp = checked->last_checkpoint;
  bool any = false;
  for (Pending* p : batch) {
    int64_t seq0 = seq, cp0 = cp;
    std::string hash0 = hash;
    Status st = writer_->Savepoint();
    for (size_t i = 0; st.ok() && i < p->events.size(); ++i) {
      if (!p->keys.empty()) {
        auto existing = writer_->SeqForKey(p->keys[i]);
        if (!existing.ok()) {
          st = existing.status();
          break;
        }
        if (*existing) {  // already in the chain: skip, report its seq
          p->seqs.push_back(**existing);
          continue;
        }
      }
      Event& e = p->events[i];
      int64_t s = seq + 1;
      e.resource.set("id", std::to_string(s));
      std::string bytes = json::Write(e.resource);
      std::string h = ChainHash(hash, s, bytes);
      EventRow row{s, RecordedUs(e.resource), e.patient_id, std::move(bytes), Hex(hash), Hex(h)};
      st = writer_->InsertEvent(row, p->keys.empty() ? nullptr : &p->keys[i]);
      if (!st.ok()) break;
      seq = s;
      hash = h;
      p->seqs.push_back(s);
      any = true;
      if (s % options_.checkpoint_every == 0) {
        st = WriteSigned(key, s, Hex(h), cp, false);
        if (!st.ok()) break;
        cp = s;
      }
    }
    if (st.ok()) {
      writer_->ReleaseSavepoint();
    } else {
      writer_->RollbackToSavepoint();
      seq = seq0;
      hash = hash0;
      cp = cp0;
      p->seqs.clear();
      p->status = st;
    }
  }
  Status failure;
  if (any) failure = WriteSigned(key, seq, Hex(hash), cp, true);
  if (failure.ok()) failure = writer_->Commit();
  if (!failure.ok()) {
    writer_->Rollback();
    return failure;
  }
  std::lock_guard<std::mutex> lock(mu_);
  last_seq_ = seq;
  ++commits_;
  return Status::Ok();
}

Result<std::vector<int64_t>> AuditLog::Append(std::vector<Event> events) {
  return Enqueue(std::move(events), {});
}

Result<std::vector<int64_t>> AuditLog::AppendKeyed(std::vector<Event> events,
                                                   std::vector<std::string> keys) {
  if (keys.size() != events.size())
    return Err(ErrorCategory::kInvalid, "GM-AUDIT-015",
               "AppendKeyed needs exactly one key per event");
  for (const std::string& k : keys)
    if (k.empty()) return Err(ErrorCategory::kInvalid, "GM-AUDIT-015", "an audit key is empty");
  if (events.empty()) return std::vector<int64_t>();
  return Enqueue(std::move(events), std::move(keys));
}

Result<std::vector<int64_t>> AuditLog::Enqueue(std::vector<Event> events,
                                               std::vector<std::string> keys) {
  Pending p;
  p.events = std::move(events);
  p.keys = std::move(keys);
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return Err(ErrorCategory::kUnavailable, "GM-AUDIT-012", "the audit log is closed");
  queue_.push_back(&p);
  while (!p.done) {
    if (!writing_) {
      if (closed_) {  // closed while we waited
        queue_.erase(std::remove(queue_.begin(), queue_.end(), &p), queue_.end());
        return Err(ErrorCategory::kUnavailable, "GM-AUDIT-012", "the audit log is closed");
      }
      writing_ = true;
      std::vector<Pending*> batch;
      batch.swap(queue_);
      lock.unlock();
      Status st = WriteBatch(batch);
      lock.lock();
      for (Pending* q : batch) {
        if (!st.ok()) {
          q->status = st;
          q->seqs.clear();
        }
        q->done = true;
      }
      writing_ = false;
      cv_.notify_all();
    } else {
      cv_.wait(lock);
    }
  }
  if (!p.status.ok()) return p.status;
  return std::move(p.seqs);
}

Status AuditLog::Close() {
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return Status::Ok();
  cv_.wait(lock, [&] { return !writing_ && queue_.empty(); });
  closed_ = true;
  cv_.notify_all();
  lock.unlock();
  if (!writer_) return Status::Ok();
  // A final checkpoint at the chain's newest event, unless it has one.
  GM_ASSIGN_OR_RETURN(Tail peek, writer_->ReadTail());
  if (peek.seq == 0 || peek.seq == peek.last_checkpoint) return Status::Ok();
  GM_ASSIGN_OR_RETURN(trust::Jwk key, SigningKey());
  GM_RETURN_IF_ERROR(writer_->Begin());
  auto tail = writer_->ReadTail();
  Result<Checked> c = tail.ok() ? CheckTail(*tail) : Result<Checked>(tail.status());
  Status st = c.ok() ? Status::Ok() : c.status();
  if (st.ok() && c->seq > 0 && c->seq != c->last_checkpoint) {
    std::string hex = Hex(c->hash);
    st = WriteSigned(key, c->seq, hex, c->last_checkpoint, false);
    if (st.ok()) st = WriteSigned(key, c->seq, hex, c->seq, true);
  }
  if (st.ok()) st = writer_->Commit();
  if (!st.ok()) {
    writer_->Rollback();
    return st;
  }
  return Status::Ok();
}

Result<AccessPage> AuditLog::EventsForPatient(std::string_view patient_id, size_t limit,
                                              int64_t before_seq) const {
  limit = std::clamp<size_t>(limit, 1, 500);
  std::lock_guard<std::mutex> lock(read_mu_);
  GM_ASSIGN_OR_RETURN(auto rows,
                      reader_->PatientEvents(std::string(patient_id),
                                             before_seq > 0 ? before_seq : INT64_MAX,
                                             static_cast<int64_t>(limit + 1)));
  AccessPage page;
  for (auto& [seq, bytes] : rows) {
    if (page.entries.size() == limit) {
      page.next_before = page.entries.back().seq;
      break;
    }
    auto ev = json::Parse(bytes);
    if (!ev.ok())
      return Err(ErrorCategory::kInternal, "GM-AUDIT-011", "an audit record is damaged");
    AccessSummary s = Summarize(*ev);
    s.seq = seq;
    page.entries.push_back(std::move(s));
  }
  return page;
}

// ---- Verify ----

std::string_view ProblemKindName(ProblemKind kind) {
  switch (kind) {
    case ProblemKind::kEventChanged: return "event-changed";
    case ProblemKind::kEventRemoved: return "event-removed";
    case ProblemKind::kEventReordered: return "event-reordered";
    case ProblemKind::kChainBroken: return "chain-broken";
    case ProblemKind::kRowMismatch: return "row-mismatch";
    case ProblemKind::kCheckpointInvalid: return "checkpoint-invalid";
    case ProblemKind::kCheckpointMismatch: return "checkpoint-mismatch";
    case ProblemKind::kCheckpointRemoved: return "checkpoint-removed";
    case ProblemKind::kTruncated: return "truncated";
    case ProblemKind::kHeadMissing: return "head-missing";
    case ProblemKind::kUnsignedTail: return "unsigned-tail";
    case ProblemKind::kKeyMismatch: return "key-mismatch";
  }
  return "unknown";
}


namespace {

struct Keys {
  std::map<std::string, trust::Jwk> by_kid;
};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Pinned keys, the key ring in <data_dir>/keys (if any) and the chain's key
// archive (audit-keys/ or gm_audit_key).
Result<Keys> LoadKeys(const std::string& data_dir, ChainStore& store,
                      const VerifyOptions& options, std::vector<Problem>& problems) {
  Keys keys;
  for (const trust::Jwk& k : options.trusted_keys) keys.by_kid.emplace(k.kid(), k);
  if (options.only_trusted_keys) return keys;
  std::error_code ec;
  std::map<std::string, trust::Jwk> ring;
  fs::path ring_dir = fs::path(data_dir) / "keys";
  if (!data_dir.empty() && fs::is_directory(ring_dir, ec)) {
    for (const auto& entry : fs::directory_iterator(ring_dir, ec)) {
      if (entry.path().extension() != ".pem") continue;
      auto k = trust::Jwk::FromPem(ReadFile(entry.path()), entry.path().stem().string());
      if (k.ok()) ring.emplace(k->kid(), *k);
    }
  }
  GM_ASSIGN_OR_RETURN(std::vector<trust::Jwk> archived, store.ArchivedKeys());
  for (const trust::Jwk& k : archived) {
    auto it = ring.find(k.kid());
    if (it != ring.end() && it->second.Thumbprint() != k.Thumbprint()) {
      problems.push_back({ProblemKind::kKeyMismatch, 0,
                          "archived public key " + k.kid() + " differs from the key ring's"});
      continue;
    }
    keys.by_kid.emplace(k.kid(), k);
  }
  for (auto& [kid, k] : ring) keys.by_kid.emplace(kid, k);
  return keys;
}

struct SignedPoint {
  bool valid = false;
  int64_t seq = 0;
  std::string hash;
  int64_t link = 0;  // prev_checkpoint / last_checkpoint
};

// Checks a checkpoint/head row's JWS; problems go to `problems`.
SignedPoint CheckSigned(const Keys& keys, std::string_view kind, int64_t row_seq,
                        const std::string& row_hash, const std::string& row_kid,
                        const std::string& jws_text, std::vector<Problem>& problems) {
  SignedPoint sp;
  std::string what = std::string(kind) + " at seq " + std::to_string(row_seq);
  auto jws = trust::DecodeJws(jws_text);
  if (!jws.ok()) {
    problems.push_back({ProblemKind::kCheckpointInvalid, row_seq, what + ": not a JWS"});
    return sp;
  }
  if (jws->header.get_string("typ") != kCheckpointTyp) {
    problems.push_back({ProblemKind::kCheckpointInvalid, row_seq, what + ": wrong typ"});
    return sp;
  }
  std::string kid(jws->header.get_string("kid"));
  auto it = keys.by_kid.find(kid);
  if (it == keys.by_kid.end()) {
    problems.push_back(
        {ProblemKind::kCheckpointInvalid, row_seq, what + ": signed with an unknown key " + kid});
    return sp;
  }
  if (!trust::VerifyJws(*jws, it->second, {trust::Alg::kES256, trust::Alg::kRS256}).ok()) {
    problems.push_back(
        {ProblemKind::kCheckpointInvalid, row_seq, what + ": signature does not verify"});
    return sp;
  }
  const json::Value& pl = jws->payload;
  const json::Value* seq = pl.find("seq");
  const json::Value* link = pl.find(kind == "head" ? "last_checkpoint" : "prev_checkpoint");
  if (pl.get_string("kind") != kind || !seq || !seq->is_number() || !link || !link->is_number()) {
    problems.push_back({ProblemKind::kCheckpointInvalid, row_seq, what + ": malformed payload"});
    return sp;
  }
  sp.seq = std::stoll(seq->str());
  sp.hash = std::string(pl.get_string("hash"));
  sp.link = std::stoll(link->str());
  if (sp.seq != row_seq || sp.hash != row_hash || kid != row_kid) {
    problems.push_back({ProblemKind::kCheckpointInvalid, row_seq,
                        what + ": the signed content differs from the row"});
    // The signed statement is still true; use it (the row was edited).
  }
  sp.valid = true;
  return sp;
}

}  // namespace


Result<VerifyReport> Verify(const std::string& data_dir, const VerifyOptions& options) {
  GM_ASSIGN_OR_RETURN(std::unique_ptr<ChainStore> store,
                      OpenChain(data_dir, options.database_url, true));
  GM_RETURN_IF_ERROR(store->BeginSnapshot());
  VerifyReport report;
  std::vector<Problem>& problems = report.problems;
  GM_ASSIGN_OR_RETURN(Keys keys, LoadKeys(data_dir, *store, options, problems));

  // 1. The chain.
  std::map<int64_t, std::string> hash_at;  // seq → hex hash (for checkpoints)
  {
    int64_t expected = 1;
    std::string prev_stored_hex = Hex(ZeroHash());
    Status lookup_error;
    Status walked = store->ForEachEvent([&](const EventRow& r) {
      const int64_t seq = r.seq;
      const std::string& bytes = r.event;
      const std::string& prev_hex = r.prev_hash;
      const std::string& hash_hex = r.hash;
      ++report.events;
      if (report.events == 1) report.first_seq = seq;
      report.last_seq = seq;
      hash_at[seq] = hash_hex;
      bool reported = false;
      auto add = [&](ProblemKind k, std::string detail) {
        problems.push_back({k, seq, std::move(detail)});
        reported = true;
      };
      if (seq > expected) {
        add(ProblemKind::kEventRemoved,
            seq - expected == 1 ? "record " + std::to_string(expected) + " is missing"
                                : "records " + std::to_string(expected) + "–" +
                                      std::to_string(seq - 1) + " are missing");
      }
      auto prev_raw = Unhex(prev_hex);
      auto parsed = json::Parse(bytes);
      int64_t written_as = 0;
      if (parsed.ok()) {
        std::string id(parsed->get_string("id"));
        if (!id.empty() && std::all_of(id.begin(), id.end(), ::isdigit) && id.size() < 19)
          written_as = std::stoll(id);
      }
      bool own_ok = prev_raw && prev_raw->size() == 32 &&
                    Hex(ChainHash(*prev_raw, seq, bytes)) == hash_hex;
      if (!own_ok && !reported) {
        if (prev_raw && prev_raw->size() == 32 && written_as > 0 && written_as != seq &&
            Hex(ChainHash(*prev_raw, written_as, bytes)) == hash_hex)
          add(ProblemKind::kEventReordered, "record written as " + std::to_string(written_as) +
                                                " is stored at " + std::to_string(seq));
        else
          add(ProblemKind::kEventChanged, "record " + std::to_string(seq) +
                                              " does not match its hash");
      }
      if (!reported && prev_hex != prev_stored_hex) {
        // Does the predecessor it names exist elsewhere?
        auto found = store->SeqForHash(prev_hex);
        if (!found.ok()) {
          lookup_error = found.status();
          return false;
        }
        if (*found)
          add(ProblemKind::kEventReordered, "record " + std::to_string(seq) +
                                                " follows record " + std::to_string(**found));
        else
          add(ProblemKind::kChainBroken, "record " + std::to_string(seq) +
                                             " does not link to the record before it");
      }
      if (!reported && parsed.ok() &&
          (PatientOf(*parsed) != r.patient || RecordedUs(*parsed) != r.time_us))
        add(ProblemKind::kRowMismatch,
            "record " + std::to_string(seq) + "'s patient or time column differs from its event");
      if (!reported && !parsed.ok())
        add(ProblemKind::kEventChanged, "record " + std::to_string(seq) + " is not JSON");
      prev_stored_hex = hash_hex;
      expected = seq + 1;
      if (problems.size() > options.max_problems) {
        report.truncated_report = true;
        return false;
      }
      return true;
    });
    GM_RETURN_IF_ERROR(walked);
    GM_RETURN_IF_ERROR(lookup_error);
  }

  // 2. Checkpoints.
  std::map<int64_t, bool> checkpoint_seqs;
  std::vector<SignedPoint> points;
  {
    GM_ASSIGN_OR_RETURN(std::vector<SignedRow> rows, store->Checkpoints());
    for (const SignedRow& row : rows) {
      ++report.checkpoints;
      checkpoint_seqs[row.seq] = true;
      SignedPoint sp =
          CheckSigned(keys, "checkpoint", row.seq, row.hash, row.kid, row.jws, problems);
      if (sp.valid) points.push_back(sp);
    }
  }
  auto check_point = [&](const SignedPoint& sp, std::string_view what) {
    auto it = hash_at.find(sp.seq);
    if (sp.seq > report.last_seq) {
      problems.push_back({ProblemKind::kTruncated, sp.seq,
                          std::string(what) + " signs record " + std::to_string(sp.seq) +
                              " but the log ends at " + std::to_string(report.last_seq)});
    } else if (it == hash_at.end()) {
      // Removed: already reported as a gap.
    } else if (it->second != sp.hash) {
      problems.push_back({ProblemKind::kCheckpointMismatch, sp.seq,
                          std::string(what) + " at " + std::to_string(sp.seq) +
                              " does not match the chain (rewritten)"});
    } else {
      report.signed_through = std::max(report.signed_through, sp.seq);
    }
    if (sp.link > 0 && !checkpoint_seqs.count(sp.link))
      problems.push_back({ProblemKind::kCheckpointRemoved, sp.link,
                          "checkpoint at " + std::to_string(sp.link) + " named by the " +
                              std::string(what) + " at " + std::to_string(sp.seq) +
                              " is missing"});
  };
  for (const SignedPoint& sp : points) check_point(sp, "checkpoint");

  // 3. The head.
  {
    GM_ASSIGN_OR_RETURN(std::optional<SignedRow> head, store->Head());
    if (head) {
      SignedPoint sp = CheckSigned(keys, "head", head->seq, head->hash, head->kid, head->jws,
                                   problems);
      if (sp.valid) {
        check_point(sp, "head");
        if (sp.seq < report.last_seq)
          problems.push_back({ProblemKind::kUnsignedTail, sp.seq + 1,
                              "records " + std::to_string(sp.seq + 1) + "–" +
                                  std::to_string(report.last_seq) + " are after the signed head"});
      }
    } else if (report.events > 0 || report.checkpoints > 0) {
      problems.push_back({ProblemKind::kHeadMissing, 0, "the signed head is missing"});
    }
  }
  if (problems.size() > options.max_problems) {
    problems.resize(options.max_problems);
    report.truncated_report = true;
  }
  return report;
}

}  // namespace gm::audit
