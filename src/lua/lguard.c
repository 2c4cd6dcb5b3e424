/*
 * lguard.c -- time slices and the cpu limit (see lguard.h): the count
 * hook, the interrupt that arms it, and describing a task without stdio.
 *
 * The interrupt runs in a signal handler on POSIX and, on Windows, on
 * the watchdog's thread while the worker is suspended: so it only reads
 * the worker's state, sets flags and calls lua_sethook, and formats text
 * with the small writer below (no locks, no allocation, no stdio, which
 * a suspended thread may be holding).
 */
#include "lguard.h"
#include "conn.h"
#include "lmain.h"
#include "ltask.h"

#include <lauxlib.h>
#include <string.h>

void guard_init(struct guard *g, double slice, double limit) {
  memset(g, 0, sizeof *g);
  atomic_init(&g->running, NULL);
  atomic_init(&g->want_yield, 0);
  g->slice = slice > 0 ? (uint64_t)(slice * 1e9) : 0;
  g->limit = limit > 0 ? (uint64_t)(limit * 1e9) : 0;
}

/* ---- text without stdio ----------------------------------------------- */

struct text {
  char *p;
  size_t n, size; /* p[0 .. n) written; p[n] is always 0 */
};

static void put(struct text *t, const char *s) {
  while (*s && t->n + 1 < t->size)
    t->p[t->n++] = *s++;
  t->p[t->n] = 0;
}

