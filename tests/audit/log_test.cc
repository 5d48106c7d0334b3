// The tamper-evident audit log: durable, gap-free appends under concurrency,
// signed checkpoints, Verify on an intact log, and every kind of tampering
// made directly in the SQLite file is caught with the right kind.
#include <sqlite3.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "audit/log.h"
#include "core/json.h"
#include "tests/support/server_process.h"
#include "trust/jose.h"
#include "trust/tokens.h"

namespace gm::audit {
namespace {
namespace fs = std::filesystem;

constexpr int64_t kT0 = 1'764'000'000'000'000;

Event MakeEvent(const std::string& patient, int64_t i, ActorKind kind = ActorKind::kClinician) {
  AccessRecord r;
  r.actor.kind = kind;
  r.actor.name = "Lege " + std::to_string(i % 7);
  r.actor.hpr_number = std::to_string(9000000 + i % 7);
  r.actor.authorization = "LE";
  r.actor.authorization_display = "Lege";
  r.actor.legal_entity_orgnr = "993467049";
  r.actor.legal_entity_name = "Oslo universitetssykehus HF";
  r.actor.person_reference = "Patient/" + patient;
  r.actor.client_id = "ehr";
  r.actor.token_jti = "jti-" + std::to_string(i);
  r.care.purpose_of_use = i % 5 == 0 ? "ETREAT" : "TREAT";
  r.break_the_glass = i % 11 == 0;
  r.patient_id = patient;
  r.interaction = "read";
  r.resource_type = "Observation";
  r.resource_id = "o" + std::to_string(i);
  r.time_us = kT0 + i * 1000;
  auto e = BuildAuditEvent(r);
  EXPECT_TRUE(e.ok()) << e.status().message();
  return std::move(e).value();
}

class AuditLogTest : public ::testing::Test {
 protected:
  std::unique_ptr<AuditLog> OpenLog(int64_t every = 10) {
    auto keys = trust::KeyRing::Open((fs::path(dir_.path()) / "keys").string());
    EXPECT_TRUE(keys.ok());
    keys_ = *keys;
    LogOptions o;
    o.data_dir = dir_.path();
    o.keys = keys_;
    o.clock = &clock_;
    o.checkpoint_every = every;
    auto log = AuditLog::Open(o);
    EXPECT_TRUE(log.ok()) << log.status().message();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  // 25 events, one per Append, checkpoints every 10, closed: checkpoints 10, 20, 25.
  void MakeClosedLog() {
    auto log = OpenLog(10);
    ASSERT_NE(log, nullptr);
    for (int i = 1; i <= 25; ++i)
      ASSERT_TRUE(log->Append({MakeEvent("p" + std::to_string(i % 3), i)}).ok());
    ASSERT_TRUE(log->Close().ok());
  }

  VerifyReport VerifyOk() {
    auto r = Verify(dir_.path());
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : VerifyReport{};
  }

  // Direct SQL on the file, as an attacker would: drop the append-only triggers first.
  void Tamper(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((fs::path(dir_.path()) / "audit.db").c_str(), &db), SQLITE_OK);
    const char* drop =
        "DROP TRIGGER IF EXISTS audit_event_no_update; DROP TRIGGER IF EXISTS audit_event_no_delete;"
        "DROP TRIGGER IF EXISTS audit_checkpoint_no_update;"
        "DROP TRIGGER IF EXISTS audit_checkpoint_no_delete;";
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, drop, nullptr, nullptr, &err), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "") << " in " << sql;
    sqlite3_close(db);
  }

