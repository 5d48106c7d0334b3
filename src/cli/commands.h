// Subcommands other than serve, each in its own file.
#pragma once

#include <string>

namespace gm::cli {

struct FhirPathArgs {
  std::string expression;
  std::string input;  // empty: standard input
  bool lines = false;
};
// grunnmur fhirpath EXPR [--input FILE]: prints the result collection as JSON.
int RunFhirPath(const FhirPathArgs& args);

}  // namespace gm::cli
