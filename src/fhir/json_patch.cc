#include "fhir/json_patch.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

namespace gm::fhir {

namespace {

using json::Kind;
using json::Value;

// Where an error happened, for its text.
struct OpContext {
  size_t index = 0;
  std::string_view op;    // empty while the op itself is unknown
  std::string_view path;  // the "path" member, if read
};

std::string Quoted(std::string_view s) {
  std::string out;
  json::WriteString(s, out);
  return out;
}

Status PatchError(ErrorCategory category, const char* code, const OpContext& ctx,
                  std::string_view what) {
  std::string text = "JSON Patch operation " + std::to_string(ctx.index);
  if (!ctx.op.empty()) {
    text += " (";
    text += ctx.op;
    text += " ";
    text += Quoted(ctx.path);
    text += ")";
  }
  text += ": ";
  text += what;
  const char* type = category == ErrorCategory::kInvalid ? "invalid" : "processing";
  return Status::Error(category, code, type, std::move(text));
}

Status Invalid(const char* code, const OpContext& ctx, std::string_view what) {
  return PatchError(ErrorCategory::kInvalid, code, ctx, what);
}

Status Unprocessable(const char* code, const OpContext& ctx, std::string_view what) {
  return PatchError(ErrorCategory::kUnprocessable, code, ctx, what);
}

// ---- numbers ----------------------------------------------------------------

// A JSON number as sign × digits × 10^exponent with no leading or trailing
// zeros in `digits` (zero has empty digits and no sign).
struct Decimal {
  bool negative = false;
  std::string digits;
  int64_t exponent = 0;
};

// Normalises valid JSON number text; nullopt when the exponent is too large
// to handle exactly (the caller then compares the text).
std::optional<Decimal> Normalize(std::string_view s) {
  Decimal d;
  size_t i = 0;
  if (i < s.size() && s[i] == '-') {
    d.negative = true;
    ++i;
  }
  int64_t frac_digits = 0;
  bool in_fraction = false;
  for (; i < s.size() && s[i] != 'e' && s[i] != 'E'; ++i) {
    if (s[i] == '.') {
      in_fraction = true;
      continue;
    }
    d.digits.push_back(s[i]);
    if (in_fraction) ++frac_digits;
  }
  int64_t exp = 0;
  if (i < s.size()) {
    ++i;  // 'e' or 'E'
    bool exp_negative = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) exp_negative = s[i++] == '-';
    while (i < s.size() && s[i] == '0') ++i;
    if (s.size() - i > 15) return std::nullopt;
    for (; i < s.size(); ++i) exp = exp * 10 + (s[i] - '0');
    if (exp_negative) exp = -exp;
  }
  d.exponent = exp - frac_digits;
  size_t lead = d.digits.find_first_not_of('0');
  if (lead == std::string::npos) return Decimal{};  // zero, either sign
  d.digits.erase(0, lead);
  size_t last = d.digits.find_last_not_of('0');
  d.exponent += static_cast<int64_t>(d.digits.size() - 1 - last);
  d.digits.resize(last + 1);
  return d;
}

bool NumbersEqual(const std::string& a, const std::string& b) {
  if (a == b) return true;
  std::optional<Decimal> x = Normalize(a);
  std::optional<Decimal> y = Normalize(b);
  if (!x || !y) return false;
  return x->negative == y->negative && x->exponent == y->exponent && x->digits == y->digits;
}

// ---- pointers ---------------------------------------------------------------

// RFC 6901 array index: "0" or a non-zero digit followed by digits. `size` is
// the array length; `allow_end` admits index == size and "-" (add only).
Result<size_t> ArrayIndex(const std::string& token, size_t size, bool allow_end,
                          const OpContext& ctx) {
  if (token == "-") {
    if (allow_end) return size;
    return Unprocessable("GM-PATCH-012", ctx,
                         "\"-\" refers to the position after the last array element, which "
                         "does not exist");
  }
  bool digits = !token.empty() && std::all_of(token.begin(), token.end(),
                                              [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || (token.size() > 1 && token[0] == '0')) {
    return Unprocessable(
        "GM-PATCH-012", ctx,
        "array index " + Quoted(token) + " is not a non-negative integer without leading zeros");
  }
  if (token.size() > 18) {
    return Unprocessable("GM-PATCH-013", ctx, "array index " + token + " is out of bounds");
  }
  size_t index = std::stoull(token);
  if (index > size || (index == size && !allow_end)) {
    return Unprocessable(
        "GM-PATCH-013", ctx,
        "array index " + token + " is out of bounds (array length " + std::to_string(size) + ")");
  }
  return index;
}

using Tokens = std::vector<std::string>;

// The container holding the location `tokens` names (all tokens but the last).
Result<Value*> Parent(Value& root, const Tokens& tokens, const OpContext& ctx) {
  Value* cur = &root;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    const std::string& token = tokens[i];
    if (cur->is_object()) {
      cur = cur->find(token);
      if (cur == nullptr) {
        return Unprocessable("GM-PATCH-011", ctx,
                             "the parent of the target location does not exist");
      }
    } else if (cur->is_array()) {
      GM_ASSIGN_OR_RETURN(size_t index, ArrayIndex(token, cur->array().size(), false, ctx));
      cur = &cur->array()[index];
    } else {
      return Unprocessable("GM-PATCH-011", ctx,
                           "the parent of the target location is not an object or array");
    }
  }
  if (!cur->is_object() && !cur->is_array()) {
    return Unprocessable("GM-PATCH-011", ctx,
                         "the parent of the target location is not an object or array");
  }
  return cur;
}

// The existing value at `tokens`; `what` names the location in errors.
Result<Value*> Locate(Value& root, const Tokens& tokens, std::string_view what,
                      const OpContext& ctx) {
  if (tokens.empty()) return &root;
  GM_ASSIGN_OR_RETURN(Value * parent, Parent(root, tokens, ctx));
  if (parent->is_object()) {
    Value* v = parent->find(tokens.back());
    if (v == nullptr) {
      return Unprocessable("GM-PATCH-010", ctx, std::string(what) + " does not exist");
    }
    return v;
  }
  GM_ASSIGN_OR_RETURN(size_t index, ArrayIndex(tokens.back(), parent->array().size(), false, ctx));
  return &parent->array()[index];
}

Status Add(Value& root, const Tokens& tokens, Value value, const OpContext& ctx) {
  if (tokens.empty()) {
    root = std::move(value);
    return Status::Ok();
  }
  GM_ASSIGN_OR_RETURN(Value * parent, Parent(root, tokens, ctx));
  if (parent->is_object()) {
    parent->set(tokens.back(), std::move(value));
    return Status::Ok();
  }
  json::Array& array = parent->array();
  GM_ASSIGN_OR_RETURN(size_t index, ArrayIndex(tokens.back(), array.size(), true, ctx));
  array.insert(array.begin() + static_cast<std::ptrdiff_t>(index), std::move(value));
  return Status::Ok();
}

// Removes the value at `tokens` and returns it.
Result<Value> Remove(Value& root, const Tokens& tokens, std::string_view what,
                     const OpContext& ctx) {
  if (tokens.empty()) {
    return Unprocessable("GM-PATCH-016", ctx, "the whole document cannot be removed");
  }
  GM_ASSIGN_OR_RETURN(Value * parent, Parent(root, tokens, ctx));
  if (parent->is_object()) {
    json::Object& object = parent->object();
    auto it = std::find_if(object.begin(), object.end(),
                           [&](const json::Member& m) { return m.first == tokens.back(); });
    if (it == object.end()) {
      return Unprocessable("GM-PATCH-010", ctx, std::string(what) + " does not exist");
    }
    Value removed = std::move(it->second);
    object.erase(it);
    return removed;
  }
  json::Array& array = parent->array();
  GM_ASSIGN_OR_RETURN(size_t index, ArrayIndex(tokens.back(), array.size(), false, ctx));
  Value removed = std::move(array[index]);
  array.erase(array.begin() + static_cast<std::ptrdiff_t>(index));
  return removed;
}

bool IsProperPrefix(const Tokens& prefix, const Tokens& tokens) {
  return prefix.size() < tokens.size() && std::equal(prefix.begin(), prefix.end(), tokens.begin());
}

// Reads a string member that names a pointer and parses it.
Result<Tokens> PointerMember(const Value& op, std::string_view name, const char* missing_code,
                             const OpContext& ctx) {
  const Value* v = op.find(name);
  if (v == nullptr || !v->is_string()) {
    return Invalid(missing_code, ctx,
                   "\"" + std::string(name) + "\" is missing or is not a string");
  }
  Result<Tokens> tokens = ParseJsonPointer(v->str());
  if (!tokens.ok()) {
    return Invalid("GM-PATCH-007", ctx,
                   "\"" + std::string(name) +
                       "\" is not a valid JSON Pointer (RFC 6901): " + tokens.status().message());
  }
  return tokens;
}

Status ApplyOne(Value& doc, const Value& op, size_t index) {
  OpContext ctx{index, {}, {}};
  if (!op.is_object()) return Invalid("GM-PATCH-002", ctx, "the operation is not a JSON object");
  const Value* name = op.find("op");
  if (name == nullptr || !name->is_string()) {
    return Invalid("GM-PATCH-003", ctx, "\"op\" is missing or is not a string");
  }
  const std::string& kind = name->str();
  if (kind != "add" && kind != "remove" && kind != "replace" && kind != "move" && kind != "copy" &&
      kind != "test") {
    return Invalid(
        "GM-PATCH-003", ctx,
        "\"op\" " + Quoted(kind) + " is not one of add, remove, replace, move, copy, test");
  }
  ctx.op = kind;
  if (const Value* p = op.find("path"); p != nullptr && p->is_string()) ctx.path = p->str();
  GM_ASSIGN_OR_RETURN(Tokens path, PointerMember(op, "path", "GM-PATCH-004", ctx));

  const Value* value = op.find("value");
  if (value == nullptr && (kind == "add" || kind == "replace" || kind == "test")) {
    return Invalid("GM-PATCH-006", ctx, "\"value\" is missing");
  }

  if (kind == "add") return Add(doc, path, *value, ctx);
  if (kind == "remove") {
    Result<Value> removed = Remove(doc, path, "the target location", ctx);
    return removed.ok() ? Status::Ok() : std::move(removed).take_status();
  }
  if (kind == "replace") {
    GM_ASSIGN_OR_RETURN(Value * target, Locate(doc, path, "the target location", ctx));
    *target = *value;
    return Status::Ok();
  }
  if (kind == "test") {
    GM_ASSIGN_OR_RETURN(Value * target, Locate(doc, path, "the target location", ctx));
    if (!JsonEqual(*target, *value)) {
      return Unprocessable("GM-PATCH-015", ctx,
                           "test failed: the value at the target location is not equal to "
                           "\"value\"");
    }
    return Status::Ok();
  }
  GM_ASSIGN_OR_RETURN(Tokens from, PointerMember(op, "from", "GM-PATCH-005", ctx));
  if (kind == "copy") {
    GM_ASSIGN_OR_RETURN(Value * source, Locate(doc, from, "the \"from\" location", ctx));
    Value copied = *source;
    return Add(doc, path, std::move(copied), ctx);
  }
  // move
  if (IsProperPrefix(from, path)) {
    return Unprocessable("GM-PATCH-014", ctx,
                         "a value cannot be moved into one of its own children");
  }
  if (from == path) {
    GM_ASSIGN_OR_RETURN(Value * source, Locate(doc, from, "the \"from\" location", ctx));
    (void)source;
    return Status::Ok();
  }
  GM_ASSIGN_OR_RETURN(Value moved, Remove(doc, from, "the \"from\" location", ctx));
  return Add(doc, path, std::move(moved), ctx);
}

}  // namespace

