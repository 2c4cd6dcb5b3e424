/*
 * lhttp_resp.c -- responses: what a handler sends (res:send, res:start,
 * res:write, res:finish, res:flush), what the module sends for it (an
 * error status, the end of what a handler left open, a 101 for an
 * upgrade), and, for the client, reading a response head.
 *
 * A response head is assembled in a buffer on the C stack, status line,
 * the handler's fields, Date (cached per second), the framing fields and
 * Connection, and copied into the connection's output queue with the
 * body when that is small: one conn_write, and the worker sends the
 * queue in one system call before it waits (one per batch of pipelined
 * responses).  A body larger than the queue's high water goes by
 * conn:send, without a copy (the conn's own method is called, with a
 * continuation, so its waiting and its timeout are the same).
 *
 * The module owns the framing: Content-Length (send, or a length given
 * to start), chunked coding (start without a length, HTTP/1.1), or the
 * close (HTTP/1.0); nothing follows the head of a reply to HEAD or of a
 * 1xx, 204 or 304.  It owns Connection too: keep-alive unless the
 * request or the handler said close, the host is stopping, the body
 * could not be read, or a client that expects "100 Continue" has not
 * had it and its body was not read.  A field name or value that could
 * split the response (not a token; a CR, LF or other control) raises.
 */
#include "conn.h"
#include "http_text.h"
#include "lconn_internal.h"
#include "lhttp_internal.h"
#include "worker.h"

#include <lauxlib.h>
#include <string.h>
#include <time.h>

/* ---- the output buffer ----------------------------------------------------
 */

struct out {
  struct conn *c; /* where it goes: the conn's queue, */
  luaL_Buffer *b; /* or, with c NULL, a Lua buffer (http.headers) */
  size_t n;       /* bytes in buf */
  int err;        /* a conn_write failed (no memory) */
  int spilled;    /* part of it went to the conn already */
  char buf[2048]; /* the head, and a small body */
};

static void out_init(struct out *o, struct conn *c) {
  o->c = c;
  o->b = NULL;
  o->n = 0;
  o->err = o->spilled = 0;
}

static void out_put(struct out *o, const char *p, size_t n) {
  if (!o->c)
    luaL_addlstring(o->b, p, n);
  else if (n && !o->err && conn_write(o->c, p, n) != 0)
    o->err = 1;
}

static void out_flush(struct out *o) {
  out_put(o, o->buf, o->n);
  o->n = 0;
}

static void out_slow(struct out *o, const char *p, size_t n) {
  out_flush(o);
  o->spilled = 1;
  if (n > sizeof o->buf) {
    out_put(o, p, n);
    return;
  }
  memcpy(o->buf, p, n);
  o->n = n;
}

static inline void out_add(struct out *o, const char *p, size_t n) {
  if (o->n + n <= sizeof o->buf) {
    memcpy(o->buf + o->n, p, n);
    o->n += n;
    return;
  }
  out_slow(o, p, n);
}

static void out_str(struct out *o, const char *s) { out_add(o, s, strlen(s)); }

