/*
 * lconn.c -- the "host.conn" type: recv, read, lines, send, settimeout,
 * shutdown, close, and host.connect.
 *
 * Each waiting method has three parts, as OpenResty's cosockets do: try
 * (satisfy it from what is buffered), post (start the operation, record
 * the task as its waiter, yield with a continuation), and the completion
 * (store what arrived and resume the task, whose continuation tries
 * again).  The hot path of conn:recv() skips the buffer: the completion
 * pushes the received bytes as the Lua string itself and the continuation
 * returns it.
 *
 * Failures the network causes return nil, err (+ the partial data for a
 * read that ended early); misuse raises: a bad argument, a closed
 * connection, a second task reading (or sending) while one waits.
 */
#include "lconn.h"
#include "conn.h"
#include "lhost.h"
#include "lmain.h"
#include "log.h"
#include "ltask.h"
#include "worker.h"

#include <lauxlib.h>
#include <string.h>

#define CONN_META "host.conn"
#define RECV_DEFAULT 65536
#define LINES_FLAG ((lua_KContext)1) /* the read's continuation context */

enum { RECV_ANY, READ_N, READ_LINE, READ_LINE_KEEP, READ_ALL };

/* ---- boxes ------------------------------------------------------------ */

/* The userdata: a box, never the conn itself (conn.c frees the conn and
 * clears the box's pointer, its first field, when the socket is done). */
struct conn_box {
  struct conn *c;
};

void lconn_push(lua_State *L, struct conn *c) {
  struct conn_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->c = c;
  c->box = b;
  luaL_setmetatable(L, CONN_META);
}

/* The conn at idx, checked against the metatable every method carries
 * as its first upvalue: luaL_checkudata would look the metatable up by
 * name in the registry on every call. */
static struct conn *toconn(lua_State *L, int idx) {
  struct conn_box *b = lua_touserdata(L, idx);
  int ok =
      b && lua_getmetatable(L, idx) && lua_rawequal(L, -1, lua_upvalueindex(1));
  if (!ok)
    luaL_typeerror(L, idx, CONN_META);
  lua_pop(L, 1);
  if (!b->c || conn_closing(b->c))
    luaL_error(L, "attempt to use a closed connection");
  return b->c;
}

/* The API's error words: a fixed set, the same on every backend.  The
 * index of a word is what conn.lasterr keeps. */
static const char *const words[] = {
    NULL,          "closed",   "timeout",      "reset", "refused",
    "unreachable", "too long", "no resources", "error", NULL};
enum {
  W_NONE,
  W_CLOSED,
  W_TIMEOUT,
  W_RESET,
  W_REFUSED,
  W_UNREACHABLE,
  W_TOOLONG,
  W_NORES,
  W_ERROR
};

static int word_of(int err) {
  switch (err) {
  case 0:
  case IO_ECANCELED:
  case IO_ENOTCONN: return W_CLOSED;
  case IO_ECONNRESET:
  case IO_EPIPE:
  case IO_ECONNABORTED: return W_RESET;
  case IO_ECONNREFUSED:
  case IO_EACCES: return W_REFUSED;
  case IO_ETIMEDOUT: return W_TIMEOUT;
  case IO_ENETUNREACH:
  case IO_EHOSTUNREACH:
  case IO_EADDRNOTAVAIL:
  case IO_EAFNOSUPPORT: return W_UNREACHABLE;
  case IO_ENOMEM:
  case IO_ENOBUFS:
  case IO_EMFILE:
  case IO_ENFILE: return W_NORES; /* the host ran out, not the peer's doing */
  default: return W_ERROR; /* unnamed system errors: rare, logged at debug */
  }
}

const char *lconn_errstr(int err) { return words[word_of(err)]; }

static int word_index(const char *err) {
  for (int i = 1; words[i]; i++)
    if (words[i] == err || strcmp(words[i], err) == 0)
      return i;
  return W_ERROR;
}

/* nil, err; err is remembered as the conn's last error. */
static int cfail(lua_State *L, struct conn *c, const char *err) {
  if (c)
    c->lasterr = (uint8_t)word_index(err);
  return lhost_fail(L, err);
}

static int fail(lua_State *L, const char *err) { return cfail(L, NULL, err); }

static int fail_code(lua_State *L, struct conn *c, int code) {
  if (word_of(code) == W_ERROR) {
    char buf[128];
    log_write(LOG_DEBUG, c->set->worker, "connection error: %s",
              io_strerror(code, buf, sizeof buf));
  }
  return cfail(L, c, words[word_of(code)]);
}

/* ---- reading ------------------------------------------------------------ */

