// SecretBox: secret values sealed with a key kept outside the database; a value opens only
// with its key and under its own name.
#include "daemon/secret_box.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

using remsh::master::SecretBox;

namespace fs = std::filesystem;

namespace {

// A fresh directory in the temporary directory, removed at the end of the test.
struct TempDir {
  TempDir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("remsh-secret-box-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

}  // namespace

TEST_CASE("secret box: a sealed value opens again", "[secrets]") {
  TempDir dir;
  SecretBox box(dir.path / "secrets.key");
  const std::vector<std::string> values = {"", "x", "hunter2!", std::string("bin\0ary\xff", 8),
                                           std::string(100000, 'v')};
  for (const std::string& value : values) {
    const std::vector<std::uint8_t> blob = box.seal("DB_PASSWORD", value);
    CHECK(blob.size() == 2 + 12 + value.size() + 16);
    CHECK(box.open("DB_PASSWORD", blob) == value);
  }
  // The value does not appear in the blob.
  const auto blob = box.seal("API", "plain-text-value");
  CHECK(std::string(blob.begin(), blob.end()).find("plain-text-value") == std::string::npos);
}

TEST_CASE("secret box: the key file is created private and reused", "[secrets]") {
  TempDir dir;
  const fs::path key = dir.path / "secrets.key";
  std::vector<std::uint8_t> blob;
  {
    SecretBox first(key);
    blob = first.seal("TOKEN", "s3cr3t-value");
  }
  REQUIRE(fs::exists(key));
  CHECK(fs::file_size(key) == 32);
  struct stat st {};
  REQUIRE(::stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // No temporary file is left behind.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path)) ++files;
  CHECK(files == 1);

  SecretBox second(key);
  CHECK(second.open("TOKEN", blob) == "s3cr3t-value");
  CHECK(fs::file_size(key) == 32);
}

TEST_CASE("secret box: sealing the same value twice gives different blobs", "[secrets]") {
  TempDir dir;
  SecretBox box(dir.path / "secrets.key");
  const auto a = box.seal("TOKEN", "same value");
  const auto b = box.seal("TOKEN", "same value");
  CHECK(a != b);
  CHECK(box.open("TOKEN", a) == "same value");
  CHECK(box.open("TOKEN", b) == "same value");
}

TEST_CASE("secret box: a damaged blob does not open", "[secrets]") {
  TempDir dir;
  SecretBox box(dir.path / "secrets.key");
  const auto blob = box.seal("TOKEN", "s3cr3t-value");
  // Every byte matters: the version, the nonce, the ciphertext and the tag.
  for (std::size_t i = 0; i < blob.size(); ++i) {
    auto damaged = blob;
    damaged[i] ^= 0x01;
    CHECK_THROWS_AS(box.open("TOKEN", damaged), std::runtime_error);
  }
  auto truncated = blob;
  truncated.pop_back();
  CHECK_THROWS_AS(box.open("TOKEN", truncated), std::runtime_error);
  CHECK_THROWS_WITH(box.open("TOKEN", {}), Catch::StartsWith("secret TOKEN cannot be decrypted: "));
  auto damaged = blob;
  damaged.back() ^= 0x80;
  CHECK_THROWS_WITH(box.open("TOKEN", damaged), Catch::StartsWith("secret TOKEN cannot be decrypted: "));
  // The message tells what failed, never the value.
  CHECK_THROWS_WITH(box.open("TOKEN", damaged), !Catch::Contains("s3cr3t"));
}

TEST_CASE("secret box: a value moved to another name does not open", "[secrets]") {
  TempDir dir;
  SecretBox box(dir.path / "secrets.key");
  const auto blob = box.seal("PROD_TOKEN", "s3cr3t-value");
  CHECK_THROWS_WITH(box.open("TEST_TOKEN", blob), Catch::StartsWith("secret TEST_TOKEN cannot be decrypted: "));
  CHECK_THROWS_AS(box.open("PROD_TOKEN2", blob), std::runtime_error);
  CHECK(box.open("PROD_TOKEN", blob) == "s3cr3t-value");
}

TEST_CASE("secret box: another key does not open a value", "[secrets]") {
  TempDir dir;
  SecretBox one(dir.path / "one.key");
  SecretBox other(dir.path / "other.key");
  const auto blob = one.seal("TOKEN", "s3cr3t-value");
  CHECK_THROWS_WITH(other.open("TOKEN", blob), Catch::StartsWith("secret TOKEN cannot be decrypted: "));
  CHECK(one.open("TOKEN", blob) == "s3cr3t-value");
}

TEST_CASE("secret box: a key file of the wrong size is refused", "[secrets]") {
  TempDir dir;
  const fs::path key = dir.path / "secrets.key";
  for (const std::size_t size : {std::size_t{0}, std::size_t{16}, std::size_t{33}}) {
    {
      std::ofstream f(key, std::ios::binary | std::ios::trunc);
      f << std::string(size, 'k');
    }
    CHECK_THROWS_WITH(SecretBox(key), Catch::Contains(key.string()) && Catch::Contains("32"));
    // The file is left as it was: it may be the only copy of a damaged key worth restoring.
    CHECK(fs::file_size(key) == size);
  }
}
