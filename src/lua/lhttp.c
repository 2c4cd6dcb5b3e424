/*
 * lhttp.c -- `require "host.http.core"`, the C half of host.http: the
 * module and its options, sessions, reading a request head, and what a
 * handler reads of it (headers, one header, arguments, the peer).
 *
 * The request head is parsed where it arrives, in the connection's read
 * buffer, by http1.c (incrementally: a head that drips in costs O(bytes)).
 * Once complete it is copied, once, into the session's work block (the
 * parser's field array sits beside it), and consumed from the read
 * buffer, so that the body and any pipelined request behind it are read
 * by the usual machinery and the head's spans stay valid while the
 * handler runs, whatever it waits for.  Nothing of the head reaches Lua
 * but the request line's pieces: req.headers is built when a handler
 * first reads it, req:header(name) looks one field up without a table.
 * The work block goes back to a per-worker pool when the connection
 * waits idle, so an idle keep-alive connection holds no head.
 *
 * Deadlines: the whole head must arrive within header_timeout of its
 * first byte (of the connection's start, for the first request), as
 * nginx's client_header_timeout; a keep-alive connection may wait
 * idle_timeout for the next request.  Each wait arms the conn's read
 * deadline for what is left (conn.h: deadlines belong to their wait).
 */
#include "lhttp.h"
#include "conn.h"
#include "fault.h"
#include "http_text.h"
#include "lconn_internal.h"
#include "lhost.h"
#include "lhttp_internal.h"
#include "lmain.h"
#include "ltask.h"
#include "worker.h"

#include <lauxlib.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- sessions ------------------------------------------------------------ */

struct conn *hs_conn(const struct hsess *s) {
  struct conn *c = *(struct conn **)s->box;
  return c && !conn_closing(c) ? c : NULL;
}

int hs_fail(lua_State *L, const char *err) {
  lua_pushnil(L);
  lua_pushstring(L, err);
  return 2;
}

const char *hs_input_error(struct conn *c) {
  if (c->flags & CONN_RTIMEDOUT) {
    c->flags &= ~CONN_RTIMEDOUT;
    return "timeout";
  }
  if (c->flags & CONN_EOF)
    return "closed";
  if (c->rerr)
    return lconn_words[lconn_word_of(c->rerr)];
  return NULL;
}

int hs_wait(lua_State *L, struct hsess *s, struct conn *c, size_t need,
            uint32_t ms, lua_KContext ctx, lua_KFunction k) {
  struct task *t = task_current_wait(L, "host.http");
  (void)s;
  if ((c->flags & CONN_RWAIT) || c->reader)
    return luaL_error(L, "another task is already reading from this "
                         "connection");
  c->flags &= ~CONN_RTIMEDOUT;
  uint32_t saved = c->timeout; /* the deadline of this wait, not the conn's */
  c->timeout = ms;
  int err = conn_wait_input(c, need);
  c->timeout = saved;
  if (err == IO_ECANCELED) /* the host stops: the input is over (EOF) */
    return k(L, LUA_OK, ctx);
  if (err)
    return luaL_error(L, "http: cannot receive (error %d)", err); /* a bug */
  c->reader = t;
  return task_yield(L, t, TASK_RECV, ctx, k);
}

struct conn *hs_resumed(lua_State *L, struct hsess *s) {
  struct conn *c = *(struct conn **)s->box;
  (void)L;
  if (c && c->hot) {
    if (c->hotlen && conn_rbuf_append(c, c->hot, c->hotlen) != 0)
      c->rerr = IO_ENOMEM;
    conn_hot_take(c, c->hotlen);
  }
  return c && !conn_closing(c) ? c : NULL;
}

int hs_conn_call(lua_State *L, int sidx, const char *name, int nargs,
                 lua_KContext ctx, lua_KFunction k) {
  lua_getiuservalue(L, sidx, 1); /* the conn's userdata */
  lua_getfield(L, -1, name);
  lua_insert(L, -(nargs + 2)); /* method, conn, args... */
  lua_insert(L, -(nargs + 1));
  lua_callk(L, nargs + 1, 2, ctx, k);
  return k(L, LUA_OK, ctx);
}

/* ---- work blocks ------------------------------------------------------- */

