/*
 * lresp.c -- `require "host.resp"`: the Redis protocol (src/proto/resp.h)
 * on a host connection, the C half of `require "host.redis"`
 * (scripts/lib/host/redis.lua has the rest: connect, call, pipeline,
 * pub/sub, the pool).
 *
 *   resp.state()                  a parser for one connection
 *   resp.write(conn, arg, ...)    one command, encoded into conn's output
 *                                 queue; returns the bytes queued
 *   resp.read(conn, st [, push])  one reply: its value; nil, msg, "redis"
 *                                 for an error reply; nil, err for the
 *                                 connection's failure ("closed",
 *                                 "timeout"...) or nil, "protocol", why
 *   resp.read_many(conn, st, n, t)  n replies into t[1..n] (error replies
 *                                 as error values); t, or nil, err, count
 *   resp.null, resp.error         the null value; the error values'
 *                                 metatable
 *
 * Nothing is copied twice and nothing is allocated per reply but the Lua
 * values: commands are encoded straight into the connection's queue
 * (conn_write_space), which the worker sends before it waits; replies are
 * parsed where they arrived, in the connection's read buffer, into a
 * token array that each connection's state keeps and reuses, and the Lua
 * values are built from the tokens before the bytes are consumed.  A
 * reply that arrives in pieces is parsed on where it stopped (the parser
 * is resumable), so a read that times out loses nothing: a later read
 * finishes the same reply.
 *
 * Values: strings (simple, bulk, verbatim, big numbers), integers,
 * doubles, booleans, resp.null for every null, tables for arrays, sets
 * and pushes (sequences) and maps (keys to values), error values
 * (`{err = "ERR ..."}` with resp.error as metatable) inside aggregates
 * and in read_many.  Attributes are dropped.  A push (RESP3) is a reply
 * only to read(..., true); elsewhere it is skipped, as it answers no
 * command.
 */
#include "conn.h"
#include "fault.h"
#include "lconn.h"
#include "lconn_internal.h"
#include "lhost.h"
#include "lresp.h"
#include "ltask.h"
#include "resp.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define STATE_META "host.resp_state"
#define TOK_FIRST 64       /* tokens a state starts with */
#define TOK_MAX (1u << 22) /* tokens of one reply, at most (96 MiB) */
#define UP_ERROR_MT lua_upvalueindex(2)
#define N_DONE 5 /* read_many: the stack slot counting replies read */

struct resp_state {
  const void *tag; /* &state_tag: what tostate recognises */
  struct resp_parser p;
  struct resp_token *tok; /* owned; grown on RESP_EFULL, kept */
  size_t cap;
};

static const char state_tag;

/* Told by size and tag, as lconn_check tells a conn: a read per command
 * need not push and compare the metatable. */
static struct resp_state *tostate(lua_State *L, int idx) {
  struct resp_state *s = lua_touserdata(L, idx);
  if (!s || lua_rawlen(L, idx) != sizeof *s || s->tag != &state_tag)
    luaL_typeerror(L, idx, STATE_META);
  return s;
}

static int state_gc(lua_State *L) {
  struct resp_state *s = tostate(L, 1);
  free(s->tok);
  s->tok = NULL;
  s->cap = 0;
  return 0;
}

/* resp.state() */
static int lresp_state(lua_State *L) {
  struct resp_state *s = lua_newuserdatauv(L, sizeof *s, 0);
  s->tag = &state_tag;
  s->tok = NULL;
  s->cap = 0;
  luaL_setmetatable(L, STATE_META);
  if (!fault_fail(FAULT_C, "resp tokens"))
    s->tok = malloc(TOK_FIRST * sizeof *s->tok);
  if (!s->tok)
    return luaL_error(L, "not enough memory");
  s->cap = TOK_FIRST;
  resp_parser_init(&s->p, NULL, 0, s->tok, s->cap);
  return 1;
}

/* ---- commands -------------------------------------------------------- */

