/*
 * lconn_read.c -- reading from a "host.conn": recv, read (n bytes, a
 * line, until a delimiter, everything), lines, buffered.
 *
 * Each waiting read has three parts, as OpenResty's cosockets do: try
 * (satisfy it from what is buffered), post (ask conn.c for input, record
 * the task as the reader, yield with a continuation), and the completion
 * (conn.c's input event resumes the task, whose continuation tries
 * again).  The hot path of conn:recv() skips the buffer: the chunk that
 * arrived becomes the Lua string itself.
 */
#include "conn.h"
#include "lconn_internal.h"
#include "lhost.h"
#include "log.h"
#include "ltask.h"
#include "worker.h"

#include <lauxlib.h>
#include <string.h>

/* ---- reading ------------------------------------------------------------ */

/* Ends a read that cannot be satisfied: nil, err [, the partial data]. */
static int read_fail(lua_State *L, struct conn *c, const char *err) {
  lconn_fail(L, c, err);
  if (c->rlen == 0 || c->rmode == RECV_ANY)
    return 2;
  lua_pushlstring(L, conn_rdata(c), c->rlen);
  conn_rbuf_consume(c, c->rlen);
  return 3;
}

static int push_take(lua_State *L, struct conn *c, size_t n, size_t skip) {
  lua_pushlstring(L, conn_rdata(c), n);
  conn_rbuf_consume(c, n + skip);
  return 1;
}

/* The rest of a line that was too long is dropped up to its '\n', so
 * that the next read starts on the next line (CONN_SKIPLINE while that
 * '\n' has not arrived yet). */
static void skip_line(struct conn *c) {
  const char *p = conn_rdata(c);
  const char *nl = c->rlen ? memchr(p, '\n', c->rlen) : NULL;
  if (!nl) {
    if (c->rlen)
      conn_rbuf_consume(c, c->rlen);
    return;
  }
  c->flags &= ~CONN_SKIPLINE;
  conn_rbuf_consume(c, (size_t)(nl - p) + 1);
}

/* A line over the limit: nil, "too long"; it is dropped (see skip_line). */
static int line_too_long(lua_State *L, struct conn *c) {
  c->flags |= CONN_SKIPLINE;
  skip_line(c);
  return lconn_fail(L, c, "too long");
}

/* The first `dlen`-byte delimiter in p[from .. n), or NULL. */
static const char *find_delim(const char *p, size_t n, size_t from,
                              const char *d, size_t dlen) {
  while (from + dlen <= n) {
    const char *hit = memchr(p + from, d[0], n - from - dlen + 1);
    if (!hit)
      return NULL;
    if (memcmp(hit, d, dlen) == 0)
      return hit;
    from = (size_t)(hit - p) + 1;
  }
  return NULL;
}

/* read("until", delim [, max]): the delimiter is argument 3 of the read,
 * still on this task's stack; where the search resumes is kept there too
 * (slot 5), so a delimiter that arrives a byte at a time costs O(n). */
static int try_until(lua_State *L, struct conn *c) {
  size_t dlen;
  const char *d = lua_tolstring(L, 3, &dlen);
  size_t from = (size_t)lua_tointeger(L, 5);
  const char *p = conn_rdata(c);
  const char *hit = find_delim(p, c->rlen, from, d, dlen);
  if (hit) {
    size_t len = (size_t)(hit - p);
    if (len > c->want) {
      conn_rbuf_consume(c, len + dlen); /* dropped: a retry makes progress */
      return lconn_fail(L, c, "too long");
    }
    lua_pushinteger(L, 0);
    lua_replace(L, 5);
    lua_pushlstring(L, p, len);
    conn_rbuf_consume(c, len + dlen);
    return 1;
  }
  if (c->rlen >= dlen && c->rlen - dlen + 1 > c->want) {
    conn_rbuf_consume(c, c->rlen); /* dropped, as read("a") does */
    lua_pushinteger(L, 0);
    lua_replace(L, 5);
    return lconn_fail(L, c, "too long");
  }
  lua_pushinteger(L, c->rlen >= dlen ? (lua_Integer)(c->rlen - dlen + 1) : 0);
  lua_replace(L, 5);
  return -1;
}

/* Try to satisfy the pending read from the buffer.  Returns the number
 * of results, or -1 if more data must arrive first. */
