// Windows implementation of platform/file_system.hpp, on the Win32 wide-character API.
//
// What differs from POSIX, as the core sees it:
// - Modes are synthesised: 0755 for directories, 0644 for files, 0444 for read-only files,
//   0777 for links. The only part of a mode Windows keeps is the owner-write bit, as the
//   read-only attribute of a file (directories ignore it: their read-only attribute does not
//   stop anyone changing their entries).
// - Symbolic links are reparse points: symlinks, and junctions (their older directory-only
//   form) are both reported as `symlink`. Other reparse points that stand for another name
//   (WSL links, ...) and AF_UNIX sockets are `other`; the rest (cloud placeholders, dedup)
//   are plain files and directories.
// - Every path goes to Win32 in its \\?\ form (win_path), so the 260-character MAX_PATH
//   limit does not apply.
// - Names are UTF-16 in the system and UTF-8 here; a name from list_names is joined with
//   child(), never by fs::path(std::string), which would use the ANSI code page.
#include "platform/file_system.hpp"

#include "platform/random.hpp"
#include "wide.hpp"

#include <windows.h>
#include <winioctl.h>

#include <algorithm>
#include <cwctype>
#include <cstring>
#include <cwchar>
#include <limits>
#include <utility>
#include <vector>

namespace remsh::agent {
namespace fs = std::filesystem;
using win::narrow;
using win::widen;

namespace {

constexpr DWORD kShareAll = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;

std::error_code win_error(DWORD code) { return {static_cast<int>(code), std::system_category()}; }
std::error_code last_error() { return win_error(GetLastError()); }

// "Not there" as Win32 says it: a missing name, a missing directory on the way to it, or a
// name no file can have ('*', '?', ...).
bool is_absent(DWORD code) {
  return code == ERROR_FILE_NOT_FOUND || code == ERROR_PATH_NOT_FOUND || code == ERROR_INVALID_NAME;
}

// The form of an absolute path that Win32 calls get. The \\?\ prefix (\\?\UNC\ for
// \\server\share) lifts the MAX_PATH limit, but it also turns off Win32's own clean-up of
// the path, so that is done here first: '/' becomes '\', and "." and ".." components,
// doubled separators and a trailing separator go (the core gives normalised paths; this
// keeps a joined link target or an odd caller from reaching the system verbatim).
std::wstring win_path(const fs::path& path) {
  std::wstring s = path.wstring();
  std::replace(s.begin(), s.end(), L'/', L'\\');
  if (s.starts_with(LR"(\\?\)") || s.starts_with(LR"(\\.\)")) return s;  // already verbatim
  // \\server\share\rest: cleaned up as "server\share\rest" (lexically_normal would fold the
  // leading "\\" into one separator).
  const bool unc = s.starts_with(LR"(\\)");
  fs::path p = fs::path(unc ? s.substr(2) : s).lexically_normal();
  if (p.has_relative_path() && !p.has_filename()) p = p.parent_path();  // "C:\a\" -> "C:\a"
  if (unc) return LR"(\\?\UNC\)" + p.wstring();
  if (p.has_root_name() && p.has_root_directory()) return LR"(\\?\)" + p.wstring();
  return p.wstring();  // relative or drive-relative: not expected; left to Win32 as it is
}

// A UTF-8 name (from list_names) below a directory.
fs::path child(const fs::path& dir, const std::string& name) { return dir / widen(name); }

class Handle {
 public:
  explicit Handle(HANDLE h = INVALID_HANDLE_VALUE) : h_(h) {}
  Handle(Handle&& other) noexcept : h_(std::exchange(other.h_, INVALID_HANDLE_VALUE)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      h_ = std::exchange(other.h_, INVALID_HANDLE_VALUE);
    }
    return *this;
  }
  ~Handle() { reset(); }
  HANDLE get() const { return h_; }
  explicit operator bool() const { return h_ != INVALID_HANDLE_VALUE; }
  void reset() {
    if (*this) CloseHandle(std::exchange(h_, INVALID_HANDLE_VALUE));
  }
  // Closing is where a write can still fail; false with GetLastError() set.
  bool close() { return CloseHandle(std::exchange(h_, INVALID_HANDLE_VALUE)) != 0; }

