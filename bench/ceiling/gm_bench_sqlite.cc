// Ingest ceiling, SQLite side (bench/README.md, "ingest"): how fast can SQLite
// itself durably store exactly the rows grunnmur stored for an ingest?
//
//   gm_bench_sqlite --from GRUNNMUR.db --to NEW.db [--batch RESOURCES]
//
// Reads the schema of a database written by grunnmur (sqlite_master: the same
// tables, indexes and FTS5 table; FTS shadow tables are created by SQLite
// itself) and creates it in NEW.db with grunnmur's durability settings (WAL,
// synchronous=FULL, the writer's cache size). Then it copies every row —
// resource, resource_version (the same resource JSON bytes), compartment,
// every idx_* table and the full-text table — in large transactions of
// --batch resources (by rid range, default 10000). Each batch is first read
// into memory (untimed); only the INSERTs and the COMMIT (with its fsync) are
// timed. Prints one JSON object: rows per table, seconds, resources/s, peak RSS.
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace {

[[noreturn]] void Die(const std::string& what, sqlite3* db = nullptr) {
  std::fprintf(stderr, "gm_bench_sqlite: %s%s%s\n", what.c_str(), db ? ": " : "", db ? sqlite3_errmsg(db) : "");
  std::exit(1);
}

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string e = err ? err : "?";
    sqlite3_free(err);
    Die(sql.substr(0, 200) + ": " + e);
  }
}

sqlite3_stmt* Prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) Die("prepare " + sql, db);
  return st;
}

double PeakRssMib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  }
  return 0;
}

