/*
 * lconn.c -- the "host.conn" type: its box, its error words, the events
 * conn.c sends up, host.connect, and the small methods (settimeout,
 * setoption, shutdown, close); reading is lconn_read.c's, writing
 * lconn_send.c's.
 *
 * Failures the network causes return nil, err (+ the partial data for a
 * read that ended early); misuse raises: a bad argument, a closed
 * connection, a second task reading (or sending) while one waits.
 */
#include "lconn.h"
#include "conn.h"
#include "lconn_internal.h"
#include "lhost.h"
#include "lmain.h"
#include "log.h"
#include "lproxy.h"
#include "ltask.h"
#include "ltls.h"
#include "worker.h"

#include <lauxlib.h>
#include <string.h>

/* ---- boxes ------------------------------------------------------------ */

/* registry[&meta_key]: the metatable, found without hashing its name. */
static const char meta_key = 0;

void lconn_push(lua_State *L, struct conn *c) {
  struct conn_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->c = c;
  b->tag = &lconn_tag;
  c->box = b;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &meta_key);
  lua_setmetatable(L, -2);
}

const char lconn_tag = 0;

struct conn *lconn_check(lua_State *L, int idx) {
  struct conn_box *b = lua_touserdata(L, idx);
  if (!b || lua_rawlen(L, idx) != sizeof *b || b->tag != &lconn_tag)
    luaL_typeerror(L, idx, CONN_META);
  if (!b->c || conn_closing(b->c))
    luaL_error(L, "attempt to use a closed connection");
  return b->c;
}

/* The API's error words: a fixed set, the same on every backend.  The
 * index of a word is what conn.lasterr keeps. */
const char *const lconn_words[] = {
    NULL,       "closed",       "timeout", "reset", "refused", "unreachable",
    "too long", "no resources", "error",   "tls",   NULL};

int lconn_word_of(int err) {
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
  case CONN_ETLS: return W_TLS;
  default: return W_ERROR; /* unnamed system errors: rare, logged at debug */
  }
}

const char *lconn_errstr(int err) { return lconn_words[lconn_word_of(err)]; }

static int word_index(const char *err) {
  for (int i = 1; lconn_words[i]; i++)
    if (lconn_words[i] == err || strcmp(lconn_words[i], err) == 0)
      return i;
  return W_ERROR;
}

int lconn_fail(lua_State *L, struct conn *c, const char *err) {
  int word = word_index(err);
  struct task *t = task_of(L);
  if (c)
    c->lasterr = (uint8_t)word;
  if (t && word < WORKER_NWORDS)
    stat_inc(&t->w->stats.errors[word]);
  return lhost_fail(L, err);
}

int lconn_fail_code(lua_State *L, struct conn *c, int code) {
  if (code == CONN_ETLS) { /* nil, "tls", the engine's reason */
    lconn_fail(L, c, "tls");
    lua_pushstring(L, conn_tls_detail(c));
    return 3;
  }
  if (lconn_word_of(code) == W_ERROR) {
    char buf[128];
    log_write(LOG_DEBUG, c->set->worker, "connection error: %s",
              io_strerror(code, buf, sizeof buf));
  }
  return lconn_fail(L, c, lconn_words[lconn_word_of(code)]);
}

/* ---- events from conn.c ---------------------------------------------- */

void lconn_wake(struct conn *c, void *task) {
  struct task *t = task;
  if (t->vm->sched.current || conn_closing(c) || (c->flags & CONN_ENDED))
    task_schedule(t, 0);
  else
    task_resume(t, 0);
}

/* The waiting reader should look again.  From the loop it is resumed at
 * once, so that it can take the chunk in place (the hot path). */
static void on_input(struct conn *c) {
  void *t = c->reader;
  c->reader = NULL;
  if (t)
    lconn_wake(c, t);
}

/* The waiting writer's send (or connect) completed. */
static void on_output(struct conn *c) {
  void *t = c->writer;
  c->writer = NULL;
  if (t)
    lconn_wake(c, t);
}

static const struct conn_events events = {.input = on_input,
                                          .output = on_output};

struct conn *lconn_new(struct worker *w) {
  return conn_new(&w->conns, &events);
}

/* ---- the rest of the methods -------------------------------------------- */

static int lconn_settimeout(lua_State *L) {
  struct conn *c = lconn_check(L, 1);
  if (lua_isnoneornil(L, 2)) {
    c->timeout = 0;
  } else {
    double s = luaL_checknumber(L, 2);
    luaL_argcheck(L, s >= 0, 2, "negative timeout");
    c->timeout = conn_timeout_ms(s);
  }
  return 0;
}

/* conn:setdeadline(seconds | nil): every operation that waits past this
 * instant returns nil, "timeout", whatever trickles in meanwhile. */
static int lconn_setdeadline(lua_State *L) {
  struct conn *c = lconn_check(L, 1);
  uint64_t due = 0;
  if (!lua_isnoneornil(L, 2)) {
    double s = luaL_checknumber(L, 2);
    luaL_argcheck(L, s >= 0, 2, "negative time");
    due = io_clock() + (s >= 1e9 ? (uint64_t)1e18 : (uint64_t)(s * 1e9));
    if (!due)
      due = 1; /* 0 would mean none */
  }
  if (conn_set_deadline(c, due) != 0)
    return luaL_error(L, "not enough memory");
  return 0;
}

