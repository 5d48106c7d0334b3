// Internals of the FHIRPath engine, shared by its .cc files. Not a public API.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "fhirpath/fhirpath.h"

namespace re2 {
class RE2;
}

namespace gm::fhirpath::internal {

// ---------------------------------------------------------------- errors

inline constexpr const char* kErrSyntax = "GM-FP-001";
inline constexpr const char* kErrUnterminated = "GM-FP-002";
inline constexpr const char* kErrLiteral = "GM-FP-003";
inline constexpr const char* kErrTooLong = "GM-FP-004";
inline constexpr const char* kErrTooDeep = "GM-FP-005";
inline constexpr const char* kErrUnknownFunction = "GM-FP-010";
inline constexpr const char* kErrArity = "GM-FP-011";
inline constexpr const char* kErrUnknownType = "GM-FP-012";
inline constexpr const char* kErrUnknownElement = "GM-FP-013";
inline constexpr const char* kErrStrict = "GM-FP-014";
inline constexpr const char* kErrSingleton = "GM-FP-020";
inline constexpr const char* kErrType = "GM-FP-021";
inline constexpr const char* kErrVariable = "GM-FP-022";
inline constexpr const char* kErrRegex = "GM-FP-023";
inline constexpr const char* kErrArgument = "GM-FP-025";
inline constexpr const char* kErrProfile = "GM-FP-026";
inline constexpr const char* kErrDepth = "GM-FP-027";
inline constexpr const char* kErrLimit = "GM-FP-030";

Status CompileError(const char* code, std::string text);
Status EvalError(const char* code, std::string text);

// ---------------------------------------------------------------- values

// An exact decimal: m × 10^-scale.
struct Decimal {
  __int128 m = 0;
  int32_t scale = 0;
};
inline constexpr int kMaxScale = 30;

std::optional<Decimal> ParseDecimal(std::string_view text);
std::string DecimalToString(const Decimal& d);
Decimal DecimalFromInt(int64_t v);
int DecimalCompare(const Decimal& a, const Decimal& b);
bool DecimalAdd(const Decimal& a, const Decimal& b, Decimal& out);
bool DecimalSub(const Decimal& a, const Decimal& b, Decimal& out);
bool DecimalMul(const Decimal& a, const Decimal& b, Decimal& out);
bool DecimalDiv(const Decimal& a, const Decimal& b, Decimal& out);  // false on /0 or overflow
bool DecimalMod(const Decimal& a, const Decimal& b, Decimal& out);
Decimal DecimalRound(const Decimal& d, int digits);              // half away from zero
Decimal DecimalTruncate(const Decimal& d, int digits);           // toward zero
Decimal DecimalNormalize(const Decimal& d);                      // strips trailing zeros
bool DecimalRescale(const Decimal& d, int scale, Decimal& out);  // exact widening
double DecimalToDouble(const Decimal& d);
std::optional<Decimal> DecimalFromDouble(double v);
bool DecimalIsInteger(const Decimal& d);
bool DecimalToInt64(const Decimal& d, int64_t& out);  // integral part, false on overflow

enum Precision : int8_t {
  kYear = 1,
  kMonth,
  kDay,
  kHour,
  kMinute,
  kSecond,
  kMillis,
};

// A date, dateTime or time (which one is the Item's kind).
struct DateTime {
  int32_t year = 0;
  int8_t month = 1, day = 1, hour = 0, minute = 0, second = 0;
  int16_t ms = 0;
  int8_t precision = kYear;  // for times: kHour..kMillis
  bool has_tz = false;
  int16_t tz = 0;  // minutes east of UTC
};

enum class DtKind : uint8_t { kDate, kDateTime, kTime };
// Parsers for ISO text (FHIR JSON form, no '@'). DateTime also accepts a
// trailing 'T' after a date (FHIRPath literal @2015T).
bool ParseDate(std::string_view s, DateTime& out);
bool ParseDateTime(std::string_view s, DateTime& out);
bool ParseTime(std::string_view s, DateTime& out);
std::string FormatDateTime(const DateTime& d, DtKind kind);
// Three-way comparison under FHIRPath precision rules: nullopt when the
// answer depends on precision or time zone that one side lacks.
std::optional<int> CompareDateTime(const DateTime& a, DtKind ka, const DateTime& b, DtKind kb);
int DaysInMonth(int year, int month);
// Wall-clock milliseconds since 1970-01-01T00:00 of the fields (time zone ignored).
int64_t ToEpochMs(const DateTime& d);
void FromEpochMs(int64_t ms, DateTime& d);

enum class CalUnit : uint8_t {
  kNone,
  kYear,
  kMonth,
  kWeek,
  kDay,
  kHour,
  kMinute,
  kSecond,
  kMillis
};
CalUnit CalendarKeyword(std::string_view word);  // "year", "years", ... or kNone

struct Quantity {
  Decimal value;
  std::string_view unit;  // UCUM code, or the calendar keyword as written
  CalUnit calendar = CalUnit::kNone;
};
std::string FormatQuantity(const Quantity& q);

// UCUM: canonical form of a unit for comparison and conversion.
struct UcumCanonical {
  Decimal factor;                // value in canonical units = value × factor
  std::array<int8_t, 10> dim{};  // exponents of m, g, s, rad, K, C, cd, mol, eq, [arbitrary]
  bool ok = false;
};
UcumCanonical UcumParse(std::string_view unit);
// Maps a quantity to UCUM (calendar durations week..millisecond become wk..ms;
// year and month stay calendar). False if not comparable.
// Compares or converts two quantities: returns false when not comparable.
bool QuantityToCommon(const Quantity& a, const Quantity& b, Decimal& va, Decimal& vb);
// Product/quotient units: "cm.m", "g/m" in UCUM syntax.
bool QuantityMul(const Quantity& a, const Quantity& b, bool divide, Decimal& value,
                 std::string& unit);

// ---------------------------------------------------------------- arena

// Bump allocator for values made during one evaluation (or one compile).
class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  void* Allocate(size_t size, size_t align);
  template <typename T, typename... A>
  T* New(A&&... args) {
    static_assert(std::is_trivially_destructible_v<T>);
    return new (Allocate(sizeof(T), alignof(T))) T{std::forward<A>(args)...};
  }
  std::string_view Copy(std::string_view s);
  size_t bytes() const { return total_; }

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* cur_ = nullptr;
  size_t left_ = 0;
  size_t total_ = 0;
};

