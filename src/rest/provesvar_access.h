// Pasientens prøvesvar, access (issue 8 items 2 and 4; docs/svarrapport-mapping.md
// "Access rules"): the national search API's headers (person-id,
// access-basis, requester-hpr-role) and the one visibility predicate for
// lab results labelled with kodeverk 9603 (NORS hidden by the citizen, NORU
// delayed release to the citizen), applied to every response that carries
// DiagnosticReport, Observation, Specimen or ServiceRequest to a person.
//
// Error codes: GM-PVS-001 missing/unknown access-basis (400),
//              GM-PVS-002 person-id not a valid FNR/DNR or two identities (400),
//              GM-PVS-003 no patient with this person-id (403),
//              GM-PVS-004 requester-hpr-role not an active HPR authorisation (403).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "http/server.h"
#include "rest/auth.h"
#include "rest/context.h"
#include "rest/request.h"
#include "trust/pdp.h"

namespace gm::rest {

inline constexpr std::string_view kLabelSystem9603 =
    "http://ehelse.no/fhir/CodeSystem/no-kodeverk-9603";

// DiagnosticReport, Observation, Specimen, ServiceRequest.
bool IsProvesvarType(std::string_view type);

// The national search API: POST [base]/{DiagnosticReport|Observation|Specimen|ServiceRequest}/_search.
bool IsProvesvarSearch(const Target& target, const std::string& method);

enum class AccessBasis { kNone, kUnntak, kSamtykke, kForhoyetSamtykke, kAkutt, kUnknown };
AccessBasis AccessBasisOf(const http::Request& req);  // the access-basis header

// Before the policy runs, for the national search API: a clinician must give
// a known access-basis (else 400 GM-PVS-001); the patient named by the
// person-id header or by patient.identifier= / subject:identifier= /
// patient:identifier= / subject.identifier= in the form body is resolved to
// the Patient and the body rewritten to patient=<id> (the policy and the
// search then see one ordinary patient parameter).
Status PrepareProvesvarSearch(const Context& ctx, http::Request& req, const Target& target,
                              AccessMode mode);

// On the national search API, a clinician's requester-hpr-role header (a
// kodeverk 9060 code, e.g. LE) must be one of their active HPR
// authorisations (else 403 GM-PVS-004); it then becomes the authorisation
// the audit records. Absent: nothing is checked.
Status CheckRequesterRole(const http::Request& req, const Target& target,
                          const std::string& method, const trust::ClinicianFacts& clinician,
                          std::string& audited_authorization);

// What the access basis means for the policy (only on the national search
// API, only for clinicians): SAMTYKKE and FORHOYET_SAMTYKKE declare the
// citizen's consent (opens a sperring); AKUTT is emergency access (attested
// purpose BTG for the person-id patient: flagged and audited as BTG); UNNTAK
// changes nothing (the ordinary care relationship must hold).
void ApplyAccessBasis(const http::Request& req, const Target& target, const std::string& method,
                      trust::Caller& caller, int64_t now_s);

// Who looks at results, as the visibility rules need it.
struct ResultViewer {
  AccessMode mode = AccessMode::kSystem;
  bool opens_restricted = false;  // clinician: FORHOYET_SAMTYKKE, AKUTT or BTG
  int64_t now_us = 0;
  int release_delay_days = 14;
};

// May this person see this stored resource now? Systems: always. Clinicians:
// not when it carries NORS unless opens_restricted. Citizens: not when it
// carries NORU, until the label is removed (release) or release_delay_days
// have passed since its release clock (issued; Specimen receivedTime;
// ServiceRequest authoredOn; none: only release opens it).
bool MayViewResult(const ResultViewer& viewer, std::string_view type, const json::Value& resource);

// The viewer of a decided request.
ResultViewer ViewerFor(const Context& ctx, const RequestPolicy& policy, const http::Request& req,
                       const Target& target);

// Applies MayViewResult to a response: a single hidden resource answers 404
// like an unknown one; hidden Bundle entries are removed, and so is
// Bundle.total when the patients have results hidden from this viewer.
// The stored version of each resource is judged (the response may be shaped
// by _elements/_summary).
// patient_scope: the patients the request was limited to (for the total).
void FilterResultsForViewer(const Context& ctx, const ResultViewer& viewer, const Target& target,
                            const std::vector<std::string>& patient_scope,
                            http::Response& response);

}  // namespace gm::rest
