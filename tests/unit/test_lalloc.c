/*
 * test_lalloc.c -- the Lua VM's allocator (src/lua/lalloc.h): size
 * classes 16 bytes apart up to LALLOC_SMALL, malloc beyond, free lists
 * reused last-in first-out, the leftover of a chunk carved into free
 * lists, exact accounting of `used`, and a limit that refuses growth
 * without changing it; then a real lua_State on it.
 *
 * The block has no header, so the classes show only through the public
 * struct: where the bump pointer moves, what sits on a free list.  Under
 * AddressSanitizer lalloc.c sends every block to malloc (so that ASan
 * sees Lua's blocks); the class tests then give way to one that checks
 * exactly that.  Both builds run the rest.
 */
#include "lalloc.h"
#include "t.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__) /* the test of lalloc.c's */
#define CLASSES 0
#else
#define CLASSES 1
#endif

/* ---- the three calls Lua makes ----------------------------------------- */

/* A new block: Lua passes a type tag as osize then; it is not a size. */
static void *get(struct lalloc *a, size_t n) {
  return lalloc(a, NULL, LUA_TTABLE, n);
}

static void *resize(struct lalloc *a, void *p, size_t old, size_t n) {
  return lalloc(a, p, old, n);
}

static void put(struct lalloc *a, void *p, size_t old) { lalloc(a, p, old, 0); }

static void fill(void *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    ((unsigned char *)p)[i] = (unsigned char)(seed + i * 7);
}

/* 1 if the first n bytes of p are still fill(p, n, seed)'s. */
static int intact(const void *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    if (((const unsigned char *)p)[i] != (unsigned char)(seed + i * 7))
      return 0;
  return 1;
}

static void destroy(void *a) { lalloc_destroy(a); }

/* lalloc_init, and lalloc_destroy if the test fails (t.h). */
static void fresh(struct lalloc *a, size_t limit) {
  lalloc_init(a, limit);
  t_on_failure(destroy, a);
}

/* ---- accounting and the limit (every build) ----------------------------- */

static void used_is_exact_after_every_op(void) {
  struct lalloc a;
  fresh(&a, 0);
  T_ASSERT_EQ(a.used, 0);
  void *p = get(&a, 10);
  T_ASSERT(p != NULL);
  T_ASSERT_EQ(a.used, 10); /* as asked, not rounded to its class */
  void *q = get(&a, 5000);
  T_ASSERT(q != NULL);
  T_ASSERT_EQ(a.used, 5010);
  p = resize(&a, p, 10, 300);
  T_ASSERT(p != NULL);
  T_ASSERT_EQ(a.used, 5300);
  q = resize(&a, q, 5000, 20);
  T_ASSERT(q != NULL);
  T_ASSERT_EQ(a.used, 320);
  p = resize(&a, p, 300, 300); /* the same size: nothing changes */
  T_ASSERT(p != NULL);
  T_ASSERT_EQ(a.used, 320);
  put(&a, q, 20);
  T_ASSERT_EQ(a.used, 300);
  put(&a, p, 300);
  T_ASSERT_EQ(a.used, 0);
  lalloc_destroy(&a);
}

/* Without a block, osize is Lua's type tag: never counted, never freed. */
static void osize_without_a_block_is_a_type_tag(void) {
  struct lalloc a;
  fresh(&a, 0);
  void *p = lalloc(&a, NULL, LUA_TSTRING, 10);
  T_ASSERT(p != NULL);
  T_ASSERT_EQ(a.used, 10);
  T_ASSERT(lalloc(&a, NULL, LUA_TUSERDATA, 0) == NULL); /* free(NULL) */
  T_ASSERT_EQ(a.used, 10);
  put(&a, p, 10);
  T_ASSERT_EQ(a.used, 0);
  lalloc_destroy(&a);
}

