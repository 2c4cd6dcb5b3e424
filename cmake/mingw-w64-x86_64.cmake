# CMake toolchain file: cross-compile for 64-bit Windows with MinGW-w64 GCC.
#
#   cmake -S . -B build-win -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
#
# What it sets up:
#   * x86_64-w64-mingw32 gcc, windres and binutils. We prefer the `-win32`
#     thread-model compiler (Debian's default alternative): it needs no
#     winpthread, and the host uses Win32 threads directly. Override with
#     -DHOST_MINGW_GCC=/path/to/gcc.
#   * Static runtime: executables link with -static, so host.exe imports only
#     DLLs that ship with Windows (KERNEL32, WS2_32, MSWSOCK, msvcrt...);
#     DLLs (Lua C modules) get -static-libgcc. Check an exe with
#         x86_64-w64-mingw32-objdump -p host.exe | grep 'DLL Name'
#   * Find roots: libraries, headers and packages come from the MinGW sysroot
#     only; programs (bash, pkg-config...) from the build machine. pkg-config
#     is pointed at the sysroot, so the Linux .pc files can't leak in.
#   * CMAKE_CROSSCOMPILING_EMULATOR = cmake/wine-run.sh, so ctest and
#     add_custom_command(COMMAND <exe target>) run Windows programs under Wine.
#
# On a machine without the cross compiler, when we are root on Debian, the
# first configure installs gcc-mingw-w64-x86-64 (apt-ensure.sh); otherwise it
# fails and names the package.
#
# MinGW-w64 notes for code built with this file:
#   * <_mingw.h> defaults _WIN32_WINNT to 0x0A00 (Windows 10), so Vista+ APIs
#     (GetQueuedCompletionStatusEx, CancelIoEx) are declared without defines.
#   * In C99 mode or later (-std=c11, gnu99...), <_mingw.h> turns on
#     __USE_MINGW_ANSI_STDIO, so the printf family is MinGW's C99 code, linked
#     statically, rather than msvcrt's: "%zu", "%lld" and PRIu64 work and
#     pass -Wall -Wextra -Werror (checked with GCC 12, run under Wine).

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)           # what Windows itself reports
set(HOST_MINGW_TRIPLET x86_64-w64-mingw32)
set(HOST_MINGW_SYSROOT /usr/${HOST_MINGW_TRIPLET})

# Try-compile projects re-read this file; hand them our own variables too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES HOST_MINGW_GCC)

find_program(HOST_MINGW_GCC NAMES ${HOST_MINGW_TRIPLET}-gcc-win32 ${HOST_MINGW_TRIPLET}-gcc)
if(NOT HOST_MINGW_GCC AND EXISTS /usr/bin/apt-get)
  execute_process(
    COMMAND bash "${CMAKE_CURRENT_LIST_DIR}/apt-ensure.sh"
            gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64
    RESULT_VARIABLE _host_rc)
  unset(HOST_MINGW_GCC CACHE)
  find_program(HOST_MINGW_GCC NAMES ${HOST_MINGW_TRIPLET}-gcc-win32 ${HOST_MINGW_TRIPLET}-gcc)
endif()
if(NOT HOST_MINGW_GCC)
  message(FATAL_ERROR "No ${HOST_MINGW_TRIPLET}-gcc found. On Debian: "
                      "apt-get install gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64")
endif()

set(CMAKE_C_COMPILER "${HOST_MINGW_GCC}")
find_program(HOST_MINGW_GXX NAMES ${HOST_MINGW_TRIPLET}-g++-win32 ${HOST_MINGW_TRIPLET}-g++)
if(HOST_MINGW_GXX)                          # only if g++-mingw-w64 is installed
  set(CMAKE_CXX_COMPILER "${HOST_MINGW_GXX}")
endif()
find_program(CMAKE_RC_COMPILER NAMES ${HOST_MINGW_TRIPLET}-windres)

set(CMAKE_FIND_ROOT_PATH "${HOST_MINGW_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(ENV{PKG_CONFIG_LIBDIR} "${HOST_MINGW_SYSROOT}/lib/pkgconfig:${HOST_MINGW_SYSROOT}/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# libgcc (and winpthread, libssp... if something pulls them in) linked
# statically: no libgcc_s_seh-1.dll beside host.exe.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static-libgcc")

set(CMAKE_CROSSCOMPILING_EMULATOR "${CMAKE_CURRENT_LIST_DIR}/wine-run.sh")
