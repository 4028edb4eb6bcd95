// The operands of `remsh cp`, `ls`, `stat`, `rm`, `mkdir`, `sync`: a local path, or AGENT:PATH
// (scp's convention). A colon counts only when what precedes it is a non-empty name without
// '/': `./a:b` and `/x:y` are local. AGENT: alone means the agent's work directory.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace remsh::cli {

struct FileSpec {
    std::optional<std::string> agent;  // none: a local path
    std::string path;
    bool remote() const { return agent.has_value(); }
};

FileSpec parse_file_spec(std::string_view text);

// The last component of a path ("a/b/" -> "b"; "/" -> "/"; "" -> "").
std::string path_base_name(std::string_view path);
// a + "/" + b, without doubling a trailing '/' of a.
std::string path_join(std::string_view a, std::string_view b);
// A fresh name beside `path` (a file path, no trailing separator) for a file on its way
// there: `.remsh-tmp-RANDOM-` and the first 100 bytes of its name (never cut inside a UTF-8
// sequence), the prefix the agents' own temporary files have, so whoever finds one left
// over knows what it is. A `\` also ends the directory part: a Windows agent takes it as a
// separator, and on POSIX a name holding one stays in its directory either way.
std::string temp_name_beside(std::string_view path);

}  // namespace remsh::cli
