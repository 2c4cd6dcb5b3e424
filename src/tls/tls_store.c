/*
 * tls_store.c -- where trust comes from: a CA file named in the options,
 * or the system's store.
 *
 * The CA file is parsed here rather than by SSL_CTX_load_verify_locations
 * so that every failure names the file and its cause ("cannot open",
 * "holds no certificate"), and so that a server asking for client
 * certificates can name the same CAs in its request.
 *
 * The system store is loaded once per process, on first use, into one
 * X509_STORE that every configuration without a CA file shares (an
 * X509_STORE is reference-counted and locks its own lookups, so sessions
 * of many configurations and threads may verify against it at once).
 * Loading it takes tens of milliseconds natively and a few hundred under
 * Wine, too much to pay for every host.connect() option set.  It differs
 * by platform.  On Unix, OpenSSL's default verify paths: Debian's bundle
 * /usr/lib/ssl/cert.pem (ca-certificates.crt, read at once) and the
 * hashed directory /usr/lib/ssl/certs (read lazily, per issuer);
 * SSL_CERT_FILE and SSL_CERT_DIR override them as usual.  Windows keeps
 * its trusted roots in the ROOT certificate store, which OpenSSL cannot
 * read, so the DER of each certificate there is copied into the
 * X509_STORE.  Roots added to the system later are seen after a restart.
 * wincrypt.h defines names OpenSSL uses (X509_NAME...) as macros; it
 * comes first and OpenSSL's headers undefine them.
 */
#ifdef _WIN32
#include <windows.h>

#include <wincrypt.h> /* after windows.h, which it needs */
#endif

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls_internal.h"

BIO *tls_open_file(const char *path, const char *what, char *err,
                   size_t errlen) {
  errno = 0;
  BIO *b = BIO_new_file(path, "r");
  if (b)
    return b;
  int e = errno;
  ERR_clear_error();
  tls_errf(err, errlen, "cannot open %s '%s': %s", what, path,
           e ? strerror(e) : "out of memory");
  return NULL;
}

/* Every certificate of a PEM file into the store (and the client CA
 * list); a file without one is an error, since it would trust nothing. */
static int load_file(SSL_CTX *ctx, const char *path, int client_ca, char *err,
                     size_t errlen) {
  char why[160];
  BIO *b = tls_open_file(path, "CA file", err, errlen);
  if (!b)
    return -1;
  STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
  BIO_free(b);
  if (!infos) {
    tls_take_error(why, sizeof why);
    return tls_errf(err, errlen, "cannot read CA file '%s': %s", path, why);
  }
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  int n = 0, rc = 0;
  for (int i = 0; i < sk_X509_INFO_num(infos) && rc == 0; i++) {
    X509 *x = sk_X509_INFO_value(infos, i)->x509;
    if (!x)
      continue; /* a key or CRL in the file: not ours to use */
    if (!X509_STORE_add_cert(store, x) ||
        (client_ca && !SSL_CTX_add_client_CA(ctx, x))) {
      tls_take_error(why, sizeof why);
      tls_errf(err, errlen, "cannot use CA file '%s': %s", path, why);
      rc = -1;
    }
    n++;
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  if (rc == 0 && n == 0) {
    tls_errf(err, errlen, "CA file '%s' holds no certificate", path);
    rc = -1;
  }
  return rc;
}

static X509_STORE *system_store; /* shared; NULL if it failed to load */
static char system_error[256];   /* why it failed */
static CRYPTO_ONCE system_once = CRYPTO_ONCE_STATIC_INIT;

#ifdef _WIN32
/* The ROOT store's certificates.  One that OpenSSL cannot parse is
 * skipped, as Windows may hold a few odd ones. */
static int fill_system(X509_STORE *store) {
  HCERTSTORE sys = CertOpenSystemStoreW(0, L"ROOT");
  if (!sys) {
    snprintf(system_error, sizeof system_error,
             "cannot open the system ROOT certificate store (error %lu)",
             (unsigned long)GetLastError());
    return -1;
  }
  PCCERT_CONTEXT c = NULL;
  while ((c = CertEnumCertificatesInStore(sys, c)) != NULL) {
    const unsigned char *der = c->pbCertEncoded;
    X509 *x = d2i_X509(NULL, &der, (long)c->cbCertEncoded);
    if (x) {
      X509_STORE_add_cert(store, x); /* a duplicate is no harm */
      X509_free(x);
    }
  }
  ERR_clear_error();
  CertCloseStore(sys, 0);
  return 0;
}
#else
static int fill_system(X509_STORE *store) {
  if (X509_STORE_set_default_paths(store) == 1)
    return 0;
  char why[160];
  tls_take_error(why, sizeof why);
  snprintf(system_error, sizeof system_error,
           "cannot use the system certificate store: %s", why);
  return -1;
}
#endif

static void load_system_once(void) {
  X509_STORE *store = X509_STORE_new();
  if (!store) {
    snprintf(system_error, sizeof system_error, "out of memory");
    return;
  }
  if (fill_system(store) < 0) {
    X509_STORE_free(store);
    return;
  }
  system_store = store; /* stays for the process: reachable, not leaked */
}

static int use_system(SSL_CTX *ctx, char *err, size_t errlen) {
  if (!CRYPTO_THREAD_run_once(&system_once, load_system_once))
    snprintf(system_error, sizeof system_error, "cannot initialise");
  if (!system_store) {
    return tls_errf(err, errlen, "%s", system_error);
  }
  SSL_CTX_set1_cert_store(ctx, system_store); /* ctx holds a reference */
  return 0;
}

int tls_store_load(SSL_CTX *ctx, const char *ca, int client_ca, char *err,
                   size_t errlen) {
  if (ca)
    return load_file(ctx, ca, client_ca, err, errlen);
  return use_system(ctx, err, errlen);
}
