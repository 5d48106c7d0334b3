// grunnmur check --data DIR
//
// Verifies a store offline (store/sqlite/check.h): version numbers 1..n
// without gaps, every version's JSON parses and carries its own id, versionId
// and lastUpdated, and every current resource's search index and compartment
// rows are exactly what the write path's indexer (search::FhirPathIndexer)
// extracts from it now. Prints one line per problem.
//
// Exit status: 0 clean, 1 problems found (listed on standard output), 2 the
// check could not run (no store, not a grunnmur store, I/O error).
#include <iostream>

#include "cli/commands.h"
#include "fhir/model.h"
#include "search/fhirpath_indexer.h"
#include "store/sqlite/check.h"
#include "store/postgres/pg_check.h"
#include "store/postgres/pg_store.h"

namespace gm::cli {

int RunCheck(const CheckArgs& args) {
  const fhir::Model& model = fhir::Model::R4();
  search::FhirPathIndexer indexer(model);
  store::sqlite::CheckExtractFn extract =
      [&](std::string_view type, std::string_view id,
          const json::Value& resource) -> Result<store::sqlite::CheckExtraction> {
    GM_ASSIGN_OR_RETURN(search::Extracted e, indexer.Extract(type, id, resource));
    return store::sqlite::CheckExtraction{std::move(e.index), std::move(e.compartments)};
  };
  store::sqlite::CheckOptions options;
  options.directory = args.data;
  options.scratch_dir = args.scratch;
  // A data directory whose server uses PostgreSQL (serve --db) is checked there.
  const std::string db = store::RememberedDatabase(args.data);
  auto report = db.empty() ? store::sqlite::CheckStore(options, extract)
                           : store::postgres::CheckPostgresStore(db, extract);
  if (!report.ok()) {
    std::cerr << "grunnmur check: " << report.status().code() << ": "
              << report.status().message() << "\n";
    return 2;
  }
  for (const std::string& p : report->problems) std::cout << p << "\n";
  std::cout << "check: " << report->resources << " resources, " << report->versions
            << " versions, " << report->indexed << " re-indexed for comparison: "
            << (report->clean() ? "clean" : "PROBLEMS FOUND") << std::endl;
  return report->clean() ? 0 : 1;
}

}  // namespace gm::cli
