#include "synth/synth.h"

#include "core/time.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <thread>
#include <unordered_set>

#include "no/hpr.h"
#include "no/identifiers.h"

extern "C" {
extern const char gm_synth_kommuner_start[];
extern const char gm_synth_kommuner_end[];
}

namespace gm::synth {

namespace {

using V = json::Value;

// ------------------------------------------------------------ randomness

// splitmix64: small, fast, and the same on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // [0, n)
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64); }
  int Range(int lo, int hi) { return lo + static_cast<int>(Below(static_cast<uint64_t>(hi - lo + 1))); }
  // [0, 1) with 53 bits
  double Unit() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }
  bool Chance(double p) { return Unit() < p; }
  // Approximately normal (Irwin–Hall of 4 uniforms), mean m, standard deviation sd.
  double Normal(double m, double sd) {
    double s = Unit() + Unit() + Unit() + Unit() - 2.0;  // variance 4/12
    return m + sd * s * 1.7320508075688772;
  }
  template <typename T>
  const T& Pick(const std::vector<T>& v) { return v[Below(v.size())]; }
  template <typename T, size_t N>
  const T& Pick(const std::array<T, N>& v) { return v[Below(N)]; }
  // Index by integer weights.
  size_t Weighted(std::initializer_list<int> weights) {
    int total = 0;
    for (int w : weights) total += w;
    int r = static_cast<int>(Below(static_cast<uint64_t>(total)));
    size_t i = 0;
    for (int w : weights) {
      if (r < w) return i;
      r -= w;
      ++i;
    }
    return 0;
  }

 private:
  uint64_t s_;
};

uint64_t Mix(uint64_t a, uint64_t b) {
  Rng r(a ^ (b * 0xd1342543de82ef95ULL));
  r.Next();
  return r.Next();
}

// ------------------------------------------------------------ dates

// Days since 1970-01-01 ↔ civil date (proleptic Gregorian), with int fields.
int64_t DaysFromCivil(int y, int m, int d) {
  return time::DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}
void CivilFromDays(int64_t days, int& y, int& m, int& d) {
  int64_t yy = 0;
  unsigned mm = 0, dd = 0;
  time::CivilFromDays(days, yy, mm, dd);
  y = static_cast<int>(yy);
  m = static_cast<int>(mm);
  d = static_cast<int>(dd);
}
std::string Date(int64_t days) {
  int y, m, d;
  CivilFromDays(days, y, m, d);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
  return buf;
}
// A dateTime on `days` at minute-of-day `minute` (UTC).
std::string DateTime(int64_t days, int minute) {
  return Date(days) + "T" + (minute / 60 < 10 ? "0" : "") + std::to_string(minute / 60) + ":" +
         (minute % 60 < 10 ? "0" : "") + std::to_string(minute % 60) + ":00Z";
}
int YearOf(int64_t days) {
  int y, m, d;
  CivilFromDays(days, y, m, d);
  return y;
}

// Decimal text with `places` decimals (value rounded), e.g. Fixed(4.25, 1) = "4.3".
std::string Fixed(double v, int places) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", places, v);
  return buf;
}

// ------------------------------------------------------------ JSON helpers

// O({{"key", value}, …}) and A({value, …}) take their braced elements as an
// array of temporaries and move them (an initializer_list would deep-copy
// every nested value at every level).
template <size_t N>
V O(json::Member (&&members)[N]) {
  json::Object o;
  o.reserve(N);
  for (json::Member& m : members) o.push_back(std::move(m));
  return V(std::move(o));
}
template <size_t N>
V A(V (&&items)[N]) {
  json::Array a;
  a.reserve(N);
  for (V& v : items) a.push_back(std::move(v));
  return V(std::move(a));
}
V Ref(const std::string& type, const std::string& id) {
  return O({{"reference", V(type + "/" + id)}});
}
V Ref(const std::string& type, const std::string& id, const std::string& display) {
  return O({{"reference", V(type + "/" + id)}, {"display", V(display)}});
}
V Coding(std::string_view system, std::string_view code, std::string_view display) {
  return O({{"system", V(system)}, {"code", V(code)}, {"display", V(display)}});
}
V CC(std::string_view system, std::string_view code, std::string_view display) {
  return O({{"coding", A({Coding(system, code, display)})}, {"text", V(display)}});
}
V Ident(std::string_view system, std::string value) {
  return O({{"system", V(system)}, {"value", V(std::move(value))}});
}
V Profile(std::string_view name) {
  return O({{"profile", A({V(std::string("http://hl7.no/fhir/StructureDefinition/") + std::string(name))})}});
}
V Num(const std::string& text) { return V::Number(text); }

constexpr std::string_view kIcd10 = "urn:oid:2.16.578.1.12.4.1.1.7110";
constexpr std::string_view kIcpc2 = "urn:oid:2.16.578.1.12.4.1.1.7170";
// NLK (kodeverk 7280) as the NILAR IG and the Svarrapport mapping (src/labs) write it.
constexpr std::string_view kNlk = "http://ehelse.no/fhir/CodeSystem/no-kodeverk-7280-nlk";
constexpr std::string_view kKommune = "urn:oid:2.16.578.1.12.4.1.1.3402";
constexpr std::string_view k9060 = no::kAuthorisation9060;
constexpr std::string_view kAtc = "http://www.whocc.no/atc";
constexpr std::string_view kLoinc = "http://loinc.org";
constexpr std::string_view kSnomed = "http://snomed.info/sct";
constexpr std::string_view kUcum = "http://unitsofmeasure.org";
constexpr std::string_view kFest = "http://grunnmur.no/fhir/sid/fest-legemiddelpakning";
constexpr std::string_view kAuthStatusExt = no::kHprStatusExtension;
constexpr std::string_view kPrescribingExt = no::kHprPrescribingRightExtension;
constexpr std::string_view kConfidentiality =
    "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";

// ------------------------------------------------------------ vocabularies

const std::array<const char*, 44> kFemale = {
    "Anne", "Inger", "Kari", "Marit", "Ingrid", "Liv", "Eva", "Berit", "Astrid", "Bjørg",
    "Hilde", "Anna", "Solveig", "Marianne", "Randi", "Ida", "Nina", "Maria", "Elisabeth",
    "Kristin", "Nora", "Emma", "Olivia", "Ella", "Sofie", "Leah", "Frida", "Ingeborg", "Sara",
    "Maja", "Thea", "Emilie", "Hanne", "Silje", "Ragnhild", "Tone", "Aud", "Sigrid", "Åse",
    "Guro", "Tuva", "Amalie", "Aisha", "Julie"};
const std::array<const char*, 44> kMale = {
    "Jan", "Per", "Bjørn", "Ole", "Lars", "Kjell", "Knut", "Arne", "Svein", "Thomas", "Hans",
    "Geir", "Tor", "Morten", "Terje", "Odd", "Erik", "Martin", "Andreas", "John", "Anders",
    "Rune", "Trond", "Jon", "Tore", "Olav", "Jakob", "Emil", "Noah", "Oliver", "William",
    "Lucas", "Filip", "Aksel", "Henrik", "Magnus", "Sander", "Jonas", "Håkon", "Øystein",
    "Ivar", "Sindre", "Mohammed", "Ali"};
const std::array<const char*, 64> kFamily = {
    "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen",
    "Jensen", "Karlsen", "Johnsen", "Pettersen", "Eriksen", "Berg", "Haugen", "Hagen",
    "Johannessen", "Andreassen", "Jacobsen", "Dahl", "Jørgensen", "Henriksen", "Lund",
    "Halvorsen", "Sørensen", "Jakobsen", "Moen", "Gundersen", "Iversen", "Strand", "Solberg",
    "Svendsen", "Eide", "Knutsen", "Martinsen", "Paulsen", "Bakken", "Kristoffersen",
    "Mathisen", "Lie", "Amundsen", "Nguyen", "Rasmussen", "Ali", "Lunde", "Solheim", "Berge",
    "Moe", "Nygård", "Bakke", "Holm", "Lien", "Hauge", "Sæther", "Aas", "Myhre", "Ahmed",
    "Haugland", "Sandvik", "Rønning", "Næss", "Ødegård", "Brekke", "Tveit"};
const std::array<const char*, 24> kStreets = {
    "Storgata", "Kirkegata", "Skolegata", "Parkveien", "Fjordveien", "Bakkeveien", "Granveien",
    "Bjørkeveien", "Furuveien", "Strandveien", "Solbakken", "Sjøgata", "Elvegata",
    "Stasjonsveien", "Myrveien", "Kongens gate", "Lyngveien", "Tunveien", "Åsveien",
    "Heiveien", "Nordre gate", "Rosenlund", "Eikeveien", "Lønneveien"};

// Rough population weights (thousands) of the largest municipalities; the
// rest weigh 5 each.
const std::map<std::string, int>& BigMunicipalities() {
  static const std::map<std::string, int> m = {
      {"0301", 700}, {"4601", 285}, {"5001", 205}, {"1103", 144}, {"3024", 128},
      {"4204", 112}, {"3005", 101}, {"3030", 86},  {"3004", 82},  {"1108", 80},
      {"5401", 77},  {"1507", 66},  {"3020", 59},  {"3803", 57},  {"3003", 56},
      {"3807", 55},  {"1804", 52},  {"3805", 47},  {"3029", 42},  {"3001", 31}};
  return m;
}

struct ChronicDef {
  const char* key;
  const char* icpc;
  const char* icpc_display;
  const char* icd;
  const char* icd_display;
  const char* atc;
  const char* drug;
  const char* dose;
  int fest;  // FEST-like package number
};
// Conditions with their usual first-line drug.
const std::array<ChronicDef, 9> kChronic = {{
    {"hypertension", "K86", "Hypertensjon ukomplisert", "I10", "Essensiell (primær) hypertensjon",
     "C08CA01", "Amlodipin 5 mg tablett", "1 tablett daglig", 412345},
    {"diabetes", "T90", "Diabetes type 2", "E11", "Diabetes mellitus type 2", "A10BA02",
     "Metformin 500 mg tablett", "1 tablett 2 ganger daglig", 412501},
    {"asthma", "R96", "Astma", "J45", "Astma", "R03AC02", "Salbutamol 0,1 mg/dose inhalasjonsaerosol",
     "1–2 inhalasjoner ved behov", 412622},
    {"hypothyroidism", "T86", "Hypotyreose/myksødem", "E03", "Annen hypotyreose", "H03AA01",
     "Levotyroksin 50 mikrog tablett", "1 tablett om morgenen", 412730},
    {"atrialfib", "K78", "Atrieflimmer/flutter", "I48", "Atrieflimmer og atrieflutter",
     "B01AF02", "Apixaban 5 mg tablett", "1 tablett 2 ganger daglig", 412845},
    {"copd", "R95", "Kronisk obstruktiv lungesykdom", "J44", "Annen kronisk obstruktiv lungesykdom",
     "R03BB04", "Tiotropium 18 mikrog inhalasjonspulver", "1 inhalasjon daglig", 412950},
    {"depression", "P76", "Depresjon", "F32", "Depressiv episode", "N06AB06",
     "Sertralin 50 mg tablett", "1 tablett daglig", 413066},
    {"osteoarthritis", "L90", "Kneartrose", "M17", "Kneleddsartrose", "N02BE01",
     "Paracetamol 500 mg tablett", "2 tabletter inntil 3 ganger daglig", 413170},
    {"hyperlipidemia", "T93", "Lipidforstyrrelse", "E78", "Forstyrrelser i lipoproteinmetabolisme",
     "C10AA01", "Simvastatin 20 mg tablett", "1 tablett om kvelden", 413288},
}};

struct AcuteDef {
  const char* icpc;
  const char* icpc_display;
  const char* atc;  // empty: no drug
  const char* drug;
  const char* dose;
  int fest;
};
const std::array<AcuteDef, 5> kAcute = {{
    {"R74", "Akutt øvre luftveisinfeksjon", "", "", "", 0},
    {"H71", "Akutt mellomørebetennelse", "J01CE02", "Fenoksymetylpenicillin 1 mill IE tablett",
     "1 tablett 4 ganger daglig i 7 dager", 414010},
    {"U71", "Cystitt/urinveisinfeksjon", "J01CA08", "Pivmecillinam 200 mg tablett",
     "1 tablett 3 ganger daglig i 3 dager", 414120},
    {"L03", "Korsryggsymptomer/plager", "M01AE01", "Ibuprofen 400 mg tablett",
     "1 tablett ved behov, inntil 3 daglig", 414230},
    {"S74", "Dermatofytose", "", "", "", 0},
}};

