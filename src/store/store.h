// The storage seam. Every backend (store/sqlite/, later store/postgres/)
// implements Store; nothing above this header knows which one is in use.
//
// Model
// - A resource is stored as its final JSON bytes (meta.versionId and
//   meta.lastUpdated already filled in by the caller), one row per version.
//   Reads return those bytes unchanged.
// - Every version row carries the resource's patient compartment keys: the ids
//   of the Patients whose compartment it is in (a Patient is in its own). The
//   first key is the primary one (used for sharding later); all are indexed so
//   that $everything, access control, audit and export can select by patient.
// - Search index rows are computed by the caller (module search/) at write time
//   and written in the same transaction as the resource version they describe;
//   they always describe the current, non-deleted version only.
//
// Writes
// - Write(fn) runs fn inside a database transaction on the backend's writer.
//   fn reads what it needs through Txn (current versions, conditional matches)
//   and stages new versions with Txn::Put. If fn returns an error, everything
//   it staged is discarded and the error is returned; otherwise the changes are
//   committed and made durable (fsync) before Write returns. So a caller that
//   got Ok may acknowledge the request: the data survives kill -9 and power loss.
// - Backends may run many callers' fns in one database transaction (group
//   commit), each isolated in a savepoint, so fn must not have side effects
//   outside Txn. fn may be called more than once (retry after a serialization
//   failure on PostgreSQL), so it must be deterministic given the Txn's answers.
// - Conditional uniqueness: fns run one at a time per backend writer (SQLite)
//   or under a lock on the condition (PostgreSQL), so a conditional create's
//   "search, then create" cannot race with another one.
//
// Thread-safety: all Store methods may be called concurrently from any thread.
// A Txn is used only by the thread running fn, only during fn.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace gm::store {

// One stored version of a resource.
struct ResourceVersion {
  std::string type;
  std::string id;
  int64_t version = 0;          // 1, 2, 3 ... per resource, no gaps
  int64_t last_updated_us = 0;  // Unix epoch, microseconds (meta.lastUpdated)
  bool deleted = false;         // a delete is a version with no content
  std::string json;             // final JSON bytes; empty when deleted
};

// One extracted search value. Exactly the fields of its kind are meaningful.
struct IndexEntry {
  enum class Kind {
    kToken,
    kString,
    kDate,
    kNumber,
    kQuantity,
    kReference,
    kUri,
    kComposite,  // a composite parameter's component values from one element
    kText,       // full text (_text, _content)
  };
  Kind kind = Kind::kToken;
  std::string param;  // search parameter code, e.g. "identifier"
  // kToken: system, code, text (display/text for :text).
  // kString: text = value folded for search (lower case, accents removed), code = exact value.
  // kQuantity: system, code (unit code, canonical when known), lo/hi.
  // kReference: system = target type, code = target id, text = the reference as
  //   written when it is not a local Type/id (absolute URL, canonical).
  // kUri: code = the uri.
  // kComposite: `components` holds one value per component of the composite
  //   parameter, in its component order, all taken from the same element (so
  //   "code $ value" pairs never mix values of two Observation.components).
  //   Each component is an entry of kind kToken, kString, kDate, kNumber,
  //   kQuantity, kReference or kUri; its param is not used. At most
  //   kMaxCompositeComponents components.
  // kText: text = the words to find, folded like kString text; param is
  //   "_text" (narrative) or "_content" (all text of the resource).
  std::string system;
  std::string code;
  std::string text;
  // kNumber/kQuantity: the value's implicit range [lo, hi) (precision rule).
  double lo = 0;
  double hi = 0;
  // kDate: the instant range [begin_us, end_us) the value covers (Unix microseconds).
  int64_t begin_us = 0;
  int64_t end_us = 0;
  std::vector<IndexEntry> components;  // kComposite only
};

inline constexpr size_t kMaxCompositeComponents = 2;

// What a write stores: a new version plus, unless deleted, its compartments and index.
struct PutRequest {
  ResourceVersion resource;
  std::vector<std::string> compartments;  // patient ids; first is the primary key
  std::vector<IndexEntry> index;
};

// ---- Queries -------------------------------------------------------------
// A backend-neutral search: a conjunction of clauses, each a disjunction of
// values of one parameter. Built by module search/ from the request; each
// backend compiles it to indexed SQL. Chains and _has nest a whole Query.

struct Query;

// Most kChain/kHas levels inside one query; deeper ones are refused.
inline constexpr int kMaxQueryNesting = 6;