/* v in base 10 or 16 at the end of tmp[24]; returns where it starts. */
static char *digits(char tmp[24], uint64_t v, unsigned base) {
  char *p = tmp + 24;
  do {
    *--p = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  return p;
}

static void out_num(struct out *o, uint64_t v) {
  char tmp[24], *p = digits(tmp, v, 10);
  out_add(o, p, (size_t)(tmp + 24 - p));
}

static void date_line(struct hmod *mod, struct out *o) {
  time_t now = time(NULL);
  if ((int64_t)now != mod->date_sec) {
    mod->date_sec = (int64_t)now;
    memcpy(mod->date, "Date: ", 6);
    http_date(mod->date + 6, (int64_t)now);
    memcpy(mod->date + 6 + HTTP_DATE_LEN, "\r\n", 2);
    mod->datelen = 6 + HTTP_DATE_LEN + 2;
  }
  out_add(o, mod->date, mod->datelen);
}

static void status_line(struct out *o, int status) {
  if (status == 200) {
    out_add(o, "HTTP/1.1 200 OK\r\n", 17);
    return;
  }
  char line[16] = "HTTP/1.1 000 ";
  line[9] = (char)('0' + status / 100);
  line[10] = (char)('0' + status / 10 % 10);
  line[11] = (char)('0' + status % 10);
  out_add(o, line, 13);
  out_str(o, http_reason(status));
  out_add(o, "\r\n", 2);
}

/* ---- the head ------------------------------------------------------------ */

/* What the handler's fields said that the module must know. */
struct given {
  int date;       /* a Date field was given */
  int close;      /* Connection: close */
  int64_t length; /* Content-Length given (start), else -1 */
};

/* Raises for a field that could split the response; the response is
 * broken if part of it went out already. */
static void bad_field(lua_State *L, struct out *o, const char *what,
                      const char *name) {
  if (o->spilled && o->c)
    conn_close(o->c);
  luaL_error(L, "invalid header %s '%s'", what, name);
}

static void one_field(lua_State *L, struct out *o, const char *name,
                      size_t nlen, int vidx) {
  size_t vlen;
  const char *v = lua_tolstring(L, vidx, &vlen);
  if (!v)
    luaL_error(L, "header '%s': a string or number expected, got %s", name,
               luaL_typename(L, vidx));
  if (!http_is_value(v, vlen))
    bad_field(L, o, "value for", name);
  out_add(o, name, nlen);
  out_add(o, ": ", 2);
  out_add(o, v, vlen);
  out_add(o, "\r\n", 2);
}

/* The handler's fields from the table at hidx (name = value, or name =
 * {values...}); framing fields are the module's: Content-Length is
 * taken as the length when `length_ok`, Transfer-Encoding dropped. */
static void user_fields(lua_State *L, struct out *o, int hidx, struct given *g,
                        int length_ok) {
  lua_pushnil(L);
  while (lua_next(L, hidx)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "header names must be strings");
    size_t nlen;
    const char *name = lua_tolstring(L, -2, &nlen);
    if (!http_is_token(name, nlen))
      bad_field(L, o, "name", name);
    if (nlen == 14 && http_ieq(name, nlen, "content-length")) {
      if (length_ok) {
        lua_Integer n;
        int isnum;
        n = lua_tointegerx(L, -1, &isnum);
        if (!isnum || n < 0)
          luaL_error(L, "header 'Content-Length': a length expected");
        g->length = n;
      }
    } else if (nlen == 17 && http_ieq(name, nlen, "transfer-encoding")) {
      /* ours to decide */
    } else if (nlen == 10 && http_ieq(name, nlen, "connection")) {
      size_t vlen;
      const char *v = lua_tolstring(L, -1, &vlen);
      if (v && http_ieq(v, vlen, "close"))
        g->close = 1;
    } else if (lua_type(L, -1) == LUA_TTABLE) {
      lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
      for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        one_field(L, o, name, nlen, lua_gettop(L));
        lua_pop(L, 1);
      }
    } else {
      if (nlen == 4 && http_ieq(name, nlen, "date"))
        g->date = 1;
      lua_pushvalue(L, -1); /* tolstring converts a number in place */
      one_field(L, o, name, nlen, lua_gettop(L));
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
}

/* A block of fields made once by http.headers (core.fields): written as
 * it is, what it says of the framing remembered. */
struct hfields {
  int64_t length; /* a Content-Length it gave, else -1 */
  uint8_t date;   /* it has a Date */
  uint8_t close;  /* it says Connection: close */
  uint32_t len;   /* bytes */
  char bytes[];   /* "Name: value\r\n"... */
};

/* The fields argument at hidx: a table, or a block (checked). */
static void fields_at(lua_State *L, struct out *o, int hidx, struct given *g,
                      int length_ok) {
  if (lua_type(L, hidx) != LUA_TUSERDATA) {
    luaL_checktype(L, hidx, LUA_TTABLE);
    user_fields(L, o, hidx, g, length_ok);
    return;
  }
  struct hfields *f = lua_touserdata(L, hidx);
  lua_rawgeti(L, UV_CACHE, C_FIELDSMT);
  if (!lua_getmetatable(L, hidx) || !lua_rawequal(L, -1, -2))
    luaL_typeerror(L, hidx, "table of header fields");
  lua_pop(L, 2);
  out_add(o, f->bytes, f->len);
  g->date |= f->date;
  g->close |= f->close;
  if (length_ok && f->length >= 0)
    g->length = f->length;
}

/* core.fields(t) -> a block of fields, checked and assembled once, for
 * handlers that send the same fields with every response. */
int lhttp_fields(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  luaL_Buffer b;
  struct out o;
  struct given g = {0, 0, -1};
  luaL_buffinit(L, &b); /* 2 */
  out_init(&o, NULL);
  o.b = &b;
  user_fields(L, &o, 1, &g, 1);
  out_flush(&o);
  luaL_pushresult(&b);
  size_t n;
  const char *p = lua_tolstring(L, -1, &n);
  struct hfields *f = lua_newuserdatauv(L, sizeof *f + n, 0);
  f->length = g.length;
  f->date = (uint8_t)g.date;
  f->close = (uint8_t)g.close;
  f->len = (uint32_t)n;
  memcpy(f->bytes, p, n);
  lua_rawgeti(L, UV_CACHE, C_FIELDSMT);
  lua_setmetatable(L, -2);
  return 1;
}

static int no_body_status(int status) {
  return status < 200 || status == 204 || status == 304;
}

/* Decides whether the connection stays open after this response. */
static int must_close(const struct hsess *s, const struct given *g) {
  return !s->keep || g->close || s->mod->w->stopping || s->body_err ||
         ((s->m.flags & HTTP_F_EXPECT_CONTINUE) && !s->sent100 &&
          !s->body_done);
}

/* Writes the head into o: status line, the fields at hidx (0: none),
 * Date, framing for `length` body bytes (-1: streaming; the mode is
 * returned), Connection.  Sets s->keep. */
static int write_head(lua_State *L, struct hsess *s, struct out *o, int status,
                      int hidx, int64_t length) {
  struct given g = {0, 0, -1};
  status_line(o, status);
  if (hidx)
    fields_at(L, o, hidx, &g, length < 0);
  if (!g.date)
    date_line(s->mod, o);
  int mode = RESP_LENGTH;
  if (length < 0)
    length = g.length;
  if (no_body_status(status)) {
    length = 0;
  } else if (length >= 0) {
    out_add(o, "Content-Length: ", 16);
    out_num(o, (uint64_t)length);
    out_add(o, "\r\n", 2);
  } else if (s->m.minor >= 1) {
    mode = RESP_CHUNKED;
    out_str(o, "Transfer-Encoding: chunked\r\n");
  } else {
    mode = RESP_CLOSE;
  }
  int close = must_close(s, &g) || (mode == RESP_CLOSE && !s->head_req);
  s->keep = (uint8_t)!close;
  if (close)
    out_str(o, "Connection: close\r\n");
  else if (s->m.minor == 0)
    out_str(o, "Connection: keep-alive\r\n");
  out_add(o, "\r\n", 2);
  s->resp_left = length > 0 ? (uint64_t)length : 0;
  return mode;
}

/* ---- what the module sends ------------------------------------------------
 */

void hs_error_response(struct hsess *s, struct conn *c, int status) {
  struct out o;
  out_init(&o, c);
  const char *text = http_reason(status);
  status_line(&o, status);
  date_line(s->mod, &o);
  out_str(&o, "Content-Type: text/plain\r\nContent-Length: ");
  out_num(&o, strlen(text) + 1);
  out_str(&o, "\r\nConnection: close\r\n\r\n");
  out_str(&o, text);
  out_add(&o, "\n", 1);
  out_flush(&o);
  s->keep = 0;
  s->resp = RESP_DONE;
}

void hs_end_response(struct hsess *s, struct conn *c) {
  if (s->resp == RESP_NONE && s->body_err) { /* the body's failure */
    hs_error_response(s, c, s->body_err);
  } else if (s->resp == RESP_NONE) { /* nothing sent: an empty 200 */
    struct out o;
    out_init(&o, c);
    write_head(NULL, s, &o, 200, 0, 0);
    out_flush(&o);
  } else if (s->resp == RESP_CHUNKED && !s->head_req) {
    conn_write(c, "0\r\n\r\n", 5);
  } else if ((s->resp == RESP_LENGTH && s->resp_left) ||
             s->resp == RESP_CLOSE) {
    s->keep = 0; /* only the close can end what was sent */
  }
  s->resp = RESP_DONE;
}

/* core.abort(session): the handler raised.  A 500 if nothing was sent;
 * else the connection closes (the client sees a cut response). */
int lhttp_abort(lua_State *L) {
  struct hsess *s = hs_session(L, 1);
  struct conn *c = hs_conn(s);
  if (c && s->seq && s->resp == RESP_NONE && !s->upgraded)
    hs_error_response(s, c, 500);
  s->keep = 0;
  s->resp = RESP_DONE;
  return 0;
}

/* ---- what a handler sends ------------------------------------------------ */

/* The response at 1, for a method that writes: its session and conn
 * (NULL when the peer is gone).  Pushes the session's userdata. */
static struct hsess *begin(lua_State *L, struct conn **c) {
  struct hsess *s = hs_check(L, 1);
  *c = hs_conn(s);
  return s;
}

static int results_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L, (void)status, (void)ctx;
  return 2; /* what conn:send / write / flush returned */
}

