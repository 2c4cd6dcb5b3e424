/*
 * lhttp_req.c -- the request and response objects a handler gets, and
 * what it reads of a request: its line's pieces, its fields (all of them
 * as a table, or one by name), its query's arguments, the peer.
 *
 * Both objects are small userdata {session, seq}, made per request: seq
 * is the request's number, so an object kept after its handler returned
 * refuses to be used (the session serves the next request by then).  A
 * request's fields are computed when read (__index, in C): req.method
 * and req.path cost a string each when a handler reads them, and
 * nothing when it does not; req.headers is built on first use and kept.
 * A handler may set fields of its own (req.user = ...), which live in a
 * table made on the first such write (user value 2) and are found first.
 */
#include "conn.h"
#include "http_text.h"
#include "lconn_internal.h"
#include "lhttp_internal.h"

#include <lauxlib.h>
#include <string.h>

/* ---- checking arguments ------------------------------------------------- */

/* The object at idx has metatable mt: its session, after the seq check;
 * pushes the session's userdata. */
static struct hsess *check_obj(lua_State *L, int idx) {
  struct hobj *r = lua_touserdata(L, idx);
  if (r->seq != r->s->seq || !r->s->work)
    luaL_error(L, "the request is over (its handler has returned)");
  lua_getiuservalue(L, idx, 1);
  return r->s;
}

struct hsess *hs_check(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) == LUA_TUSERDATA && lua_getmetatable(L, idx)) {
    if (lua_rawequal(L, -1, UV_RESMT) || lua_rawequal(L, -1, UV_REQMT)) {
      lua_pop(L, 1);
      return check_obj(L, idx);
    }
    if (lua_rawequal(L, -1, UV_SESSMT)) {
      lua_pop(L, 1);
      lua_pushvalue(L, idx);
      return lua_touserdata(L, idx);
    }
    if (lua_rawequal(L, -1, UV_WSMT)) {
      lua_pop(L, 1);
      lua_getiuservalue(L, idx, 1);
      return lua_touserdata(L, -1);
    }
  }
  luaL_typeerror(L, idx, "http request");
  return NULL;
}

struct hsess *hs_session(lua_State *L, int idx) {
  struct hsess *s = lua_touserdata(L, idx);
  if (!s || !lua_getmetatable(L, idx) || !lua_rawequal(L, -1, UV_SESSMT))
    luaL_typeerror(L, idx, HTTP_SESS_META);
  lua_pop(L, 1);
  return s;
}

/* ---- making them ------------------------------------------------------- */

static void push_obj(lua_State *L, struct hsess *s, int nuv, int mt) {
  struct hobj *o = lua_newuserdatauv(L, sizeof *o, nuv);
  o->s = s;
  o->seq = s->seq;
  o->fields = 0;
  lua_pushvalue(L, 1); /* the session */
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, mt);
  lua_setmetatable(L, -2);
}

int hs_push_request(lua_State *L, struct hsess *s) {
  push_obj(L, s, 2, UV_REQMT);
  push_obj(L, s, 1, UV_RESMT);
  return 2;
}

/* ---- the request's fields -------------------------------------------------
 */

/* Pushes field k (one of the interned keys) of the current request;
 * returns 0 if k is none of them. */
static int builtin(lua_State *L, struct hsess *s, const char *k) {
  const struct hmod *mod = s->mod;
  const char *h = s->work->head;
  const struct http_msg *m = &s->m;
  if (k == mod->k_path) {
    lua_pushlstring(L, h + m->path.off, m->path.len);
  } else if (k == mod->k_method) {
    if (m->method_id != HTTP_OTHER)
      lua_rawgeti(L, UV_CACHE, m->method_id);
    else
      lua_pushlstring(L, h + m->method.off, m->method.len);
  } else if (k == mod->k_target) {
    lua_pushlstring(L, h + m->target.off, m->target.len);
  } else if (k == mod->k_query) {
    if (m->query.len || (m->query.off > 0 && h[m->query.off - 1] == '?'))
      lua_pushlstring(L, h + m->query.off, m->query.len);
    else
      lua_pushnil(L);
  } else if (k == mod->k_version) {
    lua_rawgeti(L, UV_CACHE, m->minor ? C_V11 : C_V10);
  } else {
    return 0;
  }
  return 1;
}

