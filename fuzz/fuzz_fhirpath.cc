// FHIRPath parser, and evaluation of what compiles on a fixed Patient with the
// engine's work limits (so runaway expressions end in GM-FP-030, not a hang).
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gm::fuzz::FhirPath(data, size);
}
