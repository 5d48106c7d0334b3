// grunnmur: one binary, subcommands. `grunnmur --help` lists them.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "audit/log.h"
#include "rest/audit_outbox.h"
#include "cli/commands.h"
#include "fhir/model.h"
#include "http/server.h"
#include "rest/outcome.h"
#include "rest/engine.h"
#include "rest/service.h"
#include "search/fhirpath_indexer.h"
#include "search/page_token.h"
#include "store/store.h"
#include "store/postgres/pg_store.h"
#include "trust/postgres/pg_replay.h"
#include "trust/tokens.h"

namespace {

constexpr const char* kVersion = "0.1.0";

std::string NewUuid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(a >> 32), static_cast<unsigned>((a >> 16) & 0xffff),
                static_cast<unsigned>(a & 0xffff), static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

struct ServeArgs {
  std::string listen = "127.0.0.1:8080";
  std::string data = "./var";
  std::string base_url;
  int lab_release_delay_days = 14;
  size_t io_threads = 2;
  size_t worker_threads = 64;
  size_t max_body_mib = 32;
  int64_t read_timeout_ms = 30000;
  int64_t idle_timeout_ms = 60000;
  std::string log_level = "info";
  std::string auth = "required";  // required | off
  std::string issuer = gm::cli::kDefaultIssuer;
  std::string audience = gm::cli::kDefaultAudience;
  std::vector<std::string> profiles;  // --profiles DIR (repeatable): StructureDefinitions/ValueSets/CodeSystems to load
  size_t demo = 0;  // --demo N: load N synthetic citizens into an empty store (synth_cmd.cc)
  // --db postgresql://user@host:port/db: the PostgreSQL store instead of the
  // embedded SQLite one (keys and the rest of the data directory stay in --data).
  std::string db;
  size_t db_connections = 8;  // --db-connections: PostgreSQL pool size
  int definitions_refresh_s = 10;  // --definitions-refresh: seconds (PostgreSQL; 0 = off)
  // External issuers (the real HelseID, Keycloak): --trusted-issuer URL and
  // --trusted-jwks FILE, repeated in pairs; keys only from the files.
  std::vector<std::string> trusted_issuers, trusted_jwks;
  std::vector<std::string> trusted_audiences;  // none, or one per --trusted-issuer
};

int Serve(const ServeArgs& args) {
  spdlog::set_level(spdlog::level::from_str(args.log_level));
  std::string host = args.listen;
  uint16_t port = 8080;
  if (size_t colon = args.listen.rfind(':'); colon != std::string::npos) {
    host = args.listen.substr(0, colon);
    port = static_cast<uint16_t>(std::stoi(args.listen.substr(colon + 1)));
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::error_code ec;
  std::filesystem::create_directories(args.data, ec);
  if (ec) {
    spdlog::error("cannot create data directory {}: {}", args.data, ec.message());
    return 1;
  }

  // Signals are taken by a dedicated wait below; block them in every thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const gm::fhir::Model& model = gm::fhir::Model::R4();
  // --db, or the database this data directory's server used before.
  const std::string db =
      args.db.empty() ? gm::store::RememberedDatabase(args.data) : args.db;
  if (!db.empty() && !gm::store::IsPostgresUrl(db)) {
    spdlog::error("--db must be a postgresql:// URL");
    return 1;
  }
  if (!args.db.empty()) {
    if (gm::Status st = gm::store::RememberDatabase(args.data, args.db); !st.ok()) {
      spdlog::error("{}", st.message());
      return 1;
    }
  }
  auto store = db.empty()
                   ? gm::store::OpenSqlite(gm::store::SqliteOptions{.directory = args.data})
                   : gm::store::OpenPostgres(gm::store::PostgresOptions{
                         .url = db, .connections = args.db_connections});
  if (!store.ok()) {
    spdlog::error("cannot open the store in {}: {}", db.empty() ? args.data : "PostgreSQL",
                  store.status().message());
    return 1;
  }
  gm::search::FhirPathIndexer indexer(model);
  gm::SystemClock clock;
  auto page_tokens = gm::search::PageTokenCodec::FromDirectory(args.data);
  if (!page_tokens.ok()) {
    spdlog::error("{}", page_tokens.status().message());
    (*store)->Close();
    return 1;
  }

  gm::http::ServerOptions options;
  options.host = host;
  options.port = port;
  options.io_threads = args.io_threads;
  options.worker_threads = args.worker_threads;
  options.max_body_bytes = args.max_body_mib << 20;
  options.read_timeout = std::chrono::milliseconds(args.read_timeout_ms);
  options.idle_timeout = std::chrono::milliseconds(args.idle_timeout_ms);

  // Profiles: those in --profiles DIR, then those stored through the API.
  gm::profile::ProfileRegistry profiles(model);
  for (const std::string& dir : args.profiles) {
    gm::Status st = profiles.LoadDirectory(dir);
    if (!st.ok()) {
      for (const auto& i : st.issues()) spdlog::warn("profiles: {}", i.text);
    }
    spdlog::info("{} profiles loaded (after {})", profiles.size(), dir);
  }

  // Access tokens: grunnmur's own issuer signs with the keys in <data>/keys.
  if (args.auth != "required" && args.auth != "off") {
    spdlog::error("--auth must be 'required' or 'off'");
    (*store)->Close();
    return 1;
  }
  auto keys = gm::trust::KeyRing::Open((std::filesystem::path(args.data) / "keys").string());
  if (!keys.ok()) {
    spdlog::error("cannot open the signing keys: {}", keys.status().message());
    (*store)->Close();
    return 1;
  }
  gm::trust::VerifierOptions verifier_options;
  verifier_options.issuers.push_back(gm::trust::TrustedIssuer{args.issuer, *keys, {}, 24 * 3600, {}});
  verifier_options.audience = args.audience;
  if (args.trusted_issuers.size() != args.trusted_jwks.size() ||
      (!args.trusted_audiences.empty() &&
       args.trusted_audiences.size() != args.trusted_issuers.size())) {
    spdlog::error("--trusted-issuer and --trusted-jwks must be given in pairs (and "
                  "--trusted-audience, if given, once per --trusted-issuer)");
    (*store)->Close();
    return 1;
  }
  for (size_t i = 0; i < args.trusted_issuers.size(); ++i) {
    gm::trust::TrustedIssuer external{args.trusted_issuers[i], nullptr, {}, 3600,
                                      args.trusted_audiences.empty() ? std::string()
                                                                     : args.trusted_audiences[i]};
    std::string error;
    if (external.issuer.empty() || external.issuer == args.issuer ||
        !gm::cli::LoadTrustedJwks(args.trusted_jwks[i], external.keys, error)) {
      spdlog::error("trusted issuer {}: {}", external.issuer,
                    error.empty() ? "must be non-empty and differ from --issuer" : error);
      (*store)->Close();
      return 1;
    }
    spdlog::info("trusting tokens of {} ({} keys from {})", external.issuer,
                 external.keys.size(), args.trusted_jwks[i]);
    verifier_options.issuers.push_back(std::move(external));
  }
  // Several nodes on one PostgreSQL database: DPoP proof and client-assertion
  // jti values are remembered in the database, so a replay to another node fails.
  std::shared_ptr<gm::trust::PgReplayStore> replay_store;
  if (!db.empty()) {
    auto opened = gm::trust::PgReplayStore::Open(db);
    if (!opened.ok()) {
      spdlog::error("{}", opened.status().message());
      (*store)->Close();
      return 1;
    }
    replay_store = *opened;
    verifier_options.dpop_replay = replay_store->Guard("dpop");
  }
  gm::trust::TokenVerifier verifier(verifier_options, clock);
  if (args.auth == "off") {
    spdlog::warn("authentication is OFF (--auth off): every client may read and write everything");
  }

  gm::http::Server* server_ptr = nullptr;
  gm::rest::Options rest_options;
  rest_options.software_version = kVersion;
  rest_options.lab_release_delay_days = args.lab_release_delay_days;
  // Writes through the REST layer stage their audit in their own transaction
  // (rest/audit_outbox.h).
  gm::rest::AuditingStore audited_store(**store);
  gm::rest::Context context{audited_store, model,          clock,
                            indexer,     NewUuid,        rest_options,
                            page_tokens->get(), &profiles};
  context.verifier = args.auth == "off" ? nullptr : &verifier;
  context.keys = *keys;
  context.issuer = args.issuer;
  // The token endpoint: clients registered with `grunnmur client add`.
  gm::trust::ClientRegistry clients((std::filesystem::path(args.data) / "clients").string());
  gm::trust::TokenIssuer token_issuer(*keys, args.issuer, args.audience, clock);
  std::shared_ptr<gm::trust::ReplayGuard> assertion_jtis =
      replay_store ? replay_store->Guard("assertion")
                   : std::shared_ptr<gm::trust::ReplayGuard>(std::make_shared<gm::trust::ReplayCache>());
  context.clients = &clients;
  context.token_issuer = &token_issuer;
  context.assertion_jtis = assertion_jtis.get();
  gm::trust::AuthCodeStore auth_codes(clock);  // /par, /authorize (people)
  context.auth_codes = &auth_codes;
  // The audit log: <data>/audit.db, or with PostgreSQL one chain in the shared
  // database (all nodes); checkpoints signed with the same keys.
  auto audit_log = gm::audit::AuditLog::Open(gm::audit::LogOptions{
      .data_dir = args.data, .database_url = db, .keys = *keys, .clock = &clock});
  if (!audit_log.ok()) {
    spdlog::error("cannot open the audit log: {}", audit_log.status().message());
    (*store)->Close();
    return 1;
  }
  context.audit = audit_log->get();
  // The audit outbox: rows a crash left behind are chained before serving;
  // a background pass takes over any the request threads could not chain.
  gm::rest::AuditRelay audit_relay(**store, **audit_log);
  if (gm::Status st = audit_relay.DrainAll(); !st.ok()) {
    spdlog::warn("the audit outbox could not be drained yet: {}", st.message());
  }
  audit_relay.Start(1000);
  if (gm::Status st = gm::rest::LoadStoredProfiles(context); !st.ok()) {
    spdlog::error("cannot load the stored profiles: {}", st.message());
    (*store)->Close();
    return 1;
  }
  // Several nodes on one PostgreSQL database: definitions (profiles, value
  // sets, code systems) written through another node are picked up within
  // --definitions-refresh seconds. Each poll looks back a minute, so clock
  // differences between nodes up to that do not lose a definition.
  std::mutex refresh_mu;
  std::condition_variable refresh_cv;
  bool refresh_stop = false;
  std::thread refresher;
  if (!db.empty() && args.definitions_refresh_s > 0) {
    refresher = std::thread([&] {
      int64_t since = clock.NowUs();
      std::unique_lock<std::mutex> lock(refresh_mu);
      while (!refresh_cv.wait_for(lock, std::chrono::seconds(args.definitions_refresh_s),
                                  [&] { return refresh_stop; })) {
        lock.unlock();
        const int64_t started = clock.NowUs();
        auto newest = gm::rest::RefreshStoredProfiles(context, since - 60'000'000);
        if (!newest.ok()) spdlog::warn("refreshing definitions: {}", newest.status().message());
        else since = std::max(started, *newest);
        lock.lock();
      }
    });
  }
  auto stop_refresher = [&] {
    {
      std::lock_guard<std::mutex> lock(refresh_mu);
      refresh_stop = true;
    }
    refresh_cv.notify_all();
    if (refresher.joinable()) refresher.join();
  };
  gm::rest::Service service(
      context,
      [&]() -> std::string {
        std::string extra;
        if (auto stats = (*store)->Stats(); stats.ok()) {
          extra += "# TYPE grunnmur_store_resources gauge\ngrunnmur_store_resources " +
                   std::to_string(stats->resources) + "\n";
          extra += "# TYPE grunnmur_store_versions gauge\ngrunnmur_store_versions " +
                   std::to_string(stats->versions) + "\n";
          extra += "# TYPE grunnmur_store_bytes gauge\ngrunnmur_store_bytes " +
                   std::to_string(stats->bytes) + "\n";
        }
        return server_ptr ? server_ptr->metrics().Render(extra) : extra;
      });
  gm::http::Server server(
      options, [&](gm::http::Request& req) { return service.Handle(req); },
      [](int status, const std::string& code, const std::string& text) {
        return gm::rest::HttpErrorResponse(status, code, text);
      });
  server_ptr = &server;
  if (gm::Status st = server.Start(); !st.ok()) {
    spdlog::error("cannot listen on {}: {}", args.listen, st.message());
    stop_refresher();
    (*store)->Close();
    return 1;
  }
  // The real base URL (with the bound port) is known only now.
  std::string base = args.base_url;
  if (base.empty()) {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    base = "http://" + h + ":" + std::to_string(server.port());
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  rest_options.base_url = base;
  service.SetOptions(rest_options);
  service.MarkReady();
  gm::cli::DemoBackground demo_background;  // the rest of the demo loads while serving
  if (args.demo > 0 && gm::cli::LoadDemo(service, **store, args.demo, &demo_background) != 0) {
    spdlog::warn("the demo population was not (fully) loaded");
  }
  spdlog::info("grunnmur {} serving FHIR R4 at {} (data in {})", kVersion, base, args.data);
  if (context.verifier != nullptr) {
    spdlog::info("requests need an access token; an operator mints one with: grunnmur token "
                 "--data {} --scope 'system/*.cruds'",
                 args.data);
  }
  std::cout << "listening on " << base << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {} received: finishing in-flight requests", sig);
  service.SetDraining();
  server.Stop(std::chrono::seconds(20));
  server.Wait();
  demo_background.Stop();
  stop_refresher();
  audit_relay.Stop();
  if (gm::Status st = (*audit_log)->Close(); !st.ok()) {
    spdlog::error("closing the audit log: {}", st.message());
  }
  (*store)->Close();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"grunnmur — a FHIR R4 server for national e-health infrastructure"};
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);

  ServeArgs serve;
  CLI::App* serve_cmd = app.add_subcommand("serve", "Serve FHIR R4 over HTTP");
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  serve_cmd->add_option("--data", serve.data, "Data directory (the embedded SQLite database)")
      ->capture_default_str();
  serve_cmd->add_option("--base-url", serve.base_url,
                        "Public base URL (default: http://HOST:PORT)");
  serve_cmd->add_option("--lab-release-delay-days", serve.lab_release_delay_days,
                        "Days after a lab result is issued that a NORU (delayed release) result "
                        "becomes visible to the citizen without the requester's release")
      ->capture_default_str()
      ->check(CLI::Range(0, 3650));
  serve_cmd->add_option("--io-threads", serve.io_threads, "Network threads")->capture_default_str();
  serve_cmd->add_option("--workers", serve.worker_threads, "Request worker threads")
      ->capture_default_str();
  serve_cmd->add_option("--max-body-mib", serve.max_body_mib, "Largest request body, MiB")
      ->capture_default_str();
  serve_cmd->add_option("--read-timeout-ms", serve.read_timeout_ms,
                        "A whole request must arrive within this (slow clients: 408)")
      ->capture_default_str();
  serve_cmd->add_option("--idle-timeout-ms", serve.idle_timeout_ms,
                        "Idle keep-alive connections are closed after this")
      ->capture_default_str();
  serve_cmd->add_option("--log-level", serve.log_level, "trace|debug|info|warn|error|off")
      ->capture_default_str();
  serve_cmd->add_option("--auth", serve.auth,
                        "required: every data request needs an access token (default); off: "
                        "no authentication (development only)")
      ->capture_default_str();
  serve_cmd->add_option("--issuer", serve.issuer, "This server's token issuer (iss)")
      ->capture_default_str();
  serve_cmd->add_option("--audience", serve.audience, "The audience tokens must name (aud)")
      ->capture_default_str();
  serve_cmd->add_option("--profiles", serve.profiles,
                        "Directory of StructureDefinitions, ValueSets and CodeSystems that "
                        "writes claiming them are validated against (repeatable; later "
                        "directories may build on earlier ones)");
  serve_cmd->add_option("--demo", serve.demo,
                        "Load N synthetic citizens (fixed seed) if the store is empty");
  serve_cmd->add_option("--db", serve.db,
                        "PostgreSQL store, postgresql://user@host:port/db (default: SQLite in "
                        "--data); several nodes may share one database");
  serve_cmd->add_option("--definitions-refresh", serve.definitions_refresh_s,
                        "With --db: seconds between picking up profiles, value sets and code "
                        "systems written through other nodes (0: only at start)")
      ->capture_default_str();
  serve_cmd->add_option("--db-connections", serve.db_connections,
                        "PostgreSQL connection pool size")->capture_default_str();
  serve_cmd->add_option("--trusted-issuer", serve.trusted_issuers,
                        "Also accept tokens of this external issuer (exact iss; repeatable, "
                        "paired with --trusted-jwks)");
  serve_cmd->add_option("--trusted-jwks", serve.trusted_jwks,
                        "JWKS file with the public keys of the matching --trusted-issuer "
                        "(keys are never fetched from URLs)");
  serve_cmd->add_option("--trusted-audience", serve.trusted_audiences,
                        "The audience tokens of the matching --trusted-issuer must name "
                        "(default: --audience; give it once per --trusted-issuer or not at all)");

  app.add_subcommand("version", "Print the version")->callback([] {
    std::cout << "grunnmur " << kVersion << " (FHIR " << gm::fhir::Model::R4().version() << ")\n";
  });

  gm::cli::FhirPathArgs fhirpath_args;
  CLI::App* fp = app.add_subcommand("fhirpath", "Evaluate a FHIRPath expression");
  fp->add_option("expression", fhirpath_args.expression, "The FHIRPath expression")->required();
  fp->add_option("--input", fhirpath_args.input, "A JSON resource file (default: standard input)");
  fp->add_flag("--lines", fhirpath_args.lines, "One result item per line instead of a JSON array");

  gm::cli::ReindexArgs reindex_args;
  CLI::App* ri = app.add_subcommand("reindex", "Re-extract the search index of every resource");
  ri->add_option("--data", reindex_args.data, "Data directory")->capture_default_str();
  ri->add_option("--batch", reindex_args.batch, "Resources per transaction")->capture_default_str();
  ri->add_flag("--restart", reindex_args.restart, "Start from the beginning, ignoring progress");
  ri->add_option("--max-batches", reindex_args.max_batches, "Stop after N batches (exit status 3)");

  gm::cli::CheckArgs check_args;
  CLI::App* check_cmd = app.add_subcommand("check", "Verify a store offline (versions, JSON, index)");
  check_cmd->add_option("--data", check_args.data, "Data directory")->capture_default_str();
  check_cmd->add_option("--scratch", check_args.scratch, "Directory for the scratch copy");

  gm::cli::SynthArgs synth_args;
  CLI::App* synth_cmd = app.add_subcommand("synth", "Generate a deterministic synthetic Norway");
  synth_cmd->add_option("--patients", synth_args.patients, "Citizens")->capture_default_str();
  synth_cmd->add_option("--seed", synth_args.seed, "Random seed")->capture_default_str();
  synth_cmd->add_option("--out", synth_args.out, "Output directory")->required();
  synth_cmd->add_option("--format", synth_args.format, "ndjson|bundles")->capture_default_str();
  synth_cmd->add_option("--threads", synth_args.threads,
                        "Generator threads (0: 1 below 4 cores, else cores - 1)");

  gm::cli::LoadArgs load_args;
  CLI::App* load_cmd = app.add_subcommand("load", "Load synth output into a running server");
  load_cmd->add_option("dir", load_args.dir, "Directory written by grunnmur synth")->required();
  load_cmd->add_option("--url", load_args.url, "Server base URL, http://HOST:PORT")->required();
  load_cmd->add_option("--connections", load_args.connections, "Parallel connections")
      ->capture_default_str();
  load_cmd->add_option("--patients-per-bundle", load_args.patients_per_bundle,
                       "Bundles format: citizens per transaction")->capture_default_str();
  load_cmd->add_option("--token", load_args.token,
                       "Access token (default: $GRUNNMUR_TOKEN; mint one with grunnmur token)");
  load_cmd->add_option("--resources-per-bundle", load_args.resources_per_bundle,
                       "NDJSON format: resources per transaction")->capture_default_str();

  gm::cli::IngestArgs ingest_args;
  CLI::App* ingest_cmd = app.add_subcommand("ingest", "Send messages to a running server");
  ingest_cmd->require_subcommand(1);
  CLI::App* ingest_svar = ingest_cmd->add_subcommand(
      "svarrapport", "KITH Svarrapport XML (lab/radiology results) to POST /$svarrapport");
  ingest_svar->add_option("files", ingest_args.files, "Svarrapport XML files")->required();
  ingest_svar->add_option("--url", ingest_args.url, "Server base URL, http://HOST:PORT")->required();
  ingest_svar->add_option("--token", ingest_args.token,
                          "Access token (default: $GRUNNMUR_TOKEN; mint one with grunnmur token)");

  gm::cli::TokenArgs token_args;
  CLI::App* token_cmd =
      app.add_subcommand("token", "Print an access token signed with the server's own key");
  token_cmd->add_option("--data", token_args.data, "Data directory")->capture_default_str();
  token_cmd->add_option("--scope", token_args.scope, "SMART scopes, e.g. 'system/*.cruds'")
      ->required();
  token_cmd->add_option("--as-hpr", token_args.hpr, "Act as the clinician with this HPR number");
  token_cmd->add_option("--as-pid", token_args.pid, "Act as the person with this fødselsnummer");
  token_cmd->add_option("--client-id", token_args.client_id, "client_id")->capture_default_str();
  token_cmd->add_option("--orgnr", token_args.orgnr, "The client's organisasjonsnummer");
  token_cmd->add_option("--dpop-jkt", token_args.cnf_jkt, "Bind to this DPoP key thumbprint");
  token_cmd->add_option("--ttl", token_args.ttl, "Lifetime in seconds")->capture_default_str();
  token_cmd->add_option("--attest-patient", token_args.attest_patients,
                        "Attest a care relationship with this patient (FNR; repeatable)");
  token_cmd->add_option("--purpose", token_args.purpose, "Attested purpose: TREAT, ETREAT, COC, BTG")
      ->capture_default_str();
  token_cmd->add_flag("--btg", token_args.btg, "Emergency access (break the glass): purpose BTG");
  token_cmd->add_option("--attest-authorization", token_args.attest_authorization,
                        "Attested HPR authorisation (kodeverk 9060, e.g. LE)");
  token_cmd->add_option("--attest-age", token_args.attest_age,
                        "Seconds since the attestation was made (toa)");
  token_cmd->add_flag("--declare-consent", token_args.declare_consent,
                      "The clinician declares the patient's consent (opens a sperring)");
  token_cmd->add_option("--client-kind", token_args.client_kind,
                        "Kind of client system: ehr, pharmacy, lab, operator");
  token_cmd->add_option("--orgnr-child", token_args.orgnr_child, "The client's sub-unit orgnr");
  token_cmd->add_option("--issuer", token_args.issuer, "Issuer (as the server's --issuer)")
      ->capture_default_str();
  token_cmd->add_option("--audience", token_args.audience, "Audience (as the server's --audience)")
      ->capture_default_str();

  gm::cli::ClientArgs client_args;
  CLI::App* client_cmd = app.add_subcommand("client", "Manage registered OAuth clients");
  CLI::App* client_add = client_cmd->add_subcommand("add", "Register (or replace) a client");
  client_cmd->require_subcommand(1);
  client_add->add_option("--data", client_args.data, "Data directory")->capture_default_str();
  client_add->add_option("--id", client_args.client_id, "client_id")->required();
  client_add->add_option("--jwks", client_args.jwks_file, "File with the client's public JWKS")
      ->required();
  client_add->add_option("--scope", client_args.scope, "Scopes the client may be given")
      ->required();
  client_add->add_option("--name", client_args.name, "Display name");
  client_add->add_option("--orgnr", client_args.orgnr_parent, "Legal entity (orgnr)");
  client_add->add_option("--orgnr-child", client_args.orgnr_child, "Sub-unit (orgnr)");
  client_add->add_option("--redirect-uri", client_args.redirect_uris,
                         "Redirect URI for the authorization-code flow (exact; repeatable)");
  client_add->add_option("--grant-type", client_args.grant_types,
                         "client_credentials | authorization_code (repeatable; default: "
                         "client_credentials, plus authorization_code with a redirect URI)");

  gm::cli::KeysArgs keys_args;
  CLI::App* keys_cmd = app.add_subcommand("keys", "The issuer's signing keys (<data>/keys)");
  keys_cmd->require_subcommand(1);
  CLI::App* keys_rotate = keys_cmd->add_subcommand(
      "rotate", "Make a new signing key; previous ones stay published and verifying");
  keys_rotate->add_option("--data", keys_args.data, "Data directory")->capture_default_str();
  keys_rotate->add_option("--activate-after", keys_args.activate_after_s,
                          "Seconds until the new key signs (default: 0 on SQLite, 10 on "
                          "PostgreSQL, where several nodes share the keys)");
  keys_rotate->add_option("--keep", keys_args.keep, "Previous keys to keep (1-10)")
      ->capture_default_str();
  CLI::App* keys_list = keys_cmd->add_subcommand("list", "List the signing keys");
  keys_list->add_option("--data", keys_args.data, "Data directory")->capture_default_str();

  gm::cli::AuditVerifyArgs audit_args;
  CLI::App* audit_cmd = app.add_subcommand("audit", "The tamper-evident audit log");
  audit_cmd->require_subcommand(1);
  CLI::App* audit_verify =
      audit_cmd->add_subcommand("verify", "Check the audit log (exit 0 intact, 1 tampered, 2 cannot check)");
  audit_verify->add_option("--data", audit_args.data, "Data directory")->capture_default_str();
  audit_verify->add_option("--jwks", audit_args.jwks_file, "Extra trusted public keys (JWKS file)");
  audit_verify->add_flag("--only-jwks", audit_args.only_jwks, "Trust only the keys in --jwks");
  audit_verify->add_option("--db", audit_args.db,
                           "The shared audit chain in this PostgreSQL database (postgresql://…) "
                           "instead of <data>/audit.db");

  gm::cli::BackupArgs backup_args;
  CLI::App* backup_cmd =
      app.add_subcommand("backup", "Copy the SQLite store while the server runs (online backup)");
  backup_cmd->add_option("--data", backup_args.data, "Data directory")->capture_default_str();
  backup_cmd->add_option("--to", backup_args.to, "The backup file")->required();

  CLI11_PARSE(app, argc, argv);
  if (backup_cmd->parsed()) return gm::cli::RunBackup(backup_args);
  if (audit_verify->parsed()) return gm::cli::RunAuditVerify(audit_args);
  if (client_add->parsed()) return gm::cli::RunClientAdd(client_args);
  if (keys_rotate->parsed()) return gm::cli::RunKeysRotate(keys_args);
  if (keys_list->parsed()) return gm::cli::RunKeysList(keys_args);
  if (token_cmd->parsed()) return gm::cli::RunToken(token_args);
  if (serve_cmd->parsed()) return Serve(serve);
  if (fp->parsed()) return gm::cli::RunFhirPath(fhirpath_args);
  if (ri->parsed()) return gm::cli::RunReindex(reindex_args);
  if (check_cmd->parsed()) return gm::cli::RunCheck(check_args);
  if (synth_cmd->parsed()) return gm::cli::RunSynth(synth_args);
  if (load_cmd->parsed()) return gm::cli::RunLoad(load_args);
  if (ingest_svar->parsed()) return gm::cli::RunIngestSvarrapport(ingest_args);
  return 0;
}