 private:
  HANDLE h_;
};

// Opens the name itself: a link is not followed, and a directory can be opened too.
Handle open_no_follow(const std::wstring& w, DWORD access) {
  return Handle(CreateFileW(w.c_str(), access, kShareAll, nullptr, OPEN_EXISTING,
                            FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, nullptr));
}

// ---- times: FILETIME counts 100 ns since 1601-01-01, the protocol ms since 1970-01-01 ----

constexpr std::int64_t kUnixEpoch100ns = 116444736000000000;

std::int64_t to_ms(const FILETIME& ft) {
  const auto ticks = static_cast<std::int64_t>((static_cast<std::uint64_t>(ft.dwHighDateTime) << 32) |
                                               ft.dwLowDateTime);
  const std::int64_t t = ticks - kUnixEpoch100ns;
  return t >= 0 ? t / 10000 : -((-t + 9999) / 10000);  // rounded down, like POSIX before 1970
}

FILETIME to_filetime(std::int64_t ms) {
  // Clamped to what a FILETIME holds; the lowest value is 1 ms after 1601 because an all-zero
  // FILETIME means "leave this time unchanged" to SetFileTime.
  constexpr std::int64_t lowest = -kUnixEpoch100ns / 10000 + 1;
  constexpr std::int64_t highest = (std::numeric_limits<std::int64_t>::max() - kUnixEpoch100ns) / 10000;
  const std::int64_t t = std::clamp(ms, lowest, highest) * 10000 + kUnixEpoch100ns;
  return {static_cast<DWORD>(t & 0xFFFFFFFF), static_cast<DWORD>(t >> 32)};
}

bool set_write_time(HANDLE h, std::int64_t mtime_ms, std::error_code& ec) {
  const FILETIME ft = to_filetime(mtime_ms);
  if (!SetFileTime(h, nullptr, nullptr, &ft)) ec = last_error();
  return !ec;
}

// ---- the read-only attribute: the one part of a mode Windows has ----

// Attributes a caller may set (the others, such as DIRECTORY or REPARSE_POINT, are the file
// system's to say).
constexpr DWORD kSettableAttributes = FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM |
                                      FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_TEMPORARY |
                                      FILE_ATTRIBUTE_OFFLINE | FILE_ATTRIBUTE_NOT_CONTENT_INDEXED;

// Through a handle with FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES, so that which file is
// changed was settled when it was opened.
void set_readonly(HANDLE h, bool readonly, std::error_code& ec) {
  BY_HANDLE_FILE_INFORMATION fi{};
  if (!GetFileInformationByHandle(h, &fi)) return void(ec = last_error());
  const DWORD old_attrs = fi.dwFileAttributes & kSettableAttributes;
  const DWORD new_attrs = readonly ? old_attrs | FILE_ATTRIBUTE_READONLY : old_attrs & ~DWORD{FILE_ATTRIBUTE_READONLY};
  if (new_attrs == old_attrs) return;
  FILE_BASIC_INFO basic{};  // zero times: left unchanged
  basic.FileAttributes = new_attrs != 0 ? new_attrs : FILE_ATTRIBUTE_NORMAL;  // 0 would mean "unchanged"
  if (!SetFileInformationByHandle(h, FileBasicInfo, &basic, sizeof basic)) ec = last_error();
}

void set_readonly_no_follow(const std::wstring& w, bool readonly, std::error_code& ec) {
  Handle h = open_no_follow(w, FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES);
  if (!h) return void(ec = last_error());
  set_readonly(h.get(), readonly, ec);
}

// ---- reparse points (symbolic links, junctions, ...) ----

// The fixed parts of REPARSE_DATA_BUFFER (ntifs.h; not in mingw's user-mode headers). The
// buffer is read at these offsets with memcpy, which needs no alignment and never reads
// past what the system returned.
struct ReparseHeader {
  ULONG tag;
  USHORT data_length;
  USHORT reserved;
};
struct ReparseNames {  // offsets and lengths in bytes, from the start of the path buffer
  USHORT substitute_offset;
  USHORT substitute_length;
  USHORT print_offset;
  USHORT print_length;
};
constexpr std::size_t kNamesAt = sizeof(ReparseHeader);
constexpr std::size_t kSymlinkPathsAt = kNamesAt + sizeof(ReparseNames) + sizeof(ULONG);  // after Flags
constexpr std::size_t kMountPointPathsAt = kNamesAt + sizeof(ReparseNames);

struct ReparsePoint {
  DWORD tag = 0;
  std::wstring target;  // symlinks and junctions only
};

// What FSCTL_GET_REPARSE_POINT gave: the tag, and the target of a symlink or junction.
ReparsePoint parse_reparse_data(std::span<const unsigned char> data, std::error_code& ec) {
  ReparsePoint rp;
  const auto malformed = [&] {
    ec = win_error(ERROR_INVALID_REPARSE_DATA);
    return rp;
  };
  ReparseHeader header{};
  if (data.size() < sizeof header) return malformed();
  std::memcpy(&header, data.data(), sizeof header);
  rp.tag = header.tag;

  const bool symlink = rp.tag == IO_REPARSE_TAG_SYMLINK;
  if (!symlink && rp.tag != IO_REPARSE_TAG_MOUNT_POINT) return rp;
  const std::size_t paths_at = symlink ? kSymlinkPathsAt : kMountPointPathsAt;
  if (data.size() < paths_at) return malformed();
  ReparseNames names{};
  ULONG flags = 0;
  std::memcpy(&names, data.data() + kNamesAt, sizeof names);
  if (symlink) std::memcpy(&flags, data.data() + kNamesAt + sizeof names, sizeof flags);
  auto text = [&](USHORT offset, USHORT length) -> std::optional<std::wstring> {
    if (paths_at + offset + length > data.size()) return std::nullopt;
    std::wstring s(length / sizeof(wchar_t), L'\0');
    std::memcpy(s.data(), data.data() + paths_at + offset, s.size() * sizeof(wchar_t));
    return s;
  };
  // The print name is the target as it was given ("..\lib", "C:\data"); the substitute name
  // is the system's form of it ("\??\C:\data"), used when a tool left the print name empty.
  const auto print = text(names.print_offset, names.print_length);
  const auto substitute = text(names.substitute_offset, names.substitute_length);
  if (!print || !substitute) return malformed();
  rp.target = !print->empty() ? *print : *substitute;
  if (print->empty() && rp.target.starts_with(LR"(\??\UNC\)")) rp.target = LR"(\\)" + rp.target.substr(8);
  if (print->empty() && rp.target.starts_with(LR"(\??\)")) rp.target.erase(0, 4);
  // A relative link is given back '/'-separated, as it was most likely made (make_symlink
  // turns '/' into '\', without which Windows cannot follow it): a POSIX peer gets a link
  // that works there too.
  if (symlink && (flags & SYMLINK_FLAG_RELATIVE)) std::replace(rp.target.begin(), rp.target.end(), L'\\', L'/');
  return rp;
}

ReparsePoint read_reparse_point(const std::wstring& w, std::error_code& ec) {
  Handle h = open_no_follow(w, FILE_READ_ATTRIBUTES);
  if (!h) {
    ec = last_error();
    return {};
  }
  std::vector<unsigned char> buf(MAXIMUM_REPARSE_DATA_BUFFER_SIZE);
  DWORD got = 0;
  if (!DeviceIoControl(h.get(), FSCTL_GET_REPARSE_POINT, nullptr, 0, buf.data(), static_cast<DWORD>(buf.size()),
                       &got, nullptr)) {
    ec = last_error();
    return {};
  }
  return parse_reparse_data(std::span(buf.data(), got), ec);
}

FileType type_of_reparse_point(DWORD tag, bool directory) {
  if (tag == IO_REPARSE_TAG_SYMLINK || tag == IO_REPARSE_TAG_MOUNT_POINT) return FileType::symlink;
  // Another name in disguise (never followed), or not a file at all.
  if (IsReparseTagNameSurrogate(tag) || tag == IO_REPARSE_TAG_AF_UNIX || tag == IO_REPARSE_TAG_APPEXECLINK) {
    return FileType::other;
  }
  return directory ? FileType::directory : FileType::file;  // cloud placeholders, dedup, ...
}

// file_info on a path already in its Win32 form; also gives the raw attributes to callers
// here that need them (read-only, directory).
FileInfo info_of(const std::wstring& w, DWORD* attributes, std::error_code& ec) {
  FileInfo info;
  WIN32_FILE_ATTRIBUTE_DATA data{};
  if (!GetFileAttributesExW(w.c_str(), GetFileExInfoStandard, &data)) {
    const DWORD error = GetLastError();
    if (!is_absent(error)) ec = win_error(error);
    return info;
  }
  if (attributes) *attributes = data.dwFileAttributes;
  const bool directory = (data.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
  const bool readonly = (data.dwFileAttributes & FILE_ATTRIBUTE_READONLY) != 0;
  info.type = directory ? FileType::directory : FileType::file;
  if (data.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) {
    ReparsePoint rp = read_reparse_point(w, ec);
    if (ec) return info;
    info.type = type_of_reparse_point(rp.tag, directory);
    if (info.type == FileType::symlink) info.target = narrow(rp.target);
  }
  info.mtime_ms = to_ms(data.ftLastWriteTime);
  switch (info.type) {
    case FileType::directory:
      info.mode = 0755;
      break;
    case FileType::symlink:
      info.mode = 0777;
      info.size = info.target.size();  // like lstat: the length of the link text
      break;
    default:
      info.mode = readonly ? 0444 : 0644;
      info.size = (static_cast<std::uint64_t>(data.nFileSizeHigh) << 32) | data.nFileSizeLow;
      break;
  }
  return info;
}

// ---- moving a file into place ----

// MoveFileExW with REPLACE_EXISTING, made to replace what rename() replaces: a read-only
// file (whose attribute is lifted for the move and put back if it fails) and a link to a
// directory (removed first; Windows does not let a rename replace any directory).
void move_replacing(const fs::path& from, const fs::path& to, bool write_through, std::error_code& ec) {
  const std::wstring wf = win_path(from), wt = win_path(to);
  const DWORD source = GetFileAttributesW(wf.c_str());
  const DWORD dest = GetFileAttributesW(wt.c_str());
  bool unlocked = false;
  if (dest != INVALID_FILE_ATTRIBUTES && source != INVALID_FILE_ATTRIBUTES &&
      !(source & FILE_ATTRIBUTE_DIRECTORY)) {
    if ((dest & FILE_ATTRIBUTE_READONLY) && !(dest & FILE_ATTRIBUTE_DIRECTORY)) {
      set_readonly_no_follow(wt, false, ec);
      if (ec) return;
      unlocked = true;
    } else if ((dest & FILE_ATTRIBUTE_DIRECTORY) && (dest & FILE_ATTRIBUTE_REPARSE_POINT)) {
      // Removing a directory link removes the link only; a real directory behind a reparse
      // point that is not empty is refused here, as rename() would refuse it.
      if (!RemoveDirectoryW(wt.c_str())) return void(ec = last_error());
    }
  }
  const DWORD flags = MOVEFILE_REPLACE_EXISTING | (write_through ? MOVEFILE_WRITE_THROUGH : 0);
  if (!MoveFileExW(wf.c_str(), wt.c_str(), flags)) {
    ec = last_error();
    if (unlocked) {
      std::error_code ignored;  // the error to report is the move's
      set_readonly_no_follow(wt, true, ignored);
    }
  }
}

// ---- the two open-file classes ----

class WinReadableFile : public ReadableFile {
 public:
  WinReadableFile(Handle h, std::uint64_t size) : h_(std::move(h)), size_(size) {}
  std::size_t read(std::span<std::uint8_t> into, std::error_code& ec) override {
    const DWORD want = static_cast<DWORD>(std::min<std::size_t>(into.size(), 1u << 30));
    DWORD got = 0;
    if (!ReadFile(h_.get(), into.data(), want, &got, nullptr)) {
      ec = last_error();
      return 0;
    }
    return got;
  }
  std::uint64_t size() const override { return size_; }

 private:
  Handle h_;
  std::uint64_t size_;
};

class WinNewFile : public NewFile {
 public:
  WinNewFile(Handle h, fs::path temp, fs::path destination)
      : h_(std::move(h)), temp_(std::move(temp)), destination_(std::move(destination)) {}
  ~WinNewFile() override {
    if (committed_) return;
    h_.reset();
    const std::wstring w = win_path(temp_);
    std::error_code ignored;  // a destructor has no one to tell
    if (readonly_) set_readonly_no_follow(w, false, ignored);  // else DeleteFileW refuses it
    DeleteFileW(w.c_str());
  }
  void write(std::span<const std::uint8_t> bytes, std::error_code& ec) override {
    while (!bytes.empty()) {
      const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(bytes.size(), 1u << 30));
      DWORD written = 0;
      if (!WriteFile(h_.get(), bytes.data(), chunk, &written, nullptr)) return void(ec = last_error());
      bytes = bytes.subspan(written);
    }
  }
  void commit(std::optional<std::uint32_t> mode, std::optional<std::int64_t> mtime_ms, std::error_code& ec,
              bool durable) override {
    if (mtime_ms && !set_write_time(h_.get(), *mtime_ms, ec)) return;
    // The data must be on disk before the name says the file is complete.
    if (durable && !FlushFileBuffers(h_.get())) return void(ec = last_error());
    // A mode without the owner-write bit makes the file read-only. Set through the handle we
    // hold (the attribute only stops later opens for writing), so no other file can be
    // changed by a name swapped in meanwhile.
    if (mode && (*mode & 0200) == 0) {
      set_readonly(h_.get(), true, ec);
      if (ec) return;
      readonly_ = true;
    }
    if (!h_.close()) return void(ec = last_error());
    move_replacing(temp_, destination_, durable, ec);
    if (!ec) committed_ = true;
  }

 private:
  Handle h_;
  fs::path temp_;
  fs::path destination_;
  bool readonly_ = false;
  bool committed_ = false;
};

// The error for a failed CreateFileW on a name, saying "is a directory" where Windows says
// only "access denied" (a directory cannot be opened as a file).
std::error_code open_error(const std::wstring& w, DWORD error) {
  if (error == ERROR_ACCESS_DENIED) {
    const DWORD attrs = GetFileAttributesW(w.c_str());
    if (attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY)) {
      return std::make_error_code(std::errc::is_a_directory);
    }
  }
  return win_error(error);
}

