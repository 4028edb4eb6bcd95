// Plain-text tables: columns left-aligned, separated by two spaces, the last column not padded.
#pragma once

#include <string>
#include <vector>

namespace remsh::cli {

using TableRow = std::vector<std::string>;

// Every row (the first one is usually the header) on its own line, each ending in '\n'.
// Widths count UTF-8 characters, not bytes. Rows may have fewer cells than others.
std::string format_table(const std::vector<TableRow>& rows);

}  // namespace remsh::cli