struct hwork *hs_work(struct hsess *s) {
  if (s->work)
    return s->work;
  struct hmod *mod = s->mod;
  uint32_t nf = s->o->lim.max_headers;
  while (mod->nspare > 0) {
    struct hwork *w = mod->spare[--mod->nspare];
    if (w->nfields >= nf)
      return s->work = w;
    free(w); /* made for a smaller limit */
  }
  if (fault_fail(FAULT_C, "http work block"))
    return NULL;
  struct hwork *w = malloc(sizeof *w + nf * sizeof(struct http_header));
  if (!w)
    return NULL;
  w->nfields = nf;
  w->headcap = WORK_INLINE;
  w->head = w->inline_head;
  return s->work = w;
}

static void work_free(struct hwork *w) {
  if (w->head != w->inline_head)
    free(w->head);
  free(w);
}

void hs_work_release(struct hsess *s) {
  struct hwork *w = s->work;
  struct hmod *mod = s->mod;
  if (!w)
    return;
  s->work = NULL;
  s->parsing = 0;
  if (w->head != w->inline_head) { /* a large head: keep only the block */
    free(w->head);
    w->head = w->inline_head;
    w->headcap = WORK_INLINE;
  }
  if (mod->w && mod->nspare < (int)(sizeof mod->spare / sizeof *mod->spare))
    mod->spare[mod->nspare++] = w;
  else
    work_free(w);
}

int hs_take_head(struct hsess *s, struct conn *c, size_t n) {
  struct hwork *w = s->work;
  if (n > w->headcap) {
    if (fault_fail(FAULT_C, "http head copy"))
      return -1;
    char *big = malloc(n);
    if (!big)
      return -1;
    if (w->head != w->inline_head)
      free(w->head);
    w->head = big;
    w->headcap = (uint32_t)n;
  }
  memcpy(w->head, conn_rdata(c), n);
  conn_rbuf_consume(c, n);
  s->headlen = (uint32_t)n;
  s->body = s->m.body;
  s->body_done = s->body == HTTP_BODY_NONE;
  s->body_left = s->body == HTTP_BODY_LENGTH ? s->m.content_length : 0;
  s->body_read = 0;
  s->body_err = 0;
  s->acclen = 0;
  if (s->body == HTTP_BODY_CHUNKED)
    http_chunked_init(&s->ch, &s->o->lim);
  return 0;
}

/* ---- options ------------------------------------------------------------ */

static lua_Integer opt_int(lua_State *L, const char *name, lua_Integer def,
                           lua_Integer max) {
  lua_getfield(L, 1, name);
  lua_Integer v = def;
  if (!lua_isnil(L, -1)) {
    int ok;
    v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < 1 || v > max)
      luaL_error(L, "http option '%s' must be an integer from 1 to %I", name,
                 max);
  }
  lua_pop(L, 1);
  return v;
}