// The device of the volume holding `path`, as CreateFileW opens it ("\\.\C:",
// "\\?\Volume{guid}"), or nothing for what has no local volume (a network share).
std::optional<std::wstring> volume_device(const fs::path& path) {
  const std::wstring w = win_path(path);
  std::wstring mount(w.size() + 1, L'\0');  // at most as long as the path it is part of
  if (!GetVolumePathNameW(w.c_str(), mount.data(), static_cast<DWORD>(mount.size()))) return std::nullopt;
  mount.resize(std::wcslen(mount.c_str()));
  if (mount.starts_with(LR"(\\?\)") && mount.size() >= 7 && mount[5] == L':') mount.erase(0, 4);  // "C:\..."
  wchar_t volume[MAX_PATH] = {};
  if (GetVolumeNameForVolumeMountPointW(mount.c_str(), volume, MAX_PATH)) {
    std::wstring v = volume;
    if (v.ends_with(L'\\')) v.pop_back();  // with it, CreateFileW opens the root directory
    return v;
  }
  if (mount.size() == 3 && mount[1] == L':') return LR"(\\.\)" + mount.substr(0, 2);
  return std::nullopt;
}

}  // namespace

FileInfo file_info(const fs::path& path, std::error_code& ec) { return info_of(win_path(path), nullptr, ec); }

