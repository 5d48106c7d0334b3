// The evaluator's internal interface, shared by eval.cc and functions.cc.
#pragma once

#include <optional>
#include <string>

#include "fhirpath/internal.h"

namespace gm::fhirpath::internal {

// The lexical environment of a sub-expression.
struct Frame {
  const Coll* self = nullptr;   // $this: the focus of identifiers at the start of a path
  int64_t index = -1;           // $index, -1 when undefined
  const Coll* total = nullptr;  // $total inside aggregate()
};

// One evaluation. Not shared between threads.
class Evaluator {
 public:
  Evaluator(const Program& program, const EvalOptions& options, std::shared_ptr<Storage>& storage,
            const Coll& context, const Item* resource, const Item* root_resource)
      : program_(program),
        options_(options),
        storage_(storage),
        context_(context),
        resource_(resource),
        root_resource_(root_resource) {}

  Status Eval(const Node* n, const Frame& f, Coll& out);

  // functions.cc
  Status Call(const Node* n, const Frame& f, const Coll& in, Coll& out);

  // Navigation of `name` from one item.
  void Navigate(const Item& it, const Node* n, Coll& out);
  // All children of one item (children()).
  void Children(const Item& it, Coll& out);

  // Work accounting; an error once a limit is exceeded.
  Status Tick(size_t n) {
    steps_ += n;
    if (steps_ > options_.max_steps) return LimitError("evaluation step limit exceeded");
    return Status::Ok();
  }
  Status CheckSize(const Coll& c) {
    if (c.size() > options_.max_items) return LimitError("collection size limit exceeded");
    return Status::Ok();
  }
  Status LimitError(const std::string& what) const { return EvalError(kErrLimit, what); }

  // Value construction (arena-backed).
  Item MakeDecimal(const Decimal& d) { return Access::Dec(S().arena.New<Decimal>(d)); }
  Item MakeDt(ValueKind k, const DateTime& d) { return Access::Dt(k, S().arena.New<DateTime>(d)); }
  Item MakeQuantity(const Quantity& q) {
    Quantity c = q;
    c.unit = S().arena.Copy(q.unit);
    return Access::Qty(S().arena.New<Quantity>(c));
  }
  Status MakeString(std::string_view s, Item& out) {
    if (s.size() > options_.max_string_bytes) return LimitError("string length limit exceeded");
    out = Access::Str(S().arena.Copy(s));
    return Status::Ok();
  }
  // A System item from a scalar (FHIR primitives become System values).
  Item FromScalar(const Scalar& s);

  // Singleton helpers: error when more than one item; `item` null when empty.
  Status Single(const Coll& c, const Node* n, const Item*& item) const;
  // Boolean singleton evaluation: nullopt = empty; a single non-Boolean item is true.
  Status Bool(const Coll& c, const Node* n, std::optional<bool>& out) const;
  // Evaluates an argument in frame f and returns its singleton scalar.
  Status ArgScalar(const Node* arg, const Frame& f, bool& present, Scalar& out);
  Status ArgString(const Node* arg, const Frame& f, bool& present, std::string_view& out,
                   std::string& holder);
  Status ArgInteger(const Node* arg, const Frame& f, bool& present, int64_t& out);

  Status Error(const Node* n, const char* code, const std::string& text) const;
  // replaceMatches(): every match of re in s replaced by subst ($1..$9 are groups).
  Status ReplaceAll(const re2::RE2& re, std::string_view s, std::string_view subst, size_t limit,
                    std::string& out);

  // Duplicate elimination as repeat(), union() and distinct() need it.
  bool Contains(const Coll& c, const Item& it);

  const EvalOptions& options() const { return options_; }
  // The result's storage, created on first use.
  Storage& S() {
    if (!storage_) storage_ = std::make_shared<Storage>();
    return *storage_;
  }
  const Program& program() const { return program_; }
  const Coll& context() const { return context_; }
  const Item* resource() const { return resource_; }
  const Item* root_resource() const { return root_resource_; }
  const DateTime& Now();

 private:
  Status Binary(const Node* n, const Frame& f, Coll& out);
  Status Arithmetic(const Node* n, const Item& a, const Item& b, Coll& out);
  Status Compare(const Node* n, const Item& a, const Item& b, Coll& out);
  Status Variable(const Node* n, Coll& out);
  void Emit(const FType* t, const json::Value* v, const json::Value* ve, Coll& out);

  const Program& program_;
  const EvalOptions& options_;
  std::shared_ptr<Storage>& storage_;
  const Coll& context_;
  const Item* resource_;
  const Item* root_resource_;
  uint64_t steps_ = 0;
  int depth_ = 0;
  std::optional<DateTime> now_;
};

// Date/time arithmetic: d + amount × unit (negative amounts subtract).
bool DateAdd(DateTime& d, DtKind kind, CalUnit unit, int64_t amount);
// The calendar unit a quantity denotes in date arithmetic, or kNone.
CalUnit DurationUnit(const Quantity& q, bool& invalid);

}  // namespace gm::fhirpath::internal
