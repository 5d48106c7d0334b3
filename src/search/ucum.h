// UCUM canonicalisation for quantity search, so that "5000 mg" and "5 g" are
// compared as the same amount (http://hl7.org/fhir/R4/search.html#quantity).
//
// A unit code is parsed with the UCUM grammar (products '.', quotients '/',
// integer exponents "m2" "s-1", parentheses, metric prefixes "mg" "dL" "umol",
// powers of ten "10*9", annotations "{cells}") over a table of the atoms that
// clinical data uses: mass (g, [lb_av], [oz_av]), length (m, [in_i], [ft_i]),
// volume (L, l), time (s, min, h, d, wk, mo, a), substance amount (mol),
// equivalents (eq), international units ([IU], [iU]), enzyme activity (U,
// kat), frequency (Hz), pressure (Pa, bar, m[Hg]), energy (J, cal), force
// (N), power (W), and the dimensionless %, [ppm], [ppb]. Units outside that
// table (and the affine temperatures Cel, [degF]) are not canonicalised; they
// are searched by their code as written.
//
// The canonical unit is a product of base dimensions in a fixed order (g, m,
// s, mol, eq, [IU]) with exponents: mg/dL → "g.m-3" (factor 10), mmol/L →
// "m-3.mol" (factor 1), h → "s" (factor 3600), % → "1" (factor 0.01).
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gm::search {

inline constexpr const char* kUcumSystem = "http://unitsofmeasure.org";

struct UcumCanonical {
  std::string unit;     // canonical unit text
  double factor = 1.0;  // a value v in the original unit is v * factor in `unit`
};

// The canonical form of a UCUM unit code, or nullopt if the code is not valid
// UCUM or uses atoms outside the table above.
std::optional<UcumCanonical> CanonicalUnit(std::string_view code);

}  // namespace gm::search
