#include "rest/respond.h"

#include "no/confidentiality.h"
#include "no/identifiers.h"

#include <algorithm>

#include "core/time.h"
#include "fhir/shape.h"
#include "rest/engine.h"
#include "rest/outcome.h"

namespace gm::rest {

namespace {

bool NeedsShaping(const OutputFormat& f) {
  return f.summary == SummaryMode::kTrue || f.summary == SummaryMode::kText ||
         f.summary == SummaryMode::kData || !f.elements.empty();
}

void Shape(json::Value& resource, const OutputFormat& f) {
  fhir::ShapeOptions opts;
  switch (f.summary) {
    case SummaryMode::kTrue:
      opts.summary = fhir::Summary::kTrue;
      break;
    case SummaryMode::kText:
      opts.summary = fhir::Summary::kText;
      break;
    case SummaryMode::kData:
      opts.summary = fhir::Summary::kData;
      break;
    default:
      opts.summary = fhir::Summary::kFalse;
  }
  opts.elements = f.elements;
  resource = fhir::Shape(resource, opts);
}

}  // namespace

std::string RenderJson(const json::Value& value, const OutputFormat& format) {
  return json::Write(value, {.pretty = format.pretty});
}

namespace {

constexpr std::string_view kConfidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";

bool IsThePerson(const json::Value& r, std::string_view pid) {
  if (pid.empty()) return false;
  const json::Value* ids = r.find("identifier");
  if (ids == nullptr || !ids->is_array()) return false;
  for (const auto& id : ids->array()) {
    std::string_view system = id.get_string("system");
    if ((system == no::systems::kFnr || system == no::systems::kDnr) &&
        id.get_string("value") == pid) {
      return true;
    }
  }
  return false;
}

// The address removed (no/confidentiality.h) and the copy marked REDACTED
// (FHIR security labels).
void RedactAddress(json::Value& r) {
  no::RemoveAddress(r);
  json::Value& meta = r["meta"];
  json::Value& security = meta["security"];
  if (!security.is_array()) security = json::Value::MakeArray();
  json::Value label = json::Value::MakeObject();
  label.set("system", "http://terminology.hl7.org/CodeSystem/v3-ObservationValue");
  label.set("code", "REDACTED");
  security.push_back(std::move(label));
}

}  // namespace

std::string RenderResource(std::string_view stored, const OutputFormat& format) {
  const bool maybe_confidential = stored.find(kConfidentiality) != std::string_view::npos;
  if (!format.pretty && !NeedsShaping(format) && !maybe_confidential) return std::string(stored);
  auto parsed = json::Parse(stored, json::ParseOptions{.max_depth = 1024});
  if (!parsed.ok()) return std::string(stored);  // stored bytes are always valid JSON
  bool changed = false;
  if (maybe_confidential && no::HasConfidentialAddress(*parsed) &&
      !IsThePerson(*parsed, format.viewer_pid)) {
    RedactAddress(*parsed);
    changed = true;
  }
  if (!changed && !format.pretty && !NeedsShaping(format)) return std::string(stored);
  if (NeedsShaping(format)) Shape(*parsed, format);
  return json::Write(*parsed, {.pretty = format.pretty});
}

std::string ResourceUrl(const Context& ctx, const store::ResourceVersion& v, bool versioned) {
  std::string url = ctx.options.base_url + "/" + v.type + "/" + v.id;
  if (versioned) url += "/_history/" + std::to_string(v.version);
  return url;
}

void SetResourceHeaders(http::Response& r, const OutputFormat& format,
                        const store::ResourceVersion& v) {
  r.SetHeader("Content-Type", format.content_type + "; charset=utf-8");
  r.SetHeader("ETag", ETagFor(v.version));
  r.SetHeader("Last-Modified", time::FormatHttpDate(v.last_updated_us));
}

http::Response ResourceResponse(const Context& ctx, const OutputFormat& format,
                                const store::ResourceVersion& v, int status) {
  http::Response r;
  r.status = status;
  SetResourceHeaders(r, format, v);
  r.body = RenderResource(v.json, format);
  return r;
}

http::Response WriteResponse(const Context& ctx, const OutputFormat& format, const Prefer& prefer,
                             const store::ResourceVersion& v, int status) {
  http::Response r;
  r.status = status;
  if (!v.deleted) {
    SetResourceHeaders(r, format, v);
    std::string location = ResourceUrl(ctx, v, true);
    if (status == 201) r.SetHeader("Location", location);
    r.SetHeader("Content-Location", location);
  }
  if (v.deleted || status == 204) {
    r.headers.erase(std::remove_if(r.headers.begin(), r.headers.end(),
                                   [](const auto& h) { return h.first == "content-type"; }),
                    r.headers.end());
    if (prefer.ret == PreferReturn::kOperationOutcome) {
      r.status = 200;
      r.SetHeader("Content-Type", format.content_type + "; charset=utf-8");
      r.body = RenderJson(InformationOutcome("GM-REST-100", "deleted"), format);
    } else {
      r.status = status == 204 ? 204 : 200;
    }
    return r;
  }
  switch (prefer.ret) {
    case PreferReturn::kMinimal:
      r.headers.erase(std::remove_if(r.headers.begin(), r.headers.end(),
                                     [](const auto& h) { return h.first == "content-type"; }),
                      r.headers.end());
      break;
    case PreferReturn::kOperationOutcome:
      r.body = RenderJson(
          InformationOutcome(status == 201 ? "GM-REST-101" : "GM-REST-102",
                             status == 201 ? "created" : "updated"),
          format);
      break;
    default:
      r.body = RenderResource(v.json, format);
  }
  return r;
}

BundleWriter::BundleWriter(std::string_view type, const OutputFormat& format)
    : format_(format), type_(type) {}

void BundleWriter::SetTotal(int64_t total) { total_ = total; }

void BundleWriter::AddLink(std::string_view relation, std::string_view url) {
  if (!links_.empty()) links_ += ',';
  links_ += "{\"relation\":";
  json::WriteString(relation, links_);
  links_ += ",\"url\":";
  json::WriteString(url, links_);
  links_ += '}';
}

void BundleWriter::AddEntry(std::string_view full_url, std::string_view resource_json,
                            const json::Value* search, const json::Value* request,
                            const json::Value* response) {
  if (entry_count_++ > 0) entries_ += ',';
  entries_ += '{';
  bool first = true;
  auto key = [&](const char* k) {
    if (!first) entries_ += ',';
    first = false;
    entries_ += '"';
    entries_ += k;
    entries_ += "\":";
  };
  if (!full_url.empty()) {
    key("fullUrl");
    json::WriteString(full_url, entries_);
  }
  if (!resource_json.empty()) {
    key("resource");
    OutputFormat compact = format_;
    compact.pretty = false;
    entries_ += RenderResource(resource_json, compact);
  }
  if (search) {
    key("search");
    json::Write(*search, entries_);
  }
  if (request) {
    key("request");
    json::Write(*request, entries_);
  }
  if (response) {
    key("response");
    json::Write(*response, entries_);
  }
  entries_ += '}';
}

std::string BundleWriter::Finish() {
  std::string out = "{\"resourceType\":\"Bundle\",\"type\":";
  json::WriteString(type_, out);
  if (total_) out += ",\"total\":" + std::to_string(*total_);
  if (!links_.empty()) out += ",\"link\":[" + links_ + "]";
  if (entry_count_ > 0) out += ",\"entry\":[" + entries_ + "]";
  out += '}';
  if (!format_.pretty) return out;
  auto parsed = json::Parse(out, json::ParseOptions{.max_depth = 1024});
  return parsed.ok() ? json::Write(*parsed, {.pretty = true}) : out;
}

}  // namespace gm::rest