/* Stores the value on top as user field k (making the table). */
static void set_field(lua_State *L, int idx, struct hobj *q) {
  if (!q->fields) {
    lua_createtable(L, 0, 4);
    lua_setiuservalue(L, idx, 2);
    q->fields = 1;
  }
  lua_getiuservalue(L, idx, 2);
  lua_insert(L, -3);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

/* req.k: a field set by the handler, a field of the request, headers
 * (built and kept), peer, or a method. */
static int req_index(lua_State *L) {
  struct hobj *q = lua_touserdata(L, 1);
  if (!q || !lua_getmetatable(L, 1) || !lua_rawequal(L, -1, UV_REQMT))
    luaL_typeerror(L, 1, "http request");
  lua_pop(L, 1);
  if (q->fields) {
    lua_getiuservalue(L, 1, 2);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL)
      return 1;
    lua_pop(L, 2);
  }
  const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
  struct hsess *s = q->s;
  if (k && q->seq == s->seq && s->work && builtin(L, s, k))
    return 1;
  lua_rawgeti(L, UV_CACHE, C_REQMETHODS);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, -2) != LUA_TNIL)
    return 1;
  if (!k)
    return 0;
  const struct hmod *mod = s->mod;
  if (k == mod->k_headers || k == mod->k_peer) {
    lua_settop(L, 2);
    if (k == mod->k_headers)
      lhttp_headers(L);
    else
      lhttp_peer(L);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    set_field(L, 1, q); /* kept: read again, it is the same table */
    return 1;
  }
  if (q->seq != s->seq || !s->work)
    return luaL_error(L, "the request is over (its handler has returned)");
  return 0;
}

/* req.k = v: the handler's own fields (they hide the request's). */
static int req_newindex(lua_State *L) {
  struct hobj *q = lua_touserdata(L, 1);
  if (!q || !lua_getmetatable(L, 1) || !lua_rawequal(L, -1, UV_REQMT))
    luaL_typeerror(L, 1, "http request");
  lua_settop(L, 3);
  set_field(L, 1, q);
  return 0;
}

static int req_tostring(lua_State *L) {
  struct hobj *q = lua_touserdata(L, 1);
  struct hsess *s = q->s;
  if (q->seq != s->seq || !s->work) {
    lua_pushliteral(L, "http request (over)");
    return 1;
  }
  const char *h = s->work->head;
  lua_pushliteral(L, "http request (");
  lua_pushlstring(L, h + s->m.method.off, s->m.method.len);
  lua_pushliteral(L, " ");
  lua_pushlstring(L, h + s->m.target.off, s->m.target.len);
  lua_pushliteral(L, ")");
  lua_concat(L, 5);
  return 1;
}

/* The iterator req:reader() returns: upvalues NUPVALUES + 1 (the
 * request) and + 2 (the piece size). */
static int reader_iter(lua_State *L) {
  lua_settop(L, 0);
  lua_pushvalue(L, lua_upvalueindex(NUPVALUES + 1));
  lua_pushvalue(L, lua_upvalueindex(NUPVALUES + 2));
  return lhttp_read(L);
}

/* req:reader([max]) -> an iterator over the body's pieces: the next
 * piece, nil at the end, or nil, err. */
static int req_reader(lua_State *L) {
  hs_check(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, 65536);
  luaL_argcheck(L, max >= 1 && max <= (1 << 30), 2, "out of range");
  for (int i = 1; i <= NUPVALUES; i++)
    lua_pushvalue(L, lua_upvalueindex(i));
  lua_pushvalue(L, 1);
  lua_pushinteger(L, max);
  lua_pushcclosure(L, reader_iter, NUPVALUES + 2);
  return 1;
}

/* ---- reading the head ------------------------------------------------- */

/* Joins a repeated field's values: [old] -> [old sep new]. */
static void join(lua_State *L, const char *sep, const char *v, size_t n) {
  lua_pushstring(L, sep);
  lua_pushlstring(L, v, n);
  lua_concat(L, 3);
}

