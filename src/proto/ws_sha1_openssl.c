/*
 * ws_sha1_openssl.c -- the SHA-1 that ws_accept needs, from OpenSSL's
 * libcrypto.  Kept out of hostproto (in hostproto_ssl) so that the parsers
 * link nothing and build where OpenSSL is absent (the Windows cross
 * build); the host links libcrypto for TLS anyway.
 */
#include "ws.h"

#include <openssl/evp.h>

int ws_sha1_openssl(const void *data, size_t len, uint8_t out[20]) {
  unsigned int n = 0;
  if (EVP_Digest(data, len, out, &n, EVP_sha1(), NULL) != 1 || n != 20)
    return -1;
  return 0;
}