// What a Collection keeps alive.
struct Storage {
  Arena arena;
  std::vector<std::shared_ptr<const void>> keep;
};

// ---------------------------------------------------------------- model

enum class SysKind : uint8_t {
  kNone,
  kBoolean,
  kInteger,
  kDecimal,
  kString,
  kDate,
  kDateTime,
  kTime
};

struct FType;

uint64_t HashName(std::string_view s);

// Equality for the short names of JSON members (avoids a library call).
inline bool SameName(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k] != b[k]) return false;
  }
  return true;
}

// A child element as navigation needs it.
struct Elem {
  std::string_view name;  // JSON name (stem for choices)
  const fhir::ElementDef* def = nullptr;
  const FType* type = nullptr;  // null for choices; abstract "Resource" for resource slots
  bool choice = false;
  struct Choice {
    std::string suffix;  // "Quantity"
    const FType* type;
  };
  std::vector<Choice> choices;
};

// Open-addressing table from name to element, probed with a precomputed hash.
class ElemTable {
 public:
  void Build(std::vector<Elem> elems);
  const Elem* Find(std::string_view name, uint64_t hash) const {
    if (slots_.empty()) return nullptr;
    for (uint64_t h = hash & mask_;; h = (h + 1) & mask_) {
      int32_t k = slots_[h];
      if (k < 0) return nullptr;
      const Elem& e = elems_[k];
      if (e.name.size() == name.size() && SameName(e.name, name)) return &e;
    }
  }
  const std::vector<Elem>& all() const { return elems_; }

 private:
  std::vector<Elem> elems_;
  std::vector<int32_t> slots_;
  uint64_t mask_ = 0;
};

