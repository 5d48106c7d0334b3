// The FHIRPath evaluator: paths, operators, equality and the System view of
// FHIR primitives. Functions live in functions.cc.
#include "fhirpath/eval.h"

#include <cstdlib>

namespace gm::fhirpath::internal {

namespace {

constexpr int kMaxEvalDepth = 2000;

bool ParseInt64(std::string_view s, int64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  size_t i = 0;
  bool neg = false;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == s.size()) return false;
  int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = neg ? -v : v;
  return true;
}

// Case-insensitive, whitespace-normalised string comparison for ~.
bool StringsEquivalent(std::string_view a, std::string_view b) {
  auto norm = [](std::string_view s) {
    std::string r;
    bool space = false;
    for (char c : s) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        space = true;
        continue;
      }
      if (space && !r.empty()) r.push_back(' ');
      space = false;
      r.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
    return r;
  };
  return norm(a) == norm(b);
}

bool JsonNumbersEqual(const json::Value& a, const json::Value& b) {
  if (a.str() == b.str()) return true;
  auto da = ParseDecimal(a.str()), db = ParseDecimal(b.str());
  return da && db && DecimalCompare(*da, *db) == 0;
}

bool JsonEqual(const json::Value& a, const json::Value& b, bool equivalent, int depth) {
  if (depth > 256) return false;
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::Kind::kNull:
      return true;
    case json::Kind::kBool:
      return a.as_bool() == b.as_bool();
    case json::Kind::kNumber:
      return JsonNumbersEqual(a, b);
    case json::Kind::kString:
      return equivalent ? StringsEquivalent(a.str(), b.str()) : a.str() == b.str();
    case json::Kind::kArray: {
      if (a.array().size() != b.array().size()) return false;
      for (size_t k = 0; k < a.array().size(); ++k) {
        if (!JsonEqual(a.array()[k], b.array()[k], equivalent, depth + 1)) return false;
      }
      return true;
    }
    case json::Kind::kObject: {
      size_t na = 0, nb = 0;
      for (const auto& [k, v] : a.object()) {
        if (equivalent && k == "id") continue;
        ++na;
        const json::Value* o = b.find(k);
        if (o == nullptr || !JsonEqual(v, *o, equivalent, depth + 1)) return false;
      }
      for (const auto& [k, v] : b.object()) {
        if (!(equivalent && k == "id")) ++nb;
      }
      return na == nb;
    }
  }
  return false;
}

bool IsComplexNode(const Item& it) {
  if (it.kind() != ValueKind::kFhir) return false;
  const FType* t = Access::type(it);
  if (t != nullptr && t->primitive) return false;
  const json::Value* n = Access::node(it);
  return n == nullptr || n->is_object() || n->is_array();
}

const FType* QuantityType() {
  static const FType* t = FindType("Quantity");
  return t;
}

}  // namespace

// ---------------------------------------------------------------- scalars

SysKind SysKindOf(ValueKind k) {
  switch (k) {
    case ValueKind::kBoolean:
      return SysKind::kBoolean;
    case ValueKind::kInteger:
      return SysKind::kInteger;
    case ValueKind::kDecimal:
      return SysKind::kDecimal;
    case ValueKind::kString:
      return SysKind::kString;
    case ValueKind::kDate:
      return SysKind::kDate;
    case ValueKind::kDateTime:
      return SysKind::kDateTime;
    case ValueKind::kTime:
      return SysKind::kTime;
    default:
      return SysKind::kNone;
  }
}

bool ToScalar(const Item& it, Scalar& out) {
  out.kind = it.kind();
  switch (it.kind()) {
    case ValueKind::kBoolean:
      out.b = Access::b(it);
      return true;
    case ValueKind::kInteger:
      out.i = Access::i(it);
      return true;
    case ValueKind::kDecimal:
      out.d = Access::d(it);
      return true;
    case ValueKind::kString:
      out.s = Access::s(it);
      return true;
    case ValueKind::kDate:
    case ValueKind::kDateTime:
    case ValueKind::kTime:
      out.dt = Access::dt(it);
      return true;
    case ValueKind::kQuantity:
      out.q = Access::q(it);
      return true;
    case ValueKind::kTypeInfo:
      out.kind = ValueKind::kFhir;
      return false;
    case ValueKind::kFhir:
      break;
  }
  out.kind = ValueKind::kFhir;
  const FType* t = Access::type(it);
  const json::Value* n = Access::node(it);
  if (n == nullptr || t == nullptr) return false;
  if (!t->primitive) {
    if (!IsA(t, QuantityType()) || !n->is_object()) return false;
    const json::Value* v = n->find("value");
    if (v == nullptr || !v->is_number()) return false;
    auto d = ParseDecimal(v->str());
    if (!d) return false;
    out.kind = ValueKind::kQuantity;
    out.q.value = *d;
    std::string_view system = n->get_string("system");
    std::string_view code = n->get_string("code");
    out.q.unit = (system == "http://unitsofmeasure.org" && !code.empty()) || system.empty()
                     ? (code.empty() ? n->get_string("unit") : code)
                     : n->get_string("unit");
    if (out.q.unit.empty()) out.q.unit = "1";
    out.q.calendar = CalUnit::kNone;
    return true;
  }
  switch (t->system) {
    case SysKind::kBoolean:
      if (!n->is_bool()) return false;
      out.kind = ValueKind::kBoolean;
      out.b = n->as_bool();
      return true;
    case SysKind::kInteger:
      if (!n->is_number() || !ParseInt64(n->str(), out.i)) return false;
      out.kind = ValueKind::kInteger;
      return true;
    case SysKind::kDecimal: {
      if (!n->is_number()) return false;
      auto d = ParseDecimal(n->str());
      if (!d) return false;
      out.kind = ValueKind::kDecimal;
      out.d = *d;
      return true;
    }
    case SysKind::kString:
      if (!n->is_string()) return false;
      out.kind = ValueKind::kString;
      out.s = n->str();
      return true;
    case SysKind::kDate:
      if (!n->is_string() || !ParseDate(n->str(), out.dt)) return false;
      out.kind = ValueKind::kDate;
      return true;
    case SysKind::kDateTime:
      if (!n->is_string() || !ParseDateTime(n->str(), out.dt)) return false;
      out.kind = ValueKind::kDateTime;
      return true;
    case SysKind::kTime:
      if (!n->is_string() || !ParseTime(n->str(), out.dt)) return false;
      out.kind = ValueKind::kTime;
      return true;
    case SysKind::kNone:
      return false;
  }
  return false;
}

