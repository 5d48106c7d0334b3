// Building FHIR responses: single resources (with ETag, Last-Modified,
// Location), shaped output (_summary, _elements, _pretty), and Bundles written
// straight from stored JSON bytes without re-parsing them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/json.h"
#include "http/server.h"
#include "rest/context.h"
#include "rest/request.h"
#include "store/store.h"

namespace gm::rest {

// Stored bytes → response body, applying _summary/_elements/_pretty when asked.
std::string RenderResource(std::string_view stored_json, const OutputFormat& format);
std::string RenderJson(const json::Value& value, const OutputFormat& format);

void SetResourceHeaders(http::Response& r, const OutputFormat& format,
                        const store::ResourceVersion& v);
std::string ResourceUrl(const Context& ctx, const store::ResourceVersion& v, bool versioned);

// 200 with the resource (read, vread).
http::Response ResourceResponse(const Context& ctx, const OutputFormat& format,
                                const store::ResourceVersion& v, int status = 200);
// A write's answer per Prefer: representation (default), minimal, or OperationOutcome.
http::Response WriteResponse(const Context& ctx, const OutputFormat& format, const Prefer& prefer,
                             const store::ResourceVersion& v, int status);

// Appends Bundle entries as text. Thread-compatible.
class BundleWriter {
 public:
  BundleWriter(std::string_view type, const OutputFormat& format);
  void SetTotal(int64_t total);
  void AddLink(std::string_view relation, std::string_view url);
  // An entry; every part except fullUrl is optional (pass empty/null).
  void AddEntry(std::string_view full_url, std::string_view resource_json,
                const json::Value* search, const json::Value* request,
                const json::Value* response);
  std::string Finish();

 private:
  const OutputFormat& format_;
  std::string type_;
  std::optional<int64_t> total_;
  std::string links_;
  std::string entries_;
  size_t entry_count_ = 0;
};

}  // namespace gm::rest
