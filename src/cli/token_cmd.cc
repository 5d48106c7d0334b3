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
  r.orgnr_child = args.orgnr_child;
  if (!args.client_kind.empty()) r.scope += " grunnmur:kind:" + args.client_kind;
  if (!args.attest_patients.empty()) {
    // The trust-framework attestation (nhn:tillitsrammeverk:parameters), as
    // an EHR would send it in its client assertion.
    const std::string purpose = args.btg ? "BTG" : args.purpose;
    json::Value practitioner = json::Value::MakeObject();
    if (!args.hpr.empty()) practitioner.set("hpr_nr", args.hpr);
    if (!args.attest_authorization.empty()) {
      json::Value a = json::Value::MakeObject();
      a.set("code", args.attest_authorization);
      a.set("system", "urn:oid:2.16.578.1.12.4.1.1.9060");
      practitioner.set("authorization", std::move(a));
    }
    if (!args.orgnr.empty()) practitioner.set("legal_entity", args.orgnr);
    if (!args.orgnr_child.empty()) practitioner.set("point_of_care", args.orgnr_child);
    json::Value care = json::Value::MakeObject();
    json::Value pou = json::Value::MakeObject();
    pou.set("code", purpose);
    pou.set("system", "urn:oid:2.16.840.1.113883.1.11.20448");
    care.set("purpose_of_use", std::move(pou));
    if (args.declare_consent) {
      json::Value details = json::Value::MakeObject();
      details.set("code", "SAMTYKKE");
      care.set("purpose_of_use_details", std::move(details));
    }
    json::Value patients = json::Value::MakeArray();
    for (const auto& p : args.attest_patients) {
      json::Value one = json::Value::MakeObject();
      one.set("identifier", p);
      patients.push_back(std::move(one));
    }
    json::Value d = json::Value::MakeObject();
    d.set("type", "nhn:tillitsrammeverk:parameters");
    d.set("practitioner", std::move(practitioner));
    d.set("care_relationship", std::move(care));
    d.set("patients", std::move(patients));
    d.set("toa", static_cast<int64_t>(clock.NowUs() / 1'000'000 - args.attest_age));
    json::Value list = json::Value::MakeArray();
    list.push_back(std::move(d));
    r.authorization_details = std::move(list);
  }
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
                           args.orgnr_child, args.redirect_uris, args.grant_types);
  if (!st.ok()) {
    std::cerr << "client not registered: " << st.message() << "\n";
    return 1;
  }
  std::cout << "client " << args.client_id << " registered\n";
  return 0;
}

}  // namespace gm::cli
