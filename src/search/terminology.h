// The seam between search and a terminology service, for the token modifiers
// that need one (http://hl7.org/fhir/R4/search.html#modifiers):
//   :in / :not-in   value=ValueSet url   → the codes of the value set's expansion
//   :below / :above value=system|code    → the codes it subsumes / that subsume it
// ParseSearch turns the answer into an ordinary token clause (kTokenEq, or
// kTokenNot for :not-in), so the store needs nothing new. Until a terminology
// service exists (a later issue), no Terminology is configured and these
// modifiers are answered with 501 Not Implemented, GM-SEARCH-030.
//
// Thread-safety: implementations must allow concurrent calls.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace gm::search {

struct CodeRef {
  std::string system;
  std::string code;
};

enum class Subsumption {
  kBelow,  // the code and every code it subsumes (is-a descendants)
  kAbove,  // the code and every code that subsumes it (ancestors)
};

class Terminology {
 public:
  virtual ~Terminology() = default;
  // The codes in the expansion of the value set `url`. Errors: kNotFound for
  // an unknown value set; kTooManyRequests/kUnavailable when it cannot answer.
  virtual Result<std::vector<CodeRef>> Expand(std::string_view url) const = 0;
  // The codes related to system|code by subsumption, the code itself included.
  virtual Result<std::vector<CodeRef>> Related(std::string_view system, std::string_view code,
                                               Subsumption direction) const = 0;
};

}  // namespace gm::search