/* resp.write(conn, arg, ...) -> bytes queued on conn */
static int lresp_write(lua_State *L) {
  struct conn *c = lconn_check(L, 1);
  int top = lua_gettop(L);
  luaL_argcheck(L, top >= 2, 2, "a command");
  size_t size = resp_header_size((size_t)(top - 1));
  for (int i = 2; i <= top; i++) {
    if (lua_isinteger(L, i)) {
      size += resp_int_arg_size(lua_tointeger(L, i));
    } else {
      size_t len;
      if (!lua_isstring(L, i))
        return luaL_typeerror(L, i, "string or number");
      lua_tolstring(L, i, &len); /* a float becomes a string in place */
      size += resp_arg_size(len);
    }
  }
  if (c->werr)
    return lconn_fail_code(L, c, c->werr);
  if (c->flags & CONN_SHUTDOWN)
    return lconn_fail(L, c, "closed");
  char *out = conn_write_space(c, size), *p = out;
  if (!out)
    return lconn_fail(L, c, "no resources");
  p = resp_put_header(p, (size_t)(top - 1));
  for (int i = 2; i <= top; i++) {
    if (lua_isinteger(L, i)) {
      p = resp_put_int_arg(p, lua_tointeger(L, i));
    } else {
      size_t len;
      const char *s = lua_tolstring(L, i, &len);
      p = resp_put_arg(p, s, len);
    }
  }
  conn_write_commit(c, (size_t)(p - out));
  lua_pushinteger(L, (lua_Integer)conn_queued(c));
  return 1;
}

/* ---- values ----------------------------------------------------------- */

static size_t push_value(lua_State *L, const char *buf,
                         const struct resp_token *t, size_t i);

static void push_error(lua_State *L, const char *s, size_t len) {
  lua_createtable(L, 0, 1);
  lua_pushlstring(L, s, len);
  lua_setfield(L, -2, "err");
  lua_pushvalue(L, UP_ERROR_MT);
  lua_setmetatable(L, -2);
}

/* A streamed string: its chunks, joined. */
static size_t push_chunks(lua_State *L, const char *buf,
                          const struct resp_token *t, size_t i) {
  luaL_Buffer b;
  size_t end = t[i].v.end;
  luaL_buffinit(L, &b);
  for (size_t j = i + 1; j < end; j++)
    luaL_addlstring(&b, buf + t[j].v.off, t[j].len);
  luaL_pushresult(&b);
  return end;
}

static size_t push_aggregate(lua_State *L, const char *buf,
                             const struct resp_token *t, size_t i) {
  const struct resp_token *k = &t[i];
  size_t j = i + 1;
  luaL_checkstack(L, 4, "reply nested too deeply");
  if (k->type == RESP_MAP) {
    lua_createtable(L, 0, (int)(k->len / 2));
    for (uint32_t n = 0; n < k->len / 2; n++) {
      j = push_value(L, buf, t, j);
      j = push_value(L, buf, t, j);
      if (lua_isnil(L, -2) || (lua_type(L, -2) == LUA_TNUMBER &&
                               lua_tonumber(L, -2) != lua_tonumber(L, -2)))
        lua_pop(L, 2); /* a NaN key cannot be one */
      else
        lua_rawset(L, -3);
    }
    return k->v.end;
  }
  lua_createtable(L, (int)(k->len < 1024 ? k->len : 1024), 0);
  for (uint32_t n = 0; n < k->len; n++) {
    j = push_value(L, buf, t, j);
    lua_rawseti(L, -2, (lua_Integer)n + 1);
  }
  return k->v.end;
}