// Laboratory analyses. NLK codes (kodeverk 7280) as Norwegian laboratories
// send them in Svarrapport; LOINC only where the mapping is well known.
struct LabDef {
  const char* key;
  const char* loinc;  // empty: no LOINC coding
  const char* loinc_display;
  const char* nlk;
  const char* nlk_display;
  const char* unit;  // as displayed
  const char* ucum;  // UCUM code
  double low_f, high_f, low_m, high_m;  // reference range (< 0: that end open)
  double mean_f, mean_m, sd;            // distribution in healthy adults
  int places;
  const char* specimen;  // key into kSpecimens
};
enum LabId {
  kCrp, kKrea, kNa, kK, kGlu, kHba1c, kLpk, kAlat, kHb, kTrc, kEgfr, kTsh, kChol, kLdl, kHdl,
  kTg, kInr, kLabCount
};
const std::array<LabDef, kLabCount> kLabs = {{
    {"crp", "1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", "NPU19748",
     "P-C-reaktivt protein", "mg/L", "mg/L", -1, 5, -1, 5, 2.5, 2.5, 2.2, 0, "plasma"},
    {"krea", "14682-9", "Creatinine [Moles/volume] in Serum or Plasma", "NPU04998", "P-Kreatinin",
     "µmol/L", "umol/L", 45, 90, 60, 105, 68, 84, 11, 0, "plasma"},
    {"na", "2951-2", "Sodium [Moles/volume] in Serum or Plasma", "NPU03429", "P-Natrium", "mmol/L",
     "mmol/L", 137, 145, 137, 145, 140.5, 140.5, 1.6, 0, "plasma"},
    {"k", "2823-3", "Potassium [Moles/volume] in Serum or Plasma", "NPU03230", "P-Kalium",
     "mmol/L", "mmol/L", 3.5, 4.4, 3.5, 4.4, 3.95, 3.95, 0.2, 1, "plasma"},
    {"glu", "15074-8", "Glucose [Moles/volume] in Blood", "NPU02192", "P-Glukose", "mmol/L",
     "mmol/L", 4.0, 6.0, 4.0, 6.0, 5.1, 5.2, 0.45, 1, "plasma"},
    {"hba1c", "59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol", "NPU27300",
     "B-HbA1c", "mmol/mol", "mmol/mol", 20, 42, 20, 42, 35, 35, 3, 0, "blood"},
    {"lpk", "6690-2", "Leukocytes [#/volume] in Blood by Automated count", "NPU02593",
     "B-Leukocytter", "10^9/L", "10*9/L", 3.5, 10.0, 3.5, 10.0, 6.4, 6.4, 1.3, 1, "blood"},
    {"alat", "1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
     "NPU19651", "P-ALAT", "U/L", "U/L", 10, 45, 10, 70, 22, 30, 7, 0, "plasma"},
    {"hb", "718-7", "Hemoglobin [Mass/volume] in Blood", "NOR05172", "B-Hemoglobin", "g/dL",
     "g/dL", 11.7, 15.3, 13.4, 17.0, 13.5, 15.2, 0.75, 1, "blood"},
    {"trc", "777-3", "Platelets [#/volume] in Blood by Automated count", "NPU03568",
     "B-Trombocytter", "10^9/L", "10*9/L", 165, 387, 145, 348, 260, 235, 42, 0, "blood"},
    {"egfr", "", "", "NOR15245", "Nyre-estimert GFR (overfl.=1,73m2)", "mL/min/1,73m²",
     "mL/min/{1.73_m2}", 60, -1, 60, -1, 95, 95, 12, 0, "plasma"},
    {"tsh", "3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "NPU03577", "P-TSH", "mIU/L",
     "m[IU]/L", 0.5, 4.1, 0.5, 4.1, 1.8, 1.7, 0.6, 2, "serum"},
    {"chol", "14647-2", "Cholesterol [Moles/volume] in Serum or Plasma", "NPU01566", "P-Kolesterol",
     "mmol/L", "mmol/L", 3.3, 6.9, 3.3, 6.9, 5.1, 5.1, 0.7, 1, "plasma"},
    {"ldl", "22748-8", "Cholesterol in LDL [Moles/volume] in Serum or Plasma", "NPU01568",
     "P-LDL-kolesterol", "mmol/L", "mmol/L", 1.4, 4.7, 1.4, 4.7, 3.0, 3.1, 0.6, 1, "plasma"},
    {"hdl", "14646-4", "Cholesterol in HDL [Moles/volume] in Serum or Plasma", "NPU01567",
     "P-HDL-kolesterol", "mmol/L", "mmol/L", 1.0, 2.7, 0.8, 2.1, 1.7, 1.35, 0.25, 1, "plasma"},
    {"tg", "14927-8", "Triglyceride [Moles/volume] in Serum or Plasma", "NPU04094",
     "P-Triglyserid", "mmol/L", "mmol/L", 0.45, 2.6, 0.45, 2.6, 1.2, 1.3, 0.35, 1, "plasma"},
    {"inr", "6301-6", "INR in Platelet poor plasma by Coagulation assay", "NPU01685", "P-INR",
     "INR", "{INR}", 0.8, 1.2, 0.8, 1.2, 1.0, 1.0, 0.07, 1, "plasma"},
}};

struct SpecimenDef {
  const char* key;
  const char* snomed;
  const char* display;
};
const std::array<SpecimenDef, 4> kSpecimens = {{
    {"blood", "119297000", "Blodprøve"},
    {"serum", "119364003", "Serumprøve"},
    {"plasma", "119361006", "Plasmaprøve"},
    {"urine", "122575003", "Urinprøve"},
}};

// Urine culture: isolates and the antibiotics tested (NLK codes as in the
// microbiology Svarrapport samples).
struct OrganismDef {
  const char* snomed;
  const char* display;
  int weight;
};
const std::array<OrganismDef, 3> kUrineOrganisms = {{
    {"112283007", "Escherichia coli", 75},
    {"56415008", "Klebsiella pneumoniae", 15},
    {"78065002", "Enterococcus faecalis", 10},
}};
struct AntibioticDef {
  const char* nlk;
  const char* display;
  int resistant_pct;  // share of isolates reported R
};
const std::array<AntibioticDef, 5> kUrineAntibiotics = {{
    {"NPU06044", "Mecillinam p.o.", 6},
    {"NPU06047", "Trimetoprim", 25},
    {"NPU06048", "Nitrofurantoin", 3},
    {"NPU07436", "Trimetoprim+Sulfametoksazol", 22},
    {"NPU06001", "Amoksicillin", 35},
}};

struct VaccineDef {
  const char* atc;
  const char* display;
  int age_months;   // given at this age (childhood programme)
  int since_year;   // in the programme from this year
  int sex;          // 0 both, 1 girls only before 2018 (HPV)
};
// The Norwegian childhood immunisation programme (barnevaksinasjonsprogrammet).
const std::array<VaccineDef, 14> kChildhood = {{
    {"J07BH01", "Rotavirusvaksine", 2, 2014, 0},
    {"J07CA09", "Difteri, kikhoste, polio, Hib, hepatitt B, stivkrampe (6-valent)", 3, 1995, 0},
    {"J07AL02", "Pneumokokkvaksine, konjugert", 3, 2006, 0},
    {"J07BH01", "Rotavirusvaksine", 3, 2014, 0},
    {"J07CA09", "Difteri, kikhoste, polio, Hib, hepatitt B, stivkrampe (6-valent)", 5, 1995, 0},
    {"J07AL02", "Pneumokokkvaksine, konjugert", 5, 2006, 0},
    {"J07CA09", "Difteri, kikhoste, polio, Hib, hepatitt B, stivkrampe (6-valent)", 12, 1995, 0},
    {"J07AL02", "Pneumokokkvaksine, konjugert", 12, 2006, 0},
    {"J07BD52", "Meslinger, kusma, røde hunder (MMR)", 15, 1995, 0},
    {"J07CA02", "Difteri, stivkrampe, kikhoste, polio (4-valent)", 84, 1995, 0},
    {"J07BD52", "Meslinger, kusma, røde hunder (MMR)", 132, 1995, 0},
    {"J07BM03", "Humant papillomavirusvaksine", 144, 2009, 1},
    {"J07BM03", "Humant papillomavirusvaksine", 150, 2009, 1},
    {"J07CA02", "Difteri, stivkrampe, kikhoste, polio (4-valent)", 186, 1995, 0},
}};

// Reasons for a hospital stay (ICD-10), mostly for the old.
struct AdmissionDef {
  const char* icd;
  const char* display;
  const char* dept;  // "med" or "kir"
  int min_days, max_days;
  double crp_shift;
  int weight;
};
const std::array<AdmissionDef, 7> kAdmissions = {{
    {"J18.9", "Pneumoni, uspesifisert", "med", 3, 9, 90, 25},
    {"I50.9", "Hjertesvikt, uspesifisert", "med", 3, 10, 5, 15},
    {"I21.9", "Akutt hjerteinfarkt, uspesifisert", "med", 3, 7, 10, 10},
    {"I63.9", "Hjerneinfarkt, uspesifisert", "med", 5, 14, 5, 10},
    {"S72.0", "Brudd i lårhals", "kir", 4, 12, 15, 15},
    {"N39.0", "Urinveisinfeksjon med uspesifisert lokalisasjon", "med", 2, 6, 60, 15},
    {"K35.8", "Annen og uspesifisert akutt appendisitt", "kir", 2, 4, 60, 10},
}};

// ------------------------------------------------------------ registry model

struct Org {
  std::string id;
  std::string name;
  std::string kind;  // legekontor, helseforetak, avdeling, sykehjem, apotek, laboratorium, klinikk
  size_t municipality = 0;
  std::string dept;  // treating units: "med", "kir" or "klinikk"
  size_t lab = 0;    // treating units: index into the laboratories they use
  size_t micro_lab = 0;  // and into the microbiology laboratories
};

struct Role {
  std::string id;  // PractitionerRole id
  std::string practitioner_id;
  std::string name;
  std::string org_id;
};

struct Person {
  std::string id;
  std::string given, family;
  bool female = false;
  int64_t birth = 0;  // days
  std::string number;  // FNR or D-nummer
  bool dnr = false;
  size_t municipality = 0;
  std::string street;
  int confidentiality = 0;  // 0 none, 1 fortrolig (R), 2 strengt fortrolig (V)
  int64_t deceased = -1;    // days, -1 alive
  size_t gp = 0;            // index into gp roles
  std::vector<size_t> parents;  // indices within the household
  std::vector<std::string> links;  // RelatedPerson ids (this person as parent)
  int Age(int64_t today) const {
    int by, bm, bd, ty, tm, td;
    CivilFromDays(birth, by, bm, bd);
    CivilFromDays(today, ty, tm, td);
    int age = ty - by;
    if (tm < bm || (tm == bm && td < bd)) --age;
    return age;
  }
};

}  // namespace

// ------------------------------------------------------------ municipalities

const std::vector<Municipality>& Municipalities() {
  static const std::vector<Municipality> list = [] {
    std::vector<Municipality> out;
    std::string_view text(gm_synth_kommuner_start,
                          static_cast<size_t>(gm_synth_kommuner_end - gm_synth_kommuner_start));
    auto doc = json::Parse(text);
    if (!doc.ok()) return out;
    const V* items = doc->find("classificationItems");
    if (items == nullptr || !items->is_array()) return out;
    for (const V& item : items->array()) {
      std::string code(item.get_string("code"));
      std::string name(item.get_string("name"));
      if (code.size() == 4 && !name.empty()) out.push_back({code, name});
    }
    std::sort(out.begin(), out.end(),
              [](const Municipality& a, const Municipality& b) { return a.code < b.code; });
    return out;
  }();
  return list;
}

// ------------------------------------------------------------ generator

struct Generator::Impl {
  Options options;
  int64_t today = 0;
  Rng rng;
  const std::vector<Municipality>& kommuner = Municipalities();
  std::vector<int> kommune_weights;
  int kommune_weight_total = 0;

  std::vector<V> registry;
  std::unordered_set<std::string> numbers;  // person numbers in use
  int orgnr_next = 91000000;
  int herid_next = 8100000;
  int resh_next = 700100;
  int hpr_next = 9100000;
  int ako_next = 1100;
  size_t practitioners = 0;

