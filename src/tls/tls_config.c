/*
 * tls_config.c -- struct tls_config: one SSL_CTX with the host's defaults,
 * made once per listener or per set of connect options and shared by the
 * sessions of every worker (OpenSSL 3 allows SSL_new on one SSL_CTX from
 * many threads; nothing here changes the SSL_CTX after it is made).
 *
 * Defaults, and why:
 *   - TLS 1.2 and 1.3 only: older versions are deprecated (RFC 8996).
 *   - No renegotiation (a DoS lever and a source of old bugs), no
 *     compression (CRIME), ECDHE groups X25519 and P-256 (what nearly
 *     every client offers; fewer groups, fewer key shares to compute).
 *   - Ciphers: OpenSSL's defaults (and Debian's system-wide security
 *     level on Linux); they are already AEAD-first.
 *   - Session tickets on, for resumption; the server-side session cache
 *     off, so memory does not grow with the number of clients and workers
 *     do not contend for its lock (tickets carry the state instead).
 *   - Records: SSL_MODE_RELEASE_BUFFERS frees OpenSSL's record buffers
 *     whenever they are empty, so an idle session costs little (and
 *     tls_alloc.c keeps a few freed ones per worker for the next record,
 *     so a busy one does not pay a large malloc and free per record);
 *     SSL_MODE_ENABLE_PARTIAL_WRITE lets tls_write() stop after each
 *     record; SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets a retried write
 *     come from another address (a Lua string is not pinned).
 *
 * Certificates and keys are parsed here (not with the SSL_CTX_use_*_file
 * helpers) so that each failure names the file and the cause, and so that
 * the SNI table holds parsed objects: picking a certificate during a
 * handshake costs a lookup and a few reference counts, no parsing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fault.h"
#include "tls_internal.h"

int tls_errf(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

void tls_take_error(char *buf, size_t len) {
  unsigned long e = ERR_peek_error();
  const char *why = e ? ERR_reason_error_string(e) : NULL;
  snprintf(buf, len, "%s", why ? why : "unknown error");
  ERR_clear_error();
}

/* ---- certificates and keys ---------------------------------------------- */

/* Never asks for a passphrase (OpenSSL would prompt on the terminal). */
static int no_password(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return -1;
}

static void free_identity(struct tls_sni *id) {
  X509_free(id->cert);
  sk_X509_pop_free(id->chain, X509_free);
  EVP_PKEY_free(id->key);
  OPENSSL_free(id->name);
  memset(id, 0, sizeof *id);
}

/* The leaf and what follows it in the certificate file. */
static int load_chain(struct tls_sni *id, const char *path, char *err,
                      size_t errlen) {
  char why[160];
  BIO *b = tls_open_file(path, "certificate file", err, errlen);
  if (!b)
    return -1;
  id->cert = PEM_read_bio_X509_AUX(b, NULL, no_password, NULL);
  if (!id->cert) {
    tls_take_error(why, sizeof why);
    BIO_free(b);
    return tls_errf(err, errlen, "no certificate in '%s': %s", path, why);
  }
  id->chain = sk_X509_new_null();
  X509 *x;
  while (id->chain && (x = PEM_read_bio_X509(b, NULL, no_password, NULL))) {
    if (!sk_X509_push(id->chain, x)) {
      X509_free(x);
      break;
    }
  }
  BIO_free(b);
  /* The loop ends at the end of the file ("no start line") or on a
   * certificate that does not parse, which is an error. */
  unsigned long e = ERR_peek_last_error();
  if (id->chain && ERR_GET_LIB(e) == ERR_LIB_PEM &&
      ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
    return 0;
  }
  tls_take_error(why, sizeof why);
  return tls_errf(err, errlen, "bad certificate chain in '%s': %s", path,
                  id->chain ? why : "out of memory");
}

