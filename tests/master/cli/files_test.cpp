// The pure parts of the CLI's file commands: operands and the sync plan.
#include "copy_conflicts.hpp"
#include "file_spec.hpp"
#include "sync_plan.hpp"

#include <catch2/catch.hpp>

using namespace remsh::cli;

TEST_CASE("file spec: AGENT:PATH only when the colon comes before any slash", "[cli][files]") {
    CHECK(parse_file_spec("a1:src/x").agent == "a1");
    CHECK(parse_file_spec("a1:src/x").path == "src/x");
    CHECK(parse_file_spec("a1:").path == ".");
    CHECK(parse_file_spec("a1:/abs").path == "/abs");
    CHECK_FALSE(parse_file_spec("./a:b").remote());
    CHECK_FALSE(parse_file_spec("/x:y").remote());
    CHECK_FALSE(parse_file_spec(":x").remote());
    CHECK_FALSE(parse_file_spec("plain").remote());
    CHECK(path_base_name("a/b/") == "b");
    CHECK(path_base_name("b") == "b");
    CHECK(path_base_name("/") == "/");
    CHECK(path_join("a/", "b") == "a/b");
    CHECK(path_join("", "b") == "b");
}

TEST_CASE("temp name beside: same directory, marked, fresh, never cut inside a character", "[cli][files]") {
    const std::string a = temp_name_beside("dir/sub/file.txt");
    CHECK(a.rfind("dir/sub/.remsh-tmp-", 0) == 0);
    CHECK(a.size() > std::string("dir/sub/.remsh-tmp--file.txt").size());
    CHECK(a.substr(a.size() - 9) == "-file.txt");
    CHECK(temp_name_beside("dir/sub/file.txt") != a);
    CHECK(temp_name_beside("file").rfind(".remsh-tmp-", 0) == 0);
    CHECK(temp_name_beside("C:\\work\\big").rfind("C:\\work\\.remsh-tmp-", 0) == 0);
    // 99 ASCII bytes, then a two-byte character across the 100-byte cut: dropped whole.
    const std::string name = std::string(99, 'x') + "\xC3\xA9tail";
    const std::string t = temp_name_beside(name);
    CHECK(t.substr(t.size() - 100) == "-" + std::string(99, 'x'));
}

namespace {

ManifestEntry file(std::string path, std::uint64_t size, std::string sha, std::uint32_t mode = 0644) {
    return ManifestEntry{std::move(path), "file", size, mode, std::move(sha), ""};
}
ManifestEntry dir(std::string path, std::uint32_t mode = 0755) {
    return ManifestEntry{std::move(path), "directory", 0, mode, "", ""};
}
ManifestEntry symlink_entry(std::string path, std::string target) {
    return ManifestEntry{std::move(path), "symlink", 0, 0777, "", std::move(target)};
}

}  // namespace

TEST_CASE("sync plan: only what differs is sent and hashing only where sizes agree", "[cli][files]") {
    std::vector<ManifestEntry> local{dir("d"), file("d/same", 3, "s1"), file("d/changed", 3, "new"),
                                     file("d/bigger", 5, "b"), file("d/mode", 3, "m", 0755),
                                     symlink_entry("l", "d/same"), symlink_entry("l2", "elsewhere"), file("added", 1, "a")};
    std::vector<ManifestEntry> remote{dir("d"), file("d/same", 3, "s1"), file("d/changed", 3, "old"),
                                      file("d/bigger", 4, "b"), file("d/mode", 3, "m"),
                                      symlink_entry("l", "d/same"), symlink_entry("l2", "d/same"), dir("gone"), file("gone/x", 1, "x"),
                                      file("stale", 1, "s")};
    std::vector<std::size_t> hashed;
    auto hash = [&](std::size_t i) {
        hashed.push_back(i);
        return local[i].sha256;
    };
    SyncPlan plan = plan_sync(local, remote, /*delete_extra=*/false, hash);
    CHECK(plan.send == std::vector<std::size_t>{2, 3, 4, 6, 7});
    CHECK(plan.bytes == 3 + 5 + 3 + 1);
    CHECK(hashed == std::vector<std::size_t>{1, 2});
    CHECK(plan.remove.empty());
    plan = plan_sync(local, remote, /*delete_extra=*/true, hash);
    CHECK(plan.remove == std::vector<std::string>{"gone", "stale"});
}