void hs_push_headers(lua_State *L, struct hsess *s) {
  const char *h = s->work->head;
  const struct http_header *f = s->m.headers;
  char small[64];
  lua_createtable(L, 0, (int)s->m.nheaders);
  for (uint32_t i = 0; i < s->m.nheaders; i++) {
    const char *name = h + f[i].name.off, *val = h + f[i].value.off;
    size_t nlen = f[i].name.len, vlen = f[i].value.len;
    if (nlen <= sizeof small) {
      http_lower(small, name, nlen);
      lua_pushlstring(L, small, nlen);
    } else {
      luaL_Buffer b;
      http_lower(luaL_buffinitsize(L, &b, nlen), name, nlen);
      luaL_pushresultsize(&b, nlen);
    }
    lua_pushvalue(L, -1);
    int t = lua_rawget(L, -3);
    if (t == LUA_TNIL) {
      lua_pop(L, 1);
      lua_pushlstring(L, val, vlen);
    } else if (nlen == 10 && http_ieq(name, nlen, "set-cookie")) {
      if (t == LUA_TSTRING) { /* a list from the second one on */
        lua_createtable(L, 2, 0);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
      }
      lua_pushlstring(L, val, vlen);
      lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    } else {
      join(L, nlen == 6 && http_ieq(name, nlen, "cookie") ? "; " : ", ", val,
           vlen);
    }
    lua_rawset(L, -3);
  }
}

/* core.headers(req) -> the headers table (lower-case names). */
int lhttp_headers(lua_State *L) {
  hs_push_headers(L, hs_check(L, 1));
  return 1;
}

/* core.header(req, name) -> the field's value (repeated ones joined with
 * ", "), or nil: one field, no table. */
int lhttp_header(lua_State *L) {
  struct hsess *s = hs_check(L, 1);
  size_t len;
  const char *want = luaL_checklstring(L, 2, &len);
  const char *h = s->work->head;
  const struct http_header *f = s->m.headers;
  int found = 0;
  for (uint32_t i = 0; i < s->m.nheaders; i++) {
    if (f[i].name.len != len)
      continue;
    const char *name = h + f[i].name.off;
    size_t k = 0;
    while (k < len && ((name[k] ^ want[k]) & ~0x20) == 0 &&
           ((name[k] | 0x20) == (want[k] | 0x20)))
      k++;
    if (k < len)
      continue;
    if (found)
      join(L, ", ", h + f[i].value.off, f[i].value.len);
    else
      lua_pushlstring(L, h + f[i].value.off, f[i].value.len);
    found = 1;
  }
  if (!found)
    lua_pushnil(L);
  return 1;
}

/* Pushes s[0, n) percent-decoded (form style: '+' is a space). */
static void push_decoded(lua_State *L, const char *p, size_t n) {
  if (!memchr(p, '%', n) && !memchr(p, '+', n)) {
    lua_pushlstring(L, p, n);
    return;
  }
  luaL_Buffer b;
  size_t k = http_pct_decode(luaL_buffinitsize(L, &b, n), p, n, 1);
  luaL_pushresultsize(&b, k);
}

/* core.args(req) -> table [, "truncated"]: the query's pairs, decoded;
 * a key without '=' is true, a repeated key a list (as OpenResty's
 * ngx.req.get_uri_args). */
int lhttp_args(lua_State *L) {
  struct hsess *s = hs_check(L, 1);
  const char *q = s->work->head + s->m.query.off;
  size_t n = s->m.query.len, pos = 0;
  uint32_t count = 0;
  struct http_span k, v;
  int has_val;
  lua_newtable(L);
  while (http_query_next(q, n, &pos, &k, &v, &has_val)) {
    if (count++ == s->o->max_args) {
      lua_pushliteral(L, "truncated");
      return 2;
    }
    push_decoded(L, q + k.off, k.len);
    if (has_val)
      push_decoded(L, q + v.off, v.len);
    else
      lua_pushboolean(L, 1);
    lua_pushvalue(L, -2);
    int t = lua_rawget(L, -4);
    if (t == LUA_TNIL) {
      lua_pop(L, 1);
    } else {
      if (t != LUA_TTABLE) { /* the second one: a list */
        lua_createtable(L, 2, 0);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
      }
      lua_insert(L, -2);
      lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    }
    lua_rawset(L, -3);
  }
  return 1;
}

/* core.peer(req) -> "ip:port" */
int lhttp_peer(lua_State *L) {
  struct hsess *s = hs_check(L, 1);
  struct conn *c = *(struct conn **)s->box;
  char buf[ADDR_TEXT_MAX];
  if (!c)
    return 0;
  conn_peer(c, buf, sizeof buf);
  lua_pushstring(L, buf);
  return 1;
}

const luaL_Reg lhttp_req_methods[] = {{"body", lhttp_body},
                                      {"reader", req_reader},
                                      {"header", lhttp_header},
                                      {"args", lhttp_args},
                                      {NULL, NULL}};

const luaL_Reg lhttp_req_meta[] = {{"__index", req_index},
                                   {"__newindex", req_newindex},
                                   {"__tostring", req_tostring},
                                   {NULL, NULL}};