struct FType {
  const fhir::TypeDef* def = nullptr;
  std::string_view name;
  const FType* base = nullptr;
  SysKind system = SysKind::kNone;  // primitives
  bool primitive = false;
  bool resource = false;  // resource types, abstract ones included
  bool abstract_ = false;
  ElemTable elements;
};

// The R4 type index, built once on first use. Thread-safe.
const FType* FindType(std::string_view name);
const FType* ResourceType(const json::Value& node);  // by resourceType, else null
bool IsA(const FType* t, const FType* ancestor);
// The type of a resource slot's content: by resourceType, else the slot's type.
inline const FType* ConcreteType(const FType* slot, const json::Value& node) {
  if (slot != nullptr && slot->resource) {
    if (const FType* t = ResourceType(node)) return t;
  }
  return slot;
}

// ---------------------------------------------------------------- items

struct Access {
  static Item Fhir(const FType* t, const json::Value* node, const json::Value* ext) {
    Item it;
    it.kind_ = ValueKind::kFhir;
    it.type_ = t;
    it.u_.n.node = node;
    it.u_.n.ext = ext;
    return it;
  }
  // Writes a FHIR item in place (avoids a copy through the stack).
  static void SetFhir(Item& it, const FType* t, const json::Value* node, const json::Value* ext) {
    it.kind_ = ValueKind::kFhir;
    it.flags_ = 0;
    it.type_ = t;
    it.u_.n.node = node;
    it.u_.n.ext = ext;
  }
  static Item Bool(bool b) {
    Item it;
    it.kind_ = ValueKind::kBoolean;
    it.u_.b = b;
    return it;
  }
  static Item Int(int64_t v) {
    Item it;
    it.kind_ = ValueKind::kInteger;
    it.u_.i = v;
    return it;
  }
  static Item Str(std::string_view s) {
    Item it;
    it.kind_ = ValueKind::kString;
    it.u_.s.data = s.data();
    it.u_.s.size = s.size();
    return it;
  }
  static Item Dec(const Decimal* d) {
    Item it;
    it.kind_ = ValueKind::kDecimal;
    it.u_.d = d;
    return it;
  }
  static Item Dt(ValueKind k, const DateTime* d) {
    Item it;
    it.kind_ = k;
    it.u_.dt = d;
    return it;
  }
  static Item Qty(const Quantity* q) {
    Item it;
    it.kind_ = ValueKind::kQuantity;
    it.u_.q = q;
    return it;
  }
  // type(): namespace is flags (0 System, 1 FHIR), name in s.
  static Item TypeInfo(bool fhir, std::string_view name) {
    Item it;
    it.kind_ = ValueKind::kTypeInfo;
    it.flags_ = fhir ? 1 : 0;
    it.u_.s.data = name.data();
    it.u_.s.size = name.size();
    return it;
  }

  static const FType* type(const Item& it) { return it.type_; }
  static const json::Value* node(const Item& it) { return it.u_.n.node; }
  static const json::Value* ext(const Item& it) { return it.u_.n.ext; }
  static bool b(const Item& it) { return it.u_.b; }
  static int64_t i(const Item& it) { return it.u_.i; }
  static std::string_view s(const Item& it) { return {it.u_.s.data, it.u_.s.size}; }
  static const Decimal& d(const Item& it) { return *it.u_.d; }
  static const DateTime& dt(const Item& it) { return *it.u_.dt; }
  static const Quantity& q(const Item& it) { return *it.u_.q; }
  static uint8_t flags(const Item& it) { return it.flags_; }

  static std::vector<Item>& items(Collection& c) { return c.items_; }
  static const std::vector<Item>& items(const Collection& c) { return c.items_; }
  static std::shared_ptr<void>& storage(Collection& c) { return c.storage_; }
  static const std::shared_ptr<void>& storage(const Collection& c) { return c.storage_; }
};

// ---------------------------------------------------------------- small vector

// A vector of trivially copyable items with inline room for N.
template <typename T, size_t N>
class SmallVec {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  SmallVec() = default;
  SmallVec(const SmallVec& o) { Append(o.data(), o.size()); }
  SmallVec(SmallVec&& o) noexcept { Steal(o); }
  SmallVec& operator=(const SmallVec& o) {
    if (this != &o) {
      size_ = 0;
      Append(o.data(), o.size());
    }
    return *this;
  }
  SmallVec& operator=(SmallVec&& o) noexcept {
    if (this != &o) {
      Free();
      Steal(o);
    }
    return *this;
  }
  ~SmallVec() { Free(); }

