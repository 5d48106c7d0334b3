#include "core/json.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>

namespace gm::json {

namespace od = simdjson::ondemand;

const Value* Value::find(std::string_view key) const {
  if (kind_ != Kind::kObject) return nullptr;
  for (const auto& m : object_) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

Value* Value::find(std::string_view key) {
  return const_cast<Value*>(static_cast<const Value*>(this)->find(key));
}

Value& Value::operator[](std::string_view key) {
  if (kind_ != Kind::kObject) {
    *this = Value(Object{});
  }
  if (Value* v = find(key)) return *v;
  object_.emplace_back(std::string(key), Value());
  return object_.back().second;
}

Value& Value::set(std::string_view key, Value v) {
  Value& slot = (*this)[key];
  slot = std::move(v);
  return slot;
}

bool Value::erase(std::string_view key) {
  if (kind_ != Kind::kObject) return false;
  auto it = std::find_if(object_.begin(), object_.end(),
                         [&](const Member& m) { return m.first == key; });
  if (it == object_.end()) return false;
  object_.erase(it);
  return true;
}

std::string_view Value::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr || !v->is_string()) return {};
  return v->str();
}

size_t Value::size() const {
  if (kind_ == Kind::kArray) return array_.size();
  if (kind_ == Kind::kObject) return object_.size();
  return 0;
}

bool operator==(const Value& a, const Value& b) {
  if (a.kind_ != b.kind_) return false;
  switch (a.kind_) {
    case Kind::kNull:
      return true;
    case Kind::kBool:
      return a.bool_ == b.bool_;
    case Kind::kNumber:
    case Kind::kString:
      return a.text_ == b.text_;
    case Kind::kArray:
      return a.array_ == b.array_;
    case Kind::kObject: {
      if (a.object_.size() != b.object_.size()) return false;
      for (const auto& m : a.object_) {
        const Value* other = b.find(m.first);
        if (other == nullptr || !(*other == m.second)) return false;
      }
      return true;
    }
  }
  return false;
}

namespace {

Status ParseError(std::string code, std::string text) {
  return Status::Error(ErrorCategory::kInvalid, std::move(code), "structure", std::move(text));
}

// RFC 8259 number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  size_t i = 0, n = s.size();
  if (i < n && s[i] == '-') ++i;
  if (i >= n) return false;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
  } else {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  return i == n;
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' ||
                        s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string ErrorText(simdjson::error_code e) {
  switch (e) {
    case simdjson::UTF8_ERROR:
      return "the body is not valid UTF-8";
    case simdjson::DEPTH_ERROR:
      return "JSON nesting is too deep";
    case simdjson::STRING_ERROR:
    case simdjson::UNCLOSED_STRING:
      return "invalid JSON string";
    case simdjson::NUMBER_ERROR:
      return "invalid JSON number";
    case simdjson::EMPTY:
      return "the body is empty";
    default:
      return std::string("malformed JSON: ") + simdjson::error_message(e);
  }
}

std::string ErrorCodeFor(simdjson::error_code e) {
  switch (e) {
    case simdjson::UTF8_ERROR:
      return "GM-JSON-002";
    case simdjson::DEPTH_ERROR:
      return "GM-JSON-003";
    default:
      return "GM-JSON-001";
  }
}

class Builder {
 public:
  explicit Builder(size_t max_depth) : max_depth_(max_depth) {}

  Status Build(od::value v, Value& out, size_t depth) {
    if (depth > max_depth_) {
      return ParseError("GM-JSON-003", "JSON nesting is deeper than " +
                                           std::to_string(max_depth_) + " levels");
    }
    od::json_type type;
    if (auto e = v.type().get(type)) return ParseError(ErrorCodeFor(e), ErrorText(e));
    switch (type) {
      case od::json_type::object: {
        od::object obj;
        if (auto e = v.get_object().get(obj)) return ParseError(ErrorCodeFor(e), ErrorText(e));
        out = Value(Object{});
        Object& members = out.object();
        for (auto field : obj) {
          std::string_view key;
          if (auto e = field.unescaped_key().get(key)) {
            return ParseError(ErrorCodeFor(e), ErrorText(e));
          }
          for (const auto& m : members) {
            if (m.first == key) {
              return ParseError("GM-JSON-004",
                                "duplicate JSON key \"" + std::string(key) + "\" in one object");
            }
          }
          members.emplace_back(std::string(key), Value());
          od::value child;
          if (auto e = field.value().get(child)) return ParseError(ErrorCodeFor(e), ErrorText(e));
          GM_RETURN_IF_ERROR(Build(child, members.back().second, depth + 1));
        }
        return Status::Ok();
      }
      case od::json_type::array: {
        od::array arr;
        if (auto e = v.get_array().get(arr)) return ParseError(ErrorCodeFor(e), ErrorText(e));
        out = Value(Array{});
        for (auto element : arr) {
          od::value child;
          if (auto e = element.get(child)) return ParseError(ErrorCodeFor(e), ErrorText(e));
          out.array().emplace_back();
          GM_RETURN_IF_ERROR(Build(child, out.array().back(), depth + 1));
        }
        return Status::Ok();
      }
      case od::json_type::string: {
        std::string_view s;
        if (auto e = v.get_string().get(s)) return ParseError(ErrorCodeFor(e), ErrorText(e));
        out = Value(std::string(s));
        return Status::Ok();
      }
      case od::json_type::number: {
        std::string_view raw = TrimRight(v.raw_json_token());
        if (!IsJsonNumber(raw)) {
          return ParseError("GM-JSON-001", "invalid JSON number");
        }
        out = Value::Number(std::string(raw));
        return Status::Ok();
      }
      case od::json_type::boolean: {
        bool b;
        if (auto e = v.get_bool().get(b)) return ParseError(ErrorCodeFor(e), ErrorText(e));
        out = Value(b);
        return Status::Ok();
      }
      case od::json_type::null: {
        bool is_null = false;
        if (auto e = v.is_null().get(is_null); e || !is_null) {
          return ParseError("GM-JSON-001", "malformed JSON literal");
        }
        out = Value();
        return Status::Ok();
      }
    }
    return ParseError("GM-JSON-001", "malformed JSON");
  }

 private:
  size_t max_depth_;
};

}  // namespace

