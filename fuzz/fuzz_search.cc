// Search URL / form parsing: the raw query string (rest::ParseForm) and the
// search parameters (search::ParseSearch) for a resource type chosen by the
// first byte (or system level).
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gm::fuzz::Search(data, size);
}