std::string ScalarToString(const Scalar& s) {
  switch (s.kind) {
    case ValueKind::kBoolean:
      return s.b ? "true" : "false";
    case ValueKind::kInteger:
      return std::to_string(s.i);
    case ValueKind::kDecimal:
      return DecimalToString(s.d);
    case ValueKind::kString:
      return std::string(s.s);
    case ValueKind::kDate:
      return FormatDateTime(s.dt, DtKind::kDate);
    case ValueKind::kDateTime:
      return FormatDateTime(s.dt, DtKind::kDateTime);
    case ValueKind::kTime:
      return FormatDateTime(s.dt, DtKind::kTime);
    case ValueKind::kQuantity:
      return FormatQuantity(s.q);
    default:
      return {};
  }
}

static DtKind DtKindOf(ValueKind k) {
  return k == ValueKind::kDate   ? DtKind::kDate
         : k == ValueKind::kTime ? DtKind::kTime
                                 : DtKind::kDateTime;
}

static bool IsDateKind(ValueKind k) {
  return k == ValueKind::kDate || k == ValueKind::kDateTime || k == ValueKind::kTime;
}

std::string_view TypeNameOf(const Item& it) {
  switch (it.kind()) {
    case ValueKind::kFhir: {
      const FType* t = Access::type(it);
      return t ? t->name : std::string_view();
    }
    case ValueKind::kBoolean:
      return "Boolean";
    case ValueKind::kInteger:
      return "Integer";
    case ValueKind::kDecimal:
      return "Decimal";
    case ValueKind::kString:
      return "String";
    case ValueKind::kDate:
      return "Date";
    case ValueKind::kDateTime:
      return "DateTime";
    case ValueKind::kTime:
      return "Time";
    case ValueKind::kQuantity:
      return "Quantity";
    case ValueKind::kTypeInfo:
      return "TypeInfo";
  }
  return {};
}

bool IsTypeOf(const Item& it, const TypeSpec& spec, bool exact) {
  if (spec.any) return true;
  if (spec.never) return false;
  if (it.kind() == ValueKind::kFhir) {
    const FType* t = Access::type(it);
    if (spec.fhir == nullptr || t == nullptr) return false;
    if (exact && spec.fhir->primitive) return t == spec.fhir;
    return IsA(t, spec.fhir);
  }
  if (spec.fhir != nullptr) return false;
  if (spec.quantity) return it.kind() == ValueKind::kQuantity;
  return spec.system != SysKind::kNone && spec.system == SysKindOf(it.kind());
}

std::optional<bool> ItemsEqual(const Item& a, const Item& b) {
  bool ca = IsComplexNode(a), cb = IsComplexNode(b);
  if (ca && cb) {
    const json::Value* na = Access::node(a);
    const json::Value* nb = Access::node(b);
    if (na == nb) return true;
    if (na == nullptr || nb == nullptr) return false;
    return JsonEqual(*na, *nb, false, 0);
  }
  if (a.kind() == ValueKind::kTypeInfo || b.kind() == ValueKind::kTypeInfo) {
    return a.kind() == b.kind() && Access::flags(a) == Access::flags(b) &&
           Access::s(a) == Access::s(b);
  }
  Scalar x, y;
  bool hx = ToScalar(a, x), hy = ToScalar(b, y);
  if (ca || cb) {
    // Only a FHIR Quantity compares with a System value (a System Quantity).
    if (!hx || !hy || x.kind != ValueKind::kQuantity || y.kind != ValueKind::kQuantity) {
      return false;
    }
  }
  if (!hx || !hy) return std::nullopt;
  if (x.kind == ValueKind::kInteger && y.kind == ValueKind::kInteger) return x.i == y.i;
  if ((x.kind == ValueKind::kInteger || x.kind == ValueKind::kDecimal) &&
      (y.kind == ValueKind::kInteger || y.kind == ValueKind::kDecimal)) {
    Decimal dx = x.kind == ValueKind::kInteger ? DecimalFromInt(x.i) : x.d;
    Decimal dy = y.kind == ValueKind::kInteger ? DecimalFromInt(y.i) : y.d;
    return DecimalCompare(dx, dy) == 0;
  }
  if (IsDateKind(x.kind) && IsDateKind(y.kind)) {
    if ((x.kind == ValueKind::kTime) != (y.kind == ValueKind::kTime)) return false;
    std::optional<int> c = CompareDateTime(x.dt, DtKindOf(x.kind), y.dt, DtKindOf(y.kind));
    if (!c) return std::nullopt;
    return *c == 0;
  }
  if (x.kind != y.kind) return false;
  switch (x.kind) {
    case ValueKind::kBoolean:
      return x.b == y.b;
    case ValueKind::kString:
      return x.s == y.s;
    case ValueKind::kQuantity: {
      Decimal va, vb;
      if (!QuantityToCommon(x.q, y.q, va, vb)) return std::nullopt;
      return DecimalCompare(va, vb) == 0;
    }
    default:
      return false;
  }
}

