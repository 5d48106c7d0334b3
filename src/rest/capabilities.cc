// capabilities: GET [base]/metadata — http://hl7.org/fhir/R4/http.html#capabilities
// The CapabilityStatement states what this server actually does; it is built
// once from the model and the list of implemented interactions.
#include "core/time.h"
#include "rest/handlers.h"
#include "rest/respond.h"
#include "search/query.h"

namespace gm::rest {

namespace {

json::Value Code(std::string_view key, std::string_view value) {
  json::Value o = json::Value::MakeObject();
  o.set(key, std::string(value));
  return o;
}

json::Value Build(const Context& ctx) {
  json::Value cs = json::Value::MakeObject();
  cs.set("resourceType", "CapabilityStatement");
  cs.set("status", "active");
  cs.set("date", time::FormatInstant(ctx.clock.NowUs()).substr(0, 10));
  cs.set("publisher", "grunnmur");
  cs.set("kind", "instance");
  json::Value software = json::Value::MakeObject();
  software.set("name", "grunnmur");
  software.set("version", ctx.options.software_version);
  cs.set("software", std::move(software));
  json::Value impl = json::Value::MakeObject();
  impl.set("description", "grunnmur FHIR R4 server");
  impl.set("url", ctx.options.base_url);
  cs.set("implementation", std::move(impl));
  cs.set("fhirVersion", "4.0.1");
  cs.set("format", json::Array{"application/fhir+json", "json"});
  cs.set("patchFormat", json::Array{"application/json-patch+json", "application/fhir+json"});

  json::Value rest = json::Value::MakeObject();
  rest.set("mode", "server");
  json::Array resources;
  for (const std::string& type : ctx.model.ResourceTypes()) {
    json::Value r = json::Value::MakeObject();
    r.set("type", type);
    json::Array interactions;
    for (const char* i : {"read", "vread", "update", "patch", "delete", "history-instance",
                          "history-type", "create", "search-type"}) {
      interactions.push_back(Code("code", i));
    }
    r.set("interaction", std::move(interactions));
    r.set("versioning", "versioned-update");
    r.set("readHistory", true);
    r.set("updateCreate", true);
    r.set("conditionalCreate", true);
    r.set("conditionalRead", "full-support");
    r.set("conditionalUpdate", true);
    r.set("conditionalDelete", "single");
    json::Array params;
    for (const fhir::SearchParamDef* p : search::SupportedParams(ctx.model, type)) {
      json::Value sp = json::Value::MakeObject();
      sp.set("name", p->code);
      sp.set("definition", p->url);
      sp.set("type", p->type);
      params.push_back(std::move(sp));
    }
    if (!params.empty()) r.set("searchParam", std::move(params));
    json::Array ops;
    json::Value validate = json::Value::MakeObject();
    validate.set("name", "validate");
    validate.set("definition", "http://hl7.org/fhir/OperationDefinition/Resource-validate");
    ops.push_back(std::move(validate));
    r.set("operation", std::move(ops));
    resources.push_back(std::move(r));
  }
  rest.set("resource", std::move(resources));
  json::Array system;
  for (const char* i : {"transaction", "batch", "history-system", "search-system"}) {
    system.push_back(Code("code", i));
  }
  rest.set("interaction", std::move(system));
  cs.set("rest", json::Array{std::move(rest)});
  return cs;
}

}  // namespace

http::Response HandleCapabilities(Call& call) {
  static const std::string compact = json::Write(Build(call.ctx));
  http::Response r;
  r.SetHeader("Content-Type", call.format.content_type + "; charset=utf-8");
  r.body = RenderResource(compact, call.format);
  return r;
}

}  // namespace gm::rest
