/*
 * lstats.c -- host.stats() and host.tasks() (see lstats.h).
 *
 * host.stats() reads every worker's counters (worker.h's worker_stats):
 * this worker's gauges are read live, so a script sees its own changes
 * at once; another worker's are what it published last (within
 * WORKER_PUBLISH_MS of its last turn).  Cumulative counters are exact
 * everywhere.  host.tasks() walks this worker's tasks (ltask.c's
 * task_each) and takes each one's traceback; the dump writes the same
 * to the log, one task per line, on the worker's own thread.
 */
#include "lstats.h"
#include "conn.h"
#include "host.h"
#include "lconn_internal.h"
#include "lhost.h"
#include "lmain.h"
#include "log.h"
#include "ltask.h"
#include "worker.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "sys.h" /* windows.h, after winsock2.h */

#ifndef _WIN32
#include <unistd.h>
#endif

/* ---- host.stats() ------------------------------------------------------- */

static void set_num(lua_State *L, const char *k, uint64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* [t] -> t.k += v, t.k created at 0 (the totals). */
static void add_num(lua_State *L, const char *k, uint64_t v) {
  lua_getfield(L, -1, k);
  lua_Integer old = lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_pushinteger(L, old + (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* What one worker's table holds; `tot` accumulates into the totals, the
 * same shape.  Called twice per worker: once for its table, once adding
 * into the totals' (sum = 1). */
static void fill(lua_State *L, struct worker *w, struct worker *self, int sum) {
  struct worker_stats *st = &w->stats;
  void (*put)(lua_State *, const char *, uint64_t) = sum ? add_num : set_num;
  uint64_t lua_bytes = stat_get(&st->lua_bytes);
  uint64_t bufs = stat_get(&st->buf_bytes);
  uint64_t timers = stat_get(&st->timers);
  if (w == self) { /* live: the caller sees its own doings at once */
    lua_bytes = lvm_of(w)->alloc.used;
    bufs = w->conns.buf_bytes;
    timers = (uint64_t)io_loop_timers(w->loop);
  }
  put(L, "connections_open", stat_get(&st->open));
  put(L, "connections_accepted", stat_get(&st->accepted));
  put(L, "connections_connected", stat_get(&st->connected));
  put(L, "connections_closed", stat_get(&st->closed));
  put(L, "bytes_in", stat_get(&st->bytes_in));
  put(L, "bytes_out", stat_get(&st->bytes_out));
  uint64_t tasks = stat_get(&st->tasks), waiting = 0;
  lua_getfield(L, -1, "waiting");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "waiting");
  }
  for (int k = TASK_RECV; k < TASK_NWAITS; k++) {
    uint64_t n = stat_get(&st->waiting[k]);
    waiting += n;
    put(L, task_wait_names[k], n);
  }
  lua_pop(L, 1);
  put(L, "tasks", tasks);
  put(L, "tasks_ready", tasks > waiting ? tasks - waiting : 0);
  lua_getfield(L, -1, "errors");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "errors");
  }
  for (int k = 1; lconn_words[k] && k < WORKER_NWORDS; k++)
    put(L, lconn_words[k], stat_get(&st->errors[k]));
  lua_pop(L, 1);
  put(L, "forced_yields", stat_get(&st->forced_yields));
  put(L, "cpu_kills", stat_get(&st->cpu_kills));
  put(L, "memory_trims", stat_get(&st->memory_trims));
  put(L, "lua_memory", lua_bytes);
  put(L, "buffer_memory", bufs);
  put(L, "memory_limit", w->host->cfg.memory_limit);
  put(L, "timers", timers);
  put(L, "inbox", (uint64_t)worker_inbox_length(w));
}

/* host.stats() -> {workers = {per worker}, total = {sums}} */
static int lstats_stats(lua_State *L) {
  struct worker *self = lhost_worker(L);
  struct host *h = self->host;
  lua_settop(L, 0);
  lua_newtable(L);
  lua_createtable(L, h->nworkers, 0); /* workers */
  lua_newtable(L);                    /* total */
  for (int i = 0; i < h->nworkers; i++) {
    struct worker *w = h->workers[i];
    if (!w)
      continue;
    lua_newtable(L);
    set_num(L, "worker", (uint64_t)w->id);
    fill(L, w, self, 0);
    lua_rawseti(L, 2, w->id);
    fill(L, w, self, 1);
  }
  set_num(L, "memory_limit", (uint64_t)h->cfg.memory_limit * h->nworkers);
  set_num(L, "workers", (uint64_t)h->nworkers);
  lua_setfield(L, 1, "total");
  lua_setfield(L, 1, "workers");
  return 1;
}

/* ---- host.tasks() ------------------------------------------------------- */

struct walk {
  lua_State *L;
  struct task *self; /* the caller: it is running */
  int n;
};

static const char *kind_name(const struct task *t) {
  return t->kind == TASK_HANDLER ? "handler"
         : t->kind == TASK_MAIN  ? "main"
                                 : "spawn";
}