/* Pushes the value of token i; returns the index after its subtree. */
static size_t push_value(lua_State *L, const char *buf,
                         const struct resp_token *t, size_t i) {
  const struct resp_token *k = &t[i];
  switch (k->type) {
  case RESP_BULK:
    if (k->flags & RESP_TF_STREAMED)
      return push_chunks(L, buf, t, i);
    /* fall through */
  case RESP_SIMPLE:
  case RESP_VERBATIM:
  case RESP_BIGNUM: lua_pushlstring(L, buf + k->v.off, k->len); break;
  case RESP_ERROR:
  case RESP_BLOB_ERROR: push_error(L, buf + k->v.off, k->len); break;
  case RESP_INT: lua_pushinteger(L, (lua_Integer)k->v.i); break;
  case RESP_DOUBLE: lua_pushnumber(L, k->v.d); break;
  case RESP_BOOL: lua_pushboolean(L, k->v.i != 0); break;
  case RESP_ARRAY:
  case RESP_SET:
  case RESP_PUSH:
  case RESP_MAP: return push_aggregate(L, buf, t, i);
  case RESP_ATTR: return k->v.end;                /* not kept: never here */
  default: lua_pushlightuserdata(L, NULL); break; /* RESP_NULL */
  }
  return i + 1;
}

/* ---- replies ------------------------------------------------------------ */

/* One reply from the buffer: RESP_OK (*used bytes), RESP_NEED, or an
 * error status. */
static int parse(struct conn *c, struct resp_state *s, size_t *used) {
  if (c->rlen == 0)
    return RESP_NEED; /* the parser has nothing half done either */
  for (;;) {
    int st = resp_parse(&s->p, conn_rdata(c), c->rlen, used);
    if (st != RESP_EFULL)
      return st;
    if (s->cap >= TOK_MAX)
      return RESP_ECOUNT;
    size_t cap = s->cap * 2;
    struct resp_token *tok = fault_fail(FAULT_C, "resp tokens")
                                 ? NULL
                                 : realloc(s->tok, cap * sizeof *tok);
    if (!tok)
      return RESP_EFULL; /* the caller says "no resources" */
    s->tok = tok;
    s->cap = cap;
    resp_parser_set_tokens(&s->p, tok, cap);
  }
}

/* The connection cannot give a reply: nil, err [, detail]. */
static int broken(lua_State *L, struct conn *c, int st) {
  if (st == RESP_EFULL)
    return lconn_fail(L, c, "no resources");
  if (st < 0) {
    lconn_fail(L, c, "protocol");
    lua_pushstring(L, resp_strerror(st));
    return 3;
  }
  if (!c || conn_closing(c))
    return lconn_fail(L, c, "closed");
  if (c->flags & CONN_RTIMEDOUT) {
    c->flags &= ~CONN_RTIMEDOUT;
    return lconn_fail(L, c, "timeout");
  }
  if (c->flags & CONN_EOF)
    return lconn_fail(L, c, "closed");
  return lconn_fail_code(L, c, c->rerr);
}

/* Nothing buffered completes a reply: can more come? */
static int can_wait(const struct conn *c) {
  return !conn_closing(c) && !(c->flags & (CONN_RTIMEDOUT | CONN_EOF)) &&
         !c->rerr;
}

static int wait_more(lua_State *L, struct conn *c, lua_KContext ctx,
                     lua_KFunction k) {
  struct task *t = task_of(L);
  int err = conn_wait_input(c, (size_t)c->rlen + 1);
  if (err)
    return lconn_fail_code(L, c, err);
  c->reader = t;
  return task_yield(L, t, TASK_RECV, ctx, k);
}

/* The chunk the loop resumed us with goes to the buffer: replies are
 * parsed there. */
static struct conn *resumed(lua_State *L) {
  struct conn *c = ((struct conn_box *)lua_touserdata(L, 1))->c;
  if (c && c->hot) {
    if (c->hotlen && conn_rbuf_append(c, c->hot, c->hotlen) != 0)
      c->rerr = IO_ENOMEM;
    conn_hot_take(c, c->hotlen);
  }
  return c;
}

static int read_k(lua_State *L, int status, lua_KContext ctx);