/* Certificate (with its chain) and private key, checked to match. */
static int load_identity(struct tls_sni *id, const char *cert, const char *key,
                         char *err, size_t errlen) {
  char why[160];
  if (load_chain(id, cert, err, errlen) < 0)
    return -1;
  BIO *b = tls_open_file(key, "key file", err, errlen);
  if (!b)
    return -1;
  id->key = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
  BIO_free(b);
  if (!id->key) {
    tls_take_error(why, sizeof why);
    return tls_errf(err, errlen, "cannot read private key '%s': %s", key, why);
  }
  if (X509_check_private_key(id->cert, id->key) != 1) {
    ERR_clear_error();
    return tls_errf(err, errlen,
                    "private key '%s' does not match certificate '%s'", key,
                    cert);
  }
  return 0;
}

/* ---- SNI ---------------------------------------------------------------- */

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int same_name(const char *a, const char *b) {
  while (*a && lower((unsigned char)*a) == lower((unsigned char)*b))
    a++, b++;
  return *a == 0 && *b == 0;
}

/* "a.example" matches itself and "*.example" (one label, not empty). */
static int sni_match(const char *pattern, const char *name) {
  if (pattern[0] == '*' && pattern[1] == '.') {
    const char *dot = strchr(name, '.');
    return dot && dot != name && same_name(pattern + 1, dot);
  }
  return same_name(pattern, name);
}

static const struct tls_sni *sni_find(const struct tls_config *cfg,
                                      const char *name) {
  for (size_t i = 0; i < cfg->nsni; i++) /* exact names first */
    if (cfg->sni[i].name[0] != '*' && sni_match(cfg->sni[i].name, name))
      return &cfg->sni[i];
  for (size_t i = 0; i < cfg->nsni; i++)
    if (cfg->sni[i].name[0] == '*' && sni_match(cfg->sni[i].name, name))
      return &cfg->sni[i];
  return NULL;
}

/* Runs while the server reads the ClientHello: a name in the table swaps
 * the session's certificate; any other name keeps the default one. */