/* Ends a read that cannot be satisfied: nil, err [, the partial data]. */
static int read_fail(lua_State *L, struct conn *c, const char *err) {
  cfail(L, c, err);
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
  c->flags &= (uint16_t)~CONN_SKIPLINE;
  conn_rbuf_consume(c, (size_t)(nl - p) + 1);
}

/* A line over the limit: nil, "too long"; it is dropped (see skip_line). */
static int line_too_long(lua_State *L, struct conn *c) {
  c->flags |= CONN_SKIPLINE;
  skip_line(c);
  return cfail(L, c, "too long");
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
  case READ_ALL:
    if (c->rlen > c->maxread) {
      conn_rbuf_consume(c, c->rlen); /* dropped: a retry makes progress */
      return cfail(L, c, "too long");
    }
    if (c->flags & CONN_EOF)
      return push_take(L, c, c->rlen, 0);
    break;
  }
  if (c->flags & CONN_EOF)
    return read_fail(L, c, "closed");
  if (c->rerr)
    return read_fail(L, c, words[word_of(c->rerr)]);
  return -1;
}

/* conn.c tells us: the waiting reader should look again.  From the loop
 * it is resumed at once (so that it can take the chunk in place: the hot
 * path); from inside a running task or a close, on the next turn. */
static void on_input(struct conn *c) {
  struct task *t = c->reader;
  c->reader = NULL;
  if (!t)
    return;
  if (lvm_of(t->w)->sched.current || conn_closing(c))
    task_schedule(t, 0);
  else
    task_resume(t, 0);
}

static const struct conn_events events = {.input = on_input};

struct conn *lconn_new(struct worker *w) {
  return conn_new(&w->conns, &events);
}

/* Bytes the pending read needs buffered before it can complete: the
 * stream is not paused below that. */
