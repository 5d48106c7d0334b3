// grunnmur reindex --data DIR [--batch N] [--restart] [--max-batches N]
//
// Re-extracts the search index and patient compartment keys of every current
// resource (after a change of search-parameter definitions or of the
// extraction code), through the store's normal writer: each batch is one
// Store::Write of Txn::Reindex calls, so it is durable when it returns and
// group-committed with whatever a running server writes at the same time.
// Resources updated meanwhile are skipped (their new version was indexed when
// written).
//
// Resumable: after each committed batch the position (the keyset cursor of
// the last resource, in the order resources were first stored) is saved to
// <DIR>/reindex.progress (written to a temporary file, fsynced, renamed). A
// run that is killed continues from there; redoing the batch in flight is
// harmless. The file is removed when the whole store is done. --restart
// ignores it. --max-batches stops cleanly after N batches (exit status 3),
// leaving the progress file, for staged runs and tests.
//
// Exit status: 0 done, 1 error, 3 stopped early by --max-batches.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli/commands.h"
#include "core/json.h"
#include "fhir/model.h"
#include "search/fhirpath_indexer.h"
#include "store/store.h"
#include "store/postgres/pg_store.h"

namespace gm::cli {
namespace {

constexpr const char* kProgressFile = "reindex.progress";

struct Progress {
  std::string cursor;  // "" = from the beginning
  int64_t done = 0;    // resources reindexed so far
  int64_t skipped = 0;
};

bool LoadProgress(const std::string& path, Progress& p) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto doc = json::Parse(text);
  if (!doc.ok() || !doc->is_object()) return false;
  p.cursor = std::string(doc->get_string("cursor"));
  const json::Value* done = doc->find("done");
  const json::Value* skipped = doc->find("skipped");
  p.done = done != nullptr && done->is_number() ? std::stoll(done->str()) : 0;
  p.skipped = skipped != nullptr && skipped->is_number() ? std::stoll(skipped->str()) : 0;
  return true;
}

// Writes the progress file atomically and durably.
bool SaveProgress(const std::string& dir, const Progress& p) {
  json::Value doc = json::Value::MakeObject();
  doc.set("cursor", p.cursor);
  doc.set("done", p.done);
  doc.set("skipped", p.skipped);
  const std::string text = json::Write(doc) + "\n";
  const std::string path = (std::filesystem::path(dir) / kProgressFile).string();
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) return false;
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

}  // namespace

int RunReindex(const ReindexArgs& args) {
  namespace fs = std::filesystem;
  // The PostgreSQL database the data directory's server uses, if any.
  const std::string db = store::RememberedDatabase(args.data);
  if (db.empty() && !fs::exists(fs::path(args.data) / "grunnmur.db")) {
    std::cerr << "grunnmur reindex: no grunnmur store in " << args.data << "\n";
    return 1;
  }
  auto store = db.empty() ? store::OpenSqlite(store::SqliteOptions{.directory = args.data})
                          : store::OpenPostgres(store::PostgresOptions{.url = db});
  if (!store.ok()) {
    std::cerr << "grunnmur reindex: cannot open the store: " << store.status().message() << "\n";
    return 1;
  }
  const fhir::Model& model = fhir::Model::R4();
  search::FhirPathIndexer indexer(model);
  const std::string progress_path = (fs::path(args.data) / kProgressFile).string();

  Progress progress;
  if (!args.restart && LoadProgress(progress_path, progress)) {
    std::cout << "reindex: resuming after " << progress.done << " resources" << std::endl;
  }
  const size_t batch = std::max<size_t>(args.batch, 1);
  int64_t batches = 0;
  for (;;) {
    store::Query q;
    q.limit = batch;
    q.after = progress.cursor;
    auto page = (*store)->Search(q);
    if (!page.ok()) {
      std::cerr << "grunnmur reindex: " << page.status().code() << ": "
                << page.status().message() << "\n";
      return 1;
    }
    std::vector<store::PutRequest> puts;
    puts.reserve(page->resources.size());
    for (const store::ResourceVersion& rv : page->resources) {
      auto doc = json::Parse(rv.json, json::ParseOptions{.max_depth = 1024});
      if (!doc.ok()) {
        std::cerr << "grunnmur reindex: stored " << rv.type << "/" << rv.id
                  << " is not valid JSON; left as it was\n";
        continue;
      }
      auto extracted = indexer.Extract(rv.type, rv.id, *doc);
      if (!extracted.ok()) {
        std::cerr << "grunnmur reindex: " << rv.type << "/" << rv.id << ": "
                  << extracted.status().message() << "\n";
        return 1;
      }
      store::PutRequest put;
      put.resource.type = rv.type;
      put.resource.id = rv.id;
      put.resource.version = rv.version;
      put.resource.last_updated_us = rv.last_updated_us;
      put.index = std::move(extracted->index);
      put.compartments = std::move(extracted->compartments);
      puts.push_back(std::move(put));
    }
    int64_t skipped = 0;
    Status st = (*store)->Write([&](store::Txn& txn) {
      skipped = 0;
      for (const store::PutRequest& put : puts) {
        Status s = txn.Reindex(put);
        if (s.ok()) continue;
        if (s.category() == ErrorCategory::kConflict) {
          ++skipped;
          continue;
        }
        return s;
      }
      return Status::Ok();
    });
    if (!st.ok()) {
      std::cerr << "grunnmur reindex: " << st.code() << ": " << st.message() << "\n";
      return 1;
    }
    progress.done += static_cast<int64_t>(puts.size()) - skipped;
    progress.skipped += skipped;
    if (page->next.empty()) {
      std::error_code ec;
      fs::remove(progress_path, ec);
      (*store)->Close();
      std::cout << "reindex: done, " << progress.done << " resources reindexed, "
                << progress.skipped << " skipped (changed meanwhile)" << std::endl;
      return 0;
    }
    progress.cursor = page->next;
    if (!SaveProgress(args.data, progress)) {
      std::cerr << "grunnmur reindex: cannot save progress to " << progress_path << "\n";
      return 1;
    }
    if (args.max_batches > 0 && ++batches >= args.max_batches) {
      (*store)->Close();
      std::cout << "reindex: stopped after " << batches << " batches (" << progress.done
                << " resources); run again to continue" << std::endl;
      return 3;
    }
  }
}

}  // namespace gm::cli
