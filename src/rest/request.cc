#include "rest/request.h"

#include <algorithm>
#include <cctype>

namespace gm::rest {

namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

Status NotFound(std::string_view what) {
  return Status::Error(ErrorCategory::kNotFound, "GM-REST-001", "not-supported",
                       "no such endpoint: " + std::string(what.substr(0, 80)));
}

Status UnknownType(std::string_view type) {
  return Status::Error(ErrorCategory::kNotFound, "GM-REST-002", "not-supported",
                       "unknown resource type '" + std::string(type.substr(0, 64)) + "'");
}

Status BadId(std::string_view id) {
  return Status::Error(ErrorCategory::kInvalid, "GM-REST-003", "value",
                       "invalid resource id '" + std::string(id.substr(0, 64)) + "'");
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool IsValidId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

Result<Target> ParseTarget(const fhir::Model& model, std::string_view path) {
  auto parts = SplitPath(path);
  Target t;
  if (parts.empty()) {
    t.route = Route::kSystem;
    return t;
  }
  std::string_view first = parts[0];
  if (parts.size() == 1) {
    if (first == "metadata") return Target{Route::kMetadata};
    if (first == "healthz") return Target{Route::kHealth};
    if (first == "readyz") return Target{Route::kReady};
    if (first == "metrics") return Target{Route::kMetrics};
    if (first == "_history") return Target{Route::kSystemHistory};
    if (first == "_search") return Target{Route::kSystemSearch};
    if (first.front() == '$') {
      t.route = Route::kSystemOperation;
      t.operation = std::string(first.substr(1));
      return t;
    }
  }
  if (!model.IsResourceType(first)) return UnknownType(first);
  t.type = std::string(first);
  if (parts.size() == 1) {
    t.route = Route::kType;
    return t;
  }
  std::string_view second = parts[1];
  if (parts.size() == 2) {
    if (second == "_search") {
      t.route = Route::kTypeSearch;
      return t;
    }
    if (second == "_history") {
      t.route = Route::kTypeHistory;
      return t;
    }
    if (second.front() == '$') {
      t.route = Route::kTypeOperation;
      t.operation = std::string(second.substr(1));
      return t;
    }
  }
  if (!IsValidId(second)) return BadId(second);
  t.id = std::string(second);
  if (parts.size() == 2) {
    t.route = Route::kInstance;
    return t;
  }
  std::string_view third = parts[2];
  if (parts.size() == 3 && third == "_history") {
    t.route = Route::kInstanceHistory;
    return t;
  }
  if (parts.size() == 4 && third == "_history") {
    if (!IsValidId(parts[3])) return BadId(parts[3]);
    t.route = Route::kVersion;
    t.version = std::string(parts[3]);
    return t;
  }
  if (parts.size() == 3 && third.front() == '$') {
    t.route = Route::kInstanceOperation;
    t.operation = std::string(third.substr(1));
    return t;
  }
  if (parts.size() == 3 && t.type == "Patient" && model.IsResourceType(third)) {
    t.route = Route::kCompartmentSearch;
    t.compartment_type = std::string(third);
    return t;
  }
  return NotFound(path);
}

Result<Params> ParseForm(std::string_view raw) {
  Params out;
  size_t i = 0;
  while (i <= raw.size()) {
    size_t amp = raw.find('&', i);
    if (amp == std::string_view::npos) amp = raw.size();
    std::string_view pair = raw.substr(i, amp - i);
    i = amp + 1;
    if (pair.empty()) {
      if (amp == raw.size()) break;
      continue;
    }
    size_t eq = pair.find('=');
    std::string_view k = pair.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string decoded[2];
    std::string_view src[2] = {k, v};
    for (int n = 0; n < 2; ++n) {
      std::string& d = decoded[n];
      d.reserve(src[n].size());
      for (size_t p = 0; p < src[n].size(); ++p) {
        char c = src[n][p];
        if (c == '+') {
          d.push_back(' ');
        } else if (c == '%') {
          if (p + 2 >= src[n].size()) {
            return Status::Error(ErrorCategory::kInvalid, "GM-REST-010", "invalid",
                                 "invalid percent-encoding in parameters");
          }
          int hi = HexValue(src[n][p + 1]), lo = HexValue(src[n][p + 2]);
          if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            return Status::Error(ErrorCategory::kInvalid, "GM-REST-010", "invalid",
                                 "invalid percent-encoding in parameters");
          }
          d.push_back(static_cast<char>(hi * 16 + lo));
          p += 2;
        } else {
          d.push_back(c);
        }
      }
    }
    if (!decoded[0].empty()) out.emplace_back(std::move(decoded[0]), std::move(decoded[1]));
    if (amp == raw.size()) break;
  }
  return out;
}

std::string PercentEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == ':' ||
        c == '/' || c == '|' || c == ',' || c == '$') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::optional<std::string> ParamValue(const Params& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return std::nullopt;
}

