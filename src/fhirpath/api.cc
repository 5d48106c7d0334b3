// The public FHIRPath API: Expression, Collection, Item and helpers.
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "fhirpath/internal.h"

namespace gm::fhirpath {

using internal::Access;
using internal::Coll;
using internal::FType;
using internal::Scalar;
using internal::Storage;

// ---------------------------------------------------------------- Item

const fhir::TypeDef* Item::fhir_type() const {
  return kind_ == ValueKind::kFhir && type_ != nullptr ? type_->def : nullptr;
}

std::string_view Item::type_name() const { return internal::TypeNameOf(*this); }

std::string_view Item::type_namespace() const {
  if (kind_ == ValueKind::kFhir) return "FHIR";
  return "System";
}

bool Item::has_value() const {
  if (kind_ != ValueKind::kFhir) return true;
  return type_ != nullptr && type_->primitive && u_.n.node != nullptr && !u_.n.node->is_null();
}

std::optional<std::string> Item::ToString() const {
  if (kind_ == ValueKind::kTypeInfo) return std::string(Access::s(*this));
  Scalar s;
  if (!internal::ToScalar(*this, s)) return std::nullopt;
  if (kind_ == ValueKind::kFhir && type_ != nullptr && !type_->primitive) return std::nullopt;
  return internal::ScalarToString(s);
}

std::string_view Item::quantity_unit() const {
  return kind_ == ValueKind::kQuantity ? u_.q->unit : std::string_view();
}

// ---------------------------------------------------------------- Collection

namespace {

Storage& StorageOf(Collection& c) {
  auto& sp = Access::storage(c);
  if (!sp) sp = std::make_shared<Storage>();
  return *static_cast<Storage*>(sp.get());
}

Status BadLiteral(std::string_view what, std::string_view text) {
  return internal::CompileError(internal::kErrLiteral, "not a FHIRPath " + std::string(what) +
                                                           ": '" + std::string(text) + "'");
}

}  // namespace

Collection::Collection() = default;

void Collection::AddBoolean(bool v) { items_.push_back(Access::Bool(v)); }

void Collection::AddInteger(int64_t v) { items_.push_back(Access::Int(v)); }

void Collection::AddString(std::string_view v) {
  items_.push_back(Access::Str(StorageOf(*this).arena.Copy(v)));
}

Status Collection::AddDecimal(std::string_view text) {
  auto d = internal::ParseDecimal(text);
  if (!d) return BadLiteral("decimal", text);
  items_.push_back(Access::Dec(StorageOf(*this).arena.New<internal::Decimal>(*d)));
  return Status::Ok();
}

Status Collection::AddDate(std::string_view text) {
  internal::DateTime d;
  if (!internal::ParseDate(text, d)) return BadLiteral("date", text);
  items_.push_back(Access::Dt(ValueKind::kDate, StorageOf(*this).arena.New<internal::DateTime>(d)));
  return Status::Ok();
}

Status Collection::AddDateTime(std::string_view text) {
  internal::DateTime d;
  if (!internal::ParseDateTime(text, d)) return BadLiteral("dateTime", text);
  items_.push_back(
      Access::Dt(ValueKind::kDateTime, StorageOf(*this).arena.New<internal::DateTime>(d)));
  return Status::Ok();
}

Status Collection::AddTime(std::string_view text) {
  internal::DateTime d;
  if (!internal::ParseTime(text, d)) return BadLiteral("time", text);
  items_.push_back(Access::Dt(ValueKind::kTime, StorageOf(*this).arena.New<internal::DateTime>(d)));
  return Status::Ok();
}

Status Collection::AddQuantity(std::string_view text) {
  size_t sp = text.find(' ');
  if (sp == std::string_view::npos) return BadLiteral("quantity", text);
  auto value = internal::ParseDecimal(text.substr(0, sp));
  std::string_view unit = text.substr(sp + 1);
  internal::Quantity q;
  if (!value) return BadLiteral("quantity", text);
  q.value = *value;
  if (unit.size() >= 3 && unit.front() == '\'' && unit.back() == '\'') {
    unit = unit.substr(1, unit.size() - 2);
  } else {
    q.calendar = internal::CalendarKeyword(unit);
    if (q.calendar == internal::CalUnit::kNone) return BadLiteral("quantity", text);
  }
  Storage& s = StorageOf(*this);
  q.unit = s.arena.Copy(unit);
  items_.push_back(Access::Qty(s.arena.New<internal::Quantity>(q)));
  return Status::Ok();
}

Status Collection::AddFhir(const json::Value& node, std::string_view type) {
  const FType* t = nullptr;
  if (!type.empty()) {
    t = internal::FindType(type);
    if (t == nullptr) {
      return internal::CompileError(internal::kErrUnknownType,
                                    "unknown FHIR type '" + std::string(type) + "'");
    }
    t = internal::ConcreteType(t, node);
  } else {
    t = internal::ResourceType(node);
  }
  items_.push_back(Access::Fhir(t, &node, nullptr));
  return Status::Ok();
}

void Collection::Add(const Item& item, const Collection& owner) {
  items_.push_back(item);
  if (owner.storage_ && owner.storage_ != storage_) {
    StorageOf(*this).keep.push_back(owner.storage_);
  }
}

// ---------------------------------------------------------------- Expression

Result<Expression> Expression::Compile(std::string_view text, const CompileOptions& options) {
  GM_ASSIGN_OR_RETURN(std::shared_ptr<const internal::Program> program,
                      internal::Parse(text, options));
  return Expression(std::move(program));
}

const std::string& Expression::text() const { return program_->text; }

namespace {

Result<Collection> RunProgram(const std::shared_ptr<const internal::Program>& program,
                              const Coll& focus, const EvalOptions& options,
                              std::vector<std::shared_ptr<void>> keep) {
  Collection result;
  std::shared_ptr<Storage> storage;
  for (auto& k : keep) {
    if (!k) continue;
    if (!storage) storage = std::make_shared<Storage>();
    storage->keep.push_back(std::move(k));
  }
  // Plain items and pointers (not std::optional) keep this path free of
  // partial-store reloads.
  Item resource_item, root_item;
  const Item* resource = nullptr;
  const Item* root = nullptr;
  if (options.resource != nullptr) {
    Access::SetFhir(resource_item, internal::ResourceType(*options.resource), options.resource,
                    nullptr);
    resource = &resource_item;
  } else if (focus.size() == 1 && focus[0].kind() == ValueKind::kFhir &&
             Access::type(focus[0]) != nullptr && Access::type(focus[0])->resource) {
    resource = &focus[0];
  }
  if (options.root_resource != nullptr) {
    Access::SetFhir(root_item, internal::ResourceType(*options.root_resource),
                    options.root_resource, nullptr);
    root = &root_item;
  } else {
    root = resource;
  }
  Coll out;
  GM_RETURN_IF_ERROR(internal::Run(program, focus, resource, root, options, storage, out));
  // Strings, decimals and other values may point into the program's literals.
  for (const Item& it : out) {
    if (it.kind() != ValueKind::kFhir && it.kind() != ValueKind::kBoolean &&
        it.kind() != ValueKind::kInteger) {
      if (!storage) storage = std::make_shared<Storage>();
      storage->keep.push_back(program);
      break;
    }
  }
  Access::items(result).assign(out.begin(), out.end());
  Access::storage(result) = std::move(storage);
  return result;
}

}  // namespace

Result<Collection> Expression::Evaluate(const json::Value& input,
                                        const EvalOptions& options) const {
  Coll focus;
  if (!input.is_null()) {
    const FType* t = internal::ResourceType(input);
    if (t == nullptr && !options.input_type.empty()) {
      t = internal::FindType(options.input_type);
      if (t == nullptr) {
        return internal::EvalError(internal::kErrType,
                                   "unknown input type '" + std::string(options.input_type) + "'");
      }
    }
    Access::SetFhir(focus.emplace_slot(), t, &input, nullptr);
  }
  return RunProgram(program_, focus, options, {});
}

Result<Collection> Expression::Evaluate(const Collection& input, const EvalOptions& options) const {
  Coll focus;
  const auto& items = Access::items(input);
  focus.Append(items.data(), items.size());
  return RunProgram(program_, focus, options, {Access::storage(input)});
}

// ---------------------------------------------------------------- helpers

Result<std::optional<bool>> ToBoolean(const Collection& result) {
  if (result.empty()) return std::optional<bool>();
  if (result.size() > 1) {
    return internal::EvalError(
        internal::kErrSingleton,
        "expected a single Boolean, got " + std::to_string(result.size()) + " items");
  }
  Scalar s;
  if (internal::ToScalar(result[0], s) && s.kind == ValueKind::kBoolean) {
    return std::optional<bool>(s.b);
  }
  return std::optional<bool>(true);
}

json::Value ToJson(const Collection& result) {
  json::Value out = json::Value::MakeArray();
  for (const Item& it : result) {
    switch (it.kind()) {
      case ValueKind::kFhir: {
        const json::Value* n = it.node() ? it.node() : it.extension_node();
        out.push_back(n ? *n : json::Value());
        break;
      }
      case ValueKind::kBoolean:
        out.push_back(json::Value(Access::b(it)));
        break;
      case ValueKind::kInteger:
        out.push_back(json::Value(Access::i(it)));
        break;
      case ValueKind::kDecimal:
        out.push_back(json::Value::Number(internal::DecimalToString(Access::d(it))));
        break;
      case ValueKind::kQuantity: {
        json::Value q = json::Value::MakeObject();
        q.set("value", json::Value::Number(internal::DecimalToString(Access::q(it).value)));
        q.set("unit", json::Value(Access::q(it).unit));
        out.push_back(std::move(q));
        break;
      }
      case ValueKind::kTypeInfo: {
        json::Value t = json::Value::MakeObject();
        t.set("namespace", json::Value(Access::flags(it) ? "FHIR" : "System"));
        t.set("name", json::Value(Access::s(it)));
        out.push_back(std::move(t));
        break;
      }
      default:
        out.push_back(json::Value(it.ToString().value_or("")));
        break;
    }
  }
  return out;
}

std::optional<NodeLocation> Locate(json::Value& root, const json::Value* node) {
  std::vector<json::Value*> stack{&root};
  while (!stack.empty()) {
    json::Value* v = stack.back();
    stack.pop_back();
    if (v->is_object()) {
      for (auto& [key, child] : v->object()) {
        if (&child == node) return NodeLocation{v, key, 0};
        if (child.is_object() || child.is_array()) stack.push_back(&child);
      }
    } else if (v->is_array()) {
      for (size_t k = 0; k < v->array().size(); ++k) {
        json::Value& child = v->array()[k];
        if (&child == node) return NodeLocation{v, std::string(), k};
        if (child.is_object() || child.is_array()) stack.push_back(&child);
      }
    }
  }
  return std::nullopt;
}

struct ExpressionCache::Impl {
  std::shared_mutex mu;
  std::unordered_map<std::string, Expression> map;
};

ExpressionCache::ExpressionCache() : impl_(std::make_unique<Impl>()) {}
ExpressionCache::~ExpressionCache() = default;

Result<Expression> ExpressionCache::Get(std::string_view text, const CompileOptions& options) {
  std::string key(text);
  key.push_back('\0');
  key += options.context_type;
  key += options.strict ? "\1" : "\2";
  key += std::to_string(options.max_length) + "/" + std::to_string(options.max_depth);
  {
    std::shared_lock lock(impl_->mu);
    auto it = impl_->map.find(key);
    if (it != impl_->map.end()) return it->second;
  }
  GM_ASSIGN_OR_RETURN(Expression e, Expression::Compile(text, options));
  std::unique_lock lock(impl_->mu);
  return impl_->map.emplace(std::move(key), std::move(e)).first->second;
}

}  // namespace gm::fhirpath
