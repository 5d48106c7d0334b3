#include "store/postgres/pg_check.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "core/json.h"
#include "core/time.h"
#include "store/index_rows.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/pg_query.h"
#include "store/postgres/pg_schema.h"

namespace gm::store::postgres {
namespace {

using Kind = IndexEntry::Kind;
using sqlite::CheckReport;

constexpr int64_t kBatch = 500;
constexpr int64_t kCompartmentBit = 1 << 7;
constexpr int64_t KindBit(Kind kind) {
  const int k = static_cast<int>(kind);
  return int64_t(1) << (k < 7 ? k : k + 1);
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

// One row as text: table, then its columns ("~" for NULL).
using Rows = std::map<std::string, std::multiset<std::string>>;  // table -> rows

std::string Join(std::initializer_list<std::string> parts) {
  std::string out;
  for (const std::string& p : parts) out += p + "\x1f";
  return out;
}
std::string R(double d) { return FormatReal(d); }
std::string I(int64_t i) { return std::to_string(i); }

std::string Words(std::vector<std::string> w) {
  std::sort(w.begin(), w.end());
  std::string out;
  for (const std::string& s : w) out += s + " ";
  return out;
}

void SlotText(const IndexEntry* e, std::vector<std::string>& out) {
  const CompositeSlot slot = SlotOf(e);
  out.push_back(TruncateIndexed(slot.system));
  out.push_back(TruncateIndexed(slot.code));
  for (const std::string& x : {slot.number ? R(slot.lo) : "~", slot.number ? R(slot.hi) : "~",
                               slot.number ? R(slot.mid) : "~", slot.date ? I(slot.begin_us) : "~",
                               slot.date ? I(slot.end_us) : "~"}) {
    out.push_back(x);
  }
}

// The rows the write path stores for `ex` (PostgresStore::InsertIndex).
Rows Expected(const std::string& type, const sqlite::CheckExtraction& ex) {
  Rows rows;
  std::set<std::string> seen;  // tables with a primary key store each row once
  auto add = [&](const std::string& table, const std::string& row, bool unique) {
    if (unique && !seen.insert(table + "\x1e" + row).second) return;
    rows[table].insert(row);
  };
  for (const std::string& p : ex.compartments) add("compartment", Join({p}), true);
  std::vector<const IndexEntry*> narrative, content;
  for (const IndexEntry& e : ex.index) {
    const std::string key = type + "\x1f" + e.param;
    switch (e.kind) {
      case Kind::kToken:
        add("idx_token",
            Join({key, TruncateIndexed(e.system), TruncateIndexed(e.code), TruncateIndexed(e.text)}),
            true);
        break;
      case Kind::kString:
        add("idx_string", Join({key, TruncateIndexed(e.text), TruncateIndexed(e.code)}), true);
        break;
      case Kind::kDate:
        add("idx_date", Join({key, I(e.begin_us), I(e.end_us)}), true);
        break;
      case Kind::kNumber:
        add("idx_number", Join({key, R(Midpoint(e.lo, e.hi)), R(e.lo), R(e.hi)}), true);
        break;
      case Kind::kQuantity:
        add("idx_quantity",
            Join({key, TruncateIndexed(e.system), TruncateIndexed(e.code), R(Midpoint(e.lo, e.hi)),
                  R(e.lo), R(e.hi)}),
            true);
        break;
      case Kind::kReference:
        add("idx_reference",
            Join({key, TruncateIndexed(e.system), TruncateIndexed(e.code), TruncateIndexed(e.text)}),
            true);
        break;
      case Kind::kUri:
        add("idx_uri", Join({key, TruncateIndexed(e.code)}), true);
        break;
      case Kind::kComposite: {
        std::vector<std::string> cols;
        SlotText(&e.components[0], cols);
        SlotText(e.components.size() > 1 ? &e.components[1] : nullptr, cols);
        std::string row = key + "\x1f";
        for (const std::string& c : cols) row += c + "\x1f";
        add("idx_composite", row, false);
        break;
      }
      case Kind::kText:
        (e.param == "_text" ? narrative : content).push_back(&e);
        break;
    }
  }
  if (!narrative.empty() || !content.empty()) {
    add("idx_text", Join({Words(Lexemes(narrative)), Words(Lexemes(content))}), true);
  }
  return rows;
}

struct Resource {
  std::string type, id;
  int64_t version = 0, last_updated_us = 0, kinds = 0;
  bool deleted = false;
  std::optional<std::string> patient;
};

Status CheckContent(const Resource& r, int64_t version, int64_t lu, const std::string& text,
                    Reporter& out, std::optional<json::Value>* doc_out) {
  const std::string where = r.type + "/" + r.id + "/_history/" + std::to_string(version);
  auto doc = json::Parse(text, json::ParseOptions{.max_depth = 1024});
  if (!doc.ok() || !doc->is_object()) {
    out.Add(where + ": stored JSON does not parse");
    return Status::Ok();
  }
  if (doc->get_string("resourceType") != r.type) out.Add(where + ": resourceType differs");
  if (doc->get_string("id") != r.id) out.Add(where + ": id differs");
  const json::Value* meta = doc->find("meta");
  if (meta == nullptr || !meta->is_object()) {
    out.Add(where + ": meta missing");
  } else {
    if (meta->get_string("versionId") != std::to_string(version)) {
      out.Add(where + ": meta.versionId differs");
    }
    if (meta->get_string("lastUpdated") != time::FormatInstant(lu)) {
      out.Add(where + ": meta.lastUpdated differs from the stored " + time::FormatInstant(lu));
    }
  }
  if (doc_out != nullptr) *doc_out = std::move(doc).value();
  return Status::Ok();
}

// Stored rows of the batch's resources, by rid and table.
Result<std::map<int64_t, Rows>> Stored(PgConnection& c, int64_t lo, int64_t hi) {
  std::map<int64_t, Rows> out;
  const std::vector<KeyValue> range = {KeyValue(lo), KeyValue(hi)};
  const std::string join = " FROM %T AS t LEFT JOIN search_param AS p ON p.pid = t.pid "
                           "WHERE t.rid > $1 AND t.rid <= $2";
  struct Q {
    const char* table;
    const char* cols;  // after rid, p.type, p.param
  };
  static const Q kQueries[] = {
      {"idx_token", "t.system, t.code, t.text"},
      {"idx_string", "t.text, t.code"},
      {"idx_date", "t.b::text, t.e::text"},
      {"idx_number", "t.val, t.lo, t.hi"},
      {"idx_quantity", "t.system, t.code, t.val, t.lo, t.hi"},
      {"idx_reference", "t.ttype, t.tid, t.url"},
      {"idx_uri", "t.uri"},
      {"idx_composite",
       "t.s1, t.c1, t.lo1, t.hi1, t.v1, t.b1::text, t.e1::text, t.s2, t.c2, t.lo2, t.hi2, t.v2, "
       "t.b2::text, t.e2::text"},
  };
  for (const Q& q : kQueries) {
    std::string from = join;
    from.replace(from.find("%T"), 2, q.table);
    GM_ASSIGN_OR_RETURN(PgResult res,
                        c.QueryOnce(std::string("SELECT t.rid, p.type, p.param, ") + q.cols + from,
                                    range));
    for (int i = 0; i < res.rows(); ++i) {
      std::string row = (res.IsNull(i, 1) ? "~" : res.Text(i, 1)) + "\x1f" +
                        (res.IsNull(i, 2) ? "~" : res.Text(i, 2)) + "\x1f";
      // Columns after the parameter; reals re-formatted like the write path.
      int ncols = 0;
      for (const char* p = q.cols; *p; ++p) ncols += *p == ',';
      ++ncols;
      for (int col = 3; col < 3 + ncols; ++col) {
        if (res.IsNull(i, col)) {
          row += "~";
        } else {
          KeyValue v = res.Value(i, col);
          row += std::holds_alternative<double>(v) ? R(std::get<double>(v)) : res.Text(i, col);
        }
        row += "\x1f";
      }
      out[res.Int(i, 0)][q.table].insert(row);
    }
  }
  {
    GM_ASSIGN_OR_RETURN(PgResult res, c.QueryOnce("SELECT rid, patient FROM compartment "
                                                  "WHERE rid > $1 AND rid <= $2",
                                                  range));
    for (int i = 0; i < res.rows(); ++i) {
      out[res.Int(i, 0)]["compartment"].insert(Join({res.Text(i, 1)}));
    }
  }
  {
    GM_ASSIGN_OR_RETURN(
        PgResult res,
        c.QueryOnce("SELECT rid, array_to_string(tsvector_to_array(narrative), ' '), "
                    "array_to_string(tsvector_to_array(content), ' ') FROM idx_text "
                    "WHERE rid > $1 AND rid <= $2",
                    range));
    for (int i = 0; i < res.rows(); ++i) {
      auto words = [&](int col) {
        std::vector<std::string> w;
        std::istringstream in(res.Text(i, col));
        std::string x;
        while (in >> x) w.push_back(x);
        return Words(std::move(w));
      };
      out[res.Int(i, 0)]["idx_text"].insert(Join({words(1), words(2)}));
    }
  }
  return out;
}

void Compare(const std::string& who, const Rows& expected, const Rows& stored, Reporter& out) {
  std::set<std::string> tables;
  for (const auto& [t, _] : expected) tables.insert(t);
  for (const auto& [t, _] : stored) tables.insert(t);
  static const std::multiset<std::string> kNone;
  for (const std::string& t : tables) {
    auto e = expected.find(t);
    auto s = stored.find(t);
    const auto& want = e == expected.end() ? kNone : e->second;
    const auto& have = s == stored.end() ? kNone : s->second;
    std::vector<std::string> extra, missing;
    std::set_difference(have.begin(), have.end(), want.begin(), want.end(),
                        std::back_inserter(extra));
    std::set_difference(want.begin(), want.end(), have.begin(), have.end(),
                        std::back_inserter(missing));
    if (!extra.empty()) {
      out.Add(who + ": " + t + " has " + std::to_string(extra.size()) +
              " rows the indexer does not produce now");
    }
    if (!missing.empty()) {
      out.Add(who + ": " + t + " lacks " + std::to_string(missing.size()) +
              " rows the indexer produces now");
    }
  }
}

}  // namespace

Result<CheckReport> CheckPostgresStore(const std::string& url,
                                       const sqlite::CheckExtractFn& extract,
                                       size_t max_problems) {
  GM_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> c, PgConnection::Open(url));
  GM_ASSIGN_OR_RETURN(int version, SchemaVersionOf(*c));
  if (version < 1) {
    return Status::Error(ErrorCategory::kUnavailable, "GM-STORE-003", "exception",
                         "The database has no grunnmur schema");
  }
  CheckReport report;
  Reporter out(report, max_problems);
  // One snapshot for the whole check.
  GM_RETURN_IF_ERROR(c->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  int64_t last = 0;
  for (;;) {
    GM_ASSIGN_OR_RETURN(
        PgResult rs,
        c->QueryOnce("SELECT rid, type, id, version, last_updated_us, deleted, kinds, patient "
                     "FROM resource WHERE rid > $1 ORDER BY rid LIMIT $2",
                     {KeyValue(last), KeyValue(kBatch)}));
    if (rs.rows() == 0) break;
    const int64_t lo = last;
    last = rs.Int(rs.rows() - 1, 0);
    std::map<int64_t, Resource> batch;
    for (int i = 0; i < rs.rows(); ++i) {
      Resource r{rs.Text(i, 1), rs.Text(i, 2), rs.Int(i, 3), rs.Int(i, 4), rs.Int(i, 6),
                 rs.Int(i, 5) != 0, std::nullopt};
      if (!rs.IsNull(i, 7)) r.patient = rs.Text(i, 7);
      batch.emplace(rs.Int(i, 0), std::move(r));
    }
    report.resources += rs.rows();
    GM_ASSIGN_OR_RETURN(
        PgResult vs,
        c->QueryOnce("SELECT rid, version, last_updated_us, deleted, json, type, patient "
                     "FROM resource_version WHERE rid > $1 AND rid <= $2 ORDER BY rid, version",
                     {KeyValue(lo), KeyValue(last)}));
    std::map<int64_t, std::optional<json::Value>> current_doc;
    std::map<int64_t, std::optional<std::string>> current_patient;
    std::map<int64_t, int64_t> seen_versions;
    for (int i = 0; i < vs.rows(); ++i) {
      const int64_t rid = vs.Int(i, 0), v = vs.Int(i, 1);
      auto it = batch.find(rid);
      if (it == batch.end()) {
        out.Add("version row of rid " + std::to_string(rid) + " belongs to no resource");
        continue;
      }
      const Resource& r = it->second;
      ++report.versions;
      int64_t& n = seen_versions[rid];
      if (v != n + 1) {
        out.Add(r.type + "/" + r.id + ": version " + std::to_string(v) + " follows " +
                std::to_string(n) + " (gap or duplicate)");
      }
      n = v;
      if (vs.Text(i, 5) != r.type) out.Add(r.type + "/" + r.id + ": a version's type differs");
      const bool deleted = vs.Int(i, 3) != 0;
      if (v == r.version) {
        if (deleted != r.deleted) out.Add(r.type + "/" + r.id + ": deleted flag differs");
        if (vs.Int(i, 2) != r.last_updated_us) {
          out.Add(r.type + "/" + r.id + ": last_updated differs from its current version");
        }
        current_patient[rid] =
            vs.IsNull(i, 6) ? std::nullopt : std::optional<std::string>(vs.Text(i, 6));
      }
      if (deleted) {
        if (!vs.Text(i, 4).empty()) out.Add(r.type + "/" + r.id + ": a deletion with content");
        continue;
      }
      std::optional<json::Value> doc;
      GM_RETURN_IF_ERROR(CheckContent(r, v, vs.Int(i, 2), vs.Text(i, 4), out,
                                      v == r.version ? &doc : nullptr));
      if (v == r.version) current_doc[rid] = std::move(doc);
    }
    GM_ASSIGN_OR_RETURN(auto stored, Stored(*c, lo, last));
    for (const auto& [rid, r] : batch) {
      const std::string who = r.type + "/" + r.id;
      if (seen_versions[rid] != r.version) {
        out.Add(who + ": resource row says version " + std::to_string(r.version) + " but " +
                std::to_string(seen_versions[rid]) + " versions are stored");
      }
      Rows expected;
      if (!r.deleted) {
        auto d = current_doc.find(rid);
        if (d == current_doc.end() || !d->second) continue;  // reported above
        auto ex = extract(r.type, r.id, *d->second);
        if (!ex.ok()) {
          out.Add(who + ": the indexer fails on it: " + ex.status().code());
          continue;
        }
        ++report.indexed;
        expected = Expected(r.type, *ex);
        int64_t kinds = 0;
        for (const IndexEntry& e : ex->index) kinds |= KindBit(e.kind);
        if (!ex->compartments.empty()) kinds |= kCompartmentBit;
        std::optional<std::string> patient;
        if (!ex->compartments.empty()) patient = ex->compartments.front();
        if (kinds != r.kinds) out.Add(who + ": differs from the indexer in index-kinds mask");
        if (patient != r.patient) {
          out.Add(who + ": differs from the indexer in primary patient key");
        }
        if (patient != current_patient[rid]) {
          out.Add(who + ": differs from the indexer in version's patient key");
        }
      }
      auto s = stored.find(rid);
      Compare(who + (r.deleted ? " (deleted)" : ""), expected,
              s == stored.end() ? Rows{} : s->second, out);
      if (s != stored.end()) stored.erase(s);
    }
    for (const auto& [rid, rows] : stored) {
      if (batch.count(rid) == 0) {
        out.Add("rid " + std::to_string(rid) + " (no resource): has index rows");
      }
    }
  }
  // Rows beyond the last resource (no resource at all).
  for (const char* t : {"idx_token", "idx_string", "idx_date", "idx_number", "idx_quantity",
                        "idx_reference", "idx_uri", "idx_composite", "idx_text", "compartment"}) {
    GM_ASSIGN_OR_RETURN(std::string n, c->QueryText(std::string("SELECT count(*) FROM ") + t +
                                                    " WHERE rid > $1",
                                                    {KeyValue(last)}));
    if (n != "0" && !n.empty()) out.Add(std::string(t) + ": " + n + " rows belong to no resource");
  }
  (void)c->Exec("COMMIT");
  out.Finish();
  return report;
}

}  // namespace gm::store::postgres
