/*
 * lhttp_body.c -- message bodies: a request's for a handler (req:body,
 * req:reader), a response's for the client, and what a handler left
 * unread, discarded before the next request on the connection.
 *
 * Framing is the head's (Content-Length, chunked, or, for a response,
 * the close).  A Content-Length body is taken straight from the read
 * buffer once it is all there (the wait tells conn.c how much it needs,
 * so the stream does not pause below it); a chunked one is decoded by
 * http_chunked.c as it arrives and its data gathered in a Lua userdata
 * (user value 3 of the session), so it counts against the VM's memory
 * limit.  Every size is bounded: by the caller's max, and for a server
 * by the options' max_body whatever the caller asks.
 *
 * A read that fails returns nil, err ("too large", "timeout", "bad
 * request", "closed", ...) and remembers the status it calls for (413,
 * 408, 400): if the handler has not answered, the module does, and the
 * connection closes (its framing can no longer be trusted).
 */
#include "conn.h"
#include "lconn_internal.h"
#include "lhttp_internal.h"

#include <lauxlib.h>
#include <string.h>

#define READ_DEFAULT 65536 /* req:reader()'s pieces, at most */

/* ---- helpers ------------------------------------------------------------ */

char *hs_acc(lua_State *L, int sidx, struct hsess *s, size_t more) {
  lua_getiuservalue(L, sidx, 3);
  char *p = lua_touserdata(L, -1);
  size_t cap = p ? lua_rawlen(L, -1) : 0;
  if ((size_t)s->acclen + more > UINT32_MAX) {
    lua_pop(L, 1);
    return NULL;
  }
  if (s->acclen + more > cap) {
    size_t ncap = cap ? cap * 2 : 4096;
    while (ncap < s->acclen + more)
      ncap *= 2;
    char *np = lua_newuserdatauv(L, ncap, 0);
    if (s->acclen)
      memcpy(np, p, s->acclen);
    lua_setiuservalue(L, sidx, 3);
    p = np; /* the user value anchors it */
  }
  lua_pop(L, 1);
  return p + s->acclen;
}

/* Pushes what was gathered and forgets it (the buffer stays for reuse
 * unless it grew large). */
static void push_acc(lua_State *L, int sidx, struct hsess *s) {
  lua_getiuservalue(L, sidx, 3);
  const char *p = lua_touserdata(L, -1);
  size_t cap = p ? lua_rawlen(L, -1) : 0;
  lua_pop(L, 1);
  lua_pushlstring(L, p ? p : "", s->acclen);
  s->acclen = 0;
  if (cap > 65536) { /* a large body's buffer goes back to the VM */
    lua_pushnil(L);
    lua_setiuservalue(L, sidx, 3);
  }
}

static const char *word_of_status(int status) {
  switch (status) {
  case 413: return "too large";
  case 408: return "timeout";
  case 400: return "bad request";
  default: return "closed";
  }
}

/* A body read failed: nil, err; the status is remembered. */
static int body_fail(lua_State *L, struct hsess *s, int status,
                     const char *err) {
  if (!s->body_err)
    s->body_err = (uint16_t)status;
  s->body_done = 1;
  s->keep = 0;
  return hs_fail(L, err ? err : word_of_status(status));
}

/* Why input stopped, as a body failure. */
static int input_fail(lua_State *L, struct hsess *s, const char *err) {
  int status = strcmp(err, "timeout") == 0 ? 408 : 400;
  return body_fail(L, s, status, err);
}

/* "100 Continue" before the first wait for a body the client holds back
 * until told (RFC 9110 section 10.1.1). */
static void maybe_continue(struct hsess *s, struct conn *c) {
  if (s->client || s->sent100 || s->resp != RESP_NONE ||
      !(s->m.flags & HTTP_F_EXPECT_CONTINUE))
    return;
  s->sent100 = 1;
  static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
  conn_write(c, line, sizeof line - 1);
}

static uint32_t body_ms(const struct hsess *s, const struct conn *c) {
  return s->client ? c->timeout : s->o->body_ms;
}

/* One decoding step of a chunked body over what is buffered: the data
 * run found (if any) is copied to out (room for it checked by the
 * caller through *span first).  Returns the decoder's result; *used is
 * what to consume. */
static int chunk_step(struct hsess *s, struct conn *c, size_t *used,
                      struct http_span *span) {
  return http_chunked_decode(&s->ch, conn_rdata(c), c->rlen, used, span);
}

/* The same over at most max buffered bytes, so that the data run found
 * is at most max bytes (the decoder takes input a byte at a time). */
