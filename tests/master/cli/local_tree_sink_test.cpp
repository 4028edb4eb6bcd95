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

TEST_CASE("local tree sink: files of one directory, then that directory replaced by a link", "[cli][tree]") {
    ScratchDir scratch;
    const fs::path outside = scratch.path() / "outside";
    fs::create_directory(outside);
    const fs::path root = scratch.path() / "back";
    LocalTreeSink sink(root.string());
    REQUIRE_FALSE(sink.on_entry(TreeEntry{TreeEntryType::directory, "d", 0755, 0, 0, ""}));
    REQUIRE_FALSE(put_file(sink, "d/one", "1"));
    REQUIRE_FALSE(put_file(sink, "d/two", "2"));
    CHECK(read_text(root / "d" / "two") == "2");
    // The link replaces d; a file "in" d must not follow it out.
    REQUIRE_FALSE(sink.on_entry(TreeEntry{TreeEntryType::symlink, "d", 0777, 0, 0, outside.string()}));
    auto error = put_file(sink, "d/planted", "x");
    REQUIRE(error);
    CHECK(error->tag == ErrorTag::path_outside_workdir);
    CHECK(fs::is_empty(outside));
}

TEST_CASE("local tree sink: a file that replaces a directory ends the files below it", "[cli][tree]") {
    ScratchDir scratch;
    const fs::path root = scratch.path() / "back";
    LocalTreeSink sink(root.string());
    REQUIRE_FALSE(put_file(sink, "e/one", "1"));  // e made on the way
    REQUIRE_FALSE(put_file(sink, "e/two", "2"));
    REQUIRE_FALSE(put_file(sink, "e", "now a file"));
    CHECK(read_text(root / "e") == "now a file");
    auto error = put_file(sink, "e/three", "3");
    REQUIRE(error);
    CHECK(error->tag == ErrorTag::path_outside_workdir);
    REQUIRE_FALSE(put_file(sink, "f/one", "1"));
    REQUIRE_FALSE(sink.on_archive_end());
    CHECK(read_text(root / "f" / "one") == "1");
}
