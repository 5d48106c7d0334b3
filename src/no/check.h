// Norwegian identifiers inside FHIR resources: the write-time check and the
// mapping of system variants to the canonical systems (no/identifiers.h).
//
// Both walk every element of type Identifier in a resource — at any depth,
// in complex types (Reference.identifier), choice elements
// (Extension.valueIdentifier), backbone elements, contained resources and
// resources nested in Bundle/Parameters — typed by the FHIR model.
//
// Issues from CheckIdentifiers (severity error, issue type "value",
// expression = the Identifier's value, e.g. "Patient.identifier[0].value";
// texts name the identifier kind and the problem, never the value):
//
// | code      | problem                                            |
// |-----------|----------------------------------------------------|
// | GM-NO-001 | invalid fødselsnummer                              |
// | GM-NO-002 | invalid D-nummer                                   |
// | GM-NO-003 | invalid felles hjelpenummer                        |
// | GM-NO-004 | invalid H-nummer                                   |
// | GM-NO-005 | invalid HPR-nummer                                 |
// | GM-NO-006 | invalid DUF-nummer                                 |
// | GM-NO-007 | invalid organisasjonsnummer                        |
// | GM-NO-008 | invalid RESH-id                                    |
// | GM-NO-009 | invalid pharmacy licence number (AKO)              |
// | GM-NO-010 | invalid HER-id                                     |
// | GM-NO-011 | H-nummer without assigner (expression: the Identifier) |
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "fhir/model.h"
#include "no/identifiers.h"

namespace gm::no {

// The stable issue code for an invalid value of `system`.
std::string_view IssueCode(IdSystem system);

// One error issue per invalid Norwegian identifier in `resource` (systems
// recognised by IdentifySystem, canonical or variant). Empty: all valid.
std::vector<Issue> CheckIdentifiers(const json::Value& resource,
                                    const fhir::Model& model = fhir::Model::R4());

// Rewrites every recognised variant identifier.system to its canonical value
// (so it is stored canonical). Returns how many systems were rewritten.
size_t CanonicalizeIdentifierSystems(json::Value& resource,
                                     const fhir::Model& model = fhir::Model::R4());

}  // namespace gm::no
