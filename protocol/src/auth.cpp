#include "remsh/protocol/auth.hpp"

#include <cstring>

namespace remsh::protocol {
namespace {

// SHA-256 as in FIPS 180-4.
class Sha256 {
 public:
  void update(ByteView data) {
    for (std::uint8_t b : data) {
      block_[fill_++] = b;
      if (fill_ == 64) {
        compress();
        fill_ = 0;
      }
    }
    length_ += data.size();
  }

  Digest finish() {
    const std::uint64_t bits = length_ * 8;
    std::uint8_t pad = 0x80;
    update(ByteView{&pad, 1});
    const std::uint8_t zero = 0;
    while (fill_ != 56) update(ByteView{&zero, 1});
    std::uint8_t len[8];
    store_u64(len, bits);
    update(ByteView{len, 8});
    Digest out;
    for (int i = 0; i < 8; ++i) store_u32(out.data() + 4 * i, h_[i]);
    return out;
  }

 private:
  static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

  void compress() {
    static constexpr std::uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    std::uint32_t w[64];
    for (int i = 0; i < 16; ++i) w[i] = load_u32(block_ + 4 * i);
    for (int i = 16; i < 64; ++i) {
      std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6],
                  h = h_[7];
    for (int i = 0; i < 64; ++i) {
      std::uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                         k[i] + w[i];
      std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a; h_[1] += b; h_[2] += c; h_[3] += d;
    h_[4] += e; h_[5] += f; h_[6] += g; h_[7] += h;
  }

  std::uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::uint8_t block_[64] = {};
  std::size_t fill_ = 0;
  std::uint64_t length_ = 0;
};

std::string auth_message(std::string_view agent, std::string_view agent_nonce,
                         std::string_view master_nonce) {
  std::string m = "remsh-auth-v1,";
  m += agent;
  m += ',';
  m += agent_nonce;
  m += ',';
  m += master_nonce;
  return m;
}

}  // namespace

Digest sha256(ByteView data) {
  Sha256 s;
  s.update(data);
  return s.finish();
}

Digest hmac_sha256(ByteView key, ByteView message) {
  std::uint8_t k[64] = {};
  if (key.size() > 64) {
    Digest kd = sha256(key);
    std::memcpy(k, kd.data(), kd.size());
  } else if (!key.empty()) {
    std::memcpy(k, key.data(), key.size());
  }
  std::uint8_t ipad[64], opad[64];
  for (int i = 0; i < 64; ++i) {
    ipad[i] = static_cast<std::uint8_t>(k[i] ^ 0x36);
    opad[i] = static_cast<std::uint8_t>(k[i] ^ 0x5c);
  }
  Sha256 inner;
  inner.update(ByteView{ipad, 64});
  inner.update(message);
  Digest ih = inner.finish();
  Sha256 outer;
  outer.update(ByteView{opad, 64});
  outer.update(ByteView{ih});
  return outer.finish();
}

std::string to_hex(ByteView bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> from_hex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::uint8_t> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

Digest client_key(ByteView secret) { return hmac_sha256(secret, as_bytes("remsh client key")); }

Digest stored_key(ByteView secret) {
  Digest ck = client_key(secret);
  return sha256(ByteView{ck});
}

std::string auth_proof(ByteView secret, std::string_view agent, std::string_view agent_nonce_hex,
                       std::string_view master_nonce_hex) {
  Digest ck = client_key(secret);
  Digest sk = sha256(ByteView{ck});
  Digest sig = hmac_sha256(ByteView{sk},
                           as_bytes(auth_message(agent, agent_nonce_hex, master_nonce_hex)));
  Digest proof;
  for (std::size_t i = 0; i < proof.size(); ++i) proof[i] = ck[i] ^ sig[i];
  return to_hex(ByteView{proof});
}

bool verify_auth_proof(const Digest& stored, std::string_view agent,
                       std::string_view agent_nonce_hex, std::string_view master_nonce_hex,
                       std::string_view proof_hex) {
  auto proof = from_hex(proof_hex);
  if (!proof || proof->size() != 32) return false;
  Digest sig = hmac_sha256(ByteView{stored},
                           as_bytes(auth_message(agent, agent_nonce_hex, master_nonce_hex)));
  Digest ck;
  for (std::size_t i = 0; i < ck.size(); ++i) ck[i] = (*proof)[i] ^ sig[i];
  Digest check = sha256(ByteView{ck});
  std::uint8_t diff = 0;
  for (std::size_t i = 0; i < check.size(); ++i) diff |= static_cast<std::uint8_t>(check[i] ^ stored[i]);
  return diff == 0;
}

}  // namespace remsh::protocol
