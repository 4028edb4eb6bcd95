# How the programs link their third-party libraries.
#
# `remsh` starts once per command a user or script types, and `remsh-agent` stays resident on
# volunteers' machines: for both, every shared library costs the dynamic loader mappings,
# relocations and pages (measured: `remsh --version` 6.8 ms dynamic, 2.4 ms with these
# archives). Where the system has static archives, they are linked in instead: zstd and zlib
# everywhere; libstdc++, libgcc and OpenSSL into remsh only (the agent's size goal, < 3 MB,
# has no room for them: 2.3 MB stripped as it is, 3.5 MB with libstdc++, 7.5 MB with
# OpenSSL). Sanitizer, fuzz and Windows builds keep the shared libraries.
#
# Sets: REMSH_ZSTD_LIB, REMSH_ZLIB_LIB (for remsh_protocol), REMSH_CLI_SSL_LIBS and
# REMSH_STATIC_RUNTIME (libraries and link options for remsh).
option(REMSH_STATIC_DEPS "Link zstd and zlib statically, and libstdc++ and OpenSSL into remsh" ON)

set(REMSH_ZSTD_LIB PkgConfig::ZSTD)
set(REMSH_ZLIB_LIB ZLIB::ZLIB)
set(REMSH_CLI_SSL_LIBS OpenSSL::SSL OpenSSL::Crypto)
set(REMSH_STATIC_RUNTIME "")

if(REMSH_STATIC_DEPS AND NOT REMSH_SANITIZE AND NOT REMSH_FUZZ AND NOT WIN32)
  find_library(REMSH_ZSTD_ARCHIVE NAMES libzstd.a)
  find_library(REMSH_ZLIB_ARCHIVE NAMES libz.a)
  find_library(REMSH_SSL_ARCHIVE NAMES libssl.a)
  find_library(REMSH_CRYPTO_ARCHIVE NAMES libcrypto.a)
  if(REMSH_ZSTD_ARCHIVE)
    set(REMSH_ZSTD_LIB ${REMSH_ZSTD_ARCHIVE})
  endif()
  if(REMSH_ZLIB_ARCHIVE)
    set(REMSH_ZLIB_LIB ${REMSH_ZLIB_ARCHIVE})
  endif()
  if(REMSH_SSL_ARCHIVE AND REMSH_CRYPTO_ARCHIVE)
    find_package(Threads REQUIRED)
    set(REMSH_CLI_SSL_LIBS ${REMSH_SSL_ARCHIVE} ${REMSH_CRYPTO_ARCHIVE} Threads::Threads
        ${CMAKE_DL_LIBS})
  endif()
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    set(REMSH_STATIC_RUNTIME -static-libstdc++ -static-libgcc)
  endif()
endif()
