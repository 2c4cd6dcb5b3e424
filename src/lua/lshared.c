/*
 * lshared.c -- host.shared(name [, size_mb]) and the "host.shared" type:
 * the Lua face of the dictionary every worker shares (src/shared/shdict.h).
 *
 * A dictionary's userdata is a box holding one reference to the engine's
 * dictionary; __gc gives it back.  Each VM keeps the box of every name it
 * opened in a registry table, so host.shared("x") called per request
 * costs a table lookup and returns the same box.  The process keeps one
 * more reference to every named dictionary until it ends (lshared_exit):
 * what a worker stored is there for a worker that starts after it ended.
 *
 * The engine never raises and never calls back, and its lock is held only
 * inside its calls; so every method converts and checks its arguments
 * first (raising on misuse), calls the engine, and pushes results after
 * (nothing here can raise while the lock is held).  A string read out of
 * the dictionary is copied into a per-VM scratch buffer (each box points
 * at it), grown when the engine says it is too small and kept:
 * get and set allocate nothing but the Lua string of a result.  The
 * dictionary's own failures return nil and the API's word ("exists",
 * "not found", "not a number", "not a list", "no memory", "too large").
 *
 * Times are seconds (floats) here and milliseconds in the engine; a
 * positive TTL rounds up to the next millisecond, so it never becomes 0
 * ("never expires").
 */
#include "lshared.h"
#include "fault.h"
#include "shdict.h"
#include "sys.h"

#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SHARED_META "host.shared"
#define SHARED_CACHE "host.shared_cache"     /* registry: name -> box */
#define SHARED_SCRATCH "host.shared_scratch" /* registry: the scratch */
#define SCRATCH_SMALL 512                    /* bytes kept inside the scratch */
#define SIZE_ROUND ((size_t)64 << 10)        /* sizes round up to 64 KiB */
#define TTL_NEVER_MS 1e15 /* longer than this: never expires */

/* Per VM, shared by every dictionary's methods: where strings are copied
 * out of the dictionary. */
struct scratch {
  unsigned char *buf;                 /* small, or a malloc'd block */
  size_t cap;                         /* bytes at buf */
  unsigned char small[SCRATCH_SMALL]; /* the first buffer */
};

/* The userdata: one reference to the dictionary (NULL until it is open).
 * Its user value is the name, for __tostring. */
struct shared_box {
  uint64_t magic;    /* BOX_MAGIC: how tobox knows its own boxes */
  struct shdict *d;  /* the reference */
  struct scratch *s; /* the VM's scratch (a userdata it keeps alive) */
};

#define BOX_MAGIC 0x73686172656421a5ull /* "shared!" and a bit more */

/* The process's references: one per named dictionary any VM opened. */
struct kept {
  struct kept *next;
  struct shdict *d;
};

static sys_once_flag kept_once = SYS_ONCE_INIT;
static sys_mutex kept_lock; /* guards kept */
static struct kept *kept;

static void kept_init(void) { sys_mutex_init(&kept_lock); }

/* ---- arguments --------------------------------------------------------- */

/* The box of self (argument 1).  Called by every method, so it is
 * cheaper than luaL_checkudata (a registry lookup and a metatable
 * compare): a userdata of exactly a box's size that starts with the
 * magic word.  Only C can make a userdata, and only this file writes that
 * word (a light userdata has no size, so it is never read through). */
static struct shared_box *tobox(lua_State *L) {
  struct shared_box *b = lua_touserdata(L, 1);
  if (!b || lua_rawlen(L, 1) != sizeof *b || b->magic != BOX_MAGIC || !b->d)
    luaL_typeerror(L, 1, SHARED_META);
  return b;
}

static struct shdict *todict(lua_State *L) { return tobox(L)->d; }

static const char *tokey(lua_State *L, int idx, size_t *len) {
  if (lua_type(L, idx) != LUA_TSTRING)
    luaL_typeerror(L, idx, "string");
  const char *k = lua_tolstring(L, idx, len);
  if (*len > SHDICT_KEY_MAX)
    luaL_argerror(L, idx, "key longer than 65535 bytes");
  return k;
}