/* Pushes the description of t, as host.tasks() gives it. */
static void push_task(lua_State *L, struct task *t, struct task *self) {
  lua_createtable(L, 0, 8);
  set_num(L, "id", t->id);
  lua_pushstring(L, kind_name(t));
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, t == self ? "running" : task_wait_names[t->wait]);
  lua_setfield(L, -2, "waits");
  lua_pushnumber(L, (double)t->since / 1e9);
  lua_setfield(L, -2, "since");
  const struct addr_small *a = t->conn ? conn_peer_addr(t->conn) : NULL;
  if (a) {
    char peer[ADDR_TEXT_MAX];
    addr_small_format(a, peer, sizeof peer);
    lua_pushstring(L, peer);
    lua_setfield(L, -2, "peer");
  }
  lua_pushthread(t->co);
  lua_xmove(t->co, L, 1);
  lua_setfield(L, -2, "co");
  if (t == self)
    luaL_traceback(L, L, NULL, 1);
  else
    luaL_traceback(L, t->co, NULL, 0);
  lua_setfield(L, -2, "traceback");
}

static void add_task(struct task *t, void *ud) {
  struct walk *wk = ud;
  if (!lua_checkstack(t->co, 1))
    return;
  push_task(wk->L, t, wk->self);
  lua_rawseti(wk->L, 1, ++wk->n); /* the list: tasks_p's first slot */
}

static int by_id(lua_State *L) {
  lua_getfield(L, 1, "id");
  lua_getfield(L, 2, "id");
  lua_pushboolean(L, lua_tointeger(L, -2) < lua_tointeger(L, -1));
  return 1;
}

/* [worker] -> this worker's tasks, by id (the list at index 1: the walk
 * has the registry's key on top). */
static int tasks_p(lua_State *L) {
  struct worker *w = lua_touserdata(L, 1);
  struct walk wk = {L, lvm_of_L(L)->sched.current, 0};
  lua_settop(L, 0);
  luaL_checkstack(L, 8, NULL);
  lua_newtable(L);
  task_each(w, L, add_task, &wk);
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "sort");
  lua_remove(L, -2);
  if (lua_isfunction(L, -1)) {
    lua_pushvalue(L, 1);
    lua_pushcfunction(L, by_id);
    lua_call(L, 2, 0);
  } else {
    lua_pop(L, 1);
  }
  return 1;
}

/* host.tasks() -> {{id=, kind=, waits=, since=, peer=, co=, traceback=}} */
static int lstats_tasks(lua_State *L) {
  lua_settop(L, 0);
  lua_pushlightuserdata(L, lhost_worker(L));
  return tasks_p(L);
}

/* host._cancel(co): ends a task (the test runner's, for a test that ran
 * past its time); true if co was a task of this worker. */
static int lstats_cancel(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTHREAD);
  struct task *t = task_of(lua_tothread(L, 1));
  int ok = t && t->w == lhost_worker(L) && t->co != L;
  if (ok)
    task_cancel(t);
  lua_pushboolean(L, ok);
  return 1;
}

/* ---- the dump -------------------------------------------------------------
 */

/* One line per task: "task 7 (handler, peer ...) waits recv since 2.5 s:
 * traceback". */
static int dump_p(lua_State *L) {
  struct worker *w = lua_touserdata(L, 1);
  tasks_p(L);
  int n = (int)lua_rawlen(L, 1);
  double now = (double)io_now(w->loop) / 1e9;
  log_write(LOG_INFO, w->id, "%d task(s)%s", n, n ? ":" : "");
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    lua_getfield(L, -1, "id");
    lua_getfield(L, -2, "kind");
    lua_getfield(L, -3, "peer");
    lua_getfield(L, -4, "waits");
    lua_getfield(L, -5, "since");
    lua_getfield(L, -6, "traceback");
    const char *peer = lua_tostring(L, -4);
    log_write(LOG_INFO, w->id, "task %d (%s%s%s) %s for %.1f s: %s",
              (int)lua_tointeger(L, -6), lua_tostring(L, -5),
              peer ? ", peer " : "", peer ? peer : "", lua_tostring(L, -3),
              now - lua_tonumber(L, -2), lua_tostring(L, -1));
    lua_settop(L, 1);
  }
  return 0;
}

void lstats_dump(struct worker *w) {
  /* The serving VM's tasks, then those of VMs a reload replaced that
   * still finish their connections. */
  for (struct lvm *vm = lvm_of(w); vm; vm = vm->older) {
    if (!vm->L)
      continue;
    lua_State *L = vm->L;
    lua_pushcfunction(L, dump_p);
    lua_pushlightuserdata(L, w);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
      log_write(LOG_WARN, w->id, "cannot list the tasks: %s",
                lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  }
}

/* ---- the module --------------------------------------------------------- */

static const luaL_Reg funcs[] = {{"stats", lstats_stats},
                                 {"tasks", lstats_tasks},
                                 {"_cancel", lstats_cancel},
                                 {NULL, NULL}};

void lstats_setfuncs(lua_State *L, struct worker *w) {
  lua_pushlightuserdata(L, w);
  luaL_setfuncs(L, funcs, 1);
#ifdef _WIN32
  lua_pushinteger(L, (lua_Integer)GetCurrentProcessId());
#else
  lua_pushinteger(L, (lua_Integer)getpid());
#endif
  lua_setfield(L, -2, "pid");
}
