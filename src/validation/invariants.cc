#include "validation/invariants.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "fhirpath/fhirpath.h"

namespace gm::validation {

namespace {

// One constraint to evaluate: the definition and its compiled expression
// (null when the engine could not compile it; then compile_code says why).
struct Rule {
  const fhir::Constraint* constraint = nullptr;
  const fhirpath::Expression* expression = nullptr;
  std::string_view compile_code;
};

// The expression to evaluate for a constraint: its own, the replacement of a
// known-broken one, or nothing (native, skipped, or without an expression).
std::optional<std::string_view> EffectiveExpression(const fhir::Constraint& c) {
  if (fhir::IsNativeConstraint(c.key) || c.expression.empty()) return std::nullopt;
  for (const KnownBrokenInvariant& k : KnownBrokenInvariants()) {
    if (c.key == k.key && c.expression == k.expression) {
      if (k.replacement.empty()) return std::nullopt;
      return k.replacement;
    }
  }
  return std::string_view(c.expression);
}

// The engine's code for a compile failure, as a static string (the Status
// holding it does not outlive the lookup).
std::string_view CompileFailureCode(const Status& s) {
  for (std::string_view code : {"GM-FP-001", "GM-FP-002", "GM-FP-003", "GM-FP-004", "GM-FP-005",
                                "GM-FP-010", "GM-FP-011", "GM-FP-012", "GM-FP-013", "GM-FP-014"}) {
    if (s.code() == code) return code;
  }
  return "GM-FP-010";
}

bool IsWarning(const fhir::Constraint& c) { return c.severity != "error"; }

size_t CountInvariantWarnings(const std::vector<Issue>& issues, bool& capped) {
  size_t n = 0;
  for (const Issue& i : issues) {
    if (i.code == "GM-VAL-041" || i.code == "GM-VAL-042") ++n;
    if (i.code == "GM-VAL-043") capped = true;
  }
  return n;
}

}  // namespace

const std::vector<KnownBrokenInvariant>& KnownBrokenInvariants() {
  static const std::vector<KnownBrokenInvariant> kList = {
      {"dom-3",
       "contained.where((('#'+id in (%resource.descendants().reference | "
       "%resource.descendants().as(canonical) | %resource.descendants().as(uri) | "
       "%resource.descendants().as(url))) or descendants().where(reference = '#').exists() or "
       "descendants().where(as(canonical) = '#').exists() or "
       "descendants().where(as(canonical) = '#').exists()).not()).trace('unmatched', id).empty()",
       "contained.where((('#'+id in (%resource.descendants().reference | "
       "%resource.descendants().ofType(canonical) | %resource.descendants().ofType(uri) | "
       "%resource.descendants().ofType(url))) or descendants().where(reference = '#').exists() or "
       "descendants().where(ofType(canonical) = '#').exists() or "
       "descendants().where(ofType(canonical) = '#').exists()).not()).trace('unmatched', "
       "id).empty()",
       "as() on more than one item is an error in FHIRPath N1 (6.3), and dom-3 applies it to "
       "all descendants of the resource, so it fails on every resource with contained "
       "resources; evaluated with ofType() instead, as R5 does"},
      {"que-7", "operator = 'exists' implies (answer is Boolean)",
       "operator = 'exists' implies (answer is boolean)",
       "'Boolean' names System.Boolean, which a FHIR boolean answer is not, so every "
       "enableWhen with operator 'exists' fails; R4B and R5 test for the FHIR type 'boolean'"},
      {"dom-r4b",
       "($this is Citation or $this is Evidence or $this is EvidenceReport or $this is "
       "EvidenceVariable or $this is MedicinalProductDefinition or $this is "
       "PackagedProductDefinition or $this is AdministrableProductDefinition or $this is "
       "Ingredient or $this is ClinicalUseDefinition or $this is RegulatedAuthorization or $this "
       "is SubstanceDefinition or $this is SubscriptionStatus or $this is SubscriptionTopic) "
       "implies (%resource is Citation or %resource is Evidence or %resource is EvidenceReport "
       "or %resource is EvidenceVariable or %resource is MedicinalProductDefinition or "
       "%resource is PackagedProductDefinition or %resource is AdministrableProductDefinition or "
       "%resource is Ingredient or %resource is ClinicalUseDefinition or %resource is "
       "RegulatedAuthorization or %resource is SubstanceDefinition or %resource is "
       "SubscriptionStatus or %resource is SubscriptionTopic)",
       "",
       "an R4B constraint (on the SubscriptionStatus backport in the definitions package) that "
       "names resource types R4 does not have; it cannot be compiled against the R4 model"},
  };
  return kList;
}

struct InvariantChecker::Impl {
  const fhir::Model* model = nullptr;
  uint64_t max_steps = 0;
  size_t max_warnings = 0;
  // Compiled expressions by text; node-based, so pointers into it are stable.
  struct Compiled {
    std::optional<fhirpath::Expression> expression;
    std::string_view failure;  // the engine's code when it could not compile
  };
  std::unordered_map<std::string, Compiled> compiled;
  // The rules of each constraint list of the model (element and type lists).
  std::unordered_map<const std::vector<fhir::Constraint>*, std::vector<Rule>> rules;
  size_t uncompilable = 0;
  // Lists outside `rules` (another model instance) are compiled on demand.
  mutable fhirpath::ExpressionCache fallback;

