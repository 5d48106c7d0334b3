// grunnmur fhirpath EXPRESSION [--input FILE] [--lines]
// Evaluates a FHIRPath expression over a JSON resource and prints the result
// collection as JSON (an array, or one item per line).
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/commands.h"
#include "core/json.h"
#include "fhirpath/fhirpath.h"

namespace gm::cli {

int RunFhirPath(const FhirPathArgs& args) {
  std::string text;
  if (args.input.empty() || args.input == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(args.input, std::ios::binary);
    if (!in) {
      std::cerr << "grunnmur fhirpath: cannot read " << args.input << "\n";
      return 2;
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto input = json::Parse(text, json::ParseOptions{.max_depth = 1024});
  if (!input.ok()) {
    std::cerr << "grunnmur fhirpath: input: " << input.status().message() << "\n";
    return 2;
  }
  auto expr = fhirpath::Expression::Compile(args.expression);
  if (!expr.ok()) {
    std::cerr << "grunnmur fhirpath: " << expr.status().code() << ": "
              << expr.status().message() << "\n";
    return 2;
  }
  auto result = expr->Evaluate(*input);
  if (!result.ok()) {
    std::cerr << "grunnmur fhirpath: " << result.status().code() << ": "
              << result.status().message() << "\n";
    return 1;
  }
  json::Value out = fhirpath::ToJson(*result);
  if (args.lines) {
    for (const auto& item : out.array()) std::cout << json::Write(item) << "\n";
  } else {
    std::cout << json::Write(out) << "\n";
  }
  return 0;
}

}  // namespace gm::cli
