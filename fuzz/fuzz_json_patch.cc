// JSON Patch (RFC 6902) application to a fixed resource. Oracle: a patch that
// applies leaves a document that writes and parses back equal; one that fails
// leaves the document unchanged.
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gm::fuzz::JsonPatch(data, size);
}