static int chunk_step_max(struct hsess *s, struct conn *c, size_t max,
                          size_t *used, struct http_span *span) {
  size_t n = c->rlen < max ? c->rlen : max;
  return http_chunked_decode(&s->ch, conn_rdata(c), n, used, span);
}

/* ---- req:body([max]) ----------------------------------------------------- */

static int body_k(lua_State *L, int status, lua_KContext ctx);

static int body_step(lua_State *L, struct hsess *s, struct conn *c, int sidx) {
  uint64_t max = (uint64_t)lua_tointeger(L, 2);
  if (s->body_err)
    return hs_fail(L, word_of_status(s->body_err));
  if (s->body_done && s->acclen == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  if (!c)
    return body_fail(L, s, 400, "closed");
  if (s->body == HTTP_BODY_LENGTH && !s->body_done) {
    if (s->body_left > max || s->body_read + s->body_left > s->o->max_body)
      return body_fail(L, s, 413, NULL);
    if (c->rlen >= s->body_left) {
      size_t n = (size_t)s->body_left;
      lua_pushlstring(L, conn_rdata(c), n);
      if (n)
        conn_rbuf_consume(c, n);
      s->body_read += n;
      s->body_left = 0;
      s->body_done = 1;
      return 1;
    }
  } else if (s->body == HTTP_BODY_CHUNKED && !s->body_done) {
    while (c->rlen > 0) {
      size_t used;
      struct http_span d;
      int rc = chunk_step(s, c, &used, &d);
      if (rc < 0)
        return body_fail(L, s, 400, NULL);
      if (d.len) {
        if (s->acclen + d.len > max || s->body_read + d.len > s->o->max_body)
          return body_fail(L, s, 413, NULL);
        char *dst = hs_acc(L, sidx, s, d.len);
        if (!dst)
          return body_fail(L, s, 413, NULL);
        memcpy(dst, conn_rdata(c) + d.off, d.len);
        s->acclen += d.len;
        s->body_read += d.len;
      }
      if (used)
        conn_rbuf_consume(c, used);
      if (rc == 1) {
        s->body_done = 1;
        break;
      }
      if (used == 0)
        break;
    }
  } else if (s->body == HTTP_BODY_CLOSE && !s->body_done && c->rlen) {
    size_t n = c->rlen;
    if (s->acclen + n > max || s->body_read + n > s->o->max_body)
      return body_fail(L, s, 413, NULL);
    char *dst = hs_acc(L, sidx, s, n);
    if (!dst)
      return body_fail(L, s, 413, NULL);
    memcpy(dst, conn_rdata(c), n);
    s->acclen += (uint32_t)n;
    s->body_read += n;
    conn_rbuf_consume(c, n);
  }
  if (s->body_done) {
    push_acc(L, sidx, s);
    return 1;
  }
  const char *err = hs_input_error(c);
  if (err && s->body == HTTP_BODY_CLOSE && strcmp(err, "closed") == 0) {
    s->body_done = 1; /* the close ends such a body */
    s->keep = 0;
    push_acc(L, sidx, s);
    return 1;
  }
  if (err)
    return input_fail(L, s, err);
  maybe_continue(s, c);
  size_t need = s->body == HTTP_BODY_LENGTH ? (size_t)s->body_left : 1;
  return hs_wait(L, s, c, need, body_ms(s, c), (lua_KContext)sidx, body_k);
}

static int body_k(lua_State *L, int status, lua_KContext ctx) {
  int sidx = (int)ctx;
  struct hsess *s = lua_touserdata(L, sidx);
  struct conn *c = hs_resumed(L, s);
  (void)status;
  return body_step(L, s, c, sidx);
}

/* req:body([max]) -> the whole body (what is left of it) | nil, err */
int lhttp_body(lua_State *L) {
  lua_settop(L, 2);
  struct hsess *s = hs_check(L, 1); /* its userdata: index 3 */
  lua_Integer max = luaL_optinteger(L, 2, (lua_Integer)s->o->max_body);
  luaL_argcheck(L, max >= 0, 2, "negative limit");
  lua_pushinteger(L, max);
  lua_replace(L, 2);
  return body_step(L, s, hs_conn(s), 3);
}

/* ---- req:reader() -------------------------------------------------------- */

static int read_k(lua_State *L, int status, lua_KContext ctx);

static int read_step(lua_State *L, struct hsess *s, struct conn *c, int sidx) {
  size_t max = (size_t)lua_tointeger(L, 2);
  if (s->body_err)
    return hs_fail(L, word_of_status(s->body_err));
  if (s->acclen) { /* left by a body() that failed half way: none */
    push_acc(L, sidx, s);
    return 1;
  }
  if (s->body_done)
    return 0; /* nil: the end */
  if (!c)
    return body_fail(L, s, 400, "closed");
  if (s->body == HTTP_BODY_LENGTH && c->rlen) {
    size_t n = c->rlen < max ? c->rlen : max;
    if (n > s->body_left)
      n = (size_t)s->body_left;
    lua_pushlstring(L, conn_rdata(c), n);
    conn_rbuf_consume(c, n);
    s->body_read += n;
    s->body_left -= n;
    s->body_done = s->body_left == 0;
    return 1;
  }
  if (s->body == HTTP_BODY_CHUNKED) {
    while (c->rlen > 0) {
      size_t used;
      struct http_span d;
      int rc = chunk_step_max(s, c, max, &used, &d);
      if (rc < 0)
        return body_fail(L, s, 400, NULL);
      if (d.len && s->body_read + d.len > s->o->max_body)
        return body_fail(L, s, 413, NULL);
      if (d.len)
        lua_pushlstring(L, conn_rdata(c) + d.off, d.len);
      s->body_read += d.len;
      if (used)
        conn_rbuf_consume(c, used);
      if (rc == 1)
        s->body_done = 1;
      if (d.len)
        return 1;
      if (rc == 1)
        return 0;
      if (used == 0)
        break;
    }
  }
  if (s->body == HTTP_BODY_CLOSE && c->rlen) {
    size_t n = c->rlen < max ? c->rlen : max;
    if (s->body_read + n > s->o->max_body)
      return body_fail(L, s, 413, NULL);
    lua_pushlstring(L, conn_rdata(c), n);
    conn_rbuf_consume(c, n);
    s->body_read += n;
    return 1;
  }
  const char *err = hs_input_error(c);
  if (err && s->body == HTTP_BODY_CLOSE && strcmp(err, "closed") == 0) {
    s->body_done = 1;
    s->keep = 0;
    return 0;
  }
  if (err)
    return input_fail(L, s, err);
  maybe_continue(s, c);
  return hs_wait(L, s, c, 1, body_ms(s, c), (lua_KContext)sidx, read_k);
}

static int read_k(lua_State *L, int status, lua_KContext ctx) {
  int sidx = (int)ctx;
  struct hsess *s = lua_touserdata(L, sidx);
  struct conn *c = hs_resumed(L, s);
  (void)status;
  return read_step(L, s, c, sidx);
}

/* core.read(req [, max]) -> the next piece of the body | nil at its end
 * | nil, err */
int lhttp_read(lua_State *L) {
  lua_settop(L, 2);
  struct hsess *s = hs_check(L, 1); /* its userdata: index 3 */
  lua_Integer max = luaL_optinteger(L, 2, READ_DEFAULT);
  luaL_argcheck(L, max >= 1 && max <= (1 << 30), 2, "out of range");
  lua_pushinteger(L, max);
  lua_replace(L, 2);
  return read_step(L, s, hs_conn(s), 3);
}

/* ---- discarding -----------------------------------------------------------
 */

int hs_discard(lua_State *L, struct hsess *s, struct conn *c, int *ret,
               lua_KContext ctx, lua_KFunction k) {
  if (s->body_err || s->body == HTTP_BODY_CLOSE)
    return -1;
  /* A client that expects "100 Continue" and did not get it may never
   * send the body: the connection cannot be reused. */
  if ((s->m.flags & HTTP_F_EXPECT_CONTINUE) && !s->sent100 &&
      s->body_read == 0 && c->rlen == 0)
    return -1;
  if (s->body == HTTP_BODY_LENGTH) {
    size_t n = c->rlen < s->body_left ? c->rlen : (size_t)s->body_left;
    if (n)
      conn_rbuf_consume(c, n);
    s->body_left -= n;
    s->body_read += n;
  } else {
    while (c->rlen > 0) {
      size_t used;
      struct http_span d;
      int rc = chunk_step(s, c, &used, &d);
      if (rc < 0)
        return -1;
      s->body_read += d.len;
      if (s->body_read > s->o->max_body)
        return -1;
      if (used)
        conn_rbuf_consume(c, used);
      if (rc == 1) {
        s->body_done = 1;
        return 0;
      }
      if (used == 0)
        break;
    }
  }
  if (s->body == HTTP_BODY_LENGTH && s->body_left == 0) {
    s->body_done = 1;
    return 0;
  }
  if (hs_input_error(c))
    return -1;
  size_t need = s->body == HTTP_BODY_LENGTH && s->body_left < 65536
                    ? (size_t)s->body_left
                    : 1;
  *ret = hs_wait(L, s, c, need, s->o->body_ms, ctx, k);
  return 1;
}