  std::string Query1(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open((fs::path(dir_.path()) / "audit.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }

  static std::set<ProblemKind> Kinds(const VerifyReport& r) {
    std::set<ProblemKind> k;
    for (const Problem& p : r.problems) k.insert(p.kind);
    return k;
  }

  static bool Has(const VerifyReport& r, ProblemKind kind, int64_t seq) {
    return std::any_of(r.problems.begin(), r.problems.end(),
                       [&](const Problem& p) { return p.kind == kind && p.seq == seq; });
  }

  static std::string Describe(const VerifyReport& r) {
    std::string s;
    for (const Problem& p : r.problems)
      s += std::string(ProblemKindName(p.kind)) + "@" + std::to_string(p.seq) + ": " + p.detail +
           "\n";
    return s;
  }

  testing::TempDir dir_;
  ManualClock clock_{kT0};
  std::shared_ptr<trust::KeyRing> keys_;
};

TEST_F(AuditLogTest, AppendsAreSequentialDurableAndVerify) {
  {
    auto log = OpenLog(10);
    ASSERT_NE(log, nullptr);
    auto seqs = log->Append({MakeEvent("p1", 1), MakeEvent("p2", 2), MakeEvent("p3", 3)});
    ASSERT_TRUE(seqs.ok());
    EXPECT_EQ(*seqs, (std::vector<int64_t>{1, 2, 3}));
    auto more = log->Append({MakeEvent("p1", 4)});
    ASSERT_TRUE(more.ok());
    EXPECT_EQ(*more, (std::vector<int64_t>{4}));
    // Nothing lost when the process ends without Close: the head is signed per commit.
  }
  auto r = VerifyOk();
  EXPECT_TRUE(r.intact()) << Describe(r);
  EXPECT_EQ(r.events, 4);
  EXPECT_EQ(r.last_seq, 4);
  EXPECT_EQ(r.signed_through, 4);
  // Reopen: the chain continues.
  auto log = OpenLog(10);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->last_seq(), 4);
  auto seqs = log->Append({MakeEvent("p1", 5)});
  ASSERT_TRUE(seqs.ok());
  EXPECT_EQ(*seqs, (std::vector<int64_t>{5}));
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(log->Append({MakeEvent("p1", 6)}).status().code(), "GM-AUDIT-012");
  auto r2 = VerifyOk();
  EXPECT_TRUE(r2.intact()) << Describe(r2);
  EXPECT_EQ(r2.events, 5);
  // The stored event carries its seq as id and is the JSON that was built.
  EXPECT_EQ(Query1("SELECT json_extract(event, '$.id') FROM audit_event WHERE seq = 5"), "5");
  EXPECT_EQ(Query1("SELECT patient FROM audit_event WHERE seq = 3"), "p3");
}

TEST_F(AuditLogTest, ConcurrentAppendsAreGapFreeAndEachCallIsConsecutive) {
  auto log = OpenLog(7);
  ASSERT_NE(log, nullptr);
  constexpr int kThreads = 6, kCalls = 30;
  std::vector<std::vector<std::vector<int64_t>>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int c = 0; c < kCalls; ++c) {
        int n = 1 + (t + c) % 3;  // 1–3 patients per request
        std::vector<Event> evs;
        for (int k = 0; k < n; ++k) evs.push_back(MakeEvent("t" + std::to_string(t), c * 3 + k));
        auto seqs = log->Append(std::move(evs));
        ASSERT_TRUE(seqs.ok()) << seqs.status().message();
        got[t].push_back(*seqs);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<int64_t> all;
  int64_t expected_total = 0;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(got[t].size(), static_cast<size_t>(kCalls));
    for (int c = 0; c < kCalls; ++c) {
      const auto& s = got[t][c];
      ASSERT_EQ(s.size(), static_cast<size_t>(1 + (t + c) % 3));
      for (size_t i = 1; i < s.size(); ++i) EXPECT_EQ(s[i], s[i - 1] + 1);  // consecutive
      all.insert(all.end(), s.begin(), s.end());
      expected_total += static_cast<int64_t>(s.size());
    }
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(static_cast<int64_t>(all.size()), expected_total);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], static_cast<int64_t>(i + 1));
  EXPECT_EQ(log->last_seq(), expected_total);
  EXPECT_LE(log->commits(), kThreads * kCalls);  // grouped or not, never more than one per call
  ASSERT_TRUE(log->Close().ok());
  auto r = VerifyOk();
  EXPECT_TRUE(r.intact()) << Describe(r);
  EXPECT_EQ(r.events, expected_total);
  EXPECT_EQ(r.signed_through, expected_total);
  EXPECT_EQ(r.checkpoints, expected_total / 7 + (expected_total % 7 ? 1 : 0));
}

