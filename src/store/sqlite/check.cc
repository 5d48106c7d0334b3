#include "store/sqlite/check.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>

#include "core/time.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_store.h"

namespace gm::store::sqlite {
namespace {

constexpr size_t kBatch = 500;

// The tables holding index or compartment rows, with the column that names
// the resource (rid) and whether rows carry an interned search parameter.
struct RowTable {
  const char* name;
  const char* rid;  // rid column ("rowid" for the FTS table)
  bool has_pid;
};
constexpr RowTable kRowTables[] = {
    {"compartment", "rid", false},  {"idx_token", "rid", true},
    {"idx_string", "rid", true},    {"idx_date", "rid", true},
    {"idx_number", "rid", true},    {"idx_quantity", "rid", true},
    {"idx_reference", "rid", true}, {"idx_uri", "rid", true},
    {"idx_composite", "rid", true}, {"idx_text", "rowid", false},
};

std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

class Reporter {
 public:
  Reporter(CheckReport& report, size_t max) : report_(report), max_(max) {}
  void Add(std::string line) {
    ++count_;
    if (report_.problems.size() < max_) report_.problems.push_back(std::move(line));
  }
  void Finish() {
    if (count_ > report_.problems.size()) {
      report_.problems.push_back("... and " + std::to_string(count_ - report_.problems.size()) +
                                 " more problems");
    }
  }

