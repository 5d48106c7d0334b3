// Subcommands other than serve, each in its own file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace gm::cli {

struct FhirPathArgs {
  std::string expression;
  std::string input;  // empty: standard input
  bool lines = false;
};
// grunnmur fhirpath EXPR [--input FILE]: prints the result collection as JSON.
int RunFhirPath(const FhirPathArgs& args);

struct ReindexArgs {
  std::string data = "./var";  // the data directory
  size_t batch = 500;          // resources per write transaction
  int64_t max_batches = 0;     // > 0: stop after this many batches (exit status 3)
  bool restart = false;        // ignore saved progress
};
// grunnmur reindex --data DIR: re-extracts every current resource's search
// index; resumable (reindex_cmd.cc).
int RunReindex(const ReindexArgs& args);

}  // namespace gm::cli