static int try_read(lua_State *L, struct conn *c) {
  if (c->flags & CONN_SKIPLINE)
    skip_line(c);
  const char *p = conn_rdata(c);
  switch (c->rmode) {
  case RECV_ANY:
    if (c->rlen && !(c->flags & CONN_SKIPLINE))
      return push_take(L, c, c->rlen < c->want ? c->rlen : c->want, 0);
    break;
  case READ_N:
    if (c->rlen >= c->want)
      return push_take(L, c, c->want, 0);
    break;
  case READ_LINE:
  case READ_LINE_KEEP: {
    const char *nl = c->rlen ? memchr(p, '\n', c->rlen) : NULL;
    if (nl) {
      size_t len = (size_t)(nl - p); /* without the '\n' */
      size_t cut = len > 0 && p[len - 1] == '\r' ? len - 1 : len;
      if (cut > c->maxline)
        return line_too_long(L, c);
      if (c->rmode == READ_LINE_KEEP)
        return push_take(L, c, len + 1, 0);
      return push_take(L, c, cut, len - cut + 1);
    }
    /* A '\r' may be the start of the line's end. */
    size_t held = c->rlen - (c->rlen && p[c->rlen - 1] == '\r');
    if (held > c->maxline)
      return line_too_long(L, c);
    break;
  }
  case READ_UNTIL: {
    int n = try_until(L, c);
    if (n >= 0)
      return n;
    break;
  }
  case READ_ALL:
    if (c->rlen > c->maxread) {
      conn_rbuf_consume(c, c->rlen); /* dropped: a retry makes progress */
      return lconn_fail(L, c, "too long");
    }
    if (c->flags & CONN_EOF)
      return push_take(L, c, c->rlen, 0);
    break;
  }
  if (c->flags & CONN_EOF)
    return read_fail(L, c, "closed");
  if (c->rerr == CONN_ETLS) /* nil, "tls", the engine's reason */
    return lconn_fail_code(L, c, c->rerr);
  if (c->rerr == IO_ENOMEM) { /* the worker's memory: nothing to return */
    if (c->rlen)
      conn_rbuf_consume(c, c->rlen);
    return lconn_fail(L, c, "no resources");
  }
  if (c->rerr)
    return read_fail(L, c, lconn_words[lconn_word_of(c->rerr)]);
  return -1;
}

/* Bytes the pending read needs buffered before it can complete: the
 * stream is not paused below that. */
static size_t read_need(const struct conn *c) {
  switch (c->rmode) {
  case READ_N: return c->want;
  case READ_LINE:
  case READ_LINE_KEEP: return (size_t)c->maxline + 2;
  case READ_ALL: return (size_t)c->maxread + 1;
  case READ_UNTIL: return (size_t)c->want + 256;
  default: return 0;
  }
}

static int read_k(lua_State *L, int status, lua_KContext ctx);

/* The conn of a read in progress: argument 1, or lines()' upvalue. */
static struct conn *reading_conn(lua_State *L, lua_KContext ctx) {
  int idx = ctx == LINES_FLAG ? lua_upvalueindex(1) : 1;
  struct conn_box *b = lua_touserdata(L, idx);
  return b->c;
}

/* lines() ends at end of stream (after a last unterminated line, as
 * io.lines does) and at every other failure too: a peer that resets or
 * stalls is not the script's error.  conn.lasterror tells why it ended.
 * n results are on the stack, as try_read left them. */
static int lines_result(lua_State *L, struct conn *c, int n) {
  if (n == 1)
    return 1;
  const char *err = lua_tostring(L, -(n - 1));
  if (c && strcmp(err, "closed") != 0) {
    char peer[ADDR_TEXT_MAX];
    conn_peer(c, peer, sizeof peer);
    log_write(LOG_DEBUG, c->set->worker, "conn:lines() ended: %s (peer %s)",
              err, peer);
  }
  if (n == 3)
    return 1; /* the partial last line */
  lua_pushnil(L);
  return 1;
}

static int read_more(lua_State *L, struct conn *c, lua_KContext ctx) {
  int n = try_read(L, c);
  if (n >= 0)
    return (ctx & LINES_FLAG) ? lines_result(L, c, n) : n;
  struct task *t = task_of(L);
  int err = conn_wait_input(c, read_need(c));
  if (err == IO_ECANCELED) /* the host stops: the input is over */
    return (ctx & LINES_FLAG)
               ? lines_result(L, NULL, lconn_fail(L, c, "closed"))
               : lconn_fail(L, c, "closed");
  if (err) {
    char msg[128];
    return luaL_error(L, "conn: cannot receive: %s", /* a bug */
                      io_strerror(err, msg, sizeof msg));
  }
  c->reader = t;
  return task_yield(L, t, TASK_RECV, ctx, read_k);
}

