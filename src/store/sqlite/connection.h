// A thin C++ layer over one sqlite3 connection: error mapping to gm::Status,
// a per-connection cache of prepared statements, and RAII statement leases.
//
// Thread-safety: a Connection (and every Statement leased from it) is used by
// one thread at a time; the store hands connections to threads through a pool
// (readers) or keeps one on a dedicated thread (writer).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/status.h"
#include "store/cursor.h"

namespace gm::store::sqlite {

// Maps an SQLite result code to a Status. Storage-level conditions (disk full,
// I/O error, busy, out of memory, read-only) are kUnavailable (GM-STORE-004);
// corruption is kInternal (GM-STORE-005); anything else kInternal (GM-STORE-006).
// `context` names the operation; it must not contain health data.
Status SqliteStatus(int rc, sqlite3* db, std::string_view context);

// A prepared statement leased from a Connection's cache. On destruction it is
// reset and its bindings cleared, and it returns to the cache. Move-only.
// Parameters are 1-based (?1, ?2 ...); columns are 0-based.
class Statement {
 public:
  Statement() = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  void Bind(int index, int64_t value);
  void Bind(int index, double value);
  void Bind(int index, std::string_view text);
  void BindBlob(int index, std::string_view bytes);
  // As Bind / BindBlob, without SQLite copying the bytes: REQUIRES that they
  // stay alive and unchanged until this Statement is released (destroyed).
  void BindStatic(int index, std::string_view text);
  void BindBlobStatic(int index, std::string_view bytes);
  void BindNull(int index);
  void Bind(int index, const KeyValue& value);

  // Advances to the next row: true if a row is available, false when done.
  Result<bool> Step();
  // Steps to completion, ignoring rows.
  Status Run();

  int64_t Int(int column) const;
  double Real(int column) const;
  bool IsNull(int column) const;
  std::string Text(int column) const;  // text or blob bytes, "" for NULL
  KeyValue Value(int column) const;

  sqlite3_stmt* raw() const { return stmt_; }

 private:
  friend class Connection;
  Statement(sqlite3_stmt* stmt, bool* in_use, bool owned, sqlite3* db)
      : stmt_(stmt), in_use_(in_use), owned_(owned), db_(db) {}
  void Release();

  sqlite3_stmt* stmt_ = nullptr;
  bool* in_use_ = nullptr;  // cache slot flag; null for an uncached statement
  bool owned_ = false;      // finalize on release (uncached)
  sqlite3* db_ = nullptr;
};

class Connection {
 public:
  // Opens `path` with SQLite open `flags` (SQLITE_OPEN_*), NOMUTEX added.
  // `vfs` may be empty for the default VFS.
  // Errors: kUnavailable (GM-STORE-001) if the file cannot be opened.
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, int flags,
                                                  const std::string& vfs);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more SQL statements that return no rows of interest.
  Status Exec(std::string_view sql);
  // A statement for `sql`, from the cache or newly prepared (and cached). If the
  // cached one is leased already (nested use), a private uncached one is made.
  // The cache holds at most kMaxCached statements; idle ones are evicted first.
  Result<Statement> Prepare(std::string_view sql);
  // Runs `sql` (a PRAGMA or scalar query) and returns the first column of the
  // first row as text ("" if no row).
  Result<std::string> QueryText(std::string_view sql);

  // True while a transaction is open (sqlite3_get_autocommit is false).
  bool InTransaction() const;
  sqlite3* db() const { return db_; }

  static constexpr size_t kMaxCached = 512;

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  void EvictIdle();

  // Lookups by string_view without building a std::string key.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, Cached, KeyHash, std::equal_to<>> cache_;
};

// A transaction scope on a connection: Begin() opens it, Commit() ends it;
// destruction without Commit() rolls back. For read snapshots (BEGIN) and for
// the writer's batches (BEGIN IMMEDIATE).
class TxnScope {
 public:
  explicit TxnScope(Connection& c) : c_(c) {}
  ~TxnScope();
  TxnScope(const TxnScope&) = delete;
  TxnScope& operator=(const TxnScope&) = delete;
  Status Begin(bool immediate = false);
  Status Commit();

 private:
  Connection& c_;
  bool open_ = false;
};

}  // namespace gm::store::sqlite
