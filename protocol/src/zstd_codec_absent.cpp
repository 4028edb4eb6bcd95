// A build without libzstd: zstd is neither offered nor accepted (zstd_codec.hpp).
#include "zstd_codec.hpp"

namespace remsh::protocol {

bool zstd_available() { return false; }
std::unique_ptr<StreamCompressor> make_zstd_compressor(int) { return nullptr; }
std::unique_ptr<StreamDecompressor> make_zstd_decompressor() { return nullptr; }

}  // namespace remsh::protocol