bool ItemsEquivalent(const Item& a, const Item& b) {
  bool ca = IsComplexNode(a), cb = IsComplexNode(b);
  if (ca && cb) {
    const json::Value* na = Access::node(a);
    const json::Value* nb = Access::node(b);
    if (na == nb) return true;
    if (na == nullptr || nb == nullptr) return false;
    return JsonEqual(*na, *nb, true, 0);
  }
  if (a.kind() == ValueKind::kTypeInfo || b.kind() == ValueKind::kTypeInfo) {
    return ItemsEqual(a, b).value_or(false);
  }
  Scalar x, y;
  bool hx = ToScalar(a, x), hy = ToScalar(b, y);
  if (ca || cb) {
    // Only a FHIR Quantity is equivalent to a System value (a System Quantity).
    if (!hx || !hy || x.kind != ValueKind::kQuantity || y.kind != ValueKind::kQuantity) {
      return false;
    }
  }
  if (!hx || !hy) return hx == hy;
  auto decimals_equivalent = [](const Decimal& p, const Decimal& q) {
    int s = p.scale < q.scale ? p.scale : q.scale;
    return DecimalCompare(DecimalRound(p, s), DecimalRound(q, s)) == 0;
  };
  if ((x.kind == ValueKind::kInteger || x.kind == ValueKind::kDecimal) &&
      (y.kind == ValueKind::kInteger || y.kind == ValueKind::kDecimal)) {
    Decimal dx = x.kind == ValueKind::kInteger ? DecimalFromInt(x.i) : x.d;
    Decimal dy = y.kind == ValueKind::kInteger ? DecimalFromInt(y.i) : y.d;
    return decimals_equivalent(dx, dy);
  }
  if (IsDateKind(x.kind) && IsDateKind(y.kind)) {
    if (x.kind != y.kind && (x.kind == ValueKind::kTime || y.kind == ValueKind::kTime)) {
      return false;
    }
    std::optional<int> c = CompareDateTime(x.dt, DtKindOf(x.kind), y.dt, DtKindOf(y.kind));
    return c && *c == 0;
  }
  if (x.kind != y.kind) return false;
  switch (x.kind) {
    case ValueKind::kBoolean:
      return x.b == y.b;
    case ValueKind::kString:
      return StringsEquivalent(x.s, y.s);
    case ValueKind::kQuantity: {
      Decimal va, vb;
      if (!QuantityToCommon(x.q, y.q, va, vb)) return false;
      return decimals_equivalent(va, vb);
    }
    default:
      return false;
  }
}

// ---------------------------------------------------------------- dates

CalUnit DurationUnit(const Quantity& q, bool& invalid) {
  invalid = false;
  if (q.calendar != CalUnit::kNone) return q.calendar;
  static const std::pair<std::string_view, CalUnit> kUcum[] = {
      {"wk", CalUnit::kWeek},    {"d", CalUnit::kDay},    {"h", CalUnit::kHour},
      {"min", CalUnit::kMinute}, {"s", CalUnit::kSecond}, {"ms", CalUnit::kMillis}};
  for (const auto& [u, c] : kUcum) {
    if (q.unit == u) return c;
  }
  // Calendar keywords written as strings ('month') are accepted; the UCUM
  // year and month ('a', 'mo') are not calendar durations.
  CalUnit k = CalendarKeyword(q.unit);
  if (k != CalUnit::kNone) return k;
  invalid = true;
  return CalUnit::kNone;
}

bool DateAdd(DateTime& d, DtKind kind, CalUnit unit, int64_t amount) {
  if (amount > 1'000'000'000 || amount < -1'000'000'000) return false;
  if (kind == DtKind::kTime) {
    int64_t ms;
    switch (unit) {
      case CalUnit::kHour:
        ms = amount * 3600000;
        break;
      case CalUnit::kMinute:
        ms = amount * 60000;
        break;
      case CalUnit::kSecond:
        ms = amount * 1000;
        break;
      case CalUnit::kMillis:
        ms = amount;
        break;
      default:
        return false;
    }
    int64_t t = ((d.hour * 60 + d.minute) * 60 + d.second) * 1000 + d.ms + ms;
    t %= 86400000;
    if (t < 0) t += 86400000;
    d.hour = static_cast<int8_t>(t / 3600000);
    d.minute = static_cast<int8_t>(t / 60000 % 60);
    d.second = static_cast<int8_t>(t / 1000 % 60);
    d.ms = static_cast<int16_t>(t % 1000);
    return true;
  }
  if (unit == CalUnit::kYear || unit == CalUnit::kMonth) {
    int64_t months = static_cast<int64_t>(d.year) * 12 + (d.month - 1) +
                     (unit == CalUnit::kYear ? amount * 12 : amount);
    if (months < 0 || months >= 10000 * 12) return false;
    d.year = static_cast<int32_t>(months / 12);
    d.month = static_cast<int8_t>(months % 12 + 1);
    int dim = DaysInMonth(d.year, d.month);
    if (d.day > dim) d.day = static_cast<int8_t>(dim);
    return true;
  }
  int64_t ms;
  switch (unit) {
    case CalUnit::kWeek:
      ms = amount * 7 * 86400000;
      break;
    case CalUnit::kDay:
      ms = amount * 86400000;
      break;
    case CalUnit::kHour:
      ms = amount * 3600000;
      break;
    case CalUnit::kMinute:
      ms = amount * 60000;
      break;
    case CalUnit::kSecond:
      ms = amount * 1000;
      break;
    case CalUnit::kMillis:
      ms = amount;
      break;
    default:
      return false;
  }
  if (kind == DtKind::kDate || d.precision < kHour) {
    // Time-valued durations move a date by whole days.
    ms = ms / 86400000 * 86400000;
  }
  DateTime full = d;
  if (full.precision < kMonth) full.month = 1;
  if (full.precision < kDay) full.day = 1;
  DateTime r = full;
  FromEpochMs(ToEpochMs(full) + ms, r);
  if (r.year < 1 || r.year > 9999) return false;
  d.year = r.year;
  if (d.precision >= kMonth) d.month = r.month;
  if (d.precision >= kDay) d.day = r.day;
  if (d.precision >= kHour) d.hour = r.hour;
  if (d.precision >= kMinute) d.minute = r.minute;
  if (d.precision >= kSecond) d.second = r.second;
  if (d.precision >= kMillis) d.ms = r.ms;
  return true;
}
// ---------------------------------------------------------------- evaluator

