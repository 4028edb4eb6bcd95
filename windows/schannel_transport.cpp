// The Windows Transport (platform/transport.hpp): plain TCP, or TLS through SChannel over an
// Asio socket. SChannel only transforms bytes (handshake tokens, records); all socket I/O
// stays with Asio, so deadlines and cancellation work as on POSIX.
//
// TLS policy (docs/protocol.md 2): TLS 1.2, no CA verification and no SNI: the master's
// certificate is pinned by fingerprint, which is checked here after the handshake, before a
// single protocol byte is sent. TLS 1.3 is not offered: SCHANNEL_CRED cannot enable it
// (that takes SCH_CREDENTIALS and Windows 11), and Wine 8's SChannel has none.
#include "platform/transport.hpp"

#include "platform/first_of.hpp"
#include "platform/sha256.hpp"
#include "platform/tcp_transport.hpp"
#include "wide.hpp"

// Asio first: it includes winsock2.h before anything can pull in the old winsock.h.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_category.hpp>
#include <boost/system/system_error.hpp>

#include <windows.h>
#include <bcrypt.h>
#include <wincrypt.h>
#define SECURITY_WIN32
#include <security.h>
#include <schannel.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <variant>
#include <vector>

namespace remsh::agent {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// The ciphertext buffer. A certificate chain fits many times over, so a larger handshake
// message is refused rather than buffered; it also holds a few maximal records (16 KiB of
// data plus overhead each), so one socket read can bring several.
constexpr std::size_t kInputCapacity = 64 * 1024;
// Records encrypted before one socket write: big writes need not cost a syscall per record.
constexpr std::size_t kRecordsPerWrite = 4;

constexpr unsigned char kAlertRecord = 21;  // TLS record content type

constexpr ULONG kContextFlags = ISC_REQ_SEQUENCE_DETECT | ISC_REQ_REPLAY_DETECT | ISC_REQ_CONFIDENTIALITY |
                                ISC_REQ_ALLOCATE_MEMORY | ISC_REQ_STREAM | ISC_REQ_MANUAL_CRED_VALIDATION;

// The few failures a handshake or record meets in practice, in words: Wine has no texts for
// SEC_E_* codes, and Windows' own are vague.
const char* known_status(SECURITY_STATUS status) {
  switch (status) {
    case SEC_E_ALGORITHM_MISMATCH:
      return "no TLS version or cipher suite in common (this agent offers TLS 1.2 only)";
    case SEC_E_ILLEGAL_MESSAGE: return "the peer sent an unexpected or malformed TLS message, or a fatal alert";
    case SEC_E_INVALID_TOKEN: return "invalid TLS data (is the master speaking TLS?)";
    case SEC_E_MESSAGE_ALTERED: return "a TLS record failed its integrity check";
    case SEC_E_DECRYPT_FAILURE: return "a TLS record could not be decrypted";
    case SEC_E_INTERNAL_ERROR: return "SChannel failed (internal error)";
    case SEC_I_RENEGOTIATE: return "the master asked for a TLS renegotiation, which is refused";
    case SEC_E_CONTEXT_EXPIRED: return "the TLS session has ended";
    default: return nullptr;
  }
}

// "<text> (0x80090326)": the code is what to search for, the text what to read.
std::string status_text(SECURITY_STATUS status) {
  const auto code = static_cast<std::uint32_t>(status);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) hex.push_back(kDigits[(code >> shift) & 15]);
  const char* known = known_status(status);
  return (known != nullptr ? std::string(known) : win::error_text(code)) + " (" + hex + ")";
}

// SChannel failures while reading and writing surface as boost::system::system_error, like
// socket errors, so the caller's log line says what went wrong.
class SchannelCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "schannel"; }
  std::string message(int ev) const override { return status_text(static_cast<SECURITY_STATUS>(ev)); }
};

[[noreturn]] void throw_status(SECURITY_STATUS status) {
  static const SchannelCategory category;
  throw boost::system::system_error(boost::system::error_code(static_cast<int>(status), category));
}

// Lowercase hex, as the enrolment token carries the fingerprint.
std::string sha256_hex(unsigned char* bytes, ULONG size) {
  Sha256 hash;
  hash.update(std::span<const std::uint8_t>(bytes, size));
  return hash.finish_hex();
}

// At most one read_some and one write may be pending at a time (as with any Asio stream);
// the two share only the security context, which SChannel allows.
class SchannelTransport final : public Transport {
 public:
  explicit SchannelTransport(tcp::socket socket)
      : socket_(std::move(socket)), peer_(endpoint_text(socket_)), in_(kInputCapacity) {}