TEST_F(AuditLogTest, CheckpointsEveryNAndOnClose) {
  MakeClosedLog();
  auto r = VerifyOk();
  EXPECT_TRUE(r.intact()) << Describe(r);
  EXPECT_EQ(r.checkpoints, 3);  // 10, 20, 25
  EXPECT_EQ(Query1("SELECT group_concat(seq) FROM (SELECT seq FROM audit_checkpoint ORDER BY seq)"),
            "10,20,25");
  // The checkpoint is a compact JWS naming the chain position and the key.
  std::string jws = Query1("SELECT jws FROM audit_checkpoint WHERE seq = 20");
  auto decoded = trust::DecodeJws(jws);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->payload.get_string("hash"),
            Query1("SELECT hash FROM audit_event WHERE seq = 20"));
  EXPECT_EQ(decoded->header.get_string("kid"), keys_->Current().kid());
  EXPECT_TRUE(trust::VerifyJws(*decoded, keys_->Current(), {trust::Alg::kES256}).ok());
}

TEST_F(AuditLogTest, SqlTriggersRefuseUpdatesAndDeletes) {
  MakeClosedLog();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((fs::path(dir_.path()) / "audit.db").c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit_event WHERE seq = 3", nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE audit_checkpoint SET jws = 'x'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_TRUE(VerifyOk().intact());
}

TEST_F(AuditLogTest, ChangedEventIsCaught) {
  MakeClosedLog();
  Tamper("UPDATE audit_event SET event = replace(event, '\"Lege 0\"', '\"Lege X\"') WHERE seq = 7");
  auto r = VerifyOk();
  EXPECT_TRUE(Has(r, ProblemKind::kEventChanged, 7)) << Describe(r);
  EXPECT_EQ(Kinds(r), std::set<ProblemKind>{ProblemKind::kEventChanged}) << Describe(r);
}

TEST_F(AuditLogTest, RemovedEventIsCaught) {
  MakeClosedLog();
  Tamper("DELETE FROM audit_event WHERE seq = 7");
  auto r = VerifyOk();
  EXPECT_TRUE(Has(r, ProblemKind::kEventRemoved, 8)) << Describe(r);
  EXPECT_EQ(Kinds(r), std::set<ProblemKind>{ProblemKind::kEventRemoved}) << Describe(r);
}

TEST_F(AuditLogTest, ReorderedEventsAreCaught) {
  MakeClosedLog();
  Tamper("UPDATE audit_event SET seq = -5 WHERE seq = 5;"
         "UPDATE audit_event SET seq = 5 WHERE seq = 6;"
         "UPDATE audit_event SET seq = 6 WHERE seq = -5;");
  auto r = VerifyOk();
  EXPECT_TRUE(Has(r, ProblemKind::kEventReordered, 5)) << Describe(r);
  EXPECT_TRUE(Has(r, ProblemKind::kEventReordered, 6)) << Describe(r);
  EXPECT_EQ(Kinds(r), std::set<ProblemKind>{ProblemKind::kEventReordered}) << Describe(r);
}

TEST_F(AuditLogTest, ChangedCheckpointSignatureIsCaught) {
  MakeClosedLog();
  std::string jws = Query1("SELECT jws FROM audit_checkpoint WHERE seq = 10");
  // Flip one character of the signature part.
  size_t pos = jws.rfind('.') + 5;
  jws[pos] = jws[pos] == 'A' ? 'B' : 'A';
  Tamper("UPDATE audit_checkpoint SET jws = '" + jws + "' WHERE seq = 10");
  auto r = VerifyOk();
  EXPECT_TRUE(Has(r, ProblemKind::kCheckpointInvalid, 10)) << Describe(r);
}

TEST_F(AuditLogTest, ForgedCheckpointWithOtherKeyIsCaught) {
  MakeClosedLog();
  // A checkpoint signed by a key that is not the server's (same kid).
  trust::Jwk forged = trust::Jwk::Generate(trust::Alg::kES256, keys_->Current().kid());
  json::Value payload = json::Value::MakeObject();
  payload.set("kind", "checkpoint");
  payload.set("seq", json::Value(int64_t{20}));
  payload.set("hash", Query1("SELECT hash FROM audit_event WHERE seq = 20"));
  payload.set("time", "2025-01-01T00:00:00.000Z");
  payload.set("prev_checkpoint", json::Value(int64_t{10}));
  json::Value header = json::Value::MakeObject();
  header.set("typ", "gm-audit-checkpoint");
  Tamper("UPDATE audit_checkpoint SET jws = '" + trust::SignJws(header, payload, forged) +
         "' WHERE seq = 20");
  auto r = VerifyOk();
  EXPECT_TRUE(Has(r, ProblemKind::kCheckpointInvalid, 20)) << Describe(r);
}

TEST_F(AuditLogTest, TruncatedTailAfterLastCheckpointIsCaught) {
  MakeClosedLog();
  // Remove records 21–25 and the checkpoint that covered them: the signed
  // head still names 25.
  Tamper("DELETE FROM audit_event WHERE seq > 20; DELETE FROM audit_checkpoint WHERE seq > 20;");
  auto r = VerifyOk();
  EXPECT_TRUE(Has(r, ProblemKind::kTruncated, 25)) << Describe(r);
  // And a server refuses to continue such a chain.
  LogOptions o;
  o.data_dir = dir_.path();
  o.keys = keys_;
  o.clock = &clock_;
  EXPECT_EQ(AuditLog::Open(o).status().code(), "GM-AUDIT-011");
  // Removing the head too does not hide it.
  Tamper("DELETE FROM audit_head");
  auto r2 = VerifyOk();
  EXPECT_TRUE(Has(r2, ProblemKind::kHeadMissing, 0)) << Describe(r2);
}

TEST_F(AuditLogTest, RehashedChainWithoutKeyIsCaught) {
  MakeClosedLog();
  // Rewrite record 15 and recompute every hash from there on, as an attacker
  // without the signing key can.
  sqlite3* db = nullptr;
  Tamper("UPDATE audit_event SET event = replace(event, '\"Lege 1\"', '\"Lege Z\"') WHERE seq = 15");
  ASSERT_EQ(sqlite3_open((fs::path(dir_.path()) / "audit.db").c_str(), &db), SQLITE_OK);
  auto hex = [](const std::string& raw) {
    static const char* d = "0123456789abcdef";
    std::string out;
    for (unsigned char c : raw) {
      out.push_back(d[c >> 4]);
      out.push_back(d[c & 15]);
    }
    return out;
  };
  auto unhex = [](const std::string& h) {
    std::string out;
    for (size_t i = 0; i < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
    return out;
  };
  std::string prev = unhex(Query1("SELECT hash FROM audit_event WHERE seq = 14"));
  for (int64_t seq = 15; seq <= 25; ++seq) {
    std::string bytes = Query1("SELECT event FROM audit_event WHERE seq = " + std::to_string(seq));
    std::string input = prev;
    for (int i = 7; i >= 0; --i) input.push_back(static_cast<char>((seq >> (8 * i)) & 0xff));
    input += bytes;
    std::string h = trust::Sha256(input);
    std::string sql = "UPDATE audit_event SET prev_hash = '" + hex(prev) + "', hash = '" + hex(h) +
                      "' WHERE seq = " + std::to_string(seq);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    prev = h;
  }
  sqlite3_close(db);
  auto r = VerifyOk();
  EXPECT_TRUE(Has(r, ProblemKind::kCheckpointMismatch, 20)) << Describe(r);
  EXPECT_TRUE(Has(r, ProblemKind::kCheckpointMismatch, 25)) << Describe(r);
  EXPECT_EQ(Kinds(r), std::set<ProblemKind>{ProblemKind::kCheckpointMismatch}) << Describe(r);
  EXPECT_EQ(r.signed_through, 10);
}

TEST_F(AuditLogTest, MovedPatientColumnAndRemovedCheckpointAreCaught) {
  MakeClosedLog();
  Tamper("UPDATE audit_event SET patient = 'someone-else' WHERE seq = 4;"
         "DELETE FROM audit_checkpoint WHERE seq = 10;");
  auto r = VerifyOk();
  EXPECT_TRUE(Has(r, ProblemKind::kRowMismatch, 4)) << Describe(r);
  EXPECT_TRUE(Has(r, ProblemKind::kCheckpointRemoved, 10)) << Describe(r);
}

TEST_F(AuditLogTest, RetiredKeysStayVerifiableThroughTheArchive) {
  MakeClosedLog();
  std::string old_kid = keys_->Current().kid();
  ASSERT_TRUE(keys_->Rotate(/*keep=*/0).ok());  // the old key file is deleted
  ASSERT_FALSE(fs::exists(fs::path(dir_.path()) / "keys" / (old_kid + ".pem")));
  {
    auto log = OpenLog(10);
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(log->Append({MakeEvent("p1", 26)}).ok());
    ASSERT_TRUE(log->Close().ok());
  }
  auto r = VerifyOk();
  EXPECT_TRUE(r.intact()) << Describe(r);
  EXPECT_EQ(r.signed_through, 26);
  // Without the archive the old checkpoints cannot be checked: reported.
  fs::remove(fs::path(dir_.path()) / "audit-keys" / (old_kid + ".json"));
  auto r2 = VerifyOk();
  EXPECT_TRUE(Has(r2, ProblemKind::kCheckpointInvalid, 10)) << Describe(r2);
  // Pinned keys only: an operator-supplied key set that lacks the new key.
  VerifyOptions pinned;
  pinned.only_trusted_keys = true;
  auto r3 = Verify(dir_.path(), pinned);
  ASSERT_TRUE(r3.ok());
  EXPECT_FALSE(r3->intact());
}

TEST_F(AuditLogTest, CitizenAccessLogNewestFirstPagedWithoutFnr) {
  auto log = OpenLog(100);
  ASSERT_NE(log, nullptr);
  for (int i = 1; i <= 12; ++i)
    ASSERT_TRUE(log->Append({MakeEvent(i % 2 ? "anna" : "bo", i)}).ok());
  auto page1 = log->EventsForPatient("anna", 4);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->entries.size(), 4u);
  EXPECT_EQ(page1->entries[0].seq, 11);
  EXPECT_EQ(page1->entries[3].seq, 5);
  EXPECT_EQ(page1->next_before, 5);
  auto page2 = log->EventsForPatient("anna", 4, page1->next_before);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->entries.size(), 2u);
  EXPECT_EQ(page2->entries[0].seq, 3);
  EXPECT_EQ(page2->entries[1].seq, 1);
  EXPECT_EQ(page2->next_before, 0);
  const AccessSummary& s = page1->entries[0];  // event 11: BTG
  EXPECT_EQ(s.who, "Lege 4");
  EXPECT_EQ(s.role, "Lege");
  EXPECT_EQ(s.organisation, "Oslo universitetssykehus HF");
  EXPECT_TRUE(s.break_the_glass);
  EXPECT_EQ(s.basis, "BTG (break the glass)");
  EXPECT_EQ(s.time_us, kT0 + 11 * 1000);
  EXPECT_FALSE(page1->entries[1].break_the_glass);
  auto none = log->EventsForPatient("nobody", 10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->entries.empty());
}

