// grunnmur keys: the signing keys of grunnmur's own issuer (<data>/keys), and
// loading an external issuer's JWKS file for serve --trusted-jwks.
//
// Rotation with overlapping keys: `keys rotate` makes a new current key and
// keeps the previous ones (--keep, default 2), which stay in /jwks and keep
// verifying tokens they signed until those expire. A running server reads the
// key directory when it starts: rotate, then restart (one instance at a time
// in a group); tokens in flight stay valid throughout.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "core/json.h"
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
  for (const auto& k : jwks.find("keys")->array()) {
    std::cout << k.get_string("kid") << " " << k.get_string("alg")
              << (first ? "  (current: signs)" : "  (previous: verifies)") << "\n";
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
  if (Status st = (*ring)->Rotate(args.keep); !st.ok()) {
    std::cerr << "rotation failed: " << st.message() << "\n";
    return 1;
  }
  std::cout << "rotated; restart the server to sign with the new key\n";
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
