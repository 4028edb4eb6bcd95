#include "remsh/protocol/stream_codec.hpp"

#include <zlib.h>

#include <algorithm>
#include <cassert>
#include <stdexcept>
#include <string>

#include "remsh/protocol/limits.hpp"
#include "zstd_codec.hpp"

namespace remsh::protocol {
namespace {

using codec_detail::codec_error;
using codec_detail::kOutChunk;
using codec_detail::output_room;
using codec_detail::over_limit;

// ---- deflate (raw, RFC 1951) ----

class DeflateCompressor final : public StreamCompressor {
 public:
  explicit DeflateCompressor(int level) {
    if (deflateInit2(&z_, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      throw std::runtime_error("deflateInit2 failed");
    }
  }
  ~DeflateCompressor() override { deflateEnd(&z_); }

  void compress(ByteView in, ByteBuffer& out, bool independent) override {
    z_.next_in = const_cast<Bytef*>(in.data());
    z_.avail_in = static_cast<uInt>(in.size());
    const int flush = independent ? Z_FULL_FLUSH : Z_SYNC_FLUSH;
    // Z_SYNC_FLUSH is complete once deflate leaves output space unused.
    for (;;) {
      std::size_t room = deflateBound(&z_, z_.avail_in) + 16;
      std::uint8_t* dst = out.grow_back(room);
      z_.next_out = dst;
      z_.avail_out = static_cast<uInt>(room);
      int rc = deflate(&z_, flush);
      out.shrink_back(z_.avail_out);
      assert(rc == Z_OK || rc == Z_BUF_ERROR);
      (void)rc;
      if (z_.avail_in == 0 && z_.avail_out != 0) break;
    }
  }
  Codec codec() const override { return Codec::deflate; }

 private:
  z_stream z_{};
};

class DeflateDecompressor final : public StreamDecompressor {
 public:
  DeflateDecompressor() {
    if (inflateInit2(&z_, -15) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  }
  ~DeflateDecompressor() override { inflateEnd(&z_); }

  std::optional<ProtocolError> decompress(ByteView in, ByteBuffer& out,
                                          std::size_t limit) override {
    if (finished_ && !in.empty()) return codec_error("deflate data after the final block");
    z_.next_in = const_cast<Bytef*>(in.data());
    z_.avail_in = static_cast<uInt>(in.size());
    std::size_t produced = 0;
    // Keep going while there is input, or while the last call filled its output: zlib may
    // hold decoded bytes of this frame that did not fit.
    bool output_full = false;
    while ((z_.avail_in > 0 || output_full) && !finished_) {
      std::size_t room = output_room(limit, produced);
      std::uint8_t* dst = out.grow_back(room);
      z_.next_out = dst;
      z_.avail_out = static_cast<uInt>(room);
      int rc = inflate(&z_, Z_SYNC_FLUSH);
      std::size_t got = room - z_.avail_out;
      output_full = z_.avail_out == 0;
      out.shrink_back(z_.avail_out);
      produced += got;
      if (produced > limit) return over_limit(limit);
      if (rc == Z_STREAM_END) {
        finished_ = true;
        if (z_.avail_in != 0) return codec_error("deflate data after the final block");
      } else if (rc == Z_BUF_ERROR && got == 0) {
        if (z_.avail_in == 0) break;  // nothing more buffered: the frame is fully decoded
        return codec_error("deflate stream stalled");
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return codec_error(std::string("corrupt deflate data: ") + (z_.msg ? z_.msg : "?"));
      }
    }
    return std::nullopt;
  }

 private:
  z_stream z_{};
  bool finished_ = false;
};

}  // namespace

std::string_view codec_name(Codec codec) {
  switch (codec) {
    case Codec::none: return "none";
    case Codec::deflate: return "deflate";
    case Codec::zstd: return "zstd";
  }
  return "unknown";
}

std::optional<Codec> codec_from_name(std::string_view name) {
  if (name == "none") return Codec::none;
  if (name == "deflate") return Codec::deflate;
  if (name == "zstd") return Codec::zstd;
  return std::nullopt;
}

std::unique_ptr<StreamCompressor> StreamCompressor::create(Codec codec, int level) {
  switch (codec) {
    case Codec::deflate: return std::make_unique<DeflateCompressor>(level);
    case Codec::zstd: return make_zstd_compressor(level);
    case Codec::none: break;
  }
  return nullptr;
}

std::unique_ptr<StreamDecompressor> StreamDecompressor::create(Codec codec) {
  switch (codec) {
    case Codec::deflate: return std::make_unique<DeflateDecompressor>();
    case Codec::zstd: return make_zstd_decompressor();
    case Codec::none: break;
  }
  return nullptr;
}

// ---- StreamEncoder ----

namespace {
// Chunks that compressed to more than 15/16 of their size suggest incompressible data;
// such a stream is sent raw for the next 16 chunks, then compression is tried again.
constexpr unsigned kRawBackoffChunks = 16;
constexpr std::size_t kTinyChunk = 64;  // not worth a compressor call
constexpr std::size_t kJudgedChunk = 4096;
}  // namespace

StreamEncoder::StreamEncoder(Codec codec, int level) : codec_(codec), level_(level) {}

std::optional<std::uint8_t> StreamEncoder::encode_raw(ByteView chunk, bool end) {
  if (codec_ != Codec::none && chunk.size() >= kTinyChunk) {
    if (raw_chunks_left_ == 0) return std::nullopt;  // to be compressed
    --raw_chunks_left_;                              // backing off
  }
  bytes_in_ += chunk.size();
  bytes_out_ += chunk.size();
  return static_cast<std::uint8_t>(end ? frame_flags::end_of_stream : 0);
}

std::uint8_t StreamEncoder::encode(ByteView chunk, ByteBuffer& payload, bool end) {
  if (auto raw = encode_raw(chunk, end)) {
    payload.append(chunk);
    return *raw;
  }
  bytes_in_ += chunk.size();
  if (!compressor_) compressor_ = StreamCompressor::create(codec_, level_);
  const std::size_t before = payload.size();
  compressor_->compress(chunk, payload);
  const std::size_t written = payload.size() - before;
  // Only a chunk big enough to judge counts: a small one (the tail of a read split at the
  // frame limit) barely compresses whatever the data, and must not send the next 16 raw.
  if (chunk.size() >= kJudgedChunk && written * 16 > chunk.size() * 15) {
    raw_chunks_left_ = kRawBackoffChunks;
  }
  bytes_out_ += written;
  const std::uint8_t flags = end ? frame_flags::end_of_stream : 0;
  return static_cast<std::uint8_t>(flags | static_cast<std::uint8_t>(codec_));
}

// ---- StreamDecoder ----

StreamDecoder::StreamDecoder(std::vector<Codec> allowed) : allowed_(std::move(allowed)) {}

std::optional<ProtocolError> StreamDecoder::decode(std::uint8_t flags, ByteView payload,
                                                   ByteBuffer& out, std::size_t limit) {
  if (failed_) return failed_;
  auto error = decode_frame(flags, payload, &out, limit);
  if (error) failed_ = error;
  return error;
}

std::optional<ProtocolError> StreamDecoder::decode_view(std::uint8_t flags, ByteView payload,
                                                        ByteBuffer& scratch, std::size_t limit,
                                                        ByteView& decoded) {
  if (failed_) return failed_;
  const bool raw = static_cast<Codec>(flags & frame_flags::codec_mask) == Codec::none;
  scratch.clear();
  auto error = decode_frame(flags, payload, raw ? nullptr : &scratch, limit);
  if (error) {
    failed_ = error;
    return error;
  }
  decoded = raw ? payload : scratch.view();
  return std::nullopt;
}

std::optional<ProtocolError> StreamDecoder::decode_frame(std::uint8_t flags, ByteView payload,
                                                         ByteBuffer* out, std::size_t limit) {
  if (ended_) return ProtocolError{ErrorTag::bad_channel, "DATA after end-of-stream"};
  if (flags & frame_flags::end_of_stream) ended_ = true;
  const auto codec = static_cast<Codec>(flags & frame_flags::codec_mask);
  if (codec == Codec::none) {
    if (payload.size() > limit) return over_limit(limit);
    if (out) out->append(payload);
    return std::nullopt;
  }
  if (std::find(allowed_.begin(), allowed_.end(), codec) == allowed_.end()) {
    return codec_error("codec " + std::string(codec_name(codec)) + " was not negotiated");
  }
  if (!decompressor_) {
    decompressor_ = StreamDecompressor::create(codec);
    if (!decompressor_) return codec_error("unknown codec");
    codec_ = codec;
  } else if (codec != codec_) {
    return codec_error("stream switched codec from " + std::string(codec_name(codec_)) +
                       " to " + std::string(codec_name(codec)));
  }
  assert(out != nullptr);  // decode_view passes one for every compressed frame
  return decompressor_->decompress(payload, *out, limit);
}

}  // namespace remsh::protocol