  std::vector<Org> gp_offices;
  std::vector<Role> gp_roles;
  std::vector<size_t> gp_role_office;
  std::vector<Org> hospitals;     // departments that treat (medisin, kirurgi)
  std::vector<Role> hospital_roles;  // doctors in those departments
  std::vector<size_t> hospital_role_org;
  std::vector<Org> labs;          // laboratory organisations (medical biochemistry)
  std::vector<Org> micro_labs;    // microbiology laboratories
  std::vector<Org> pharmacies;
  std::vector<Org> nursing_homes;
  std::vector<Role> nh_doctors;  // one per nursing home (same index)
  std::vector<Role> nh_nurses;   // one per nursing home (same index)

  size_t patients_done = 0;
  size_t household_index = 0;
  size_t gp_cursor = 0;
  size_t gp_count_in_cursor = 0;
  size_t gp_capacity = 1;

  explicit Impl(const Options& o) : options(o), rng(Mix(o.seed, 0x5eed)) {
    int y = 2026, m = 11, d = 29;
    if (o.today.size() == 10) {
      y = std::atoi(o.today.substr(0, 4).c_str());
      m = std::atoi(o.today.substr(5, 2).c_str());
      d = std::atoi(o.today.substr(8, 2).c_str());
    }
    today = DaysFromCivil(y, m, d);
    for (const Municipality& k : kommuner) {
      auto it = BigMunicipalities().find(k.code);
      int w = it == BigMunicipalities().end() ? 5 : it->second;
      kommune_weights.push_back(w);
      kommune_weight_total += w;
    }
    BuildRegistry();
  }

  size_t PickMunicipality(Rng& r) {
    if (kommuner.empty()) return 0;
    int x = static_cast<int>(r.Below(static_cast<uint64_t>(kommune_weight_total)));
    for (size_t i = 0; i < kommune_weights.size(); ++i) {
      if (x < kommune_weights[i]) return i;
      x -= kommune_weights[i];
    }
    return 0;
  }
  const std::string& KName(size_t i) {
    static const std::string none = "Ukjent";
    return i < kommuner.size() ? kommuner[i].name : none;
  }

  std::string NextOrgnr() {
    for (;;) {
      auto o = no::MakeOrgnr(orgnr_next++);
      if (o) return *o;
    }
  }
  std::string NextHer() { return std::to_string(herid_next++); }
  std::string NextResh() { return std::to_string(resh_next++); }

  // A unique synthetic person number (Tenor convention: month + 80) whose
  // 9th digit matches the sex; nudges the date if a day is exhausted.
  std::string AllocateNumber(Rng& r, int64_t& birth, bool female, bool dnr) {
    for (int attempt = 0;; ++attempt) {
      int y, m, d;
      CivilFromDays(birth, y, m, d);
      auto ranges = no::IndividnummerRanges(y);
      if (ranges.empty()) {
        birth += 366;
        continue;
      }
      auto [lo, hi] = ranges[r.Below(ranges.size())];
      int ind = r.Range(lo, hi);
      if ((ind % 2 == 0) != female) ind ^= 1;
      auto v = no::MakePersonNumber(dnr ? no::PersonKind::kDnr : no::PersonKind::kFnr, y, m, d,
                                    ind, /*synthetic=*/true);
      if (v && numbers.insert(*v).second) return *v;
      if (attempt % 50 == 49) birth += 1;
    }
  }

  V Address(size_t kommune, const std::string& line) {
    return O({{"extension",
               A({O({{"url", V("http://hl7.no/fhir/StructureDefinition/no-basis-propertyinformation")},
                     {"extension", A({O({{"url", V("municipality")},
                                         {"valueCoding", Coding(kKommune, kommuner.empty() ? "0301" : kommuner[kommune].code, KName(kommune))}})})}}),
                  O({{"url", V("http://hl7.no/fhir/StructureDefinition/no-basis-address-official")},
                     {"valueBoolean", V(true)}})})},
              {"use", V("home")},
              {"type", V("physical")},
              {"line", A({V(line)})},
              {"city", V(KName(kommune))},
              {"district", V(KName(kommune))},
              {"country", V("NO")}});
  }

  std::string StreetLine(Rng& r) {
    return std::string(r.Pick(kStreets)) + " " + std::to_string(r.Range(1, 120));
  }

  // ---------------------------------------------------------- registry

  V OrgResource(const Org& org, const std::string& orgnr, const std::string& her,
                const std::string& resh, const std::string& part_of, const std::string& type_text,
                const std::string& ako = {}) {
    V ids = V::MakeArray();
    ids.push_back(Ident(no::systems::kOrgnr, orgnr));
    if (!resh.empty()) ids.push_back(Ident(no::systems::kResh, resh));
    if (!her.empty()) ids.push_back(Ident(no::systems::kHerId, her));
    if (!ako.empty()) ids.push_back(Ident(no::systems::kAko, ako));
    V r = O({{"resourceType", V("Organization")},
             {"id", V(org.id)},
             {"meta", Profile("no-basis-Organization")},
             {"identifier", std::move(ids)},
             {"active", V(true)},
             {"type", A({O({{"text", V(type_text)}})})},
             {"name", V(org.name)},
             {"address", A({Address(org.municipality, "Helseveien " + std::to_string(1 + org.municipality % 40))})}});
    r.find("address")->array()[0].set("use", V("work"));
    if (!part_of.empty()) r.set("partOf", Ref("Organization", part_of));
    if (!her.empty()) r.set("endpoint", A({Ref("Endpoint", "ep-" + org.id)}));
    return r;
  }

  V EndpointFor(const Org& org, const std::string& her, bool amqp) {
    return O({{"resourceType", V("Endpoint")},
              {"id", V("ep-" + org.id)},
              {"identifier", A({Ident(no::systems::kHerId, her)})},
              {"status", V("active")},
              {"connectionType",
               amqp ? Coding("http://hl7.no/fhir/CodeSystem/no-basis-connection-type", "no-amqp", "AMQP")
                    : Coding("http://hl7.no/fhir/CodeSystem/no-basis-connection-type", "no-ebxml-2", "ebXML 2.0")},
              {"name", V("Meldingsmottak " + org.name)},
              {"managingOrganization", Ref("Organization", org.id)},
              {"payloadType", A({O({{"text", V("Alle meldinger (Adresseregisteret)")}})})},
              {"address", V(amqp ? "amqps://mq.grunnmur.test/her/" + her
                                 : "mailto:her" + her + "@edi.grunnmur.test")}});
  }

  // Adds an organisation with identifiers and, when it is a communication
  // party, its Endpoint.
  void AddOrg(Org& org, bool resh, const std::string& part_of, const std::string& type_text,
              bool pharmacy = false) {
    std::string her = NextHer();
    std::string ako = pharmacy ? std::to_string(ako_next++) : std::string();
    registry.push_back(OrgResource(org, NextOrgnr(), her, resh ? NextResh() : std::string(),
                                   part_of, type_text, ako));
    registry.push_back(EndpointFor(org, her, rng.Chance(0.5)));
  }

  // A practitioner with an HPR authorisation and a role at `org`.
  Role AddPractitioner(const Org& org, const char* category, const char* category_display,
                       const std::string& role_code, const std::string& role_display,
                       bool gp = false) {
    Role role;
    size_t n = practitioners++;
    role.practitioner_id = "pr" + std::to_string(n + 1);
    role.id = "prr" + std::to_string(n + 1);
    role.org_id = org.id;
    bool female = rng.Chance(0.55);
    std::string given = female ? rng.Pick(kFemale) : rng.Pick(kMale);
    std::string family = rng.Pick(kFamily);
    role.name = given + " " + family;
    int age = rng.Range(28, 66);
    int64_t birth = today - static_cast<int64_t>(age) * 365 - rng.Range(0, 364);
    std::string fnr = AllocateNumber(rng, birth, female, false);
    int64_t authorised = birth + static_cast<int64_t>(rng.Range(24, 30)) * 365;
    // A few authorisations are suspended or revoked.
    std::string status = "active";
    if (n % 53 == 17) status = "suspended";
    else if (n % 97 == 41) status = "revoked";
    V period = O({{"start", V(Date(authorised))}});
    if (status == "revoked") period.set("end", V(Date(today - rng.Range(30, 900))));
    bool doctor = std::string_view(category) == "LE";
    V ext = A({O({{"url", V(kAuthStatusExt)}, {"valueCode", V(status)}})});
    if (doctor) ext.push_back(O({{"url", V(kPrescribingExt)}, {"valueBoolean", V(status == "active")}}));
    V qual = O({{"extension", std::move(ext)},
                {"identifier", A({Ident("http://grunnmur.no/fhir/sid/hpr-autorisasjon",
                                        std::to_string(hpr_next) + "-1")})},
                {"code", O({{"coding", A({Coding(k9060, category, category_display)})},
                            {"text", V(category_display)}})},
                {"period", std::move(period)},
                {"issuer", O({{"display", V("Helsedirektoratet")}})}});
    V pr = O({{"resourceType", V("Practitioner")},
              {"id", V(role.practitioner_id)},
              {"meta", Profile("no-basis-Practitioner")},
              {"identifier", A({Ident(no::systems::kHpr, std::to_string(hpr_next++)),
                                Ident(no::systems::kFnr, fnr)})},
              {"active", V(status == "active")},
              {"name", A({O({{"family", V(family)}, {"given", A({V(given)})}})})},
              {"gender", V(female ? "female" : "male")},
              {"birthDate", V(Date(birth))},
              {"qualification", A({std::move(qual)})}});
    registry.push_back(std::move(pr));
    V prr = O({{"resourceType", V("PractitionerRole")},
               {"id", V(role.id)},
               {"active", V(status == "active")},
               {"practitioner", Ref("Practitioner", role.practitioner_id, role.name)},
               {"organization", Ref("Organization", org.id, org.name)},
               {"code", A({O({{"coding", A({Coding(kSnomed, role_code, role_display)})},
                               {"text", V(role_display)}})})}});
    if (gp) {
      prr.set("identifier", A({Ident(no::systems::kHerId, NextHer())}));
      prr.set("endpoint", A({Ref("Endpoint", "ep-" + org.id)}));
    }
    registry.push_back(std::move(prr));
    return role;
  }