Result<Value> Parse(std::string_view text, const ParseOptions& options) {
  // Scalars at the root are rare in FHIR and awkward for the on-demand API;
  // wrap every document in an array so one code path handles all of them.
  simdjson::padded_string padded(text.size() + 2);
  char* data = padded.data();
  data[0] = '[';
  std::memcpy(data + 1, text.data(), text.size());
  data[text.size() + 1] = ']';

  od::parser parser;
  // The wrapper adds one level; simdjson's own limit sits above ours so that
  // our error message (with the limit) is the one users see.
  if (auto e = parser.allocate(padded.size(), options.max_depth + 2)) {
    return ParseError("GM-JSON-001", ErrorText(e));
  }
  od::document doc;
  if (auto e = parser.iterate(padded).get(doc)) {
    if (e == simdjson::DEPTH_ERROR) {
      return ParseError("GM-JSON-003", "JSON nesting is deeper than " +
                                           std::to_string(options.max_depth) + " levels");
    }
    return ParseError(ErrorCodeFor(e), ErrorText(e));
  }
  od::array wrapper;
  if (auto e = doc.get_array().get(wrapper)) {
    return ParseError(ErrorCodeFor(e), ErrorText(e));
  }
  Value result;
  size_t count = 0;
  Builder builder(options.max_depth);
  for (auto element : wrapper) {
    od::value v;
    if (auto e = element.get(v)) {
      if (e == simdjson::DEPTH_ERROR) {
        return ParseError("GM-JSON-003", "JSON nesting is deeper than " +
                                             std::to_string(options.max_depth) + " levels");
      }
      return ParseError(ErrorCodeFor(e), ErrorText(e));
    }
    if (++count > 1) return ParseError("GM-JSON-001", "unexpected content after the JSON value");
    GM_RETURN_IF_ERROR(builder.Build(v, result, 1));
  }
  if (count == 0) return ParseError("GM-JSON-001", "the body is empty");
  return result;
}

void WriteString(std::string_view s, std::string& out) {
  static const char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

namespace {

void Indent(std::string& out, int level) {
  out.push_back('\n');
  out.append(static_cast<size_t>(level) * 2, ' ');
}

void WriteImpl(const Value& v, std::string& out, bool pretty, int level) {
  switch (v.kind()) {
    case Kind::kNull:
      out += "null";
      return;
    case Kind::kBool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Kind::kNumber:
      out += v.str();
      return;
    case Kind::kString:
      WriteString(v.str(), out);
      return;
    case Kind::kArray: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.array()) {
        if (!first) out.push_back(',');
        first = false;
        if (pretty) Indent(out, level + 1);
        WriteImpl(e, out, pretty, level + 1);
      }
      if (pretty && !v.array().empty()) Indent(out, level);
      out.push_back(']');
      return;
    }
    case Kind::kObject: {
      out.push_back('{');
      bool first = true;
      for (const auto& m : v.object()) {
        if (!first) out.push_back(',');
        first = false;
        if (pretty) Indent(out, level + 1);
        WriteString(m.first, out);
        out += pretty ? ": " : ":";
        WriteImpl(m.second, out, pretty, level + 1);
      }
      if (pretty && !v.object().empty()) Indent(out, level);
      out.push_back('}');
      return;
    }
  }
}

}  // namespace

void Write(const Value& v, std::string& out, const WriteOptions& options) {
  WriteImpl(v, out, options.pretty, 0);
}

std::string Write(const Value& v, const WriteOptions& options) {
  std::string out;
  Write(v, out, options);
  return out;
}

}  // namespace gm::json
