#include "search/page_token.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

namespace gm::search {
namespace {

constexpr std::string_view kPrefix = "p1.";
constexpr std::string_view kAad = "grunnmur search page token v1";
constexpr uint8_t kFormat = 1;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kMaxTokenBytes = 256 * 1024;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Url(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

bool UnBase64Url(std::string_view in, std::string& out) {
  int8_t decode[256];
  std::memset(decode, -1, sizeof decode);
  for (int i = 0; i < 64; ++i) decode[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  if (in.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int8_t d = decode[static_cast<uint8_t>(c)];
    if (d < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return (acc & ((1u << bits) - 1)) == 0;
}

void PutU32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out += static_cast<char>((v >> (i * 8)) & 0xFF);
}

void PutString(std::string& out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

bool GetU32(std::string_view& in, uint32_t& v) {
  if (in.size() < 4) return false;
  v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  in.remove_prefix(4);
  return true;
}

bool GetString(std::string_view& in, std::string& s) {
  uint32_t n = 0;
  if (!GetU32(in, n) || n > in.size()) return false;
  s.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

std::string Encode(const PageState& state) {
  std::string out;
  out += static_cast<char>(kFormat);
  PutString(out, state.path);
  PutString(out, state.cursor);
  out += static_cast<char>(state.direction == store::PageDirection::kBackward ? 1 : 0);
  PutU32(out, static_cast<uint32_t>(state.params.size()));
  for (const auto& [k, v] : state.params) {
    PutString(out, k);
    PutString(out, v);
  }
  return out;
}

bool Decode(std::string_view in, PageState& state) {
  if (in.empty() || static_cast<uint8_t>(in[0]) != kFormat) return false;
  in.remove_prefix(1);
  if (!GetString(in, state.path) || !GetString(in, state.cursor) || in.empty()) return false;
  uint8_t dir = static_cast<uint8_t>(in[0]);
  if (dir > 1) return false;
  state.direction = dir == 1 ? store::PageDirection::kBackward : store::PageDirection::kForward;
  in.remove_prefix(1);
  uint32_t n = 0;
  if (!GetU32(in, n) || n > in.size() / 8) return false;
  for (uint32_t i = 0; i < n; ++i) {
    std::string k, v;
    if (!GetString(in, k) || !GetString(in, v)) return false;
    state.params.emplace_back(std::move(k), std::move(v));
  }
  return in.empty();
}

Status BadToken() {
  return Status::Error(ErrorCategory::kInvalid, "GM-SEARCH-040", "invalid",
                       "The page token is not valid (altered, or issued by another server)",
                       "_page");
}

Status KeyError(const std::string& what) {
  return Status::Error(ErrorCategory::kUnavailable, "GM-SEARCH-042", "exception",
                       "The search page key " + what);
}

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

}  // namespace

Result<std::unique_ptr<PageTokenCodec>> PageTokenCodec::FromDirectory(const std::string& directory) {
  std::array<uint8_t, kKeyBytes> key{};
  const std::string path = (std::filesystem::path(directory) / kKeyFile).string();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
      ::close(fd);
      ::unlink(path.c_str());
      return KeyError("cannot be generated (no randomness)");
    }
    bool ok = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
              ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) {
      ::unlink(path.c_str());
      return KeyError("file cannot be written");
    }
    return std::unique_ptr<PageTokenCodec>(new PageTokenCodec(key));
  }
  if (errno != EEXIST) return KeyError("file cannot be created: " + std::string(strerror(errno)));
  fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return KeyError("file cannot be read: " + std::string(strerror(errno)));
  // A file being created by another process at the same moment is filled in
  // at once; read until it is complete (or clearly wrong).
  ssize_t n = 0;
  for (int attempt = 0; attempt < 100; ++attempt) {
    n = ::pread(fd, key.data(), key.size(), 0);
    if (n == static_cast<ssize_t>(key.size())) break;
    ::usleep(10000);
  }
  uint8_t extra = 0;
  bool longer = ::pread(fd, &extra, 1, static_cast<off_t>(key.size())) > 0;
  ::close(fd);
  if (n != static_cast<ssize_t>(key.size()) || longer) return KeyError("file has the wrong size");
  return std::unique_ptr<PageTokenCodec>(new PageTokenCodec(key));
}

std::unique_ptr<PageTokenCodec> PageTokenCodec::Ephemeral() {
  std::array<uint8_t, kKeyBytes> key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    // No randomness at all: refuse every token rather than use a known key.
    std::abort();
  }
  return std::unique_ptr<PageTokenCodec>(new PageTokenCodec(key));
}

std::string PageTokenCodec::Seal(const PageState& state) const {
  const std::string plain = Encode(state);
  std::string raw(kNonceBytes + plain.size() + kTagBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (RAND_bytes(out, kNonceBytes) != 1) std::abort();
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = ctx != nullptr &&
            EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
            EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), out) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(kAad.data()),
                              static_cast<int>(kAad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), out + kNonceBytes, &len,
                              reinterpret_cast<const unsigned char*>(plain.data()),
                              static_cast<int>(plain.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx.get(), out + kNonceBytes + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                                out + kNonceBytes + plain.size()) == 1;
  if (!ok) std::abort();  // only on allocation failure inside OpenSSL
  return std::string(kPrefix) + Base64Url(raw);
}

Result<PageState> PageTokenCodec::Unseal(std::string_view token) const {
  if (token.size() > kMaxTokenBytes || token.substr(0, kPrefix.size()) != kPrefix) {
    return BadToken();
  }
  std::string raw;
  if (!UnBase64Url(token.substr(kPrefix.size()), raw) || raw.size() < kNonceBytes + kTagBytes) {
    return BadToken();
  }
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  const size_t n = raw.size() - kNonceBytes - kTagBytes;
  std::string plain(n, '\0');
  std::array<unsigned char, kTagBytes> tag{};
  std::memcpy(tag.data(), in + kNonceBytes + n, kTagBytes);
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  bool ok = ctx != nullptr &&
            EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), in) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(kAad.data()),
                              static_cast<int>(kAad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), out, &len, in + kNonceBytes, static_cast<int>(n)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), out + len, &len) == 1;
  if (!ok) return BadToken();
  PageState state;
  if (!Decode(plain, state)) return BadToken();
  return state;
}

}  // namespace gm::search
