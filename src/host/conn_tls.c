/*
 * conn_tls.c -- TLS on a connection, above the completion API: the
 * backends carry ciphertext as for any connection, and this file puts
 * the engine (src/tls) between the receive stream and the read buffer,
 * and between the output queue and the send.
 *
 * Input.  A chunk of ciphertext from the stream is lent to the engine
 * (tls_feed), the handshake is driven or records are decrypted straight
 * into the read buffer, which readers take from as on a plain connection
 * (the hot path of recv() does not apply: plaintext is produced here, one
 * copy into the buffer, one into the Lua string).  Everything is read
 * until the engine wants input, so the whole chunk is always consumed.
 *
 * Output.  A large conn_write is encrypted at once (conn_tls_write):
 * OpenSSL copies the plaintext into its record as it encrypts, so the
 * copy into the queue is saved; what the engine does not take is queued.
 * conn_send encrypts what is queued, then the caller's buffers,
 * into the engine's output (which stops taking plaintext at
 * TLS_OUTPUT_SOFT pending: then `taken` says how much went, and the
 * rest goes after this send), and posts the engine's buffer as it is.
 * Its completion tells the engine how much went (tls_output_done).
 *
 * The handshake has a deadline (conn_tls_start's); the task that waits
 * for it (an accepted connection's handler before it starts, or a
 * connecting task) is told through events->output.  A TLS failure is
 * sticky, as a reset is: c->rerr = CONN_ETLS, conn_tls_detail() says why.
 * A TCP end of stream without close_notify ends an established session as
 * end of stream (as most clients and servers treat it), and a handshake
 * as a failure ("unexpected eof while reading").
 */
#include "conn.h"
#include "conn_internal.h"
#include "fault.h"
#include "tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TLS_HANDSHAKE, TLS_OPEN, TLS_FAILED };

struct conn_tls {
  struct tls_session *s;
  uint8_t state;    /* TLS_HANDSHAKE, TLS_OPEN, TLS_FAILED */
  uint8_t notified; /* close_notify queued */
  char detail[120]; /* why it failed, if it did */
};

int conn_tls_ready(const struct conn *c) {
  return c->tls && c->tls->state == TLS_OPEN;
}

const char *conn_tls_detail(const struct conn *c) {
  return c->tls ? c->tls->detail : "";
}

struct tls_session *conn_tls_session(const struct conn *c) {
  return c->tls ? c->tls->s : NULL;
}

int conn_tls_handshaking(const struct conn *c) {
  return c->tls && c->tls->state == TLS_HANDSHAKE;
}

int conn_tls_pending(const struct conn *c) {
  return tls_output_pending(c->tls->s) > 0;
}

void conn_tls_free(struct conn *c) {
  tls_session_free(c->tls->s);
  free(c->tls);
  c->tls = NULL;
}

/* The handshake is over: tell the task waiting for it (through the
 * writer's event: that task is the conn's writer meanwhile). */
static void handshake_over(struct conn *c) {
  conn_settle_deadline(c); /* its timer must not keep the worker up */
  if (c->flags & CONN_HSWAIT) {
    c->flags &= ~CONN_HSWAIT;
    c->ev->output(c);
  }
}

void conn_tls_fail(struct conn *c, const char *detail) {
  struct conn_tls *t = c->tls;
  if (t->state == TLS_FAILED)
    return;
  int handshaking = t->state == TLS_HANDSHAKE;
  t->state = TLS_FAILED;
  if (!detail)
    detail = tls_error_detail(t->s);
  snprintf(t->detail, sizeof t->detail, "%s",
           detail && *detail ? detail : "connection closed");
  if (!c->rerr)
    c->rerr = CONN_ETLS;
  if (handshaking)
    handshake_over(c);
  conn_wake_reader(c);
}

/* Output the engine made (a handshake flight, an alert): post it. */
static void flush_tls(struct conn *c) {
  if (!c->wreq && !c->werr && conn_tls_pending(c))
    conn_flush(c);
}

