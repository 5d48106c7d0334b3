// Opaque keyset cursors shared by the storage backends.
//
// A keyset cursor records the sort-key values of the last row of a page (plus
// the row's surrogate key as the final tie-breaker); the next page starts
// strictly after that tuple, so rows written meanwhile neither shift nor
// duplicate the rows already paged through. The encoding is URL-safe base64 of
// a small tagged binary form; the tag names the producer ("search", "history",
// ...) so a cursor handed to the wrong operation is rejected instead of
// silently misread. Cursors are not secret and not signed: a forged cursor can
// only move the start of a page, never widen what the query selects.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"

namespace gm::store {

// One sort-key value: SQL NULL, an integer, a real, or text.
using KeyValue = std::variant<std::monostate, int64_t, double, std::string>;

// Encodes `values` under `tag` (at most 255 bytes).
std::string EncodeCursor(std::string_view tag, const std::vector<KeyValue>& values);

// Decodes a cursor made by EncodeCursor with the same tag.
// Errors: kInvalid (GM-STORE-030) for anything malformed, for another tag, or
// when the number of values differs from `expected_count`.
Result<std::vector<KeyValue>> DecodeCursor(std::string_view tag, std::string_view cursor,
                                           size_t expected_count);

// The error for a cursor that cannot be used: kInvalid, GM-STORE-030.
Status InvalidCursorError();

}  // namespace gm::store