static int closed(lua_State *L) { return hs_fail(L, "closed"); }

static int ok(lua_State *L) {
  lua_pushboolean(L, 1);
  return 1;
}

/* Queues prefix, the string at didx (its first n bytes: all of it, or
 * none) and suffix; past the queue's high water they go to the conn's
 * write, which takes the string itself (no copy) and waits as long as it
 * must.  true | nil, err. */
static int put(lua_State *L, struct conn *c, int sidx, const char *prefix,
               int didx, size_t n, const char *suffix) {
  size_t plen = strlen(prefix), slen = strlen(suffix);
  if (conn_queued(c) + plen + n + slen <= CONN_OBUF_HIGH) {
    if (conn_write(c, prefix, plen) != 0 ||
        (n && conn_write(c, lua_tostring(L, didx), n) != 0) ||
        conn_write(c, suffix, slen) != 0)
      return hs_fail(L, "no resources");
    return ok(L);
  }
  lua_pushstring(L, prefix);
  lua_pushvalue(L, didx);
  lua_pushstring(L, suffix);
  return hs_conn_call(L, sidx, "write", 3, 0, results_k);
}

/* res:send(status [, body [, headers]]) -> true | nil, err */
static int res_send(lua_State *L) {
  lua_settop(L, 4);
  struct conn *c;
  struct hsess *s = begin(L, &c); /* session userdata: 5 */
  lua_Integer status = luaL_checkinteger(L, 2);
  size_t blen = 0;
  const char *body = luaL_optlstring(L, 3, "", &blen);
  luaL_argcheck(L, status >= 200 && status <= 999, 2, "status out of range");
  if (s->resp != RESP_NONE)
    return luaL_error(L, "the response was already sent");
  if (!c) {
    s->resp = RESP_DONE;
    return closed(L);
  }
  struct out o;
  out_init(&o, c);
  write_head(L, s, &o, (int)status, lua_isnil(L, 4) ? 0 : 4, (int64_t)blen);
  s->resp = RESP_DONE; /* once the fields are known to be good */
  if (s->head_req || no_body_status((int)status))
    blen = 0;
  if (blen <= sizeof o.buf - o.n) { /* the common case: one copy */
    out_add(&o, body, blen);
    blen = 0;
  }
  out_flush(&o);
  if (o.err)
    return hs_fail(L, "no resources");
  if (blen == 0)
    return ok(L);
  if (conn_queued(c) + blen <= CONN_OBUF_HIGH) {
    if (conn_write(c, body, blen) != 0)
      return hs_fail(L, "no resources");
    return ok(L);
  }
  lua_pushvalue(L, 3); /* a large body: sent from the string itself */
  return hs_conn_call(L, 5, "send", 1, 0, results_k);
}