static uint32_t opt_ms(lua_State *L, const char *name, double def) {
  lua_getfield(L, 1, name);
  double v = def;
  if (!lua_isnil(L, -1)) {
    if (!lua_isnumber(L, -1) || !(lua_tonumber(L, -1) > 0))
      luaL_error(L, "http option '%s' must be a positive number of seconds",
                 name);
    v = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return conn_timeout_ms(v);
}

/* core.options([t]) -> options userdata: limits and timeouts, checked
 * once per server (a bad one raises: it is the deployment's). */
static int lhttp_options(lua_State *L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  struct hopts *o = lua_newuserdatauv(L, sizeof *o, 0);
  memset(o, 0, sizeof *o);
  o->lim = http_default_limits;
  o->lim.max_line = (uint32_t)opt_int(L, "max_line", 8192, 1 << 20);
  o->lim.max_header = (uint32_t)opt_int(L, "max_header", 8192, 1 << 20);
  o->lim.max_head = (uint32_t)opt_int(L, "max_head", 32768, 1 << 24);
  o->lim.max_headers = (uint32_t)opt_int(L, "max_headers", 100, 10000);
  o->max_body = (uint64_t)opt_int(L, "max_body", 1 << 20, HTTP_MAX_LENGTH);
  o->max_args = (uint32_t)opt_int(L, "max_args", 100, 100000);
  o->ws_max_frame = (uint64_t)opt_int(L, "ws_max_frame", 1 << 20, 1 << 30);
  o->ws_max_msg = (uint64_t)opt_int(L, "ws_max_message", 1 << 20, 1 << 30);
  o->header_ms = opt_ms(L, "header_timeout", 60);
  o->body_ms = opt_ms(L, "body_timeout", 60);
  o->idle_ms = opt_ms(L, "idle_timeout", 75);
  o->send_ms = opt_ms(L, "send_timeout", 60);
  luaL_setmetatable(L, HTTP_OPTS_META);
  return 1;
}

/* ---- the session -------------------------------------------------------- */

/* core.session(conn, options [, client]) -> session */
static int lhttp_session(lua_State *L) {
  struct conn_box *b = luaL_checkudata(L, 1, CONN_META);
  const struct hopts *o = luaL_checkudata(L, 2, HTTP_OPTS_META);
  int client = lua_toboolean(L, 3);
  if (!b->c || conn_closing(b->c))
    return luaL_error(L, "attempt to use a closed connection");
  struct hsess *s = lua_newuserdatauv(L, sizeof *s, 3);
  memset(s, 0, sizeof *s);
  s->box = b;
  list_node_init(&s->idle_node);
  s->o = o;
  s->mod = lua_touserdata(L, UV_MOD);
  s->keep = 1;
  s->body_done = 1;
  s->resp = RESP_DONE;
  s->client = (uint8_t)client;
  if (!client) {
    b->c->timeout = o->send_ms; /* reads arm their own deadlines */
    s->head_due = io_now(b->c->set->loop) + (uint64_t)o->header_ms * 1000000u;
  }
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, 2);
  lua_pushvalue(L, UV_SESSMT);
  lua_setmetatable(L, -2);
  return 1;
}

static int sess_gc(lua_State *L) {
  struct hsess *s = luaL_checkudata(L, 1, HTTP_SESS_META);
  list_remove(&s->idle_node);
  hs_work_release(s);
  return 0;
}

/* ---- the next request ------------------------------------------------ */

enum { K_INPUT, K_FLUSHED };

static int next_k(lua_State *L, int status, lua_KContext ctx);

