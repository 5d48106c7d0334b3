#include "synth/synth.h"

#include "core/time.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <unordered_set>

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

V O(std::initializer_list<json::Member> members) { return V(json::Object(members)); }
V A(std::initializer_list<V> items) { return V(json::Array(items)); }
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
constexpr std::string_view kNlk = "urn:oid:2.16.578.1.12.4.1.1.7280";
constexpr std::string_view kKommune = "urn:oid:2.16.578.1.12.4.1.1.3402";
constexpr std::string_view k9060 = "urn:oid:2.16.578.1.12.4.1.1.9060";
constexpr std::string_view kAtc = "http://www.whocc.no/atc";
constexpr std::string_view kLoinc = "http://loinc.org";
constexpr std::string_view kSnomed = "http://snomed.info/sct";
constexpr std::string_view kUcum = "http://unitsofmeasure.org";
constexpr std::string_view kFest = "http://grunnmur.no/fhir/sid/fest-legemiddelpakning";
constexpr std::string_view kAuthStatusExt =
    "http://grunnmur.no/fhir/StructureDefinition/hpr-authorization-status";
constexpr std::string_view kPrescribingExt =
    "http://grunnmur.no/fhir/StructureDefinition/hpr-prescribing-right";
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

struct LabDef {
  const char* key;
  const char* loinc;
  const char* loinc_display;
  const char* npu;
  const char* nlk_display;
  const char* unit;  // UCUM
  double low_f, high_f, low_m, high_m;  // reference range (low < 0: none)
  double mean, sd;
  int places;
};
const std::array<LabDef, 8> kLabs = {{
    {"crp", "1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", "NPU19748",
     "P-C-reaktivt protein", "mg/L", -1, 5, -1, 5, 3, 4, 0},
    {"krea", "14682-9", "Creatinine [Moles/volume] in Serum or Plasma", "NPU04998", "P-Kreatinin",
     "umol/L", 45, 90, 60, 105, 78, 16, 0},
    {"na", "2951-2", "Sodium [Moles/volume] in Serum or Plasma", "NPU03429", "P-Natrium", "mmol/L",
     137, 145, 137, 145, 140.5, 2.2, 0},
    {"k", "2823-3", "Potassium [Moles/volume] in Serum or Plasma", "NPU03230", "P-Kalium",
     "mmol/L", 3.5, 4.4, 3.5, 4.4, 4.0, 0.3, 1},
    {"glu", "15074-8", "Glucose [Moles/volume] in Blood", "NPU02192", "P-Glukose", "mmol/L", 4.0,
     6.0, 4.0, 6.0, 5.3, 0.7, 1},
    {"hba1c", "59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol", "NPU27300",
     "B-HbA1c", "mmol/mol", 20, 42, 20, 42, 37, 4, 0},
    {"lpk", "6690-2", "Leukocytes [#/volume] in Blood by Automated count", "NPU02593",
     "B-Leukocytter", "10*9/L", 3.5, 10.0, 3.5, 10.0, 6.8, 1.8, 1},
    {"alat", "1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
     "NPU19651", "P-ALAT", "U/L", 10, 45, 10, 70, 26, 9, 0},
}};

struct VaccineDef {
  const char* atc;
  const char* display;
  int age_months;  // given at this age (childhood programme)
};
const std::array<VaccineDef, 9> kChildhood = {{
    {"J07CA09", "Difteri, kikhoste, polio, Hib, hepatitt B, stivkrampe (6-valent)", 3},
    {"J07AL02", "Pneumokokkvaksine, konjugert", 3},
    {"J07BH01", "Rotavirusvaksine", 3},
    {"J07CA09", "Difteri, kikhoste, polio, Hib, hepatitt B, stivkrampe (6-valent)", 5},
    {"J07AL02", "Pneumokokkvaksine, konjugert", 5},
    {"J07CA09", "Difteri, kikhoste, polio, Hib, hepatitt B, stivkrampe (6-valent)", 12},
    {"J07BD52", "Meslinger, kusma, røde hunder (MMR)", 15},
    {"J07CA02", "Difteri, stivkrampe, kikhoste, polio (4-valent)", 84},
    {"J07BD52", "Meslinger, kusma, røde hunder (MMR)", 132},
}};

