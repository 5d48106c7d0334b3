// Lexical checks for the FHIR R4 primitive types
// (http://hl7.org/fhir/R4/datatypes.html#primitive).
//
// Each check is a hand-written linear scan equivalent to the regular expression
// in the R4 definitions, plus the rules those expressions do not state: the
// 32-bit range of the integer types, day-of-month validity (leap years
// included), the 1 MiB limit and control characters of strings, base64 padding,
// and a basic safety check of narrative XHTML. std::regex is not used: it
// recurses per character and can exhaust the stack on long input.
//
// The checks are shared by the structural validator, search-parameter parsing
// and FHIRPath, so they return a short static reason instead of a Status; the
// caller wraps it in an error of its own category and code. A reason never
// contains any part of the checked text.
//
// Thread-safety: every function here is pure and may be called from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/json.h"

namespace gm::fhir {

enum class Primitive : uint8_t {
  kBoolean,
  kInteger,
  kDecimal,
  kPositiveInt,
  kUnsignedInt,
  kString,
  kMarkdown,
  kCode,
  kId,
  kUri,
  kUrl,
  kCanonical,
  kOid,
  kUuid,
  kDate,
  kDateTime,
  kInstant,
  kTime,
  kBase64Binary,
  kXhtml,
};

// The primitive named by a FHIR type code ("dateTime"); nullopt for any other name.
std::optional<Primitive> PrimitiveFromName(std::string_view type_name);
// The FHIR type code of `p` ("dateTime").
std::string_view PrimitiveName(Primitive p);
// The JSON kind that carries the value of `p`: kBool, kNumber or kString.
json::Kind JsonKindOf(Primitive p);

// Checks that `text` is a valid lexical form of `p`. For the number types,
// `text` is the JSON number text. Returns an empty view when valid, otherwise a
// short static English reason ("day is out of range for the month").
std::string_view CheckLexical(Primitive p, std::string_view text);

// Checks a JSON value: first that its JSON kind is JsonKindOf(p), then its
// lexical form. Same return convention as CheckLexical.
std::string_view CheckValue(Primitive p, const json::Value& v);

// The components of a date, dateTime, instant or time value.
struct Temporal {
  enum class Precision : uint8_t { kYear, kMonth, kDay, kSecond };
  Precision precision = Precision::kYear;  // kSecond for a time value
  int year = 0;                            // 1..9999 (0 for a time value)
  int month = 0;                           // 1..12, 0 when absent
  int day = 0;                             // 1..31, 0 when absent
  int hour = 0;
  int minute = 0;
  int second = 0;               // 0..60 (60: leap second)
  std::string_view fraction;    // digits after '.', a view into the input; may be empty
  bool has_zone = false;        // "Z" or an offset was given
  int zone_offset_minutes = 0;  // offset from UTC, -840..840
};

// Parses a value of `p` (kDate, kDateTime, kInstant or kTime) into `out`
// (which may be null). Same return convention as CheckLexical; `out` is
// unspecified on failure.
std::string_view ParseTemporal(Primitive p, std::string_view text, Temporal* out);

// Days in `month` (1..12) of `year` in the proleptic Gregorian calendar.
int DaysInMonth(int year, int month);

}  // namespace gm::fhir