static void limit_refuses_growth_and_keeps_used(void) {
  struct lalloc a;
  fresh(&a, 1000);
  void *p = get(&a, 600);
  T_ASSERT(p != NULL);
  fill(p, 600, 1);
  T_ASSERT(get(&a, 401) == NULL); /* 1001 > 1000 */
  T_ASSERT_EQ(a.used, 600);
  void *q = get(&a, 400); /* exactly the limit is allowed */
  T_ASSERT(q != NULL);
  T_ASSERT_EQ(a.used, 1000);
  T_ASSERT(get(&a, 1) == NULL);
  T_ASSERT_EQ(a.used, 1000);
  put(&a, q, 400);
  T_ASSERT(resize(&a, p, 600, 1001) == NULL); /* grows past: refused */
  T_ASSERT_EQ(a.used, 600);
  T_ASSERT(intact(p, 600, 1)); /* and the block is untouched */
  p = resize(&a, p, 600, 1000);
  T_ASSERT(p != NULL);
  T_ASSERT_EQ(a.used, 1000);
  T_ASSERT(intact(p, 600, 1));
  p = resize(&a, p, 1000, 100); /* a shrink is never refused */
  T_ASSERT(p != NULL);
  T_ASSERT_EQ(a.used, 100);
  T_ASSERT(intact(p, 100, 1));
  put(&a, p, 100);
  T_ASSERT_EQ(a.used, 0);
  lalloc_destroy(&a);
}

/* The large path has the same limit: realloc is never asked to grow past
 * it. */
static void limit_applies_to_large_blocks(void) {
  struct lalloc a;
  fresh(&a, 10000);
  void *p = get(&a, 5000);
  T_ASSERT(p != NULL);
  fill(p, 5000, 2);
  T_ASSERT(resize(&a, p, 5000, 10001) == NULL);
  T_ASSERT_EQ(a.used, 5000);
  T_ASSERT(intact(p, 5000, 2));
  T_ASSERT(get(&a, 5001) == NULL);
  T_ASSERT_EQ(a.used, 5000);
  p = resize(&a, p, 5000, 10000);
  T_ASSERT(p != NULL);
  T_ASSERT(intact(p, 5000, 2));
  put(&a, p, 10000);
  T_ASSERT_EQ(a.used, 0);
  lalloc_destroy(&a);
}

/* Grow and shrink through the classes, into malloc and back: the bytes
 * both sizes share are kept each time. */
static void realloc_across_classes_keeps_data(void) {
  static const size_t steps[] = {20,   40,  1024, 1025, 5000, 70000,
                                 2000, 500, 33,   32,   17,   1};
  struct lalloc a;
  fresh(&a, 0);
  size_t size = 1;
  void *p = get(&a, size);
  T_ASSERT(p != NULL);
  fill(p, size, 3);
  for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
    size_t n = steps[i], kept = size < n ? size : n;
    p = resize(&a, p, size, n);
    T_ASSERT(p != NULL);
    T_ASSERT_EQ(a.used, n);
    T_ASSERT(intact(p, kept, 3));
    fill(p, n, 3);
    size = n;
  }
  put(&a, p, size);
  T_ASSERT_EQ(a.used, 0);
  lalloc_destroy(&a);
}

#if defined(HOST_FAULT_INJECTION) && !defined(_WIN32)
/* Must run first: main sets HOST_FAULT_LUA=1, so the process's first
 * growing allocation of the Lua kind fails, and only that one. */
static void injected_fault_fails_one_growth(void) {
  struct lalloc a;
  fresh(&a, 0);
  T_ASSERT(get(&a, 100) == NULL);
  T_ASSERT_EQ(a.used, 0);
  void *p = get(&a, 100);
  T_ASSERT(p != NULL);
  T_ASSERT_EQ(a.used, 100);
  put(&a, p, 100);
  T_ASSERT_EQ(a.used, 0);
  lalloc_destroy(&a);
}
#endif

/* ---- the size classes (builds without ASan) ------------------------------ */

#if CLASSES
static size_t class_of(size_t size) { return (size + 15) / 16 - 1; }

