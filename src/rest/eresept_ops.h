// E-resept operations on MedicationRequest (rest/eresept.cc; issue 7).
#pragma once

#include "http/server.h"
#include "rest/handlers.h"

namespace gm::rest {

// $prescribe and $dispensable on the type; $lock, $release, $dispense,
// $recall and $renew on an instance.
bool IsEreseptOperation(const Target& target);
http::Response HandleEreseptOperation(Call& call);

}  // namespace gm::rest