  ~SchannelTransport() override {
    if (has_context_) DeleteSecurityContext(&context_);
    if (has_credentials_) FreeCredentialsHandle(&credentials_);
  }

  SchannelTransport(const SchannelTransport&) = delete;
  SchannelTransport& operator=(const SchannelTransport&) = delete;

  // Throws std::runtime_error("<step>: <why>").
  asio::awaitable<void> handshake(const std::string& step);
  // SHA-256 of the master's DER leaf certificate, lowercase hex; empty if there is none.
  std::string peer_fingerprint();

  asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf) override;
  asio::awaitable<void> write(asio::const_buffer data) override;
  // No TLS close_notify: the protocol has its own goodbye, and a peer that is gone would
  // only make us wait. The handles stay until destruction: a pending operation that wakes
  // up with an error must not find them freed.
  void close() override {
    closed_ = true;
    close_socket(socket_);
  }
  std::string peer() const override { return peer_; }

 private:
  asio::awaitable<void> handshake_steps(const std::string& step);
  asio::awaitable<void> receive_more();
  bool decrypt_record();
  std::size_t encrypt_record(const char* data, std::size_t size, char* out);

  tcp::socket socket_;
  std::string peer_;
  CredHandle credentials_{};
  CtxtHandle context_{};
  bool has_credentials_ = false;
  bool has_context_ = false;
  SecPkgContext_StreamSizes sizes_{};

  std::vector<char> in_;      // ciphertext received and not yet decrypted: in_[0, in_used_)
  std::size_t in_used_ = 0;
  std::vector<char> plain_;   // one decrypted record, handed out from plain_pos_ on
  std::size_t plain_pos_ = 0;
  std::vector<char> out_;     // records being written
  bool closed_ = false;
  bool peer_closed_ = false;  // close_notify seen: every later read is at end of stream
};

asio::awaitable<void> SchannelTransport::handshake(const std::string& step) {
  try {
    co_await handshake_steps(step);
  } catch (const boost::system::system_error& e) {
    // A socket error (the master hung up): say which step it interrupted.
    throw std::runtime_error(step + ": " + e.code().message());
  }
}

asio::awaitable<void> SchannelTransport::handshake_steps(const std::string& step) {
  SCHANNEL_CRED settings{};
  settings.dwVersion = SCHANNEL_CRED_VERSION;
  settings.grbitEnabledProtocols = SP_PROT_TLS1_2_CLIENT;
  // No automatic server validation (pinned below instead), no client certificate.
  settings.dwFlags = SCH_CRED_MANUAL_CRED_VALIDATION | SCH_CRED_NO_DEFAULT_CREDS;
  SECURITY_STATUS status =
      AcquireCredentialsHandleW(nullptr, const_cast<LPWSTR>(UNISP_NAME_W), SECPKG_CRED_OUTBOUND, nullptr,
                                &settings, nullptr, nullptr, &credentials_, nullptr);
  if (status != SEC_E_OK) throw std::runtime_error(step + ": no SChannel credentials: " + status_text(status));
  has_credentials_ = true;

  bool certificate_requested = false;
  for (;;) {
    SecBuffer input[2] = {{static_cast<ULONG>(in_used_), SECBUFFER_TOKEN, in_.data()},
                          {0, SECBUFFER_EMPTY, nullptr}};
    SecBufferDesc input_desc{SECBUFFER_VERSION, 2, input};
    SecBuffer output[1] = {{0, SECBUFFER_TOKEN, nullptr}};
    SecBufferDesc output_desc{SECBUFFER_VERSION, 1, output};
    ULONG attributes = 0;
    // No target name: no SNI, and no name check (the fingerprint is the check).
    status = InitializeSecurityContextW(&credentials_, has_context_ ? &context_ : nullptr, nullptr, kContextFlags,
                                        0, 0, has_context_ ? &input_desc : nullptr, 0, &context_, &output_desc,
                                        &attributes, nullptr);
    // Copied out at once, so no exit path can leak SChannel's allocation.
    std::vector<char> token;
    if (output[0].pvBuffer != nullptr) {
      const char* bytes = static_cast<const char*>(output[0].pvBuffer);
      token.assign(bytes, bytes + output[0].cbBuffer);
      FreeContextBuffer(output[0].pvBuffer);
    }

    if (status == SEC_E_INCOMPLETE_MESSAGE) {
      if (in_used_ == in_.size()) {
        throw std::runtime_error(step + ": the master's handshake message is larger than " +
                                 std::to_string(in_.size() / 1024) + " KiB");
      }
      co_await receive_more();
      continue;
    }
    if (status != SEC_E_OK && status != SEC_I_CONTINUE_NEEDED && status != SEC_I_INCOMPLETE_CREDENTIALS) {
      // The token may be an alert telling the master why; it is not worth waiting for.
      if (!token.empty()) {
        boost::system::error_code ignored;
        asio::write(socket_, asio::buffer(token), ignored);
      }
      throw std::runtime_error(step + ": " + status_text(status));
    }
    has_context_ = true;
    if (!token.empty()) co_await asio::async_write(socket_, asio::buffer(token), asio::use_awaitable);

    if (status == SEC_I_INCOMPLETE_CREDENTIALS) {
      // The master asked for a client certificate. The same input again makes SChannel go on
      // without one (SCH_CRED_NO_DEFAULT_CREDS); it consumed nothing yet.
      if (certificate_requested) throw std::runtime_error(step + ": " + status_text(status));
      certificate_requested = true;
      continue;
    }
    // Bytes after the message just processed: the next handshake message, or after the last
    // one the first application records, which read_some decrypts.
    if (input[1].BufferType == SECBUFFER_EXTRA && input[1].cbBuffer > 0) {
      const std::size_t extra = input[1].cbBuffer;
      std::memmove(in_.data(), in_.data() + (in_used_ - extra), extra);
      in_used_ = extra;
    } else {
      in_used_ = 0;
    }
    if (status == SEC_E_OK) break;
    if (in_used_ == 0) co_await receive_more();
  }

  status = QueryContextAttributesW(&context_, SECPKG_ATTR_STREAM_SIZES, &sizes_);
  if (status != SEC_E_OK) throw std::runtime_error(step + ": no TLS record sizes: " + status_text(status));
  const std::size_t record_max = std::size_t{sizes_.cbHeader} + sizes_.cbMaximumMessage + sizes_.cbTrailer;
  if (sizes_.cbMaximumMessage == 0 || record_max > in_.size()) {
    throw std::runtime_error(step + ": unexpected TLS record size " + std::to_string(record_max));
  }
  out_.resize(record_max * kRecordsPerWrite);
}

