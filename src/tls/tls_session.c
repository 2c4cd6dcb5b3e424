/*
 * tls_session.c -- struct tls_session: one SSL driven through memory.
 *
 * Why a BIO of our own, not a memory BIO or a BIO pair.  OpenSSL reads
 * ciphertext through the SSL's BIO into its record buffer, decrypts it
 * in place and copies the plaintext out; it encrypts into its write
 * buffer and writes that to the BIO.  That much is fixed (without kTLS).
 * A memory BIO would add one copy each way: the receive buffer into the
 * BIO, and the BIO out into a buffer we could send from.  Our BIO
 * removes both, so each byte is copied once on the way in (receive
 * buffer to record buffer; then record buffer to destination) and once
 * on the way out (write buffer to the buffer the send uses):
 *
 *   input   its read callback serves the caller's receive buffer directly
 *           while it is lent (tls_feed .. tls_feed_done); only what OpenSSL
 *           has not read by tls_feed_done() is copied, into `keep`, at
 *           most one record (TLS_INPUT_MAX), and only when the caller
 *           stops reading mid-buffer.  A caller that reads until
 *           TLS_WANT_INPUT leaves nothing to copy.  SSL_read_ex copies
 *           plaintext straight into the caller's destination (a Lua
 *           string buffer), with no buffer of ours in between.
 *   output  its write callback appends records to `fill`, a buffer we own.
 *           tls_output() hands the caller that buffer itself (it becomes
 *           `sent`, pinned until tls_output_done() says the send is
 *           complete) and new output goes to a fresh `fill`, so the
 *           kernel can hold one buffer while OpenSSL writes into the
 *           other.  When a send completes with more output waiting, its
 *           buffer is kept as the next `fill` (no malloc per record in a
 *           bulk transfer); when nothing waits, both are freed.
 *
 * kTLS (SSL_OP_ENABLE_KTLS) needs OpenSSL to own a socket BIO, so it is
 * not available with this design; the host keeps TLS above its
 * completion backends instead, identical on io_uring, epoll and IOCP.
 *
 * The BIO never fails a write for want of room below TLS_OUTPUT_HARD, and
 * tls_write() stops taking plaintext once TLS_OUTPUT_SOFT bytes wait in
 * `fill`, so at most 2 * (TLS_OUTPUT_SOFT + one record) wait in all, far
 * enough below that OpenSSL never sees a refused application record (its
 * rule that a write retried after WANT_WRITE must repeat the same bytes
 * then never applies to the caller).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "fault.h"
#include "tls_internal.h"

/* A buffer of ciphertext to send: bytes [off, len) wait. */
struct out {
  unsigned char *p;
  size_t off, len, cap;
};

struct tls_session {
  SSL *ssl;
  struct tls_config *cfg;    /* one reference, for the SNI and ALPN tables */
  const unsigned char *lent; /* tls_feed's buffer, NULL outside a lend */
  size_t lent_len, lent_off; /* its length, and what OpenSSL has read */
  unsigned char *keep;       /* copied input, TLS_INPUT_MAX bytes or NULL */
  size_t keep_off, keep_len; /* unread bytes are keep[keep_off, keep_len) */
  struct out sent;           /* given out by tls_output(); pinned */
  struct out fill;           /* the BIO appends here */
  unsigned char *spare;      /* a sent buffer kept for the next `fill` */
  size_t spare_cap;
  unsigned char eof;    /* tls_feed_eof() was called */
  unsigned char failed; /* TLS_ERROR was returned; final */
  unsigned char oom;    /* an allocation of ours failed */
  unsigned char shut;   /* our close_notify is queued */
  char *name;           /* client: the servername given, or NULL */
  char *alpn, *peer;    /* tls_info's strings, made on first use */
  const char *detail;   /* tls_error_detail(): a static string of
                           OpenSSL's, or detail_own */
  char *detail_own;     /* a detail we had to format, or NULL */
};

/* ---- the BIO ------------------------------------------------------------ */

