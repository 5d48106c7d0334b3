// Turning FHIR search parameters into a backend-neutral store::Query. Pure
// code (a configured Terminology is consulted for :in/:not-in/:above/:below).
// http://hl7.org/fhir/R4/search.html
//
// What a parameter becomes (see store/store.h for the clause ops):
//   string, token, date, number, quantity, reference, uri  one clause of their
//     op; values separated by ',' are OR-ed, repeated parameters AND-ed.
//   quantity with a UCUM unit (no system or http://unitsofmeasure.org) that
//     ucum.h knows: searched on "<code>:canonical" in canonical units, so
//     5000 mg matches 5 g; other units by their code as written.
//   composite  (code-value-quantity=http://loinc.org|8480-6$gt100) kComposite,
//     each '$' part parsed as its component's type.
//   chains     (subject:Patient.name=x, patient.general-practitioner.name=x)
//     kChain with the rest parsed on the target types, any depth up to
//     store::kMaxQueryNesting; without a [type] the reference's targets that
//     have the next parameter.
//   _has       (_has:Observation:patient:code=x, nested) kHas.
//   _list=id   resources that List/id names in entry.item (a kHas on List.item).
//   _text, _content  kText over the folded words.
//   reference:identifier  a token search on "<code>:identifier";
//   token:of-type (type-system|type-code|value) kTokenOfType on "<code>:of-type".
//   :missing on any parameter.
//   :in, :not-in, :above, :below on tokens: expanded by the Terminology into a
//     token clause; without one, 501 GM-SEARCH-030.
// Result parameters: _count, _sort (any indexed parameter, several keys, '-'
// for descending), _total, _include / _revinclude (with :iterate, '*'),
// _cursor / _before (opaque keyset cursors of the next / previous page); the
// control parameters _format, _pretty, _summary, _elements and _page (a page
// token, see page_token.h, resolved by the REST layer) are passed over.
// Unknown or unsupported parameters are listed in `ignored`, or refused with
// GM-SEARCH-001 when options.strict (Prefer: handling=strict).
//
// Error codes (category kInvalid unless noted):
//   GM-SEARCH-001 unknown/unsupported parameter (strict)  002 bad _count
//   003 bad _total          004 bad _sort              005 bad _type
//   006 bad include modifier 007 bad include syntax    008 include of a non-reference
//   010 modifier not supported for the type            011 empty token
//   012 :missing not true/false                        013 bad date
//   014 bad number          015 bad reference          016 bad composite value
//   017 chain through a parameter that is not a reference, or to no type
//       that has the next parameter                    018 nested too deeply
//   019 bad _has            021 _text/_content without words
//   022 more than kMaxSearchClauses parameters or kMaxSearchValues values
//   030 kNotImplemented: a terminology modifier and no terminology service
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/params.h"
#include "core/status.h"
#include "fhir/model.h"
#include "search/terminology.h"
#include "store/store.h"

namespace gm::search {

struct Include {
  bool reverse = false;  // _revinclude
  bool iterate = false;
  std::string source_type;  // "Observation" or "*"
  std::string param;        // "subject" or "*"
  std::string target_type;  // optional
};

struct ParsedSearch {
  store::Query query;
  std::vector<Include> includes;
  std::string total;                 // none | estimate | accurate
  std::vector<std::string> ignored;  // unknown or unsupported parameters (reported)
};

// Most parameters (clauses) and values (all clauses' OR-values together) one
// search may have; more is GM-SEARCH-022.
inline constexpr size_t kMaxSearchClauses = 100;
inline constexpr size_t kMaxSearchValues = 500;

struct ParseOptions {
  bool strict = false;  // Prefer: handling=strict: unknown parameters are an error
  size_t default_count = 50;
  size_t max_count = 1000;
  const Terminology* terminology = nullptr;  // none yet: terminology modifiers answer 501
};

// Parses search parameters for `type` (empty: system level, restricted by
// _type when given).
Result<ParsedSearch> ParseSearch(const fhir::Model& model, std::string_view type,
                                 const Params& params, const ParseOptions& options = {});

// The search parameters of a type that this server can search on (all whose
// type and expression the indexer handles), in model order.
std::vector<const fhir::SearchParamDef*> SupportedParams(const fhir::Model& model,
                                                         std::string_view type);

}  // namespace gm::search
