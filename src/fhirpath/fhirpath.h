// FHIRPath (normative release N1, as used by FHIR R4) over gm::json trees.
//
// Compile an expression once, evaluate it many times:
//
//   GM_ASSIGN_OR_RETURN(fhirpath::Expression expr,
//                       fhirpath::Expression::Compile("Patient.identifier", {.context_type =
//                       "Patient"}));
//   GM_ASSIGN_OR_RETURN(fhirpath::Collection items, expr.Evaluate(patient_json));
//   for (const fhirpath::Item& item : items) {
//     item.type_name();  // "Identifier"
//     item.node();       // the json::Value inside patient_json, not a copy
//   }
//
// The evaluator walks the caller's json::Value tree in place. FHIR types come
// from fhir::Model::R4(); choice elements are navigated by their stem
// (Observation.value), primitive extensions through the "_name" companions.
//
// Beyond N1 and the FHIR additions: the FHIRPath 2.1 functions the R4 suite
// uses (trim, split, join, encode, decode, escape, unescape, sort,
// lowBoundary, highBoundary, precision, comparable) and SQL-on-FHIR's
// getResourceKey() and getReferenceKey([type]). Semantics the suite fixes:
// is() follows type inheritance (code is a string) but as() and ofType() on
// primitive types match the exact type; lowBoundary()/highBoundary() without
// a precision give an instant (a date becomes a dateTime with -12:00/+14:00),
// so that dates and dateTimes of any precision compare.
//
// Errors (Status issues with stable codes):
//   compile (category kInvalid), with "line:column" in the text:
//     GM-FP-001 syntax, 002 unterminated string/comment, 003 bad literal,
//     004 expression too long, 005 nested too deeply, 010 unknown function,
//     011 argument count, 012 unknown type, 013 unknown element (with
//     CompileOptions::context_type), 014 strict-mode violation, 023 invalid
//     regular expression literal;
//   evaluation (category kUnprocessable):
//     GM-FP-020 singleton expected, 021 operand/argument type, 022 undefined
//     variable, 023 invalid regular expression, 025 invalid argument (e.g. a
//     non-calendar unit in date arithmetic), 026 conformsTo() without a
//     checker, 027 evaluation nested too deeply, 030 work limit exceeded.
//
// Regular expressions (matches, matchesFull, replaceMatches) run on RE2: time
// linear in the input, no backreferences or lookaround (refused with 023).
//
// Thread-safety: an Expression is immutable after Compile and may be evaluated
// concurrently from any number of threads (copies share the compiled program).
// Collections and Items are values; one Collection is not synchronised.
// Callbacks in EvalOptions are called on the evaluating thread.
//
// Ownership: evaluation never copies the input. Items of kind kFhir point into
// the json::Value trees given to Evaluate (input, %resource, variables, trees
// returned by the resolver); those trees must outlive the resulting
// Collection. Everything else an Item refers to (strings computed during
// evaluation, literals of the expression) is kept alive by the Collection.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "fhir/model.h"

namespace gm::fhirpath {

namespace internal {
struct Program;
struct FType;
struct Access;
struct Decimal;
struct DateTime;
struct Quantity;
}  // namespace internal

enum class ValueKind : uint8_t {
  kFhir,      // a FHIR element or resource: a node of the input tree with its FHIR type
  kBoolean,   // System.Boolean
  kInteger,   // System.Integer
  kDecimal,   // System.Decimal
  kString,    // System.String
  kDate,      // System.Date
  kDateTime,  // System.DateTime
  kTime,      // System.Time
  kQuantity,  // System.Quantity
  kTypeInfo,  // result of type()
};

// One item of a collection. Cheap to copy (32 bytes); see the ownership note above.
class Item {
 public:
  ValueKind kind() const { return kind_; }
  bool is_fhir() const { return kind_ == ValueKind::kFhir; }