// ---- CLI ----

int RunCli(const std::string& args, std::string* out = nullptr) {
  std::string cmd = std::string(GM_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  std::string text;
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int status = pclose(p);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(AuditLogTest, CliExitCodes) {
  ASSERT_TRUE(fs::exists(GM_BINARY)) << "build grunnmur first";
  MakeClosedLog();
  std::string out;
  EXPECT_EQ(RunCli("audit verify --data " + dir_.path(), &out), 0) << out;
  EXPECT_NE(out.find("intact"), std::string::npos) << out;
  EXPECT_NE(out.find("25 records"), std::string::npos) << out;
  // A tampered copy: 1.
  testing::TempDir copy;
  fs::copy(dir_.path(), copy.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((fs::path(copy.path()) / "audit.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "DROP TRIGGER audit_event_no_delete; DELETE FROM audit_event WHERE seq = 12",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_EQ(RunCli("audit verify --data " + copy.path(), &out), 1) << out;
  EXPECT_NE(out.find("event-removed seq=13"), std::string::npos) << out;
  // The original is untouched: still 0.
  EXPECT_EQ(RunCli("audit verify --data " + dir_.path(), &out), 0) << out;
  // No log at all: 2.
  testing::TempDir empty;
  EXPECT_EQ(RunCli("audit verify --data " + empty.path(), &out), 2) << out;
  // Not an audit database: 2.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((fs::path(empty.path()) / "audit.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_EQ(RunCli("audit verify --data " + empty.path(), &out), 2) << out;
}

}  // namespace
}  // namespace gm::audit