Result<std::vector<std::string>> ParseJsonPointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer.front() != '/') {
    return Status::Error(ErrorCategory::kInvalid, "GM-PATCH-007", "invalid",
                         "a JSON Pointer must be empty or start with '/'");
  }
  std::string token;
  for (size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      tokens.push_back(std::move(token));
      token.clear();
      continue;
    }
    char c = pointer[i];
    if (c == '~') {
      char next = i + 1 < pointer.size() ? pointer[i + 1] : '\0';
      if (next != '0' && next != '1') {
        return Status::Error(ErrorCategory::kInvalid, "GM-PATCH-007", "invalid",
                             "'~' in a JSON Pointer must be followed by '0' or '1'");
      }
      token.push_back(next == '0' ? '~' : '/');
      ++i;
    } else {
      token.push_back(c);
    }
  }
  return tokens;
}

bool JsonEqual(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kNull:
      return true;
    case Kind::kBool:
      return a.as_bool() == b.as_bool();
    case Kind::kNumber:
      return NumbersEqual(a.str(), b.str());
    case Kind::kString:
      return a.str() == b.str();
    case Kind::kArray:
      return std::equal(a.array().begin(), a.array().end(), b.array().begin(), b.array().end(),
                        JsonEqual);
    case Kind::kObject: {
      if (a.object().size() != b.object().size()) return false;
      for (const json::Member& m : a.object()) {
        const Value* other = b.find(m.first);
        if (other == nullptr || !JsonEqual(m.second, *other)) return false;
      }
      return true;
    }
  }
  return false;
}

Status ApplyJsonPatch(const Value& patch, Value& document) {
  if (!patch.is_array()) {
    return Status::Error(ErrorCategory::kInvalid, "GM-PATCH-001", "invalid",
                         "a JSON Patch document must be a JSON array of operations");
  }
  Value working = document;
  for (size_t i = 0; i < patch.array().size(); ++i) {
    GM_RETURN_IF_ERROR(ApplyOne(working, patch.array()[i], i));
  }
  document = std::move(working);
  return Status::Ok();
}

}  // namespace gm::fhir
