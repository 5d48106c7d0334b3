// FHIRPath invariants of the base R4 definitions, checked on write
// (http://hl7.org/fhir/R4/conformance-rules.html#constraints,
//  http://hl7.org/fhir/R4/validation.html).
//
// The structural validator (fhir/validator.h) visits every node whose element
// or type carries constraints and hands it to an InvariantHook. The checker
// here is that hook: it evaluates each constraint's FHIRPath expression at the
// node, with %resource and %rootResource as the validator reports them, and
// turns a constraint that evaluates to false into an issue. Constraints the
// validator enforces natively (fhir::IsNativeConstraint) are not evaluated;
// the few known to be broken in the R4 definitions (KnownBrokenInvariants)
// are evaluated in their corrected form or skipped; dom-6 ("a resource
// should have narrative") is not evaluated on contained resources, which per
// DomainResource.text do not have narrative.
//
// Issues added (issue type "invariant", expression = the node's location,
// e.g. "Observation.referenceRange[0]"; texts name the constraint key and its
// published description only, never data from the resource):
//
// | code       | severity | problem                                                        |
// |------------|----------|----------------------------------------------------------------|
// | GM-VAL-040 | error    | a constraint of severity error evaluated to false              |
// | GM-VAL-041 | warning  | a constraint of severity warning evaluated to false            |
// | GM-VAL-042 | warning  | a constraint could not be compiled or evaluated (engine error, |
// |            |          | work limit); the resource is not rejected for it               |
// | GM-VAL-043 | warning  | more invariant warnings than InvariantOptions::max_warnings;   |
// |            |          | the rest were dropped                                          |
//
// A constraint holds when its result is empty, true, or a single non-Boolean
// item (fhirpath::ToBoolean); a result of several items is an evaluation
// failure (GM-VAL-042).
//
// Primitive nodes are evaluated on their value alone: the FHIRPath API cannot
// attach a "_name" companion to an input item, so a constraint on a primitive
// element sees no id/extension of it, and a primitive that has only a
// companion is evaluated as an empty input. (In R4 this affects only eld-3 on
// ElementDefinition.max, which holds either way.)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "fhir/model.h"
#include "fhir/validator.h"

namespace gm::validation {

// A base-definition constraint whose published expression is wrong, and what
// is done instead: `replacement` (the corrected expression, as later FHIR
// releases publish it) is evaluated in its place, or, when empty, the
// constraint is skipped. The entry applies only while the model's expression
// for `key` is exactly `expression`, so a corrected definition is used as is.
struct KnownBrokenInvariant {
  std::string_view key;
  std::string_view expression;
  std::string_view replacement;
  std::string_view reason;
};

// The constraints of the R4 definitions that are known to be broken.
const std::vector<KnownBrokenInvariant>& KnownBrokenInvariants();

struct InvariantOptions {
  const fhir::Model* model = nullptr;  // null: fhir::Model::R4(); must outlive the checker
  // FHIRPath work limit per constraint evaluation (EvalOptions::max_steps).
  // An evaluation that exceeds it is reported as GM-VAL-042, not as a failure.
  uint64_t max_steps = 1'000'000;
  // Invariant warnings (GM-VAL-041/042) reported per validation; beyond it one
  // GM-VAL-043 warning says that more were dropped. Keeps warnings from
  // filling the validator's max_issues (which would turn into an error).
  size_t max_warnings = 20;
};

// Evaluates the constraints of one model.
//
// Construction compiles every distinct constraint expression of the model
// once (a few milliseconds for R4). Afterwards the checker is immutable:
// Check may run concurrently on any number of threads without locking;
// constraints of elements outside the model it was built for (another model
// instance) are compiled on first use through a thread-safe cache.
class InvariantChecker {
 public:
  explicit InvariantChecker(const InvariantOptions& options = {});
  ~InvariantChecker();
  InvariantChecker(const InvariantChecker&) = delete;
  InvariantChecker& operator=(const InvariantChecker&) = delete;

  // The process-wide checker for the embedded R4 model, built on first use.
  static std::shared_ptr<const InvariantChecker> R4();

  // Appends one issue per violated or unevaluable constraint of the site's
  // element and type. Never throws; never rejects for engine failures.
  void Check(const fhir::InvariantSite& site, std::vector<Issue>& issues) const;

  // Counts for reports and tests: distinct constraint expressions compiled,
  // and how many of them the engine could not compile.
  size_t compiled_expressions() const;
  size_t uncompilable_expressions() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A hook for fhir::ValidateOptions::invariants that keeps `checker` alive.
fhir::InvariantHook MakeInvariantHook(std::shared_ptr<const InvariantChecker> checker);

// The outcome of ValidateWithInvariants.
struct [[nodiscard]] ValidationResult {
  // Ok when no issue has severity error or fatal; otherwise kUnprocessable
  // carrying every issue (errors and warnings, in the validator's order).
  Status status;
  // The warning and information issues (also when status is an error), e.g.
  // for an OperationOutcome attached to a successful write.
  std::vector<Issue> warnings;
};

struct ValidateWithInvariantsOptions {
  const fhir::Model* model = nullptr;  // null: the embedded R4 model
  // The checker to use; null: InvariantChecker::R4() when model is R4 or null,
  // else a checker built for `model` on this call (slow: pass one instead).
  std::shared_ptr<const InvariantChecker> checker;
  size_t max_issues = 100;  // fhir::ValidateOptions::max_issues
};

// Structural validation plus the FHIRPath invariants of the base definitions.
// Pure function of its arguments; thread-safe.
ValidationResult ValidateWithInvariants(const json::Value& resource,
                                        const ValidateWithInvariantsOptions& options = {});

}  // namespace gm::validation
