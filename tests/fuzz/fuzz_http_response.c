/*
 * fuzz_http_response.c -- http_parse_response against the invariants of
 * fuzz_http.h; the "request was HEAD/CONNECT" flags come from the input's
 * hash.
 */
#include "fuzz_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_http(0, data, size);
  return 0;
}
