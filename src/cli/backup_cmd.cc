// grunnmur backup --data DIR --to FILE
//
// SQLite's online backup API copies the store page by page while the server
// keeps serving: a few hundred pages per step, the source read-locked only
// during a step, and a step that sees the source changed by another
// connection restarts the copy, so the result is one consistent snapshot
// (the backup API's guarantee). The copy is written next to FILE, checked
// (PRAGMA quick_check, the grunnmur application id), fsynced and renamed
// into place, so FILE is either the complete backup or untouched.
//
// A data directory whose server uses PostgreSQL (serve --db, remembered in
// <data>/database.url) is backed up with PostgreSQL's own tools: pg_dump for
// a logical copy, pg_basebackup plus WAL archiving for point-in-time recovery
// (docs/SCALING.md). The command says so and exits 2.
//
// The rest of the data directory (keys/, clients/, audit.db, search-page.key)
// is small; copy it with ordinary tools while the server is stopped, or back
// up audit.db the same way: grunnmur backup only copies the FHIR store.
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "store/postgres/pg_store.h"

namespace gm::cli {
namespace {

constexpr int kPagesPerStep = 512;
constexpr int kApplicationId = 0x676D7331;  // store/sqlite/schema.h

bool FsyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

int RunBackup(const BackupArgs& args) {
  namespace fs = std::filesystem;
  const std::string db = store::RememberedDatabase(args.data);
  if (!db.empty()) {
    std::cerr << "grunnmur backup: the store in " << args.data
              << " is PostgreSQL; back it up with PostgreSQL's tools:\n"
              << "  pg_dump --format=custom --file=FILE '<the --db URL>'   (logical, consistent)\n"
              << "  pg_basebackup + WAL archiving                          (point in time)\n"
              << "see docs/SCALING.md\n";
    return 2;
  }
  const std::string src = (fs::path(args.data) / "grunnmur.db").string();
  if (!fs::exists(src)) {
    std::cerr << "grunnmur backup: no grunnmur store in " << args.data << "\n";
    return 2;
  }
  if (args.to.empty()) {
    std::cerr << "grunnmur backup: --to FILE is required\n";
    return 1;
  }
  const std::string tmp = args.to + ".partial";
  std::error_code ec;
  fs::remove(tmp, ec);

  sqlite3* from = nullptr;
  sqlite3* to = nullptr;
  auto fail = [&](const std::string& what) {
    std::cerr << "grunnmur backup: " << what << "\n";
    if (to) sqlite3_close(to);
    if (from) sqlite3_close(from);
    std::error_code ignored;
    fs::remove(tmp, ignored);
    return 1;
  };
  if (sqlite3_open_v2(src.c_str(), &from, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    return fail("cannot open " + src + ": " + sqlite3_errmsg(from));
  }
  sqlite3_busy_timeout(from, 10000);
  if (sqlite3_open_v2(tmp.c_str(), &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    return fail("cannot create " + tmp + ": " + sqlite3_errmsg(to));
  }
  sqlite3_backup* b = sqlite3_backup_init(to, "main", from, "main");
  if (b == nullptr) return fail(std::string("cannot start the backup: ") + sqlite3_errmsg(to));
  int rc = SQLITE_OK;
  for (;;) {
    rc = sqlite3_backup_step(b, kPagesPerStep);
    if (rc == SQLITE_DONE) break;
    if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      // Let the server's writer proceed between steps.
      std::this_thread::sleep_for(std::chrono::milliseconds(rc == SQLITE_OK ? 1 : 20));
      continue;
    }
    break;
  }
  const int pages = sqlite3_backup_pagecount(b);
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) return fail(std::string("the copy failed: ") + sqlite3_errstr(rc));

  // The copy is a grunnmur store and intact.
  auto single = [&](const char* sql) {
    std::string out;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(to, sql, -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(st, 0);
      out = t ? reinterpret_cast<const char*>(t) : "";
    }
    sqlite3_finalize(st);
    return out;
  };
  if (single("PRAGMA quick_check") != "ok") return fail("the copy does not pass quick_check");
  if (single("PRAGMA application_id") != std::to_string(kApplicationId)) {
    return fail("the copy is not a grunnmur store");
  }
  const std::string resources = single("SELECT count(*) FROM resource WHERE deleted = 0");
  const std::string versions = single("SELECT count(*) FROM resource_version");
  // The copy is a plain rollback-journal database file (one file, no WAL).
  sqlite3_exec(to, "PRAGMA journal_mode = DELETE", nullptr, nullptr, nullptr);
  sqlite3_close(to);
  to = nullptr;
  sqlite3_close(from);
  from = nullptr;
  if (!FsyncPath(tmp, false)) return fail("cannot fsync " + tmp);
  if (std::rename(tmp.c_str(), args.to.c_str()) != 0) return fail("cannot rename to " + args.to);
  const fs::path parent = fs::absolute(args.to).parent_path();
  FsyncPath(parent.string(), true);
  std::cout << "backup: " << args.to << " (" << pages << " pages, " << resources
            << " resources, " << versions << " versions); restore by stopping the server and "
            << "copying it to <data>/grunnmur.db (removing grunnmur.db-wal and -shm)" << std::endl;
  return 0;
}

}  // namespace gm::cli