/* A value to store: string, integer, float or boolean. */
static void tovalue(lua_State *L, int idx, struct shdict_value *v) {
  switch (lua_type(L, idx)) {
  case LUA_TSTRING:
    v->type = SHDICT_STRING;
    v->v.s = lua_tolstring(L, idx, &v->len);
    break;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) {
      v->type = SHDICT_INT;
      v->v.i = (int64_t)lua_tointeger(L, idx);
    } else {
      v->type = SHDICT_FLOAT;
      v->v.f = (double)lua_tonumber(L, idx);
    }
    v->len = 0;
    break;
  case LUA_TBOOLEAN:
    v->type = SHDICT_BOOL;
    v->v.b = lua_toboolean(L, idx);
    v->len = 0;
    break;
  default: luaL_typeerror(L, idx, "string, number or boolean");
  }
}

static void tonumberv(lua_State *L, int idx, struct shdict_value *v) {
  luaL_checknumber(L, idx);
  tovalue(L, idx, v); /* a numeric string is refused: type is checked */
  if (v->type == SHDICT_STRING)
    luaL_typeerror(L, idx, "number");
}

/* Seconds -> milliseconds: nil or 0 is 0 (never), math.huge too. */
static int64_t ms_of(lua_State *L, int idx, int optional) {
  if (optional && lua_isnoneornil(L, idx))
    return 0;
  lua_Number s = luaL_checknumber(L, idx);
  luaL_argcheck(L, s >= 0, idx, "ttl must be >= 0 seconds");
  double ms = ceil((double)s * 1000);
  return ms > TTL_NEVER_MS ? 0 : (int64_t)ms;
}

/* ---- results ----------------------------------------------------------- */

static int fail(lua_State *L, int err) {
  if (err == SHDICT_EINVAL) /* every argument was checked above */
    return luaL_error(L, "host.shared: invalid argument");
  luaL_pushfail(L);
  lua_pushstring(L, shdict_strerror(err));
  return 2;
}

static int push_value(lua_State *L, const struct shdict_value *v,
                      const unsigned char *buf) {
  switch (v->type) {
  case SHDICT_STRING: lua_pushlstring(L, (const char *)buf, v->len); break;
  case SHDICT_INT: lua_pushinteger(L, (lua_Integer)v->v.i); break;
  case SHDICT_FLOAT: lua_pushnumber(L, (lua_Number)v->v.f); break;
  case SHDICT_BOOL: lua_pushboolean(L, v->v.b); break;
  case SHDICT_LIST:
    luaL_pushfail(L);
    lua_pushliteral(L, "is a list");
    return 2;
  default: lua_pushnil(L);
  }
  return 1;
}

static int push_true(lua_State *L) {
  lua_pushboolean(L, 1);
  return 1;
}

/* The scratch buffer, big enough for need bytes (raises, lock not held,
 * if memory runs out). */
static struct scratch *grow(lua_State *L, struct scratch *s, size_t need) {
  size_t cap = s->cap;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  void *p = fault_fail(FAULT_C, "shared scratch") ? NULL : malloc(cap);
  if (!p)
    luaL_error(L, "not enough memory");
  if (s->buf != s->small)
    free(s->buf);
  s->buf = p;
  s->cap = cap;
  return s;
}

/* ---- reading ----------------------------------------------------------- */

/* d:get(key) -> value | nil */
static int lshared_get(lua_State *L) {
  struct shared_box *b = tobox(L);
  struct shdict *d = b->d;
  struct scratch *s = b->s;
  size_t klen;
  const char *k = tokey(L, 2, &klen);
  struct shdict_value v;
  int r = shdict_get(d, k, klen, &v, s->buf, s->cap);
  while (r == SHDICT_ESPACE) {
    s = grow(L, s, v.len);
    r = shdict_get(d, k, klen, &v, s->buf, s->cap);
  }
  return push_value(L, &v, s->buf);
}

/* d:ttl(key) -> seconds left (0: never expires) | nil, "not found" */
static int lshared_ttl(lua_State *L) {
  struct shdict *d = todict(L);
  size_t klen;
  const char *k = tokey(L, 2, &klen);
  int64_t ms;
  int r = shdict_ttl(d, k, klen, &ms);
  if (r)
    return fail(L, r);
  lua_pushnumber(L, (lua_Number)ms / 1000);
  return 1;
}

