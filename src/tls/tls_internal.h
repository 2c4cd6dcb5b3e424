/*
 * tls_internal.h -- what tls_config.c, tls_session.c and tls_store.c
 * share: the configuration's layout and a few helpers.  Not for use
 * outside src/tls.
 */
#ifndef HOST_TLS_INTERNAL_H
#define HOST_TLS_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "tls.h"

/* A server certificate chosen by SNI, loaded once per configuration. */
struct tls_sni {
  char *name;             /* lower case; "*.example" for a wildcard */
  X509 *cert;             /* leaf */
  STACK_OF(X509) * chain; /* intermediates, may be empty */
  EVP_PKEY *key;
};

struct tls_config {
  atomic_int refs; /* tls_config_ref/unref; sessions hold one */
  enum tls_role role;
  enum tls_verify verify; /* resolved: _NONE or _PEER */
  SSL_CTX *ctx;           /* shared by every session's SSL */
  unsigned char *alpn;    /* our protocols, wire format (length-prefixed),
                             most preferred first; NULL if none */
  size_t alpn_len;
  struct tls_sni *sni; /* server: the SNI table */
  size_t nsni;
};

/* Formats into err (if not NULL) as snprintf does; returns -1, so an
 * error path can `return tls_errf(...)`. */
int tls_errf(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Copies the reason of the earliest error in this thread's OpenSSL error
 * queue into buf ("no start line", ...; "unknown error" if the queue is
 * empty) and clears the queue. */
void tls_take_error(char *buf, size_t len);

/* Sets what ctx trusts: every certificate in the PEM file ca (added to
 * ctx's own store), or, when ca is NULL, the system's store (the default
 * verify paths on Unix, the ROOT certificate store on Windows), loaded
 * once per process and shared.  With client_ca, a server also names the
 * file's CAs in its certificate request.  0, or -1 with a message in
 * err. */
int tls_store_load(SSL_CTX *ctx, const char *ca, int client_ca, char *err,
                   size_t errlen);

/* Opens a file for OpenSSL to read; NULL with "cannot open <what> 'path':
 * <system's reason>" in err. */
BIO *tls_open_file(const char *path, const char *what, char *err,
                   size_t errlen);

#endif