  void BuildRegistry() {
    size_t n = std::max<size_t>(options.patients, 1);
    size_t gps = std::max<size_t>(1, (n + 500) / 1000);
    gp_capacity = (n + gps - 1) / gps;
    // GP offices of 1–4 GPs.
    size_t made = 0, office_no = 0;
    while (made < gps) {
      size_t size = std::min<size_t>(gps - made, 1 + rng.Below(4));
      Org office;
      office.id = "org-gp" + std::to_string(++office_no);
      office.municipality = PickMunicipality(rng);
      office.name = KName(office.municipality) + " legesenter" +
                    (office_no > 1 ? " " + std::to_string(office_no) : std::string());
      office.kind = "legekontor";
      AddOrg(office, false, "", "Legekontor");
      gp_offices.push_back(office);
      for (size_t i = 0; i < size; ++i) {
        gp_roles.push_back(AddPractitioner(office, "LE", "Lege", "62247001", "Fastlege", true));
        gp_role_office.push_back(gp_offices.size() - 1);
      }
      made += size;
    }
    // Health trusts with departments, locations and services.
    size_t trusts = std::min<size_t>(20, 1 + n / 50000);
    for (size_t t = 0; t < trusts; ++t) {
      Org hf;
      hf.id = "org-hf" + std::to_string(t + 1);
      hf.municipality = PickMunicipality(rng);
      hf.name = "Helseforetaket " + KName(hf.municipality);
      hf.kind = "helseforetak";
      AddOrg(hf, true, "", "Helseforetak");
      struct Dept {
        const char* suffix;
        const char* name;
      } depts[] = {{"med", "Medisinsk klinikk"}, {"kir", "Kirurgisk klinikk"},
                   {"lab", "Avdeling for medisinsk biokjemi"},
                   {"mik", "Avdeling for medisinsk mikrobiologi"}};
      std::string loc_id = "loc-hf" + std::to_string(t + 1);
      registry.push_back(O({{"resourceType", V("Location")},
                            {"id", V(loc_id)},
                            {"status", V("active")},
                            {"name", V("Sykehuset " + KName(hf.municipality))},
                            {"mode", V("instance")},
                            {"address", Address(hf.municipality, "Sykehusveien 1")},
                            {"managingOrganization", Ref("Organization", hf.id)}}));
      size_t first_unit = hospitals.size();
      for (const Dept& d : depts) {
        Org dept;
        dept.id = hf.id + "-" + d.suffix;
        dept.dept = d.suffix;
        dept.municipality = hf.municipality;
        dept.name = std::string(d.name) + ", " + hf.name;
        bool lab = std::string_view(d.suffix) == "lab" || std::string_view(d.suffix) == "mik";
        dept.kind = lab ? "laboratorium" : "avdeling";
        AddOrg(dept, true, hf.id, d.name);
        registry.push_back(O({{"resourceType", V("HealthcareService")},
                              {"id", V("hs-" + dept.id)},
                              {"active", V(true)},
                              {"providedBy", Ref("Organization", dept.id)},
                              {"location", A({Ref("Location", loc_id)})},
                              {"name", V(d.name)},
                              {"endpoint", A({Ref("Endpoint", "ep-" + dept.id)})}}));
        if (dept.kind == "laboratorium") {
          (std::string_view(d.suffix) == "mik" ? micro_labs : labs).push_back(dept);
          for (int i = 0; i < 2; ++i) AddPractitioner(dept, "BI", "Bioingeniør", "159282002", "Bioingeniør");
        } else {
          hospitals.push_back(dept);
          for (int i = 0; i < 3; ++i) {
            hospital_roles.push_back(AddPractitioner(dept, "LE", "Lege", "309343006", "Lege"));
            hospital_role_org.push_back(hospitals.size() - 1);
          }
          for (int i = 0; i < 4; ++i) AddPractitioner(dept, "SP", "Sykepleier", "106292003", "Sykepleier");
        }
      }
      // The trust's units send their samples to the trust's own laboratory.
      for (size_t u = first_unit; u < hospitals.size(); ++u) {
        hospitals[u].lab = labs.size() - 1;
        hospitals[u].micro_lab = micro_labs.size() - 1;
      }
    }
    // Private laboratories, specialist clinics, nursing homes, pharmacies.
    size_t private_labs = labs.size();
    for (size_t i = 0, k = 1 + n / 100000; i < k; ++i) {
      Org lab;
      lab.id = "org-lab" + std::to_string(i + 1);
      lab.municipality = PickMunicipality(rng);
      lab.name = "Medisinsk laboratorium " + KName(lab.municipality);
      lab.kind = "laboratorium";
      AddOrg(lab, false, "", "Laboratorium");
      labs.push_back(lab);
      micro_labs.push_back(lab);  // private laboratories do microbiology too
      AddPractitioner(lab, "BI", "Bioingeniør", "159282002", "Bioingeniør");
    }
    for (size_t i = 0, k = 1 + n / 20000; i < k; ++i) {
      Org c;
      c.id = "org-clinic" + std::to_string(i + 1);
      c.municipality = PickMunicipality(rng);
      c.name = KName(c.municipality) + " spesialistklinikk";
      c.kind = "klinikk";
      c.dept = "klinikk";
      c.lab = private_labs + i % (labs.size() - private_labs);
      c.micro_lab = micro_labs.size() - 1 - i % (labs.size() - private_labs);
      AddOrg(c, true, "", "Spesialistpraksis");
      for (int j = 0; j < 2; ++j) {
        hospital_roles.push_back(AddPractitioner(c, "LE", "Lege", "309343006", "Lege"));
        hospitals.push_back(c);
        hospital_role_org.push_back(hospitals.size() - 1);
      }
    }
    for (size_t i = 0, k = 1 + n / 10000; i < k; ++i) {
      Org s;
      s.id = "org-nh" + std::to_string(i + 1);
      s.municipality = PickMunicipality(rng);
      s.name = KName(s.municipality) + " sykehjem";
      s.kind = "sykehjem";
      AddOrg(s, false, "", "Sykehjem");
      nursing_homes.push_back(s);
      nh_nurses.push_back(AddPractitioner(s, "SP", "Sykepleier", "106292003", "Sykepleier"));
      AddPractitioner(s, "HP", "Hjelpepleier", "158965000", "Helsefagarbeider");
      nh_doctors.push_back(AddPractitioner(s, "LE", "Lege", "309343006", "Sykehjemslege"));
    }
    for (size_t i = 0, k = 1 + n / 8000; i < k; ++i) {
      Org a;
      a.id = "org-pharm" + std::to_string(i + 1);
      a.municipality = PickMunicipality(rng);
      a.name = KName(a.municipality) + " apotek" + (i > 0 ? " " + std::to_string(i + 1) : std::string());
      a.kind = "apotek";
      AddOrg(a, false, "", "Apotek", /*pharmacy=*/true);
      pharmacies.push_back(a);
      AddPractitioner(a, "FA1", "Provisorfarmasøyt", "46255001", "Farmasøyt");
      AddPractitioner(a, "FA2", "Reseptarfarmasøyt", "46255001", "Farmasøyt");
    }
  }

  // ---------------------------------------------------------- citizens

  size_t NextGp() {
    if (gp_count_in_cursor >= gp_capacity && gp_cursor + 1 < gp_roles.size()) {
      ++gp_cursor;
      gp_count_in_cursor = 0;
    }
    return gp_cursor;
  }

  Person NewPerson(Rng& r, int age, bool female, const std::string& family, size_t kommune,
                   const std::string& street, size_t gp) {
    Person p;
    p.female = female;
    p.given = female ? r.Pick(kFemale) : r.Pick(kMale);
    p.family = family;
    p.birth = today - static_cast<int64_t>(age) * 365 - age / 4 - r.Range(1, 364);
    p.dnr = age >= 20 && age <= 60 && r.Chance(0.03);
    p.number = AllocateNumber(r, p.birth, female, p.dnr);
    p.municipality = kommune;
    p.street = street;
    p.gp = gp;
    // Deaths in the last two years (Norway: ~43,000 a year, most of them old).
    double death = age >= 90 ? 0.30 : age >= 85 ? 0.14 : age >= 75 ? 0.06 : age >= 60 ? 0.012 : 0.0;
    if (r.Chance(death)) p.deceased = today - r.Range(1, 700);
    return p;
  }

  std::vector<Person> Household(Rng& r) {
    std::vector<Person> out;
    size_t h = household_index++;
    int head_age;
    switch (r.Weighted({18, 25, 32, 16, 9})) {
      case 0: head_age = r.Range(18, 29); break;
      case 1: head_age = r.Range(30, 44); break;
      case 2: head_age = r.Range(45, 66); break;
      case 3: head_age = r.Range(67, 79); break;
      default: head_age = r.Range(80, 101); break;
    }
    // 0 single, 1 couple, 2 couple with children, 3 single parent
    size_t type;
    if (head_age < 30) type = r.Weighted({55, 25, 15, 5});
    else if (head_age < 45) type = r.Weighted({25, 15, 50, 10});
    else if (head_age < 67) type = r.Weighted({30, 40, 25, 5});
    else type = r.Weighted({45, 55, 0, 0});
    size_t gp = NextGp();
    size_t kommune = gp_offices.empty() || r.Chance(0.15)
                         ? PickMunicipality(r)
                         : gp_offices[gp_role_office[gp]].municipality;
    std::string street = StreetLine(r);
    std::string family = r.Pick(kFamily);
    bool head_female = type == 3 ? r.Chance(0.8) : r.Chance(0.5);
    out.push_back(NewPerson(r, head_age, head_female, family, kommune, street, gp));
    if (type == 1 || type == 2) {
      int age = std::max(18, head_age + r.Range(-5, 5));
      bool female = r.Chance(0.03) ? head_female : !head_female;
      out.push_back(NewPerson(r, age, female, r.Chance(0.6) ? family : std::string(r.Pick(kFamily)),
                              kommune, street, gp));
    }
    if (type == 2 || type == 3) {
      int youngest_parent = head_age;
      for (const Person& p : out) youngest_parent = std::min(youngest_parent, p.Age(today));
      int max_child = std::min(17, youngest_parent - 20);
      if (max_child >= 0) {
        size_t kids = 1 + r.Weighted({35, 45, 20});
        size_t parents = out.size();
        for (size_t k = 0; k < kids; ++k) {
          Person c = NewPerson(r, r.Range(0, max_child), r.Chance(0.49), family, kommune, street, gp);
          for (size_t p = 0; p < parents; ++p) c.parents.push_back(p);
          out.push_back(std::move(c));
        }
      }
    }
    // A few households have protected addresses.
    int conf = 0;
    if (h == 7 || r.Chance(0.0015)) conf = 2;
    else if (h == 13 || r.Chance(0.004)) conf = 1;
    for (Person& p : out) p.confidentiality = conf;
    return out;
  }

  V PatientResource(const Person& p) {
    V r = O({{"resourceType", V("Patient")}, {"id", V(p.id)}, {"meta", Profile("no-basis-Patient")}});
    if (p.confidentiality > 0) {
      r.find("meta")->set(
          "security",
          A({p.confidentiality == 2
                 ? Coding(kConfidentiality, "V", "very restricted")
                 : Coding(kConfidentiality, "R", "restricted")}));
    }
    r.set("identifier", A({Ident(p.dnr ? no::systems::kDnr : no::systems::kFnr, p.number)}));
    r.set("active", V(true));
    r.set("name", A({O({{"use", V("official")}, {"family", V(p.family)}, {"given", A({V(p.given)})}})}));
    r.set("gender", V(p.female ? "female" : "male"));
    r.set("birthDate", V(Date(p.birth)));
    if (p.deceased >= 0) r.set("deceasedDateTime", V(DateTime(p.deceased, 600)));
    r.set("address", A({Address(p.municipality, p.street)}));
    if (!gp_roles.empty()) {
      const Role& gp = gp_roles[p.gp];
      r.set("generalPractitioner", A({Ref("PractitionerRole", gp.id, gp.name)}));
    }
    if (!p.links.empty()) {
      V links = V::MakeArray();
      for (const std::string& id : p.links) {
        links.push_back(O({{"other", Ref("RelatedPerson", id)}, {"type", V("seealso")}}));
      }
      r.set("link", std::move(links));
    }
    return r;
  }

  V RelatedPersonResource(const std::string& id, const Person& child, const Person& parent,
                          const char* parental) {
    const char* relation = parent.female ? "mor" : "far";
    return O({{"resourceType", V("RelatedPerson")},
              {"id", V(id)},
              {"meta", Profile("no-basis-RelatedPerson")},
              {"identifier", A({Ident(parent.dnr ? no::systems::kDnr : no::systems::kFnr, parent.number)})},
              {"active", V(true)},
              {"patient", Ref("Patient", child.id)},
              {"relationship",
               A({CC("http://hl7.no/fhir/CodeSystem/no-basis-family-relation", relation,
                     parent.female ? "Mor" : "Far"),
                  CC("http://hl7.no/fhir/CodeSystem/no-basis-parental-responsibility", parental,
                     std::string_view(parental) == "felles" ? "Felles" : (parent.female ? "Mor" : "Far"))})},
              {"name", A({O({{"family", V(parent.family)}, {"given", A({V(parent.given)})}})})},
              {"gender", V(parent.female ? "female" : "male")},
              {"birthDate", V(Date(parent.birth))}});
  }

  // ---------------------------------------------------------- history

  // Length of the detailed record: encounters, prescriptions, results and
  // vaccinations of the last kRecordYears years (conditions may start earlier).
  static constexpr int kRecordYears = 6;

  struct Ctx {
    const Person* p = nullptr;
    std::vector<V>* out = nullptr;
    Rng* r = nullptr;
    int counter = 0;
    int age = 0;          // at `last`
    int64_t last = 0;     // the last day with events: today, or the day before death
    int64_t window = 0;   // first day of the detailed record
    double height = 0;    // adult height, cm
    double weight = 0;    // adult weight, kg
    int64_t nh_from = -1; // nursing-home resident from this day (-1: never)
    size_t nh = 0;        // which nursing home
    std::string nh_episode;
    std::string Id(const char* kind) { return p->id + "-" + kind + std::to_string(++counter); }
    double AgeAt(int64_t day) const { return static_cast<double>(day - p->birth) / 365.25; }
  };

  // Who acts: a practitioner's role, their organisation and the laboratory they use.
  struct Actor {
    const Role* role;
    const Org* org;
    const Org* lab;
    const Org* micro;  // where microbiology samples go
  };