static int read_k(lua_State *L, int status, lua_KContext ctx) {
  struct conn *c = reading_conn(L, ctx);
  (void)status;
  if (c && c->hot) { /* resumed from the loop with a chunk in hand */
    int took = 0;
    if (c->rmode == RECV_ANY && c->rlen == 0 && !(c->flags & CONN_SKIPLINE)) {
      /* The hot path: the chunk becomes the Lua string itself. */
      size_t take = c->hotlen < c->want ? c->hotlen : c->want;
      lua_pushlstring(L, c->hot, take);
      conn_hot_take(c, take);
      took = 1;
    }
    /* The rest is buffered now, not when the loop gets it back: the
     * script runs on from here and may read it at once. */
    if (c->hotlen && conn_rbuf_append(c, c->hot, c->hotlen) != 0)
      c->rerr = IO_ENOMEM;
    conn_hot_take(c, c->hotlen);
    if (took)
      return 1;
  }
  if (!c || conn_closing(c))
    return (ctx & LINES_FLAG)
               ? lines_result(L, NULL, lconn_fail(L, c, "closed"))
               : lconn_fail(L, c, "closed");
  if (c->flags & CONN_RTIMEDOUT) {
    c->flags &= ~CONN_RTIMEDOUT;
    return (ctx & LINES_FLAG) ? lines_result(L, c, lconn_fail(L, c, "timeout"))
                              : lconn_fail(L, c, "timeout");
  }
  return read_more(L, c, ctx);
}

static void begin_read(lua_State *L, struct conn *c, int mode, size_t want,
                       const char *what) {
  task_current_wait(L, what);
  if (c->flags & CONN_RWAIT)
    luaL_error(L, "another task is already reading from this connection");
  c->flags &= ~CONN_RTIMEDOUT; /* only ever the op it ended */
  c->rmode = (uint8_t)mode;
  c->want = (uint32_t)want;
}

int lconn_recv(lua_State *L) {
  struct conn *c = lconn_check(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, RECV_DEFAULT);
  luaL_argcheck(L, max >= 1 && max <= (1 << 30), 2, "out of range");
  begin_read(L, c, RECV_ANY, (size_t)max, "conn:recv");
  return read_more(L, c, 0);
}

int lconn_read(lua_State *L) {
  struct conn *c = lconn_check(L, 1);
  int mode;
  size_t want = 0;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 0 && n <= UINT32_MAX, 2, "out of range");
    if (n == 0) {
      task_current(L, "conn:read");
      lua_pushliteral(L, "");
      return 1;
    }
    mode = READ_N;
    want = (size_t)n;
  } else {
    const char *f = luaL_optstring(L, 2, "l");
    if (*f == '*')
      f++; /* "*l", as Lua 5.1 and LuaSocket spell it */
    if (strcmp(f, "until") == 0) {
      size_t dlen;
      luaL_checklstring(L, 3, &dlen);
      luaL_argcheck(L, dlen >= 1 && dlen <= 255, 3,
                    "the delimiter must be 1 to 255 bytes");
      lua_Integer max = luaL_optinteger(L, 4, c->maxline);
      luaL_argcheck(L, max >= 0 && max <= (lua_Integer)1 << 30, 4,
                    "out of range");
      begin_read(L, c, READ_UNTIL, (size_t)max, "conn:read");
      lua_settop(L, 4);
      lua_pushinteger(L, 0); /* slot 5: where the search resumes */
      return read_more(L, c, 0);
    }
    switch (*f) {
    case 'l': mode = READ_LINE; break;
    case 'L': mode = READ_LINE_KEEP; break;
    case 'a': mode = READ_ALL; break;
    default: return luaL_argerror(L, 2, "invalid format");
    }
  }
  begin_read(L, c, mode, want, "conn:read");
  lua_settop(L, 2);
  return read_more(L, c, 0);
}

static int lines_iter(lua_State *L) {
  struct conn_box *b = lua_touserdata(L, lua_upvalueindex(1));
  if (!b->c || conn_closing(b->c))
    return luaL_error(L, "attempt to use a closed connection");
  begin_read(L, b->c, READ_LINE, 0, "conn:lines");
  return read_more(L, b->c, LINES_FLAG);
}

/* conn:buffered() -> bytes received and not read yet (no system call). */
int lconn_buffered(lua_State *L) {
  struct conn *c = lconn_check(L, 1);
  lua_pushinteger(L, (lua_Integer)c->rlen);
  return 1;
}

int lconn_lines(lua_State *L) {
  lconn_check(L, 1);
  lua_settop(L, 1);
  lua_pushcclosure(L, lines_iter, 1);
  return 1;
}
