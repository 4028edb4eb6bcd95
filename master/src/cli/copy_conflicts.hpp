// What `remsh cp -r` (and `remsh artifact get`) must not do to what is already at the
// destination: replace a directory with a file or a link, or a file or a link with a
// directory. The agent's extractor and the local one replace on request (`sync --delete`
// needs it), and a directory replaced that way is gone with everything in it. Like cp, the
// copy leaves such an entry, and all below it, as it is, copies the rest, and reports each
// one: "cannot overwrite directory 'd/x' with non-directory".
#pragma once

#include "local_tree.hpp"
#include "sync_plan.hpp"

#include <string>
#include <vector>

namespace remsh::cli {

// The refusal for `where` (as the user names it): an existing directory that a non-directory
// would replace, or the other way round.
std::string overwrite_refusal(const std::string& where, bool existing_is_directory);

struct UploadSelection {
    std::vector<LocalEntry> send;       // in the order given
    std::vector<std::string> refusals;  // overwrite_refusal() of each entry left out
};

// The local entries an upload into `where` may send, given the destination's recursive
// listing (`remote`, paths relative to it); an entry below one left out is left out silently.
UploadSelection select_upload(std::vector<LocalEntry> local, const std::vector<ManifestEntry>& remote,
                              const std::string& where);

// Prints each refusal as "remsh: exists: ..." on stderr (the first 20, then how many more).
void print_refusals(const std::vector<std::string>& refusals);

}  // namespace remsh::cli