// ------------------------------------------------------------ registry model

struct Org {
  std::string id;
  std::string name;
  std::string kind;  // legekontor, helseforetak, avdeling, sykehjem, apotek, laboratorium, klinikk
  size_t municipality = 0;
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
  std::vector<Org> labs;          // laboratory organisations
  std::vector<Org> pharmacies;
  std::vector<Org> nursing_homes;

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
                   {"lab", "Avdeling for medisinsk biokjemi"}};
      std::string loc_id = "loc-hf" + std::to_string(t + 1);
      registry.push_back(O({{"resourceType", V("Location")},
                            {"id", V(loc_id)},
                            {"status", V("active")},
                            {"name", V("Sykehuset " + KName(hf.municipality))},
                            {"mode", V("instance")},
                            {"address", Address(hf.municipality, "Sykehusveien 1")},
                            {"managingOrganization", Ref("Organization", hf.id)}}));
      for (const Dept& d : depts) {
        Org dept;
        dept.id = hf.id + "-" + d.suffix;
        dept.municipality = hf.municipality;
        dept.name = std::string(d.name) + ", " + hf.name;
        dept.kind = std::string_view(d.suffix) == "lab" ? "laboratorium" : "avdeling";
        AddOrg(dept, true, hf.id, d.name);
        registry.push_back(O({{"resourceType", V("HealthcareService")},
                              {"id", V("hs-" + dept.id)},
                              {"active", V(true)},
                              {"providedBy", Ref("Organization", dept.id)},
                              {"location", A({Ref("Location", loc_id)})},
                              {"name", V(d.name)},
                              {"endpoint", A({Ref("Endpoint", "ep-" + dept.id)})}}));
        if (dept.kind == "laboratorium") {
          labs.push_back(dept);
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
    }
    // Private laboratories, specialist clinics, nursing homes, pharmacies.
    for (size_t i = 0, k = 1 + n / 100000; i < k; ++i) {
      Org lab;
      lab.id = "org-lab" + std::to_string(i + 1);
      lab.municipality = PickMunicipality(rng);
      lab.name = "Medisinsk laboratorium " + KName(lab.municipality);
      lab.kind = "laboratorium";
      AddOrg(lab, false, "", "Laboratorium");
      labs.push_back(lab);
      AddPractitioner(lab, "BI", "Bioingeniør", "159282002", "Bioingeniør");
    }
    for (size_t i = 0, k = 1 + n / 20000; i < k; ++i) {
      Org c;
      c.id = "org-clinic" + std::to_string(i + 1);
      c.municipality = PickMunicipality(rng);
      c.name = KName(c.municipality) + " spesialistklinikk";
      c.kind = "klinikk";
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
      AddPractitioner(s, "SP", "Sykepleier", "106292003", "Sykepleier");
      AddPractitioner(s, "HP", "Hjelpepleier", "158965000", "Helsefagarbeider");
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
    if (age >= 75 && r.Chance(0.04)) p.deceased = today - r.Range(1, 700);
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

  struct Ctx {
    const Person* p;
    std::vector<V>* out;
    Rng* r;
    int counter = 0;
    std::string Id(const char* kind) { return p->id + "-" + kind + std::to_string(++counter); }
  };

  int64_t Last(const Person& p) { return p.deceased >= 0 ? p.deceased : today; }

  std::string Encounter(Ctx& c, int64_t day, bool hospital, const std::string& reason_display,
                        std::string* role_out, std::string* org_out) {
    Rng& r = *c.r;
    const Role* role;
    std::string org_id, org_name;
    if (hospital && !hospital_roles.empty()) {
      size_t i = r.Below(hospital_roles.size());
      role = &hospital_roles[i];
      org_id = hospitals[hospital_role_org[i]].id;
      org_name = hospitals[hospital_role_org[i]].name;
    } else {
      role = &gp_roles[c.p->gp];
      org_id = gp_offices[gp_role_office[c.p->gp]].id;
      org_name = gp_offices[gp_role_office[c.p->gp]].name;
    }
    int start = r.Range(8 * 60, 15 * 60);
    int length = hospital ? r.Range(30, 240) : r.Range(15, 40);
    std::string id = c.Id("enc");
    c.out->push_back(O(
        {{"resourceType", V("Encounter")},
         {"id", V(id)},
         {"status", V("finished")},
         {"class", Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory")},
         {"type", A({O({{"text", V(hospital ? "Poliklinisk konsultasjon" : "Konsultasjon hos fastlege")}})})},
         {"subject", Ref("Patient", c.p->id)},
         {"participant", A({O({{"individual", Ref("PractitionerRole", role->id, role->name)}})})},
         {"period", O({{"start", V(DateTime(day, start))},
                       {"end", V(DateTime(day, std::min(start + length, 23 * 60 + 59)))}})},
         {"reasonCode", A({O({{"text", V(reason_display)}})})},
         {"serviceProvider", Ref("Organization", org_id, org_name)}}));
    if (role_out) *role_out = role->id;
    if (org_out) *org_out = org_id;
    return id;
  }

  void Condition(Ctx& c, const std::string& enc, std::string_view system, const char* code,
                 const char* display, int64_t onset, int64_t abated) {
    V r = O({{"resourceType", V("Condition")},
             {"id", V(c.Id("con"))},
             {"clinicalStatus",
              CC("http://terminology.hl7.org/CodeSystem/condition-clinical",
                 abated >= 0 ? "resolved" : "active", abated >= 0 ? "Resolved" : "Active")},
             {"verificationStatus",
              CC("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed")},
             {"category", A({CC("http://terminology.hl7.org/CodeSystem/condition-category",
                                "encounter-diagnosis", "Encounter Diagnosis")})},
             {"code", CC(system, code, display)},
             {"subject", Ref("Patient", c.p->id)},
             {"encounter", Ref("Encounter", enc)},
             {"onsetDateTime", V(Date(onset))},
             {"recordedDate", V(Date(onset))}});
    if (abated >= 0) r.set("abatementDateTime", V(Date(abated)));
    c.out->push_back(std::move(r));
  }

  void Medication(Ctx& c, const std::string& enc, const std::string& role, const char* atc,
                  const char* drug, const char* dose, int fest, int64_t day, bool chronic,
                  const std::string& reason_display) {
    Rng& r = *c.r;
    V med = O({{"coding", A({Coding(kAtc, atc, drug),
                             Coding(kFest, std::to_string(fest), drug)})},
               {"text", V(drug)}});
    std::string req_id = c.Id("mr");
    bool active = chronic && c.p->deceased < 0;
    V req = O({{"resourceType", V("MedicationRequest")},
               {"id", V(req_id)},
               {"status", V(active ? "active" : "completed")},
               {"intent", V("order")},
               {"medicationCodeableConcept", med},
               {"subject", Ref("Patient", c.p->id)},
               {"encounter", Ref("Encounter", enc)},
               {"authoredOn", V(Date(day))},
               {"requester", Ref("PractitionerRole", role)},
               {"reasonCode", A({O({{"text", V(reason_display)}})})},
               {"dosageInstruction", A({O({{"text", V(dose)}})})},
               {"dispenseRequest",
                O({{"numberOfRepeatsAllowed", V(chronic ? 3 : 0)},
                   {"validityPeriod", O({{"start", V(Date(day))}, {"end", V(Date(day + 365))}})}})}});
    c.out->push_back(std::move(req));
    int dispenses = chronic ? r.Range(1, 4) : 1;
    int64_t when = day + r.Range(0, 3);
    for (int i = 0; i < dispenses && when <= Last(*c.p); ++i) {
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
                          {"dosageInstruction", A({O({{"text", V(dose)}})})}}));
      when += r.Range(80, 100);
    }
  }

  void Lab(Ctx& c, const LabDef& lab, int64_t day, double shift, const Org& performer) {
    Rng& r = *c.r;
    bool f = c.p->female;
    double low = f ? lab.low_f : lab.low_m, high = f ? lab.high_f : lab.high_m;
    double v = r.Normal(lab.mean + shift, lab.sd);
    double floor_v = lab.places == 0 ? 1 : 0.1;
    if (v < floor_v) v = floor_v;
    std::string text = Fixed(v, lab.places);
    double shown = std::atof(text.c_str());
    const char* flag = "N";
    const char* flag_display = "Normal";
    if (low >= 0 && shown < low) flag = "L", flag_display = "Low";
    else if (shown > high) flag = "H", flag_display = "High";
    V range = V::MakeObject();
    if (low >= 0) {
      range.set("low", O({{"value", Num(Fixed(low, lab.places))}, {"unit", V(lab.unit)},
                          {"system", V(kUcum)}, {"code", V(lab.unit)}}));
    }
    range.set("high", O({{"value", Num(Fixed(high, lab.places))}, {"unit", V(lab.unit)},
                         {"system", V(kUcum)}, {"code", V(lab.unit)}}));
    int minute = r.Range(7 * 60 + 30, 11 * 60);
    c.out->push_back(O(
        {{"resourceType", V("Observation")},
         {"id", V(c.Id("obs"))},
         {"status", V("final")},
         {"category", A({CC("http://terminology.hl7.org/CodeSystem/observation-category",
                            "laboratory", "Laboratory")})},
         {"code", O({{"coding", A({Coding(kNlk, lab.npu, lab.nlk_display),
                                   Coding(kLoinc, lab.loinc, lab.loinc_display)})},
                     {"text", V(lab.nlk_display)}})},
         {"subject", Ref("Patient", c.p->id)},
         {"effectiveDateTime", V(DateTime(day, minute))},
         {"issued", V(DateTime(day, std::min(minute + r.Range(60, 300), 23 * 60 + 59)))},
         {"performer", A({Ref("Organization", performer.id, performer.name)})},
         {"valueQuantity", O({{"value", Num(text)}, {"unit", V(lab.unit)}, {"system", V(kUcum)},
                              {"code", V(lab.unit)}})},
         {"interpretation", A({CC("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                  flag, flag_display)})},
         {"referenceRange", A({std::move(range)})}}));
  }

  void History(const Person& p, std::vector<V>& out) {
    // FNV-1a of the id (std::hash is implementation-defined).
    uint64_t h = 1469598103934665603ULL;
    for (char ch : p.id) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
    Rng r(Mix(options.seed, h));
    Ctx c{&p, &out, &r};
    int age = p.Age(Last(p));
    int64_t last = Last(p);
    int64_t adult_from = std::max(p.birth + 18 * 365, today - 15 * 365);

    // Allergies.
    if (r.Chance(0.12)) {
      struct Al {
        const char* code;
        const char* display;
        const char* category;
        const char* reaction;
      } allergies[] = {{"764146007", "Penicillin", "medication", "Utslett"},
                       {"256349002", "Peanøtter", "food", "Hevelse i lepper"},
                       {"256259004", "Pollen", "environment", "Rennende nese"},
                       {"260152009", "Katteallergen", "environment", "Kløe i øynene"}};
      const Al& a = allergies[r.Below(4)];
      V al = O({{"resourceType", V("AllergyIntolerance")},
                {"id", V(c.Id("al"))},
                {"clinicalStatus", CC("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active")},
                {"verificationStatus", CC("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed", "Confirmed")},
                {"type", V("allergy")},
                {"category", A({V(a.category)})},
                {"criticality", V(r.Chance(0.2) ? "high" : "low")},
                {"code", CC(kSnomed, a.code, a.display)},
                {"patient", Ref("Patient", p.id)},
                {"recordedDate", V(Date(p.birth + r.Range(365, std::max(366, age * 365))))},
                {"reaction", A({O({{"manifestation", A({O({{"text", V(a.reaction)}})})}})})}});
      out.push_back(std::move(al));
    }

    // Childhood immunisations and influenza for the elderly.
    for (const VaccineDef& v : kChildhood) {
      int64_t day = p.birth + v.age_months * 30 + r.Range(0, 20);
      if (day > last || r.Chance(0.04)) continue;
      if (YearOf(day) < 1995 && v.age_months < 100) continue;  // record starts 1995
      const Role& gp = gp_roles[p.gp];
      out.push_back(O({{"resourceType", V("Immunization")},
                       {"id", V(c.Id("imm"))},
                       {"status", V("completed")},
                       {"vaccineCode", CC(kAtc, v.atc, v.display)},
                       {"patient", Ref("Patient", p.id)},
                       {"occurrenceDateTime", V(Date(day))},
                       {"primarySource", V(true)},
                       {"performer", A({O({{"actor", Ref("PractitionerRole", gp.id, gp.name)}})})}}));
    }
    if (age >= 65) {
      for (int y = 1; y <= 2; ++y) {
        int64_t day = today - y * 365 + r.Range(-20, 20);
        if (day > last || day < p.birth || r.Chance(0.3)) continue;
        out.push_back(O({{"resourceType", V("Immunization")},
                         {"id", V(c.Id("imm"))},
                         {"status", V("completed")},
                         {"vaccineCode", CC(kAtc, "J07BB02", "Influensavaksine, inaktivert")},
                         {"patient", Ref("Patient", p.id)},
                         {"occurrenceDateTime", V(Date(day))},
                         {"primarySource", V(true)}}));
      }
    }

    // Chronic conditions by age and sex.
    auto prob = [&](const ChronicDef& d) -> double {
      std::string_view k = d.key;
      if (age < 18) return k == "asthma" ? 0.07 : 0.0;
      if (k == "hypertension") return age < 40 ? 0.03 : age < 60 ? 0.15 : 0.35;
      if (k == "diabetes") return age < 40 ? 0.01 : age < 60 ? 0.05 : 0.1;
      if (k == "asthma") return 0.06;
      if (k == "hypothyroidism") return p.female && age > 30 ? 0.06 : 0.01;
      if (k == "atrialfib") return age > 65 ? 0.1 : 0.005;
      if (k == "copd") return age > 50 ? 0.05 : 0.0;
      if (k == "depression") return 0.06;
      if (k == "osteoarthritis") return age > 55 ? 0.15 : 0.0;
      if (k == "hyperlipidemia") return age > 50 ? 0.12 : 0.01;
      return 0.0;
    };
    bool diabetic = false;
    for (const ChronicDef& d : kChronic) {
      if (!r.Chance(prob(d))) continue;
      int64_t from = age < 18 ? p.birth + 365 : adult_from;
      if (from >= last) continue;
      int64_t onset = from + static_cast<int64_t>(r.Below(static_cast<uint64_t>(last - from)));
      if (std::string_view(d.key) == "diabetes") diabetic = true;
      std::string role, org;
      std::string enc = Encounter(c, onset, false, d.icpc_display, &role, &org);
      Condition(c, enc, kIcpc2, d.icpc, d.icpc_display, onset, -1);
      Medication(c, enc, role, d.atc, d.drug, d.dose, d.fest, onset, true, d.icpc_display);
      // Some are also seen in specialist care, coded in ICD-10.
      if (r.Chance(0.3) && onset + 30 < last) {
        int64_t day = onset + r.Range(30, static_cast<int>(std::max<int64_t>(31, last - onset)));
        if (day > last) day = last;
        std::string henc = Encounter(c, day, true, d.icd_display, nullptr, nullptr);
        Condition(c, henc, kIcd10, d.icd, d.icd_display, day, -1);
      }
      // Follow-up visits with lab work.
      int followups = r.Range(0, 2);
      for (int i = 0; i < followups; ++i) {
        int64_t day = onset + r.Range(60, 720);
        if (day > last) break;
        Encounter(c, day, false, std::string("Kontroll: ") + d.icpc_display, nullptr, nullptr);
        const Org& lab = labs[r.Below(labs.size())];
        if (std::string_view(d.key) == "diabetes") {
          Lab(c, kLabs[5], day, 14, lab);
          Lab(c, kLabs[4], day, 2.0, lab);
        } else {
          Lab(c, kLabs[1], day, std::string_view(d.key) == "hypertension" ? 8 : 0, lab);
          Lab(c, kLabs[2], day, 0, lab);
          Lab(c, kLabs[3], day, 0, lab);
        }
      }
    }

    // Acute episodes: more in small children and the old.
    int episodes = static_cast<int>(r.Below(age < 6 ? 4 : age > 70 ? 4 : 3));
    for (int i = 0; i < episodes; ++i) {
      size_t which = r.Below(kAcute.size());
      if (which == 1 && age > 12 && r.Chance(0.8)) which = 0;   // otitis mostly in children
      if (which == 2 && !p.female && r.Chance(0.8)) which = 4;  // cystitis mostly in women
      const AcuteDef& a = kAcute[which];
      int64_t from = std::max(p.birth + 30, today - 5 * 365);
      if (from >= last) continue;
      int64_t day = from + static_cast<int64_t>(r.Below(static_cast<uint64_t>(last - from)));
      std::string role, org;
      std::string enc = Encounter(c, day, false, a.icpc_display, &role, &org);
      Condition(c, enc, kIcpc2, a.icpc, a.icpc_display, day, std::min(last, day + r.Range(5, 20)));
      if (a.atc[0] != '\0') {
        Medication(c, enc, role, a.atc, a.drug, a.dose, a.fest, day, false, a.icpc_display);
      }
      if (which != 4 && r.Chance(0.5)) {
        const Org& lab = labs[r.Below(labs.size())];
        Lab(c, kLabs[0], day, 25, lab);
        Lab(c, kLabs[6], day, 3.0, lab);
      }
    }

    // A yearly check for adults (blood panel).
    if (age >= 40 && r.Chance(0.6)) {
      int64_t day = last - r.Range(10, 360);
      if (day > p.birth) {
        Encounter(c, day, false, "Helsekontroll", nullptr, nullptr);
        const Org& lab = labs[r.Below(labs.size())];
        Lab(c, kLabs[1], day, 0, lab);
        Lab(c, kLabs[4], day, diabetic ? 2.0 : 0, lab);
        Lab(c, kLabs[7], day, 0, lab);
        Lab(c, kLabs[0], day, 0, lab);
      }
    }
  }

  Status Run(const std::function<Status(std::vector<V>&)>& sink) {
    std::vector<V> group;
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
        group.clear();
        group.push_back(PatientResource(members[i]));
        for (V& v : related[i]) group.push_back(std::move(v));
        History(members[i], group);
        GM_RETURN_IF_ERROR(sink(group));
      }
      patients_done += members.size();
    }
    return Status::Ok();
  }
};

Generator::Generator(const Options& options) : impl_(std::make_unique<Impl>(options)) {}
Generator::~Generator() = default;

const std::vector<json::Value>& Generator::Registry() const { return impl_->registry; }

Status Generator::ForEachPatient(const std::function<Status(std::vector<json::Value>&)>& sink) {
  return impl_->Run(sink);
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
