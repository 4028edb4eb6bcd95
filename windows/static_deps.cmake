# What the Windows cross build links (windows/mingw-w64.cmake): only the protocol library and
# the agent are built. Header-only libraries come from the build host (Boost, CLI11, Catch2),
# through a directory of links to them alone — adding the host's /usr/include would let
# glibc's headers shadow mingw's. zlib is mingw's static archive (a dynamic one would need a
# zlib1.dll that Wine happens to ship and Windows does not); there is no mingw libzstd, so the
# Windows agent offers deflate only.
set(REMSH_HOST_HEADERS ${CMAKE_BINARY_DIR}/host-headers)
file(MAKE_DIRECTORY ${REMSH_HOST_HEADERS})
foreach(dir boost CLI catch2)
  if(NOT EXISTS /usr/include/${dir})
    message(FATAL_ERROR "the Windows build needs the host's /usr/include/${dir} (scripts/bootstrap installs it)")
  endif()
  file(CREATE_LINK /usr/include/${dir} ${REMSH_HOST_HEADERS}/${dir} SYMBOLIC)
endforeach()

add_library(remsh_host_headers INTERFACE)
target_include_directories(remsh_host_headers SYSTEM INTERFACE ${REMSH_HOST_HEADERS})
target_compile_definitions(remsh_host_headers INTERFACE _WIN32_WINNT=0x0A00 NTDDI_VERSION=0x0A000006
                           WIN32_LEAN_AND_MEAN NOMINMAX UNICODE _UNICODE)
add_library(Boost::headers ALIAS remsh_host_headers)

set(ZLIB_USE_STATIC_LIBS ON)
find_package(ZLIB REQUIRED)
set(REMSH_ZLIB_LIB ZLIB::ZLIB)
set(REMSH_ZSTD_LIB "")
# One file to copy to a volunteer's machine: libstdc++, libgcc and winpthread inside.
set(REMSH_WINDOWS_LINK_OPTIONS -static -s)

# The agent is built for size (goal: < 3 MB stripped): -Os instead of -O3.
set(CMAKE_CXX_FLAGS_RELEASE "-Os -DNDEBUG")
# GCC 12's -Wrestrict misfires inside libstdc++'s char_traits for std::string appends once
# inlined (GCC bug 105329); it is not about our code.
add_compile_options(-Wno-restrict)