static int lconn_setoption(lua_State *L) {
  struct conn *c = lconn_check(L, 1);
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

/* What was written goes out before the end of stream: shutdown waits
 * for the queue (as flush does) when there is one. */
static int shutdown_k(lua_State *L, int status, lua_KContext ctx) {
  struct conn_box *b = lua_touserdata(L, 1);
  struct conn *c = b->c;
  (void)status, (void)ctx;
  if (!c || conn_closing(c))
    return lconn_fail(L, c, "closed");
  if (c->flags & CONN_WTIMEDOUT) {
    c->flags &= ~CONN_WTIMEDOUT;
    return lconn_fail(L, c, "timeout");
  }
  if (c->werr)
    return lconn_fail_code(L, c, c->werr);
  if (conn_sending(c)) {
    struct task *t = task_of(L);
    int err = c->wreq ? 0 : conn_flush(c);
    if (err)
      return lconn_fail_code(L, c, err);
    conn_wait_output(c);
    c->writer = t;
    return task_yield(L, t, TASK_SEND, 0, shutdown_k);
  }
  c->flags |= CONN_SHUTDOWN;
  int err = io_shutdown(&c->h);
  if (err)
    return lconn_fail_code(L, c, err);
  lua_pushboolean(L, 1);
  return 1;
}

static int lconn_shutdown(lua_State *L) {
  struct conn *c = lconn_check(L, 1);
  if (c->writer)
    return luaL_error(L, "a send is in progress on this connection");
  if (conn_sending(c))
    task_current_wait(L, "conn:shutdown");
  lua_settop(L, 1);
  return shutdown_k(L, LUA_OK, 0);
}

/* conn:close([how]): how "reset" closes abortively (the peer gets a
 * reset; a proxy passes one on this way). */
static int lconn_close(lua_State *L) {
  static const char *const hows[] = {"graceful", "reset", NULL};
  struct conn *c = lconn_check(L, 1);
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

/* The method named key (len bytes), or NULL.  A switch on the length and
 * compares of known size, which the compiler inlines: no table lookup
 * through the API on each of a handler's method calls (two per echoed
 * message), which costs about twice as much. */
static lua_CFunction method_of(const char *key, size_t len) {
#define IS(name) (memcmp(key, name, sizeof name - 1) == 0)
  switch (len) {
  case 4:
    if (IS("recv"))
      return lconn_recv;
    if (IS("send"))
      return lconn_send;
    if (IS("read"))
      return lconn_read;
    break;
  case 5:
    if (IS("write"))
      return lconn_write;
    if (IS("flush"))
      return lconn_flush;
    if (IS("lines"))
      return lconn_lines;
    if (IS("close"))
      return lconn_close;
    break;
  case 8:
    if (IS("buffered"))
      return lconn_buffered;
    if (IS("shutdown"))
      return lconn_shutdown;
    if (IS("starttls"))
      return ltls_starttls;
    break;
  case 9:
    if (IS("setoption"))
      return lconn_setoption;
    break;
  case 10:
    if (IS("settimeout"))
      return lconn_settimeout;
    break;
  case 11:
    if (IS("setdeadline"))
      return lconn_setdeadline;
    break;
  }
  return NULL;
#undef IS
}

/* The methods, then conn.tls, .proxy, .lasterror, .peer and .address. */
static int lconn_index(lua_State *L) {
  size_t len;
  const char *key = lua_tolstring(L, 2, &len);
  if (!key)
    return 0; /* nil */
  lua_CFunction fn = method_of(key, len);
  if (fn) {
    lua_pushcfunction(L, fn);
    return 1;
  }
  if (strcmp(key, "tls") == 0)
    return ltls_push_info(L, lconn_check(L, 1));
  if (strcmp(key, "proxy") == 0)
    return lproxy_push_info(L, lconn_check(L, 1));
  if (strcmp(key, "lasterror") == 0) {
    struct conn_box *b = lua_touserdata(L, 1);
    if (b && b->c && b->c->lasterr)
      lua_pushstring(L, lconn_words[b->c->lasterr]);
    else
      lua_pushnil(L);
    return 1;
  }
  if (strcmp(key, "peer") == 0 || strcmp(key, "address") == 0) {
    char buf[ADDR_TEXT_MAX];
    struct conn *c = lconn_check(L, 1);
    if (key[0] == 'p')
      conn_peer(c, buf, sizeof buf);
    else
      conn_local(c, buf, sizeof buf);
    lua_pushstring(L, buf);
    return 1;
  }
  return 0; /* nil */
}

static const luaL_Reg metameth[] = {{"__gc", lconn_gc},
                                    {"__close", lconn_gc},
                                    {"__tostring", lconn_tostring},
                                    {"__index", lconn_index},
                                    {NULL, NULL}};

void lconn_open(lua_State *L) {
  luaL_newmetatable(L, CONN_META);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &meta_key);
  luaL_setfuncs(L, metameth, 0);
  lua_pop(L, 1);
}
