// grunnmur token: an operator (or a test script) mints an access token with
// the server's own signing key. Anyone who can read the data directory can
// do this, which is exactly who can read the data anyway.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "core/clock.h"
#include "trust/clients.h"
#include "trust/tokens.h"
#include <fstream>
#include <sstream>

namespace gm::cli {

int RunToken(const TokenArgs& args) {
  if (!std::filesystem::is_directory(args.data)) {
    std::cerr << "no data directory at " << args.data << "\n";
    return 2;
  }
  if (args.ttl <= 0 || args.ttl > 24 * 3600) {
    std::cerr << "--ttl must be between 1 and 86400 seconds\n";
    return 2;
  }
  auto keys = trust::KeyRing::Open((std::filesystem::path(args.data) / "keys").string());
  if (!keys.ok()) {
    std::cerr << "cannot open the signing keys: " << keys.status().message() << "\n";
    return 2;
  }
  SystemClock clock;
  trust::TokenIssuer issuer(*keys, args.issuer, args.audience, clock);
  trust::IssueRequest r;
  r.client_id = args.client_id;
  r.subject = !args.hpr.empty() ? "hpr:" + args.hpr : !args.pid.empty() ? "pid:" + args.pid
                                                                          : args.client_id;
  r.scope = args.scope;
  r.hpr_number = args.hpr;
  r.pid = args.pid;
  r.security_level = args.pid.empty() ? 0 : 4;
  r.orgnr_parent = args.orgnr;
  r.cnf_jkt = args.cnf_jkt;
  r.ttl_seconds = args.ttl;
  std::cout << issuer.Issue(r) << std::endl;
  return 0;
}

int RunClientAdd(const ClientArgs& args) {
  std::ifstream in(args.jwks_file, std::ios::binary);
  if (!in) {
    std::cerr << "cannot read " << args.jwks_file << "\n";
    return 2;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto jwks = json::Parse(ss.str());
  if (!jwks.ok()) {
    std::cerr << "the JWKS file is not JSON: " << jwks.status().message() << "\n";
    return 2;
  }
  trust::ClientRegistry registry((std::filesystem::path(args.data) / "clients").string());
  Status st = registry.Put(args.client_id, args.name, *jwks, args.scope, args.orgnr_parent,
                           args.orgnr_child);
  if (!st.ok()) {
    std::cerr << "client not registered: " << st.message() << "\n";
    return 1;
  }
  std::cout << "client " << args.client_id << " registered\n";
  return 0;
}

}  // namespace gm::cli
