// FHIRPath Patch (a Parameters resource) applied to a fixed Patient. Oracle: a
// failed patch leaves the resource unchanged (the documented atomicity).
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gm::fuzz::FhirPathPatch(data, size);
}