std::string SchannelTransport::peer_fingerprint() {
  PCCERT_CONTEXT cert = nullptr;
  if (QueryContextAttributesW(&context_, SECPKG_ATTR_REMOTE_CERT_CONTEXT, &cert) != SEC_E_OK || cert == nullptr) {
    return {};
  }
  std::string hex = sha256_hex(cert->pbCertEncoded, cert->cbCertEncoded);
  CertFreeCertificateContext(cert);
  return hex;
}

asio::awaitable<void> SchannelTransport::receive_more() {
  const std::size_t n =
      co_await socket_.async_read_some(asio::buffer(in_.data() + in_used_, in_.size() - in_used_), asio::use_awaitable);
  in_used_ += n;
}

// Decrypts the first record of in_ into plain_; false when it has not fully arrived yet.
bool SchannelTransport::decrypt_record() {
  SecBuffer buffers[4] = {{static_cast<ULONG>(in_used_), SECBUFFER_DATA, in_.data()},
                          {0, SECBUFFER_EMPTY, nullptr},
                          {0, SECBUFFER_EMPTY, nullptr},
                          {0, SECBUFFER_EMPTY, nullptr}};
  SecBufferDesc desc{SECBUFFER_VERSION, 4, buffers};
  // Decryption happens in place: look at the record type first.
  const bool alert_record = static_cast<unsigned char>(in_[0]) == kAlertRecord;
  const SECURITY_STATUS status = DecryptMessage(&context_, &desc, 0, nullptr);
  if (status == SEC_E_INCOMPLETE_MESSAGE) return false;
  if (status == SEC_I_CONTEXT_EXPIRED) {
    peer_closed_ = true;
    throw boost::system::system_error(asio::error::eof);
  }
  // Includes SEC_I_RENEGOTIATE: renegotiation is refused, as on POSIX.
  if (status != SEC_E_OK) throw_status(status);

  plain_.clear();
  plain_pos_ = 0;
  std::size_t extra = 0;
  for (const SecBuffer& b : buffers) {
    if (b.BufferType == SECBUFFER_DATA && b.pvBuffer != nullptr) {
      const char* bytes = static_cast<const char*>(b.pvBuffer);
      plain_.assign(bytes, bytes + b.cbBuffer);
    } else if (b.BufferType == SECBUFFER_EXTRA) {
      extra = b.cbBuffer;
    }
  }
  // The plaintext was copied out: the next records can move to the front.
  std::memmove(in_.data(), in_.data() + (in_used_ - extra), extra);
  in_used_ = extra;
  // Windows reports close_notify as SEC_I_CONTEXT_EXPIRED; Wine (8) as an empty SEC_E_OK.
  // Fatal alerts fail DecryptMessage on both, so an alert that decrypts fine is the close
  // (or a warning, which nothing this client does provokes).
  if (alert_record && plain_.empty()) {
    peer_closed_ = true;
    throw boost::system::system_error(asio::error::eof);
  }
  return true;
}

