// A small mutable JSON document model for FHIR resources.
//
// FHIR needs what general JSON libraries drop: numbers keep their exact text
// (a decimal "1.50" must be written back as "1.50"), objects keep member order,
// duplicate keys are an error. Parsing is done by simdjson (validating UTF-8
// and structure); this module builds the tree and writes it back.
//
// Thread-safety: a Value is a plain value type; distinct objects may be used
// from different threads, one object is not synchronised.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace gm::json {

class Value;
using Member = std::pair<std::string, Value>;
using Array = std::vector<Value>;
using Object = std::vector<Member>;

enum class Kind : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };

class Value {
 public:
  Value() = default;  // null
  Value(std::nullptr_t) {}
  Value(bool b) : kind_(Kind::kBool), bool_(b) {}
  Value(const char* s) : kind_(Kind::kString), text_(s) {}
  Value(std::string s) : kind_(Kind::kString), text_(std::move(s)) {}
  Value(std::string_view s) : kind_(Kind::kString), text_(s) {}
  Value(int v) : kind_(Kind::kNumber), text_(std::to_string(v)) {}
  Value(int64_t v) : kind_(Kind::kNumber), text_(std::to_string(v)) {}
  Value(Array a) : kind_(Kind::kArray), array_(std::move(a)) {}
  Value(Object o) : kind_(Kind::kObject), object_(std::move(o)) {}

  // A number from its exact JSON text (caller guarantees it is valid JSON number syntax).
  static Value Number(std::string text) {
    Value v;
    v.kind_ = Kind::kNumber;
    v.text_ = std::move(text);
    return v;
  }
  static Value MakeObject() { return Value(Object{}); }
  static Value MakeArray() { return Value(Array{}); }

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_number() const { return kind_ == Kind::kNumber; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_object() const { return kind_ == Kind::kObject; }

  bool as_bool() const { return bool_; }
  // String content (for strings) or exact number text (for numbers).
  const std::string& str() const { return text_; }
  std::string& str() { return text_; }
  const Array& array() const { return array_; }
  Array& array() { return array_; }
  const Object& object() const { return object_; }
  Object& object() { return object_; }

  // Object access. find() returns nullptr when absent or when this is not an object.
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  // Returns the member, inserting a null member at the end when absent.
  Value& operator[](std::string_view key);
  // Inserts or replaces; returns the stored value.
  Value& set(std::string_view key, Value v);
  bool erase(std::string_view key);
  // String member or empty view.
  std::string_view get_string(std::string_view key) const;

  void push_back(Value v) { array_.push_back(std::move(v)); }
  size_t size() const;  // array or object size, 0 otherwise
  bool empty() const { return size() == 0; }

  // Structural equality; numbers compare by exact text, object member order is ignored.
  friend bool operator==(const Value& a, const Value& b);
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

 private:
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  std::string text_;
  Array array_;
  Object object_;
};

struct ParseOptions {
  size_t max_depth = 128;  // nesting deeper than this is refused
};

// Parses one JSON text. Errors (GM-JSON-xxx, category kInvalid): malformed
// syntax, invalid UTF-8, nesting deeper than max_depth, duplicate keys in an
// object, trailing content.
Result<Value> Parse(std::string_view text, const ParseOptions& options = {});

struct WriteOptions {
  bool pretty = false;
};
void Write(const Value& v, std::string& out, const WriteOptions& options = {});
std::string Write(const Value& v, const WriteOptions& options = {});
// Appends s as a JSON string literal (with quotes and escapes) to out.
void WriteString(std::string_view s, std::string& out);

}  // namespace gm::json