/* Each small block takes its size rounded up to 16 from the chunk being
 * carved, 16-aligned; 1024 is the last small size. */
static void small_sizes_round_up_in_16_byte_steps(void) {
  static const size_t sizes[] = {1,  15,   16,   17,   31,   32,
                                 33, 1007, 1008, 1009, 1023, 1024};
  void *blocks[sizeof sizes / sizeof *sizes];
  struct lalloc a;
  fresh(&a, 0);
  void *first = get(&a, 16); /* carves the first chunk */
  T_ASSERT(first != NULL);
  void *chunk = a.chunks;
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    char *bump = a.bump;
    blocks[i] = get(&a, sizes[i]);
    T_ASSERT(blocks[i] == bump);
    T_ASSERT_EQ((uintptr_t)blocks[i] % 16, 0);
    T_ASSERT_EQ(a.bump - bump, (sizes[i] + 15) / 16 * 16);
  }
  T_ASSERT(a.chunks == chunk); /* all from the one chunk */
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    put(&a, blocks[i], sizes[i]);
    T_ASSERT(a.free[class_of(sizes[i])] == blocks[i]);
  }
  put(&a, first, 16);
  T_ASSERT_EQ(a.used, 0);
  lalloc_destroy(&a);
}

/* 1025 bytes is malloc's: the chunk and the free lists never see it. */
static void above_1024_bypasses_the_classes(void) {
  struct lalloc a;
  void *before[LALLOC_CLASSES];
  fresh(&a, 0);
  put(&a, get(&a, 16), 16);
  char *bump = a.bump;
  void *small = get(&a, 1024);
  T_ASSERT(small == bump);
  T_ASSERT(a.bump == bump + 1024);
  memcpy(before, a.free, sizeof before);
  bump = a.bump;
  void *large = get(&a, 1025);
  T_ASSERT(large != NULL);
  T_ASSERT(a.bump == bump);
  put(&a, large, 1025);
  T_ASSERT(memcmp(before, a.free, sizeof before) == 0);
  put(&a, small, 1024);
  T_ASSERT(a.free[LALLOC_CLASSES - 1] == small);
  T_ASSERT_EQ(a.used, 0);
  lalloc_destroy(&a);
}

/* A freed block is the next one of its class (any size in it), last in
 * first out, and no other class's. */
static void free_lists_reuse_per_class(void) {
  struct lalloc a;
  fresh(&a, 0);
  void *x = get(&a, 100), *y = get(&a, 100); /* class 97..112 */
  T_ASSERT(x && y && x != y);
  put(&a, x, 100);
  put(&a, y, 100);
  void *other = get(&a, 113); /* the next class: from the chunk */
  T_ASSERT(other != x && other != y);
  T_ASSERT(get(&a, 97) == y);
  T_ASSERT(get(&a, 112) == x);
  T_ASSERT(a.free[class_of(100)] == NULL);
  put(&a, other, 113);
  put(&a, x, 112);
  put(&a, y, 97);
  T_ASSERT_EQ(a.used, 0);
  lalloc_destroy(&a);
}

/* Resizing within a class keeps the block; into another class moves it
 * and frees the old one to its own list. */
static void realloc_within_a_class_stays_put(void) {
  struct lalloc a;
  fresh(&a, 0);
  void *p = get(&a, 17);
  T_ASSERT(p != NULL);
  fill(p, 17, 4);
  T_ASSERT(resize(&a, p, 17, 32) == p);
  T_ASSERT(resize(&a, p, 32, 18) == p);
  T_ASSERT_EQ(a.used, 18);
  void *q = resize(&a, p, 18, 33);
  T_ASSERT(q != NULL && q != p);
  T_ASSERT(intact(q, 17, 4));
  T_ASSERT(a.free[class_of(18)] == p);
  T_ASSERT_EQ(a.used, 33);
  put(&a, q, 33);
  T_ASSERT_EQ(a.used, 0);
  lalloc_destroy(&a);
}

/* When a chunk runs out, what is left of it goes to the free list of the
 * largest class it fills, and the next request of that class gets it. */