static int bio_read(BIO *b, char *buf, size_t len, size_t *got) {
  struct tls_session *s = BIO_get_data(b);
  size_t n = 0;
  BIO_clear_retry_flags(b);
  if (s->keep_len > s->keep_off) {
    n = s->keep_len - s->keep_off;
    n = n < len ? n : len;
    memcpy(buf, s->keep + s->keep_off, n);
    s->keep_off += n;
    if (s->keep_off == s->keep_len) { /* emptied: give the memory back */
      OPENSSL_free(s->keep);
      s->keep = NULL;
      s->keep_off = s->keep_len = 0;
    }
  } else if (s->lent && s->lent_off < s->lent_len) {
    n = s->lent_len - s->lent_off;
    n = n < len ? n : len;
    memcpy(buf, s->lent + s->lent_off, n);
    s->lent_off += n;
  }
  *got = n;
  if (n > 0)
    return 1;
  if (!s->eof)
    BIO_set_retry_read(b); /* else end of stream: OpenSSL reports it */
  return 0;
}

/* What one record takes on the wire at most: header, 16 KiB, AEAD tag
 * and padding allowance; the first output buffer's size. */
#define RECORD_OUT (16 * 1024 + 512)
/* Where doubling stops: tls_write fills up to TLS_OUTPUT_SOFT plus one
 * record, so no buffer needs more (a huge handshake flight excepted). */
#define OUT_CAP (TLS_OUTPUT_SOFT + RECORD_OUT)

/* Grows o to hold `more` bytes after its data.  0, or -1 when out of
 * memory. */
static int reserve(struct out *o, size_t more) {
  size_t need = o->len + more;
  if (need <= o->cap)
    return 0;
  size_t cap = o->cap ? o->cap * 2 : RECORD_OUT;
  cap = cap < OUT_CAP ? cap : OUT_CAP;
  cap = cap > need ? cap : need;
  if (fault_fail(FAULT_C, "tls output"))
    return -1;
  unsigned char *p = OPENSSL_realloc(o->p, cap);
  if (!p)
    return -1;
  o->p = p;
  o->cap = cap;
  return 0;
}

static int bio_write(BIO *b, const char *buf, size_t len, size_t *put) {
  struct tls_session *s = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  *put = 0;
  if (tls_output_pending(s) + len > TLS_OUTPUT_HARD) {
    BIO_set_retry_write(b);
    return 0;
  }
  if (reserve(&s->fill, len) < 0) {
    s->oom = 1;
    return 0; /* no retry flag: a hard error for OpenSSL */
  }
  memcpy(s->fill.p + s->fill.len, buf, len);
  s->fill.len += len;
  *put = len;
  return 1;
}

/* Kept out of line so that bio_ctrl itself needs no stack frame: OpenSSL
 * calls it about 14 times per record exchanged, nearly all to ask whether
 * kernel TLS is on (BIO_CTRL_GET_KTLS_SEND and _RECV: no). */
static long __attribute__((noinline)) bio_pending(BIO *b, int cmd) {
  struct tls_session *s = BIO_get_data(b);
  if (cmd == BIO_CTRL_WPENDING)
    return (long)tls_output_pending(s);
  return (long)(s->keep_len - s->keep_off +
                (s->lent ? s->lent_len - s->lent_off : 0));
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)num, (void)ptr;
  switch (cmd) {
  case BIO_CTRL_FLUSH: return 1; /* records are "sent" once in `fill` */
  case BIO_CTRL_PENDING:
  case BIO_CTRL_WPENDING: return bio_pending(b, cmd);
  default: return 0;
  }
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static BIO_METHOD *bio_method;
static CRYPTO_ONCE bio_once = CRYPTO_ONCE_STATIC_INIT;

/* The method lives as long as the process (OpenSSL's own cleanup at exit
 * does not know it; it stays reachable from bio_method). */
static void make_method(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                               "host tls memory");
  if (m && (!BIO_meth_set_read_ex(m, bio_read) ||
            !BIO_meth_set_write_ex(m, bio_write) ||
            !BIO_meth_set_ctrl(m, bio_ctrl) ||
            !BIO_meth_set_create(m, bio_create))) {
    BIO_meth_free(m);
    m = NULL;
  }
  bio_method = m;
}

/* ---- status and errors -------------------------------------------------- */

/* Records why the session failed, from the earliest error OpenSSL queued
 * (the root cause; later entries say where it surfaced).  A failed
 * verification adds the verifier's reason. */