struct Clause {
  enum class Op {
    kTokenEq,       // system (if set, or "" with system_given meaning "no system") and/or code
    kTokenNot,      // none of the resource's values match (:not)
    kTokenText,     // text starts with (folded)
    kStringPrefix,  // folded starts-with (default string search)
    kStringExact,   // exact (:exact)
    kStringContains,
    kDateRange,     // overlap/containment per prefix, see DateCmp
    kNumberRange,
    kReference,     // target type (optional) + id, or url
    kUriEq,
    kUriBelow,
    kUriAbove,
    kMissing,       // :missing=true|false (missing = bool_value)
    kId,            // _id
    kLastUpdated,   // uses begin/end/cmp like dates
    kCompartment,   // resource is in patient compartment `code`
    kTokenOfType,   // kToken entries of `param` with system, code and text all equal
    kComposite,     // kComposite entries of `param` whose components all match
    kChain,         // reference `param` points at a current resource matching *sub
    kHas,           // a current resource matching *sub points here through its reference `param`
    kText,          // kText entries of `param` ("_text"/"_content") contain all words
  };
  enum class Cmp { kEq, kNe, kGt, kLt, kGe, kLe, kSa, kEb, kAp };
  // Which Value fields each op reads (search/ fills them; "folded" text is
  // already folded the same way as IndexEntry::text):
  //   kTokenEq, kTokenNot: system/system_given and code, as above.
  //   kTokenText, kStringPrefix, kStringContains: code = folded text.
  //   kStringExact: code = the exact text.
  //   kDateRange, kLastUpdated: [begin_us, end_us) = the search value's range; cmp.
  //   kNumberRange: [lo, hi) = the search value's implicit range; cmp. For a
  //     quantity parameter also code = unit (and system when given), optional.
  //   kReference: system = target type (optional) and code = target id; or
  //     code = "Type/id"; or code = an absolute URL or canonical (contains ':'),
  //     matched against IndexEntry::text.
  //   kUriEq, kUriBelow, kUriAbove: code = the uri (below/above by path segment).
  //   kId: code = id. kCompartment: code = patient id. kMissing: bool_value only.
  //   kTokenOfType: system and code = the identifier type's coding, text = the
  //     identifier value (search/ stores these under "<param>:of-type").
  //   kComposite: components = one Clause per component of the parameter, in
  //     order, each with exactly one value and an op of kTokenEq, kStringPrefix,
  //     kStringExact, kStringContains (string components compare folded text),
  //     kDateRange, kNumberRange, kReference or kUriEq. All must hold for the
  //     same kComposite entry.
  //   kText: code = folded words separated by spaces; each must begin a word of
  //     the text.
  //   kChain, kHas: no values; `sub` is the nested query (its type or types are
  //     the targets / the referring types; sort, limit and cursor are ignored).
  // Prefixes: eq = the resource value's range lies inside the search range;
  // ne = it does not; sa/eb = it starts after / ends before the search range;
  // gt/lt/ge/le compare ranges for dates (FHIR rules) and the value's midpoint
  // with the search value's for numbers; ap = the search range widened by 10%
  // (numbers: of the value; dates: of the distance from now), overlapping.
  struct Value {
    std::string system{};
    bool system_given = false;
    std::string code{};
    double lo = 0, hi = 0;
    int64_t begin_us = 0, end_us = 0;
    Cmp cmp = Cmp::kEq;
    std::string text{};                // kTokenOfType
    std::vector<Clause> components{};  // kComposite
  };
  Op op = Op::kTokenEq;
  std::string param;
  std::vector<Value> any_of;  // OR
  bool bool_value = false;    // kMissing
  std::shared_ptr<const Query> sub;  // kChain, kHas
};

// Multi-valued parameters sort by their least value ascending and their
// greatest descending; resources without a value come last. Ties are broken by
// an internal key, so the order is total and pages never overlap.
struct SortKey {
  std::string param;  // "_lastUpdated", "_id", or an indexed parameter
  bool descending = false;
};

// Which page a cursor selects: the rows after it in sort order (next), or the
// rows just before it (previous; the page is still returned in sort order).
enum class PageDirection { kForward, kBackward };

struct Query {
  std::string type;  // resource type; empty for a system-level search
  std::vector<std::string> types;  // for system-level search restricted by _type
  std::vector<Clause> clauses;     // AND
  std::vector<SortKey> sort;  // empty: _lastUpdated for one type, else insertion order
  size_t limit = 50;
  std::string after;  // opaque keyset cursor from a previous page ("" = first page)
  PageDirection direction = PageDirection::kForward;  // kBackward REQUIRES a cursor
};

struct QueryPage {
  std::vector<ResourceVersion> resources;
  std::string next;      // cursor for the next page (kForward), empty when there is none
  std::string previous;  // cursor for the previous page (kBackward), empty on the first page
};

// ---- History -------------------------------------------------------------

struct HistoryQuery {
  std::string type;  // empty: system history
  std::string id;    // empty: type or system history
  std::optional<int64_t> since_us;  // _since: versions at or after
  std::optional<int64_t> at_us;     // _at: the version current at this time
  size_t limit = 50;
  std::string after;  // opaque cursor
};