std::vector<std::string> list_names(const fs::path& dir, std::error_code& ec) {
  std::vector<std::string> names;
  const std::wstring w = win_path(dir);
  WIN32_FIND_DATAW data{};
  HANDLE find = FindFirstFileExW((w + LR"(\*)").c_str(), FindExInfoBasic, &data, FindExSearchNameMatch, nullptr,
                                 FIND_FIRST_EX_LARGE_FETCH);
  if (find == INVALID_HANDLE_VALUE) {
    const DWORD error = GetLastError();
    const DWORD attrs = GetFileAttributesW(w.c_str());
    if (attrs == INVALID_FILE_ATTRIBUTES) {
      ec = win_error(error);
    } else if (!(attrs & FILE_ATTRIBUTE_DIRECTORY)) {
      // Windows says ERROR_DIRECTORY or ERROR_INVALID_NAME (Wine) for "file\*".
      ec = std::make_error_code(std::errc::not_a_directory);
    } else if (error != ERROR_FILE_NOT_FOUND) {
      ec = win_error(error);
    }  // else: "no file matches", an empty directory without "." and ".." (a volume root)
    return names;
  }
  do {
    const std::wstring_view n(data.cFileName);
    if (n != L"." && n != L"..") names.push_back(narrow(n));
  } while (FindNextFileW(find, &data));
  if (GetLastError() != ERROR_NO_MORE_FILES) ec = last_error();
  FindClose(find);
  std::sort(names.begin(), names.end());  // std::string compares bytes as unsigned: bytewise
  return names;
}

