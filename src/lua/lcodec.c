/*
 * lcodec.c -- Lua values to bytes and back (see lcodec.h).
 *
 * The format, native byte order: a u32 count of values, then each value
 * as a tag byte and its payload.  Integers that fit a signed byte take one
 * byte, others eight; floats are their eight bytes (so NaN's payload and
 * -0.0 survive); strings under 256 bytes have a one-byte length, others an
 * eight-byte one.  A table is its tag, two u32 counts (array part, then
 * the other pairs), the array values for keys 1..n in order, then
 * key/value pairs; the counts are written as placeholders and patched at
 * the end, so a table is walked once, and the decoder can size the new
 * table exactly with lua_createtable.
 *
 * The encoder keeps the tables on its current path (for cycles) and the
 * stack slot of each key it descended through (for the error's path); an
 * error is raised with luaL_error, leaving the caller's buffer as it was
 * (owned by the caller, so nothing leaks).  The decoder checks every
 * length against the bytes left, rejects keys Lua would refuse (nil, NaN)
 * rather than let lua_rawset raise, and unwinds its pushes on malformed
 * input.
 */
#include "lcodec.h"

#include "fault.h"

#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
  T_NIL,
  T_FALSE,
  T_TRUE,
  T_INT8,  /* 1 byte, signed */
  T_INT,   /* 8 bytes */
  T_FLOAT, /* 8 bytes */
  T_STR8,  /* 1-byte length, bytes */
  T_STR,   /* 8-byte length, bytes */
  T_TABLE  /* u32 array count, u32 pair count, values, pairs */
};

#define PATH_LEVELS 16 /* levels an error's path shows before "..." */

void lcodec_buf_init(struct lcodec_buf *b, size_t max) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->max = max < UINT32_MAX ? max : UINT32_MAX;
}

