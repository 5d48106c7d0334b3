// Norwegian identifiers: person numbers (fødselsnummer, D-nummer, H-nummer,
// felles hjelpenummer), organisasjonsnummer, HPR-nummer, HER-id, RESH-id,
// DUF-nummer and the pharmacy licence number; their canonical FHIR
// identifier systems and the variants seen in the wild.
// Domain reference: ../shared/docs/national-services.md §0.
//
// Person numbers (11 digits, DDMMYY III K1 K2):
//  - K1: weights 3,7,6,1,8,9,4,5,2 on digits 1–9; K2: weights 5,4,3,2,7,6,5,4,3,2
//    on digits 1–10. Checked as "weighted sum including the check digit
//    (weight 1) ≡ r (mod 11)": today r must be 0 for both. Numbers issued
//    from 1 Jan 2032 may have r ∈ {0,1,2,3} for K1 (the gender-neutral scheme,
//    skatteetaten.no); K2 keeps r = 0. Every single-digit error is detected
//    (K2 covers all 11 positions with weights that are non-zero mod 11).
//  - D-nummer: day + 40. H-nummer: month + 40. Synthetic test numbers
//    (Skatteetaten's Tenor test population): month + 80; they are accepted and
//    flagged `synthetic`, and can never be a real person's number.
//  - Century from the individnummer (digits 7–9): 000–499 → 1900–99;
//    500–749 with YY ≥ 54 → 1854–99; 900–999 with YY ≥ 40 → 1940–99;
//    500–999 with YY ≤ 39 → 2000–39; anything else is invalid. The date must
//    exist (leap years included).
//  - Sex: digit 9 even = female, odd = male, for numbers of today's scheme
//    (K1 remainder 0); numbers of the 2032 scheme encode no sex.
//  - Felles hjelpenummer: first digit 8 or 9, same two check digits, no date.
//
// Organisasjonsnummer: 9 digits, weights 3,2,7,6,5,4,3,2 on the first 8,
// check = 11 − (Σ mod 11), 11 → 0, 10 → invalid.
// HPR-nummer, HER-id, RESH-id, pharmacy licence (AKO): no check digit is
// published (domain doc §0): a positive integer of at most 9 digits without a
// leading zero. DUF-nummer: exactly 12 digits.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace gm::no {

// ---------------------------------------------------------------- systems

enum class IdSystem {
  kFnr,    // fødselsnummer
  kDnr,    // D-nummer
  kFhn,    // felles hjelpenummer
  kHnr,    // local H-nummer (system "HNR", assigner required)
  kHpr,    // HPR-nummer (health personnel)
  kDuf,    // DUF-nummer
  kOrgnr,  // organisasjonsnummer (Enhetsregisteret)
  kResh,   // RESH-id
  kAko,    // pharmacy licence (apotekenes konsesjonsnummer)
  kHerId,  // HER-id (Adresseregisteret)
};

namespace systems {
inline constexpr std::string_view kFnr = "urn:oid:2.16.578.1.12.4.1.4.1";
inline constexpr std::string_view kDnr = "urn:oid:2.16.578.1.12.4.1.4.2";
inline constexpr std::string_view kFhn = "urn:oid:2.16.578.1.12.4.1.4.3";
inline constexpr std::string_view kHpr = "urn:oid:2.16.578.1.12.4.1.4.4";
inline constexpr std::string_view kDuf = "urn:oid:2.16.578.1.12.4.1.4.5";
inline constexpr std::string_view kOrgnr = "urn:oid:2.16.578.1.12.4.1.4.101";
inline constexpr std::string_view kResh = "urn:oid:2.16.578.1.12.4.1.4.102";
inline constexpr std::string_view kAko = "urn:oid:2.16.578.1.12.4.1.4.107";
inline constexpr std::string_view kHerId = "urn:oid:2.16.578.1.12.4.1.2";
inline constexpr std::string_view kHnr = "HNR";
}  // namespace systems