static void chunk_leftover_is_not_lost(void) {
  enum { MAX = 200 };
  static void *blocks[MAX];
  struct lalloc a;
  fresh(&a, 0);
  blocks[0] = get(&a, 1024);
  T_ASSERT(blocks[0] != NULL);
  void *first = a.chunks;
  char *tail = NULL;
  size_t left = 0;
  int n = 1;
  while (n < MAX && a.chunks == first) {
    tail = a.bump;
    left = (size_t)(a.bump_end - a.bump);
    blocks[n] = get(&a, 1024);
    T_ASSERT(blocks[n] != NULL);
    n++;
  }
  T_ASSERT(a.chunks != first); /* a second chunk was carved */
  T_ASSERT(left < 1024);
  if (left >= 16) {
    size_t c = class_of(left & ~(size_t)15);
    T_ASSERT(a.free[c] == tail);
    void *reused = get(&a, (c + 1) * 16);
    T_ASSERT(reused == tail);
    put(&a, reused, (c + 1) * 16);
  }
  for (int i = 0; i < n; i++)
    put(&a, blocks[i], 1024);
  T_ASSERT_EQ(a.used, 0);
  lalloc_destroy(&a);
  T_ASSERT(a.chunks == NULL && a.bump == NULL && a.bump_end == NULL);
  for (int i = 0; i < LALLOC_CLASSES; i++)
    T_ASSERT(a.free[i] == NULL);
}
#else
/* The ASan build: every block from malloc, so ASan checks Lua's memory;
 * no chunk is carved and no free list used, and `used` is as exact. */
static void asan_build_sends_every_block_to_malloc(void) {
  static const size_t sizes[] = {1, 16, 17, 1024, 1025, 70000};
  void *blocks[sizeof sizes / sizeof *sizes];
  struct lalloc a;
  size_t used = 0;
  fresh(&a, 0);
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    blocks[i] = get(&a, sizes[i]);
    T_ASSERT(blocks[i] != NULL);
    used += sizes[i];
    T_ASSERT_EQ(a.used, used);
  }
  blocks[0] = resize(&a, blocks[0], 1, 16); /* same class: still moves */
  T_ASSERT(blocks[0] != NULL);
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
    put(&a, blocks[i], i == 0 ? 16 : sizes[i]);
  T_ASSERT_EQ(a.used, 0);
  T_ASSERT(a.chunks == NULL && a.bump == NULL);
  for (int i = 0; i < LALLOC_CLASSES; i++)
    T_ASSERT(a.free[i] == NULL);
  lalloc_destroy(&a);
}
#endif

/* ---- a real lua_State ---------------------------------------------------- */

/* lalloc behind a check: after every call `used` must equal what the
 * calls asked for (kept here independently), and never pass the limit. */
struct watched {
  lua_State *L; /* the state on it, or NULL once closed */
  struct lalloc a;
  size_t expect;  /* the sum of the live blocks' sizes */
  size_t peak;    /* the highest `used` seen */
  int mismatches; /* calls after which used != expect */
  int refused;    /* calls that returned NULL for a block */
};

static void *watched_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  struct watched *w = ud;
  size_t old = ptr ? osize : 0;
  void *p = lalloc(&w->a, ptr, osize, nsize);
  if (nsize == 0 || p)
    w->expect = w->expect - old + nsize;
  else
    w->refused++;
  w->mismatches += w->a.used != w->expect;
  if (w->a.used > w->peak)
    w->peak = w->a.used;
  return p;
}

/* A failed test's cleanup: the state, then the allocator. */
static void close_watched(void *ud) {
  struct watched *w = ud;
  if (w->L)
    lua_close(w->L);
  w->L = NULL;
  lalloc_destroy(&w->a);
}

/* Opens a state on a watched lalloc with the standard libraries. */
static lua_State *open_watched(struct watched *w, size_t limit) {
  memset(w, 0, sizeof *w);
  lalloc_init(&w->a, limit);
  t_on_failure(close_watched, w);
  w->L = lua_newstate(watched_alloc, w);
  if (w->L)
    luaL_openlibs(w->L);
  return w->L;
}

