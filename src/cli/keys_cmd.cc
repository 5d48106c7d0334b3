// grunnmur keys: the signing keys of grunnmur's own issuer (<data>/keys), and
// loading an external issuer's JWKS file for serve --trusted-jwks.
//
// Rotation with overlapping keys: `keys rotate` makes a new current key and
// keeps the previous ones (--keep, default 2), which stay in /jwks and keep
// verifying tokens they signed until those expire. Running servers re-read
// the key directory within trust::KeyRing::kKeyReloadIntervalS seconds, so no
// restart is needed; the new key is published and verifies at once on every
// node sharing the directory, and signs only after --activate-after seconds
// (default: at once on SQLite; KeyRing::kDefaultActivationDelayS, longer than
// the reload interval, for a PostgreSQL data directory), so no node signs
// with a key another node cannot verify yet.
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "core/json.h"
#include "store/postgres/pg_store.h"
#include "trust/jose.h"
#include "trust/tokens.h"

namespace gm::cli {

namespace {

std::string KeyDir(const std::string& data) {
  return (std::filesystem::path(data) / "keys").string();
}

void PrintKeys(const trust::KeyRing& ring) {
  json::Value jwks = ring.PublicJwks();
  bool first = true;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& k : jwks.find("keys")->array()) {
    std::string kid(k.get_string("kid"));
    int64_t activation = ring.ActivationOf(kid).value_or(0);
    std::cout << kid << " " << k.get_string("alg");
    if (first) {
      std::cout << "  (current: signs)";
    } else if (activation > now) {
      std::cout << "  (pending: verifies, signs in " << (activation - now) << " s)";
    } else {
      std::cout << "  (previous: verifies)";
    }
    std::cout << "\n";
    first = false;
  }
}

}  // namespace

int RunKeysRotate(const KeysArgs& args) {
  if (!std::filesystem::is_directory(args.data)) {
    std::cerr << "no data directory at " << args.data << "\n";
    return 2;
  }
  if (args.keep < 1 || args.keep > 10) {
    std::cerr << "--keep must be between 1 and 10 (the previous key must stay to verify tokens "
                 "in flight)\n";
    return 2;
  }
  auto ring = trust::KeyRing::Open(KeyDir(args.data));
  if (!ring.ok()) {
    std::cerr << "cannot open the signing keys: " << ring.status().message() << "\n";
    return 2;
  }
  // One node on SQLite signs with the new key at once; nodes sharing a
  // PostgreSQL database (and the keys) wait until all of them publish it.
  int64_t delay = args.activate_after_s;
  if (delay < 0) {
    delay = store::RememberedDatabase(args.data).empty() ? 0
                                                         : trust::KeyRing::kDefaultActivationDelayS;
  }
  if (Status st = (*ring)->Rotate(args.keep, delay); !st.ok()) {
    std::cerr << "rotation failed: " << st.message() << "\n";
    return 1;
  }
  std::cout << "rotated: running servers publish the new key within "
            << trust::KeyRing::kKeyReloadIntervalS << " s and sign with it after " << delay
            << " s (no restart needed)\n";
  PrintKeys(**ring);
  return 0;
}

int RunKeysList(const KeysArgs& args) {
  if (!std::filesystem::is_directory(KeyDir(args.data))) {
    std::cerr << "no signing keys in " << args.data << "\n";
    return 2;
  }
  auto ring = trust::KeyRing::Open(KeyDir(args.data));
  if (!ring.ok()) {
    std::cerr << "cannot open the signing keys: " << ring.status().message() << "\n";
    return 2;
  }
  PrintKeys(**ring);
  return 0;
}

bool LoadTrustedJwks(const std::string& file, std::vector<trust::Jwk>& keys, std::string& error) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = "cannot read " + file;
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto doc = json::Parse(ss.str());
  if (!doc.ok()) {
    error = file + " is not JSON";
    return false;
  }
  const json::Value* list = doc->find("keys");
  if (list == nullptr || !list->is_array() || list->empty()) {
    error = file + " holds no keys (expected a JWKS: {\"keys\":[...]})";
    return false;
  }
  for (const auto& k : list->array()) {
    if (k.find("d") != nullptr || k.find("p") != nullptr) {
      error = file + " contains a private key; configure public keys only";
      return false;
    }
    if (!k.get_string("use").empty() && k.get_string("use") != "sig") continue;
    auto key = trust::Jwk::FromJson(k);
    if (!key.ok()) {
      error = file + ": a key is unusable: " + key.status().message();
      return false;
    }
    keys.push_back(std::move(*key));
  }
  if (keys.empty()) {
    error = file + " holds no signing keys";
    return false;
  }
  return true;
}

}  // namespace gm::cli
