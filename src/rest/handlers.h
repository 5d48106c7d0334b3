// One handler per FHIR REST interaction (http://hl7.org/fhir/R4/http.html),
// each in its own file named after it. A handler gets the parsed Call and
// returns the HTTP response; errors go through rest/outcome.h.
#pragma once

#include <string>
#include <vector>

#include "http/server.h"
#include "rest/context.h"
#include "trust/tokens.h"
#include "rest/request.h"

namespace gm::rest {

struct Call {
  const Context& ctx;
  http::Request& req;
  Target target;
  Params params;  // query string (and form body for POST _search)
  OutputFormat format;
  Prefer prefer;
  // Who is asking (null: a trusted internal request, or authentication off).
  const trust::Principal* principal = nullptr;
  // Non-empty: a citizen's request, limited to these Patients' compartments
  // (searches get a compartment clause; includes, chains and _has are refused).
  std::vector<std::string> patient_scope = {};
};

http::Response HandleRead(Call& call);          // read.cc
http::Response HandleVRead(Call& call);         // vread.cc
http::Response HandleCreate(Call& call);        // create.cc
http::Response HandleUpdate(Call& call);        // update.cc (incl. conditional update)
http::Response HandlePatch(Call& call);         // patch.cc
http::Response HandleDelete(Call& call);        // delete.cc (incl. conditional delete)
http::Response HandleHistory(Call& call);       // history.cc (instance, type, system)
http::Response HandleBundle(Call& call);        // transaction.cc (batch and transaction)
http::Response HandleCapabilities(Call& call);  // capabilities.cc
http::Response HandleValidate(Call& call);      // validate.cc ($validate)
http::Response HandleSearch(Call& call);        // search.cc (type, system, compartment)
http::Response HandleEverything(Call& call);    // everything.cc (Patient/[id]/$everything)

}  // namespace gm::rest