static int fail(struct tls_session *s) {
  unsigned long e = ERR_peek_error();
  const char *why = e ? ERR_reason_error_string(e) : NULL;
  if (s->oom)
    why = "out of memory";
  else if (!why)
    why = s->eof ? "unexpected eof while reading" : "TLS failure";
  s->detail = why;
  if (e && ERR_GET_LIB(e) == ERR_LIB_SSL &&
      ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    const char *v =
        X509_verify_cert_error_string(SSL_get_verify_result(s->ssl));
    size_t len = strlen(why) + 2 + strlen(v) + 1;
    if (!fault_fail(FAULT_C, "tls detail") &&
        (s->detail_own = OPENSSL_malloc(len))) {
      snprintf(s->detail_own, len, "%s: %s", why, v);
      s->detail = s->detail_own;
    }
  }
  ERR_clear_error();
  s->failed = 1;
  return TLS_ERROR;
}

/* When the session waits for input: let go of record buffers OpenSSL
 * keeps although they are empty (its write buffer from the handshake,
 * and both buffers after it reads a post-handshake message such as a TLS
 * 1.3 session ticket), so an idle session holds none.  A buffer still in
 * use (a partial record) is kept. */
static void tidy(struct tls_session *s) {
  if (SSL_is_init_finished(s->ssl))
    (void)SSL_free_buffers(s->ssl);
}

/* The status for an SSL call that returned r <= 0.  Waiting for the BIO
 * is asked first: SSL_get_error() would take any entry in the thread's
 * error queue for a failure of this call, and the hot calls (tls_read,
 * tls_write) do not empty the queue first (see clear_errors). */
static int status(struct tls_session *s, int r) {
  if (SSL_want_read(s->ssl) && BIO_should_read(SSL_get_rbio(s->ssl)))
    return TLS_WANT_INPUT;
  if (SSL_want_write(s->ssl) && BIO_should_write(SSL_get_wbio(s->ssl)))
    return TLS_WANT_OUTPUT;
  switch (SSL_get_error(s->ssl, r)) {
  case SSL_ERROR_WANT_READ: return TLS_WANT_INPUT;
  case SSL_ERROR_WANT_WRITE: return TLS_WANT_OUTPUT;
  case SSL_ERROR_ZERO_RETURN: return TLS_CLOSED;
  default: return fail(s);
  }
}

/* ---- sessions ----------------------------------------------------------- */

/* A client's name: SNI for a host name, never for an IP literal (RFC
 * 6066); the certificate must name either.  The checks are set even when
 * verification is off, so tls_info() can still say whether they held. */
