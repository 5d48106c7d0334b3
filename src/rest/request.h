// Turning an HTTP request into a FHIR REST request: which interaction, on
// which type/id/version, with which parameters and output format. Pure code.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/params.h"
#include "core/status.h"
#include "fhir/model.h"
#include "http/server.h"

namespace gm::rest {

using gm::Params;

enum class Route {
  kSystem,             // /            POST batch/transaction
  kSystemHistory,      // /_history
  kSystemSearch,       // /_search
  kSystemOperation,    // /$op
  kType,               // /Patient     GET search, POST create, PUT/PATCH/DELETE conditional
  kTypeSearch,         // /Patient/_search
  kTypeHistory,        // /Patient/_history
  kTypeOperation,      // /Patient/$validate
  kInstance,           // /Patient/1
  kInstanceHistory,    // /Patient/1/_history
  kVersion,            // /Patient/1/_history/2
  kInstanceOperation,  // /Patient/1/$everything
  kCompartmentSearch,  // /Patient/1/Observation
  kMetadata,           // /metadata
  kHealth,             // /healthz
  kReady,              // /readyz
  kMetrics,            // /metrics
};

struct Target {
  Route route = Route::kSystem;
  std::string type;
  std::string id;
  std::string version;
  std::string operation;  // without '$'
  std::string compartment_type;  // for kCompartmentSearch: the searched type
};

// Parses a decoded path. Errors: 404 for unknown resource types or shapes, 400 for bad ids.
Result<Target> ParseTarget(const fhir::Model& model, std::string_view path);

// application/x-www-form-urlencoded / query string: '&'-separated, '+' is space,
// percent-decoding; rejects invalid escapes and NUL. Empty names are skipped.
Result<Params> ParseForm(std::string_view raw);
std::string PercentEncode(std::string_view s);

// True if s is a valid FHIR id: [A-Za-z0-9\-\.]{1,64}.
bool IsValidId(std::string_view s);

enum class SummaryMode { kFalse, kTrue, kText, kData, kCount };

struct OutputFormat {
  bool pretty = false;
  SummaryMode summary = SummaryMode::kFalse;
  std::vector<std::string> elements;  // _elements
  std::string content_type = "application/fhir+json";
  // The person the caller acts as (the token's fødselsnummer), "" for none:
  // addresses under a confidentiality label are shown only to that person.
  std::string viewer_pid;
};

// From _format, Accept, _pretty, _summary, _elements. Error 406 for formats we
// do not produce (XML, turtle), 400 for a bad _summary value.
Result<OutputFormat> NegotiateFormat(const http::Request& req, const Params& params);

enum class BodyKind { kFhirJson, kJsonPatch, kForm, kFhirPatchParameters };
// Checks the request's Content-Type for the given method/route. 415 if unsupported.
Result<BodyKind> ClassifyBody(const http::Request& req, bool allow_form, bool allow_patch);

enum class PreferReturn { kDefault, kMinimal, kRepresentation, kOperationOutcome };
struct Prefer {
  PreferReturn ret = PreferReturn::kDefault;
  bool strict = false;       // handling=strict
  bool respond_async = false;
};
Prefer ParsePrefer(std::string_view header);

// First value of a parameter, or nullopt.
std::optional<std::string> ParamValue(const Params& params, std::string_view name);

}  // namespace gm::rest