Status Evaluator::Error(const Node* n, const char* code, const std::string& text) const {
  int line = 1, col = 1;
  for (uint32_t k = 0; n != nullptr && k < n->pos && k < program_.text.size(); ++k) {
    if (program_.text[k] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return EvalError(code,
                   "FHIRPath " + std::to_string(line) + ":" + std::to_string(col) + ": " + text);
}

Status Evaluator::Single(const Coll& c, const Node* n, const Item*& item) const {
  item = nullptr;
  if (c.size() > 1) {
    return Error(n, kErrSingleton,
                 "expected a single item, got a collection of " + std::to_string(c.size()));
  }
  if (c.size() == 1) item = &c[0];
  return Status::Ok();
}

Status Evaluator::Bool(const Coll& c, const Node* n, std::optional<bool>& out) const {
  out.reset();
  const Item* it = nullptr;
  GM_RETURN_IF_ERROR(Single(c, n, it));
  if (it == nullptr) return Status::Ok();
  Scalar s;
  if (ToScalar(*it, s) && s.kind == ValueKind::kBoolean) {
    out = s.b;
  } else if (it->kind() == ValueKind::kFhir && Access::type(*it) != nullptr &&
             Access::type(*it)->system == SysKind::kBoolean) {
    out.reset();  // a boolean primitive without a value
  } else {
    out = true;
  }
  return Status::Ok();
}

Status Evaluator::ArgScalar(const Node* arg, const Frame& f, bool& present, Scalar& out) {
  Coll c;
  GM_RETURN_IF_ERROR(Eval(arg, f, c));
  const Item* it = nullptr;
  GM_RETURN_IF_ERROR(Single(c, arg, it));
  present = it != nullptr && ToScalar(*it, out);
  return Status::Ok();
}

Status Evaluator::ArgString(const Node* arg, const Frame& f, bool& present, std::string_view& out,
                            std::string& holder) {
  if (arg->kind == NodeKind::kLiteral && arg->literal.kind() == ValueKind::kString) {
    present = true;
    out = Access::s(arg->literal);
    return Status::Ok();
  }
  Scalar s;
  GM_RETURN_IF_ERROR(ArgScalar(arg, f, present, s));
  if (!present) return Status::Ok();
  if (s.kind != ValueKind::kString) {
    return Error(arg, kErrType, "expected a String argument");
  }
  holder = std::string(s.s);
  out = holder;
  return Status::Ok();
}

Status Evaluator::ArgInteger(const Node* arg, const Frame& f, bool& present, int64_t& out) {
  Scalar s;
  GM_RETURN_IF_ERROR(ArgScalar(arg, f, present, s));
  if (!present) return Status::Ok();
  if (s.kind != ValueKind::kInteger) return Error(arg, kErrType, "expected an Integer argument");
  out = s.i;
  return Status::Ok();
}

Item Evaluator::FromScalar(const Scalar& s) {
  switch (s.kind) {
    case ValueKind::kBoolean:
      return Access::Bool(s.b);
    case ValueKind::kInteger:
      return Access::Int(s.i);
    case ValueKind::kDecimal:
      return MakeDecimal(s.d);
    case ValueKind::kString:
      return Access::Str(s.s);
    case ValueKind::kDate:
    case ValueKind::kDateTime:
    case ValueKind::kTime:
      return MakeDt(s.kind, s.dt);
    case ValueKind::kQuantity:
      return MakeQuantity(s.q);
    default:
      return Access::Bool(false);
  }
}

bool Evaluator::Contains(const Coll& c, const Item& it) {
  for (const Item& x : c) {
    ++steps_;
    if (x.kind() == ValueKind::kFhir && it.kind() == ValueKind::kFhir &&
        Access::node(x) == Access::node(it) && Access::ext(x) == Access::ext(it)) {
      return true;
    }
    if (ItemsEqual(x, it).value_or(false)) return true;
  }
  return false;
}

const DateTime& Evaluator::Now() {
  if (!now_) {
    auto tp = options_.clock ? options_.clock() : std::chrono::system_clock::now();
    int64_t ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count() +
        int64_t{options_.utc_offset_minutes} * 60000;
    DateTime d;
    FromEpochMs(ms, d);
    d.precision = kMillis;
    d.has_tz = true;
    d.tz = static_cast<int16_t>(options_.utc_offset_minutes);
    now_ = d;
  }
  return *now_;
}

void Evaluator::Emit(const FType* t, const json::Value* v, const json::Value* ve, Coll& out) {
  if (v != nullptr && v->is_array()) {
    const json::Array& a = v->array();
    const json::Array* ea = ve != nullptr && ve->is_array() ? &ve->array() : nullptr;
    for (size_t k = 0; k < a.size(); ++k) {
      const json::Value* node = &a[k];
      const json::Value* ex =
          ea != nullptr && k < ea->size() && (*ea)[k].is_object() ? &(*ea)[k] : nullptr;
      if (node->is_null()) {
        if (ex == nullptr) continue;
        node = nullptr;
      }
      Access::SetFhir(out.emplace_slot(), node ? ConcreteType(t, *node) : t, node, ex);
    }
    if (ea != nullptr) {
      for (size_t k = a.size(); k < ea->size(); ++k) {
        if ((*ea)[k].is_object()) out.push_back(Access::Fhir(t, nullptr, &(*ea)[k]));
      }
    }
    return;
  }
  if (v != nullptr) {
    const json::Value* ex = ve != nullptr && ve->is_object() ? ve : nullptr;
    if (v->is_null()) {
      if (ex != nullptr) out.push_back(Access::Fhir(t, nullptr, ex));
      return;
    }
    Access::SetFhir(out.emplace_slot(), ConcreteType(t, *v), v, ex);
    return;
  }
  if (ve != nullptr) {
    if (ve->is_array()) {
      for (const json::Value& e : ve->array()) {
        if (e.is_object()) out.push_back(Access::Fhir(t, nullptr, &e));
      }
    } else if (ve->is_object()) {
      out.push_back(Access::Fhir(t, nullptr, ve));
    }
  }
}

namespace {

// Untyped JSON: objects stay nodes, leaves become System values.
void EmitUntyped(const json::Value& v, Evaluator& ev, Coll& out) {
  switch (v.kind()) {
    case json::Kind::kNull:
      return;
    case json::Kind::kBool:
      out.push_back(Access::Bool(v.as_bool()));
      return;
    case json::Kind::kString:
      out.push_back(Access::Str(v.str()));
      return;
    case json::Kind::kNumber: {
      auto d = ParseDecimal(v.str());
      if (!d) return;
      if (d->scale == 0 && v.str().find_first_of(".eE") == std::string::npos && d->m <= INT64_MAX &&
          d->m >= INT64_MIN) {
        out.push_back(Access::Int(static_cast<int64_t>(d->m)));
      } else {
        out.push_back(ev.MakeDecimal(*d));
      }
      return;
    }
    case json::Kind::kArray:
      for (const json::Value& e : v.array()) {
        if (!e.is_array()) EmitUntyped(e, ev, out);
      }
      return;
    case json::Kind::kObject:
      out.push_back(Access::Fhir(ResourceType(v), &v, nullptr));
      return;
  }
}

}  // namespace

void Evaluator::Navigate(const Item& it, const Node* n, Coll& out) {
  if (it.kind() != ValueKind::kFhir) {
    if (it.kind() == ValueKind::kTypeInfo) {
      if (n->name == "namespace") out.push_back(Access::Str(Access::flags(it) ? "FHIR" : "System"));
      if (n->name == "name") out.push_back(Access::Str(Access::s(it)));
    }
    return;
  }
  const FType* t = Access::type(it);
  const json::Value* obj = t != nullptr && t->primitive ? Access::ext(it) : Access::node(it);
  if (obj == nullptr || !obj->is_object()) return;
  if (t == nullptr) {
    if (const json::Value* v = obj->find(n->name)) EmitUntyped(*v, *this, out);
    return;
  }
  const Elem* e = t->elements.Find(n->name, n->hash);
  if (e == nullptr) return;
  const json::Value* v = nullptr;
  const json::Value* ve = nullptr;
  if (!e->choice) {
    bool companion = e->type != nullptr && e->type->primitive &&
                     !(e->def->types.size() == 1 && e->def->types[0].system);
    const size_t len = n->name.size();
    const char first = n->name[0];
    for (const json::Member& m : obj->object()) {
      const std::string& key = m.first;
      if (key.size() == len && key[0] == first && SameName(key, n->name)) {
        v = &m.second;
        if (!companion) break;
      } else if (companion && key.size() == len + 1 && key[0] == '_' &&
                 SameName(key, n->ext_name)) {
        ve = &m.second;
      }
    }
    Emit(e->type, v, ve, out);
    return;
  }
  const FType* chosen = nullptr;
  std::string_view chosen_suffix;
  for (const json::Member& m : obj->object()) {
    std::string_view key = m.first;
    bool underscore = !key.empty() && key[0] == '_';
    if (underscore) key.remove_prefix(1);
    if (key.size() <= n->name.size() || key.compare(0, n->name.size(), n->name) != 0) continue;
    std::string_view suffix = key.substr(n->name.size());
    if (chosen != nullptr && suffix != chosen_suffix) continue;
    for (const Elem::Choice& c : e->choices) {
      if (c.suffix == suffix) {
        chosen = c.type;
        chosen_suffix = c.suffix;
        (underscore ? ve : v) = &m.second;
        break;
      }
    }
  }
  if (chosen != nullptr) Emit(chosen, v, chosen->primitive ? ve : nullptr, out);
}

void Evaluator::Children(const Item& it, Coll& out) {
  if (it.kind() != ValueKind::kFhir) return;
  const FType* t = Access::type(it);
  const json::Value* obj = t != nullptr && t->primitive ? Access::ext(it) : Access::node(it);
  if (obj == nullptr || !obj->is_object()) return;
  const json::Object& members = obj->object();
  for (const json::Member& m : members) {
    std::string_view key = m.first;
    if (key == "resourceType") continue;
    if (t == nullptr) {
      EmitUntyped(m.second, *this, out);
      continue;
    }
    bool underscore = !key.empty() && key[0] == '_';
    if (underscore) {
      key.remove_prefix(1);
      if (obj->find(key) != nullptr) continue;  // emitted with its value
    }
    const FType* ct = nullptr;
    if (const Elem* e = t->elements.Find(key, HashName(key)); e != nullptr && !e->choice) {
      ct = e->type;
    } else {
      // A choice element: the key is its stem plus a type suffix.
      for (const Elem& c : t->elements.all()) {
        if (!c.choice || key.size() <= c.name.size() || key.compare(0, c.name.size(), c.name)) {
          continue;
        }
        for (const Elem::Choice& choice : c.choices) {
          if (key.substr(c.name.size()) == choice.suffix) ct = choice.type;
        }
        if (ct != nullptr) break;
      }
      if (ct == nullptr) continue;
    }
    const json::Value* v = underscore ? nullptr : &m.second;
    const json::Value* ve = nullptr;
    if (ct != nullptr && ct->primitive) {
      if (underscore) {
        ve = &m.second;
      } else {
        for (const json::Member& x : members) {
          if (x.first.size() == key.size() + 1 && x.first[0] == '_' &&
              std::string_view(x.first).substr(1) == key) {
            ve = &x.second;
            break;
          }
        }
      }
    }
    Emit(ct, v, ve, out);
  }
}

Status Evaluator::Variable(const Node* n, Coll& out) {
  const std::string& name = n->name;
  if (name == "context") {
    out.Append(context_.data(), context_.size());
    return Status::Ok();
  }
  if (name == "resource") {
    if (resource_ != nullptr) out.push_back(*resource_);
    return Status::Ok();
  }
  if (name == "rootResource") {
    if (root_resource_ != nullptr) out.push_back(*root_resource_);
    return Status::Ok();
  }
  for (const auto& [vname, coll] : options_.variables) {
    if (vname == name) {
      const auto& items = Access::items(coll);
      out.Append(items.data(), items.size());
      if (Access::storage(coll)) S().keep.push_back(Access::storage(coll));
      return Status::Ok();
    }
  }
  return Error(n, kErrVariable, "undefined variable '%" + name + "'");
}

Status Evaluator::Eval(const Node* n, const Frame& f, Coll& out) {
  if (++depth_ > kMaxEvalDepth) {
    --depth_;
    return Error(n, kErrDepth, "evaluation is nested too deeply");
  }
  struct Guard {
    int& d;
    ~Guard() { --d; }
  } guard{depth_};
  switch (n->kind) {
    case NodeKind::kLiteral:
      out.push_back(n->literal);
      return Status::Ok();
    case NodeKind::kEmpty:
      return Status::Ok();
    case NodeKind::kThis:
      out.Append(f.self->data(), f.self->size());
      return Status::Ok();
    case NodeKind::kIndex:
      if (f.index >= 0) out.push_back(Access::Int(f.index));
      return Status::Ok();
    case NodeKind::kTotal:
      if (f.total != nullptr) out.Append(f.total->data(), f.total->size());
      return Status::Ok();
    case NodeKind::kVariable:
      return Variable(n, out);
    case NodeKind::kMember: {
      Coll tmp;
      const Coll* in = f.self;
      if (n->input != nullptr) {
        GM_RETURN_IF_ERROR(Eval(n->input, f, tmp));
        in = &tmp;
      }
      GM_RETURN_IF_ERROR(Tick(in->size()));
      for (const Item& it : *in) Navigate(it, n, out);
      return CheckSize(out);
    }
    case NodeKind::kTypeFilter:
      for (const Item& it : *f.self) {
        if (IsTypeOf(it, n->type, false)) out.push_back(it);
      }
      return Status::Ok();
    case NodeKind::kCall: {
      Coll tmp;
      const Coll* in = f.self;
      if (n->input != nullptr) {
        GM_RETURN_IF_ERROR(Eval(n->input, f, tmp));
        in = &tmp;
      }
      GM_RETURN_IF_ERROR(Tick(in->size() + 1));
      GM_RETURN_IF_ERROR(Call(n, f, *in, out));
      return CheckSize(out);
    }
    case NodeKind::kIndexer: {
      Coll in, idx;
      GM_RETURN_IF_ERROR(Eval(n->input, f, in));
      GM_RETURN_IF_ERROR(Eval(n->args[0], f, idx));
      const Item* i = nullptr;
      GM_RETURN_IF_ERROR(Single(idx, n->args[0], i));
      if (i == nullptr) return Status::Ok();
      Scalar s;
      if (!ToScalar(*i, s) || s.kind != ValueKind::kInteger) {
        return Error(n, kErrType, "an index must be an Integer");
      }
      if (s.i >= 0 && static_cast<size_t>(s.i) < in.size()) out.push_back(in[s.i]);
      return Status::Ok();
    }
    case NodeKind::kNegate: {
      Coll in;
      GM_RETURN_IF_ERROR(Eval(n->args[0], f, in));
      const Item* it = nullptr;
      GM_RETURN_IF_ERROR(Single(in, n, it));
      if (it == nullptr) return Status::Ok();
      Scalar s;
      if (!ToScalar(*it, s)) return Error(n, kErrType, "unary minus needs a number or quantity");
      switch (s.kind) {
        case ValueKind::kInteger:
          out.push_back(Access::Int(-s.i));
          return Status::Ok();
        case ValueKind::kDecimal:
          s.d.m = -s.d.m;
          out.push_back(MakeDecimal(s.d));
          return Status::Ok();
        case ValueKind::kQuantity:
          s.q.value.m = -s.q.value.m;
          out.push_back(MakeQuantity(s.q));
          return Status::Ok();
        default:
          return Error(n, kErrType, "unary minus needs a number or quantity");
      }
    }
    case NodeKind::kBinary:
      return Binary(n, f, out);
    case NodeKind::kIs:
    case NodeKind::kAs: {
      Coll in;
      GM_RETURN_IF_ERROR(Eval(n->input, f, in));
      const Item* it = nullptr;
      GM_RETURN_IF_ERROR(Single(in, n, it));
      if (it == nullptr) return Status::Ok();
      if (n->kind == NodeKind::kIs) {
        out.push_back(Access::Bool(IsTypeOf(*it, n->type, false)));
      } else if (IsTypeOf(*it, n->type, true)) {
        out.push_back(*it);
      }
      return Status::Ok();
    }
  }
  return Status::Ok();
}

Status Evaluator::Binary(const Node* n, const Frame& f, Coll& out) {
  BinOp op = n->op;
  if (op == BinOp::kAnd || op == BinOp::kOr || op == BinOp::kImplies || op == BinOp::kXor) {
    Coll l;
    GM_RETURN_IF_ERROR(Eval(n->args[0], f, l));
    std::optional<bool> a, b;
    GM_RETURN_IF_ERROR(Bool(l, n->args[0], a));
    if (op == BinOp::kAnd && a == false) {
      out.push_back(Access::Bool(false));
      return Status::Ok();
    }
    if (op == BinOp::kOr && a == true) {
      out.push_back(Access::Bool(true));
      return Status::Ok();
    }
    if (op == BinOp::kImplies && a == false) {
      out.push_back(Access::Bool(true));
      return Status::Ok();
    }
    Coll r;
    GM_RETURN_IF_ERROR(Eval(n->args[1], f, r));
    GM_RETURN_IF_ERROR(Bool(r, n->args[1], b));
    std::optional<bool> res;
    switch (op) {
      case BinOp::kAnd:
        if (b == false)
          res = false;
        else if (a && b)
          res = true;
        break;
      case BinOp::kOr:
        if (b == true)
          res = true;
        else if (a && b)
          res = false;
        break;
      case BinOp::kImplies:
        if (b == true)
          res = true;
        else if (a && b)
          res = false;  // a is true here
        break;
      default:
        if (a && b) res = *a != *b;
        break;
    }
    if (res) out.push_back(Access::Bool(*res));
    return Status::Ok();
  }
  Coll l, r;
  GM_RETURN_IF_ERROR(Eval(n->args[0], f, l));
  GM_RETURN_IF_ERROR(Eval(n->args[1], f, r));
  switch (op) {
    case BinOp::kUnion: {
      GM_RETURN_IF_ERROR(Tick(l.size() * (l.size() + r.size()) / 4 + 1));
      for (const Item& it : l) {
        if (!Contains(out, it)) out.push_back(it);
      }
      for (const Item& it : r) {
        if (!Contains(out, it)) out.push_back(it);
      }
      GM_RETURN_IF_ERROR(Tick(0));
      return CheckSize(out);
    }
    case BinOp::kEq:
    case BinOp::kNe: {
      if (l.empty() || r.empty()) return Status::Ok();
      bool eq = l.size() == r.size();
      for (size_t k = 0; eq && k < l.size(); ++k) {
        std::optional<bool> e = ItemsEqual(l[k], r[k]);
        if (!e) return Status::Ok();
        eq = *e;
      }
      out.push_back(Access::Bool(op == BinOp::kEq ? eq : !eq));
      return Status::Ok();
    }
    case BinOp::kEquiv:
    case BinOp::kNotEquiv: {
      bool eq = l.size() == r.size();
      if (eq) {
        GM_RETURN_IF_ERROR(Tick(l.size() * r.size()));
        SmallVec<bool, 16> used;
        used.resize(r.size());
        for (size_t k = 0; k < r.size(); ++k) used[k] = false;
        for (size_t k = 0; eq && k < l.size(); ++k) {
          bool found = false;
          for (size_t j = 0; j < r.size() && !found; ++j) {
            if (!used[j] && ItemsEquivalent(l[k], r[j])) {
              used[j] = true;
              found = true;
            }
          }
          eq = found;
        }
      }
      out.push_back(Access::Bool(op == BinOp::kEquiv ? eq : !eq));
      return Status::Ok();
    }
    case BinOp::kIn:
    case BinOp::kContains: {
      const Coll& single = op == BinOp::kIn ? l : r;
      const Coll& coll = op == BinOp::kIn ? r : l;
      const Item* it = nullptr;
      GM_RETURN_IF_ERROR(Single(single, n, it));
      if (it == nullptr) return Status::Ok();
      GM_RETURN_IF_ERROR(Tick(coll.size()));
      bool found = false;
      for (const Item& x : coll) {
        if (ItemsEqual(x, *it).value_or(false)) {
          found = true;
          break;
        }
      }
      out.push_back(Access::Bool(found));
      return Status::Ok();
    }
    case BinOp::kConcat: {
      const Item *a = nullptr, *b = nullptr;
      GM_RETURN_IF_ERROR(Single(l, n->args[0], a));
      GM_RETURN_IF_ERROR(Single(r, n->args[1], b));
      std::string s;
      for (const Item* it : {a, b}) {
        if (it == nullptr) continue;
        Scalar sc;
        if (!ToScalar(*it, sc)) continue;
        if (sc.kind != ValueKind::kString) return Error(n, kErrType, "'&' needs Strings");
        s += sc.s;
      }
      Item res;
      GM_RETURN_IF_ERROR(MakeString(s, res));
      out.push_back(res);
      return Status::Ok();
    }
    default:
      break;
  }
  const Item *a = nullptr, *b = nullptr;
  GM_RETURN_IF_ERROR(Single(l, n->args[0], a));
  GM_RETURN_IF_ERROR(Single(r, n->args[1], b));
  if (a == nullptr || b == nullptr) return Status::Ok();
  if (op == BinOp::kLt || op == BinOp::kLe || op == BinOp::kGt || op == BinOp::kGe) {
    return Compare(n, *a, *b, out);
  }
  return Arithmetic(n, *a, *b, out);
}

Status Evaluator::Compare(const Node* n, const Item& a, const Item& b, Coll& out) {
  Scalar x, y;
  if (!ToScalar(a, x) || !ToScalar(b, y)) return Status::Ok();
  std::optional<int> c;
  auto num = [](const Scalar& s) {
    return s.kind == ValueKind::kInteger || s.kind == ValueKind::kDecimal;
  };
  if (num(x) && num(y)) {
    if (x.kind == ValueKind::kInteger && y.kind == ValueKind::kInteger) {
      c = x.i < y.i ? -1 : (x.i > y.i ? 1 : 0);
    } else {
      Decimal dx = x.kind == ValueKind::kInteger ? DecimalFromInt(x.i) : x.d;
      Decimal dy = y.kind == ValueKind::kInteger ? DecimalFromInt(y.i) : y.d;
      c = DecimalCompare(dx, dy);
    }
  } else if (x.kind == ValueKind::kString && y.kind == ValueKind::kString) {
    int r = x.s.compare(y.s);
    c = r < 0 ? -1 : (r > 0 ? 1 : 0);
  } else if (IsDateKind(x.kind) && IsDateKind(y.kind) &&
             (x.kind == ValueKind::kTime) == (y.kind == ValueKind::kTime)) {
    c = CompareDateTime(x.dt, DtKindOf(x.kind), y.dt, DtKindOf(y.kind));
    if (!c) return Status::Ok();
  } else if (x.kind == ValueKind::kQuantity && y.kind == ValueKind::kQuantity) {
    Decimal va, vb;
    if (!QuantityToCommon(x.q, y.q, va, vb)) return Status::Ok();
    c = DecimalCompare(va, vb);
  } else {
    return Error(
        n, kErrType,
        "cannot compare " + std::string(TypeNameOf(a)) + " with " + std::string(TypeNameOf(b)));
  }
  bool r = false;
  switch (n->op) {
    case BinOp::kLt:
      r = *c < 0;
      break;
    case BinOp::kLe:
      r = *c <= 0;
      break;
    case BinOp::kGt:
      r = *c > 0;
      break;
    default:
      r = *c >= 0;
      break;
  }
  out.push_back(Access::Bool(r));
  return Status::Ok();
}

Status Evaluator::Arithmetic(const Node* n, const Item& a, const Item& b, Coll& out) {
  Scalar x, y;
  if (!ToScalar(a, x) || !ToScalar(b, y)) return Status::Ok();
  BinOp op = n->op;
  auto type_error = [&]() {
    return Error(n, kErrType,
                 "operator not defined for " + std::string(TypeNameOf(a)) + " and " +
                     std::string(TypeNameOf(b)));
  };
  bool xi = x.kind == ValueKind::kInteger, yi = y.kind == ValueKind::kInteger;
  bool xn = xi || x.kind == ValueKind::kDecimal, yn = yi || y.kind == ValueKind::kDecimal;
  if (xi && yi && op != BinOp::kDiv) {
    int64_t r = 0;
    bool overflow = false;
    switch (op) {
      case BinOp::kAdd:
        overflow = __builtin_add_overflow(x.i, y.i, &r);
        break;
      case BinOp::kSub:
        overflow = __builtin_sub_overflow(x.i, y.i, &r);
        break;
      case BinOp::kMul:
        overflow = __builtin_mul_overflow(x.i, y.i, &r);
        break;
      case BinOp::kIntDiv:
        if (y.i == 0) return Status::Ok();
        if (x.i == INT64_MIN && y.i == -1) return Status::Ok();
        r = x.i / y.i;
        break;
      case BinOp::kMod:
        if (y.i == 0) return Status::Ok();
        if (y.i == -1) {
          r = 0;
          break;
        }
        r = x.i % y.i;
        break;
      default:
        return type_error();
    }
    if (overflow) return Status::Ok();
    out.push_back(Access::Int(r));
    return Status::Ok();
  }
  if (xn && yn) {
    Decimal dx = xi ? DecimalFromInt(x.i) : x.d;
    Decimal dy = yi ? DecimalFromInt(y.i) : y.d;
    Decimal r;
    bool ok = false;
    switch (op) {
      case BinOp::kAdd:
        ok = DecimalAdd(dx, dy, r);
        break;
      case BinOp::kSub:
        ok = DecimalSub(dx, dy, r);
        break;
      case BinOp::kMul:
        ok = DecimalMul(dx, dy, r);
        break;
      case BinOp::kDiv:
        ok = DecimalDiv(dx, dy, r);
        break;
      case BinOp::kIntDiv: {
        Decimal q;
        if (!DecimalDiv(dx, dy, q)) return Status::Ok();
        int64_t v;
        if (!DecimalToInt64(DecimalTruncate(q, 0), v)) return Status::Ok();
        out.push_back(Access::Int(v));
        return Status::Ok();
      }
      case BinOp::kMod:
        ok = DecimalMod(dx, dy, r);
        break;
      default:
        return type_error();
    }
    if (!ok) return Status::Ok();
    out.push_back(MakeDecimal(r));
    return Status::Ok();
  }
  if (x.kind == ValueKind::kString && y.kind == ValueKind::kString && op == BinOp::kAdd) {
    std::string s(x.s);
    s += y.s;
    Item res;
    GM_RETURN_IF_ERROR(MakeString(s, res));
    out.push_back(res);
    return Status::Ok();
  }
  if (IsDateKind(x.kind) && y.kind == ValueKind::kQuantity &&
      (op == BinOp::kAdd || op == BinOp::kSub)) {
    bool invalid = false;
    CalUnit unit = DurationUnit(y.q, invalid);
    if (invalid) {
      return Error(n, kErrArgument,
                   "'" + std::string(y.q.unit) + "' is not a duration for date arithmetic");
    }
    int64_t amount = 0;
    if (!DecimalToInt64(DecimalTruncate(y.q.value, 0), amount)) return Status::Ok();
    if (op == BinOp::kSub) amount = -amount;
    DateTime d = x.dt;
    if (!DateAdd(d, DtKindOf(x.kind), unit, amount)) {
      if (x.kind == ValueKind::kTime) return Error(n, kErrArgument, "invalid duration for a Time");
      return Status::Ok();
    }
    out.push_back(MakeDt(x.kind, d));
    return Status::Ok();
  }
  if (x.kind == ValueKind::kQuantity && y.kind == ValueKind::kQuantity) {
    if (op == BinOp::kMul || op == BinOp::kDiv) {
      Quantity q;
      std::string unit;
      if (op == BinOp::kDiv && y.q.value.m == 0) return Status::Ok();
      if (!QuantityMul(x.q, y.q, op == BinOp::kDiv, q.value, unit)) return Status::Ok();
      q.unit = unit;
      out.push_back(MakeQuantity(q));
      return Status::Ok();
    }
    if (op == BinOp::kAdd || op == BinOp::kSub) {
      Decimal r;
      Quantity q = x.q;
      if (x.q.unit == y.q.unit && x.q.calendar == y.q.calendar) {
        if (!(op == BinOp::kAdd ? DecimalAdd(x.q.value, y.q.value, r)
                                : DecimalSub(x.q.value, y.q.value, r))) {
          return Status::Ok();
        }
      } else {
        // Convert y into x's unit: y × (fy / fx).
        Quantity one = x.q;
        one.value = Decimal{1, 0};
        Decimal fx, fy;
        if (!QuantityToCommon(one, y.q, fx, fy)) return Status::Ok();
        Decimal yin;
        if (!DecimalDiv(fy, fx, yin)) return Status::Ok();
        if (!(op == BinOp::kAdd ? DecimalAdd(x.q.value, yin, r) : DecimalSub(x.q.value, yin, r))) {
          return Status::Ok();
        }
      }
      q.value = r;
      out.push_back(MakeQuantity(q));
      return Status::Ok();
    }
    return type_error();
  }
  if (x.kind == ValueKind::kQuantity && yn && (op == BinOp::kMul || op == BinOp::kDiv)) {
    Decimal dy = yi ? DecimalFromInt(y.i) : y.d;
    Quantity q = x.q;
    bool ok =
        op == BinOp::kMul ? DecimalMul(x.q.value, dy, q.value) : DecimalDiv(x.q.value, dy, q.value);
    if (!ok) return Status::Ok();
    out.push_back(MakeQuantity(q));
    return Status::Ok();
  }
  if (xn && y.kind == ValueKind::kQuantity && op == BinOp::kMul) {
    Decimal dx = xi ? DecimalFromInt(x.i) : x.d;
    Quantity q = y.q;
    if (!DecimalMul(dx, y.q.value, q.value)) return Status::Ok();
    out.push_back(MakeQuantity(q));
    return Status::Ok();
  }
  return type_error();
}

// ---------------------------------------------------------------- entry

Status Run(const std::shared_ptr<const Program>& program, const Coll& focus, const Item* resource,
           const Item* root_resource, const EvalOptions& options, std::shared_ptr<Storage>& storage,
           Coll& out) {
  Evaluator ev(*program, options, storage, focus, resource, root_resource);
  Frame f;
  f.self = &focus;
  return ev.Eval(program->root, f, out);
}

}  // namespace gm::fhirpath::internal
