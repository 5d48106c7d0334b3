// Folkeregister address confidentiality (docs/grunndata.md): a Patient or
// RelatedPerson labelled v3-Confidentiality R (fortrolig, kode 7) or V
// (strengt fortrolig, kode 6) has an address that only the person may see,
// read or find. One definition for the read path (rest/respond) and the
// search index (search/fhirpath_indexer).
#pragma once

#include "core/json.h"

namespace gm::no {

bool HasConfidentialAddress(const json::Value& resource);

// Removes what could show where the person lives: the addresses (also of
// Patient.contact, the household) and the narrative, which may repeat them.
void RemoveAddress(json::Value& resource);

}  // namespace gm::no
