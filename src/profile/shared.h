// Declarations shared by the files of gm_profile (not part of its API).
#pragma once

#include <string_view>
#include <vector>

namespace gm::profile {

// A profile constraint whose published expression is wrong, and the
// expression evaluated instead (see registry.cc for the list and reasons).
struct BrokenProfileInvariant {
  std::string_view profile;
  std::string_view key;
  std::string_view expression;
  std::string_view replacement;
  std::string_view reason;
};
const std::vector<BrokenProfileInvariant>& KnownBrokenProfileInvariants();

}  // namespace gm::profile
