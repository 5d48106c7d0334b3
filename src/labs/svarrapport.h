// Pasientens prøvesvar (NILAR): a KITH Svarrapport message → a FHIR R4
// transaction Bundle of NILAR resources. docs/svarrapport-mapping.md is the
// element-by-element description; this header is the contract.
//
// One message becomes one transaction (all or nothing), per ServReport:
//   Patient            POST, ifNoneExist identifier=<FNR|DNR|FHN system>|<value>
//                      (resolved against the registry; created with only the
//                      identifier when unknown)
//   Organization       POST, ifNoneExist by HER-id / orgnr / RESH (lab, requester)
//   Practitioner       POST, ifNoneExist by HPR-nummer / HER-id
//   PractitionerRole   PUT, deterministic id from (organisation, person)
//   ServiceRequest     PUT  (nilar-service-request)   the requisition + requester
//   Specimen           PUT  (nilar-specimen)
//   Observation        PUT  (nilar-observation)       hasMember hierarchy
//   DiagnosticReport   PUT  (nilar-diagnostic-report)
//   Communication      PUT  the notification to the requesting organisation
// Deterministic ids: "<prefix>-" + 32 hex of SHA-256 over (sender, the lab's
// requisition id, the report's subject area, the item's id or position), so
// a correction (ENDRING) of a report writes new versions of the same
// resources and a re-sent message targets the same ids.
//
// Idempotency: every PUT resource carries meta.source =
// "urn:grunnmur:svarrapport:<SHA-256 of its mapped content>";
// FilterUnchanged drops PUT entries whose stored current version has the same
// meta.source, so re-sending a message writes no new versions.
//
// Errors beyond xml.h's (category kUnprocessable, the message is valid XML):
//   GM-LAB-010  no ServReport in the message
//   GM-LAB-030  no usable patient identity: OffId missing, TypeOffId not
//               FNR/DNR/FHN, or the number fails its check digits. Such a
//               message is REJECTED (never guessed, never parked).
//   GM-LAB-040  the store could not be read (FilterUnchanged)
#pragma once

#include <string>
#include <string_view>

#include "core/json.h"
#include "core/status.h"
#include "labs/xml.h"

namespace gm::store {
class Store;
}

namespace gm::labs {

inline constexpr std::string_view kNilarBase = "http://nhn.no/fhir/nilar/StructureDefinition/";
inline constexpr std::string_view kSourcePrefix = "urn:grunnmur:svarrapport:";
inline constexpr std::string_view kSecurity9603 =
    "http://ehelse.no/fhir/CodeSystem/no-kodeverk-9603";

// Maps a parsed message to a transaction Bundle (pure: no store access).
Result<json::Value> MapToBundle(const SvarDocument& doc);

// Drops the PUT entries whose current stored version has the same content
// fingerprint (meta.source); for a report already stored, keeps the results
// and specimens of its stored version in the new one and — when the new
// version is cancelled — marks the stored observations the message does not
// repeat as cancelled too. Reads only; the transaction itself is run by the
// caller (POST [base] machinery).
Status FilterUnchanged(json::Value& bundle, store::Store& store);

// ParseSvarrapport + MapToBundle (+ FilterUnchanged when store is given).
Result<json::Value> BuildIngestBundle(std::string_view xml, store::Store* store);

// POST [base]/$svarrapport: checks the Content-Type (application/xml or
// text/xml, any parameters; else 415 GM-LAB-005), then BuildIngestBundle
// against the store. The caller runs the Bundle as a FHIR transaction.
Result<json::Value> IngestRequest(std::string_view content_type, std::string_view body,
                                  store::Store& store);

}  // namespace gm::labs