TEST_CASE("sync plan: a type change is resent and an empty remote gets everything", "[cli][files]") {
    std::vector<ManifestEntry> local{file("x", 1, "a"), dir("y")};
    std::vector<ManifestEntry> remote{dir("x"), file("y", 1, "a")};
    auto never = [](std::size_t) -> std::string { FAIL("no hashing expected"); return ""; };
    CHECK(plan_sync(local, remote, true, never).send == std::vector<std::size_t>{0, 1});
    // The remote directory x goes with all it holds: only with --delete (sync_command).
    CHECK(plan_sync(local, remote, false, never).replace == std::vector<std::string>{"x"});
    CHECK(plan_sync(local, {}, true, never).send == std::vector<std::size_t>{0, 1});
    CHECK(plan_sync(local, {}, true, never).replace.empty());
    CHECK(plan_sync(local, {}, true, never).remove.empty());
}

TEST_CASE("sync plan: nothing is removed below a directory the upload replaces with a link", "[cli][files]") {
    std::vector<ManifestEntry> local{symlink_entry("x", "../shared")};
    std::vector<ManifestEntry> remote{dir("x"), file("x/f", 1, "a"), file("y", 1, "b")};
    auto never = [](std::size_t) -> std::string { FAIL("no hashing expected"); return ""; };
    const SyncPlan plan = plan_sync(local, remote, true, never);
    CHECK(plan.send == std::vector<std::size_t>{0});
    CHECK(plan.remove == std::vector<std::string>{"y"});
    CHECK(plan.replace == std::vector<std::string>{"x"});
}

TEST_CASE("cp -r upload: nothing at the destination changes type; what would is left out with what is below it",
          "[cli][files]") {
    auto local = [](std::string path, remsh::protocol::TreeEntryType type) {
        remsh::cli::LocalEntry e;
        e.entry.path = std::move(path);
        e.entry.type = type;
        return e;
    };
    using remsh::protocol::TreeEntryType;
    std::vector<remsh::cli::LocalEntry> mine{local("a", TreeEntryType::directory),     // a dir there too: fine
                                             local("a/f", TreeEntryType::file),        // a dir there: refused
                                             local("a/g", TreeEntryType::file),        // new
                                             local("b", TreeEntryType::directory),     // a file there: refused
                                             local("b/x", TreeEntryType::file),        // below b: left out silently
                                             local("b/y", TreeEntryType::directory),
                                             local("bb", TreeEntryType::file),         // not below b
                                             local("l", TreeEntryType::symlink),       // a dir there: refused
                                             local("s", TreeEntryType::file)};         // a link there: replaced
    std::vector<ManifestEntry> theirs{dir("a"), dir("a/f"), file("a/f/keep", 1, "k"), file("b", 1, "b"), dir("l"),
                                      symlink_entry("s", "a")};
    const auto selection = remsh::cli::select_upload(mine, theirs, "a1:dst");
    std::vector<std::string> sent;
    for (const auto& e : selection.send) sent.push_back(e.entry.path);
    CHECK(sent == std::vector<std::string>{"a", "a/g", "bb", "s"});
    CHECK(selection.refusals == std::vector<std::string>{
                                    "cannot overwrite directory 'a1:dst/a/f' with non-directory",
                                    "cannot overwrite non-directory 'a1:dst/b' with directory",
                                    "cannot overwrite directory 'a1:dst/l' with non-directory"});
}