void lcodec_buf_free(struct lcodec_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* ---- encoding ----------------------------------------------------------- */

struct enc {
  lua_State *L;
  struct lcodec_buf *b;
  int arg;                             /* slot of the top-level value */
  int depth;                           /* tables open */
  const void *seen[LCODEC_MAX_DEPTH];  /* those tables */
  int key[LCODEC_MAX_DEPTH];           /* slot of the key into the next */
  lua_Integer index[LCODEC_MAX_DEPTH]; /* or its array index (key 0) */
};

static int is_name(const char *s, size_t n) {
  if (n == 0 || n > 40 || (s[0] >= '0' && s[0] <= '9'))
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') ||
          (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
      return 0;
  return 1;
}

/* Pushes how level l's key reads in a path: name, [3], ["a b"], [true]. */
static void push_step(struct enc *e, int l) {
  lua_State *L = e->L;
  if (e->key[l] == 0) {
    lua_pushfstring(L, "[%I]", (LUAI_UACINT)e->index[l]);
    return;
  }
  int k = e->key[l];
  size_t n;
  switch (lua_type(L, k)) {
  case LUA_TSTRING: {
    const char *s = lua_tolstring(L, k, &n); /* a string: no conversion */
    if (is_name(s, n))
      lua_pushfstring(L, l == 0 ? "%s" : ".%s", s);
    else if (n <= 40 && strlen(s) == n)
      lua_pushfstring(L, "[\"%s\"]", s);
    else
      lua_pushliteral(L, "[?]");
    break;
  }
  case LUA_TNUMBER:
    if (lua_isinteger(L, k))
      lua_pushfstring(L, "[%I]", (LUAI_UACINT)lua_tointeger(L, k));
    else
      lua_pushfstring(L, "[%f]", (LUAI_UACNUMBER)lua_tonumber(L, k));
    break;
  default: lua_pushstring(L, lua_toboolean(L, k) ? "[true]" : "[false]");
  }
}

/* Raises what, followed by where: "(in argument 2, field 'a.b')". */
static void fail(struct enc *e, const char *what) {
  lua_State *L = e->L;
  int shown = e->depth < PATH_LEVELS ? e->depth : PATH_LEVELS;
  luaL_checkstack(L, shown + 8, "too deeply nested");
  int top = lua_gettop(L);
  lua_pushfstring(L, "%s (in argument %d", what, e->arg);
  if (e->depth > 0) {
    lua_pushliteral(L, ", field '");
    for (int l = 0; l < shown; l++)
      push_step(e, l);
    if (shown < e->depth)
      lua_pushliteral(L, "...");
    lua_pushliteral(L, "'");
  }
  lua_pushliteral(L, ")");
  lua_concat(L, lua_gettop(L) - top);
  lua_error(L);
}

/* Room for n more bytes; returns where they go. */
static unsigned char *reserve(struct enc *e, size_t n) {
  struct lcodec_buf *b = e->b;
  if (n > b->max - b->len)
    luaL_error(e->L, "message too large");
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
      cap = cap > b->max / 2 ? b->max : cap * 2;
    void *p =
        fault_fail(FAULT_C, "lcodec buffer") ? NULL : realloc(b->data, cap);
    if (!p)
      luaL_error(e->L, "not enough memory");
    b->data = p;
    b->cap = cap;
  }
  unsigned char *p = b->data + b->len;
  b->len += n;
  return p;
}

static void put_byte(struct enc *e, int byte) {
  *reserve(e, 1) = (unsigned char)byte;
}

static void put_bytes(struct enc *e, int tag, const void *p, size_t n) {
  unsigned char *q = reserve(e, 1 + n);
  q[0] = (unsigned char)tag;
  memcpy(q + 1, p, n);
}

static void put_string(struct enc *e, int idx) {
  size_t n;
  const char *s = lua_tolstring(e->L, idx, &n);
  if (n < 256) {
    unsigned char *q = reserve(e, 2 + n);
    q[0] = T_STR8;
    q[1] = (unsigned char)n;
    memcpy(q + 2, s, n);
  } else {
    uint64_t n64 = n;
    put_bytes(e, T_STR, &n64, 8);
    memcpy(reserve(e, n), s, n);
  }
}

static void put_value(struct enc *e, int idx);

static void put_table(struct enc *e, int idx) {
  lua_State *L = e->L;
  if (e->depth >= LCODEC_MAX_DEPTH)
    fail(e, "too deeply nested");
  const void *self = lua_topointer(L, idx);
  for (int i = 0; i < e->depth; i++)
    if (e->seen[i] == self)
      fail(e, "cannot send a table that contains itself");
  luaL_checkstack(L, 4, "too deeply nested");
  e->seen[e->depth] = self;
  put_byte(e, T_TABLE);
  size_t counts = e->b->len;
  reserve(e, 8);
  uint32_t narr = 0, npairs = 0;
  while (lua_rawgeti(L, idx, (lua_Integer)narr + 1) != LUA_TNIL) {
    e->key[e->depth] = 0;
    e->index[e->depth++] = (lua_Integer)narr + 1;
    put_value(e, lua_gettop(L));
    e->depth--;
    lua_pop(L, 1);
    narr++;
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int k = lua_gettop(L) - 1, kt = lua_type(L, k);
    if (lua_isinteger(L, k) && lua_tointeger(L, k) >= 1 &&
        lua_tointeger(L, k) <= (lua_Integer)narr) {
      lua_pop(L, 1); /* sent in the array part */
      continue;
    }
    if (kt != LUA_TSTRING && kt != LUA_TNUMBER && kt != LUA_TBOOLEAN) {
      lua_pushfstring(L, "cannot send a table key of type %s",
                      kt == LUA_TTHREAD ? "coroutine" : luaL_typename(L, k));
      fail(e, lua_tostring(L, -1));
    }
    put_value(e, k);
    e->key[e->depth++] = k;
    put_value(e, k + 1);
    e->depth--;
    lua_pop(L, 1);
    npairs++;
  }
  memcpy(e->b->data + counts, &narr, 4);
  memcpy(e->b->data + counts + 4, &npairs, 4);
}

static void put_value(struct enc *e, int idx) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
  case LUA_TNIL: put_byte(e, T_NIL); break;
  case LUA_TBOOLEAN:
    put_byte(e, lua_toboolean(L, idx) ? T_TRUE : T_FALSE);
    break;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) {
      lua_Integer i = lua_tointeger(L, idx);
      int8_t small = (int8_t)i;
      if (i == small)
        put_bytes(e, T_INT8, &small, 1);
      else
        put_bytes(e, T_INT, &i, 8);
    } else {
      lua_Number f = lua_tonumber(L, idx);
      put_bytes(e, T_FLOAT, &f, 8);
    }
    break;
  case LUA_TSTRING: put_string(e, idx); break;
  case LUA_TTABLE: put_table(e, idx); break;
  case LUA_TTHREAD: fail(e, "cannot send a coroutine"); break;
  case LUA_TLIGHTUSERDATA:
  case LUA_TUSERDATA: fail(e, "cannot send a userdata"); break;
  default:
    lua_pushfstring(L, "cannot send a %s", luaL_typename(L, idx));
    fail(e, lua_tostring(L, -1));
  }
}

