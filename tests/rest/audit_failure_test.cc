// When the audit record of an access cannot be written, the data is not
// returned (rest/auth.h AuditAccess): a Service over a real SQLite store and
// a real audit log, which is then closed so that appends fail.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "audit/log.h"
#include "core/clock.h"
#include "fhir/model.h"
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
    Context ctx{**store, model, clock, indexer, [&] { return "id" + std::to_string(++next_id); },
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
    http::Response write = request("PUT", "/Observation/o1", obs);
    EXPECT_EQ(write.status, 503) << write.body;
    (*store)->Close();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gm::rest