/* res:start(status [, headers]): the head now, the body in pieces. */
static int res_start(lua_State *L) {
  lua_settop(L, 3);
  struct conn *c;
  struct hsess *s = begin(L, &c); /* 4 */
  lua_Integer status = luaL_checkinteger(L, 2);
  luaL_argcheck(L, status >= 200 && status <= 999, 2, "status out of range");
  if (s->resp != RESP_NONE)
    return luaL_error(L, "the response was already started");
  if (!c) {
    s->resp = RESP_DONE;
    return closed(L);
  }
  struct out o;
  out_init(&o, c);
  s->resp =
      (uint8_t)write_head(L, s, &o, (int)status, lua_isnil(L, 3) ? 0 : 3, -1);
  if (no_body_status((int)status))
    s->head_req = 1; /* nothing may follow: writes are dropped */
  out_flush(&o);
  if (o.err)
    return hs_fail(L, "no resources");
  return ok(L);
}

/* Writes the string at didx (n bytes, all of it or none) as a piece of
 * a started body, in the response's framing; `last` ends the body. */
static int write_piece(lua_State *L, struct hsess *s, struct conn *c, int sidx,
                       int didx, size_t n, int last) {
  char line[32] = "", tmp[24];
  const char *suffix = "";
  if (s->head_req)
    n = 0;
  if (s->resp == RESP_LENGTH && n > s->resp_left)
    return luaL_error(L, "more body than its Content-Length");
  if (s->resp == RESP_CHUNKED && !s->head_req) {
    if (n) {
      char *h = digits(tmp, n, 16);
      size_t k = (size_t)(tmp + 24 - h);
      memcpy(line, h, k);
      memcpy(line + k, "\r\n", 3);
    }
    suffix = n && last ? "\r\n0\r\n\r\n" : last ? "0\r\n\r\n" : n ? "\r\n" : "";
  }
  if (s->resp == RESP_LENGTH)
    s->resp_left -= n;
  if (last) {
    if ((s->resp == RESP_LENGTH && s->resp_left) || s->resp == RESP_CLOSE)
      s->keep = 0;
    s->resp = RESP_DONE;
  }
  if (n == 0 && !*line && !*suffix)
    return ok(L);
  return put(L, c, sidx, line, didx, n, suffix);
}

