// LocalTreeSink: what `remsh cp -r AGENT:DIR LOCAL` writes. The archive comes from an agent,
// so no sequence of entries may put a file outside the local target.
#include "local_tree_sink.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace fs = std::filesystem;
using remsh::cli::LocalTreeSink;
using remsh::protocol::ErrorTag;
using remsh::protocol::ProtocolError;
using remsh::protocol::TreeEntry;
using remsh::protocol::TreeEntryType;

namespace {

class ScratchDir {
public:
    ScratchDir() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/remsh-sink-test-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        path_ = pattern;
    }
    ~ScratchDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

std::optional<ProtocolError> put_file(LocalTreeSink& sink, const std::string& path, const std::string& text) {
    TreeEntry file{TreeEntryType::file, path, 0644, 1000, text.size(), ""};
    if (auto error = sink.on_entry(file)) {
        return error;
    }
    if (auto error = sink.on_file_data(remsh::protocol::as_bytes(text))) {
        return error;
    }
    return sink.on_file_end();
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("local tree sink: a link the archive made is never followed by a later entry", "[cli][tree]") {
    ScratchDir scratch;
    const fs::path outside = scratch.path() / "outside";
    fs::create_directory(outside);
    const fs::path root = scratch.path() / "back";
    LocalTreeSink sink(root.string());
    REQUIRE_FALSE(sink.on_entry(TreeEntry{TreeEntryType::directory, "d", 0755, 0, 0, ""}));
    REQUIRE_FALSE(put_file(sink, "d/one", "1"));
    REQUIRE_FALSE(sink.on_entry(TreeEntry{TreeEntryType::symlink, "l", 0777, 0, 0, outside.string()}));
    auto error = put_file(sink, "l/planted", "x");
    REQUIRE(error);
    CHECK(error->tag == ErrorTag::path_outside_workdir);
    CHECK(fs::is_empty(outside));
}

TEST_CASE("local tree sink: a directory is never replaced by a file or a link, nor a file by a directory",
          "[cli][tree]") {
    ScratchDir scratch;
    const fs::path outside = scratch.path() / "outside";
    fs::create_directory(outside);
    const fs::path root = scratch.path() / "back";
    fs::create_directories(root / "mine");
    std::ofstream(root / "mine" / "precious") << "keep";
    std::ofstream(root / "plain") << "a file";
    LocalTreeSink sink(root.string());
    // A file and a link where directories are: left out, their content goes nowhere.
    REQUIRE_FALSE(put_file(sink, "mine", "would replace a tree"));
    REQUIRE_FALSE(sink.on_entry(TreeEntry{TreeEntryType::directory, "d", 0755, 0, 0, ""}));
    REQUIRE_FALSE(sink.on_entry(TreeEntry{TreeEntryType::symlink, "d", 0777, 0, 0, outside.string()}));
    REQUIRE_FALSE(put_file(sink, "d/inside", "in d"));
    // A directory where a file is: left out with everything the archive has below it.
    REQUIRE_FALSE(sink.on_entry(TreeEntry{TreeEntryType::directory, "plain", 0755, 0, 0, ""}));
    REQUIRE_FALSE(put_file(sink, "plain/below", "no"));
    REQUIRE_FALSE(sink.on_entry(TreeEntry{TreeEntryType::directory, "plain/deeper", 0755, 0, 0, ""}));
    // Then the copy goes on.
    REQUIRE_FALSE(put_file(sink, "after", "yes"));
    REQUIRE_FALSE(sink.on_archive_end());
    CHECK(read_text(root / "mine" / "precious") == "keep");
    CHECK(read_text(root / "plain") == "a file");
    CHECK(read_text(root / "d" / "inside") == "in d");
    CHECK(fs::is_directory(fs::symlink_status(root / "d")));
    CHECK(read_text(root / "after") == "yes");
    CHECK(fs::is_empty(outside));
    REQUIRE(sink.refusals().size() == 3);
    CHECK(sink.refusals()[0] == "cannot overwrite directory '" + (root / "mine").string() + "' with non-directory");
    CHECK(sink.refusals()[1] == "cannot overwrite directory '" + (root / "d").string() + "' with non-directory");
    CHECK(sink.refusals()[2] == "cannot overwrite non-directory '" + (root / "plain").string() + "' with directory");
}

TEST_CASE("local tree sink: files and links replace files and links", "[cli][tree]") {
    ScratchDir scratch;
    const fs::path root = scratch.path() / "back";
    fs::create_directories(root);
    std::ofstream(root / "f") << "old";
    fs::create_symlink("f", root / "l");
    LocalTreeSink sink(root.string());
    REQUIRE_FALSE(put_file(sink, "l", "a file now"));
    REQUIRE_FALSE(sink.on_entry(TreeEntry{TreeEntryType::symlink, "f", 0777, 0, 0, "l"}));
    REQUIRE_FALSE(sink.on_archive_end());
    CHECK(sink.refusals().empty());
    CHECK(fs::is_regular_file(fs::symlink_status(root / "l")));
    CHECK(read_text(root / "l") == "a file now");
    CHECK(fs::read_symlink(root / "f") == "l");
}
