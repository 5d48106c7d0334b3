#include "no/identifiers.h"

#include <array>
#include <cstdio>

namespace gm::no {

namespace {

bool AllDigits(std::string_view v) {
  if (v.empty()) return false;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int D(std::string_view v, size_t i) { return v[i] - '0'; }

constexpr std::array<int, 9> kK1 = {3, 7, 6, 1, 8, 9, 4, 5, 2};
constexpr std::array<int, 10> kK2 = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};

// Σ weights·digits + check digit (weight 1), mod 11.
int K1Remainder(std::string_view v) {
  int s = 0;
  for (size_t i = 0; i < 9; ++i) s += kK1[i] * D(v, i);
  return (s + D(v, 9)) % 11;
}
int K2Remainder(std::string_view v) {
  int s = 0;
  for (size_t i = 0; i < 10; ++i) s += kK2[i] * D(v, i);
  return (s + D(v, 10)) % 11;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Century from the individnummer and the two-digit year; 0 when impossible.
int Century(int individ, int yy) {
  if (individ <= 499) return 1900;
  if (individ <= 749 && yy >= 54) return 1800;
  if (individ >= 900 && yy >= 40) return 1900;
  if (individ >= 500 && yy <= 39) return 2000;
  return 0;
}

struct SystemInfo {
  IdSystem system;
  std::string_view canonical;
  std::string_view name;
};
constexpr SystemInfo kSystems[] = {
    {IdSystem::kFnr, systems::kFnr, "fødselsnummer"},
    {IdSystem::kDnr, systems::kDnr, "D-nummer"},
    {IdSystem::kFhn, systems::kFhn, "felles hjelpenummer"},
    {IdSystem::kHnr, systems::kHnr, "H-nummer"},
    {IdSystem::kHpr, systems::kHpr, "HPR-nummer"},
    {IdSystem::kDuf, systems::kDuf, "DUF-nummer"},
    {IdSystem::kOrgnr, systems::kOrgnr, "organisasjonsnummer"},
    {IdSystem::kResh, systems::kResh, "RESH-id"},
    {IdSystem::kAko, systems::kAko, "apotekkonsesjonsnummer"},
    {IdSystem::kHerId, systems::kHerId, "HER-id"},
};

struct Variant {
  std::string_view uri;
  IdSystem system;
};
constexpr Variant kVariants[] = {
    {"2.16.578.1.12.4.1.4.1", IdSystem::kFnr},
    {"http://hl7.no/fhir/NamingSystem/FNR", IdSystem::kFnr},
    {"2.16.578.1.12.4.1.4.2", IdSystem::kDnr},
    {"http://hl7.no/fhir/NamingSystem/DNR", IdSystem::kDnr},
    {"2.16.578.1.12.4.1.4.3", IdSystem::kFhn},
    {"http://hl7.no/fhir/NamingSystem/FHNR", IdSystem::kFhn},
    {"2.16.578.1.12.4.1.4.4", IdSystem::kHpr},
    {"http://hl7.no/fhir/NamingSystem/HPR", IdSystem::kHpr},
    {"2.16.578.1.12.4.1.4.5", IdSystem::kDuf},
    {"http://hl7.no/fhir/NamingSystem/DUFN", IdSystem::kDuf},
    {"2.16.578.1.12.4.1.4.101", IdSystem::kOrgnr},
    {"urn:oid:2.16.578.1.12.4.1.2.101", IdSystem::kOrgnr},
    {"2.16.578.1.12.4.1.2.101", IdSystem::kOrgnr},
    {"http://data.brreg.no/begrep/28155", IdSystem::kOrgnr},
    {"2.16.578.1.12.4.1.4.102", IdSystem::kResh},
    {"urn:oid:2.16.578.1.12.4.1.4.1026", IdSystem::kResh},
    {"2.16.578.1.12.4.1.4.1026", IdSystem::kResh},
    {"http://hl7.no/fhir/NamingSystem/RESHid", IdSystem::kResh},
    {"2.16.578.1.12.4.1.4.107", IdSystem::kAko},
    {"http://hl7.no/fhir/NamingSystem/AKO", IdSystem::kAko},
    {"2.16.578.1.12.4.1.2", IdSystem::kHerId},
    {"http://hl7.no/fhir/NamingSystem/HERid", IdSystem::kHerId},
};

// Positive integer, no leading zero, at most max_digits.
Problem CheckInteger(std::string_view v, size_t max_digits) {
  if (!AllDigits(v)) return Problem::kFormat;
  if (v.size() > max_digits || v[0] == '0') return Problem::kRange;
  return Problem::kNone;
}

}  // namespace

std::string_view CanonicalUri(IdSystem system) {
  for (const SystemInfo& s : kSystems) {
    if (s.system == system) return s.canonical;
  }
  return {};
}

std::string_view DisplayName(IdSystem system) {
  for (const SystemInfo& s : kSystems) {
    if (s.system == system) return s.name;
  }
  return {};
}

std::optional<IdSystem> IdentifySystem(std::string_view system) {
  for (const SystemInfo& s : kSystems) {
    if (s.canonical == system) return s.system;
  }
  for (const Variant& v : kVariants) {
    if (v.uri == system) return v.system;
  }
  return std::nullopt;
}

std::optional<std::string> CanonicalSystem(std::string_view system) {
  std::optional<IdSystem> s = IdentifySystem(system);
  if (!s) return std::nullopt;
  return std::string(CanonicalUri(*s));
}

std::string_view ProblemText(Problem p) {
  switch (p) {
    case Problem::kNone: return "valid";
    case Problem::kFormat: return "wrong length or a character that is not a digit";
    case Problem::kDate: return "no valid birth date (day, month or century from the individnummer)";
    case Problem::kCheckDigit: return "a check digit does not match (mod 11)";
    case Problem::kPrefix: return "a felles hjelpenummer starts with 8 or 9";
    case Problem::kRange: return "not a positive integer of the allowed length without leading zeros";
  }
  return "invalid";
}

std::optional<PersonNumber> ParsePersonNumber(std::string_view v, PersonKind kind,
                                              Problem* problem) {
  auto fail = [&](Problem p) -> std::optional<PersonNumber> {
    if (problem) *problem = p;
    return std::nullopt;
  };
  if (problem) *problem = Problem::kNone;
  if (v.size() != 11 || !AllDigits(v)) return fail(Problem::kFormat);
  int k1 = K1Remainder(v);
  if (k1 > 3 || K2Remainder(v) != 0) return fail(Problem::kCheckDigit);
  PersonNumber out;
  out.kind = kind;
  out.scheme_2032 = k1 != 0;
  out.individnummer = D(v, 6) * 100 + D(v, 7) * 10 + D(v, 8);
  if (kind == PersonKind::kFhn) {
    if (v[0] != '8' && v[0] != '9') return fail(Problem::kPrefix);
    return out;
  }
  int day = D(v, 0) * 10 + D(v, 1);
  int month = D(v, 2) * 10 + D(v, 3);
  int yy = D(v, 4) * 10 + D(v, 5);
  if (kind == PersonKind::kDnr) day -= 40;
  if (kind == PersonKind::kHnr) month -= 40;
  if (month > 80) {  // Tenor synthetic test number
    month -= 80;
    out.synthetic = true;
  }
  int century = Century(out.individnummer, yy);
  if (century == 0 || month < 1 || month > 12) return fail(Problem::kDate);
  int year = century + yy;
  if (day < 1 || day > DaysInMonth(year, month)) return fail(Problem::kDate);
  out.year = year;
  out.month = month;
  out.day = day;
  if (!out.scheme_2032) out.sex = D(v, 8) % 2 == 0 ? Sex::kFemale : Sex::kMale;
  return out;
}

bool IsValidFnr(std::string_view v) { return ParsePersonNumber(v, PersonKind::kFnr).has_value(); }
bool IsValidDnr(std::string_view v) { return ParsePersonNumber(v, PersonKind::kDnr).has_value(); }
bool IsValidHnr(std::string_view v) { return ParsePersonNumber(v, PersonKind::kHnr).has_value(); }
bool IsValidFhn(std::string_view v) { return ParsePersonNumber(v, PersonKind::kFhn).has_value(); }

std::optional<std::string> WithCheckDigits(std::string_view nine) {
  if (nine.size() != 9 || !AllDigits(nine)) return std::nullopt;
  std::string s(nine);
  int sum = 0;
  for (size_t i = 0; i < 9; ++i) sum += kK1[i] * D(s, i);
  int k1 = (11 - sum % 11) % 11;
  if (k1 == 10) return std::nullopt;
  s.push_back(static_cast<char>('0' + k1));
  sum = 0;
  for (size_t i = 0; i < 10; ++i) sum += kK2[i] * D(s, i);
  int k2 = (11 - sum % 11) % 11;
  if (k2 == 10) return std::nullopt;
  s.push_back(static_cast<char>('0' + k2));
  return s;
}

std::vector<std::pair<int, int>> IndividnummerRanges(int year) {
  std::vector<std::pair<int, int>> out;
  if (year >= 1854 && year <= 1899) out.push_back({500, 749});
  if (year >= 1900 && year <= 1999) out.push_back({0, 499});
  if (year >= 1940 && year <= 1999) out.push_back({900, 999});
  if (year >= 2000 && year <= 2039) out.push_back({500, 999});
  return out;
}

std::optional<std::string> MakePersonNumber(PersonKind kind, int year, int month, int day,
                                            int individnummer, bool synthetic) {
  if (kind == PersonKind::kFhn) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return std::nullopt;
  bool fits = false;
  for (auto [lo, hi] : IndividnummerRanges(year)) fits |= individnummer >= lo && individnummer <= hi;
  if (!fits) return std::nullopt;
  if (kind == PersonKind::kDnr) day += 40;
  if (kind == PersonKind::kHnr) month += 40;
  if (synthetic) month += 80;
  if (month > 99) return std::nullopt;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d%02d%02d%03d", day, month, year % 100, individnummer);
  return WithCheckDigits(std::string_view(buf, 9));
}

bool IsValidOrgnr(std::string_view v) { return Check(IdSystem::kOrgnr, v) == Problem::kNone; }

std::optional<std::string> MakeOrgnr(int first8) {
  if (first8 < 10000000 || first8 > 99999999) return std::nullopt;
  std::string s = std::to_string(first8);
  static constexpr int kW[] = {3, 2, 7, 6, 5, 4, 3, 2};
  int sum = 0;
  for (size_t i = 0; i < 8; ++i) sum += kW[i] * D(s, i);
  int k = (11 - sum % 11) % 11;
  if (k == 10) return std::nullopt;
  s.push_back(static_cast<char>('0' + k));
  return s;
}

Problem Check(IdSystem system, std::string_view value) {
  Problem p = Problem::kNone;
  switch (system) {
    case IdSystem::kFnr: ParsePersonNumber(value, PersonKind::kFnr, &p); return p;
    case IdSystem::kDnr: ParsePersonNumber(value, PersonKind::kDnr, &p); return p;
    case IdSystem::kHnr: ParsePersonNumber(value, PersonKind::kHnr, &p); return p;
    case IdSystem::kFhn: ParsePersonNumber(value, PersonKind::kFhn, &p); return p;
    case IdSystem::kOrgnr: {
      if (value.size() != 9 || !AllDigits(value)) return Problem::kFormat;
      static constexpr int kW[] = {3, 2, 7, 6, 5, 4, 3, 2};
      int sum = 0;
      for (size_t i = 0; i < 8; ++i) sum += kW[i] * D(value, i);
      int k = (11 - sum % 11) % 11;
      return k != 10 && k == D(value, 8) ? Problem::kNone : Problem::kCheckDigit;
    }
    case IdSystem::kDuf:
      return value.size() == 12 && AllDigits(value) ? Problem::kNone : Problem::kFormat;
    case IdSystem::kHpr:
    case IdSystem::kResh:
    case IdSystem::kAko:
    case IdSystem::kHerId:
      return CheckInteger(value, 9);
  }
  return Problem::kFormat;
}

}  // namespace gm::no