static int check_started(lua_State *L, struct hsess *s) {
  if (s->resp == RESP_NONE)
    return luaL_error(L, "the response was not started (res:start)");
  if (s->resp == RESP_DONE)
    return luaL_error(L, "the response is complete");
  return 0;
}

/* res:write(chunk) -> true | nil, err */
static int res_write(lua_State *L) {
  lua_settop(L, 2);
  struct conn *c;
  struct hsess *s = begin(L, &c); /* 3 */
  size_t n;
  const char *p = luaL_checklstring(L, 2, &n);
  (void)p;
  check_started(L, s);
  if (!c)
    return closed(L);
  return write_piece(L, s, c, 3, 2, n, 0);
}

/* res:finish([chunk]) -> true | nil, err: the last piece, and the end. */
static int res_finish(lua_State *L) {
  lua_settop(L, 2);
  struct conn *c;
  struct hsess *s = begin(L, &c); /* 3 */
  size_t n = 0;
  const char *p = luaL_optlstring(L, 2, "", &n);
  (void)p;
  check_started(L, s);
  if (!c) {
    s->resp = RESP_DONE;
    return closed(L);
  }
  if (lua_isnil(L, 2)) {
    lua_pushliteral(L, "");
    lua_replace(L, 2);
  }
  return write_piece(L, s, c, 3, 2, n, 1);
}