std::unique_ptr<ReadableFile> open_for_reading(const fs::path& path, std::uint64_t offset, std::error_code& ec) {
  const std::wstring w = win_path(path);
  Handle h(CreateFileW(w.c_str(), GENERIC_READ, kShareAll, nullptr, OPEN_EXISTING, FILE_FLAG_SEQUENTIAL_SCAN,
                       nullptr));
  if (!h) {
    ec = open_error(w, GetLastError());
    return nullptr;
  }
  if (GetFileType(h.get()) != FILE_TYPE_DISK) {  // pipes, consoles, devices: not files to transfer
    ec = std::make_error_code(std::errc::invalid_argument);
    return nullptr;
  }
  LARGE_INTEGER size{};
  if (!GetFileSizeEx(h.get(), &size)) {
    ec = last_error();
    return nullptr;
  }
  if (offset > 0) {
    LARGE_INTEGER to{};
    to.QuadPart = static_cast<LONGLONG>(std::min<std::uint64_t>(offset, std::numeric_limits<LONGLONG>::max()));
    if (!SetFilePointerEx(h.get(), to, nullptr, FILE_BEGIN)) {
      ec = last_error();
      return nullptr;
    }
  }
  return std::make_unique<WinReadableFile>(std::move(h), static_cast<std::uint64_t>(size.QuadPart));
}