/* Tables, short and long strings, closures and coroutines, a string
 * grown past LALLOC_SMALL by concatenation, then all of it dropped. */
static const char *workload =
    "local t = {}\n"
    "for i = 1, 2000 do t[i] = { i, tostring(i), ('x'):rep(i % 1500) } end\n"
    "local s = ''\n"
    "for i = 1, 300 do s = s .. i .. ',' end\n"
    "local cos = {}\n"
    "for i = 1, 50 do\n"
    "  cos[i] = coroutine.wrap(function(a) local b = coroutine.yield(a + 1)"
    " return b * 2 end)\n"
    "  assert(cos[i](i) == i + 1 and cos[i](i) == i * 2)\n"
    "end\n"
    "local keys = {}\n"
    "for k = 1, 5000 do keys['k' .. k] = k end\n"
    "t, s, cos, keys = nil, nil, nil, nil\n"
    "collectgarbage()\n"
    "return 'done'\n";

static void lua_state_returns_to_baseline(void) {
  struct watched w;
  lua_State *L = open_watched(&w, 0);
  T_ASSERT(L != NULL);
  size_t opened = w.a.used;
  T_ASSERT(opened > 0);
  int err = luaL_dostring(L, workload);
  T_ASSERT_STREQ(lua_tostring(L, -1), "done"); /* or the error */
  T_ASSERT_EQ(err, 0);
  lua_pop(L, 1);
  T_ASSERT(w.peak > opened + 100000); /* the workload did allocate */
  lua_close(L);
  w.L = NULL;
  T_ASSERT_EQ(w.a.used, 0); /* every block given back */
  T_ASSERT_EQ(w.expect, 0);
  T_ASSERT_EQ(w.mismatches, 0);
  T_ASSERT_EQ(w.refused, 0);
  lalloc_destroy(&w.a);
}

/* Past the limit Lua raises "not enough memory" in the code that asked;
 * the state stays usable and `used` never passes the limit. */
static void lua_state_over_its_limit_raises(void) {
  struct watched w;
  size_t limit = 1u << 20;
  lua_State *L = open_watched(&w, limit);
  T_ASSERT(L != NULL);
  T_ASSERT_EQ(luaL_loadstring(L, "local t = {}\n"
                                 "for i = 1, 1e7 do\n"
                                 "  t[i] = ('y'):rep(64) .. i\n"
                                 "end"),
              LUA_OK);
  T_ASSERT_EQ(lua_pcall(L, 0, 0, 0), LUA_ERRMEM);
  T_ASSERT_STREQ(lua_tostring(L, -1), "not enough memory");
  lua_pop(L, 1);
  T_ASSERT(w.refused > 0);
  T_ASSERT(w.peak <= limit);
  lua_gc(L, LUA_GCCOLLECT, 0);
  T_ASSERT_EQ(luaL_dostring(L, "return #('z'):rep(1000)"), LUA_OK);
  T_ASSERT_EQ(lua_tointeger(L, -1), 1000);
  lua_close(L);
  w.L = NULL;
  T_ASSERT_EQ(w.a.used, 0);
  T_ASSERT_EQ(w.mismatches, 0);
  lalloc_destroy(&w.a);
}

/* ---- the room left, and giving chunks back (lalloc_trim) ---------------- */

#define N 20000 /* 64-byte blocks: about 20 chunks of 64 KiB */

