// grunnmur audit verify --data DIR [--db URL]: walks the tamper-evident audit
// log (<data>/audit.db, or with --db the chain all nodes share in that
// PostgreSQL database; --data then only adds its key ring) and reports every
// problem. Exit status: 0 intact,
// 1 tampering found, 2 could not check (no log, not an audit database, I/O,
// unreadable --jwks).
#include <fstream>
#include <iostream>
#include <sstream>

#include "audit/log.h"
#include "cli/commands.h"
#include "core/json.h"
#include "trust/jose.h"

namespace gm::cli {

int RunAuditVerify(const AuditVerifyArgs& args) {
  audit::VerifyOptions options;
  options.only_trusted_keys = args.only_jwks;
  options.database_url = args.db;
  if (!args.jwks_file.empty()) {
    std::ifstream in(args.jwks_file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    auto jwks = json::Parse(ss.str());
    const json::Value* keys = jwks.ok() ? jwks->find("keys") : nullptr;
    if (!in || !keys || !keys->is_array()) {
      std::cerr << "cannot read a JWKS from " << args.jwks_file << "\n";
      return 2;
    }
    for (const json::Value& k : keys->array()) {
      auto jwk = trust::Jwk::FromJson(k);
      if (!jwk.ok()) {
        std::cerr << "a key in " << args.jwks_file << " is unusable: " << jwk.status().message()
                  << "\n";
        return 2;
      }
      options.trusted_keys.push_back(*jwk);
    }
  }
  auto report = audit::Verify(args.data, options);
  if (!report.ok()) {
    std::cerr << "cannot check the audit log: " << report.status().message() << " ("
              << report.status().code() << ")\n";
    return 2;
  }
  const audit::VerifyReport& r = *report;
  std::cout << "audit log: " << r.events << " records";
  if (r.events > 0) std::cout << " (seq " << r.first_seq << "–" << r.last_seq << ")";
  std::cout << ", " << r.checkpoints << " checkpoints, signed through seq " << r.signed_through
            << "\n";
  if (r.intact()) {
    std::cout << "intact\n";
    return 0;
  }
  std::cout << r.problems.size() << (r.truncated_report ? "+" : "") << " problems:\n";
  for (const audit::Problem& p : r.problems)
    std::cout << "  " << audit::ProblemKindName(p.kind) << " seq=" << p.seq << ": " << p.detail
              << "\n";
  std::cout << "TAMPERING FOUND\n";
  return 1;
}

}  // namespace gm::cli
