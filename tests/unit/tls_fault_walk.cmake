# tls_fault_walk.cmake -- the TLS engine's fault walk (fault.h): runs
# `EXE --walk` with HOST_FAULT_C=k for k = 1, 2, ... so that each of the
# engine's own allocations fails once.  Every run must exit 0 with no
# sanitizer report (ASan's leak check included); the walk ends at the
# first k that no longer fires.
#
#   cmake -DEXE=build-asan/tests/unit/test_tls_io -P tls_fault_walk.cmake
if(NOT EXE)
  message(FATAL_ERROR "usage: cmake -DEXE=<test_tls_io> -P tls_fault_walk.cmake")
endif()
set(fired 0)
foreach(k RANGE 1 200)
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env HOST_FAULT_C=${k} ASAN_OPTIONS=detect_leaks=1
            "${EXE}" --walk
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
  string(REGEX MATCH "fault injected: [^\n]*" where "${err}")
  if(NOT rc EQUAL 0 OR err MATCHES "Sanitizer|runtime error:")
    message(FATAL_ERROR "not ok - HOST_FAULT_C=${k} (${where}): exit ${rc}\n${err}")
  endif()
  if(NOT where)
    break()
  endif()
  message("ok - HOST_FAULT_C=${k}: ${where}")
  math(EXPR fired "${fired} + 1")
endforeach()
if(fired EQUAL 0)
  message(FATAL_ERROR "no fault fired: is this a HOST_FAULT_INJECTION build?")
endif()
message("${fired} passed, 0 failed")