static int read_one(lua_State *L) {
  struct conn *c = resumed(L);
  struct resp_state *s = lua_touserdata(L, 2);
  int want_push = lua_toboolean(L, 3);
  size_t used;
  for (;;) {
    int st = c && !conn_closing(c) ? parse(c, s, &used) : RESP_NEED;
    if (st == RESP_NEED && c && can_wait(c))
      return wait_more(L, c, 0, read_k);
    if (st != RESP_OK)
      return broken(L, c, st);
    const struct resp_token *t = s->tok;
    if (t[0].type == RESP_PUSH && !want_push) {
      conn_rbuf_consume(c, used); /* it answers no command */
      continue;
    }
    if (t[0].type == RESP_ERROR || t[0].type == RESP_BLOB_ERROR) {
      lua_pushnil(L);
      lua_pushlstring(L, conn_rdata(c) + t[0].v.off, t[0].len);
      lua_pushliteral(L, "redis");
      conn_rbuf_consume(c, used);
      return 3;
    }
    push_value(L, conn_rdata(c), t, 0);
    lua_pushboolean(L, t[0].type == RESP_PUSH);
    conn_rbuf_consume(c, used);
    return 2;
  }
}

static int read_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status, (void)ctx;
  return read_one(L);
}

/* What a read checks first: a task that may wait, the only reader. */
static struct conn *begin(lua_State *L, const char *what) {
  struct conn *c = lconn_check(L, 1);
  tostate(L, 2);
  task_current_wait(L, what);
  if (c->flags & CONN_RWAIT)
    luaL_error(L, "another task is already reading from this connection");
  c->flags &= ~CONN_RTIMEDOUT; /* only ever the op it ended */
  return c;
}

/* resp.read(conn, st [, push]) -> value, is_push | nil, msg, "redis" |
 * nil, err */
static int lresp_read(lua_State *L) {
  begin(L, "redis read");
  lua_settop(L, 3);
  return read_one(L);
}

static int many_k(lua_State *L, int status, lua_KContext ctx);

static int read_many(lua_State *L) {
  struct conn *c = resumed(L);
  struct resp_state *s = lua_touserdata(L, 2);
  lua_Integer n = lua_tointeger(L, 3), done = lua_tointeger(L, N_DONE);
  size_t used;
  while (done < n) {
    int st = c && !conn_closing(c) ? parse(c, s, &used) : RESP_NEED;
    if (st == RESP_NEED && c && can_wait(c)) {
      lua_pushinteger(L, done);
      lua_replace(L, N_DONE);
      return wait_more(L, c, 0, many_k);
    }
    if (st != RESP_OK) {
      int k = broken(L, c, st);
      lua_pushinteger(L, done);
      return k + 1;
    }
    if (s->tok[0].type != RESP_PUSH) {
      push_value(L, conn_rdata(c), s->tok, 0);
      lua_rawseti(L, 4, ++done);
    }
    conn_rbuf_consume(c, used);
  }
  lua_settop(L, 4);
  return 1;
}

static int many_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status, (void)ctx;
  return read_many(L);
}

/* resp.read_many(conn, st, n, t) -> t | nil, err, count */
static int lresp_read_many(lua_State *L) {
  begin(L, "redis read");
  lua_Integer n = luaL_checkinteger(L, 3);
  luaL_checktype(L, 4, LUA_TTABLE);
  luaL_argcheck(L, n >= 0, 3, "negative count");
  lua_settop(L, 4);
  lua_pushinteger(L, 0); /* N_DONE */
  return read_many(L);
}

/* ---- the module --------------------------------------------------------- */

static int error_tostring(lua_State *L) {
  lua_getfield(L, 1, "err");
  return 1;
}

static const luaL_Reg funcs[] = {{"write", lresp_write},
                                 {"read", lresp_read},
                                 {"read_many", lresp_read_many},
                                 {NULL, NULL}};

int lresp_open(lua_State *L) {
  if (luaL_newmetatable(L, STATE_META)) {
    lua_pushcfunction(L, state_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_newlibtable(L, funcs);
  luaL_getmetatable(L, CONN_META); /* upvalue 1: lconn_check's */
  lua_createtable(L, 0, 2);        /* upvalue 2: the error values' */
  lua_pushcfunction(L, error_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "redis.error");
  lua_setfield(L, -2, "__name");
  lua_pushvalue(L, -1);
  lua_setfield(L, -4, "error");
  luaL_setfuncs(L, funcs, 2);
  lua_pushcfunction(L, lresp_state);
  lua_setfield(L, -2, "state");
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  return 1;
}