static void put_num(struct text *t, uint64_t v, unsigned base) {
  char digits[24];
  int k = 0;
  do {
    digits[k++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  char s[24];
  for (int i = 0; i < k; i++)
    s[i] = digits[k - 1 - i];
  s[k] = 0;
  put(t, s);
}

/* IPv6 as eight groups, uncompressed: this may run in a signal handler,
 * where inet_ntop (and the snprintf inside it) is not to be called. */
static void put_peer(struct text *t, const struct addr_small *a) {
  if (a->family == AF_INET) {
    for (int i = 0; i < 4; i++) {
      if (i)
        put(t, ".");
      put_num(t, a->ip[i], 10);
    }
  } else if (a->family == AF_INET6) {
    put(t, "[");
    for (int i = 0; i < 8; i++) {
      if (i)
        put(t, ":");
      put_num(t, (uint64_t)a->ip[2 * i] << 8 | a->ip[2 * i + 1], 16);
    }
    put(t, "]");
  } else {
    put(t, "?");
    return;
  }
  put(t, ":");
  put_num(t, a->port, 10);
}

static const char *kind_name(const struct task *t) {
  return t->kind == TASK_HANDLER ? "handler"
         : t->kind == TASK_MAIN  ? "main chunk"
                                 : "task";
}

void guard_describe(struct task *t, char *buf, size_t size) {
  struct text x = {buf, 0, size};
  buf[0] = 0;
  put(&x, "task ");
  put_num(&x, t->id, 10);
  put(&x, " (");
  put(&x, kind_name(t));
  const struct addr_small *a = t->conn ? conn_peer_addr(t->conn) : NULL;
  if (a) {
    put(&x, ", peer ");
    put_peer(&x, a);
  }
  put(&x, ")");
}

/* Publishes "task 7 (...) at f.lua:12" for the watchdog: the first Lua
 * frame of L, and whether a C function runs above it. */
static void publish_where(struct worker *w, struct task *t, lua_State *L) {
  char buf[sizeof w->pulse.where];
  lua_Debug ar;
  guard_describe(t, buf, sizeof buf);
  struct text x = {buf, strlen(buf), sizeof buf};
  for (int level = 0; lua_getstack(L, level, &ar); level++) {
    if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0)
      continue;
    put(&x, " at ");
    put(&x, ar.short_src);
    put(&x, ":");
    put_num(&x, (uint64_t)ar.currentline, 10);
    if (level > 0)
      put(&x, " (inside a C function it called)");
    break;
  }
  worker_publish_where(w, buf);
}

/* ---- the hook -------------------------------------------------------------
 */

static void on_count(lua_State *L, lua_Debug *ar);

static void arm(lua_State *L, int count) {
  lua_sethook(L, on_count, LUA_MASKCOUNT, count);
}

/* Past the limit: see lguard.h.  The traceback is taken once, here,
 * where the task was stopped. */
static void kill(lua_State *L, struct task *t) {
  if (!(t->guard & TASK_KILLED)) {
    t->guard |= TASK_KILLED;
    if (L != t->co)
      arm(t->co, 1);
    luaL_traceback(L, L, GUARD_KILL_MESSAGE, 0); /* may raise: no memory */
    t->kill_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  if (L == t->co && lua_isyieldable(L)) {
    lua_sethook(L, NULL, 0, 0);
    lua_yield(L, 0); /* task_resume ends it */
    return;
  }
  arm(L, 1); /* and again at every instruction until the task ends */
  lua_pushliteral(L, GUARD_KILL_MESSAGE);
  lua_error(L);
}

static void on_count(lua_State *L, lua_Debug *ar) {
  struct lvm *vm = lvm_of_state(L);
  struct guard *g = &vm->guard;
  struct task *t = vm->sched.current;
  (void)ar;
  g->hooks++;
  if (!t || !worker_running(t->w)) {
    lua_sethook(L, NULL, 0, 0); /* armed for a run that is over */
    return;
  }
  struct worker *w = t->w;
  uint64_t run = atomic_load_explicit(&w->pulse.runs, memory_order_relaxed);
  atomic_store_explicit(&w->pulse.hooked, run, memory_order_relaxed);
  if (g->where_run == run) {
    g->where_run = 0;
    publish_where(w, t, L);
  }
  /* The loop's clock has not moved since this run began. */
  uint64_t now = io_clock(), began = io_now(w->loop);
  uint64_t start = began > g->floor ? began : g->floor;
  uint64_t ran = now > start ? now - start : 0;
  if ((t->guard & TASK_KILLED) || (g->limit && t->cpu + ran >= g->limit)) {
    kill(L, t);
    return;
  }
  if (atomic_load_explicit(&g->want_yield, memory_order_relaxed) != run) {
    lua_sethook(L, NULL, 0, 0); /* asked only to look */
    return;
  }
  if (L != t->co || !lua_isyieldable(L)) {
    arm(L, GUARD_RECHECK); /* it cannot pause here: soon again */
    return;
  }
  atomic_store_explicit(&g->want_yield, 0, memory_order_relaxed);
  lua_sethook(L, NULL, 0, 0);
  t->cpu += ran;
  g->floor = now;
  t->guard |= TASK_SLICED;
  lua_yield(L, 0); /* task_resume queues it again */
}

/* ---- the interrupt --------------------------------------------------------
 */

void guard_interrupt(struct worker *w, int ask) {
  /* The VM that runs a task now: the serving one, or one a reload
   * replaced that still finishes its connections (one at a time: they
   * share the worker's thread). */
  struct lvm *vm = lvm_of(w);
  while (vm && !vm->sched.current)
    vm = vm->older;
  if (!vm)
    return; /* between two runs: nothing to do */
  struct guard *g = &vm->guard;
  struct task *t = vm->sched.current;
  lua_State *L = atomic_load_explicit(&g->running, memory_order_relaxed);
  if (!L)
    L = t->co; /* the task's own thread runs */
  uint64_t run = atomic_load_explicit(&w->pulse.runs, memory_order_relaxed);
  if (ask & WORKER_ASK_WHERE) {
    if (g->where_run == run && g->hooks == g->where_hooks)
      publish_where(w, t, L); /* asked before and no instruction ran since:
                                 inside a C call, its frames hold still */
    g->where_run = run;
    g->where_hooks = g->hooks;
  }
  if ((ask & WORKER_ASK_YIELD) && g->slice)
    atomic_store_explicit(&g->want_yield, run, memory_order_relaxed);
  arm(L, 1);
  if (L != t->co)
    arm(t->co, 1);
}

void guard_forget(struct task *t) {
  if (t->kill_ref != LUA_NOREF) {
    luaL_unref(t->vm->L, LUA_REGISTRYINDEX, t->kill_ref);
    t->kill_ref = LUA_NOREF;
  }
}
