// Folding text for string search: lower case, accents removed, and the
// Scandinavian letters spelled out the way Norwegians type them without a
// Norwegian keyboard (æ → ae, ø → o, å → a). "Sørgård", "SØRGÅRD" and
// "sorgard" all fold to "sorgard"; "Ærlend" to "aerlend".
// Thread-safety: safe to call concurrently (per-thread ICU transliterators).
#pragma once

#include <string>
#include <string_view>

namespace gm::search {

std::string Fold(std::string_view utf8);

}  // namespace gm::search
