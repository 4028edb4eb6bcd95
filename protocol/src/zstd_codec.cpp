#include "zstd_codec.hpp"

#include <zstd.h>

#include <stdexcept>

#include "remsh/protocol/limits.hpp"

namespace remsh::protocol {
namespace {

using codec_detail::codec_error;
using codec_detail::output_room;
using codec_detail::over_limit;

class ZstdCompressor final : public StreamCompressor {
 public:
  explicit ZstdCompressor(int level) : c_(ZSTD_createCCtx()) {
    if (!c_) throw std::runtime_error("ZSTD_createCCtx failed");
    ZSTD_CCtx_setParameter(c_, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(c_, ZSTD_c_windowLog, 20);  // well inside kZstdMaxWindowLog
  }
  ~ZstdCompressor() override { ZSTD_freeCCtx(c_); }

  void compress(ByteView in, ByteBuffer& out, bool independent) override {
    ZSTD_inBuffer src{in.data(), in.size(), 0};
    const ZSTD_EndDirective mode = independent ? ZSTD_e_end : ZSTD_e_flush;
    for (;;) {
      std::size_t room = ZSTD_compressBound(src.size - src.pos) + 64;
      std::uint8_t* dst = out.grow_back(room);
      ZSTD_outBuffer o{dst, room, 0};
      std::size_t remaining = ZSTD_compressStream2(c_, &o, &src, mode);
      out.shrink_back(room - o.pos);
      if (ZSTD_isError(remaining)) {
        throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(remaining));
      }
      if (remaining == 0) break;
    }
  }
  Codec codec() const override { return Codec::zstd; }

 private:
  ZSTD_CCtx* c_;
};

class ZstdDecompressor final : public StreamDecompressor {
 public:
  ZstdDecompressor() : d_(ZSTD_createDCtx()) {
    if (!d_) throw std::runtime_error("ZSTD_createDCtx failed");
    ZSTD_DCtx_setParameter(d_, ZSTD_d_windowLogMax, kZstdMaxWindowLog);
  }
  ~ZstdDecompressor() override { ZSTD_freeDCtx(d_); }

  std::optional<ProtocolError> decompress(ByteView in, ByteBuffer& out,
                                          std::size_t limit) override {
    ZSTD_inBuffer src{in.data(), in.size(), 0};
    std::size_t produced = 0;
    // Keep going while there is input, or while the last call filled its output (more
    // may be buffered inside the decoder).
    bool output_full = false;
    while (src.pos < src.size || output_full) {
      std::size_t room = output_room(limit, produced);
      std::uint8_t* dst = out.grow_back(room);
      ZSTD_outBuffer o{dst, room, 0};
      std::size_t rc = ZSTD_decompressStream(d_, &o, &src);
      out.shrink_back(room - o.pos);
      produced += o.pos;
      if (ZSTD_isError(rc)) {
        return codec_error(std::string("corrupt zstd data: ") + ZSTD_getErrorName(rc));
      }
      if (produced > limit) return over_limit(limit);
      output_full = o.pos == room;
      if (!output_full && o.pos == 0 && src.pos == src.size) break;
    }
    return std::nullopt;
  }

 private:
  ZSTD_DCtx* d_;
};

}  // namespace

bool zstd_available() { return true; }
std::unique_ptr<StreamCompressor> make_zstd_compressor(int level) { return std::make_unique<ZstdCompressor>(level); }
std::unique_ptr<StreamDecompressor> make_zstd_decompressor() { return std::make_unique<ZstdDecompressor>(); }

}  // namespace remsh::protocol
