// HPR authorisations as grunnmur stores them on a Practitioner
// (docs/grunndata.md, "Authorisations"): one qualification per
// authorisation, coded in kodeverk 9060, with a status extension and, for
// those who may prescribe, a prescribing-right extension. One reading for
// the policy decision point and e-resept; synth writes the same shape.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"

namespace gm::no {

inline constexpr std::string_view kAuthorisation9060 = "urn:oid:2.16.578.1.12.4.1.1.9060";
inline constexpr std::string_view kHprStatusExtension =
    "http://grunnmur.no/fhir/StructureDefinition/hpr-authorization-status";
inline constexpr std::string_view kHprPrescribingRightExtension =
    "http://grunnmur.no/fhir/StructureDefinition/hpr-prescribing-right";

struct HprAuthorisation {
  std::string code;    // kodeverk 9060: LE, SP, FA1 …
  std::string status;  // active | suspended | revoked (without the extension:
                       // revoked when the period has ended, else active)
  bool prescribing_right = false;  // the extension says true
};

// Every 9060-coded qualification of a Practitioner.
std::vector<HprAuthorisation> HprAuthorisations(const json::Value& practitioner);

}  // namespace gm::no