static int set_name(struct tls_session *s, const char *name) {
  size_t len = strlen(name);
  if (fault_fail(FAULT_C, "tls servername") ||
      !(s->name = OPENSSL_malloc(len + 1)))
    return -1;
  memcpy(s->name, name, len + 1);
  X509_VERIFY_PARAM *vp = SSL_get0_param(s->ssl);
  if (X509_VERIFY_PARAM_set1_ip_asc(vp, name) == 1)
    return 0;
  ERR_clear_error(); /* not an IP address: a host name */
  SSL_set_hostflags(s->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set_tlsext_host_name(s->ssl, name) == 1 &&
                 SSL_set1_host(s->ssl, name) == 1
             ? 0
             : -1;
}

struct tls_session *tls_session_new(struct tls_config *cfg,
                                    const char *servername) {
  CRYPTO_THREAD_run_once(&bio_once, make_method);
  if (!bio_method || fault_fail(FAULT_C, "tls session"))
    return NULL;
  struct tls_session *s = OPENSSL_zalloc(sizeof *s);
  if (!s)
    return NULL;
  s->detail = "";
  s->cfg = tls_config_ref(cfg);
  BIO *b = NULL;
  if ((s->ssl = SSL_new(cfg->ctx)) && (b = BIO_new(bio_method))) {
    BIO_set_data(b, s);
    SSL_set_bio(s->ssl, b, b); /* one reference, both ways */
    if (cfg->role == TLS_SERVER) {
      SSL_set_accept_state(s->ssl);
      return s;
    }
    SSL_set_connect_state(s->ssl);
    if (!servername || set_name(s, servername) == 0)
      return s;
  }
  ERR_clear_error();
  tls_session_free(s);
  return NULL;
}

void tls_session_free(struct tls_session *s) {
  if (!s)
    return;
  SSL_free(s->ssl); /* frees the BIO too */
  OPENSSL_free(s->keep);
  OPENSSL_free(s->sent.p);
  OPENSSL_free(s->fill.p);
  OPENSSL_free(s->spare);
  OPENSSL_free(s->name);
  OPENSSL_free(s->alpn);
  OPENSSL_free(s->peer);
  OPENSSL_free(s->detail_own);
  tls_config_unref(s->cfg);
  OPENSSL_free(s);
}

/* ---- input -------------------------------------------------------------- */

void tls_feed(struct tls_session *s, const void *in, size_t len) {
  s->lent = in;
  s->lent_len = len;
  s->lent_off = 0;
}

size_t tls_feed_done(struct tls_session *s) {
  size_t used = s->lent_off, tail = s->lent_len - s->lent_off;
  size_t kept = s->keep_len - s->keep_off, take = TLS_INPUT_MAX - kept;
  take = tail < take ? tail : take;
  if (take > 0 && !s->keep &&
      (fault_fail(FAULT_C, "tls input") ||
       !(s->keep = OPENSSL_malloc(TLS_INPUT_MAX))))
    take = 0; /* the caller keeps it all and offers it again */
  if (take > 0) {
    memmove(s->keep, s->keep + s->keep_off, kept);
    memcpy(s->keep + kept, s->lent + used, take);
    s->keep_off = 0;
    s->keep_len = kept + take;
  }
  s->lent = NULL;
  s->lent_len = s->lent_off = 0;
  return used + take;
}

void tls_feed_eof(struct tls_session *s) { s->eof = 1; }

/* ---- handshake, application data ---------------------------------------- */

/* SSL_get_error() needs an empty error queue before the call it explains.
 * Even looking at the queue costs about 200 instructions (a thread-local
 * lookup behind OpenSSL's init checks), 1% of a 64-byte TLS echo, so only
 * the rare calls (handshake, shutdown) empty it first.  The hot ones rely
 * on every failure path of this module emptying it (fail() does) and on
 * status() asking whether the call waits for the BIO before it asks
 * SSL_get_error(): an entry some other code left can then not turn a wait
 * into a failure; at worst it names a real failure's reason wrongly. */
static void clear_errors(void) {
  if (ERR_peek_error() != 0)
    ERR_clear_error();
}

int tls_handshake(struct tls_session *s) {
  if (s->failed)
    return TLS_ERROR;
  if (SSL_is_init_finished(s->ssl))
    return TLS_OK;
  clear_errors();
  int r = SSL_do_handshake(s->ssl);
  if (r != 1)
    return status(s, r);
  tidy(s);
  return TLS_OK;
}

int tls_read(struct tls_session *s, void *dst, size_t max, size_t *n) {
  *n = 0;
  if (s->failed)
    return TLS_ERROR;
  if (max == 0)
    return TLS_OK;
  if (SSL_read_ex(s->ssl, dst, max, n) == 1)
    return TLS_OK;
  *n = 0;
  int st = status(s, 0);
  if (st == TLS_WANT_INPUT)
    tidy(s);
  return st;
}

size_t tls_pending(const struct tls_session *s) {
  int n = SSL_pending(s->ssl);
  return n > 0 ? (size_t)n : 0;
}

int tls_has_input(const struct tls_session *s) {
  return s->eof || (s->lent && s->lent_off < s->lent_len) ||
         s->keep_off < s->keep_len || SSL_has_pending(s->ssl);
}

int tls_write(struct tls_session *s, const void *src, size_t len, size_t *n) {
  const unsigned char *p = src;
  size_t done = 0;
  *n = 0;
  if (s->failed)
    return TLS_ERROR;
  while (done < len) {
    if (s->fill.len >= TLS_OUTPUT_SOFT)
      break;
    size_t w = 0;
    if (SSL_write_ex(s->ssl, p + done, len - done, &w) != 1) {
      int st = status(s, 0);
      if (done == 0 || st == TLS_ERROR) {
        *n = 0;
        return st;
      }
      break; /* report what was taken; the next call says what blocks */
    }
    done += w;
  }
  *n = done;
  return done > 0 || len == 0 ? TLS_OK : TLS_WANT_OUTPUT;
}

int tls_shutdown(struct tls_session *s) {
  if (s->failed)
    return TLS_ERROR;
  if (s->shut || !SSL_is_init_finished(s->ssl))
    return TLS_OK;
  clear_errors();
  int r = SSL_shutdown(s->ssl); /* 0: sent; 1: the peer's came already */
  if (r < 0)
    return status(s, r);
  s->shut = 1;
  return TLS_OK;
}

/* ---- output ------------------------------------------------------------- */

void tls_output(struct tls_session *s, const void **p, size_t *len) {
  if (!s->sent.p && s->fill.len > 0) { /* pin `fill`; the spare follows */
    s->sent = s->fill;
    memset(&s->fill, 0, sizeof s->fill);
    s->fill.p = s->spare;
    s->fill.cap = s->spare_cap;
    s->spare = NULL;
    s->spare_cap = 0;
  }
  *p = s->sent.p ? s->sent.p + s->sent.off : NULL;
  *len = s->sent.p ? s->sent.len - s->sent.off : 0;
}

void tls_output_done(struct tls_session *s, size_t k) {
  size_t left = s->sent.len - s->sent.off;
  if (!s->sent.p)
    return;
  s->sent.off += k < left ? k : left;
  if (s->sent.off < s->sent.len)
    return;
  if (s->fill.len > 0 && !s->spare) {
    s->spare = s->sent.p; /* a bulk transfer: the next `fill` */
    s->spare_cap = s->sent.cap;
  } else {
    OPENSSL_free(s->sent.p);
  }
  memset(&s->sent, 0, sizeof s->sent);
  if (s->fill.len == 0) { /* nothing waits: hold no memory */
    OPENSSL_free(s->fill.p);
    OPENSSL_free(s->spare);
    memset(&s->fill, 0, sizeof s->fill);
    s->spare = NULL;
    s->spare_cap = 0;
  }
}

size_t tls_output_pending(const struct tls_session *s) {
  return (s->sent.len - s->sent.off) + s->fill.len;
}

/* ---- what was agreed ---------------------------------------------------- */

/* A copy of len bytes as a C string (NULL when out of memory). */
static char *copy(const void *p, size_t len) {
  char *c = fault_fail(FAULT_C, "tls info") ? NULL : OPENSSL_malloc(len + 1);
  if (c) {
    memcpy(c, p, len);
    c[len] = 0;
  }
  return c;
}

/* The peer certificate's subject as RFC 2253 text. */
static char *subject(X509 *peer) {
  BIO *b = BIO_new(BIO_s_mem());
  char *text = NULL, *c = NULL;
  long len;
  if (b &&
      X509_NAME_print_ex(b, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) >=
          0 &&
      (len = BIO_get_mem_data(b, &text)) >= 0)
    c = copy(text, (size_t)len);
  BIO_free(b);
  ERR_clear_error();
  return c;
}

int tls_info(struct tls_session *s, struct tls_info *info) {
  if (s->failed)
    return TLS_ERROR;
  if (!SSL_is_init_finished(s->ssl))
    return TLS_WANT_INPUT;
  X509 *peer = SSL_get0_peer_certificate(s->ssl);
  if (!s->alpn) { /* made once: the session never changes them */
    const unsigned char *a = NULL;
    unsigned int alen = 0;
    SSL_get0_alpn_selected(s->ssl, &a, &alen);
    s->alpn = copy(a ? a : (const unsigned char *)"", alen);
    s->peer = peer ? subject(peer) : copy("", 0);
    if (!s->alpn || !s->peer) {
      OPENSSL_free(s->alpn);
      OPENSSL_free(s->peer);
      s->alpn = s->peer = NULL;
      return TLS_ERROR;
    }
  }
  const char *sni = SSL_get_servername(s->ssl, TLSEXT_NAMETYPE_host_name);
  info->version = SSL_get_version(s->ssl);
  info->cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(s->ssl));
  info->alpn = s->alpn;
  info->servername = s->name ? s->name : sni ? sni : "";
  info->verified = peer && SSL_get_verify_result(s->ssl) == X509_V_OK;
  info->peer = s->peer;
  return TLS_OK;
}

const char *tls_error_detail(const struct tls_session *s) { return s->detail; }
