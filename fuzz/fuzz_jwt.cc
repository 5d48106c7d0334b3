// JWT / JWS / DPoP parsing and verification (see harness.h, Jwt).
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gm::fuzz::Jwt(data, size);
}