/* d:keys([max]) -> { key, ... }, most recently used first */
static int lshared_keys(lua_State *L) {
  struct shdict *d = todict(L);
  lua_Integer max = luaL_optinteger(L, 2, 0);
  luaL_argcheck(L, max >= 0, 2, "must be >= 0 (0: every key)");
  size_t n = max == 0 || (uint64_t)max > SIZE_MAX ? SIZE_MAX : (size_t)max;
  size_t cap = 4096, count, need;
  unsigned char *buf;
  for (;;) { /* the snapshot is taken into a buffer the GC frees */
    buf = lua_newuserdatauv(L, cap, 0);
    if (shdict_keys(d, n, buf, cap, &count, &need) == 0)
      break;
    lua_pop(L, 1);
    cap = need + need / 8 + 64; /* keys may come in before the next try */
  }
  lua_createtable(L, count < INT32_MAX ? (int)count : 0, 0);
  size_t pos = 0;
  for (size_t i = 1; i <= count; i++) {
    uint32_t len;
    memcpy(&len, buf + pos, sizeof len);
    lua_pushlstring(L, (const char *)buf + pos + sizeof len, len);
    lua_rawseti(L, -2, (lua_Integer)i);
    pos += sizeof len + len;
  }
  return 1;
}

/* d:stats() -> { capacity =, used =, items =, evictions =, expired =,
 * size =, page_size =, moves = } */
static int lshared_stats(lua_State *L) {
  struct shdict_stats st;
  shdict_stats(todict(L), &st);
  const struct {
    const char *name;
    uint64_t v;
  } f[] = {{"capacity", st.capacity},   {"used", st.used},
           {"items", st.items},         {"evictions", st.evictions},
           {"expired", st.expired},     {"size", st.size},
           {"page_size", st.page_size}, {"moves", st.moves}};
  lua_createtable(L, 0, (int)(sizeof f / sizeof *f));
  for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
    lua_pushinteger(L, (lua_Integer)f[i].v);
    lua_setfield(L, -2, f[i].name);
  }
  return 1;
}

/* ---- writing ----------------------------------------------------------- */

/* d:set(key, value [, ttl]) -> true [, "evicted"] | nil, "too large";
 * a nil value deletes the key. */
static int lshared_set(lua_State *L) {
  struct shdict *d = todict(L);
  size_t klen;
  const char *k = tokey(L, 2, &klen);
  if (lua_isnoneornil(L, 3)) {
    shdict_delete(d, k, klen);
    return push_true(L);
  }
  struct shdict_value v;
  tovalue(L, 3, &v);
  int64_t ttl = ms_of(L, 4, 1);
  int evicted = 0;
  int r = shdict_set(d, k, klen, &v, ttl, 0, &evicted);
  if (r)
    return fail(L, r);
  lua_pushboolean(L, 1);
  if (!evicted)
    return 1;
  lua_pushliteral(L, "evicted");
  return 2;
}

/* d:add / d:replace (key, value [, ttl]) -> true | nil, err */
static int store(lua_State *L, int replace) {
  struct shdict *d = todict(L);
  size_t klen;
  const char *k = tokey(L, 2, &klen);
  struct shdict_value v;
  tovalue(L, 3, &v);
  int64_t ttl = ms_of(L, 4, 1);
  int r = replace ? shdict_replace(d, k, klen, &v, ttl)
                  : shdict_add(d, k, klen, &v, ttl);
  return r ? fail(L, r) : push_true(L);
}

static int lshared_add(lua_State *L) { return store(L, 0); }
static int lshared_replace(lua_State *L) { return store(L, 1); }

/* d:delete(key) -> true if it was there, false if not */
static int lshared_delete(lua_State *L) {
  struct shdict *d = todict(L);
  size_t klen;
  const char *k = tokey(L, 2, &klen);
  lua_pushboolean(L, shdict_delete(d, k, klen) == 0);
  return 1;
}

/* d:incr(key, n [, init [, ttl]]) -> the new value | nil, err */
static int lshared_incr(lua_State *L) {
  struct shdict *d = todict(L);
  size_t klen;
  const char *k = tokey(L, 2, &klen);
  struct shdict_value by, init, out;
  tonumberv(L, 3, &by);
  int has_init = !lua_isnoneornil(L, 4);
  if (has_init)
    tonumberv(L, 4, &init);
  int64_t ttl = ms_of(L, 5, 1);
  int r = shdict_incr(d, k, klen, &by, has_init ? &init : NULL, ttl, &out);
  if (r)
    return fail(L, r);
  return push_value(L, &out, NULL);
}

