// grunnmur: one binary, subcommands. `grunnmur --help` lists them.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "cli/commands.h"
#include "fhir/model.h"
#include "http/server.h"
#include "rest/outcome.h"
#include "rest/engine.h"
#include "rest/service.h"
#include "search/fhirpath_indexer.h"
#include "search/page_token.h"
#include "store/store.h"
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
  size_t io_threads = 2;
  size_t worker_threads = 16;
  size_t max_body_mib = 32;
  int64_t read_timeout_ms = 30000;
  int64_t idle_timeout_ms = 60000;
  std::string log_level = "info";
  std::string auth = "required";  // required | off
  std::string issuer = gm::cli::kDefaultIssuer;
  std::string audience = gm::cli::kDefaultAudience;
  std::string profiles;  // --profiles DIR: StructureDefinitions/ValueSets/CodeSystems to load
  size_t demo = 0;  // --demo N: load N synthetic citizens into an empty store (synth_cmd.cc)
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
  auto store = gm::store::OpenSqlite(gm::store::SqliteOptions{.directory = args.data});
  if (!store.ok()) {
    spdlog::error("cannot open the store in {}: {}", args.data, store.status().message());
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
  if (!args.profiles.empty()) {
    gm::Status st = profiles.LoadDirectory(args.profiles);
    if (!st.ok()) {
      for (const auto& i : st.issues()) spdlog::warn("profiles: {}", i.text);
    }
    spdlog::info("{} profiles loaded from {}", profiles.size(), args.profiles);
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
  verifier_options.issuers.push_back(gm::trust::TrustedIssuer{args.issuer, *keys, {}, 24 * 3600});
  verifier_options.audience = args.audience;
  gm::trust::TokenVerifier verifier(verifier_options, clock);
  if (args.auth == "off") {
    spdlog::warn("authentication is OFF (--auth off): every client may read and write everything");
  }

  gm::http::Server* server_ptr = nullptr;
  gm::rest::Options rest_options;
  rest_options.software_version = kVersion;
  gm::rest::Context context{**store,     model,          clock,
                            indexer,     NewUuid,        rest_options,
                            page_tokens->get(), &profiles};
  context.verifier = args.auth == "off" ? nullptr : &verifier;
  context.keys = *keys;
  context.issuer = args.issuer;
  // The token endpoint: clients registered with `grunnmur client add`.
  gm::trust::ClientRegistry clients((std::filesystem::path(args.data) / "clients").string());
  gm::trust::TokenIssuer token_issuer(*keys, args.issuer, args.audience, clock);
  gm::trust::ReplayCache assertion_jtis;
  context.clients = &clients;
  context.token_issuer = &token_issuer;
  context.assertion_jtis = &assertion_jtis;
  if (gm::Status st = gm::rest::LoadStoredProfiles(context); !st.ok()) {
    spdlog::error("cannot load the stored profiles: {}", st.message());
    (*store)->Close();
    return 1;
  }
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
  if (args.demo > 0 && gm::cli::LoadDemo(service, **store, args.demo) != 0) {
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
                        "writes claiming them are validated against");
  serve_cmd->add_option("--demo", serve.demo,
                        "Load N synthetic citizens (fixed seed) if the store is empty");

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

  gm::cli::AuditVerifyArgs audit_args;
  CLI::App* audit_cmd = app.add_subcommand("audit", "The tamper-evident audit log");
  audit_cmd->require_subcommand(1);
  CLI::App* audit_verify =
      audit_cmd->add_subcommand("verify", "Check the audit log (exit 0 intact, 1 tampered, 2 cannot check)");
  audit_verify->add_option("--data", audit_args.data, "Data directory")->capture_default_str();
  audit_verify->add_option("--jwks", audit_args.jwks_file, "Extra trusted public keys (JWKS file)");
  audit_verify->add_flag("--only-jwks", audit_args.only_jwks, "Trust only the keys in --jwks");

  CLI11_PARSE(app, argc, argv);
  if (audit_verify->parsed()) return gm::cli::RunAuditVerify(audit_args);
  if (client_add->parsed()) return gm::cli::RunClientAdd(client_args);
  if (token_cmd->parsed()) return gm::cli::RunToken(token_args);
  if (serve_cmd->parsed()) return Serve(serve);
  if (fp->parsed()) return gm::cli::RunFhirPath(fhirpath_args);
  if (ri->parsed()) return gm::cli::RunReindex(reindex_args);
  if (check_cmd->parsed()) return gm::cli::RunCheck(check_args);
  if (synth_cmd->parsed()) return gm::cli::RunSynth(synth_args);
  if (load_cmd->parsed()) return gm::cli::RunLoad(load_args);
  return 0;
}
