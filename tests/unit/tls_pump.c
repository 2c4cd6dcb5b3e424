/*
 * tls_pump.c -- test_tls's plumbing: a counting allocator for OpenSSL,
 * the "wire" that carries one direction's bytes, and the pumps that move
 * ciphertext between a client and a server session (see tls_pump.h).
 */
#include "tls_pump.h"

#include <stdatomic.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_testcerts.h"

/* ---- counting allocator -------------------------------------------------- */

#define HDR 16 /* keeps the block 16-aligned */
atomic_size_t pump_live;

void *pump_malloc(size_t n, const char *file, int line) {
  (void)file, (void)line;
  unsigned char *p = malloc(n + HDR);
  if (!p)
    return NULL;
  memcpy(p, &n, sizeof n);
  pump_live += n;
  return p + HDR;
}

void pump_free(void *q, const char *file, int line) {
  (void)file, (void)line;
  if (!q)
    return;
  unsigned char *p = (unsigned char *)q - HDR;
  size_t n;
  memcpy(&n, p, sizeof n);
  pump_live -= n;
  free(p);
}

void *pump_realloc(void *q, size_t n, const char *file, int line) {
  if (!q)
    return pump_malloc(n, file, line);
  if (n == 0) {
    pump_free(q, file, line);
    return NULL;
  }
  unsigned char *p = (unsigned char *)q - HDR;
  size_t old;
  memcpy(&old, p, sizeof old);
  unsigned char *np = realloc(p, n + HDR);
  if (!np)
    return NULL;
  memcpy(np, &n, sizeof n);
  pump_live += n - old; /* modulo 2^N: right when n < old too */
  return np + HDR;
}

/* ---- configurations ------------------------------------------------------ */

const char *cert(const char *name) {
  static char buf[32][600];
  static int i;
  i = (i + 1) % 32;
  snprintf(buf[i], sizeof buf[i], "%s", testcerts_path(name));
  return buf[i];
}

struct tls_options server_opts(void) {
  struct tls_options o = {0};
  o.role = TLS_SERVER;
  o.cert = cert("server.pem");
  o.key = cert("server.key");
  return o;
}

struct tls_options client_opts(void) {
  struct tls_options o = {0};
  o.role = TLS_CLIENT;
  o.ca = cert("ca.pem");
  return o;
}

struct tls_config *config(const struct tls_options *o) {
  char err[256] = "";
  struct tls_config *cfg = tls_config_new(o, err, sizeof err);
  if (!cfg)
    fprintf(stderr, "  tls_config_new: %s\n", err);
  return cfg;
}

/* ---- the wire: bytes in flight one way ----------------------------------- */

void wire_put(struct wire *w, const void *p, size_t n) {
  if (w->len + n > w->cap) {
    w->cap = (w->len + n) * 2;
    w->buf = realloc(w->buf, w->cap);
    if (!w->buf)
      abort();
  }
  memcpy(w->buf + w->len, p, n);
  w->len += n;
}

void wire_take(struct wire *w, size_t n) {
  if (n == 0)
    return;
  memmove(w->buf, w->buf + n, w->len - n);
  w->len -= n;
}

/* Sends everything the session has to send (whole buffers). */
void flush(struct tls_session *s, struct wire *w) {
  const void *p;
  size_t n;
  for (tls_output(s, &p, &n); n > 0; tls_output(s, &p, &n)) {
    wire_put(w, p, n);
    tls_output_done(s, n);
  }
}

/* One handshake step: what is on the wire in, the handshake, output out. */
int step(struct tls_session *s, struct wire *in, struct wire *out) {
  tls_feed(s, in->buf, in->len);
  int st = tls_handshake(s);
  wire_take(in, tls_feed_done(s));
  flush(s, out);
  return st;
}

/* Handshakes until both are done, one fails, or nothing moves. */
void handshake(struct pair *p) {
  for (int round = 0; round < 16; round++) {
    p->cst = step(p->c, &p->s2c, &p->c2s);
    p->sst = step(p->s, &p->c2s, &p->s2c);
    if (p->sst == TLS_ERROR && p->cst != TLS_ERROR)
      p->cst = step(p->c, &p->s2c, &p->c2s); /* the server's alert */
    if (p->cst == TLS_ERROR || p->sst == TLS_ERROR)
      break;
    if (p->cst == TLS_OK && p->sst == TLS_OK && p->s2c.len == 0 &&
        p->c2s.len == 0)
      break;
  }
}

int pair_open(struct pair *p, struct tls_config *ccfg, struct tls_config *scfg,
              const char *servername) {
  memset(p, 0, sizeof *p);
  p->c = tls_session_new(ccfg, servername);
  p->s = tls_session_new(scfg, NULL);
  if (!p->c || !p->s)
    return -1;
  handshake(p);
  return 0;
}

void pair_close(struct pair *p) {
  tls_session_free(p->c);
  tls_session_free(p->s);
  free(p->c2s.buf);
  free(p->s2c.buf);
}

/* Reads what is on the wire into buf; returns the status of the last
 * read and adds the bytes to *got. */
int drain(struct tls_session *s, struct wire *in, char *buf, size_t max,
          size_t *got) {
  int st;
  size_t n;
  tls_feed(s, in->buf, in->len);
  do {
    st = tls_read(s, buf + *got, max - *got, &n);
    *got += n;
  } while (st == TLS_OK && *got < max);
  wire_take(in, tls_feed_done(s));
  return st;
}

/* A client config from o and the default server; the pair shakes hands. */
int connect_with(struct pair *p, struct tls_options *co, struct tls_options *so,
                 const char *name) {
  struct tls_config *ccfg = config(co), *scfg = config(so);
  int rc = ccfg && scfg ? pair_open(p, ccfg, scfg, name) : -1;
  tls_config_unref(ccfg);
  tls_config_unref(scfg);
  return rc;
}