// The canonical identifier.system of a kind.
std::string_view CanonicalUri(IdSystem system);
// Short human name ("fødselsnummer", "organisasjonsnummer", ...).
std::string_view DisplayName(IdSystem system);

// Recognises a Norwegian identifier system: the canonical value, the bare OID
// (without "urn:oid:"), the hl7.no NamingSystem URL
// (http://hl7.no/fhir/NamingSystem/FNR, DNR, FHNR, HPR, DUFN, AKO, HERid,
// RESHid), http://data.brreg.no/begrep/28155 for orgnr, and the known wrong
// OIDs urn:oid:2.16.578.1.12.4.1.2.101 (orgnr) and
// urn:oid:2.16.578.1.12.4.1.4.1026 (RESH). Comparison is exact (URIs are
// case-sensitive). nullopt: not a Norwegian identifier system.
std::optional<IdSystem> IdentifySystem(std::string_view system);
// The canonical system for a recognised one (also for the canonical value
// itself), nullopt otherwise.
std::optional<std::string> CanonicalSystem(std::string_view system);

// ---------------------------------------------------------------- persons

enum class PersonKind { kFnr, kDnr, kHnr, kFhn };
enum class Sex { kUnknown, kFemale, kMale };

struct PersonNumber {
  PersonKind kind = PersonKind::kFnr;
  // Birth date (not for felles hjelpenummer: all 0).
  int year = 0, month = 0, day = 0;
  int individnummer = 0;  // digits 7–9
  Sex sex = Sex::kUnknown;
  bool synthetic = false;    // month + 80 (Tenor test number)
  bool scheme_2032 = false;  // K1 remainder 1–3: the 2032 gender-neutral scheme
};

// Why a number is invalid. Texts never contain the number.
enum class Problem {
  kNone,
  kFormat,      // wrong length or not only digits
  kDate,        // no valid date / month / century
  kCheckDigit,  // a check digit does not match
  kPrefix,      // felles hjelpenummer not starting with 8 or 9
  kRange,       // integer identifiers: zero, leading zero, too long
};
std::string_view ProblemText(Problem p);

// Parses an 11-digit person number as the given kind. Returns the problem in
// `problem` (kNone when valid).
std::optional<PersonNumber> ParsePersonNumber(std::string_view value, PersonKind kind,
                                              Problem* problem = nullptr);

bool IsValidFnr(std::string_view v);
bool IsValidDnr(std::string_view v);
bool IsValidHnr(std::string_view v);
bool IsValidFhn(std::string_view v);

// Appends K1 and K2 (today's scheme, K1 remainder 0) to 9 digits; nullopt
// when a check digit would be 10 or the input is not 9 digits.
std::optional<std::string> WithCheckDigits(std::string_view nine_digits);
// Builds a valid FNR / D-nummer / H-nummer of today's scheme from a birth
// date and individnummer (which must fit the century of `year`, see
// IndividnummerRange). nullopt when the inputs do not fit or no check digit
// exists (remainder 10). Not for kFhn (use WithCheckDigits).
std::optional<std::string> MakePersonNumber(PersonKind kind, int year, int month, int day,
                                            int individnummer, bool synthetic = false);

// The individnummer ranges usable for a birth year (1854–2039): up to two
// [first, last] ranges; empty when the year cannot be encoded.
std::vector<std::pair<int, int>> IndividnummerRanges(int year);

// ---------------------------------------------------------------- others

bool IsValidOrgnr(std::string_view v);
// The organisasjonsnummer whose first 8 digits are `first8` (10000000 ≤ first8
// ≤ 99999999), or nullopt when the check digit would be 10.
std::optional<std::string> MakeOrgnr(int first8);

// Validates a value of any Norwegian identifier system; kNone when valid.
Problem Check(IdSystem system, std::string_view value);

}  // namespace gm::no
