/*
 * fuzz_http_request.c -- http_parse_request against the invariants of
 * fuzz_http.h: spans inside the input, incremental equals whole,
 * pipelined requests.
 */
#include "fuzz_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_http(1, data, size);
  return 0;
}