/* What is left of the head's deadline, in ms (at least 1). */
static uint32_t head_left(struct hsess *s, struct conn *c) {
  uint64_t now = io_now(c->set->loop);
  if (s->head_due <= now)
    return 1;
  uint64_t ms = (s->head_due - now + 999999u) / 1000000u;
  return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* A complete head of n bytes: the request begins. */
static int begin_request(lua_State *L, struct hsess *s, struct conn *c,
                         size_t n) {
  s->parsing = 0;
  if (hs_take_head(s, c, n) != 0) {
    hs_error_response(s, c, 503);
    return hs_fail(L, "no resources");
  }
  s->seq++;
  s->active = 1;
  s->resp = RESP_NONE;
  s->sent100 = 0;
  s->head_req = s->m.method_id == HTTP_HEAD;
  s->keep = (s->m.flags & HTTP_F_KEEP_ALIVE) != 0;
  if (s->body == HTTP_BODY_LENGTH && s->body_left > s->o->max_body) {
    hs_error_response(s, c, 413);
    return hs_fail(L, "too large");
  }
  return hs_push_request(L, s);
}

static int read_head(lua_State *L, struct hsess *s, struct conn *c) {
  const struct hopts *o = s->o;
  if (!s->parsing) {
    if (c->rlen == 0) { /* nothing yet: idle */
      const char *err = hs_input_error(c);
      if (err) {
        s->keep = 0;
        return hs_fail(L, err);
      }
      if (s->mod->w->stopping) { /* a graceful stop: no next request */
        s->keep = 0;
        return hs_fail(L, "closed");
      }
      hs_work_release(s);
      uint32_t ms = s->seq ? o->idle_ms : head_left(s, c);
      list_append(&s->mod->idle, &s->idle_node); /* see stop_idle */
      return hs_wait(L, s, c, 1, ms, K_INPUT, next_k);
    }
    if (!hs_work(s)) {
      hs_error_response(s, c, 503);
      return hs_fail(L, "no resources");
    }
    http_msg_init(&s->m, s->work->fields);
    s->parsing = 1;
    if (s->seq) /* a keep-alive request: its deadline runs from here */
      s->head_due = io_now(c->set->loop) + (uint64_t)o->header_ms * 1000000u;
  }
  int n = http_parse_request(conn_rdata(c), c->rlen, &o->lim, &s->m);
  if (n > 0)
    return begin_request(L, s, c, (size_t)n);
  if (n < 0) {
    s->parsing = 0;
    hs_error_response(s, c, http_status_of(n));
    return hs_fail(L, "bad request");
  }
  const char *err = hs_input_error(c);
  if (err) {
    s->parsing = 0;
    if (strcmp(err, "timeout") == 0)
      hs_error_response(s, c, 408);
    s->keep = 0;
    return hs_fail(L, err);
  }
  return hs_wait(L, s, c, o->lim.max_head, head_left(s, c), K_INPUT, next_k);
}

static int next_step(lua_State *L, struct hsess *s, struct conn *c) {
  if (conn_queued(c) >= CONN_OBUF_HIGH) /* a pipelining peer that does */
    return hs_conn_call(L, 1, "flush", 0, K_FLUSHED, next_k); /* not read */
  if (!s->body_done) {
    int ret, r = hs_discard(L, s, c, &ret, K_INPUT, next_k);
    if (r > 0)
      return ret;
    if (r < 0) {
      s->keep = 0;
      return hs_fail(L, "closed");
    }
  }
  return read_head(L, s, c);
}

static int next_k(lua_State *L, int status, lua_KContext ctx) {
  struct hsess *s = lua_touserdata(L, 1);
  struct conn *c = hs_resumed(L, s);
  list_remove(&s->idle_node);
  (void)status;
  if (ctx == K_FLUSHED) {
    if (lua_isnil(L, -2))
      return 2; /* nil, err */
    lua_settop(L, 1);
  }
  if (!c) {
    s->keep = 0;
    return hs_fail(L, "closed");
  }
  return next_step(L, s, c);
}

/* core.next(session) -> req, res | nil, err: ends the current request
 * (what the handler left undone), then reads the next head.  nil when
 * the connection is to close: the peer closed or went idle too long,
 * or a bad request was answered ("bad request", "too large",
 * "timeout"). */
static int lhttp_next(lua_State *L) {
  struct hsess *s = hs_session(L, 1);
  lua_settop(L, 1);
  struct conn *c = hs_conn(s);
  if (!c)
    return hs_fail(L, "closed");
  if (s->active) { /* its handler returned: the request is over */
    if (s->resp != RESP_DONE)
      hs_end_response(s, c);
    s->active = 0;
    s->seq++; /* its request and response objects are stale now */
  }
  if (!s->keep || s->upgraded || s->mod->w->stopping) {
    s->keep = 0;
    return hs_fail(L, "closed");
  }
  return next_step(L, s, c);
}

/* ---- helpers ------------------------------------------------------------ */

/* core.decode(s [, plus]) / core.encode(s): percent-coding. */
static int lhttp_decode(lua_State *L) {
  size_t n;
  const char *p = luaL_checklstring(L, 1, &n);
  luaL_Buffer b;
  size_t k =
      http_pct_decode(luaL_buffinitsize(L, &b, n), p, n, lua_toboolean(L, 2));
  luaL_pushresultsize(&b, k);
  return 1;
}

static int lhttp_encode(lua_State *L) {
  size_t n;
  const char *p = luaL_checklstring(L, 1, &n);
  luaL_argcheck(L, n <= (1u << 28), 1, "too long");
  luaL_Buffer b;
  size_t k = http_pct_encode(luaL_buffinitsize(L, &b, 3 * n), p, n);
  luaL_pushresultsize(&b, k);
  return 1;
}

/* core.url(url) -> host, port, target, authority, tls, ipv6 | nil */
static int lhttp_url(lua_State *L) {
  size_t n;
  const char *u = luaL_checklstring(L, 1, &n);
  struct http_url p;
  if (http_url_parse(u, n, &p) != 0)
    return 0;
  lua_pushlstring(L, u + p.host.off, p.host.len);
  lua_pushinteger(L, p.port);
  if (p.target.len == 0 || u[p.target.off] == '?') {
    lua_pushliteral(L, "/");
    lua_pushlstring(L, u + p.target.off, p.target.len);
    lua_concat(L, 2);
  } else {
    lua_pushlstring(L, u + p.target.off, p.target.len);
  }
  lua_pushlstring(L, u + p.authority.off, p.authority.len);
  lua_pushboolean(L, p.tls);
  lua_pushboolean(L, p.ipv6);
  return 6;
}

/* core.reusable(session) -> true if the client's connection may carry
 * another request: the response said keep-alive and its body was read
 * to the end, with nothing after it. */
static int lhttp_reusable(lua_State *L) {
  struct hsess *s = hs_session(L, 1);
  struct conn *c = hs_conn(s);
  lua_pushboolean(L, c && s->keep && s->body_done && !s->upgraded &&
                         c->rlen == 0 && !s->body_err);
  return 1;
}

/* ---- the module ------------------------------------------------------------
 */

/* The worker begins a graceful stop (a LMAIN_STOP_HOOKS function):
 * connections waiting idle for a next request are closed now, as nginx
 * does, instead of holding the stop for its grace period; a request in
 * progress finishes, with "Connection: close". */
static int stop_idle(lua_State *L) {
  struct hmod *mod = lua_touserdata(L, lua_upvalueindex(1));
  struct list_node *n = list_first(&mod->idle);
  while (n) {
    struct list_node *next = list_next(&mod->idle, n);
    struct hsess *s = list_entry(n, struct hsess, idle_node);
    list_remove(n);
    struct conn *c = hs_conn(s);
    if (c)
      conn_close(c); /* its task wakes with "closed" and ends */
    n = next;
  }
  return 0;
}

static int mod_gc(lua_State *L) {
  struct hmod *mod = lua_touserdata(L, 1);
  while (mod->nspare > 0)
    work_free(mod->spare[--mod->nspare]);
  mod->w = NULL; /* sessions finalized after this free their blocks */
  return 0;
}

static const char *const method_names[] = {
    "",       "GET",     "HEAD",  "POST",    "PUT",
    "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"};

static const char *const common_names[] = {"host",
                                           "user-agent",
                                           "accept",
                                           "accept-encoding",
                                           "accept-language",
                                           "connection",
                                           "content-length",
                                           "content-type",
                                           "cookie",
                                           "set-cookie",
                                           "authorization",
                                           "cache-control",
                                           "referer",
                                           "origin",
                                           "upgrade",
                                           "transfer-encoding",
                                           "expect",
                                           "if-none-match",
                                           "if-modified-since",
                                           "x-forwarded-for",
                                           "x-real-ip",
                                           "sec-websocket-key",
                                           "sec-websocket-version",
                                           "sec-websocket-protocol",
                                           "pragma",
                                           "range",
                                           "date",
                                           "server",
                                           "location",
                                           "etag"};

static const luaL_Reg funcs[] = {{"options", lhttp_options},
                                 {"session", lhttp_session},
                                 {"next", lhttp_next},
                                 {"headers", lhttp_headers},
                                 {"header", lhttp_header},
                                 {"args", lhttp_args},
                                 {"peer", lhttp_peer},
                                 {"body", lhttp_body},
                                 {"read", lhttp_read},
                                 {"response", lhttp_response},
                                 {"abort", lhttp_abort},
                                 {"upgrade", lhttp_upgrade},
                                 {"decode", lhttp_decode},
                                 {"encode", lhttp_encode},
                                 {"url", lhttp_url},
                                 {"ws_new", lhttp_ws_new},
                                 {"ws_accept", lhttp_ws_accept},
                                 {"ws_key", lhttp_ws_key},
                                 {"reusable", lhttp_reusable},
                                 {"fields", lhttp_fields},
                                 {NULL, NULL}};

/* The metatables: the session's (by name: it is checked rarely), and
 * the response's and the WebSocket's, each with its methods, shared as
 * upvalues. */
static void fill_mt(lua_State *L, int mt, const char *name,
                    const luaL_Reg *methods) {
  lua_pushstring(L, name);
  lua_setfield(L, mt, "__name");
  if (!methods)
    return;
  lua_createtable(L, 0, 8);
  for (int i = 1; i <= NUPVALUES; i++)
    lua_pushvalue(L, i);
  luaL_setfuncs(L, methods, NUPVALUES);
  lua_setfield(L, mt, "__index");
}

static int luaopen_core(lua_State *L) {
  struct worker *w = lua_touserdata(L, lua_upvalueindex(1));
  lua_settop(L, 0);
  /* 1: the module state */
  struct hmod *mod = lua_newuserdatauv(L, sizeof *mod, 0);
  memset(mod, 0, sizeof *mod);
  mod->w = w;
  mod->date_sec = -1;
  list_init(&mod->idle);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, mod_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, 1);
  /* 2: the cache of strings */
  lua_createtable(L, C_NAMES + 32, 0);
  for (int i = 1; i < (int)(sizeof method_names / sizeof *method_names); i++) {
    lua_pushstring(L, method_names[i]);
    lua_rawseti(L, 2, i);
  }
  lua_pushliteral(L, "1.0");
  lua_rawseti(L, 2, C_V10);
  lua_pushliteral(L, "1.1");
  lua_rawseti(L, 2, C_V11);
  for (int i = 0; i < (int)(sizeof common_names / sizeof *common_names); i++) {
    lua_pushstring(L, common_names[i]);
    lua_rawseti(L, 2, C_NAMES + i);
  }
  /* 3..6: the response's, the request's, the WebSocket's and the
   * session's metatables, filled once all six upvalues exist. */
  lua_newtable(L);
  lua_newtable(L);
  lua_newtable(L);
  lua_newtable(L);
  fill_mt(L, 3, HTTP_RES_META, lhttp_res_methods);
  fill_mt(L, 4, "host.http.request", NULL);
  lua_pushvalue(L, 4);
  for (int i = 1; i <= NUPVALUES; i++)
    lua_pushvalue(L, i);
  luaL_setfuncs(L, lhttp_req_meta, NUPVALUES);
  lua_pop(L, 1);
  fill_mt(L, 5, HTTP_WS_META, lhttp_ws_methods);
  fill_mt(L, 6, HTTP_SESS_META, NULL);
  lua_pushcfunction(L, sess_gc);
  lua_setfield(L, 6, "__gc");
  lua_pushvalue(L, 6); /* also by name (luaL_checkudata, error messages) */
  lua_setfield(L, LUA_REGISTRYINDEX, HTTP_SESS_META);
  /* the request's methods, and its field names (compared by address) */
  lua_createtable(L, 0, 4);
  for (int i = 1; i <= NUPVALUES; i++)
    lua_pushvalue(L, i);
  luaL_setfuncs(L, lhttp_req_methods, NUPVALUES);
  lua_rawseti(L, 2, C_REQMETHODS);
  lua_createtable(L, 0, 2);
  lua_pushliteral(L, "host.http.fields");
  lua_setfield(L, -2, "__name");
  lua_rawseti(L, 2, C_FIELDSMT);
  const char **keys[] = {&mod->k_method, &mod->k_target,  &mod->k_path,
                         &mod->k_query,  &mod->k_version, &mod->k_headers,
                         &mod->k_peer};
  const char *names[] = {"method",  "target",  "path", "query",
                         "version", "headers", "peer"};
  for (int i = 0; i < 7; i++) {
    *keys[i] = lua_pushstring(L, names[i]);
    lua_rawseti(L, 2, C_KEYS + i);
  }
  /* the module table */
  luaL_newlibtable(L, funcs);
  for (int i = 1; i <= NUPVALUES; i++)
    lua_pushvalue(L, i);
  luaL_setfuncs(L, funcs, NUPVALUES);
  lua_pushvalue(L, 3);
  lua_setfield(L, -2, "Response");
  lua_pushvalue(L, 5);
  lua_setfield(L, -2, "WebSocket");
  lua_pushvalue(L, 1); /* anchored by the module table too */
  lua_setfield(L, -2, "_state");
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "_names");
  /* closing idle connections when the worker stops */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LMAIN_STOP_HOOKS);
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, stop_idle, 1);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  lua_pop(L, 1);
  /* the options' metatable, by name */
  luaL_newmetatable(L, HTTP_OPTS_META);
  lua_pop(L, 1);
  return 1;
}

void lhttp_open(lua_State *L, struct worker *w) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushlightuserdata(L, w);
  lua_pushcclosure(L, luaopen_core, 1);
  lua_setfield(L, -2, "host.http.core");
  lua_pop(L, 1);
}