struct Table {
  std::string name;
  bool has_rid = false;      // copied per rid range; otherwise copied whole in the first batch
  bool is_fts = false;       // virtual FTS5 table: rowid is the resource's rid
  std::vector<std::string> columns;
  sqlite3_stmt* select = nullptr;  // on the source
  sqlite3_stmt* insert = nullptr;  // on the destination
  long long rows = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string from, to;
  long long batch = 10000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--from" && i + 1 < argc) from = argv[++i];
    else if (a == "--to" && i + 1 < argc) to = argv[++i];
    else if (a == "--batch" && i + 1 < argc) batch = std::atoll(argv[++i]);
    else Die("usage: gm_bench_sqlite --from GRUNNMUR.db --to NEW.db [--batch RESOURCES]");
  }
  if (from.empty() || to.empty() || batch <= 0) Die("usage: gm_bench_sqlite --from GRUNNMUR.db --to NEW.db [--batch RESOURCES]");
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((to + suffix).c_str());

  sqlite3* src = nullptr;
  sqlite3* dst = nullptr;
  if (sqlite3_open_v2(from.c_str(), &src, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) Die("open " + from, src);
  if (sqlite3_open_v2(to.c_str(), &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) Die("open " + to, dst);
  Exec(src, "PRAGMA busy_timeout = 10000");
  // grunnmur's writer settings (src/store/sqlite/sqlite_store.cc).
  Exec(dst, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -131072; "
            "PRAGMA temp_store = MEMORY; PRAGMA foreign_keys = OFF");

  // --- schema: the same DDL, in creation order ---
  std::vector<std::string> virtual_tables;
  std::vector<Table> tables;
  {
    sqlite3_stmt* st = Prepare(src, "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid");
    std::vector<std::tuple<std::string, std::string, std::string>> ddl;
    while (sqlite3_step(st) == SQLITE_ROW) {
      ddl.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)),
                       reinterpret_cast<const char*>(sqlite3_column_text(st, 1)),
                       reinterpret_cast<const char*>(sqlite3_column_text(st, 2)));
    }
    sqlite3_finalize(st);
    for (auto& [type, name, sql] : ddl) {
      if (sql.find("VIRTUAL TABLE") != std::string::npos) virtual_tables.push_back(name);
    }
    auto is_shadow = [&](const std::string& name) {
      for (auto& v : virtual_tables) if (name.rfind(v + "_", 0) == 0) return true;
      return false;
    };
    Exec(dst, "BEGIN");
    for (auto& [type, name, sql] : ddl) {
      if (name.rfind("sqlite_", 0) == 0 || is_shadow(name)) continue;
      Exec(dst, sql);
      if (type != "table") continue;
      Table t;
      t.name = name;
      t.is_fts = sql.find("VIRTUAL TABLE") != std::string::npos;
      sqlite3_stmt* cols = Prepare(src, "SELECT name FROM pragma_table_info('" + name + "')");
      while (sqlite3_step(cols) == SQLITE_ROW) t.columns.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(cols, 0)));
      sqlite3_finalize(cols);
      for (auto& c : t.columns) if (c == "rid") t.has_rid = true;
      tables.push_back(std::move(t));
    }
    Exec(dst, "COMMIT");
  }
  for (auto& t : tables) {
    std::string cols, marks;
    if (t.is_fts) { cols = "rowid"; marks = "?"; }
    for (auto& c : t.columns) {
      cols += (cols.empty() ? "" : ", ") + c;
      marks += marks.empty() ? "?" : ", ?";
    }
    std::string where = t.is_fts ? " WHERE rowid >= ?1 AND rowid < ?2" : t.has_rid ? " WHERE rid >= ?1 AND rid < ?2" : "";
    t.select = Prepare(src, "SELECT " + cols + " FROM " + t.name + where);
    t.insert = Prepare(dst, "INSERT INTO " + t.name + "(" + cols + ") VALUES(" + marks + ")");
  }

  long long max_rid = 0, resources = 0, json_bytes = 0;
  {
    sqlite3_stmt* st = Prepare(src, "SELECT coalesce(max(rid), 0), count(*) FROM resource");
    if (sqlite3_step(st) == SQLITE_ROW) { max_rid = sqlite3_column_int64(st, 0); resources = sqlite3_column_int64(st, 1); }
    sqlite3_finalize(st);
    st = Prepare(src, "SELECT coalesce(sum(length(json)), 0) FROM resource_version");
    if (sqlite3_step(st) == SQLITE_ROW) json_bytes = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }

  double timed = 0;
  int batches = 0;
  bool first = true;
  std::vector<std::vector<std::vector<sqlite3_value*>>> rows(tables.size());
  for (long long lo = 0; lo <= max_rid; lo += batch, first = false) {
    // Read the batch (untimed).
    for (size_t i = 0; i < tables.size(); ++i) {
      Table& t = tables[i];
      rows[i].clear();
      if (!t.has_rid && !t.is_fts && !first) continue;
      sqlite3_reset(t.select);
      if (t.has_rid || t.is_fts) {
        sqlite3_bind_int64(t.select, 1, lo);
        sqlite3_bind_int64(t.select, 2, lo + batch);
      }
      int n = sqlite3_column_count(t.select);
      while (sqlite3_step(t.select) == SQLITE_ROW) {
        std::vector<sqlite3_value*> row(n);
        for (int c = 0; c < n; ++c) row[c] = sqlite3_value_dup(sqlite3_column_value(t.select, c));
        rows[i].push_back(std::move(row));
      }
    }
    // Insert and commit (timed).
    auto t0 = std::chrono::steady_clock::now();
    Exec(dst, "BEGIN IMMEDIATE");
    for (size_t i = 0; i < tables.size(); ++i) {
      Table& t = tables[i];
      for (auto& row : rows[i]) {
        sqlite3_reset(t.insert);
        for (size_t c = 0; c < row.size(); ++c) sqlite3_bind_value(t.insert, static_cast<int>(c) + 1, row[c]);
        if (sqlite3_step(t.insert) != SQLITE_DONE) Die("insert into " + t.name, dst);
        ++t.rows;
      }
    }
    Exec(dst, "COMMIT");
    timed += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++batches;
    for (auto& table_rows : rows) {
      for (auto& row : table_rows) for (auto* v : row) sqlite3_value_free(v);
    }
  }

  long long index_rows = 0;
  std::string per_table;
  for (auto& t : tables) {
    if (t.name.rfind("idx_", 0) == 0 || t.name == "compartment") index_rows += t.rows;
    per_table += (per_table.empty() ? "" : ", ") + ("\"" + t.name + "\": " + std::to_string(t.rows));
    sqlite3_finalize(t.select);
    sqlite3_finalize(t.insert);
  }
  sqlite3_close(src);
  if (sqlite3_close(dst) != SQLITE_OK) Die("close " + to);
  std::printf("{\"contender\": \"sqlite\", \"resources\": %lld, \"json_bytes\": %lld, \"index_rows\": %lld, "
              "\"rows\": {%s}, \"batches\": %d, \"batch_resources\": %lld, \"seconds\": %.6f, "
              "\"resources_per_s\": %.1f, \"peak_rss_mib\": %.1f, "
              "\"pragmas\": \"journal_mode=WAL synchronous=FULL cache_size=-131072 temp_store=MEMORY\"}\n",
              resources, json_bytes, index_rows, per_table.c_str(), batches, batch, timed,
              timed > 0 ? resources / timed : 0.0, PeakRssMib());
  return 0;
}
