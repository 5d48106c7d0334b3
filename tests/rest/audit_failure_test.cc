// When the audit record of a read cannot be written, the data is not
// returned (rest/auth.h AuditAccess); a write's audit commits in the write's
// own transaction (rest/audit_outbox.h), so a write is acknowledged only with
// its audit record durable, and the record reaches the chain later if the
// chain is down. A Service over a real SQLite store and a real audit log,
// which is then closed so that appends fail, then reopened.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "audit/log.h"
#include "core/clock.h"
#include "fhir/model.h"
#include "rest/audit_outbox.h"
#include "rest/service.h"
#include "search/fhirpath_indexer.h"
#include "store/store.h"
#include "trust/tokens.h"

namespace gm::rest {
namespace {

TEST(AuditFailure, NoAuditNoDataAndNoAcknowledgement) {
  char tmpl[] = "/tmp/gm-audit-failure-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    auto store = store::OpenSqlite(store::SqliteOptions{.directory = dir});
    ASSERT_TRUE(store.ok());
    const fhir::Model& model = fhir::Model::R4();
    search::FhirPathIndexer indexer(model);
    SystemClock clock;
    auto keys = trust::KeyRing::InMemory();
    trust::VerifierOptions vo;
    vo.issuers.push_back(trust::TrustedIssuer{"urn:test", keys, {}, 3600});
    vo.audience = "grunnmur";
    trust::TokenVerifier verifier(vo, clock);
    trust::TokenIssuer issuer(keys, "urn:test", "grunnmur", clock);
    trust::IssueRequest ir;
    ir.subject = ir.client_id = "operator";
    ir.scope = "system/*.cruds";
    const std::string token = issuer.Issue(ir);
    auto log = audit::AuditLog::Open(audit::LogOptions{.data_dir = dir, .keys = keys, .clock = &clock});
    ASSERT_TRUE(log.ok()) << log.status().message();

    int next_id = 0;
    AuditingStore audited(**store);
    Context ctx{audited, model, clock, indexer, [&] { return "id" + std::to_string(++next_id); },
                Options{}};
    ctx.verifier = &verifier;
    ctx.audit = log->get();
    Service service(ctx, nullptr);
    service.MarkReady();
    auto request = [&](std::string method, std::string path, std::string body = {}) {
      http::Request r;
      r.method = std::move(method);
      r.target = path;
      const size_t q = path.find('?');
      r.path = path.substr(0, q);
      if (q != std::string::npos) r.query = path.substr(q + 1);
      r.headers = {{"authorization", "Bearer " + token}};
      if (!body.empty()) r.headers.push_back({"content-type", "application/fhir+json"});
      r.body = std::move(body);
      return service.Handle(r);
    };
    const std::string obs =
        R"({"resourceType":"Observation","id":"o1","status":"final","code":{"text":"SECRET-MARK"},"subject":{"reference":"Patient/p1"}})";
    http::Response put = request("PUT", "/Observation/o1", obs);
    ASSERT_EQ(put.status, 201) << put.body;
    const int64_t after_write = (*log)->last_seq();
    EXPECT_EQ(after_write, 1);  // the write's audit event, for Patient/p1
    http::Response ok = request("GET", "/Observation/o1");
    EXPECT_EQ(ok.status, 200);
    EXPECT_NE(ok.body.find("SECRET-MARK"), std::string::npos);
    EXPECT_EQ((*log)->last_seq(), after_write + 1);

    ASSERT_TRUE((*log)->Close().ok());
    http::Response read = request("GET", "/Observation/o1");
    EXPECT_EQ(read.status, 503) << read.body;
    EXPECT_EQ(read.body.find("SECRET-MARK"), std::string::npos) << read.body;
    EXPECT_NE(read.body.find("GM-AUDIT-030"), std::string::npos) << read.body;
    http::Response search = request("GET", "/Observation?code:text=SECRET-MARK");
    EXPECT_EQ(search.status, 503);
    EXPECT_EQ(search.body.find("SECRET-MARK"), std::string::npos) << search.body;
    // A write whose audit cannot be chained now: its audit record commits
    // with it in the outbox, so it is acknowledged.
    auto pending = (*store)->PendingAudit(10);
    ASSERT_TRUE(pending.ok());
    const size_t before = pending->size();  // the first write's row, until a relay removes it
    http::Response write = request("PUT", "/Observation/o1", obs);
    EXPECT_EQ(write.status, 200) << write.body;
    pending = (*store)->PendingAudit(10);
    ASSERT_TRUE(pending.ok());
    ASSERT_EQ(pending->size(), before + 1);
    EXPECT_EQ(pending->back().patient_id, "p1");
    EXPECT_NE(pending->back().event.find("\"update\""), std::string::npos) << pending->back().event;
    // A refused write stages nothing.
    http::Response bad = request("PUT", "/Observation/o1", R"({"resourceType":"Observation","id":"o1"})");
    EXPECT_GE(bad.status, 400) << bad.body;  // 400, or 503 as its failure cannot be audited now
    pending = (*store)->PendingAudit(10);
    ASSERT_TRUE(pending.ok());
    EXPECT_EQ(pending->size(), before + 1);

    // The chain comes back (a restart): the relay chains what the outbox
    // holds exactly once (the first write's row is already chained) and
    // empties the outbox.
    auto reopened = audit::AuditLog::Open(audit::LogOptions{.data_dir = dir, .keys = keys, .clock = &clock});
    ASSERT_TRUE(reopened.ok()) << reopened.status().message();
    EXPECT_EQ((*reopened)->last_seq(), after_write + 1);
    AuditRelay relay(**store, **reopened);
    ASSERT_TRUE(relay.DrainAll().ok());
    EXPECT_EQ((*reopened)->last_seq(), after_write + 2);
    pending = (*store)->PendingAudit(10);
    ASSERT_TRUE(pending.ok());
    EXPECT_TRUE(pending->empty());
    ASSERT_TRUE(relay.DrainAll().ok());  // nothing left: nothing added
    EXPECT_EQ((*reopened)->last_seq(), after_write + 2);
    auto page = (*reopened)->EventsForPatient("p1", 10);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->entries.size(), 3u);
    EXPECT_EQ(page->entries[0].interaction, "update");
    ASSERT_TRUE((*reopened)->Close().ok());
    auto report = audit::Verify(dir);
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE(report->intact());
    EXPECT_EQ(report->events, 3);
    (*store)->Close();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gm::rest
