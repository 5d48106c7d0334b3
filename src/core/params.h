// Decoded request parameters in their original order (names may repeat).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace gm {
using Params = std::vector<std::pair<std::string, std::string>>;
}  // namespace gm