static size_t read_need(const struct conn *c) {
  switch (c->rmode) {
  case READ_N: return c->want;
  case READ_LINE:
  case READ_LINE_KEEP: return (size_t)c->maxline + 2;
  case READ_ALL: return (size_t)c->maxread + 1;
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
  if (err) {
    char msg[128];
    return luaL_error(L, "conn: cannot receive: %s", /* a bug */
                      io_strerror(err, msg, sizeof msg));
  }
  c->reader = t;
  return task_yield(L, t, ctx, read_k);
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
    return (ctx & LINES_FLAG) ? lines_result(L, NULL, cfail(L, c, "closed"))
                              : cfail(L, c, "closed");
  if (c->flags & CONN_RTIMEDOUT) {
    c->flags &= (uint16_t)~CONN_RTIMEDOUT;
    return (ctx & LINES_FLAG) ? lines_result(L, c, cfail(L, c, "timeout"))
                              : cfail(L, c, "timeout");
  }
  return read_more(L, c, ctx);
}

static void begin_read(lua_State *L, struct conn *c, int mode, size_t want,
                       const char *what) {
  task_current_wait(L, what);
  if (c->flags & CONN_RWAIT)
    luaL_error(L, "another task is already reading from this connection");
  c->flags &= (uint16_t)~CONN_RTIMEDOUT; /* only ever the op it ended */
  c->rmode = (uint8_t)mode;
  c->want = (uint32_t)want;
}

static int lconn_recv(lua_State *L) {
  struct conn *c = toconn(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, RECV_DEFAULT);
  luaL_argcheck(L, max >= 1 && max <= (1 << 30), 2, "out of range");
  begin_read(L, c, RECV_ANY, (size_t)max, "conn:recv");
  return read_more(L, c, 0);
}

static int lconn_read(lua_State *L) {
  struct conn *c = toconn(L, 1);
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

static int lconn_lines(lua_State *L) {
  toconn(L, 1);
  lua_settop(L, 1);
  lua_pushcclosure(L, lines_iter, 1);
  return 1;
}

/* ---- sending ------------------------------------------------------------- */

static void on_send(struct io_op *op) {
  struct conn *c = op->data;
  struct task *t = c->writer;
  c->writer = NULL;
  conn_sent(c, op);
  conn_wreq_give(c);
  if (t)
    task_resume(t, 0);
}

static int send_k(lua_State *L, int status, lua_KContext ctx);

/* Where a send continues: argument index and offset into it, packed into
 * the continuation's context (64 bits on every target we build). */
#define SEND_POS(i, off) ((lua_KContext)(((intptr_t)(off) << 20) | (i)))
#define SEND_ARG(ctx) ((int)((ctx) & ((1 << 20) - 1)))
#define SEND_OFF(ctx) ((size_t)((ctx) >> 20))

/* Sends the arguments from index `from` (offset `off` into it) on: up to
 * CONN_SEND_BATCH pieces and IO_SEND_MAXBYTES per operation, so a string
 * of any size goes out in as many operations as it takes. */
static int send_more(lua_State *L, struct conn *c, int from, size_t off) {
  struct io_buf bufs[CONN_SEND_BATCH];
  size_t room = IO_SEND_MAXBYTES;
  int top = lua_gettop(L), n = 0, i = from;
  while (i <= top && n < CONN_SEND_BATCH && room > 0) {
    size_t len;
    const char *s = lua_tolstring(L, i, &len);
    size_t left = len - off, take = left < room ? left : room;
    if (take)
      bufs[n++] = io_buf_make(s + off, take);
    room -= take;
    if (take < left) {
      off += take; /* the rest of this string goes next time */
      break;
    }
    i++;
    off = 0;
  }
  if (n == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  struct conn_wreq *r = conn_wreq_take(c);
  if (!r)
    return luaL_error(L, "not enough memory");
  memcpy(r->bufs, bufs, (size_t)n * sizeof *bufs);
  int err = io_send(&c->h, &r->op, r->bufs, n, on_send);
  if (err) {
    conn_wreq_give(c);
    return luaL_error(L, "conn: cannot send (%d)", err); /* a bug */
  }
  struct task *t = task_of(L);
  c->writer = t;
  conn_arm_send(c);
  /* The strings stay on this coroutine's stack, and the coroutine is
   * pinned in the registry until on_send resumes it: the kernel's
   * pointers into them stay valid without a reference per string. */
  return task_yield(L, t, SEND_POS(i, off), send_k);
}

static int send_k(lua_State *L, int status, lua_KContext ctx) {
  struct conn_box *b = lua_touserdata(L, 1);
  struct conn *c = b->c;
  (void)status;
  if (!c || conn_closing(c))
    return cfail(L, c, "closed");
  if (c->flags & CONN_WTIMEDOUT) {
    c->flags &= (uint16_t)~CONN_WTIMEDOUT;
    return cfail(L, c, "timeout");
  }
  if (c->werr)
    return fail_code(L, c, c->werr);
  return send_more(L, c, SEND_ARG(ctx), SEND_OFF(ctx));
}

static int lconn_send(lua_State *L) {
  struct conn *c = toconn(L, 1);
  int top = lua_gettop(L);
  for (int i = 2; i <= top; i++)
    luaL_checklstring(L, i, NULL); /* numbers become strings in place */
  task_current_wait(L, "conn:send");
  if (c->writer)
    return luaL_error(L, "another task is already sending on this connection");
  if (c->werr)
    return fail_code(L, c, c->werr);
  if (c->flags & CONN_SHUTDOWN)
    return cfail(L, c, "closed");
  luaL_argcheck(L, top < (1 << 20), top, "too many strings");
  return send_more(L, c, 2, 0);
}

/* ---- connecting -------------------------------------------------------- */

static void on_connect(struct io_op *op) {
  struct conn *c = op->data;
  struct task *t = c->writer;
  c->writer = NULL;
  c->werr = op->res;
  conn_wreq_give(c);
  if (t)
    task_resume(t, 0);
}

static int connect_k(lua_State *L, int status, lua_KContext ctx) {
  struct conn *c = (struct conn *)ctx;
  int err = c->werr, timedout = (c->flags & CONN_WTIMEDOUT) != 0;
  (void)status;
  c->timeout = 0; /* the connect timeout is not the connection's */
  c->flags &= (uint16_t)~CONN_WTIMEDOUT;
  c->werr = 0;
  if (err || conn_closing(c)) {
    conn_close(c);
    if (timedout)
      return fail(L, "timeout");
    return fail(L, words[word_of(err ? err : IO_ECANCELED)]);
  }
  conn_cache_peer(c);
  lconn_push(L, c);
  return 1;
}

/* host.connect(address [, timeout]) -> conn | nil, err */
int lconn_connect(lua_State *L) {
  struct worker *w = lhost_worker(L);
  const char *text = luaL_checkstring(L, 1);
  double timeout = luaL_optnumber(L, 2, 0);
  char msg[128];
  luaL_argcheck(L, timeout >= 0, 2, "negative timeout");
  struct task *t = task_current_wait(L, "host.connect");
  /* The address must outlive the connect: a userdata on this task's
   * stack lives as long as the wait. */
  struct addr *a = lua_newuserdatauv(L, sizeof *a, 0);
  if (addr_parse(text, a, msg, sizeof msg) != 0)
    return luaL_argerror(L, 1, msg);
  if (a->any)
    return luaL_argerror(L, 1, "cannot connect to '*'");
  struct conn *c = lconn_new(w);
  struct conn_wreq *r = c ? conn_wreq_take(c) : NULL;
  if (!r) {
    if (c)
      conn_close(c);
    return luaL_error(L, "not enough memory");
  }
  conn_connect(c, (struct sockaddr *)&a->ss, a->len, on_connect);
  c->writer = t;
  if (timeout > 0) {
    c->timeout = conn_timeout_ms(timeout);
    conn_arm_send(c);
  }
  return task_yield(L, t, (lua_KContext)c, connect_k);
}

/* ---- the rest of the methods -------------------------------------------- */

static int lconn_settimeout(lua_State *L) {
  struct conn *c = toconn(L, 1);
  if (lua_isnoneornil(L, 2)) {
    c->timeout = 0;
  } else {
    double s = luaL_checknumber(L, 2);
    luaL_argcheck(L, s >= 0, 2, "negative timeout");
    c->timeout = conn_timeout_ms(s);
  }
  return 0;
}

static int lconn_setoption(lua_State *L) {
  struct conn *c = toconn(L, 1);
  static const char *const names[] = {"maxline", "maxread", NULL};
  int which = luaL_checkoption(L, 2, NULL, names);
  lua_Integer v = luaL_checkinteger(L, 3);
  luaL_argcheck(L, v >= 1 && v <= (lua_Integer)1 << 30, 3, "out of range");
  if (which == 0)
    c->maxline = (uint32_t)v;
  else
    c->maxread = (uint32_t)v;
  return 0;
}

static int lconn_shutdown(lua_State *L) {
  struct conn *c = toconn(L, 1);
  if (c->wreq)
    return luaL_error(L, "a send is in progress on this connection");
  c->flags |= CONN_SHUTDOWN;
  int err = io_shutdown(&c->h);
  if (err)
    return fail_code(L, c, err);
  lua_pushboolean(L, 1);
  return 1;
}

/* conn:close([how]): how "reset" closes abortively (the peer gets a
 * reset; a proxy passes one on this way). */
static int lconn_close(lua_State *L) {
  static const char *const hows[] = {"graceful", "reset", NULL};
  struct conn *c = toconn(L, 1);
  if (luaL_checkoption(L, 2, "graceful", hows) == 1)
    conn_reset(c);
  else
    conn_close(c);
  lua_pushboolean(L, 1);
  return 1;
}

/* __gc and __close: close if still open, never raise. */
static int lconn_gc(lua_State *L) {
  struct conn_box *b = luaL_checkudata(L, 1, CONN_META);
  struct conn *c = b->c;
  if (c) {
    b->c = NULL;
    c->box = NULL;
    conn_close(c);
  }
  return 0;
}

static int lconn_tostring(lua_State *L) {
  struct conn_box *b = luaL_checkudata(L, 1, CONN_META);
  if (!b->c || conn_closing(b->c)) {
    lua_pushliteral(L, "host.conn (closed)");
  } else {
    char peer[ADDR_TEXT_MAX];
    conn_peer(b->c, peer, sizeof peer);
    lua_pushfstring(L, "host.conn (%s)", peer);
  }
  return 1;
}

/* conn.peer / conn.address, then the methods. */
static int lconn_index(lua_State *L) {
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TNIL)
    return 1; /* a method: the common case, no string compares */
  const char *key = lua_tostring(L, 2);
  if (key && strcmp(key, "lasterror") == 0) {
    struct conn_box *b = lua_touserdata(L, 1);
    if (b && b->c && b->c->lasterr)
      lua_pushstring(L, words[b->c->lasterr]);
    else
      lua_pushnil(L);
    return 1;
  }
  if (key && (strcmp(key, "peer") == 0 || strcmp(key, "address") == 0)) {
    char buf[ADDR_TEXT_MAX];
    struct conn *c = toconn(L, 1);
    if (key[0] == 'p')
      conn_peer(c, buf, sizeof buf);
    else
      conn_local(c, buf, sizeof buf);
    lua_pushstring(L, buf);
    return 1;
  }
  return 1; /* nil */
}

static const luaL_Reg meth[] = {{"recv", lconn_recv},
                                {"read", lconn_read},
                                {"lines", lconn_lines},
                                {"send", lconn_send},
                                {"settimeout", lconn_settimeout},
                                {"setoption", lconn_setoption},
                                {"shutdown", lconn_shutdown},
                                {"close", lconn_close},
                                {NULL, NULL}};

static const luaL_Reg metameth[] = {
    {"__gc", lconn_gc},
    {"__close", lconn_gc},
    {"__tostring", lconn_tostring},
    {"__index", NULL}, /* placeholder, set below */
    {NULL, NULL}};

void lconn_open(lua_State *L) {
  luaL_newmetatable(L, CONN_META);
  luaL_setfuncs(L, metameth, 0);
  luaL_newlibtable(L, meth);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, meth, 1); /* each method: the metatable as upvalue */
  lua_pushvalue(L, -2);
  lua_insert(L, -2);
  lua_pushcclosure(L, lconn_index, 2); /* (metatable, methods) */
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}