std::unique_ptr<NewFile> create_new_file(const fs::path& destination, std::error_code& ec) {
  // A destination that is a directory would only fail at the rename: say so now.
  std::error_code probe;
  if (file_info(destination, probe).type == FileType::directory) {
    ec = std::make_error_code(std::errc::is_a_directory);
    return nullptr;
  }
  // NTFS names hold 255 UTF-16 units; the prefix takes 24 of them. A cut never splits a
  // surrogate pair.
  std::wstring base = destination.filename().wstring();
  if (base.size() > 200) {
    base.resize(200);
    if (base.back() >= 0xD800 && base.back() <= 0xDBFF) base.pop_back();
  }
  for (int attempt = 0; attempt < 8; ++attempt) {
    const std::string hex = random_hex(6);
    fs::path temp = destination.parent_path() / (L".remsh-tmp-" + std::wstring(hex.begin(), hex.end()) + L"-" + base);
    // FILE_READ_ATTRIBUTES too: commit() sets the read-only attribute through this handle.
    Handle h(CreateFileW(win_path(temp).c_str(), GENERIC_WRITE | FILE_READ_ATTRIBUTES, 0, nullptr, CREATE_NEW,
                         FILE_ATTRIBUTE_NORMAL, nullptr));
    if (h) return std::make_unique<WinNewFile>(std::move(h), std::move(temp), destination);
    const DWORD error = GetLastError();
    if (error != ERROR_FILE_EXISTS && error != ERROR_ALREADY_EXISTS) {
      ec = win_error(error);
      return nullptr;
    }
  }
  ec = std::make_error_code(std::errc::file_exists);
  return nullptr;
}

bool make_directories(const fs::path& path, std::optional<std::uint32_t> /*mode*/, std::error_code& ec) {
  // The mode is not applied: a directory's read-only attribute means nothing to Windows.
  std::error_code probe;  // like lstat() in the POSIX version: a failure here is mkdir's to report
  const FileInfo info = file_info(path, probe);
  if (!probe && info.type != FileType::none) {
    if (info.type != FileType::directory) ec = std::make_error_code(std::errc::file_exists);
    return false;
  }
  const fs::path parent = path.parent_path();
  if (!parent.empty() && parent != path) {
    make_directories(parent, std::nullopt, ec);
    if (ec) return false;
  }
  const std::wstring w = win_path(path);
  if (!CreateDirectoryW(w.c_str(), nullptr)) {
    const DWORD error = GetLastError();
    const DWORD attrs = GetFileAttributesW(w.c_str());
    if (error == ERROR_ALREADY_EXISTS && attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY)) {
      return false;  // made by someone else meanwhile
    }
    ec = win_error(error);
    return false;
  }
  return true;
}

