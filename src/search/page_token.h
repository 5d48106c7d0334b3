// Page tokens: opaque, tamper-proof paging state for searches whose
// parameters must stay out of URLs.
//
// Norwegian practice sends identifiers such as fødselsnummer in a POST
// _search form body, never in a URL (URLs end up in logs, proxies and browser
// history). The Bundle's self/next/previous links of such a search therefore
// carry no parameters, only `_page=TOKEN`: the search's path, parameters,
// keyset cursor and direction, sealed with AES-256-GCM under a key that never
// leaves the server (a random 256-bit key in the data directory, file mode
// 0600, created on first start). A token is accepted back on
// `GET [path]?_page=TOKEN` and on `POST [path]/_search` with `_page` in the
// body; it reveals nothing to its holder, and any change to it is detected
// (GM-SEARCH-040). A token is bound to its path: used on another one it is
// refused (GM-SEARCH-041, checked by the REST layer). Tokens do not expire;
// whoever may run the search may page it, and access is decided anew on every
// request.
//
// Format: "p1." + base64url(nonce[12] ‖ ciphertext ‖ tag[16]); the plaintext
// is a length-prefixed binary encoding of PageState (version byte first).
//
// Thread-safety: a PageTokenCodec is immutable; Seal and Unseal may be called
// concurrently.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/params.h"
#include "core/status.h"
#include "store/store.h"

namespace gm::search {

struct PageState {
  std::string path;  // "Patient", "Patient/123/Observation", "" for system search
  Params params;     // the search's parameters, paging ones (_cursor, _before, _page) left out
  std::string cursor;  // keyset cursor; "" = the first page
  store::PageDirection direction = store::PageDirection::kForward;
};

class PageTokenCodec {
 public:
  static constexpr size_t kKeyBytes = 32;
  static constexpr const char* kKeyFile = "search-page.key";

  // Loads the key from <directory>/search-page.key, creating it (random,
  // 0600) if absent. Errors: kUnavailable GM-SEARCH-042 when the file cannot
  // be read or written or has the wrong size.
  static Result<std::unique_ptr<PageTokenCodec>> FromDirectory(const std::string& directory);
  // A codec with a fresh random key, for servers without a data directory
  // (its tokens are useless after a restart).
  static std::unique_ptr<PageTokenCodec> Ephemeral();

  std::string Seal(const PageState& state) const;
  // Errors: kInvalid GM-SEARCH-040 when the token is malformed, was made with
  // another key, or was changed.
  Result<PageState> Unseal(std::string_view token) const;

 private:
  explicit PageTokenCodec(const std::array<uint8_t, kKeyBytes>& key) : key_(key) {}
  std::array<uint8_t, kKeyBytes> key_;
};

}  // namespace gm::search