  // kFhir: the element's JSON, or null for a primitive that only has extensions.
  const json::Value* node() const { return kind_ == ValueKind::kFhir ? u_.n.node : nullptr; }
  // kFhir primitives: the "_name" companion object (id, extension), or null.
  const json::Value* extension_node() const {
    return kind_ == ValueKind::kFhir ? u_.n.ext : nullptr;
  }
  // kFhir: the model type; null for untyped JSON (input given without a type).
  const fhir::TypeDef* fhir_type() const;
  // "Identifier", "CodeableConcept", "dateTime", "Patient" (FHIR namespace) or
  // "Boolean", "Integer", "Decimal", "String", "Date", "DateTime", "Time",
  // "Quantity" (System namespace). Backbone elements are named by path
  // ("Patient.contact"). Empty for untyped JSON.
  std::string_view type_name() const;
  std::string_view type_namespace() const;  // "FHIR" or "System"

  // True for FHIR primitives that carry a value, and for all System values.
  bool has_value() const;
  // The value as FHIRPath's toString() gives it: decimals keep their digits,
  // dates and times in ISO 8601 without '@', quantities as "1.5 'mg'" (calendar
  // units unquoted: "2 weeks"). Empty optional for complex FHIR items and
  // primitives without a value.
  std::optional<std::string> ToString() const;
  // kQuantity: the unit (UCUM code or calendar keyword such as "week").
  std::string_view quantity_unit() const;

 private:
  friend struct internal::Access;
  ValueKind kind_ = ValueKind::kBoolean;
  uint8_t flags_ = 0;
  const internal::FType* type_ = nullptr;
  union U {
    struct {
      const json::Value* node;
      const json::Value* ext;
    } n;
    bool b;
    int64_t i;
    struct {
      const char* data;
      size_t size;
    } s;
    const internal::Decimal* d;
    const internal::DateTime* dt;
    const internal::Quantity* q;
  } u_{};
};

// A FHIRPath collection: an ordered list of items plus what keeps them alive.
class Collection {
 public:
  Collection();

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  const Item& operator[](size_t i) const { return items_[i]; }
  std::vector<Item>::const_iterator begin() const { return items_.begin(); }
  std::vector<Item>::const_iterator end() const { return items_.end(); }

  // Builders for variables and test input. Strings are copied into the collection.
  void AddBoolean(bool v);
  void AddInteger(int64_t v);
  void AddString(std::string_view v);
  // Errors (GM-FP-003) when the text is not a FHIRPath decimal / date / dateTime /
  // time / quantity literal ("1.50", "2020-01", "2020-01-01T10:00:00Z", "10:00",
  // "5 'mg'", "2 weeks").
  Status AddDecimal(std::string_view text);
  Status AddDate(std::string_view text);
  Status AddDateTime(std::string_view text);
  Status AddTime(std::string_view text);
  Status AddQuantity(std::string_view text);
  // A FHIR node of the given type ("HumanName", "Patient"; empty = from the
  // node's resourceType, else untyped). The node must outlive this collection.
  Status AddFhir(const json::Value& node, std::string_view type = {});
  // Appends an item of another collection, sharing what keeps it alive.
  void Add(const Item& item, const Collection& owner);

 private:
  friend struct internal::Access;
  std::vector<Item> items_;
  std::shared_ptr<void> storage_;  // internal::Storage: arena, program and collections kept alive
};

// What Compile checks and accepts.
struct CompileOptions {
  // The type of the input ("Patient", "HumanName"). When set, paths are checked
  // against the R4 model: an element that the type does not have is an error
  // (GM-FP-013), e.g. Observation.valueQuantity (choices are navigated as
  // Observation.value).
  std::string_view context_type;
  // Strict mode (needs context_type): a type name at the start of a path that
  // does not match the context type, non-Boolean iif criteria and order-dependent
  // functions on unordered collections (children(), descendants()) are errors
  // (GM-FP-014) instead of being evaluated leniently.
  bool strict = false;
  size_t max_length = 64 * 1024;  // characters of expression text (GM-FP-004)
  int max_depth = 200;            // nesting of sub-expressions (GM-FP-005)
};

// The caller's world, as seen by one evaluation.
struct EvalOptions {
  // %resource and %rootResource when the input is not itself the resource
  // (e.g. evaluating an invariant on an element). Default: the input.
  const json::Value* resource = nullptr;
  const json::Value* root_resource = nullptr;
  // Type of the input when it has no resourceType ("HumanName"); see Collection::AddFhir.
  std::string_view input_type;
  // %name variables. %context, %resource, %rootResource, %ucum, %sct, %loinc,
  // %vs-name and %ext-name are built in. Using an undefined one is an error (GM-FP-022).
  std::vector<std::pair<std::string, Collection>> variables;

