// Subcommands other than serve, each in its own file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gm::rest {
class Service;
}
namespace gm::store {
class Store;
}

namespace gm::trust {
class Jwk;
}

namespace gm::cli {

struct FhirPathArgs {
  std::string expression;
  std::string input;  // empty: standard input
  bool lines = false;
};
// grunnmur fhirpath EXPR [--input FILE]: prints the result collection as JSON.
int RunFhirPath(const FhirPathArgs& args);

struct ReindexArgs {
  std::string data = "./var";  // the data directory
  size_t batch = 500;          // resources per write transaction
  int64_t max_batches = 0;     // > 0: stop after this many batches (exit status 3)
  bool restart = false;        // ignore saved progress
};
// grunnmur reindex --data DIR: re-extracts every current resource's search
// index; resumable (reindex_cmd.cc).
int RunReindex(const ReindexArgs& args);

struct CheckArgs {
  std::string data = "./var";  // the data directory
  std::string scratch;         // directory for the scratch copy; empty: a new one in /tmp
};
// grunnmur check --data DIR: offline consistency check (check_cmd.cc).
// Exit status 0 clean, 1 problems listed, 2 could not check.
int RunCheck(const CheckArgs& args);

// grunnmur synth / load / serve --demo (synth_cmd.cc, load_cmd.cc).
struct SynthArgs {
  size_t patients = 1000;
  uint64_t seed = 1;
  std::string out;
  std::string format = "ndjson";  // ndjson | bundles
  int threads = 0;                 // 0: 1 below 4 cores, else cores − 1 (the output does not depend on it)
};
int RunSynth(const SynthArgs& args);

struct IngestArgs {
  std::vector<std::string> files;  // Svarrapport XML messages
  std::string url;                 // http://HOST:PORT[/base]
  std::string token;               // access token (default: $GRUNNMUR_TOKEN)
};
// grunnmur ingest svarrapport FILE… --url URL: POSTs each message to
// [base]/$svarrapport (ingest_cmd.cc). Exit 0 all ingested, 1 some rejected,
// 2 server unreachable or a file unreadable.
int RunIngestSvarrapport(const IngestArgs& args);

struct LoadArgs {
  std::string dir;
  std::string url;  // http://HOST:PORT[/base]
  size_t connections = 4;
  size_t patients_per_bundle = 10;    // bundles format: patient transactions merged per request
  size_t resources_per_bundle = 250;  // ndjson format
  std::string token;  // access token (default: $GRUNNMUR_TOKEN); see `grunnmur token`
};
int RunLoad(const LoadArgs& args);

// The token issuer of a data directory: its signing keys live in <data>/keys.
inline constexpr const char* kDefaultIssuer = "urn:grunnmur:issuer";
inline constexpr const char* kDefaultAudience = "grunnmur";

struct TokenArgs {
  std::string data = "./var";
  std::string scope;
  std::string hpr;        // --as-hpr: a clinician's HPR number
  std::string pid;        // --as-pid: a person's fødselsnummer
  std::string client_id = "grunnmur-operator";
  std::string orgnr;      // the client's legal entity
  std::string cnf_jkt;    // bind to a DPoP key (its RFC 7638 thumbprint)
  int64_t ttl = 300;
  std::string issuer = kDefaultIssuer;
  std::string audience = kDefaultAudience;
  // The trust-framework attestation (token_cmd.cc; docs/trust.md), for tests
  // and operators standing in for an EHR:
  std::vector<std::string> attest_patients;  // --attest-patient FNR (repeatable)
  std::string purpose = "TREAT";             // --purpose TREAT|ETREAT|COC|BTG
  bool btg = false;                          // --btg: purpose BTG
  std::string attest_authorization;          // --attest-authorization LE (default: none stated)
  int64_t attest_age = 0;                    // --attest-age S: toa this many seconds ago
  bool declare_consent = false;              // --declare-consent: SAMTYKKE (opens a sperring)
  std::string client_kind;                   // --client-kind ehr|pharmacy|lab|operator
  std::string orgnr_child;                   // --orgnr-child
};
// grunnmur token --data DIR --scope S: prints an access token signed with the
// server's own key (token_cmd.cc). Works only with access to the data directory.
int RunToken(const TokenArgs& args);

struct ClientArgs {
  std::string data = "./var";
  std::string client_id, jwks_file, scope, name, orgnr_parent, orgnr_child;
  std::vector<std::string> redirect_uris;  // --redirect-uri (repeatable)
  std::vector<std::string> grant_types;    // --grant-type (repeatable)
};
// grunnmur client add: registers a client's public keys and allowed scopes
// (token_cmd.cc).
int RunClientAdd(const ClientArgs& args);

struct KeysArgs {
  std::string data = "./var";
  size_t keep = 2;  // older keys kept (published, still verifying) after a rotation
  // Seconds until the new key signs (it verifies at once); -1: 0 for a
  // SQLite data directory, KeyRing::kDefaultActivationDelayS for PostgreSQL.
  int64_t activate_after_s = -1;
};
// grunnmur keys rotate|list --data DIR: the issuer's signing keys (keys_cmd.cc).
int RunKeysRotate(const KeysArgs& args);
int RunKeysList(const KeysArgs& args);

// The public keys of an external issuer, from a JWKS file the operator
// configured (serve --trusted-jwks); private keys and unusable keys are refused.
// Returns false with `error` set on failure (keys_cmd.cc).
bool LoadTrustedJwks(const std::string& file, std::vector<trust::Jwk>& keys, std::string& error);

struct AuditVerifyArgs {
  std::string data = "./var";
  std::string jwks_file;  // --jwks: extra public keys pinned by the operator
  bool only_jwks = false;  // --only-jwks: trust only those
  std::string db;          // --db postgresql://…: the chain shared by the nodes on that database
};
// grunnmur audit verify --data DIR: checks the audit log's hash chain and
// signed checkpoints (audit_cmd.cc). Exit 0 intact, 1 tampering, 2 cannot check.
int RunAuditVerify(const AuditVerifyArgs& args);

struct BackupArgs {
  std::string data = "./var";  // the data directory
  std::string to;              // the backup file
};
// grunnmur backup --data DIR --to FILE: an online, consistent copy of the
// SQLite store while the server runs (backup_cmd.cc). For a PostgreSQL store
// it explains pg_dump instead. Exit 0 done, 1 failed, 2 not an SQLite store.
int RunBackup(const BackupArgs& args);

// The fixed seed of the demo population.
inline constexpr uint64_t kDemoSeed = 20261129;
// The part of the demo population that loads after LoadDemo returned.
// Stop() (also the destructor) ends it after the transactions in flight;
// call it before the store closes.
class DemoBackground {
 public:
  DemoBackground();
  ~DemoBackground();
  DemoBackground(const DemoBackground&) = delete;
  DemoBackground& operator=(const DemoBackground&) = delete;
  void Stop();
  struct State;

 private:
  friend int LoadDemo(rest::Service&, store::Store&, size_t, DemoBackground*);
  std::unique_ptr<State> state_;
};
// If the store is empty, generates `patients` synthetic citizens (kDemoSeed)
// and writes them through `service` (transactions, as over HTTP). With
// `background`, only the registry and the first 100 citizens are loaded
// before it returns and the rest loads on a background thread (synth_cmd.cc).
// 0 on success or when the store was not empty, 1 on failure.
int LoadDemo(rest::Service& service, store::Store& store, size_t patients,
             DemoBackground* background = nullptr);

}  // namespace gm::cli