bool remove_tree(const fs::path& path, std::error_code& ec) {
  const std::wstring w = win_path(path);
  DWORD attrs = 0;
  const FileInfo info = info_of(w, &attrs, ec);
  if (ec || info.type == FileType::none) return false;
  // Windows refuses to delete a read-only file (and, under some file systems, to change a
  // read-only directory).
  if (attrs & FILE_ATTRIBUTE_READONLY) {
    set_readonly_no_follow(w, false, ec);
    if (ec) return false;
  }
  if (attrs & FILE_ATTRIBUTE_DIRECTORY) {
    // A link to a directory (symlink, junction) is removed as itself: only a real directory
    // is emptied first, so nothing is ever removed through a link.
    if (info.type == FileType::directory) {
      auto names = list_names(path, ec);
      if (ec) return false;
      for (const auto& n : names) {
        remove_tree(child(path, n), ec);
        if (ec) return false;
      }
    }
    if (!RemoveDirectoryW(w.c_str())) ec = last_error();
  } else if (!DeleteFileW(w.c_str())) {
    ec = last_error();
  }
  return !ec;
}

void replace_file(const fs::path& from, const fs::path& to, std::error_code& ec) {
  move_replacing(from, to, /*write_through=*/false, ec);
}

void make_symlink(const std::string& target, const fs::path& path, std::error_code& ec) {
  // Windows follows a link only through '\' (a '/' in the stored text is part of a name).
  std::wstring t = widen(target);
  std::replace(t.begin(), t.end(), L'/', L'\\');
  // Windows links come in two kinds, to a file and to a directory, and only the second one
  // can be entered; the kind is that of the target now (a missing target makes a file link).
  const fs::path target_path(t);
  const fs::path resolved = target_path.is_absolute() ? target_path : path.parent_path() / target_path;
  const DWORD attrs = GetFileAttributesW(win_path(resolved).c_str());
  const DWORD kind =
      attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY) ? SYMBOLIC_LINK_FLAG_DIRECTORY : 0;
  const std::wstring w = win_path(path);
  // Without the privilege to create links, Developer Mode allows them with this flag.
  if (CreateSymbolicLinkW(w.c_str(), t.c_str(), kind | SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE)) return;
  DWORD error = GetLastError();
  // Windows before 10 1703 does not know the flag at all.
  if (error == ERROR_INVALID_PARAMETER) {
    if (CreateSymbolicLinkW(w.c_str(), t.c_str(), kind)) return;
    error = GetLastError();
  }
  ec = win_error(error);
}

