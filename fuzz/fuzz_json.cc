// FHIR JSON parser and validator. Oracle: parse -> write -> parse gives an
// equal document, and writing that again gives the same bytes; the validator
// must not crash on whatever parses.
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gm::fuzz::Json(data, size);
}