asio::awaitable<std::size_t> SchannelTransport::read_some(asio::mutable_buffer buf) {
  if (closed_) throw boost::system::system_error(asio::error::bad_descriptor);
  if (buf.size() == 0) co_return 0;
  while (plain_pos_ == plain_.size()) {
    if (peer_closed_) throw boost::system::system_error(asio::error::eof);
    // A record may carry no data; then on to the next one.
    if (in_used_ > 0 && decrypt_record()) continue;
    // Cannot happen with SChannel's own record size limit; guards the buffer regardless.
    if (in_used_ == in_.size()) throw boost::system::system_error(asio::error::message_size);
    co_await receive_more();
    if (closed_) throw boost::system::system_error(asio::error::operation_aborted);
  }
  const std::size_t n = std::min(buf.size(), plain_.size() - plain_pos_);
  std::memcpy(buf.data(), plain_.data() + plain_pos_, n);
  plain_pos_ += n;
  co_return n;
}

// Encrypts one record (size <= cbMaximumMessage) into out; returns its length.
std::size_t SchannelTransport::encrypt_record(const char* data, std::size_t size, char* out) {
  std::memcpy(out + sizes_.cbHeader, data, size);
  SecBuffer buffers[4] = {{sizes_.cbHeader, SECBUFFER_STREAM_HEADER, out},
                          {static_cast<ULONG>(size), SECBUFFER_DATA, out + sizes_.cbHeader},
                          {sizes_.cbTrailer, SECBUFFER_STREAM_TRAILER, out + sizes_.cbHeader + size},
                          {0, SECBUFFER_EMPTY, nullptr}};
  SecBufferDesc desc{SECBUFFER_VERSION, 4, buffers};
  const SECURITY_STATUS status = EncryptMessage(&context_, 0, &desc, 0);
  if (status != SEC_E_OK) throw_status(status);
  // The trailer may come out shorter than cbTrailer (AEAD suites have none).
  return std::size_t{buffers[0].cbBuffer} + buffers[1].cbBuffer + buffers[2].cbBuffer;
}

asio::awaitable<void> SchannelTransport::write(asio::const_buffer data) {
  const char* next = static_cast<const char*>(data.data());
  std::size_t left = data.size();
  const std::size_t record_max = std::size_t{sizes_.cbHeader} + sizes_.cbMaximumMessage + sizes_.cbTrailer;
  while (left > 0) {
    if (closed_) throw boost::system::system_error(asio::error::bad_descriptor);
    std::size_t filled = 0;
    while (left > 0 && out_.size() - filled >= record_max) {
      const std::size_t n = std::min<std::size_t>(left, sizes_.cbMaximumMessage);
      filled += encrypt_record(next, n, out_.data() + filled);
      next += n;
      left -= n;
    }
    co_await asio::async_write(socket_, asio::buffer(out_.data(), filled), asio::use_awaitable);
  }
}

}  // namespace

// Asio creates inheritable sockets: without this every process the agent starts with
// inherited handles (redirected stdio) would get the master connection too (keeping it open
// after the agent dies, and able to write into it).
void keep_from_children(tcp::socket& socket) {
  const auto handle = reinterpret_cast<HANDLE>(static_cast<SOCKET>(socket.native_handle()));
  if (!SetHandleInformation(handle, HANDLE_FLAG_INHERIT, 0)) {
    throw std::runtime_error("cannot keep the master connection from child processes: " +
                             win::error_text(GetLastError()));
  }
}

asio::awaitable<TlsClient> start_tls(tcp::socket socket, asio::steady_timer& deadline, const std::string& step) {
  auto tls = std::make_unique<SchannelTransport>(std::move(socket));
  co_await before(deadline, tls->handshake(step), step);
  std::string fingerprint = tls->peer_fingerprint();
  co_return TlsClient{std::move(tls), std::move(fingerprint)};
}

}  // namespace remsh::agent