void lcodec_encode(lua_State *L, int first, int n, struct lcodec_buf *b) {
  struct enc e;
  e.L = L;
  e.b = b;
  e.depth = 0;
  b->len = 0;
  first = lua_absindex(L, first);
  uint32_t count = (uint32_t)n;
  memcpy(reserve(&e, 4), &count, 4);
  for (int i = 0; i < n; i++) {
    e.arg = first + i;
    put_value(&e, first + i);
  }
}

/* ---- decoding ----------------------------------------------------------- */

struct dec {
  lua_State *L;
  const unsigned char *p;   /* next byte */
  const unsigned char *end; /* one past the last */
};

static int have(struct dec *d, uint64_t n) {
  return (uint64_t)(d->end - d->p) >= n;
}

static int get_value(struct dec *d, int depth);

static int get_table(struct dec *d, int depth) {
  uint32_t narr, npairs;
  if (depth >= LCODEC_MAX_DEPTH || !have(d, 8))
    return -1;
  memcpy(&narr, d->p, 4);
  memcpy(&npairs, d->p + 4, 4);
  d->p += 8;
  /* Each value takes a byte at least: counts past the input are lies. */
  if (!have(d, (uint64_t)narr + 2 * (uint64_t)npairs) ||
      !lua_checkstack(d->L, 4))
    return -1;
  lua_createtable(d->L, (int)narr, (int)npairs);
  for (uint32_t i = 1; i <= narr; i++) {
    if (get_value(d, depth + 1) < 0)
      return -1;
    lua_rawseti(d->L, -2, (lua_Integer)i);
  }
  for (uint32_t i = 0; i < npairs; i++) {
    if (get_value(d, depth + 1) < 0)
      return -1;
    int kt = lua_type(d->L, -1);
    if (kt == LUA_TNIL || kt == LUA_TTABLE ||
        (kt == LUA_TNUMBER && lua_tonumber(d->L, -1) != lua_tonumber(d->L, -1)))
      return -1; /* lua_rawset would raise */
    if (get_value(d, depth + 1) < 0)
      return -1;
    lua_rawset(d->L, -3);
  }
  return 0;
}

static int get_value(struct dec *d, int depth) {
  lua_State *L = d->L;
  if (!have(d, 1))
    return -1;
  int tag = *d->p++;
  uint64_t n;
  lua_Integer i;
  lua_Number f;
  switch (tag) {
  case T_NIL: lua_pushnil(L); return 0;
  case T_FALSE:
  case T_TRUE: lua_pushboolean(L, tag == T_TRUE); return 0;
  case T_INT8:
    if (!have(d, 1))
      return -1;
    lua_pushinteger(L, (int8_t)*d->p++);
    return 0;
  case T_INT:
  case T_FLOAT:
    if (!have(d, 8))
      return -1;
    if (tag == T_INT) {
      memcpy(&i, d->p, 8);
      lua_pushinteger(L, i);
    } else {
      memcpy(&f, d->p, 8);
      lua_pushnumber(L, f);
    }
    d->p += 8;
    return 0;
  case T_STR8:
  case T_STR:
    if (!have(d, tag == T_STR8 ? 1 : 8))
      return -1;
    if (tag == T_STR8) {
      n = *d->p++;
    } else {
      memcpy(&n, d->p, 8);
      d->p += 8;
    }
    if (!have(d, n))
      return -1;
    lua_pushlstring(L, (const char *)d->p, (size_t)n);
    d->p += n;
    return 0;
  case T_TABLE: return get_table(d, depth);
  default: return -1;
  }
}

int lcodec_decode(lua_State *L, const void *data, size_t len) {
  struct dec d = {L, data, (const unsigned char *)data + len};
  int top = lua_gettop(L);
  uint32_t count;
  if (!have(&d, 4))
    return -1;
  memcpy(&count, d.p, 4);
  d.p += 4;
  if (!have(&d, count) || count > INT32_MAX - 8 ||
      !lua_checkstack(L, (int)count + 4))
    return -1;
  for (uint32_t i = 0; i < count; i++)
    if (get_value(&d, 0) < 0) {
      lua_settop(L, top);
      return -1;
    }
  if (d.p != d.end) {
    lua_settop(L, top);
    return -1;
  }
  return (int)count;
}
