// agent.json: save/load round trip, private modes, and the errors a broken file gives.
#include "core/agent_config.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>

using namespace remsh::agent;
using remsh::agent::test::TempDir;
namespace fs = std::filesystem;

namespace {

AgentConfig sample(const fs::path& work) {
  AgentConfig c;
  c.master = "master.example:4433";
  c.fingerprint = std::string(64, 'a');
  c.name = "builder-1";
  c.secret = std::string(62, '0') + "ff";
  c.work_dir = work;
  return c;
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return static_cast<unsigned>(st.st_mode & 0777);
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

}  // namespace

TEST_CASE("agent config: save then load gives the same config", "[config]") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "conf" / "nested";
  AgentConfig saved = sample(tmp.path() / "work");
  save_config(dir, saved);
  AgentConfig loaded = load_config(dir);
  CHECK(loaded.master == saved.master);
  CHECK(loaded.fingerprint == saved.fingerprint);
  CHECK(loaded.plaintext == false);
  CHECK(loaded.name == saved.name);
  CHECK(loaded.secret == saved.secret);
  CHECK(loaded.work_dir == saved.work_dir);
}

TEST_CASE("agent config: the file is 0600 and a directory it creates is 0700", "[config]") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "conf";
  save_config(dir, sample(tmp.path() / "work"));
  CHECK(mode_of(dir) == 0700);
  CHECK(mode_of(config_path(dir)) == 0600);
  // Saving again replaces the file atomically and leaves no temporary file behind.
  AgentConfig second = sample(tmp.path() / "work");
  second.name = "builder-2";
  save_config(dir, second);
  CHECK(load_config(dir).name == "builder-2");
  CHECK(mode_of(config_path(dir)) == 0600);
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++files;
  CHECK(files == 1);
}

TEST_CASE("agent config: a plaintext master needs no fingerprint", "[config]") {
  TempDir tmp;
  AgentConfig c = sample(tmp.path() / "work");
  c.plaintext = true;
  c.fingerprint.clear();
  save_config(tmp.path(), c);
  CHECK(load_config(tmp.path()).plaintext);
}

TEST_CASE("agent config: missing or broken files are refused with a reason", "[config]") {
  TempDir tmp;
  CHECK_THROWS_WITH(load_config(tmp.path()), Catch::Contains("remsh-agent enroll"));

  write_file(config_path(tmp.path()), "{not json");
  CHECK_THROWS_AS(load_config(tmp.path()), ConfigError);

  const std::string good_secret(64, '1');
  write_file(config_path(tmp.path()),
             R"({"master":"m:1","fingerprint":"","name":"a","secret":")" + good_secret +
                 R"(","work_dir":"/w"})");
  CHECK_THROWS_WITH(load_config(tmp.path()), Catch::Contains("fingerprint"));

  write_file(config_path(tmp.path()), R"({"master":"m:1","plaintext":true,"name":"a","secret":"xyz","work_dir":"/w"})");
  CHECK_THROWS_WITH(load_config(tmp.path()), Catch::Contains("secret"));

  write_file(config_path(tmp.path()),
             R"({"master":"m:1","plaintext":true,"name":"a","secret":")" + good_secret +
                 R"(","work_dir":"relative"})");
  CHECK_THROWS_WITH(load_config(tmp.path()), Catch::Contains("work_dir"));

  write_file(config_path(tmp.path()),
             R"({"master":"no-port","plaintext":true,"name":"a","secret":")" + good_secret +
                 R"(","work_dir":"/w"})");
  CHECK_THROWS_WITH(load_config(tmp.path()), Catch::Contains("host:port"));
}