  Actor GpActor(const Person& p) {
    size_t office = gp_role_office[p.gp];
    return {&gp_roles[p.gp], &gp_offices[office], &labs[office % labs.size()],
            &micro_labs[office % micro_labs.size()]};
  }
  Actor NursingHomeActor(const Ctx& c) {
    return {&nh_doctors[c.nh], &nursing_homes[c.nh], &labs[c.nh % labs.size()],
            &micro_labs[c.nh % micro_labs.size()]};
  }
  // A hospital doctor; `dept` "med", "kir" or "" for any (clinics included).
  Actor SpecialistActor(Rng& r, std::string_view dept) {
    size_t k = r.Below(hospital_roles.size());
    for (int i = 0; i < 32 && !dept.empty() && hospitals[hospital_role_org[k]].dept != dept; ++i) {
      k = r.Below(hospital_roles.size());
    }
    const Org& o = hospitals[hospital_role_org[k]];
    return {&hospital_roles[k], &o, &labs[o.lab], &micro_labs[o.micro_lab]};
  }
  // The actor for a visit on `day`: the nursing-home doctor for residents.
  Actor PrimaryActor(const Ctx& c, int64_t day) {
    return c.nh_from >= 0 && day >= c.nh_from ? NursingHomeActor(c) : GpActor(*c.p);
  }

  enum class EncKind { kGp, kOutpatient, kInpatient, kNursingHome };

  // An Encounter; `end_day`/`end_minute` < 0: the same day, a usual length.
  std::string Encounter(Ctx& c, const Actor& a, EncKind kind, int64_t day, int start,
                        const std::string& reason, int64_t end_day = -1, int end_minute = -1,
                        const std::string& episode = {}, const std::string& diagnosis = {},
                        const char* discharge = nullptr, const char* discharge_display = nullptr) {
    Rng& r = *c.r;
    if (end_day < 0) {
      end_day = day;
      int length = kind == EncKind::kOutpatient ? r.Range(30, 120) : r.Range(15, 40);
      end_minute = std::min(start + length, 23 * 60 + 59);
    }
    const char* type = "Konsultasjon hos fastlege";
    if (kind == EncKind::kOutpatient) type = "Poliklinisk konsultasjon";
    if (kind == EncKind::kInpatient) type = "Innleggelse";
    if (kind == EncKind::kNursingHome) type = "Legetilsyn i sykehjem";
    std::string id = c.Id("enc");
    V e = O({{"resourceType", V("Encounter")},
             {"id", V(id)},
             {"status", V("finished")},
             {"class", kind == EncKind::kInpatient
                           ? Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "IMP", "inpatient encounter")
                           : Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory")},
             {"type", A({O({{"text", V(type)}})})},
             {"subject", Ref("Patient", c.p->id)}});
    if (!episode.empty()) e.set("episodeOfCare", A({Ref("EpisodeOfCare", episode)}));
    e.set("participant", A({O({{"individual", Ref("PractitionerRole", a.role->id, a.role->name)}})}));
    e.set("period", O({{"start", V(DateTime(day, start))}, {"end", V(DateTime(end_day, end_minute))}}));
    e.set("reasonCode", A({O({{"text", V(reason)}})}));
    if (!diagnosis.empty()) {
      e.set("diagnosis", A({O({{"condition", Ref("Condition", diagnosis)}, {"rank", V(1)}})}));
    }
    if (discharge != nullptr) {
      e.set("hospitalization",
            O({{"admitSource", CC("http://terminology.hl7.org/CodeSystem/admit-source", "emd",
                                  "From accident/emergency department")},
               {"dischargeDisposition", CC("http://terminology.hl7.org/CodeSystem/discharge-disposition",
                                           discharge, discharge_display)}}));
    }
    e.set("serviceProvider", Ref("Organization", a.org->id, a.org->name));
    c.out->push_back(std::move(e));
    return id;
  }

  std::string Condition(Ctx& c, const std::string& enc, std::string_view system, const char* code,
                        const char* display, int64_t onset, int64_t abated, std::string id = {}) {
    if (id.empty()) id = c.Id("con");
    V r = O({{"resourceType", V("Condition")},
             {"id", V(id)},
             {"clinicalStatus",
              CC("http://terminology.hl7.org/CodeSystem/condition-clinical",
                 abated >= 0 ? "resolved" : "active", abated >= 0 ? "Resolved" : "Active")},
             {"verificationStatus",
              CC("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed")},
             {"category", A({CC("http://terminology.hl7.org/CodeSystem/condition-category",
                                "encounter-diagnosis", "Encounter Diagnosis")})},
             {"code", CC(system, code, display)},
             {"subject", Ref("Patient", c.p->id)}});
    if (!enc.empty()) r.set("encounter", Ref("Encounter", enc));
    r.set("onsetDateTime", V(Date(onset)));
    r.set("recordedDate", V(Date(onset)));
    if (abated >= 0) r.set("abatementDateTime", V(Date(abated)));
    c.out->push_back(std::move(r));
    return id;
  }

  struct Drug {
    const char* atc;
    const char* name;
    const char* dose;
    int fest;
  };

  // A prescription (e-resept: valid one year) and its dispensings at
  // pharmacies; a chronic one is renewed every year until `c.last`, each
  // renewal a new MedicationRequest chained by priorPrescription.
  void Prescription(Ctx& c, const Actor& first, const std::string& enc, const Drug& d,
                    int64_t start, bool chronic, const std::string& reason) {
    Rng& r = *c.r;
    V med = O({{"coding", A({Coding(kAtc, d.atc, d.name), Coding(kFest, std::to_string(d.fest), d.name)})},
               {"text", V(d.name)}});
    std::string prior;
    int64_t day = start;
    if (chronic && day < c.window) {
      // Renewed yearly since before the record starts: the first renewal in the record.
      int64_t years = (c.window - day + 364) / 365;
      day += years * 365;
    }
    for (bool first_one = true; day <= c.last; first_one = false, day += 365) {
      Actor a = first_one && day == start ? first : PrimaryActor(c, day);
      std::string req_id = c.Id("mr");
      bool current = chronic && c.p->deceased < 0 && day + 365 > today;
      const char* status = current ? "active" : (chronic && c.p->deceased >= 0 && day + 365 > c.last ? "stopped" : "completed");
      V req = O({{"resourceType", V("MedicationRequest")},
                 {"id", V(req_id)},
                 {"status", V(status)},
                 {"intent", V("order")},
                 {"medicationCodeableConcept", med},
                 {"subject", Ref("Patient", c.p->id)}});
      if (first_one && day == start && !enc.empty()) req.set("encounter", Ref("Encounter", enc));
      req.set("authoredOn", V(Date(day)));
      req.set("requester", Ref("PractitionerRole", a.role->id, a.role->name));
      req.set("reasonCode", A({O({{"text", V(reason)}})}));
      req.set("dosageInstruction", A({O({{"text", V(d.dose)}})}));
      req.set("dispenseRequest",
              O({{"numberOfRepeatsAllowed", V(chronic ? 3 : 0)},
                 {"validityPeriod", O({{"start", V(Date(day))}, {"end", V(Date(day + 365))}})}}));
      if (!prior.empty()) req.set("priorPrescription", Ref("MedicationRequest", prior));
      c.out->push_back(std::move(req));
      int dispenses = chronic ? r.Range(3, 4) : 1;
      int64_t when = day + r.Range(0, 3);
      for (int i = 0; i < dispenses && when <= c.last; ++i) {
        const Org& ph = pharmacies[r.Below(pharmacies.size())];
        c.out->push_back(O({{"resourceType", V("MedicationDispense")},
                            {"id", V(c.Id("md"))},
                            {"status", V("completed")},
                            {"medicationCodeableConcept", med},
                            {"subject", Ref("Patient", c.p->id)},
                            {"performer", A({O({{"actor", Ref("Organization", ph.id, ph.name)}})})},
                            {"authorizingPrescription", A({Ref("MedicationRequest", req_id)})},
                            {"quantity", O({{"value", V(chronic ? 100 : 20)},
                                            {"unit", V("stk")},
                                            {"system", V(kUcum)},
                                            {"code", V("{tbl}")}})},
                            {"whenHandedOver", V(DateTime(when, r.Range(9 * 60, 19 * 60)))},
                            {"dosageInstruction", A({O({{"text", V(d.dose)}})})}}));
        when += r.Range(80, 100);
      }
      prior = req_id;
      if (!chronic) break;
    }
  }

  // ---- observations

  V Quantity(const std::string& value_text, const char* unit, const char* ucum) {
    return O({{"value", Num(value_text)}, {"unit", V(unit)}, {"system", V(kUcum)}, {"code", V(ucum)}});
  }

  void Vital(Ctx& c, const Actor& a, const std::string& enc, int64_t day, int minute,
             const char* loinc, const char* display, double value, int places, const char* unit,
             const char* ucum) {
    c.out->push_back(O(
        {{"resourceType", V("Observation")},
         {"id", V(c.Id("obs"))},
         {"status", V("final")},
         {"category", A({CC("http://terminology.hl7.org/CodeSystem/observation-category",
                            "vital-signs", "Vital Signs")})},
         {"code", CC(kLoinc, loinc, display)},
         {"subject", Ref("Patient", c.p->id)},
         {"encounter", Ref("Encounter", enc)},
         {"effectiveDateTime", V(DateTime(day, minute))},
         {"performer", A({Ref("PractitionerRole", a.role->id, a.role->name)})},
         {"valueQuantity", Quantity(Fixed(value, places), unit, ucum)}}));
  }

  void BloodPressure(Ctx& c, const Actor& a, const std::string& enc, int64_t day, int minute,
                     double shift) {
    Rng& r = *c.r;
    double age = c.AgeAt(day);
    double sys = r.Normal(112 + 0.45 * std::max(0.0, age - 20) + shift, 11);
    double dia = r.Normal(72 + 0.12 * std::max(0.0, age - 20) + shift * 0.5, 7);
    auto component = [&](const char* code, const char* display, double v) {
      return O({{"code", CC(kLoinc, code, display)},
                {"valueQuantity", Quantity(Fixed(v, 0), "mmHg", "mm[Hg]")}});
    };
    c.out->push_back(O(
        {{"resourceType", V("Observation")},
         {"id", V(c.Id("obs"))},
         {"status", V("final")},
         {"category", A({CC("http://terminology.hl7.org/CodeSystem/observation-category",
                            "vital-signs", "Vital Signs")})},
         {"code", CC(kLoinc, "85354-9", "Blood pressure panel with all children optional")},
         {"subject", Ref("Patient", c.p->id)},
         {"encounter", Ref("Encounter", enc)},
         {"effectiveDateTime", V(DateTime(day, minute))},
         {"performer", A({Ref("PractitionerRole", a.role->id, a.role->name)})},
         {"component", A({component("8480-6", "Systolic blood pressure", sys),
                          component("8462-4", "Diastolic blood pressure", dia)})}}));
  }

  // Growth of children (rough Norwegian growth-curve medians), or the adult's weight.
  void BodyMeasures(Ctx& c, const Actor& a, const std::string& enc, int64_t day, int minute) {
    Rng& r = *c.r;
    double age = c.AgeAt(day);
    if (age >= 18) {
      Vital(c, a, enc, day, minute, "29463-7", "Body weight", r.Normal(c.weight, 2.0), 1, "kg", "kg");
      return;
    }
    double h;
    if (age < 1) h = 50 + 25 * age;
    else if (age < 2) h = 75 + 12 * (age - 1);
    else if (age < 12) h = 87 + 6.1 * (age - 2);
    else h = 148 + (c.p->female ? 3.6 : 6.2) * (age - 12);
    h *= c.height / (c.p->female ? 167.0 : 180.0);
    double bmi = age < 1 ? 15 + 2 * age : age < 6 ? 16.5 - 0.2 * (age - 1) : 15.5 + 0.45 * (age - 6);
    bmi = r.Normal(bmi, 0.8);
    double w = bmi * (h / 100) * (h / 100);
    std::string hs = Fixed(h, 1), ws = Fixed(w, 1);
    double shown_bmi = std::atof(ws.c_str()) / ((std::atof(hs.c_str()) / 100) * (std::atof(hs.c_str()) / 100));
    Vital(c, a, enc, day, minute, "8302-2", "Body height", std::atof(hs.c_str()), 1, "cm", "cm");
    Vital(c, a, enc, day, minute, "29463-7", "Body weight", std::atof(ws.c_str()), 1, "kg", "kg");
    if (age >= 2) Vital(c, a, enc, day, minute, "39156-5", "Body mass index (BMI) [Ratio]", shown_bmi, 1, "kg/m²", "kg/m2");
  }

