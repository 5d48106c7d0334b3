// Svarrapport XML parsing, XSD validation and mapping (see harness.h, Svarrapport).
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gm::fuzz::Svarrapport(data, size);
}
