/*
 * tls_testcerts.c -- a private PKI for test_tls, made with OpenSSL's API
 * (see tls_testcerts.h for the list).
 */
#include "tls_testcerts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <direct.h>
#include <process.h>
#include <windows.h>
#else
#include <unistd.h>
#endif

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static char dir[512];
static char path[600];
static int borrowed; /* dir came from testcerts_use() */

void testcerts_use(const char *p) {
  snprintf(dir, sizeof dir, "%s", p);
  borrowed = 1;
}

static const char *const files[] = {"ca",       "inter", "server",  "a",
                                    "b",        "chain", "expired", "client",
                                    "other-ca", "rogue", NULL};

const char *testcerts_path(const char *name) {
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
  X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  int ok = e && X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
  return ok;
}

struct spec {
  const char *cn;  /* subject CN */
  const char *san; /* subjectAltName, or NULL */
  const char *eku; /* extendedKeyUsage, or NULL */
  int ca;          /* a CA certificate */
  long from, to;   /* validity, in days from now */
};

/* A certificate for key, signed by issuer (NULL: self-signed). */
static X509 *make_cert(const struct spec *sp, EVP_PKEY *key, X509 *issuer,
                       EVP_PKEY *issuer_key) {
  static long serial = 1;
  X509 *x = X509_new();
  X509_NAME *name = X509_NAME_new();
  int ok =
      x && name && X509_set_version(x, 2) &&
      ASN1_INTEGER_set(X509_get_serialNumber(x), serial++) &&
      X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                 (const unsigned char *)"host test", -1, -1,
                                 0) &&
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 (const unsigned char *)sp->cn, -1, -1, 0) &&
      X509_set_subject_name(x, name) &&
      X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) &&
      X509_gmtime_adj(X509_getm_notBefore(x), sp->from * 86400L) &&
      X509_gmtime_adj(X509_getm_notAfter(x), sp->to * 86400L) &&
      X509_set_pubkey(x, key);
  X509 *signer = issuer ? issuer : x;
  if (ok && sp->ca)
    ok = add_ext(x, signer, NID_basic_constraints, "critical,CA:TRUE") &&
         add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  else if (ok)
    ok = add_ext(x, signer, NID_basic_constraints, "CA:FALSE") &&
         add_ext(x, signer, NID_key_usage, "critical,digitalSignature");
  if (ok && sp->san)
    ok = add_ext(x, signer, NID_subject_alt_name, sp->san);
  if (ok && sp->eku)
    ok = add_ext(x, signer, NID_ext_key_usage, sp->eku);
  if (ok)
    ok = X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0;
  X509_NAME_free(name);
  if (!ok) {
    X509_free(x);
    return NULL;
  }
  return x;
}

/* Writes NAME.pem (cert, then extra if given) and NAME.key. */
static int write_pair(const char *name, X509 *x, X509 *extra, EVP_PKEY *key) {
  char file[640];
  snprintf(file, sizeof file, "%s/%s.pem", dir, name);
  FILE *f = fopen(file, "wb");
  int ok = f && PEM_write_X509(f, x) && (!extra || PEM_write_X509(f, extra));
  if (f && fclose(f) != 0)
    ok = 0;
  snprintf(file, sizeof file, "%s/%s.key", dir, name);
  f = fopen(file, "wb");
  ok = ok && f && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
  if (f && fclose(f) != 0)
    ok = 0;
  return ok ? 0 : -1;
}

static int write_text(const char *name, const char *text) {
  FILE *f = fopen(testcerts_path(name), "wb");
  int ok = f && fputs(text, f) >= 0;
  if (f && fclose(f) != 0)
    ok = 0;
  return ok ? 0 : -1;
}

static int make_dir(void) {
#ifdef _WIN32
  char tmp[MAX_PATH];
  DWORD n = GetTempPathA(sizeof tmp, tmp);
  if (n == 0 || n >= sizeof tmp)
    return -1;
  snprintf(dir, sizeof dir, "%stest_tls.%d", tmp, _getpid());
  return _mkdir(dir) == 0 ? 0 : -1;
#else
  const char *t = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/test_tls.XXXXXX", t && *t ? t : "/tmp");
  return mkdtemp(dir) ? 0 : -1;
#endif
}

struct made {
  const char *name;
  struct spec spec;
  const char *issuer; /* a name above, or NULL for self-signed */
  X509 *cert;
  EVP_PKEY *key;
};

const char *testcerts_make(void) {
  struct made m[] = {
      {"ca", {"host test CA", NULL, NULL, 1, -1, 3650}, NULL, 0, 0},
      {"inter",
       {"host test intermediate", NULL, NULL, 1, -1, 3650},
       "ca",
       0,
       0},
      {"server",
       {"localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth", 0, -1, 365},
       "ca",
       0,
       0},
      {"a",
       {"a.example", "DNS:a.example", "serverAuth", 0, -1, 365},
       "ca",
       0,
       0},
      {"b",
       {"b.example", "DNS:b.example", "serverAuth", 0, -1, 365},
       "ca",
       0,
       0},
      {"chain",
       {"chain.example", "DNS:chain.example", "serverAuth", 0, -1, 365},
       "inter",
       0,
       0},
      {"expired",
       {"localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth", 0, -3, -1},
       "ca",
       0,
       0},
      {"client", {"client", NULL, "clientAuth", 0, -1, 365}, "ca", 0, 0},
      {"other-ca", {"other CA", NULL, NULL, 1, -1, 3650}, NULL, 0, 0},
      {"rogue", {"rogue", NULL, "clientAuth", 0, -1, 365}, "other-ca", 0, 0},
  };
  size_t n = sizeof m / sizeof m[0];
  int ok = make_dir() == 0;
  if (!ok)
    fprintf(stderr, "testcerts: cannot make a temporary directory\n");
  for (size_t i = 0; ok && i < n; i++) {
    struct made *issuer = NULL;
    for (size_t j = 0; m[i].issuer && j < i; j++)
      if (strcmp(m[j].name, m[i].issuer) == 0)
        issuer = &m[j];
    m[i].key = EVP_EC_gen("P-256");
    m[i].cert =
        m[i].key ? make_cert(&m[i].spec, m[i].key, issuer ? issuer->cert : NULL,
                             issuer ? issuer->key : NULL)
                 : NULL;
    X509 *extra = strcmp(m[i].name, "chain") == 0 ? issuer->cert : NULL;
    ok = m[i].cert && write_pair(m[i].name, m[i].cert, extra, m[i].key) == 0;
    if (!ok)
      fprintf(stderr, "testcerts: cannot make %s\n", m[i].name);
  }
  for (size_t i = 0; i < n; i++) {
    X509_free(m[i].cert);
    EVP_PKEY_free(m[i].key);
  }
  if (ok)
    ok = write_text("garbage.pem", "this is not PEM\n") == 0 &&
         write_text("empty.pem", "") == 0;
  ERR_clear_error();
  return ok ? dir : NULL;
}

void testcerts_remove(void) {
  char file[640];
  if (borrowed)
    return;
  for (int i = 0; files[i]; i++) {
    snprintf(file, sizeof file, "%s/%s.pem", dir, files[i]);
    remove(file);
    snprintf(file, sizeof file, "%s/%s.key", dir, files[i]);
    remove(file);
  }
  remove(testcerts_path("garbage.pem"));
  remove(testcerts_path("empty.pem"));
#ifdef _WIN32
  _rmdir(dir);
#else
  rmdir(dir);
#endif
}
