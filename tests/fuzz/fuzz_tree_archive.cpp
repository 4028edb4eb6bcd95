// Tree archives: the rest of the input fed to one TreeArchiveReader in two pieces, cut where
// the first byte says (its share of the length), with a handler that traps when the events
// break the reader's promises.
#include <cstdint>

#include "remsh/protocol/tree_archive.hpp"

using namespace remsh::protocol;

namespace {

class Checker final : public TreeArchiveHandler {
 public:
  std::size_t calls = 0;
  bool archive_ended = false;

  std::optional<ProtocolError> on_entry(const TreeEntry& e) override {
    ++calls;
    if (in_file_ || archive_ended) __builtin_trap();
    if (validate_tree_entry(e)) __builtin_trap();  // only valid entries are reported
    if (e.type == TreeEntryType::file) {
      in_file_ = true;
      announced_ = e.size;
      received_ = 0;
    }
    return std::nullopt;
  }
  std::optional<ProtocolError> on_file_data(ByteView bytes) override {
    ++calls;
    if (!in_file_ || bytes.empty()) __builtin_trap();
    received_ += bytes.size();
    if (received_ > announced_) __builtin_trap();
    return std::nullopt;
  }
  std::optional<ProtocolError> on_file_end() override {
    ++calls;
    if (!in_file_ || received_ != announced_) __builtin_trap();
    in_file_ = false;
    return std::nullopt;
  }
  std::optional<ProtocolError> on_archive_end() override {
    ++calls;
    if (in_file_ || archive_ended) __builtin_trap();
    archive_ended = true;
    return std::nullopt;
  }

 private:
  bool in_file_ = false;
  std::uint64_t announced_ = 0;
  std::uint64_t received_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const ByteView input{data + 1, size - 1};
  const std::size_t cut = input.size() * data[0] / 255;
  Checker checker;
  TreeArchiveReader reader;
  auto error = reader.feed(input.first(cut), checker);
  if (!error) error = reader.feed(input.subspan(cut), checker);
  if (error) {
    if (error->tag != ErrorTag::bad_archive) __builtin_trap();  // the handler never fails
    // Dead: the same error again, and no more events.
    const std::size_t calls = checker.calls;
    auto again = reader.feed(input, checker);
    if (!again || again->message != error->message || checker.calls != calls) __builtin_trap();
    if (!reader.finish()) __builtin_trap();
    return 0;
  }
  if (reader.ended() != checker.archive_ended) __builtin_trap();
  if (reader.finish().has_value() == reader.ended()) __builtin_trap();  // error iff truncated
  return 0;
}
