// Helpers for the storage tests: a temporary data directory and builders for
// resource versions and index entries. Tests use the real SQLite store.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace gm::store::testing {

// A fresh directory under the system temp dir, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gm-store-XXXXXX").string();
    char* p = mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::unique_ptr<sqlite::SqliteStore> OpenStore(const std::string& dir,
                                                      sqlite::SqliteInternalOptions internal = {},
                                                      size_t max_batch = 256) {
  SqliteOptions o;
  o.directory = dir;
  o.max_batch = max_batch;
  auto r = sqlite::SqliteStore::Open(o, internal);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.status().message());
  return r.ok() ? std::move(r).value() : nullptr;
}

inline std::string Json(const std::string& type, const std::string& id, int64_t version) {
  return "{\"resourceType\":\"" + type + "\",\"id\":\"" + id + "\",\"meta\":{\"versionId\":\"" +
         std::to_string(version) + "\"}}";
}

inline PutRequest MakePut(const std::string& type, const std::string& id, int64_t version,
                          int64_t last_updated_us, std::vector<IndexEntry> index = {},
                          std::vector<std::string> compartments = {}) {
  PutRequest p;
  p.resource = {type, id, version, last_updated_us, false, Json(type, id, version)};
  p.index = std::move(index);
  p.compartments = std::move(compartments);
  return p;
}

inline PutRequest MakeDelete(const std::string& type, const std::string& id, int64_t version,
                             int64_t last_updated_us) {
  PutRequest p;
  p.resource = {type, id, version, last_updated_us, true, ""};
  return p;
}

inline IndexEntry Token(std::string param, std::string system, std::string code,
                        std::string text = "") {
  IndexEntry e;
  e.kind = IndexEntry::Kind::kToken;
  e.param = std::move(param);
  e.system = std::move(system);
  e.code = std::move(code);
  e.text = std::move(text);
  return e;
}
inline IndexEntry String(std::string param, std::string folded, std::string exact) {
  IndexEntry e;
  e.kind = IndexEntry::Kind::kString;
  e.param = std::move(param);
  e.text = std::move(folded);
  e.code = std::move(exact);
  return e;
}
inline IndexEntry Date(std::string param, int64_t begin_us, int64_t end_us) {
  IndexEntry e;
  e.kind = IndexEntry::Kind::kDate;
  e.param = std::move(param);
  e.begin_us = begin_us;
  e.end_us = end_us;
  return e;
}
inline IndexEntry Number(std::string param, double lo, double hi) {
  IndexEntry e;
  e.kind = IndexEntry::Kind::kNumber;
  e.param = std::move(param);
  e.lo = lo;
  e.hi = hi;
  return e;
}
inline IndexEntry Quantity(std::string param, double lo, double hi, std::string system,
                           std::string code) {
  IndexEntry e;
  e.kind = IndexEntry::Kind::kQuantity;
  e.param = std::move(param);
  e.lo = lo;
  e.hi = hi;
  e.system = std::move(system);
  e.code = std::move(code);
  return e;
}
inline IndexEntry Reference(std::string param, std::string type, std::string id,
                            std::string url = "") {
  IndexEntry e;
  e.kind = IndexEntry::Kind::kReference;
  e.param = std::move(param);
  e.system = std::move(type);
  e.code = std::move(id);
  e.text = std::move(url);
  return e;
}
inline IndexEntry Uri(std::string param, std::string uri) {
  IndexEntry e;
  e.kind = IndexEntry::Kind::kUri;
  e.param = std::move(param);
  e.code = std::move(uri);
  return e;
}

// A clause value for codes, ids and strings.
inline Clause::Value CodeValue(std::string code, std::string system = "",
                               bool system_given = false) {
  Clause::Value v;
  v.code = std::move(code);
  v.system = std::move(system);
  v.system_given = system_given;
  return v;
}

// Writes one version in its own transaction.
inline Status PutOne(Store& s, const PutRequest& p) {
  return s.Write([&](Txn& txn) { return txn.Put(p); });
}

inline std::vector<std::string> Ids(const std::vector<ResourceVersion>& rs) {
  std::vector<std::string> ids;
  for (const ResourceVersion& r : rs) ids.push_back(r.id);
  return ids;
}

inline std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace gm::store::testing