 private:
  CheckReport& report_;
  size_t max_;
  size_t count_ = 0;
};

Result<bool> TableExists(Connection& c, const std::string& schema, const std::string& table) {
  GM_ASSIGN_OR_RETURN(std::string n, c.QueryText("SELECT count(*) FROM " + schema +
                                                 ".sqlite_schema WHERE name = " + Quote(table)));
  return n != "0";
}

// Columns of `table` except pid (and except the FTS table's hidden ones).
Result<std::vector<std::string>> Columns(Connection& c, const std::string& table) {
  std::vector<std::string> cols;
  GM_ASSIGN_OR_RETURN(Statement st, c.Prepare("SELECT name FROM pragma_table_info(" +
                                              Quote(table) + ")"));
  for (;;) {
    GM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    std::string name = st.Text(0);
    if (name != "pid") cols.push_back(name);
  }
  return cols;
}

// The rows of one version-ordered resource, checked as they stream by.
struct ResourceRow {
  int64_t rid = 0;
  std::string type, id;
  int64_t version = 0, last_updated_us = 0;
  bool deleted = false;
};

void CheckContent(const ResourceRow& r, int64_t version, int64_t last_updated_us,
                  const std::string& text, Reporter& out) {
  const std::string where = r.type + "/" + r.id + "/_history/" + std::to_string(version);
  auto doc = json::Parse(text, json::ParseOptions{.max_depth = 1024});
  if (!doc.ok()) {
    out.Add(where + ": stored JSON does not parse (" + doc.status().code() + ")");
    return;
  }
  if (!doc->is_object()) {
    out.Add(where + ": stored JSON is not an object");
    return;
  }
  if (doc->get_string("resourceType") != r.type) out.Add(where + ": resourceType differs");
  if (doc->get_string("id") != r.id) out.Add(where + ": id differs");
  const json::Value* meta = doc->find("meta");
  if (meta == nullptr || !meta->is_object()) {
    out.Add(where + ": meta missing");
    return;
  }
  if (meta->get_string("versionId") != std::to_string(version)) {
    out.Add(where + ": meta.versionId is '" + std::string(meta->get_string("versionId")) + "'");
  }
  if (meta->get_string("lastUpdated") != time::FormatInstant(last_updated_us)) {
    out.Add(where + ": meta.lastUpdated '" + std::string(meta->get_string("lastUpdated")) +
            "' differs from the stored " + time::FormatInstant(last_updated_us));
  }
}

Status CheckVersions(Connection& c, CheckReport& report, Reporter& out) {
  GM_ASSIGN_OR_RETURN(
      Statement st,
      c.Prepare("SELECT r.rid, r.type, r.id, r.version, r.last_updated_us, r.deleted, "
                "v.version, v.last_updated_us, v.deleted, v.json, v.type "
                "FROM resource AS r LEFT JOIN resource_version AS v ON v.rid = r.rid "
                "ORDER BY r.rid, v.version"));
  std::optional<ResourceRow> cur;
  int64_t expect = 1;  // next version number of cur
  int64_t last_lu = 0;
  bool last_deleted = false;
  auto finish = [&]() {
    if (!cur) return;
    const std::string name = cur->type + "/" + cur->id;
    if (expect - 1 != cur->version) {
      out.Add(name + ": resource row says version " + std::to_string(cur->version) +
              " but versions 1.." + std::to_string(expect - 1) + " are stored");
    } else {
      if (last_deleted != cur->deleted) out.Add(name + ": deleted flag differs from version");
      if (last_lu != cur->last_updated_us) {
        out.Add(name + ": last_updated differs from its current version");
      }
    }
  };
  for (;;) {
    GM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    const int64_t rid = st.Int(0);
    if (!cur || cur->rid != rid) {
      finish();
      cur = ResourceRow{rid, st.Text(1), st.Text(2), st.Int(3), st.Int(4), st.Int(5) != 0};
      ++report.resources;
      expect = 1;
      last_lu = 0;
      last_deleted = false;
    }
    if (st.IsNull(6)) {
      out.Add(cur->type + "/" + cur->id + ": no versions stored");
      continue;
    }
    ++report.versions;
    const int64_t v = st.Int(6);
    if (v != expect) {
      out.Add(cur->type + "/" + cur->id + ": version " + std::to_string(v) + " follows " +
              std::to_string(expect - 1) + " (gap or duplicate)");
    }
    expect = v + 1;
    last_lu = st.Int(7);
    last_deleted = st.Int(8) != 0;
    if (st.Text(10) != cur->type) {
      out.Add(cur->type + "/" + cur->id + "/_history/" + std::to_string(v) + ": type differs");
    }
    if (last_deleted) {
      if (!st.Text(9).empty()) {
        out.Add(cur->type + "/" + cur->id + "/_history/" + std::to_string(v) +
                ": a deletion with content");
      }
    } else {
      CheckContent(*cur, v, last_lu, st.Text(9), out);
    }
  }
  finish();
  GM_ASSIGN_OR_RETURN(std::string orphans,
                      c.QueryText("SELECT count(*) FROM resource_version WHERE rid NOT IN "
                                  "(SELECT rid FROM resource)"));
  if (orphans != "0") out.Add(orphans + " version rows belong to no resource");
  return Status::Ok();
}

// Re-indexes every current resource of the scratch copy in `dir` through the
// store's writer, with all index and compartment rows removed first.
Status ReindexCopy(const std::string& dir, const std::vector<std::string>& tables,
                   const CheckExtractFn& extract, CheckReport& report, Reporter& out) {
  {
    GM_ASSIGN_OR_RETURN(auto c, Connection::Open(dir + "/grunnmur.db", SQLITE_OPEN_READWRITE, ""));
    std::string sql = "BEGIN;";
    for (const std::string& t : tables) sql += "DELETE FROM " + t + ";";
    sql += "UPDATE resource SET kinds = 0; UPDATE resource SET patient = NULL WHERE deleted = 0;";
    sql += "COMMIT;";
    GM_RETURN_IF_ERROR(c->Exec(sql));
  }
  GM_ASSIGN_OR_RETURN(std::unique_ptr<Store> store,
                      OpenSqlite(SqliteOptions{.directory = dir, .reader_connections = 1}));
  std::string after;
  for (;;) {
    Query q;
    q.limit = kBatch;
    q.after = after;
    GM_ASSIGN_OR_RETURN(QueryPage page, store->Search(q));
    std::vector<PutRequest> puts;
    for (const ResourceVersion& rv : page.resources) {
      auto doc = json::Parse(rv.json, json::ParseOptions{.max_depth = 1024});
      if (!doc.ok()) continue;  // reported by the version check
      auto extracted = extract(rv.type, rv.id, *doc);
      if (!extracted.ok()) {
        out.Add(rv.type + "/" + rv.id + ": the indexer fails on it: " +
                extracted.status().code());
        continue;
      }
      PutRequest put;
      put.resource.type = rv.type;
      put.resource.id = rv.id;
      put.resource.version = rv.version;
      put.resource.last_updated_us = rv.last_updated_us;
      put.index = std::move(extracted->index);
      put.compartments = std::move(extracted->compartments);
      puts.push_back(std::move(put));
    }
    Status st = store->Write([&](Txn& txn) {
      for (const PutRequest& put : puts) GM_RETURN_IF_ERROR(txn.Reindex(put));
      return Status::Ok();
    });
    if (!st.ok()) {
      store->Close();
      return st;
    }
    report.indexed += static_cast<int64_t>(puts.size());
    if (page.next.empty()) break;
    after = page.next;
  }
  store->Close();
  return Status::Ok();
}

// A SELECT of `t`'s rows in schema `s`, search parameters by name, rid as "rid".
std::string RowSelect(const RowTable& t, const std::vector<std::string>& cols, const char* s) {
  std::string sql = "SELECT t." + std::string(t.rid) + " AS rid";
  sql += t.has_pid ? ", p.type AS ptype, p.param AS param, p.kind AS pkind"
                   : std::string(", ") + Quote(t.name) + " AS param";
  for (const std::string& col : cols) {
    if (col != "rid") sql += ", t." + col;
  }
  sql += " FROM " + std::string(s) + "." + t.name + " AS t";
  if (t.has_pid) sql += " JOIN " + std::string(s) + ".search_param AS p ON p.pid = t.pid";
  return sql;
}

Status CompareRows(Connection& c, const std::vector<std::string>& tables, Reporter& out) {
  for (const RowTable& t : kRowTables) {
    if (std::find(tables.begin(), tables.end(), t.name) == tables.end()) continue;
    GM_ASSIGN_OR_RETURN(std::vector<std::string> cols, Columns(c, t.name));
    const std::string orig = RowSelect(t, cols, "orig");
    const std::string copy = RowSelect(t, cols, "main");
    for (int dir = 0; dir < 2; ++dir) {
      const std::string diff = dir == 0 ? orig + " EXCEPT " + copy : copy + " EXCEPT " + orig;
      GM_ASSIGN_OR_RETURN(
          Statement st,
          c.Prepare("SELECT d.rid, r.type, r.id, r.deleted, group_concat(DISTINCT d.param), "
                    "count(*) FROM (" + diff + ") AS d LEFT JOIN orig.resource AS r "
                    "ON r.rid = d.rid GROUP BY d.rid ORDER BY d.rid"));
      for (;;) {
        GM_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        std::string who = st.IsNull(1) ? "rid " + std::to_string(st.Int(0)) + " (no resource)"
                                       : st.Text(1) + "/" + st.Text(2);
        if (!st.IsNull(3) && st.Int(3) != 0) who += " (deleted)";
        out.Add(who + ": " + t.name + " " +
                (dir == 0 ? "has " + std::to_string(st.Int(5)) +
                                " rows the indexer does not produce now"
                          : "lacks " + std::to_string(st.Int(5)) +
                                " rows the indexer produces now") +
                " (" + st.Text(4) + ")");
      }
    }
    // Same sets but different multiplicities (duplicate rows).
    GM_ASSIGN_OR_RETURN(std::string a,
                        c.QueryText("SELECT count(*) FROM orig." + std::string(t.name)));
    GM_ASSIGN_OR_RETURN(std::string b,
                        c.QueryText("SELECT count(*) FROM main." + std::string(t.name)));
    if (a != b) {
      out.Add(std::string(t.name) + ": " + a + " rows stored, " + b + " expected");
    }
  }
  GM_ASSIGN_OR_RETURN(
      Statement st,
      c.Prepare("SELECT o.type, o.id, o.kinds IS NOT m.kinds, o.patient IS NOT m.patient, "
                "(SELECT v.patient FROM orig.resource_version AS v WHERE v.rid = o.rid AND "
                "v.version = o.version) IS NOT m.patient "
                "FROM orig.resource AS o JOIN main.resource AS m ON m.rid = o.rid "
                "WHERE o.kinds IS NOT m.kinds OR (o.deleted = 0 AND (o.patient IS NOT m.patient "
                "OR (SELECT v.patient FROM orig.resource_version AS v WHERE v.rid = o.rid AND "
                "v.version = o.version) IS NOT m.patient))"));
  for (;;) {
    GM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    std::string what;
    if (st.Int(2)) what += " index-kinds mask";
    if (st.Int(3)) what += " primary patient key";
    if (st.Int(4)) what += " version's patient key";
    out.Add(st.Text(0) + "/" + st.Text(1) + ": differs from the indexer in" + what);
  }
  return Status::Ok();
}

}  // namespace

Result<CheckReport> CheckStore(const CheckOptions& options, const CheckExtractFn& extract) {
  namespace fs = std::filesystem;
  const std::string path = (fs::path(options.directory) / "grunnmur.db").string();
  if (!fs::exists(path)) {
    return Status::Error(ErrorCategory::kUnavailable, "GM-STORE-001", "not-found",
                         "No grunnmur store in " + options.directory);
  }
  CheckReport report;
  Reporter out(report, options.max_problems);
  // Read-write so that a WAL left by a crash is recovered as on a normal open;
  // nothing is written.
  GM_ASSIGN_OR_RETURN(auto conn, Connection::Open(path, SQLITE_OPEN_READWRITE, ""));
  GM_RETURN_IF_ERROR(conn->Exec("PRAGMA busy_timeout = 10000"));
  GM_ASSIGN_OR_RETURN(std::string app_id, conn->QueryText("PRAGMA application_id"));
  if (app_id != std::to_string(kApplicationId)) {
    return Status::Error(ErrorCategory::kUnavailable, "GM-STORE-003", "exception",
                         "The database file is not a grunnmur store");
  }
  {
    TxnScope snapshot(*conn);
    GM_RETURN_IF_ERROR(snapshot.Begin());
    GM_RETURN_IF_ERROR(CheckVersions(*conn, report, out));
  }
  std::vector<std::string> tables;
  for (const RowTable& t : kRowTables) {
    GM_ASSIGN_OR_RETURN(bool exists, TableExists(*conn, "main", t.name));
    if (exists) tables.push_back(t.name);
  }

  // The scratch copy, removed at the end.
  std::string scratch = options.scratch_dir;
  bool made_scratch = false;
  if (scratch.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "grunnmur-check-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return Status::Error(ErrorCategory::kUnavailable, "GM-STORE-004", "exception",
                           "Cannot create a scratch directory for the check");
    }
    scratch = tmpl;
    made_scratch = true;
  }
  struct Cleanup {
    std::string dir;
    bool remove;
    ~Cleanup() {
      std::error_code ec;
      if (!remove) {
        for (const char* f : {"/grunnmur.db", "/grunnmur.db-wal", "/grunnmur.db-shm"}) {
          fs::remove(dir + f, ec);
        }
      } else {
        fs::remove_all(dir, ec);
      }
    }
  } cleanup{scratch, made_scratch};
  const std::string copy = scratch + "/grunnmur.db";
  std::error_code ec;
  fs::remove(copy, ec);
  GM_RETURN_IF_ERROR(conn->Exec("VACUUM INTO " + Quote(copy)));

  GM_RETURN_IF_ERROR(ReindexCopy(scratch, tables, extract, report, out));

  GM_ASSIGN_OR_RETURN(auto cmp, Connection::Open(copy, SQLITE_OPEN_READWRITE, ""));
  conn.reset();
  GM_RETURN_IF_ERROR(cmp->Exec("ATTACH DATABASE " + Quote(path) + " AS orig"));
  {
    TxnScope snapshot(*cmp);
    GM_RETURN_IF_ERROR(snapshot.Begin());
    GM_RETURN_IF_ERROR(CompareRows(*cmp, tables, out));
  }
  out.Finish();
  return report;
}

}  // namespace gm::store::sqlite