  const fhirpath::Expression* Compile(const std::string& text, std::string_view& code) {
    auto it = compiled.find(text);
    if (it == compiled.end()) {
      Compiled c;
      auto r = fhirpath::Expression::Compile(text);
      if (r.ok()) {
        c.expression = std::move(r).value();
      } else {
        c.failure = CompileFailureCode(r.status());
        ++uncompilable;
      }
      it = compiled.emplace(text, std::move(c)).first;
    }
    code = it->second.failure;
    return it->second.expression ? &*it->second.expression : nullptr;
  }

  void AddList(const std::vector<fhir::Constraint>& list) {
    if (list.empty() || rules.count(&list)) return;
    std::vector<Rule>& out = rules[&list];
    for (const fhir::Constraint& c : list) {
      std::optional<std::string_view> text = EffectiveExpression(c);
      if (!text) continue;
      Rule r;
      r.constraint = &c;
      r.expression = Compile(std::string(*text), r.compile_code);
      out.push_back(r);
    }
  }

  void Build() {
    std::unordered_set<const fhir::TypeDef*> seen;
    std::deque<const fhir::TypeDef*> work;
    auto visit = [&](const fhir::TypeDef* t) {
      if (t != nullptr && seen.insert(t).second) work.push_back(t);
    };
    for (const std::string& name : model->ResourceTypes()) visit(model->Type(name));
    while (!work.empty()) {
      const fhir::TypeDef* t = work.front();
      work.pop_front();
      AddList(t->constraints);
      if (!t->base.empty()) visit(model->Type(t->base));
      for (const fhir::ElementDef& el : t->elements) {
        AddList(el.constraints);
        visit(el.type);
        for (const fhir::TypeRef& ref : el.types) visit(model->Type(ref.code));
      }
    }
  }

