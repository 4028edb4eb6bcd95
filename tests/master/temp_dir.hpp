// Test helpers for the master storage tests: a private temporary directory and error tags.
#pragma once

#include "storage/storage.hpp"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace remsh::master::test {

// mkdtemp() directory, removed with its contents on destruction.
class TempDir {
public:
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                              "/remsh-storage-test-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

// The StorageError tag fn throws, "(no error)" if it returns, "(other exception)" otherwise.
template <typename Fn>
std::string tag_of(Fn&& fn) {
    try {
        fn();
    } catch (const StorageError& e) {
        return e.tag;
    } catch (...) {
        return "(other exception)";
    }
    return "(no error)";
}

}  // namespace remsh::master::test