static void limit_is_the_room_left(void) {
  struct lalloc a;
  lalloc_init(&a, 4096);
  T_ASSERT_EQ(*a.room, 4096);
  void *p = lalloc(&a, NULL, 0, 3000);
  T_ASSERT(p != NULL);
  a.own_room = 4096 - 2000; /* say, connection buffers took 2000 */
  T_ASSERT(lalloc(&a, NULL, 0, 200) == NULL);
  T_ASSERT(lalloc(&a, p, 3000, 3500) == NULL); /* growing, likewise */
  p = lalloc(&a, p, 3000, 2900);               /* shrinking is allowed */
  T_ASSERT(p != NULL);
  a.own_room = 4096;
  void *q = lalloc(&a, NULL, 0, 200);
  T_ASSERT(q != NULL);
  lalloc(&a, q, 200, 0);
  lalloc(&a, p, 2900, 0);
  T_ASSERT_EQ(a.used, 0);
  lalloc_destroy(&a);
}

/* What the caller keeps for later (the idle buffers) gives way at the
 * limit: reclaim runs once per allocation that would not fit, and the
 * allocation is tried again only if it freed something. */
struct keeper {
  size_t *room;
  size_t kept; /* bytes it could give back */
  int calls;
};

static int give_back(void *ud) {
  struct keeper *k = ud;
  k->calls++;
  if (k->kept == 0)
    return 0;
  *k->room += k->kept;
  k->kept = 0;
  return 1;
}

static void reclaim_makes_room_at_the_limit(void) {
  struct lalloc a;
  size_t total = 0, room = 2000;
  struct keeper k = {&room, 3000, 0};
  lalloc_init(&a, 0);
  lalloc_count_in(&a, &total, &room);
  lalloc_reclaim_with(&a, give_back, &k);
  void *p = lalloc(&a, NULL, 0, 1500); /* fits: no reclaim */
  T_ASSERT(p != NULL);
  T_ASSERT_EQ(k.calls, 0);
  void *q = lalloc(&a, NULL, 0, 2000); /* fits once the keeper gave back */
  T_ASSERT(q != NULL);
  T_ASSERT_EQ(k.calls, 1);
  T_ASSERT_EQ(room, 5000);
  T_ASSERT(lalloc(&a, NULL, 0, 2000) == NULL); /* nothing left to give */
  T_ASSERT_EQ(k.calls, 2);
  k.kept = 100; /* too little: still NULL, after one call */
  T_ASSERT(lalloc(&a, NULL, 0, 2000) == NULL);
  T_ASSERT_EQ(k.calls, 3);
  lalloc(&a, q, 2000, 0);
  lalloc(&a, p, 1500, 0);
  T_ASSERT_EQ(total, 0);
  lalloc_destroy(&a);
}

/* Two VMs counted in one total (a reload's new VM beside the old one):
 * the limit holds for both together, and what one frees the other may
 * take. */
static void two_vms_share_one_limit(void) {
  struct lalloc a, b;
  size_t total = 0, room = 4096;
  lalloc_init(&a, 4096);
  lalloc_init(&b, 4096);
  void *early = lalloc(&a, NULL, 0, 100); /* before it is counted in */
  lalloc_count_in(&a, &total, &room);
  lalloc_count_in(&b, &total, &room);
  T_ASSERT_EQ(total, 100);
  void *p = lalloc(&a, NULL, 0, 3000);
  T_ASSERT(p != NULL);
  T_ASSERT_EQ(total, 3100);
  T_ASSERT(lalloc(&b, NULL, 0, 1000) == NULL); /* each alone would fit */
  void *q = lalloc(&b, NULL, 0, 900);
  T_ASSERT(q != NULL);
  T_ASSERT_EQ(a.used, 3100);
  T_ASSERT_EQ(b.used, 900);
  room = 4000; /* the buffers grew */
  T_ASSERT(lalloc(&b, q, 900, 950) == NULL);
  lalloc(&a, p, 3000, 0);             /* the old VM lets go... */
  void *r = lalloc(&b, q, 900, 3500); /* ...and the new one may grow */
  T_ASSERT(r != NULL);
  T_ASSERT_EQ(total, 3600);
  lalloc(&b, r, 3500, 0);
  lalloc(&a, early, 100, 0);
  T_ASSERT_EQ(total, 0);
  T_ASSERT_EQ(a.used, 0);
  T_ASSERT_EQ(b.used, 0);
  lalloc_destroy(&a);
  lalloc_destroy(&b);
}