void set_directory_mode_and_mtime(const fs::path& path, std::uint32_t /*mode*/, std::int64_t mtime_ms,
                                  std::error_code& ec) {
  // The mode is not applied (see make_directories); the mtime is set through a handle to the
  // name itself, and only if that is a directory and not a link (or other reparse point).
  Handle h = open_no_follow(win_path(path), FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES);
  if (!h) return void(ec = last_error());
  BY_HANDLE_FILE_INFORMATION fi{};
  if (!GetFileInformationByHandle(h.get(), &fi)) return void(ec = last_error());
  if (!(fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) || (fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
    return void(ec = std::make_error_code(std::errc::not_a_directory));
  }
  set_write_time(h.get(), mtime_ms, ec);
}

void sync_file_system(const fs::path& path, std::error_code& ec) {
  // Windows flushes a whole volume through a handle to the volume itself, which only an
  // administrator (or a service running as LocalSystem) may open for writing. For anyone
  // else there is no equivalent of syncfs: the files written without their own flush (trees
  // and copies, committed with durable=false) reach the disk through the cache manager's lazy
  // writer, normally within seconds. So a refusal here is not an error, and neither is a
  // volume that cannot be flushed this way (a network share, a file system that says no);
  // single files (`write`) are flushed on their own before they are renamed into place.
  const auto ignored = [](DWORD e) {
    return e == ERROR_ACCESS_DENIED || e == ERROR_INVALID_FUNCTION || e == ERROR_NOT_SUPPORTED ||
           e == ERROR_INVALID_PARAMETER;
  };
  const std::optional<std::wstring> volume = volume_device(path);
  if (!volume) return;
  Handle h(CreateFileW(volume->c_str(), GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                       OPEN_EXISTING, 0, nullptr));
  if (!h || !FlushFileBuffers(h.get())) {
    const DWORD error = GetLastError();
    if (!ignored(error)) ec = win_error(error);
  }
}

void set_mode(const fs::path& path, std::uint32_t mode, std::error_code& ec) {
  // Like chmod(): through a final link to its target. Only the owner-write bit of a file
  // means anything here (see make_directories for directories).
  Handle h(CreateFileW(win_path(path).c_str(), FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES, kShareAll, nullptr,
                       OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr));
  if (!h) return void(ec = last_error());
  BY_HANDLE_FILE_INFORMATION fi{};
  if (!GetFileInformationByHandle(h.get(), &fi)) return void(ec = last_error());
  if (fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) return;
  set_readonly(h.get(), (mode & 0200) == 0, ec);
}

void set_mtime(const fs::path& path, std::int64_t mtime_ms, std::error_code& ec) {
  Handle h = open_no_follow(win_path(path), FILE_WRITE_ATTRIBUTES);  // a link's own time, like AT_SYMLINK_NOFOLLOW
  if (!h) return void(ec = last_error());
  set_write_time(h.get(), mtime_ms, ec);
}

std::string unusable_name_reason(const fs::path& path) {
  static const wchar_t* const devices[] = {L"CON", L"PRN", L"AUX", L"NUL", L"CONIN$", L"CONOUT$"};
  for (const fs::path& part : path.relative_path()) {
    const std::wstring name = part.native();
    if (name.empty() || name == L"." || name == L"..") continue;
    if (name.find(L':') != std::wstring::npos) return "':' would name an alternate data stream";
    if (name.back() == L'.' || name.back() == L' ') return "Windows drops a name's trailing dots and spaces";
    // Device names stay devices with any extension: "nul.txt" is NUL too.
    std::wstring stem = name.substr(0, name.find(L'.'));
    while (!stem.empty() && stem.back() == L' ') stem.pop_back();
    for (wchar_t& c : stem) c = static_cast<wchar_t>(std::towupper(c));
    bool device = false;
    for (const wchar_t* d : devices) device = device || stem == d;
    if (stem.size() == 4 && (stem.compare(0, 3, L"COM") == 0 || stem.compare(0, 3, L"LPT") == 0) &&
        stem[3] >= L'1' && stem[3] <= L'9') {
      device = true;
    }
    if (device) return win::narrow(name) + " is a device name on Windows";
  }
  return {};
}

std::string file_error_tag(const std::error_code& ec) {
  // Win32 codes (GetLastError) from the calls above, and errno values for the std::errc
  // conditions this file and the core make themselves. The two number spaces overlap (2 is
  // both ERROR_FILE_NOT_FOUND and ENOENT), so the category decides which one a value is.
  if (ec.category() == std::system_category()) {
    switch (static_cast<DWORD>(ec.value())) {
      case ERROR_FILE_NOT_FOUND:
      case ERROR_PATH_NOT_FOUND:
      case ERROR_BAD_NETPATH:
      case ERROR_BAD_NET_NAME: return "not-found";
      case ERROR_FILE_EXISTS:
      case ERROR_ALREADY_EXISTS:
      case ERROR_DIR_NOT_EMPTY: return "exists";
      case ERROR_DIRECTORY: return "not-a-directory";  // "the directory name is invalid"
      case ERROR_ACCESS_DENIED:
      case ERROR_SHARING_VIOLATION:
      case ERROR_LOCK_VIOLATION:
      case ERROR_WRITE_PROTECT:
      case ERROR_PRIVILEGE_NOT_HELD: return "permission-denied";
      case ERROR_DISK_FULL:
      case ERROR_HANDLE_DISK_FULL: return "disk-full";
      // ERROR_INVALID_NAME (a name Windows cannot hold: '*', ':', ...) stays "io-error": it
      // also comes from creating such a name, where "not-found" would mislead.
      default: return "io-error";
    }
  }
  if (ec.category() == std::generic_category()) {
    switch (static_cast<std::errc>(ec.value())) {
      case std::errc::no_such_file_or_directory: return "not-found";
      case std::errc::file_exists:
      case std::errc::directory_not_empty: return "exists";
      case std::errc::not_a_directory: return "not-a-directory";
      case std::errc::is_a_directory: return "is-a-directory";
      case std::errc::permission_denied:
      case std::errc::operation_not_permitted:
      case std::errc::read_only_file_system: return "permission-denied";
      case std::errc::no_space_on_device: return "disk-full";
      default: return "io-error";
    }
  }
  return "io-error";
}

}  // namespace remsh::agent