/* d:expire(key, ttl) -> true | nil, "not found" (ttl 0: never expires) */
static int lshared_expire(lua_State *L) {
  struct shdict *d = todict(L);
  size_t klen;
  const char *k = tokey(L, 2, &klen);
  int64_t ttl = ms_of(L, 3, 0);
  int r = shdict_expire(d, k, klen, ttl);
  return r ? fail(L, r) : push_true(L);
}

static int lshared_flush(lua_State *L) {
  shdict_flush(todict(L));
  return push_true(L);
}

/* ---- lists ------------------------------------------------------------- */

/* d:lpush / d:rpush (key, value) -> the list's length | nil, err */
static int push(lua_State *L, int end) {
  struct shdict *d = todict(L);
  size_t klen, len;
  const char *k = tokey(L, 2, &klen);
  struct shdict_value v;
  tovalue(L, 3, &v);
  int r = shdict_push(d, k, klen, end, &v, &len);
  if (r)
    return fail(L, r);
  lua_pushinteger(L, (lua_Integer)len);
  return 1;
}

/* d:lpop / d:rpop (key) -> value | nil (empty) | nil, "not a list" */
static int pop(lua_State *L, int end) {
  struct shared_box *b = tobox(L);
  struct shdict *d = b->d;
  struct scratch *s = b->s;
  size_t klen;
  const char *k = tokey(L, 2, &klen);
  struct shdict_value v;
  int r = shdict_pop(d, k, klen, end, &v, s->buf, s->cap);
  while (r == SHDICT_ESPACE) {
    s = grow(L, s, v.len);
    r = shdict_pop(d, k, klen, end, &v, s->buf, s->cap);
  }
  if (r == SHDICT_ENOTLIST)
    return fail(L, r);
  return push_value(L, &v, s->buf);
}

static int lshared_lpush(lua_State *L) { return push(L, SHDICT_LEFT); }
static int lshared_rpush(lua_State *L) { return push(L, SHDICT_RIGHT); }
static int lshared_lpop(lua_State *L) { return pop(L, SHDICT_LEFT); }
static int lshared_rpop(lua_State *L) { return pop(L, SHDICT_RIGHT); }

/* d:llen(key) -> length (0 if absent) | nil, "not a list" */
static int lshared_llen(lua_State *L) {
  struct shdict *d = todict(L);
  size_t klen, len;
  const char *k = tokey(L, 2, &klen);
  int r = shdict_llen(d, k, klen, &len);
  if (r)
    return fail(L, r);
  lua_pushinteger(L, (lua_Integer)len);
  return 1;
}

/* ---- opening ----------------------------------------------------------- */

/* The process keeps a reference to d (using k, freed if it has one). */
static void keep(struct shdict *d, struct kept *k) {
  sys_once(&kept_once, kept_init);
  sys_mutex_lock(&kept_lock);
  struct kept *p = kept;
  while (p && p->d != d)
    p = p->next;
  if (!p) {
    shdict_retain(d);
    k->d = d;
    k->next = kept;
    kept = k;
    k = NULL;
  }
  sys_mutex_unlock(&kept_lock);
  free(k);
}

void lshared_exit(void) {
  sys_once(&kept_once, kept_init);
  sys_mutex_lock(&kept_lock);
  while (kept) {
    struct kept *k = kept;
    kept = k->next;
    shdict_release(k->d);
    free(k);
  }
  sys_mutex_unlock(&kept_lock);
}

/* The number at idx as text, without ".0" when it is whole. */
static const char *mb_text(lua_State *L, int idx) {
  lua_Number n = lua_tonumber(L, idx);
  if (n == floor(n))
    lua_pushfstring(L, "%I", (LUAI_UACINT)n);
  else
    lua_pushfstring(L, "%f", (LUAI_UACNUMBER)n);
  lua_replace(L, idx < 0 ? idx - 1 : idx); /* keeps the string alive */
  return lua_tostring(L, idx);
}

