# third_party/openssl/openssl.cmake: OpenSSL for Windows builds.
#
#     include(third_party/openssl/openssl.cmake)   # defines host::ssl, host::crypto
#     target_link_libraries(hosttls PUBLIC host::ssl)
#
# The targets are one of two things:
#   * Cross build (the toolchain file): static libssl.a and libcrypto.a built
#     from Debian's openssl source package by build.sh, which keeps them in
#     a cache outside the build tree (~/.cache/host-openssl/<version>-mingw64,
#     or $HOST_OPENSSL_CACHE), so only the first configure on a machine
#     compiles OpenSSL.  HOST_OPENSSL_ROOT names a prefix to use instead
#     (include/openssl/ssl.h, lib/libssl.a, lib/libcrypto.a).
#   * Native Windows (MSYS2, vcpkg): the installed OpenSSL through CMake's
#     FindOpenSSL (set OPENSSL_USE_STATIC_LIBS=ON for a self-contained exe).
# host::crypto brings the Windows libraries libcrypto calls (sockets, the
# certificate store, the random generator, the event log); all of them are
# DLLs that Windows ships.
#
# On Linux the top level uses find_package(OpenSSL) directly (Debian's
# libssl-dev); this file is then not needed, though it works the same way
# for a native build that wants its own OpenSSL via HOST_OPENSSL_ROOT.

include_guard(GLOBAL)

set(HOST_OPENSSL_ROOT "" CACHE PATH
    "Prefix holding OpenSSL (include/, lib/libssl.a, lib/libcrypto.a); empty: build Debian's source (cross) or find an installed one")

set(_ossl_windows_libs ws2_32 crypt32 bcrypt advapi32 user32)

if(NOT HOST_OPENSSL_ROOT AND CMAKE_CROSSCOMPILING)
  find_program(HOST_BASH bash)
  if(NOT HOST_BASH)
    message(FATAL_ERROR "host: bash is needed to run third_party/openssl/build.sh")
  endif()
  message(STATUS "host: OpenSSL for Windows: third_party/openssl/build.sh (a few minutes the first time on a machine, then cached)")
  execute_process(
    COMMAND "${HOST_BASH}" "${CMAKE_CURRENT_LIST_DIR}/build.sh" --cc "${CMAKE_C_COMPILER}"
    OUTPUT_VARIABLE _ossl_root
    OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "host: third_party/openssl/build.sh failed (exit ${_rc}); see its "
                        "messages above, or pass -DHOST_OPENSSL_ROOT=<prefix>.")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
               "${CMAKE_CURRENT_LIST_DIR}/build.sh" "${CMAKE_CURRENT_LIST_DIR}/fetch.sh")
elseif(HOST_OPENSSL_ROOT)
  set(_ossl_root "${HOST_OPENSSL_ROOT}")
endif()

if(_ossl_root)
  foreach(f include/openssl/ssl.h lib/libssl.a lib/libcrypto.a)
    if(NOT EXISTS "${_ossl_root}/${f}")
      message(FATAL_ERROR "host: '${_ossl_root}' has no ${f}")
    endif()
  endforeach()
  file(STRINGS "${_ossl_root}/include/openssl/opensslv.h" _ossl_v
       REGEX "^# *define OPENSSL_VERSION_STR ")
  string(REGEX REPLACE ".*\"(.*)\".*" "\\1" _ossl_v "${_ossl_v}")
  if(NOT _ossl_v MATCHES "^3\\.")
    message(FATAL_ERROR "host: '${_ossl_root}' holds OpenSSL '${_ossl_v}'; 3.x is needed")
  endif()
  add_library(host::crypto STATIC IMPORTED GLOBAL)
  set_target_properties(host::crypto PROPERTIES
    IMPORTED_LOCATION "${_ossl_root}/lib/libcrypto.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_ossl_root}/include")
  if(WIN32)
    set_property(TARGET host::crypto PROPERTY
                 INTERFACE_LINK_LIBRARIES ${_ossl_windows_libs})
  else()
    find_package(Threads REQUIRED)
    set_property(TARGET host::crypto PROPERTY
                 INTERFACE_LINK_LIBRARIES Threads::Threads ${CMAKE_DL_LIBS})
  endif()
  add_library(host::ssl STATIC IMPORTED GLOBAL)
  set_target_properties(host::ssl PROPERTIES
    IMPORTED_LOCATION "${_ossl_root}/lib/libssl.a"
    INTERFACE_LINK_LIBRARIES host::crypto)
  message(STATUS "host: OpenSSL ${_ossl_v} from ${_ossl_root}")
else()
  find_package(OpenSSL 3 REQUIRED)
  add_library(host::crypto INTERFACE IMPORTED GLOBAL)
  set_property(TARGET host::crypto PROPERTY INTERFACE_LINK_LIBRARIES OpenSSL::Crypto)
  add_library(host::ssl INTERFACE IMPORTED GLOBAL)
  set_property(TARGET host::ssl PROPERTY INTERFACE_LINK_LIBRARIES OpenSSL::SSL)
  if(WIN32)
    set_property(TARGET host::crypto APPEND PROPERTY
                 INTERFACE_LINK_LIBRARIES ${_ossl_windows_libs})
  endif()
  message(STATUS "host: OpenSSL ${OPENSSL_VERSION} (installed)")
endif()