/* res:flush() -> true | nil, err: waits until what was written is out. */
static int res_flush(lua_State *L) {
  lua_settop(L, 1);
  struct conn *c;
  begin(L, &c); /* 2 */
  if (!c)
    return closed(L);
  return hs_conn_call(L, 2, "flush", 0, 0, results_k);
}

/* core.upgrade(res, headers): "101 Switching Protocols" with the fields
 * given and "Connection: Upgrade"; the connection is the upgraded
 * protocol's from here on. */
int lhttp_upgrade(lua_State *L) {
  lua_settop(L, 2);
  struct conn *c;
  struct hsess *s = begin(L, &c); /* 3 */
  luaL_checktype(L, 2, LUA_TTABLE);
  if (s->resp != RESP_NONE)
    return luaL_error(L, "the response was already sent");
  if (!c) {
    s->resp = RESP_DONE;
    return closed(L);
  }
  struct out o;
  struct given g = {0, 0, -1};
  out_init(&o, c);
  status_line(&o, 101);
  user_fields(L, &o, 2, &g, 0);
  s->resp = RESP_DONE;
  s->upgraded = 1;
  s->keep = 0;
  out_str(&o, "Connection: Upgrade\r\n\r\n");
  out_flush(&o);
  if (o.err)
    return hs_fail(L, "no resources");
  return ok(L);
}

const luaL_Reg lhttp_res_methods[] = {
    {"send", res_send},     {"start", res_start}, {"write", res_write},
    {"finish", res_finish}, {"flush", res_flush}, {NULL, NULL}};

/* ---- the client's response head ---------------------------------------- */

static int response_k(lua_State *L, int status, lua_KContext ctx);

static int response_step(lua_State *L, struct hsess *s, struct conn *c) {
  unsigned flags = lua_toboolean(L, 2) ? HTTP_RESP_TO_HEAD : 0;
  for (;;) {
    if (!s->parsing) {
      if (!hs_work(s))
        return hs_fail(L, "no resources");
      http_msg_init(&s->m, s->work->fields);
      s->parsing = 1;
    }
    int n =
        http_parse_response(conn_rdata(c), c->rlen, &s->o->lim, flags, &s->m);
    if (n < 0) {
      s->keep = 0;
      s->parsing = 0;
      lua_pushnil(L);
      lua_pushliteral(L, "bad response");
      lua_pushstring(L, http_strerror(n));
      return 3;
    }
    if (n > 0 && s->m.status >= 100 && s->m.status < 200 &&
        s->m.status != 101) {
      conn_rbuf_consume(c, (size_t)n); /* 100 Continue, 103: not ours */
      s->parsing = 0;
      continue;
    }
    if (n > 0) {
      s->parsing = 0;
      if (hs_take_head(s, c, (size_t)n) != 0)
        return hs_fail(L, "no resources");
      s->keep = (s->m.flags & HTTP_F_KEEP_ALIVE) != 0;
      s->seq++;
      lua_pushinteger(L, s->m.status);
      hs_push_headers(L, s);
      hs_work_release(s); /* the table holds what is needed now */
      return 2;
    }
    break;
  }
  const char *err = hs_input_error(c);
  if (err) {
    s->keep = 0;
    s->parsing = 0;
    return hs_fail(L, err);
  }
  return hs_wait(L, s, c, s->o->lim.max_head, c->timeout, 0, response_k);
}

static int response_k(lua_State *L, int status, lua_KContext ctx) {
  struct hsess *s = lua_touserdata(L, 1);
  struct conn *c = hs_resumed(L, s);
  (void)status, (void)ctx;
  if (!c)
    return hs_fail(L, "closed");
  return response_step(L, s, c);
}

/* core.response(session, to_head) -> status, headers | nil, err: the
 * next response head on a client session (1xx but 101 skipped); its
 * body is read with core.body / core.read. */
int lhttp_response(lua_State *L) {
  struct hsess *s = hs_session(L, 1);
  lua_settop(L, 2);
  struct conn *c = hs_conn(s);
  if (!c)
    return hs_fail(L, "closed");
  s->client = 1;
  return response_step(L, s, c);
}