Result<OutputFormat> NegotiateFormat(const http::Request& req, const Params& params) {
  OutputFormat f;
  auto not_acceptable = [](std::string_view what) {
    return Status::Error(ErrorCategory::kNotAcceptable, "GM-REST-020", "not-supported",
                         "this server produces FHIR JSON only; cannot produce '" +
                             std::string(what.substr(0, 64)) + "'");
  };
  if (auto fmt = ParamValue(params, "_format")) {
    std::string v = Lower(*fmt);
    if (v == "json" || v == "application/json" || v == "application/fhir+json") {
      f.content_type = v == "application/json" ? "application/json" : "application/fhir+json";
    } else {
      return not_acceptable(*fmt);
    }
  } else if (std::string_view accept = req.Header("accept"); !accept.empty()) {
    // Pick the first acceptable media range; refuse only if none is acceptable.
    bool ok = false;
    size_t i = 0;
    std::string a = Lower(accept);
    while (i <= a.size() && !ok) {
      size_t comma = a.find(',', i);
      if (comma == std::string::npos) comma = a.size();
      std::string_view range = Trim(std::string_view(a).substr(i, comma - i));
      range = Trim(range.substr(0, range.find(';')));
      if (range == "application/fhir+json" || range == "*/*" || range == "application/*" ||
          range == "application/json+fhir") {
        ok = true;
      } else if (range == "application/json") {
        ok = true;
        f.content_type = "application/json";
      }
      i = comma + 1;
    }
    if (!ok) return not_acceptable(accept);
  }
  if (auto p = ParamValue(params, "_pretty")) f.pretty = *p == "true";
  if (auto s = ParamValue(params, "_summary")) {
    if (*s == "true") {
      f.summary = SummaryMode::kTrue;
    } else if (*s == "text") {
      f.summary = SummaryMode::kText;
    } else if (*s == "data") {
      f.summary = SummaryMode::kData;
    } else if (*s == "count") {
      f.summary = SummaryMode::kCount;
    } else if (*s == "false") {
      f.summary = SummaryMode::kFalse;
    } else {
      return Status::Error(ErrorCategory::kInvalid, "GM-REST-021", "value",
                           "_summary must be one of true, text, data, count, false");
    }
  }
  if (auto e = ParamValue(params, "_elements")) {
    size_t i = 0;
    while (i <= e->size()) {
      size_t comma = e->find(',', i);
      if (comma == std::string::npos) comma = e->size();
      std::string_view name = Trim(std::string_view(*e).substr(i, comma - i));
      if (!name.empty()) f.elements.emplace_back(name);
      i = comma + 1;
    }
  }
  return f;
}

Result<BodyKind> ClassifyBody(const http::Request& req, bool allow_form, bool allow_patch) {
  std::string ct = Lower(Trim(req.Header("content-type")));
  std::string media = std::string(Trim(std::string_view(ct).substr(0, ct.find(';'))));
  auto unsupported = [&] {
    return Status::Error(ErrorCategory::kUnsupportedMediaType, "GM-REST-022", "not-supported",
                         media.empty() ? "Content-Type is required"
                                       : "unsupported Content-Type '" + media.substr(0, 64) + "'");
  };
  if (ct.find("charset=") != std::string::npos && ct.find("charset=utf-8") == std::string::npos) {
    return unsupported();
  }
  if (media == "application/fhir+json" || media == "application/json" ||
      media == "application/json+fhir") {
    return BodyKind::kFhirJson;
  }
  if (allow_patch && media == "application/json-patch+json") return BodyKind::kJsonPatch;
  if (allow_form && media == "application/x-www-form-urlencoded") return BodyKind::kForm;
  return unsupported();
}

Prefer ParsePrefer(std::string_view header) {
  Prefer p;
  std::string h = Lower(header);
  if (h.find("return=minimal") != std::string::npos) p.ret = PreferReturn::kMinimal;
  if (h.find("return=representation") != std::string::npos) p.ret = PreferReturn::kRepresentation;
  if (h.find("return=operationoutcome") != std::string::npos) {
    p.ret = PreferReturn::kOperationOutcome;
  }
  if (h.find("handling=strict") != std::string::npos) p.strict = true;
  if (h.find("respond-async") != std::string::npos) p.respond_async = true;
  return p;
}

}  // namespace gm::rest