/* Drives the session after input or output: the handshake, then records
 * into the read buffer until the engine wants more input. */
static void pump(struct conn *c) {
  struct conn_tls *t = c->tls;
  if (t->state == TLS_HANDSHAKE) {
    int st = tls_handshake(t->s);
    if (st == TLS_OK) {
      t->state = TLS_OPEN;
      handshake_over(c);
    } else if (st == TLS_ERROR) {
      flush_tls(c); /* the alert, if any */
      conn_tls_fail(c, NULL);
      return;
    }
  }
  while (t->state == TLS_OPEN && !(c->flags & CONN_EOF)) {
    size_t room, n = 0;
    /* Nothing left to decrypt: no room to make (a full buffer would
     * grow, a copy of it, for nothing after every whole record). */
    if (!tls_has_input(t->s))
      break;
    char *dst = conn_rbuf_space(c, 16384, &room);
    if (!dst) {
      c->rerr = IO_ENOMEM;
      break;
    }
    int st = tls_read(t->s, dst, room, &n);
    if (st == TLS_OK) {
      conn_rbuf_commit(c, n);
      continue;
    }
    if (st == TLS_CLOSED)
      c->flags |= CONN_EOF; /* close_notify: an orderly end */
    else if (st == TLS_ERROR)
      conn_tls_fail(c, NULL);
    break; /* TLS_WANT_INPUT, TLS_WANT_OUTPUT (sent below) */
  }
  flush_tls(c);
}

void conn_tls_input(struct conn *c, const char *p, size_t n) {
  struct conn_tls *t = c->tls;
  if (t->state == TLS_FAILED)
    return; /* nothing more is read on a failed session */
  tls_feed(t->s, p, n);
  pump(c);
  if (tls_feed_done(t->s) < n && t->state != TLS_FAILED)
    conn_tls_fail(c, "too much input at once");
  if (c->rlen || (c->flags & CONN_EOF) || c->rerr)
    conn_wake_reader(c);
}

void conn_tls_eof(struct conn *c) {
  struct conn_tls *t = c->tls;
  if (t->state == TLS_HANDSHAKE) {
    tls_feed_eof(t->s);
    pump(c);
    if (t->state == TLS_HANDSHAKE)
      conn_tls_fail(c, "unexpected eof while reading");
  } else if (t->state == TLS_OPEN) {
    tls_feed_eof(t->s);
    pump(c);
    if (t->state == TLS_FAILED && c->rerr == CONN_ETLS && c->rlen == 0) {
      /* No close_notify: end of stream, as the peer meant it. */
      c->rerr = 0;
    }
    c->flags |= CONN_EOF;
  }
}

void conn_tls_close(struct conn *c) {
  struct conn_tls *t = c->tls;
  if (t->state == TLS_OPEN && !t->notified) {
    t->notified = 1;
    tls_shutdown(t->s);
  }
}

int conn_tls_start(struct conn *c, struct tls_config *cfg,
                   const char *servername, uint32_t handshake_ms) {
  if (fault_fail(FAULT_C, "tls connection"))
    return IO_ENOMEM;
  struct conn_tls *t = calloc(1, sizeof *t);
  if (!t)
    return IO_ENOMEM;
  t->s = tls_session_new(cfg, (c->flags & CONN_CLIENT) ? servername : NULL);
  if (!t->s) {
    free(t);
    return IO_ENOMEM;
  }
  t->state = TLS_HANDSHAKE;
  c->tls = t;
  struct conn_timer *tm = conn_timer_of(c);
  if (tm && handshake_ms) {
    uint64_t due = io_clock() + (uint64_t)handshake_ms * 1000000u;
    tm->wdue = due;
    if (!io_posted(&tm->op))
      post_timer(c, due);
    else if (tm->due > due)
      io_cancel(c->set->loop, &tm->op);
  }
  int err = conn_ensure_stream(c);
  if (err)
    return err;
  /* Input buffered before TLS began (a STARTTLS exchange that was
   * pipelined) is ciphertext: it goes to the engine first. */
  if (c->rlen) {
    size_t n = c->rlen;
    char *copy = malloc(n);
    if (!copy)
      return IO_ENOMEM;
    memcpy(copy, conn_rdata(c), n);
    conn_rbuf_consume(c, n);
    conn_tls_input(c, copy, n);
    free(copy);
  } else {
    pump(c); /* a client's first flight */
  }
  return 0;
}