/* host.shared(name [, size_mb]) -> the dictionary */
int lshared_shared(lua_State *L) {
  size_t nlen;
  const char *name = luaL_checklstring(L, 1, &nlen);
  size_t size = 0; /* 0: the default, or whatever it already has */
  if (!lua_isnoneornil(L, 2)) {
    lua_Number mb = luaL_checknumber(L, 2);
    luaL_argcheck(
        L, mb * 1048576 >= SHDICT_MIN_SIZE && mb * 1048576 <= SHDICT_MAX_SIZE,
        2, "size out of range (0.25 to 4000 MB)");
    size = (size_t)ceil(mb * 1048576 / SIZE_ROUND) * SIZE_ROUND;
  }
  lua_settop(L, 2);
  lua_getfield(L, LUA_REGISTRYINDEX, SHARED_CACHE); /* 3 */
  lua_pushvalue(L, 1);
  if (lua_rawget(L, 3) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, SHARED_SCRATCH);
    struct scratch *s = lua_touserdata(L, -1);
    lua_pop(L, 1); /* the registry keeps it for as long as the VM lives */
    struct shared_box *b = lua_newuserdatauv(L, sizeof *b, 1);
    b->magic = BOX_MAGIC;
    b->d = NULL;
    b->s = s;
    luaL_setmetatable(L, SHARED_META);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, -2);
    lua_rawset(L, 3); /* raises (memory) before the reference is taken */
    int err = SHDICT_ENOMEM;
    struct kept *k = fault_fail(FAULT_C, "shared") ? NULL : malloc(sizeof *k);
    if (!k || !(b->d = shdict_open(name, nlen, size, &err))) {
      free(k);
      lua_pushvalue(L, 1);
      lua_pushnil(L);
      lua_rawset(L, 3);
      return luaL_error(
          L, "%s", err == SHDICT_ENOMEM ? "not enough memory" : "invalid size");
    }
    keep(b->d, k);
  }
  struct shared_box *b = lua_touserdata(L, -1);
  if (size) {
    struct shdict_stats st;
    shdict_stats(b->d, &st);
    if (st.size != size) {
      lua_pushnumber(L, (lua_Number)st.size / 1048576);
      lua_pushnumber(L, (lua_Number)size / 1048576);
      return luaL_error(L,
                        "host.shared: '%s' exists with %s MB, not %s MB "
                        "(leave the size out to get it as it is)",
                        name, mb_text(L, -2), mb_text(L, -1));
    }
  }
  return 1;
}

static int lshared_gc(lua_State *L) {
  struct shared_box *b = luaL_checkudata(L, 1, SHARED_META);
  shdict_release(b->d);
  b->d = NULL;
  return 0;
}

static int lshared_tostring(lua_State *L) {
  luaL_checkudata(L, 1, SHARED_META);
  lua_getiuservalue(L, 1, 1);
  lua_pushfstring(L, "host.shared (%s)", lua_tostring(L, -1));
  return 1;
}

static int scratch_gc(lua_State *L) {
  struct scratch *s = lua_touserdata(L, 1);
  if (s->buf != s->small)
    free(s->buf);
  s->buf = s->small;
  s->cap = sizeof s->small;
  return 0;
}

/* ---- the type ---------------------------------------------------------- */

static const luaL_Reg meth[] = {{"get", lshared_get},
                                {"set", lshared_set},
                                {"add", lshared_add},
                                {"replace", lshared_replace},
                                {"delete", lshared_delete},
                                {"incr", lshared_incr},
                                {"ttl", lshared_ttl},
                                {"expire", lshared_expire},
                                {"keys", lshared_keys},
                                {"flush", lshared_flush},
                                {"lpush", lshared_lpush},
                                {"rpush", lshared_rpush},
                                {"lpop", lshared_lpop},
                                {"rpop", lshared_rpop},
                                {"llen", lshared_llen},
                                {"stats", lshared_stats},
                                {NULL, NULL}};

static const luaL_Reg metameth[] = {{"__gc", lshared_gc},
                                    {"__tostring", lshared_tostring},
                                    {"__index", NULL}, /* set below */
                                    {NULL, NULL}};

void lshared_open(lua_State *L) {
  luaL_newmetatable(L, SHARED_META); /* mt */
  luaL_setfuncs(L, metameth, 0);
  luaL_newlib(L, meth);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  struct scratch *s = lua_newuserdatauv(L, sizeof *s, 0);
  s->buf = s->small;
  s->cap = sizeof s->small;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, scratch_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, SHARED_SCRATCH);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, SHARED_CACHE);
}