static int on_servername(SSL *ssl, int *alert, void *arg) {
  const struct tls_config *cfg = arg;
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  const struct tls_sni *e = name ? sni_find(cfg, name) : NULL;
  if (!e)
    return SSL_TLSEXT_ERR_OK;
  SSL_certs_clear(ssl);
  if (SSL_use_cert_and_key(ssl, e->cert, e->key, e->chain, 1) != 1) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

static int add_sni(struct tls_config *cfg, const struct tls_server_cert *sc,
                   char *err, size_t errlen) {
  struct tls_sni *e = &cfg->sni[cfg->nsni];
  if (!sc->name || !sc->name[0] || strlen(sc->name) > 253 || !sc->cert ||
      !sc->key) {
    return tls_errf(err, errlen, "an SNI entry needs a name, a cert and a key");
  }
  cfg->nsni++; /* counted now, so a half-loaded entry is freed too */
  if (load_identity(e, sc->cert, sc->key, err, errlen) < 0)
    return -1;
  if (fault_fail(FAULT_C, "tls sni name") ||
      !(e->name = OPENSSL_strdup(sc->name))) {
    return tls_errf(err, errlen, "out of memory");
  }
  for (char *p = e->name; *p; p++)
    *p = (char)lower((unsigned char)*p);
  return 0;
}

/* ---- ALPN --------------------------------------------------------------- */

/* The server's choice: the first of our protocols the client offers.  No
 * common protocol is fatal (RFC 7301 3.2: no_application_protocol). */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg) {
  const struct tls_config *cfg = arg;
  (void)ssl;
  for (size_t i = 0; i < cfg->alpn_len; i += 1 + cfg->alpn[i]) {
    const unsigned char *ours = cfg->alpn + i;
    for (unsigned int j = 0; j < inlen && j + 1 + in[j] <= inlen;
         j += 1 + in[j]) {
      if (in[j] == ours[0] && memcmp(in + j + 1, ours + 1, ours[0]) == 0) {
        *out = ours + 1;
        *outlen = ours[0];
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int set_alpn(struct tls_config *cfg, const struct tls_options *o,
                    char *err, size_t errlen) {
  size_t len = 0;
  for (size_t i = 0; i < o->nalpn; i++) {
    size_t n = o->alpn[i] ? strlen(o->alpn[i]) : 0;
    if (n == 0 || n > 255) {
      return tls_errf(err, errlen, "ALPN protocol names are 1 to 255 bytes");
    }
    len += 1 + n;
  }
  if (len == 0)
    return 0;
  if (len > 65535) {
    return tls_errf(err, errlen, "ALPN list too long");
  }
  if (fault_fail(FAULT_C, "tls alpn") || !(cfg->alpn = OPENSSL_malloc(len))) {
    return tls_errf(err, errlen, "out of memory");
  }
  for (size_t i = 0; i < o->nalpn; i++) {
    size_t n = strlen(o->alpn[i]);
    cfg->alpn[cfg->alpn_len] = (unsigned char)n;
    memcpy(cfg->alpn + cfg->alpn_len + 1, o->alpn[i], n);
    cfg->alpn_len += 1 + n;
  }
  if (cfg->role == TLS_SERVER) {
    SSL_CTX_set_alpn_select_cb(cfg->ctx, on_alpn, cfg);
  } else if (SSL_CTX_set_alpn_protos(cfg->ctx, cfg->alpn,
                                     (unsigned int)cfg->alpn_len) != 0) {
    ERR_clear_error(); /* (this one returns 0 on success) */
    return tls_errf(err, errlen, "out of memory");
  }
  return 0;
}

/* ---- versions, verification, the context -------------------------------- */

static int set_protocols(struct tls_config *cfg, const struct tls_options *o,
                         char *err, size_t errlen) {
  int min = TLS1_2_VERSION, max = TLS1_3_VERSION;
  if (o->nprotocols > 0) {
    min = TLS1_3_VERSION, max = TLS1_2_VERSION;
    for (size_t i = 0; i < o->nprotocols; i++) {
      const char *p = o->protocols[i] ? o->protocols[i] : "(null)";
      int v = strcmp(p, "TLSv1.2") == 0   ? TLS1_2_VERSION
              : strcmp(p, "TLSv1.3") == 0 ? TLS1_3_VERSION
                                          : 0;
      if (!v) {
        return tls_errf(err, errlen,
                        "unknown protocol '%s' (TLSv1.2 and TLSv1.3 "
                        "are supported)",
                        p);
      }
      min = v < min ? v : min;
      max = v > max ? v : max;
    }
  }
  if (!SSL_CTX_set_min_proto_version(cfg->ctx, min) ||
      !SSL_CTX_set_max_proto_version(cfg->ctx, max)) {
    ERR_clear_error();
    return tls_errf(err, errlen, "cannot set the protocol versions");
  }
  return 0;
}

static int set_verify(struct tls_config *cfg, const struct tls_options *o,
                      char *err, size_t errlen) {
  if (o->verify == TLS_VERIFY_DEFAULT)
    cfg->verify = cfg->role == TLS_CLIENT ? TLS_VERIFY_PEER : TLS_VERIFY_NONE;
  else
    cfg->verify = o->verify;
  if (cfg->verify == TLS_VERIFY_NONE) {
    if (o->ca && cfg->role == TLS_SERVER)
      return tls_errf(err, errlen, "'ca' is given but peers are not verified");
    SSL_CTX_set_verify(cfg->ctx, SSL_VERIFY_NONE, NULL);
    return o->ca ? tls_store_load(cfg->ctx, o->ca, 0, err, errlen) : 0;
  }
  int mode = SSL_VERIFY_PEER;
  if (cfg->role == TLS_SERVER)
    mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE;
  SSL_CTX_set_verify(cfg->ctx, mode, NULL);
  return tls_store_load(cfg->ctx, o->ca, cfg->role == TLS_SERVER, err, errlen);
}

static int set_identity(struct tls_config *cfg, const struct tls_options *o,
                        char *err, size_t errlen) {
  if (!o->cert && !o->key) {
    if (cfg->role == TLS_SERVER)
      return tls_errf(err, errlen, "a TLS server needs 'cert' and 'key'");
    return 0;
  }
  if (!o->cert || !o->key)
    return tls_errf(err, errlen, "'cert' and 'key' go together");
  struct tls_sni id = {0};
  int rc = load_identity(&id, o->cert, o->key, err, errlen);
  if (rc == 0 &&
      SSL_CTX_use_cert_and_key(cfg->ctx, id.cert, id.key, id.chain, 1) != 1) {
    char why[160];
    tls_take_error(why, sizeof why);
    tls_errf(err, errlen, "cannot use certificate '%s': %s", o->cert, why);
    rc = -1;
  }
  free_identity(&id);
  return rc;
}

static int set_defaults(struct tls_config *cfg, char *err, size_t errlen) {
  SSL_CTX *ctx = cfg->ctx;
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
                            SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  static const unsigned char sid_ctx[] = "host";
  if (SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1 ||
      (cfg->role == TLS_SERVER &&
       SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1) != 1)) {
    char why[160];
    tls_take_error(why, sizeof why);
    return tls_errf(err, errlen, "cannot set TLS defaults: %s", why);
  }
  return 0;
}

static void config_free(struct tls_config *cfg) {
  for (size_t i = 0; i < cfg->nsni; i++)
    free_identity(&cfg->sni[i]);
  OPENSSL_free(cfg->sni);
  OPENSSL_free(cfg->alpn);
  SSL_CTX_free(cfg->ctx);
  OPENSSL_free(cfg);
}

/* Everything after the SSL_CTX exists; -1 with err set on failure. */
static int configure(struct tls_config *cfg, const struct tls_options *o,
                     char *err, size_t errlen) {
  if (set_defaults(cfg, err, errlen) < 0 ||
      set_protocols(cfg, o, err, errlen) < 0 ||
      set_verify(cfg, o, err, errlen) < 0 ||
      set_identity(cfg, o, err, errlen) < 0 ||
      set_alpn(cfg, o, err, errlen) < 0)
    return -1;
  if (o->nservers == 0)
    return 0;
  if (cfg->role != TLS_SERVER)
    return tls_errf(err, errlen, "'servers' is for a TLS server");
  if (fault_fail(FAULT_C, "tls sni table") ||
      !(cfg->sni = OPENSSL_zalloc(o->nservers * sizeof *cfg->sni)))
    return tls_errf(err, errlen, "out of memory");
  for (size_t i = 0; i < o->nservers; i++)
    if (add_sni(cfg, &o->servers[i], err, errlen) < 0)
      return -1;
  SSL_CTX_set_tlsext_servername_callback(cfg->ctx, on_servername);
  SSL_CTX_set_tlsext_servername_arg(cfg->ctx, cfg);
  return 0;
}

struct tls_config *tls_config_new(const struct tls_options *o, char *err,
                                  size_t errlen) {
  const char *bad =
      o->role != TLS_SERVER && o->role != TLS_CLIENT ? "bad TLS role"
      : o->verify != TLS_VERIFY_DEFAULT && o->verify != TLS_VERIFY_NONE &&
              o->verify != TLS_VERIFY_PEER
          ? "bad TLS verify mode"
          : NULL;
  struct tls_config *cfg = NULL;
  if (!bad && !fault_fail(FAULT_C, "tls config"))
    cfg = OPENSSL_zalloc(sizeof *cfg);
  if (!cfg) {
    tls_errf(err, errlen, "%s", bad ? bad : "out of memory");
    return NULL;
  }
  atomic_init(&cfg->refs, 1);
  cfg->role = o->role;
  ERR_clear_error();
  cfg->ctx = SSL_CTX_new(o->role == TLS_SERVER ? TLS_server_method()
                                               : TLS_client_method());
  if (!cfg->ctx) {
    char why[160];
    tls_take_error(why, sizeof why);
    tls_errf(err, errlen, "cannot make a TLS context: %s", why);
  }
  if (!cfg->ctx || configure(cfg, o, err, errlen) < 0) {
    config_free(cfg);
    ERR_clear_error();
    return NULL;
  }
  return cfg;
}

struct tls_config *tls_config_ref(struct tls_config *cfg) {
  atomic_fetch_add(&cfg->refs, 1);
  return cfg;
}

void tls_config_unref(struct tls_config *cfg) {
  if (cfg && atomic_fetch_sub(&cfg->refs, 1) == 1)
    config_free(cfg);
}

void tls_thread_done(void) { OPENSSL_thread_stop(); }