  // Rules of a list, from the table or compiled on demand into the scratch
  // vectors (valid until the next call with the same scratch).
  const std::vector<Rule>* RulesOf(const std::vector<fhir::Constraint>& list,
                                   std::vector<Rule>& scratch,
                                   std::vector<fhirpath::Expression>& scratch_expressions) const {
    auto it = rules.find(&list);
    if (it != rules.end()) return &it->second;
    scratch.clear();
    scratch_expressions.clear();
    scratch_expressions.reserve(list.size());
    for (const fhir::Constraint& c : list) {
      std::optional<std::string_view> text = EffectiveExpression(c);
      if (!text) continue;
      Rule r;
      r.constraint = &c;
      auto e = fallback.Get(*text);
      if (e.ok()) {
        scratch_expressions.push_back(std::move(e).value());
        r.expression = &scratch_expressions.back();
      } else {
        r.compile_code = CompileFailureCode(e.status());
      }
      scratch.push_back(r);
    }
    return &scratch;
  }
};

InvariantChecker::InvariantChecker(const InvariantOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->model = options.model != nullptr ? options.model : &fhir::Model::R4();
  impl_->max_steps = options.max_steps;
  impl_->max_warnings = options.max_warnings;
  impl_->Build();
}

InvariantChecker::~InvariantChecker() = default;

std::shared_ptr<const InvariantChecker> InvariantChecker::R4() {
  static const std::shared_ptr<const InvariantChecker> checker =
      std::make_shared<const InvariantChecker>();
  return checker;
}

size_t InvariantChecker::compiled_expressions() const { return impl_->compiled.size(); }
size_t InvariantChecker::uncompilable_expressions() const { return impl_->uncompilable; }

void InvariantChecker::Check(const fhir::InvariantSite& site, std::vector<Issue>& issues) const {
  // The element's constraints, then the type's (a key in both is evaluated once).
  std::vector<Rule> scratch[2];
  std::vector<fhirpath::Expression> scratch_expressions[2];
  const std::vector<Rule>* lists[2] = {nullptr, nullptr};
  if (site.element() != nullptr && !site.element()->constraints.empty()) {
    lists[0] = impl_->RulesOf(site.element()->constraints, scratch[0], scratch_expressions[0]);
  }
  if (site.type() != nullptr && !site.type()->constraints.empty()) {
    lists[1] = impl_->RulesOf(site.type()->constraints, scratch[1], scratch_expressions[1]);
  }
  if ((lists[0] == nullptr || lists[0]->empty()) && (lists[1] == nullptr || lists[1]->empty())) {
    return;
  }

  const json::Value* node = site.node();
  fhirpath::EvalOptions eval;
  eval.resource = &site.resource();
  eval.root_resource = &site.root_resource();
  eval.max_steps = impl_->max_steps;
  bool is_resource = site.type() != nullptr && site.type()->kind == fhir::TypeKind::kResource;
  if (site.type() != nullptr && !is_resource) eval.input_type = site.type()->name;
  bool contained = is_resource && &site.resource() != &site.root_resource();

  std::optional<std::string> location;
  for (int l = 0; l < 2; ++l) {
    if (lists[l] == nullptr) continue;
    for (const Rule& rule : *lists[l]) {
      const fhir::Constraint& c = *rule.constraint;
      if (l == 1 && lists[0] != nullptr &&
          std::any_of(lists[0]->begin(), lists[0]->end(),
                      [&](const Rule& r) { return r.constraint->key == c.key; })) {
        continue;
      }
      if (contained && c.key == "dom-6") continue;
      std::string failure;
      bool violated = false;
      if (rule.expression == nullptr) {
        failure = rule.compile_code.empty() ? "GM-FP-010" : rule.compile_code;
      } else {
        auto result = node != nullptr ? rule.expression->Evaluate(*node, eval)
                                      : rule.expression->Evaluate(fhirpath::Collection(), eval);
        if (!result.ok()) {
          failure = result.status().code();
        } else {
          auto b = fhirpath::ToBoolean(*result);
          if (!b.ok()) {
            failure = b.status().code();
          } else {
            violated = b->has_value() && !**b;
          }
        }
      }
      if (failure.empty() && !violated) continue;

      bool warning = !failure.empty() || IsWarning(c);
      if (warning) {
        bool capped = false;
        size_t n = CountInvariantWarnings(issues, capped);
        if (n >= impl_->max_warnings) {
          if (!capped) {
            issues.push_back(Issue{Severity::kWarning, "invariant", "GM-VAL-043",
                                   "Further invariant warnings were not reported", std::string()});
          }
          continue;
        }
      }
      if (!location) location = site.Location();
      Issue issue;
      issue.type = "invariant";
      issue.expression = *location;
      if (!failure.empty()) {
        issue.severity = Severity::kWarning;
        issue.code = "GM-VAL-042";
        issue.text = c.key + ": invariant could not be evaluated (" + failure + ")";
      } else {
        issue.severity = warning ? Severity::kWarning : Severity::kError;
        issue.code = warning ? "GM-VAL-041" : "GM-VAL-040";
        issue.text = c.key + ": " + c.human;
      }
      issues.push_back(std::move(issue));
    }
  }
}

fhir::InvariantHook MakeInvariantHook(std::shared_ptr<const InvariantChecker> checker) {
  return
      [checker = std::move(checker)](const fhir::InvariantSite& site, std::vector<Issue>& issues) {
        checker->Check(site, issues);
      };
}

ValidationResult ValidateWithInvariants(const json::Value& resource,
                                        const ValidateWithInvariantsOptions& options) {
  const fhir::Model& model = options.model != nullptr ? *options.model : fhir::Model::R4();
  std::shared_ptr<const InvariantChecker> checker = options.checker;
  if (checker == nullptr) {
    checker = &model == &fhir::Model::R4()
                  ? InvariantChecker::R4()
                  : std::make_shared<const InvariantChecker>(InvariantOptions{.model = &model});
  }
  const InvariantChecker* c = checker.get();
  fhir::ValidateOptions vo;
  vo.model = &model;
  vo.max_issues = options.max_issues;
  vo.invariants = [c](const fhir::InvariantSite& site, std::vector<Issue>& issues) {
    c->Check(site, issues);
  };
  std::vector<Issue> issues = fhir::Validate(resource, vo);

  ValidationResult out;
  bool failed = false;
  for (const Issue& i : issues) {
    if (i.severity == Severity::kError || i.severity == Severity::kFatal) {
      failed = true;
    } else {
      out.warnings.push_back(i);
    }
  }
  if (failed) out.status = Status(ErrorCategory::kUnprocessable, std::move(issues));
  return out;
}

}  // namespace gm::validation