struct HistoryPage {
  std::vector<ResourceVersion> versions;  // newest first
  std::string next;
  std::optional<int64_t> total;  // when cheap to know (instance history)
};

// ---- Audit outbox ----------------------------------------------------------

// One audit record staged in the store's audit outbox: it commits (or rolls
// back) with the writes of the same transaction, so a write is never stored
// without the record of who wrote it. The tamper-evident audit chain
// (audit/log.h) takes it over afterwards with AuditLog::AppendKeyed (keyed,
// so taking it over twice adds nothing) and the row is then removed
// (rest/audit_outbox.h). Rows left by a crash are taken over at the next start.
struct AuditOutboxRow {
  int64_t seq = 0;         // outbox order (set by the store; ignored when staging)
  std::string key;         // unique, e.g. a UUID
  std::string patient_id;  // the patient whose data was touched
  int64_t time_us = 0;     // when
  std::string event;       // the AuditEvent's JSON bytes
};

// ---- Transactions ----------------------------------------------------------

class Txn {
 public:
  virtual ~Txn() = default;
  // The current version (possibly a deletion), or nullopt if never written.
  virtual Result<std::optional<ResourceVersion>> Current(const std::string& type,
                                                         const std::string& id) = 0;
  // Ids of current, non-deleted resources matching the query, at most `limit`.
  virtual Result<std::vector<std::string>> Match(const Query& query, size_t limit) = 0;
  // Stages a new version. REQUIRES: resource.version == current version + 1 (1 if new);
  // otherwise kConflict. If any Put fails, the Write fails with that error and
  // nothing fn staged is kept, even if fn returns Ok.
  virtual Status Put(const PutRequest& request) = 0;
  // Replaces the search index and compartment keys of the current version
  // (grunnmur reindex). request.resource names it by type, id and version; its
  // json is not used and no version is written. Errors: kConflict
  // (GM-STORE-012) when that version is not current or is a deletion (the
  // resource changed meanwhile; its new version was indexed when written),
  // which stages nothing and does not fail the Write; storage errors as Put.
  virtual Status Reindex(const PutRequest& request) = 0;
  // Stages an audit record in the outbox, committed with this transaction.
  // Errors as Put (and a failed stage fails the Write like a failed Put).
  virtual Status StageAudit(const AuditOutboxRow& row) = 0;
  // Removes outbox rows by key (those the audit chain holds). Unknown keys are
  // ignored.
  virtual Status RemoveAudit(const std::vector<std::string>& keys) = 0;
  // The patient compartments of the version the last successful Put
  // replaced, as stored (empty when it replaced nothing, or a deletion): for
  // the audit of writes, which touch the patients of what they replace too.
  virtual const std::vector<std::string>& ReplacedCompartments() const = 0;
};

struct StoreStats {
  int64_t resources = 0;  // current, non-deleted
  int64_t versions = 0;
  int64_t bytes = 0;      // database size on disk
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Result<std::optional<ResourceVersion>> Read(const std::string& type,
                                                      const std::string& id) = 0;
  virtual Result<std::optional<ResourceVersion>> ReadVersion(const std::string& type,
                                                             const std::string& id,
                                                             int64_t version) = 0;
  virtual Result<HistoryPage> History(const HistoryQuery& query) = 0;
  virtual Result<QueryPage> Search(const Query& query) = 0;
  // The number of current resources matching query.clauses (sort, limit and
  // cursor are ignored), counting no further than at_most: a result equal to
  // at_most means "at least at_most". For _total and _summary=count.
  virtual Result<int64_t> Count(const Query& query, int64_t at_most) = 0;
  // Current resources in a patient's compartment (for $everything, export).
  virtual Result<QueryPage> Compartment(const std::string& patient_id,
                                        const std::vector<std::string>& types, size_t limit,
                                        const std::string& after) = 0;

  virtual Status Write(const std::function<Status(Txn&)>& fn) = 0;

  // The oldest `limit` audit outbox rows, in outbox order.
  virtual Result<std::vector<AuditOutboxRow>> PendingAudit(size_t limit) = 0;

  virtual Result<StoreStats> Stats() = 0;
  // Stops accepting writes, finishes queued ones, and closes. Idempotent.
  virtual void Close() = 0;
};

struct SqliteOptions {
  std::string directory;        // data directory; the database is <directory>/grunnmur.db
  size_t reader_connections = 4;
  size_t max_batch = 256;       // group commit: most write fns per database transaction
};

// Opens (creating if needed) the SQLite store in options.directory.
Result<std::unique_ptr<Store>> OpenSqlite(const SqliteOptions& options);

}  // namespace gm::store