  struct Test {
    LabId id;
    double shift;
  };

  // A laboratory requisition: ServiceRequest (by the requester's role) →
  // Specimen(s) → Observations (by the laboratory) grouped by a DiagnosticReport.
  void Panel(Ctx& c, const Actor& a, const std::string& enc, int64_t day, const char* name,
             std::initializer_list<Test> tests) {
    Rng& r = *c.r;
    bool f = c.p->female;
    double age = c.AgeAt(day);
    int collected = r.Range(7 * 60 + 30, 11 * 60);
    int issued = std::min(collected + r.Range(60, 420), 23 * 60 + 59);
    std::string sr_id = c.Id("sr");
    // One specimen per specimen type (tube) in the requisition.
    std::vector<std::pair<std::string_view, std::string>> specimens;
    auto specimen_for = [&](std::string_view type) -> const std::string& {
      for (auto& s : specimens)
        if (s.first == type) return s.second;
      specimens.emplace_back(type, c.Id("spm"));
      return specimens.back().second;
    };
    for (const Test& t : tests) specimen_for(kLabs[t.id].specimen);
    V spec_refs = V::MakeArray();
    for (auto& [type, id] : specimens) spec_refs.push_back(Ref("Specimen", id));
    c.out->push_back(O({{"resourceType", V("ServiceRequest")},
                        {"id", V(sr_id)},
                        {"status", V("completed")},
                        {"intent", V("order")},
                        {"category", A({CC(kSnomed, "108252007", "Laboratory procedure")})},
                        {"code", O({{"text", V(name)}})},
                        {"subject", Ref("Patient", c.p->id)},
                        {"encounter", Ref("Encounter", enc)},
                        {"authoredOn", V(DateTime(day, std::max(0, collected - 10)))},
                        {"requester", Ref("PractitionerRole", a.role->id, a.role->name)},
                        {"performer", A({Ref("Organization", a.lab->id, a.lab->name)})},
                        {"specimen", spec_refs}}));
    for (auto& [type, id] : specimens) {
      const SpecimenDef* sd = &kSpecimens[0];
      for (const SpecimenDef& s : kSpecimens)
        if (type == s.key) sd = &s;
      c.out->push_back(O({{"resourceType", V("Specimen")},
                          {"id", V(id)},
                          {"status", V("available")},
                          {"type", CC(kSnomed, sd->snomed, sd->display)},
                          {"subject", Ref("Patient", c.p->id)},
                          {"receivedTime", V(DateTime(day, std::min(collected + 30, 23 * 60 + 59)))},
                          {"request", A({Ref("ServiceRequest", sr_id)})},
                          {"collection", O({{"collectedDateTime", V(DateTime(day, collected))}})}}));
    }
    V results = V::MakeArray();
    for (const Test& t : tests) {
      const LabDef& lab = kLabs[t.id];
      double low = f ? lab.low_f : lab.low_m, high = f ? lab.high_f : lab.high_m;
      double mean = (f ? lab.mean_f : lab.mean_m) + t.shift;
      if (t.id == kEgfr) mean = 112 - 0.55 * age + t.shift;
      if (t.id == kKrea && age > 40) mean += 0.25 * (age - 40);
      double v = r.Normal(mean, lab.sd);
      if (r.Chance(0.03)) v += lab.sd * (r.Chance(0.5) ? 3 : -3);  // an outlier now and then
      double floor_v = lab.places == 0 ? 1 : lab.places == 1 ? 0.1 : 0.01;
      if (v < floor_v) v = floor_v;
      V q = V::MakeObject();
      std::string text = Fixed(v, lab.places);
      if (t.id == kEgfr && v > 90) {
        text = "90";  // reported as "> 90"
        q = O({{"value", Num(text)}, {"comparator", V(">")}, {"unit", V(lab.unit)},
               {"system", V(kUcum)}, {"code", V(lab.ucum)}});
      } else {
        q = Quantity(text, lab.unit, lab.ucum);
      }
      double shown = std::atof(text.c_str());
      const char* flag = "N";
      const char* flag_display = "Normal";
      if (low >= 0 && shown < low) flag = "L", flag_display = "Low";
      else if (high >= 0 && shown > high) flag = "H", flag_display = "High";
      V range = V::MakeObject();
      if (low >= 0) range.set("low", Quantity(Fixed(low, lab.places), lab.unit, lab.ucum));
      if (high >= 0) range.set("high", Quantity(Fixed(high, lab.places), lab.unit, lab.ucum));
      V code = V::MakeArray();
      code.push_back(Coding(kNlk, lab.nlk, lab.nlk_display));
      if (lab.loinc[0] != '\0') code.push_back(Coding(kLoinc, lab.loinc, lab.loinc_display));
      std::string obs_id = c.Id("obs");
      results.push_back(Ref("Observation", obs_id));
      c.out->push_back(O(
          {{"resourceType", V("Observation")},
           {"id", V(obs_id)},
           {"basedOn", A({Ref("ServiceRequest", sr_id)})},
           {"status", V("final")},
           {"category", A({CC("http://terminology.hl7.org/CodeSystem/observation-category",
                              "laboratory", "Laboratory")})},
           {"code", O({{"coding", std::move(code)}, {"text", V(lab.nlk_display)}})},
           {"subject", Ref("Patient", c.p->id)},
           {"encounter", Ref("Encounter", enc)},
           {"effectiveDateTime", V(DateTime(day, collected))},
           {"issued", V(DateTime(day, issued))},
           {"performer", A({Ref("Organization", a.lab->id, a.lab->name)})},
           {"valueQuantity", std::move(q)},
           {"interpretation", A({CC("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                    flag, flag_display)})},
           {"specimen", Ref("Specimen", specimen_for(lab.specimen))},
           {"referenceRange", A({std::move(range)})}}));
    }
    c.out->push_back(O({{"resourceType", V("DiagnosticReport")},
                        {"id", V(c.Id("dr"))},
                        {"basedOn", A({Ref("ServiceRequest", sr_id)})},
                        {"status", V("final")},
                        {"category", A({CC("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory")})},
                        {"code", O({{"coding", A({Coding(kLoinc, "11502-2", "Laboratory report")})},
                                    {"text", V(name)}})},
                        {"subject", Ref("Patient", c.p->id)},
                        {"encounter", Ref("Encounter", enc)},
                        {"effectiveDateTime", V(DateTime(day, collected))},
                        {"issued", V(DateTime(day, issued))},
                        {"performer", A({Ref("Organization", a.lab->id, a.lab->name)})},
                        {"specimen", std::move(spec_refs)},
                        {"result", std::move(results)}}));
  }

  // Urine culture: the culture result has the isolate as member, and the
  // isolate has its susceptibilities as members.
  void UrineCulture(Ctx& c, const Actor& a, const std::string& enc, int64_t day) {
    Rng& r = *c.r;
    int collected = r.Range(8 * 60, 15 * 60);
    int64_t answered = std::min(c.last, day + r.Range(1, 3));
    int issued = r.Range(9 * 60, 16 * 60);
    std::string sr_id = c.Id("sr"), spm_id = c.Id("spm");
    const char* name = "Urin, dyrkning og resistens";
    c.out->push_back(O({{"resourceType", V("ServiceRequest")},
                        {"id", V(sr_id)},
                        {"status", V("completed")},
                        {"intent", V("order")},
                        {"category", A({CC(kSnomed, "108252007", "Laboratory procedure")})},
                        {"code", O({{"text", V(name)}})},
                        {"subject", Ref("Patient", c.p->id)},
                        {"encounter", Ref("Encounter", enc)},
                        {"authoredOn", V(DateTime(day, std::max(0, collected - 10)))},
                        {"requester", Ref("PractitionerRole", a.role->id, a.role->name)},
                        {"performer", A({Ref("Organization", a.micro->id, a.micro->name)})},
                        {"specimen", A({Ref("Specimen", spm_id)})}}));
    c.out->push_back(O({{"resourceType", V("Specimen")},
                        {"id", V(spm_id)},
                        {"status", V("available")},
                        {"type", CC(kSnomed, "122575003", "Urinprøve")},
                        {"subject", Ref("Patient", c.p->id)},
                        {"receivedTime", V(DateTime(day, std::min(collected + 120, 23 * 60 + 59)))},
                        {"request", A({Ref("ServiceRequest", sr_id)})},
                        {"collection", O({{"collectedDateTime", V(DateTime(day, collected))}})}}));
    auto obs = [&](const std::string& id, V code) {
      return O({{"resourceType", V("Observation")},
                {"id", V(id)},
                {"basedOn", A({Ref("ServiceRequest", sr_id)})},
                {"status", V("final")},
                {"category", A({CC("http://terminology.hl7.org/CodeSystem/observation-category",
                                   "laboratory", "Laboratory")})},
                {"code", std::move(code)},
                {"subject", Ref("Patient", c.p->id)},
                {"encounter", Ref("Encounter", enc)},
                {"effectiveDateTime", V(DateTime(day, collected))},
                {"issued", V(DateTime(answered, issued))},
                {"performer", A({Ref("Organization", a.micro->id, a.micro->name)})}});
    };
    std::string culture_id = c.Id("obs");
    V culture = obs(culture_id, O({{"coding", A({Coding(kNlk, "NPU06061", "Us-Aerob dyrkning"),
                                                 Coding(kLoinc, "630-4", "Bacteria identified in Urine by Culture")})},
                                   {"text", V("Us-Aerob dyrkning")}}));
    std::vector<V> members;
    if (r.Chance(0.3)) {
      culture.set("valueCodeableConcept", CC(kSnomed, "264868006", "Ingen vekst"));
    } else {
      const OrganismDef& org = kUrineOrganisms[r.Weighted({kUrineOrganisms[0].weight, kUrineOrganisms[1].weight,
                                                           kUrineOrganisms[2].weight})];
      culture.set("valueString", V(std::string("Signifikant vekst: ") + org.display + ", >100 000 CFU/mL"));
      std::string isolate_id = c.Id("obs");
      culture.set("hasMember", A({Ref("Observation", isolate_id)}));
      V isolate = obs(isolate_id, O({{"coding", A({Coding(kNlk, "NPU06061", "Us-Aerob dyrkning")})},
                                     {"text", V("Isolat 1, identifikasjon")}}));
      isolate.set("valueCodeableConcept", CC(kSnomed, org.snomed, org.display));
      V sus = V::MakeArray();
      bool enterococcus = std::string_view(org.snomed) == "78065002";
      for (const AntibioticDef& ab : kUrineAntibiotics) {
        std::string_view code = ab.nlk;
        if (enterococcus && code != "NPU06001" && code != "NPU06048") continue;
        std::string id = c.Id("obs");
        sus.push_back(Ref("Observation", id));
        int x = static_cast<int>(r.Below(100));
        const char* s = x < ab.resistant_pct ? "R" : x < ab.resistant_pct + 3 ? "I" : "S";
        const char* sd = s[0] == 'R' ? "Resistant" : s[0] == 'I' ? "Intermediate" : "Susceptible";
        V o = obs(id, O({{"coding", A({Coding(kNlk, ab.nlk, ab.display)})}, {"text", V(ab.display)}}));
        o.set("valueCodeableConcept",
              CC("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", s, sd));
        o.set("interpretation", A({CC("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", s, sd)}));
        o.set("specimen", Ref("Specimen", spm_id));
        members.push_back(std::move(o));
      }
      isolate.set("specimen", Ref("Specimen", spm_id));
      isolate.set("hasMember", std::move(sus));
      members.insert(members.begin(), std::move(isolate));
    }
    culture.set("specimen", Ref("Specimen", spm_id));
    c.out->push_back(std::move(culture));
    for (V& m : members) c.out->push_back(std::move(m));
    c.out->push_back(O({{"resourceType", V("DiagnosticReport")},
                        {"id", V(c.Id("dr"))},
                        {"basedOn", A({Ref("ServiceRequest", sr_id)})},
                        {"status", V("final")},
                        {"category", A({CC("http://terminology.hl7.org/CodeSystem/v2-0074", "MB", "Microbiology")})},
                        {"code", O({{"coding", A({Coding(kLoinc, "630-4", "Bacteria identified in Urine by Culture")})},
                                    {"text", V(name)}})},
                        {"subject", Ref("Patient", c.p->id)},
                        {"encounter", Ref("Encounter", enc)},
                        {"effectiveDateTime", V(DateTime(day, collected))},
                        {"issued", V(DateTime(answered, issued))},
                        {"performer", A({Ref("Organization", a.micro->id, a.micro->name)})},
                        {"specimen", A({Ref("Specimen", spm_id)})},
                        {"result", A({Ref("Observation", culture_id)})}}));
  }

  void Immunization(Ctx& c, const char* atc, const char* display, int64_t day, const Role* by) {
    V imm = O({{"resourceType", V("Immunization")},
               {"id", V(c.Id("imm"))},
               {"status", V("completed")},
               {"vaccineCode", CC(kAtc, atc, display)},
               {"patient", Ref("Patient", c.p->id)},
               {"occurrenceDateTime", V(Date(day))},
               {"primarySource", V(true)}});
    if (by != nullptr) imm.set("performer", A({O({{"actor", Ref("PractitionerRole", by->id, by->name)}})}));
    c.out->push_back(std::move(imm));
  }

  // ---- the parts of a history

  void Allergies(Ctx& c) {
    Rng& r = *c.r;
    struct Al {
      const char* code;
      const char* display;
      const char* category;
      const char* reaction;
    };
    static const Al allergies[] = {{"764146007", "Penicillin", "medication", "Utslett"},
                                  {"256349002", "Peanøtter", "food", "Hevelse i lepper"},
                                  {"256259004", "Pollen", "environment", "Rennende nese"},
                                  {"260152009", "Katteallergen", "environment", "Kløe i øynene"}};
    int n = r.Chance(0.15) ? (r.Chance(0.2) ? 2 : 1) : 0;
    size_t first = r.Below(4);
    for (int i = 0; i < n; ++i) {
      const Al& a = allergies[(first + static_cast<size_t>(i)) % 4];
      int age = std::max(1, c.age);
      c.out->push_back(O(
          {{"resourceType", V("AllergyIntolerance")},
           {"id", V(c.Id("al"))},
           {"clinicalStatus", CC("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active")},
           {"verificationStatus", CC("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed", "Confirmed")},
           {"type", V("allergy")},
           {"category", A({V(a.category)})},
           {"criticality", V(r.Chance(0.2) ? "high" : "low")},
           {"code", CC(kSnomed, a.code, a.display)},
           {"patient", Ref("Patient", c.p->id)},
           {"recordedDate", V(Date(std::min(c.last, c.p->birth + r.Range(365, std::max(366, age * 365)))))},
           {"reaction", A({O({{"manifestation", A({O({{"text", V(a.reaction)}})})}})})}}));
    }
  }

  void Immunizations(Ctx& c, bool risk_group) {
    Rng& r = *c.r;
    const Person& p = *c.p;
    const Role* gp = &gp_roles[p.gp];
    for (const VaccineDef& v : kChildhood) {
      int64_t day = p.birth + v.age_months * 30 + r.Range(0, 20);
      if (day > c.last || r.Chance(0.04)) continue;
      int year = YearOf(day);
      if (year < v.since_year) continue;
      if (v.sex == 1 && !p.female && year < 2018) continue;  // HPV for boys from 2018
      Immunization(c, v.atc, v.display, day, gp);
    }
    // Covid-19: two doses for adults in 2021, then autumn doses for 65+.
    int64_t y2021 = DaysFromCivil(2021, 1, 1);
    double age2021 = c.AgeAt(y2021);
    if (age2021 >= 18 && r.Chance(0.88)) {
      int64_t first = DaysFromCivil(2021, 1, 15) + static_cast<int64_t>(std::max(0.0, 90 - age2021) * 2.5) + r.Range(0, 30);
      int64_t second = first + r.Range(21, 84);
      if (first <= c.last) Immunization(c, "J07BN01", "Covid-19, RNA-basert vaksine", first, nullptr);
      if (second <= c.last) Immunization(c, "J07BN01", "Covid-19, RNA-basert vaksine", second, nullptr);
    }
    for (int year = YearOf(c.window); year <= YearOf(today); ++year) {
      int64_t autumn = DaysFromCivil(year, 10, 10) + r.Range(0, 50);
      if (autumn > c.last || autumn < c.window) continue;
      double age = c.AgeAt(autumn);
      if ((age >= 65 && r.Chance(0.6)) || (age >= 18 && age < 65 && risk_group && r.Chance(0.35))) {
        Immunization(c, "J07BB02", "Influensavaksine, inaktivert", autumn, &gp_roles[p.gp]);
      }
      if (age >= 65 && year >= 2022 && r.Chance(0.5)) {
        Immunization(c, "J07BN01", "Covid-19, RNA-basert vaksine", autumn + r.Range(0, 10), nullptr);
      }
    }
    if (c.age >= 66 && r.Chance(0.3)) {
      int64_t day = std::max(c.window, p.birth + 65 * 365) + r.Range(30, 700);
      if (day <= c.last) Immunization(c, "J07AL01", "Pneumokokkvaksine, polysakkarid", day, gp);
    }
  }

  // A hospital stay: EpisodeOfCare, inpatient Encounter with period and
  // discharge, ICD-10 Condition, admission tests and vital signs.
  void HospitalStay(Ctx& c, const AdmissionDef& d, int64_t start, int64_t end, int end_minute,
                    const char* discharge, const char* discharge_display) {
    Rng& r = *c.r;
    Actor a = SpecialistActor(r, d.dept);
    std::string episode = c.Id("eoc");
    std::string condition = c.Id("con");
    int start_minute = r.Range(0, 23 * 60);
    if (end == start && end_minute <= start_minute) end_minute = std::min(23 * 60 + 59, start_minute + 120);
    V eoc = O({{"resourceType", V("EpisodeOfCare")},
               {"id", V(episode)},
               {"status", V("finished")},
               {"type", A({O({{"text", V("Somatisk sykehusopphold")}})})},
               {"diagnosis", A({O({{"condition", Ref("Condition", condition)}, {"rank", V(1)}})})},
               {"patient", Ref("Patient", c.p->id)},
               {"managingOrganization", Ref("Organization", a.org->id, a.org->name)},
               {"period", O({{"start", V(DateTime(start, start_minute))}, {"end", V(DateTime(end, end_minute))}})},
               {"careManager", Ref("PractitionerRole", a.role->id, a.role->name)}});
    c.out->push_back(std::move(eoc));
    std::string enc = Encounter(c, a, EncKind::kInpatient, start, start_minute, d.display, end,
                                end_minute, episode, condition, discharge, discharge_display);
    Condition(c, enc, kIcd10, d.icd, d.display, start, -1, condition);
    BloodPressure(c, a, enc, start, start_minute, 0);
    Panel(c, a, enc, start, "Innkomstprøver",
          {{kCrp, d.crp_shift}, {kHb, -0.3}, {kLpk, d.crp_shift > 30 ? 4.0 : 1.0}, {kTrc, 0},
           {kNa, -1}, {kK, 0}, {kKrea, 10}, {kEgfr, -8}, {kInr, 0}});
    if (end - start >= 4) {
      Panel(c, a, enc, start + 2, "Kontrollprøver", {{kCrp, d.crp_shift / 3}, {kHb, -0.4}, {kLpk, 0.5}});
    }
  }

  void History(const Person& p, std::vector<V>& out) {
    // FNV-1a of the id (std::hash is implementation-defined).
    uint64_t h = 1469598103934665603ULL;
    for (char ch : p.id) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
    Rng r(Mix(options.seed, h));
    Ctx c;
    c.p = &p;
    c.out = &out;
    c.r = &r;
    c.last = p.deceased >= 0 ? p.deceased - 1 : today;
    c.age = p.Age(c.last);
    c.window = std::max(p.birth, today - kRecordYears * 365);
    c.height = r.Normal(p.female ? 167 : 180, p.female ? 6 : 7);
    c.weight = r.Normal(p.female ? 71 : 85, p.female ? 11 : 12);
    if (c.last < p.birth) return;
    int64_t adult_from = std::max(p.birth + 18 * 365, today - 15 * 365);

    // Nursing-home residents among the very old.
    double nh_p = c.age >= 90 ? 0.35 : c.age >= 85 ? 0.16 : c.age >= 80 ? 0.06 : 0.0;
    if (p.deceased >= 0 && c.age >= 80) nh_p *= 2;
    if (!nursing_homes.empty() && r.Chance(nh_p)) {
      c.nh_from = std::max(p.birth + 78 * 365, c.last - r.Range(60, 5 * 365));
      c.nh = static_cast<size_t>(h % nursing_homes.size());
      c.nh_episode = c.Id("eoc");
      V eoc = O({{"resourceType", V("EpisodeOfCare")},
                 {"id", V(c.nh_episode)},
                 {"status", V(p.deceased >= 0 ? "finished" : "active")},
                 {"type", A({O({{"text", V("Langtidsopphold i sykehjem")}})})},
                 {"patient", Ref("Patient", p.id)},
                 {"managingOrganization", Ref("Organization", nursing_homes[c.nh].id, nursing_homes[c.nh].name)}});
      V period = O({{"start", V(Date(c.nh_from))}});
      if (p.deceased >= 0) period.set("end", V(Date(p.deceased)));
      eoc.set("period", std::move(period));
      eoc.set("careManager", Ref("PractitionerRole", nh_doctors[c.nh].id, nh_doctors[c.nh].name));
      out.push_back(std::move(eoc));
    }

    Allergies(c);

    // Chronic conditions by age and sex, with treatment and follow-up.
    auto prob = [&](const ChronicDef& d) -> double {
      std::string_view k = d.key;
      int age = c.age;
      if (age < 18) return k == "asthma" ? 0.07 : 0.0;
      if (k == "hypertension") return age < 40 ? 0.03 : age < 60 ? 0.15 : age < 75 ? 0.35 : 0.5;
      if (k == "diabetes") return age < 40 ? 0.01 : age < 60 ? 0.05 : age < 75 ? 0.1 : 0.13;
      if (k == "asthma") return 0.06;
      if (k == "hypothyroidism") return p.female && age > 30 ? 0.06 : 0.01;
      if (k == "atrialfib") return age > 75 ? 0.15 : age > 65 ? 0.08 : 0.005;
      if (k == "copd") return age > 65 ? 0.08 : age > 50 ? 0.04 : 0.0;
      if (k == "depression") return 0.06;
      if (k == "osteoarthritis") return age > 65 ? 0.2 : age > 55 ? 0.12 : 0.0;
      if (k == "hyperlipidemia") return age > 65 ? 0.2 : age > 50 ? 0.12 : 0.01;
      return 0.0;
    };
    bool diabetic = false, hypertensive = false, risk = false;
    for (const ChronicDef& d : kChronic) {
      if (!r.Chance(prob(d))) continue;
      int64_t from = c.age < 18 ? p.birth + 365 : adult_from;
      if (from >= c.last) continue;
      int64_t onset = from + static_cast<int64_t>(r.Below(static_cast<uint64_t>(c.last - from)));
      std::string_view key = d.key;
      diabetic |= key == "diabetes";
      hypertensive |= key == "hypertension";
      risk |= key == "diabetes" || key == "copd" || key == "asthma" || key == "atrialfib";
      Actor a = PrimaryActor(c, onset);
      std::string enc;
      if (onset >= c.window) enc = Encounter(c, a, a.role == &gp_roles[p.gp] ? EncKind::kGp : EncKind::kNursingHome,
                                             onset, r.Range(8 * 60, 15 * 60), d.icpc_display);
      Condition(c, enc, kIcpc2, d.icpc, d.icpc_display, onset, -1);
      Prescription(c, a, enc, Drug{d.atc, d.drug, d.dose, d.fest}, onset, true, d.icpc_display);
      // Some are also seen in specialist care, coded in ICD-10.
      if (r.Chance(0.3)) {
        int64_t day = std::max(c.window, onset + r.Range(30, 400));
        if (day <= c.last) {
          Actor s = SpecialistActor(r, "");
          std::string henc = Encounter(c, s, EncKind::kOutpatient, day, r.Range(8 * 60, 15 * 60), d.icd_display);
          Condition(c, henc, kIcd10, d.icd, d.icd_display, day, -1);
          if (key == "diabetes" || key == "atrialfib" || key == "copd") {
            Panel(c, s, henc, day, "Poliklinikkprøver", {{kHb, 0}, {kKrea, 5}, {kEgfr, -5}, {kCrp, 0}});
          }
        }
      }
      // Follow-up (kontroll) at the GP with tests.
      int interval = key == "diabetes" ? 182 : key == "depression" ? 120 : 365;
      for (int64_t day = std::max(c.window, onset) + r.Range(60, interval); day <= c.last;
           day += interval + r.Range(-30, 30)) {
        Actor k = PrimaryActor(c, day);
        int minute = r.Range(8 * 60, 15 * 60);
        std::string enc2 = Encounter(c, k, k.role == &gp_roles[p.gp] ? EncKind::kGp : EncKind::kNursingHome,
                                     day, minute, std::string("Kontroll: ") + d.icpc_display);
        if (key == "hypertension" || key == "diabetes") BloodPressure(c, k, enc2, day, minute + 5, key == "hypertension" ? 12 : 6);
        if (key == "diabetes") {
          Panel(c, k, enc2, day, "Diabeteskontroll", {{kHba1c, 16}, {kGlu, 2.2}, {kKrea, 4}, {kEgfr, -6}});
          if (r.Chance(0.5)) Panel(c, k, enc2, day, "Lipidstatus", {{kChol, 0}, {kLdl, 0}, {kHdl, -0.1}, {kTg, 0.4}});
        } else if (key == "hypertension") {
          Panel(c, k, enc2, day, "Nyrefunksjon og elektrolytter", {{kKrea, 6}, {kEgfr, -5}, {kNa, 0}, {kK, 0}});
        } else if (key == "hypothyroidism") {
          Panel(c, k, enc2, day, "Stoffskifte", {{kTsh, 0.6}});
        } else if (key == "hyperlipidemia") {
          Panel(c, k, enc2, day, "Lipidstatus", {{kChol, 0.6}, {kLdl, 0.5}, {kHdl, 0}, {kTg, 0.3}});
        } else if (key == "atrialfib") {
          Panel(c, k, enc2, day, "Blodstatus og nyrefunksjon", {{kHb, 0}, {kTrc, 0}, {kKrea, 6}, {kEgfr, -6}});
        }
      }
    }

    Immunizations(c, risk);

    // GP consultations: acute problems, vital signs, children's growth.
    double rate = c.age < 6 ? 2.2 : c.age < 18 ? 1.3 : c.age < 45 ? 2.2 : c.age < 67 ? 2.8 : c.age < 80 ? 3.4 : 4.0;
    double years = static_cast<double>(c.last - c.window) / 365.25;
    int visits = static_cast<int>(rate * years * (0.4 + 1.2 * r.Unit()) + 0.5);
    for (int i = 0; i < visits; ++i) {
      int64_t day = c.window + static_cast<int64_t>(r.Below(static_cast<uint64_t>(std::max<int64_t>(1, c.last - c.window + 1))));
      if (c.nh_from >= 0 && day >= c.nh_from) continue;  // residents: the nursing-home doctor
      Actor a = GpActor(p);
      int minute = r.Range(8 * 60, 15 * 60);
      double age_then = c.AgeAt(day);
      bool acute = r.Chance(0.55);
      size_t which = r.Below(kAcute.size());
      if (which == 1 && age_then > 12 && r.Chance(0.8)) which = 0;   // otitis mostly in children
      if (which == 2 && !p.female && r.Chance(0.8)) which = 4;       // cystitis mostly in women
      const AcuteDef& ad = kAcute[which];
      std::string enc = Encounter(c, a, EncKind::kGp, day, minute, acute ? ad.icpc_display : "Konsultasjon");
      if (age_then < 18) {
        if (age_then >= 0.1 && r.Chance(0.5)) BodyMeasures(c, a, enc, day, minute + 3);
      } else {
        if (r.Chance(hypertensive ? 0.7 : 0.3)) BloodPressure(c, a, enc, day, minute + 3, hypertensive ? 10 : 0);
        if (r.Chance(0.15)) BodyMeasures(c, a, enc, day, minute + 4);
      }
      if (!acute) continue;
      Condition(c, enc, kIcpc2, ad.icpc, ad.icpc_display, day, std::min(c.last, day + r.Range(5, 20)));
      if (ad.atc[0] != '\0') Prescription(c, a, enc, Drug{ad.atc, ad.drug, ad.dose, ad.fest}, day, false, ad.icpc_display);
      if (which == 2 && r.Chance(0.6)) {
        UrineCulture(c, a, enc, day);
      } else if (which != 4 && which != 3 && r.Chance(0.3)) {
        Panel(c, a, enc, day, "Infeksjonsprøver", {{kCrp, 25}, {kLpk, 3.0}});
      }
    }

    // A health check for adults from 40 (every few years).
    if (c.age >= 40 && r.Chance(0.6)) {
      int64_t day = c.last - r.Range(10, 3 * 365);
      if (day >= c.window && (c.nh_from < 0 || day < c.nh_from)) {
        Actor a = GpActor(p);
        int minute = r.Range(8 * 60, 15 * 60);
        std::string enc = Encounter(c, a, EncKind::kGp, day, minute, "Helsekontroll");
        BloodPressure(c, a, enc, day, minute + 3, hypertensive ? 10 : 0);
        Panel(c, a, enc, day, "Helsekontroll",
              {{kHb, 0}, {kKrea, 0}, {kEgfr, 0}, {kGlu, diabetic ? 2.0 : 0}, {kAlat, 0}, {kChol, 0},
               {kLdl, 0}, {kHdl, 0}, {kTg, 0}});
      }
    }

    // Nursing home: the doctor's rounds with vital signs and tests.
    if (c.nh_from >= 0) {
      Actor a = NursingHomeActor(c);
      int round = 0;
      for (int64_t day = std::max(c.window, c.nh_from) + r.Range(7, 40); day <= c.last;
           day += r.Range(45, 75), ++round) {
        int minute = r.Range(9 * 60, 14 * 60);
        std::string enc = Encounter(c, a, EncKind::kNursingHome, day, minute, "Legevisitt", -1, -1, c.nh_episode);
        BloodPressure(c, a, enc, day, minute + 2, 0);
        if (round % 2 == 0) Vital(c, a, enc, day, minute + 3, "29463-7", "Body weight", r.Normal(c.weight - 6, 2), 1, "kg", "kg");
        if (round % 3 == 0) {
          Panel(c, a, enc, day, "Sykehjemsprøver", {{kHb, -0.5}, {kCrp, 2}, {kNa, -0.5}, {kK, 0}, {kKrea, 12}, {kEgfr, -10}});
        }
      }
    }

    // Hospital stays, mostly for the old; a few end in death.
    double stay_rate = c.age < 18 ? 0.015 : c.age < 45 ? 0.03 : c.age < 67 ? 0.06 : c.age < 80 ? 0.14 : 0.25;
    int stays = static_cast<int>(stay_rate * years * (0.3 + 1.4 * r.Unit()) + r.Unit());
    for (int i = 0; i < stays; ++i) {
      size_t k = c.age < 40 ? (r.Chance(0.5) ? 6 : r.Chance(0.5) ? 0 : 5)
                            : r.Weighted({kAdmissions[0].weight, kAdmissions[1].weight, kAdmissions[2].weight,
                                          kAdmissions[3].weight, kAdmissions[4].weight, kAdmissions[5].weight,
                                          kAdmissions[6].weight});
      const AdmissionDef& d = kAdmissions[k];
      int64_t start = c.window + static_cast<int64_t>(r.Below(static_cast<uint64_t>(std::max<int64_t>(1, c.last - c.window))));
      int64_t end = std::min(c.last, start + r.Range(d.min_days, d.max_days));
      if (start > c.last) continue;
      bool to_nh = c.nh_from >= 0 && end >= c.nh_from;
      HospitalStay(c, d, start, end, r.Range(10 * 60, 15 * 60), to_nh ? "snf" : "home",
                   to_nh ? "Skilled nursing facility" : "Home");
      if (!to_nh && r.Chance(0.4)) {
        int64_t day = end + r.Range(30, 60);
        if (day <= c.last) {
          Actor s = SpecialistActor(r, d.dept);
          Encounter(c, s, EncKind::kOutpatient, day, r.Range(8 * 60, 15 * 60), std::string("Etterkontroll: ") + d.display);
        }
      }
    }
    // Death: most who die outside a nursing home die in hospital (the stay ends at the time of death).
    if (p.deceased >= 0 && c.nh_from < 0 && r.Chance(0.6)) {
      const AdmissionDef& d = kAdmissions[r.Weighted({40, 25, 10, 15, 10, 0, 0})];
      int64_t start = std::max(p.birth, p.deceased - r.Range(1, 10));
      HospitalStay(c, d, start, p.deceased, 600, "exp", "Expired");
    }
  }

  // Households are drawn in order on the calling thread; the histories
  // (each a pure function of the citizen) and `render` run on `threads`
  // threads for a batch of citizens at a time; `sink` sees them in order.
  Status Run(int threads, const Generator::Render& render, const Generator::Sink& sink) {
    struct Item {
      Person person;
      std::vector<V> group;
      std::vector<std::string> lines;
    };
    std::vector<Item> batch;
    const size_t batch_size = threads > 1 ? 64 : 1;
    auto drain = [&]() -> Status {
      std::atomic<size_t> next{0};
      auto work = [&] {
        for (size_t i = next++; i < batch.size(); i = next++) {
          Item& it = batch[i];
          if (options.histories) History(it.person, it.group);
          if (render) render(it.group, it.lines);
        }
      };
      std::vector<std::thread> helpers;
      for (int t = 1; t < threads && static_cast<size_t>(t) < batch.size(); ++t) helpers.emplace_back(work);
      work();
      for (auto& t : helpers) t.join();
      for (Item& it : batch) GM_RETURN_IF_ERROR(sink(it.group, it.lines));
      batch.clear();
      return Status::Ok();
    };
    while (patients_done < options.patients) {
      std::vector<Person> members = Household(rng);
      size_t take = std::min(members.size(), options.patients - patients_done);
      members.resize(take);
      for (size_t i = 0; i < members.size(); ++i) {
        members[i].id = "p" + std::to_string(patients_done + i + 1);
      }
      // Parental responsibility: a RelatedPerson per (child, parent).
      std::vector<std::vector<V>> related(members.size());
      for (size_t i = 0; i < members.size(); ++i) {
        Person& child = members[i];
        const char* parental = child.parents.size() >= 2 ? "felles" : nullptr;
        for (size_t k = 0; k < child.parents.size(); ++k) {
          Person& parent = members[child.parents[k]];
          std::string id = child.id + "-rp" + std::to_string(k + 1);
          related[i].push_back(RelatedPersonResource(
              id, child, parent, parental ? parental : (parent.female ? "mor" : "far")));
          parent.links.push_back(id);
        }
      }
      for (size_t i = 0; i < members.size(); ++i) {
        ++gp_count_in_cursor;
        Item it;
        it.group.push_back(PatientResource(members[i]));
        for (V& v : related[i]) it.group.push_back(std::move(v));
        it.person = std::move(members[i]);
        batch.push_back(std::move(it));
      }
      patients_done += members.size();
      if (batch.size() >= batch_size) GM_RETURN_IF_ERROR(drain());
    }
    return drain();
  }
};

Generator::Generator(const Options& options) : impl_(std::make_unique<Impl>(options)) {}
Generator::~Generator() = default;

const std::vector<json::Value>& Generator::Registry() const { return impl_->registry; }

Status Generator::ForEachPatient(const std::function<Status(std::vector<json::Value>&)>& sink) {
  return impl_->Run(1, Render(), [&](std::vector<json::Value>& group, std::vector<std::string>&) {
    return sink(group);
  });
}

Status Generator::ForEachPatientParallel(int threads, const Render& render, const Sink& sink) {
  return impl_->Run(std::max(1, threads), render, sink);
}

json::Value TransactionBundle(const std::vector<json::Value>& resources) {
  V entries = V::MakeArray();
  entries.array().reserve(resources.size());
  for (const V& r : resources) {
    std::string url = std::string(r.get_string("resourceType")) + "/" + std::string(r.get_string("id"));
    entries.push_back(O({{"resource", r},
                         {"request", O({{"method", V("PUT")}, {"url", V(url)}})}}));
  }
  return O({{"resourceType", V("Bundle")}, {"type", V("transaction")}, {"entry", std::move(entries)}});
}

}  // namespace gm::synth