void conn_wait_handshake(struct conn *c) { c->flags |= CONN_HSWAIT; }

int conn_tls_handshake_overdue(struct conn *c, uint64_t now) {
  struct conn_tls *t = c->tls;
  struct conn_timer *tm = c->timer;
  if (t->state != TLS_HANDSHAKE || !tm->wdue || tm->wdue > now)
    return 0;
  tm->wdue = 0;
  t->state = TLS_FAILED;
  snprintf(t->detail, sizeof t->detail, "handshake timed out");
  c->rerr = IO_ETIMEDOUT;
  handshake_over(c);
  return 1;
}

/* ---- output ------------------------------------------------------------ */

/* Encrypts src[0..len) as far as the engine takes it; the bytes taken. */
static size_t encrypt(struct conn *c, const char *src, size_t len) {
  size_t done = 0;
  while (done < len) {
    size_t n = 0;
    int st = tls_write(c->tls->s, src + done, len - done, &n);
    if (st != TLS_OK) {
      if (st == TLS_ERROR)
        conn_tls_fail(c, NULL);
      break;
    }
    done += n;
  }
  return done;
}

/* Encrypts the output queue as far as the engine takes it, drops what
 * went; the bytes still queued. */
static uint32_t encrypt_queue(struct conn *c) {
  size_t k = encrypt(c, c->obuf, c->olen);
  memmove(c->obuf, c->obuf + k, c->olen - k);
  c->olen -= (uint32_t)k;
  if (c->olen == 0)
    conn_drop_output(c);
  return c->olen;
}

/* Encrypts what is queued, then as much of p[0..n) as the engine takes;
 * returns how much of p it took (nothing while queued bytes remain). */
size_t conn_tls_write(struct conn *c, const char *p, size_t n) {
  if (c->tls->state != TLS_OPEN)
    return 0;
  if (c->olen) {
    if ((size_t)c->olen + n <= CONN_OBUF_CHUNK)
      return 0; /* one record for both, later: copying this is cheaper */
    if (encrypt_queue(c))
      return 0;
  }
  return encrypt(c, p, n);
}

int conn_tls_send(struct conn *c, const struct io_buf *bufs, int n,
                  size_t *taken) {
  struct conn_tls *t = c->tls;
  if (t->state == TLS_FAILED)
    return c->rerr ? c->rerr : CONN_ETLS;
  if (t->state == TLS_OPEN) {
    if (c->olen) /* the queue first, in order */
      encrypt_queue(c);
    for (int i = 0; i < n && c->olen == 0; i++) {
      size_t k = encrypt(c, bufs[i].base, bufs[i].len);
      *taken += k;
      if (k < bufs[i].len)
        break;
    }
  }
  const void *p;
  size_t len;
  tls_output(t->s, &p, &len);
  if (len == 0)
    return 0;
  struct conn_wreq *r = pool_get(&c->set->wreq_pool);
  if (!r)
    return IO_ENOMEM;
  io_op_init(&r->op, c);
  r->owned = NULL;
  r->bufs[0] = io_buf_make(p, len);
  int err = io_send(&c->h, &r->op, r->bufs, 1, conn_on_sent);
  if (err) {
    pool_put(&c->set->wreq_pool, r);
    return err;
  }
  c->wreq = r;
  c->flags |= CONN_TLSOUT;
  return 0;
}

void conn_tls_sent(struct conn *c, size_t n) { tls_output_done(c->tls->s, n); }