  T* data() { return heap_ ? heap_ : reinterpret_cast<T*>(inline_); }
  const T* data() const { return heap_ ? heap_ : reinterpret_cast<const T*>(inline_); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  T* begin() { return data(); }
  T* end() { return data() + size_; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size_; }
  T& back() { return data()[size_ - 1]; }
  void clear() { size_ = 0; }
  void resize(size_t n) {
    Reserve(n);
    size_ = n;
  }
  void push_back(const T& v) {
    if (size_ == cap_) Reserve(cap_ * 2);
    data()[size_++] = v;
  }
  // Appends a slot whose fields the caller sets.
  T& emplace_slot() {
    if (size_ == cap_) Reserve(cap_ * 2);
    return data()[size_++];
  }
  void Append(const T* p, size_t n) {
    Reserve(size_ + n);
    if (n) std::memcpy(static_cast<void*>(data() + size_), p, n * sizeof(T));
    size_ += n;
  }
  void Reserve(size_t n) {
    if (n <= cap_) return;
    size_t cap = cap_ * 2 > n ? cap_ * 2 : n;
    T* p = static_cast<T*>(::operator new(cap * sizeof(T)));
    if (size_) std::memcpy(static_cast<void*>(p), data(), size_ * sizeof(T));
    if (heap_) ::operator delete(heap_);
    heap_ = p;
    cap_ = cap;
  }
  void erase_prefix(size_t n) {
    if (n >= size_) {
      size_ = 0;
      return;
    }
    std::memmove(static_cast<void*>(data()), data() + n, (size_ - n) * sizeof(T));
    size_ -= n;
  }

 private:
  void Free() {
    if (heap_) ::operator delete(heap_);
    heap_ = nullptr;
    cap_ = N;
    size_ = 0;
  }
  void Steal(SmallVec& o) {
    if (o.heap_) {
      heap_ = o.heap_;
      cap_ = o.cap_;
      size_ = o.size_;
      o.heap_ = nullptr;
      o.cap_ = N;
      o.size_ = 0;
    } else {
      heap_ = nullptr;
      cap_ = N;
      size_ = 0;
      Append(o.data(), o.size());
      o.size_ = 0;
    }
  }
  T* heap_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = N;
  alignas(T) unsigned char inline_[N * sizeof(T)];
};

using Coll = SmallVec<Item, 8>;

// ---------------------------------------------------------------- AST

enum class NodeKind : uint8_t {
  kLiteral,     // literal (an Item owned by the program)
  kEmpty,       // {}
  kThis,        // $this
  kIndex,       // $index
  kTotal,       // $total
  kVariable,    // %name
  kMember,      // input.name, or name against $this
  kTypeFilter,  // a leading type name: Patient.name
  kCall,        // input.fn(args) or fn(args) against $this
  kIndexer,     // input[arg]
  kNegate,      // -arg
  kBinary,      // args[0] op args[1]
  kIs,          // input is T
  kAs,          // input as T
};

enum class BinOp : uint8_t {
  kMul,
  kDiv,
  kIntDiv,
  kMod,
  kAdd,
  kSub,
  kConcat,
  kUnion,
  kLt,
  kLe,
  kGt,
  kGe,
  kEq,
  kNe,
  kEquiv,
  kNotEquiv,
  kIn,
  kContains,
  kAnd,
  kOr,
  kXor,
  kImplies,
};

enum class Fn : uint8_t {
  kEmpty,
  kExists,
  kAll,
  kAllTrue,
  kAnyTrue,
  kAllFalse,
  kAnyFalse,
  kSubsetOf,
  kSupersetOf,
  kCount,
  kDistinct,
  kIsDistinct,
  kWhere,
  kSelect,
  kRepeat,
  kOfType,
  kSingle,
  kFirst,
  kLast,
  kTail,
  kSkip,
  kTake,
  kIntersect,
  kExclude,
  kUnion,
  kCombine,
  kIif,
  kToBoolean,
  kConvertsToBoolean,
  kToInteger,
  kConvertsToInteger,
  kToDecimal,
  kConvertsToDecimal,
  kToString,
  kConvertsToString,
  kToDate,
  kConvertsToDate,
  kToDateTime,
  kConvertsToDateTime,
  kToTime,
  kConvertsToTime,
  kToQuantity,
  kConvertsToQuantity,
  kIndexOf,
  kSubstring,
  kStartsWith,
  kEndsWith,
  kContains,
  kUpper,
  kLower,
  kReplace,
  kMatches,
  kMatchesFull,
  kReplaceMatches,
  kLength,
  kToChars,
  kTrim,
  kSplit,
  kJoin,
  kEncode,
  kDecode,
  kEscape,
  kUnescape,
  kAbs,
  kCeiling,
  kExp,
  kFloor,
  kLn,
  kLog,
  kPower,
  kRound,
  kSqrt,
  kTruncate,
  kChildren,
  kDescendants,
  kTrace,
  kNow,
  kToday,
  kTimeOfDay,
  kAggregate,
  kNot,
  kIs,
  kAs,
  kType,
  kExtension,
  kHasValue,
  kGetValue,
  kResolve,
  kMemberOf,
  kConformsTo,
  kHtmlChecks,
  kLowBoundary,
  kHighBoundary,
  kPrecision,
  kComparable,
  kSort,
  kGetResourceKey,
  kGetReferenceKey,
};

// A resolved type specifier.
struct TypeSpec {
  const FType* fhir = nullptr;      // FHIR.X
  SysKind system = SysKind::kNone;  // System.X
  bool quantity = false;            // System.Quantity
  bool any = false;                 // System.Any
  bool never = false;               // a System name that no value has (System.Patient)
  std::string name;
};

struct Node {
  NodeKind kind = NodeKind::kLiteral;
  BinOp op = BinOp::kAdd;
  Fn fn = Fn::kEmpty;
  uint32_t pos = 0;  // byte offset in the text
  int depth = 1;     // height of the subtree
  const Node* input = nullptr;
  std::vector<const Node*> args;
  std::string name;                       // member/variable name
  std::string ext_name;                   // "_" + name
  uint64_t hash = 0;                      // HashName(name)
  Item literal;                           // kLiteral
  TypeSpec type;                          // kIs, kAs, kTypeFilter, ofType/is/as calls
  std::shared_ptr<const re2::RE2> regex;  // matches/replaceMatches with a literal pattern
  bool descending = false;                // sort() key written as -expr
};

struct Program {
  std::string text;
  std::vector<std::unique_ptr<Node>> nodes;
  const Node* root = nullptr;
  Arena arena;  // literal values
  std::vector<std::shared_ptr<const re2::RE2>> regexes;
};

Result<std::shared_ptr<const Program>> Parse(std::string_view text, const CompileOptions& options);

// Evaluates program over the focus collection; results share `storage`.
Status Run(const std::shared_ptr<const Program>& program, const Coll& focus, const Item* resource,
           const Item* root_resource, const EvalOptions& options, std::shared_ptr<Storage>& storage,
           Coll& out);

// ---------------------------------------------------------------- conversions

// A FHIR primitive or System value viewed as a System value.
struct Scalar {
  ValueKind kind = ValueKind::kFhir;  // kFhir = no value (complex, or primitive without value)
  bool b = false;
  int64_t i = 0;
  std::string_view s;
  Decimal d;
  DateTime dt;
  Quantity q;
};
// False when the item is not a value (complex FHIR node, primitive without value).
bool ToScalar(const Item& item, Scalar& out);
std::string ScalarToString(const Scalar& s);
SysKind SysKindOf(ValueKind k);

std::string_view TypeNameOf(const Item& item);
bool IsTypeOf(const Item& item, const TypeSpec& spec, bool exact);

// Structural equality (=) and equivalence (~) on single items. nullopt = empty.
std::optional<bool> ItemsEqual(const Item& a, const Item& b);
bool ItemsEquivalent(const Item& a, const Item& b);

}  // namespace gm::fhirpath::internal
