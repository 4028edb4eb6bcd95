#include <catch2/catch.hpp>

#include "remsh/protocol/auth.hpp"

using namespace remsh::protocol;

TEST_CASE("sha256 matches FIPS 180-4 examples", "[auth]") {
  REQUIRE(to_hex(ByteView{sha256(as_bytes(""))}) ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  REQUIRE(to_hex(ByteView{sha256(as_bytes("abc"))}) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  REQUIRE(to_hex(ByteView{sha256(as_bytes(
              "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))}) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  REQUIRE(to_hex(ByteView{sha256(as_bytes(million))}) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("hmac-sha256 matches RFC 4231", "[auth]") {
  std::vector<std::uint8_t> key1(20, 0x0b);
  REQUIRE(to_hex(ByteView{hmac_sha256(key1, as_bytes("Hi There"))}) ==
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  REQUIRE(to_hex(ByteView{hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))}) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  std::vector<std::uint8_t> key6(131, 0xaa);  // longer than a block: hashed first
  REQUIRE(to_hex(ByteView{hmac_sha256(
              key6, as_bytes("Test Using Larger Than Block-Size Key - Hash Key First"))}) ==
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_CASE("hex round trip and refusal", "[auth]") {
  auto bytes = from_hex("00ff10Ab");
  REQUIRE(bytes);
  REQUIRE(to_hex(*bytes) == "00ff10ab");
  REQUIRE_FALSE(from_hex("abc"));
  REQUIRE_FALSE(from_hex("zz"));
}

TEST_CASE("auth proof verifies with the stored key only", "[auth]") {
  std::vector<std::uint8_t> secret(32, 7);
  std::string an(64, 'a'), mn(64, 'b');
  std::string proof = auth_proof(secret, "builder", an, mn);
  Digest stored = stored_key(secret);
  REQUIRE(verify_auth_proof(stored, "builder", an, mn, proof));
  REQUIRE_FALSE(verify_auth_proof(stored, "other", an, mn, proof));
  REQUIRE_FALSE(verify_auth_proof(stored, "builder", an, std::string(64, 'c'), proof));
  std::vector<std::uint8_t> wrong(32, 8);
  REQUIRE_FALSE(verify_auth_proof(stored_key(wrong), "builder", an, mn, proof));
  REQUIRE_FALSE(verify_auth_proof(stored, "builder", an, mn, "zz"));
  // A recorded proof does not verify against fresh nonces.
  REQUIRE_FALSE(verify_auth_proof(stored, "builder", std::string(64, 'd'), mn, proof));
}
