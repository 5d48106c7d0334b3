#include "store/cursor.h"

#include <array>
#include <bit>
#include <cstring>

namespace gm::store {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr uint8_t kFormat = 1;
enum Tag : uint8_t { kNull = 0, kInt = 1, kReal = 2, kText = 3 };

std::string Base64Url(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

bool UnBase64Url(std::string_view in, std::string& out) {
  static const std::array<int8_t, 256> kDecode = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 64; ++i) t[uint8_t(kAlphabet[i])] = int8_t(i);
    return t;
  }();
  if (in.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int8_t d = kDecode[uint8_t(c)];
    if (d < 0) return false;
    acc = (acc << 6) | uint32_t(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xFF);
    }
  }
  // Leftover bits must be zero padding, so each cursor has one spelling.
  return (acc & ((1u << bits) - 1)) == 0;
}

void PutU64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out += char((v >> (i * 8)) & 0xFF);
}

bool GetU64(std::string_view& in, uint64_t& v) {
  if (in.size() < 8) return false;
  v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | uint8_t(in[i]);
  in.remove_prefix(8);
  return true;
}

Status Invalid() { return InvalidCursorError(); }

}  // namespace

Status InvalidCursorError() {
  return Status::Error(ErrorCategory::kInvalid, "GM-STORE-030", "invalid",
                       "The paging cursor is not valid for this request");
}

std::string EncodeCursor(std::string_view tag, const std::vector<KeyValue>& values) {
  std::string raw;
  raw += char(kFormat);
  raw += char(uint8_t(tag.size()));
  raw.append(tag.substr(0, 255));
  for (const KeyValue& v : values) {
    if (std::holds_alternative<std::monostate>(v)) {
      raw += char(kNull);
    } else if (const int64_t* i = std::get_if<int64_t>(&v)) {
      raw += char(kInt);
      PutU64(raw, uint64_t(*i));
    } else if (const double* d = std::get_if<double>(&v)) {
      raw += char(kReal);
      PutU64(raw, std::bit_cast<uint64_t>(*d));
    } else {
      const std::string& s = std::get<std::string>(v);
      raw += char(kText);
      PutU64(raw, s.size());
      raw += s;
    }
  }
  return Base64Url(raw);
}

Result<std::vector<KeyValue>> DecodeCursor(std::string_view tag, std::string_view cursor,
                                           size_t expected_count) {
  std::string raw;
  if (cursor.size() > 64 * 1024 || !UnBase64Url(cursor, raw)) return Invalid();
  std::string_view in = raw;
  if (in.size() < 2 || uint8_t(in[0]) != kFormat) return Invalid();
  size_t tag_size = uint8_t(in[1]);
  in.remove_prefix(2);
  if (in.size() < tag_size || in.substr(0, tag_size) != tag) return Invalid();
  in.remove_prefix(tag_size);
  std::vector<KeyValue> values;
  while (!in.empty()) {
    uint8_t t = uint8_t(in[0]);
    in.remove_prefix(1);
    uint64_t n = 0;
    switch (t) {
      case kNull:
        values.emplace_back(std::monostate{});
        break;
      case kInt:
        if (!GetU64(in, n)) return Invalid();
        values.emplace_back(int64_t(n));
        break;
      case kReal:
        if (!GetU64(in, n)) return Invalid();
        values.emplace_back(std::bit_cast<double>(n));
        break;
      case kText:
        if (!GetU64(in, n) || n > in.size()) return Invalid();
        values.emplace_back(std::string(in.substr(0, n)));
        in.remove_prefix(n);
        break;
      default:
        return Invalid();
    }
  }
  if (values.size() != expected_count) return Invalid();
  return values;
}

}  // namespace gm::store