static void no_limit(void) {
  struct lalloc a;
  lalloc_init(&a, 0);
  T_ASSERT(*a.room == SIZE_MAX);
  void *p = lalloc(&a, NULL, 0, 1 << 20);
  T_ASSERT(p != NULL);
  lalloc(&a, p, 1 << 20, 0);
  lalloc_destroy(&a);
}

static void trim_returns_only_chunks_all_free(void) {
  struct lalloc a;
  lalloc_init(&a, 0);
  void **v = malloc(N * sizeof *v);
  T_ASSERT(v != NULL);
  for (int i = 0; i < N; i++) {
    v[i] = lalloc(&a, NULL, 0, 64);
    T_ASSERT(v[i] != NULL);
    memset(v[i], i & 0xff, 64);
  }
  size_t peak = a.nchunks;
  T_ASSERT_EQ(lalloc_trim(&a), 0); /* everything is in use */
  /* Free all but every 4000th: those chunks stay, the others go. */
  int kept = 0;
  for (int i = 0; i < N; i++) {
    if (i % 4000 == 0) {
      kept++;
      continue;
    }
    lalloc(&a, v[i], 64, 0);
  }
  size_t freed = lalloc_trim(&a);
  if (peak == 0) { /* a sanitizer build: every block is malloc's */
    T_ASSERT_EQ(freed, 0);
  } else {
    T_ASSERT(peak >= 19);
    T_ASSERT_EQ(a.nchunks, peak - freed);
    T_ASSERT(a.nchunks <= (size_t)kept + 1); /* + the one being carved */
    T_ASSERT(freed >= peak - (size_t)kept - 1);
  }
  /* What stayed is whole, and the free blocks left are usable. */
  for (int i = 0; i < N; i += 4000)
    for (int j = 0; j < 64; j++)
      T_ASSERT_EQ(((unsigned char *)v[i])[j], i & 0xff);
  for (int i = 1; i < 1000; i++) {
    v[i] = lalloc(&a, NULL, 0, 64);
    T_ASSERT(v[i] != NULL);
    memset(v[i], 0x5a, 64);
  }
  for (int i = 1; i < 1000; i++)
    lalloc(&a, v[i], 64, 0);
  for (int i = 0; i < N; i += 4000)
    lalloc(&a, v[i], 64, 0);
  T_ASSERT_EQ(a.used, 0);
  lalloc_trim(&a);
  T_ASSERT(a.nchunks <= 1);
  lalloc_destroy(&a);
  free(v);
}

int main(void) {
#if defined(HOST_FAULT_INJECTION) && !defined(_WIN32)
  /* Before any allocation of the Lua kind: fault.c reads it once. */
  setenv("HOST_FAULT_LUA", "1", 1);
  T_RUN(injected_fault_fails_one_growth);
#endif
  T_RUN(used_is_exact_after_every_op);
  T_RUN(osize_without_a_block_is_a_type_tag);
  T_RUN(limit_refuses_growth_and_keeps_used);
  T_RUN(limit_applies_to_large_blocks);
  T_RUN(realloc_across_classes_keeps_data);
#if CLASSES
  T_RUN(small_sizes_round_up_in_16_byte_steps);
  T_RUN(above_1024_bypasses_the_classes);
  T_RUN(free_lists_reuse_per_class);
  T_RUN(realloc_within_a_class_stays_put);
  T_RUN(chunk_leftover_is_not_lost);
#else
  T_RUN(asan_build_sends_every_block_to_malloc);
#endif
  T_RUN(lua_state_returns_to_baseline);
  T_RUN(lua_state_over_its_limit_raises);
  T_RUN(limit_is_the_room_left);
  T_RUN(two_vms_share_one_limit);
  T_RUN(reclaim_makes_room_at_the_limit);
  T_RUN(no_limit);
  T_RUN(trim_returns_only_chunks_all_free);
  return test_report();
}