  // now(), today(), timeOfDay(): read once per evaluation. Default: the system clock.
  std::function<std::chrono::system_clock::time_point()> clock;
  int utc_offset_minutes = 0;  // the time zone now() reports

  // resolve(): called for references that are not found in the input itself
  // (contained "#id", Bundle entries by fullUrl or type/id). Returns the
  // resource or null; the tree must outlive the result Collection.
  std::function<const json::Value*(std::string_view reference)> resolver;
  // memberOf(valueset): item is a code, Coding or CodeableConcept. Return
  // nullopt when unknown. Without a callback memberOf() returns empty.
  std::function<std::optional<bool>(const Item& item, std::string_view valueset)> terminology;
  // conformsTo(url) for profiles other than the core resource definitions.
  // Without a callback such URLs are an error (GM-FP-026).
  std::function<std::optional<bool>(const Item& item, std::string_view profile)> conforms_to;
  // trace(name [, projection]). Default: ignored.
  std::function<void(std::string_view name, const Collection& values)> trace;

  // Work limits against hostile expressions and data (GM-FP-030).
  uint64_t max_steps = 10'000'000;      // items visited
  size_t max_items = 1'000'000;         // items in any one collection
  size_t max_string_bytes = 16u << 20;  // length of any computed string
};

class Expression {
 public:
  // Parses and checks an expression. Thread-safe.
  static Result<Expression> Compile(std::string_view text, const CompileOptions& options = {});

  // Evaluates over a resource (or any FHIR node, typed by input.resourceType or
  // options.input_type). %context is the input; %resource defaults to it.
  Result<Collection> Evaluate(const json::Value& input, const EvalOptions& options = {}) const;
  // Evaluates with an arbitrary input collection (e.g. items of an earlier result).
  Result<Collection> Evaluate(const Collection& input, const EvalOptions& options = {}) const;

  const std::string& text() const;

 private:
  explicit Expression(std::shared_ptr<const internal::Program> program)
      : program_(std::move(program)) {}
  std::shared_ptr<const internal::Program> program_;
};

// Singleton evaluation as invariants use it: empty → nullopt; one Boolean →
// its value; one item of another type → true; more items → error (GM-FP-020).
Result<std::optional<bool>> ToBoolean(const Collection& result);

// A result as JSON (the CLI's output): an array; FHIR items as their JSON (a
// primitive with only extensions as its companion object), Booleans, Integers
// and Decimals as JSON numbers/booleans, strings, dates and times as strings,
// quantities as {"value": n, "unit": "..."} and type() results as
// {"namespace": "...", "name": "..."}.
json::Value ToJson(const Collection& result);

// Where a node lives inside a tree, for FHIRPath Patch and other editors.
struct NodeLocation {
  json::Value* parent = nullptr;  // the object or array holding the node
  std::string key;                // member name when parent is an object
  size_t index = 0;               // position when parent is an array
};
// Finds `node` (e.g. Item::node() of a result evaluated over `root`) in `root`.
// Nullopt when it is not inside root or is root itself. Linear in the tree size.
std::optional<NodeLocation> Locate(json::Value& root, const json::Value* node);

// A thread-safe cache of compiled expressions keyed by text and options.
class ExpressionCache {
 public:
  ExpressionCache();
  ~ExpressionCache();
  Result<Expression> Get(std::string_view text, const CompileOptions& options = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gm::fhirpath
