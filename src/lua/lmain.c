/*
 * lmain.c -- a worker's Lua VM, from its creation to its close (see
 * lmain.h): the allocator, the standard libraries and the host module,
 * loading the script (or the test runner) in the manner of lua.c, its
 * main task, listening on --listen for the handler it returns, and the
 * worker's turn, kill and close hooks.  A reload (lreload.c) makes a
 * second VM the same way; a failure of its script does not stop the
 * host but hands back to the VM it was to replace.
 */
#include "lmain.h"
#include "host.h"
#include "lembed.h"
#include "lhost.h"
#include "llistener.h"
#include "lshared.h"
#include "lstats.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>

/* The generational collector's multipliers, in percent (see
 * lmain_new_vm). */
enum { GC_MINOR_MUL = 40, GC_MAJOR_MUL = 100 };

static int panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  log_write(LOG_ERROR, 0, "unprotected Lua error: %s", msg ? msg : "?");
  abort(); /* an invariant broke: every Lua call the host makes is protected */
}

/* ---- the script's main chunk ------------------------------------------ */

/* [handler] -> listens on every --listen address; raises on failure. */
static int listen_defaults(lua_State *L) {
  struct worker *w = lvm_of_L(L)->w;
  const struct host_config *cfg = &w->host->cfg;
  for (int i = 0; i < cfg->nlisten; i++) {
    lua_pushvalue(L, 1);
    if (w->stopping)
      return 0; /* stopped before we got here: nothing to listen for */
    if (lhost_listen(L, w, cfg->listen[i], 0) != 1)
      return luaL_error(L, "cannot listen on %s: %s", cfg->listen[i],
                        lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return 0;
}

/* The script failed: at start the host stops (exit 1); in a reload the
 * previous script goes on. */
static void failed(struct lvm *vm, const char *msg) {
  if (vm->loading)
    lreload_failed(vm, msg);
  else
    host_fail(vm->w->host, msg);
}

void lmain_done(struct lvm *vm, lua_State *co, int nres) {
  struct worker *w = vm->w;
  struct host *host = w->host;
  lua_State *L = vm->L;
  vm->main_done = 1;
  if (host->cfg.test_mode) {
    /* The test runner returns how many tests failed. */
    lua_Integer failed = nres > 0 ? lua_tointeger(co, -nres) : 1;
    host_set_exit(host, failed == 0 ? HOST_EXIT_OK : HOST_EXIT_FAILED);
    host_stop(host, 0);
    return;
  }
  int t = nres > 0 ? lua_type(co, -nres) : LUA_TNIL;
  if (t != LUA_TNIL && t != LUA_TFUNCTION) {
    char msg[256];
    snprintf(msg, sizeof msg,
             "%s: the script returned a %s (expected a handler function "
             "or nothing)",
             host->cfg.script, lua_typename(co, t));
    failed(vm, msg);
    return;
  }
  if (t == LUA_TFUNCTION) {
    lua_pushcfunction(L, listen_defaults);
    lua_pushvalue(co, -nres);
    lua_xmove(co, L, 1);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
      failed(vm, lua_tostring(L, -1));
      lua_pop(L, 1);
      return;
    }
  }
  if (vm->loading)
    lreload_commit(vm);
}

void lmain_failed(struct lvm *vm, const char *msg) { failed(vm, msg); }

/* Lua 5.4.4's full collection in generational mode leaves the
 * collector's debt as it was, less what it freed: the next collection
 * waits until the heap has grown back by all of it, to the peak that
 * was collected.  A step after it (a minor collection, with little young
 * after a full one) sets the debt from the heap as it is now. */
static int full_collection(struct lvm *vm) {
  if (lua_gc(vm->L, LUA_GCCOLLECT) == -1)
    return -1; /* called from a finalizer: the collector is stopped */
  if (!vm->gc_incremental)
    lua_gc(vm->L, LUA_GCSTEP, 0);
  return 0;
}

/* collectgarbage(opt, ...): Lua's, but "collect" as full_collection does
 * it, and the mode kept for that.  Options are checked here, so that a
 * wrong one is reported against collectgarbage. */
static int collectgarbage_(lua_State *L) {
  static const char *const opts[] = {"stop",        "restart",   "collect",
                                     "count",       "step",      "setpause",
                                     "setstepmul",  "isrunning", "generational",
                                     "incremental", NULL};
  enum { COLLECT = 2, GENERATIONAL = 8, INCREMENTAL = 9 }; /* in opts */
  int o = luaL_checkoption(L, 1, "collect", opts);
  if (o == COLLECT) {
    if (full_collection(lvm_of_L(L)) == -1)
      luaL_pushfail(L); /* as Lua's own says it */
    else
      lua_pushinteger(L, 0);
    return 1;
  }
  lua_pushvalue(L, lua_upvalueindex(1)); /* Lua's own */
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  if (o == GENERATIONAL || o == INCREMENTAL)
    lvm_of_L(L)->gc_incremental = o == INCREMENTAL;
  return lua_gettop(L);
}

/* Protected: set up the VM, load the script, queue its main task. */
static int start_p(lua_State *L) {
  struct worker *w = lua_touserdata(L, 1);
  const struct host_config *cfg = &w->host->cfg;
  lua_settop(L, 0);
  lhost_setup(L, w);
  lua_getglobal(L, "collectgarbage");
  lua_pushcclosure(L, collectgarbage_, 1);
  lua_setglobal(L, "collectgarbage");
  int nargs = cfg->argc;
  if (cfg->test_mode) {
    if (lembed_load(L, "host/runner.lua") != LUA_OK)
      return lua_error(L);
  } else {
    if (luaL_loadfile(L, cfg->script) != LUA_OK)
      return lua_error(L);
    /* The global `arg`, as the lua command sets it. */
    lua_createtable(L, cfg->argc, 1);
    lua_pushstring(L, cfg->script);
    lua_rawseti(L, -2, 0);
    for (int i = 0; i < cfg->argc; i++) {
      lua_pushstring(L, cfg->argv[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setglobal(L, "arg");
  }
  luaL_checkstack(L, nargs, "too many arguments");
  for (int i = 0; i < cfg->argc; i++)
    lua_pushstring(L, cfg->argv[i]);
  if (!task_spawn(w, L, nargs, TASK_MAIN, NULL, 0, 0))
    return luaL_error(L, "not enough memory");
  return 0;
}

/* ---- the hooks -------------------------------------------------------------
 */

/* The VM's allocator at the memory limit: the idle buffers go first. */
static int drop_spares(void *ud) { return conn_set_drop_spares(ud); }

void lmain_count(struct lvm *vm) {
  struct worker *w = vm->w;
  /* One limit for the worker's VMs (two while a reload drains the old
   * one) and the connections' buffers. */
  w->conns.mem_limit = w->host->cfg.memory_limit;
  conn_set_room(&w->conns); /* the room left by the buffers so far */
  if (vm->alloc.total != &w->conns.other_bytes) { /* not counted in yet */
    lalloc_count_in(&vm->alloc, &w->conns.other_bytes, &w->conns.other_room);
    lalloc_reclaim_with(&vm->alloc, drop_spares, &w->conns);
  }
}

struct lvm *lmain_new_vm(struct worker *w, char *err, size_t errsize) {
  struct lvm *vm = calloc(1, sizeof *vm);
  if (!vm) {
    snprintf(err, errsize, "not enough memory for a Lua state");
    return NULL;
  }
  vm->w = w;
  io_op_init(&vm->grace_op, vm);
  lalloc_init(&vm->alloc, w->host->cfg.memory_limit);
  lmain_count(vm);
  sched_init(&vm->sched);
  lmsg_init(&vm->msg);
  guard_init(&vm->guard, w->host->cfg.slice, w->host->cfg.cpu_limit);
  vm->L = lua_newstate(lalloc, &vm->alloc);
  if (!vm->L) {
    snprintf(err, errsize, "not enough memory for a Lua state");
    lmain_free_vm(vm);
    return NULL;
  }
  lua_atpanic(vm->L, panic);
  /* Generational: a server's garbage is mostly young (each message's
   * strings, each request's tables), which a minor collection frees
   * without marking the whole heap.  A 16 KiB TLS echo runs 2% fewer
   * instructions than with the incremental collector (bench/README.md);
   * a script may still choose collectgarbage("incremental").
   *
   * A minor collection waits for the heap to grow by 40%, not Lua's
   * default 20%: each one walks every coroutine's whole stack, so with a
   * coroutine per connection its cost grows with the connections, not
   * with the garbage.  Echoing 16 KiB over TLS, the collector took 9,000
   * instructions per message at 50 connections and 4,700 at 10; it takes
   * 4,700 and 2,500.  A major collection still comes when the heap has
   * doubled since the last one, as with Lua's defaults (with 50% and
   * 100%, the minor collections' thresholds came so close to that one
   * that half the collections at 10 connections were major). */
  lua_gc(vm->L, LUA_GCGEN, GC_MINOR_MUL, GC_MAJOR_MUL);
  *(void **)lua_getextraspace(vm->L) = NULL; /* the main thread is no task */
  return vm;
}

int lmain_start(struct lvm *vm) {
  lua_pushcfunction(vm->L, start_p);
  lua_pushlightuserdata(vm->L, vm->w);
  return lua_pcall(vm->L, 1, 0, 0) == LUA_OK ? 0 : -1;
}

void lmain_close_state(struct lvm *vm) {
  if (vm->L) {
    lua_close(vm->L); /* __gc of what is left only requests closes */
    vm->L = NULL;
    lmsg_close(vm->w, &vm->msg);
    lalloc_destroy(&vm->alloc);
  }
}

/* Tasks a forced stop left suspended go with their pool. */
void lmain_free_vm(struct lvm *vm) {
  lmain_close_state(vm);
  sched_free(&vm->sched);
  free(vm);
}

static int vm_open(struct worker *w) {
  char err[64];
  struct lvm *vm = lmain_new_vm(w, err, sizeof err);
  if (!vm) {
    host_fail(w->host, err);
    return -1;
  }
  w->vm = vm;
  if (lmain_start(vm) != 0) {
    host_fail(w->host, lua_tostring(vm->L, -1));
    lua_pop(vm->L, 1);
    return -1;
  }
  return 0;
}

/* The registry's LMAIN_STOP_HOOKS, each under pcall (a failure is not
 * worth more than a log line). */
static void run_stop_hooks(struct worker *w, lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, LMAIN_STOP_HOOKS) == LUA_TTABLE) {
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, i);
      if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        log_write(LOG_WARN, w->id, "stop hook: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
      }
    }
  }
  lua_pop(L, 1);
}

void lmain_stop_hooks(struct lvm *vm) {
  if (vm->stop_told || !vm->L)
    return;
  vm->stop_told = 1;
  run_stop_hooks(vm->w, vm->L);
}

static int vm_turn(struct worker *w) {
  struct lvm *vm = lvm_of(w);
  if (w->stopping)
    lmain_stop_hooks(vm);
  task_run_queue(vm);
  int ready = lreload_turn(w); /* a failed reload may change lvm_of(w) */
  return ready || lvm_of(w)->sched.runq != NULL;
}

static void vm_publish(struct worker *w) {
  stat_set(&w->stats.lua_bytes, (uint64_t)lvm_of(w)->alloc.used);
}

/* Every VM of the worker: the old one too while a reload drains it. */
static size_t vm_memory(struct worker *w) { return w->conns.other_bytes; }

/* After a peak: a full collection (an idle VM allocates nothing, so its
 * garbage would stay), then the chunks and pooled tasks nobody uses. */
static size_t vm_trim(struct worker *w) {
  struct lvm *vm = lvm_of(w);
  full_collection(vm);
  lalloc_trim(&vm->alloc);
  pool_trim(&vm->sched.task_pool);
  pool_trim(&vm->sched.sleeper_pool);
  return w->conns.other_bytes; /* an older VM's too, while it drains */
}

static int vm_kill(struct worker *w) {
  struct lvm *vm = lvm_of(w);
  int n = vm->sched.ntasks;
  vm->killed = 1;
  task_drop_all(vm);
  return n + lreload_kill(w);
}

static void vm_close(struct worker *w) {
  struct lvm *vm = lvm_of(w);
  if (!vm)
    return;
  lreload_close(w);
  w->vm = NULL; /* lmain_close_state: no VM serves any more */
  lmain_free_vm(vm);
}

void lmain_exit(void) { lshared_exit(); }

const struct worker_vm lua_vm = {
    .open = vm_open,
    .turn = vm_turn,
    .kill = vm_kill,
    .close = vm_close,
    .mail = lmsg_deliver,
    .reload = lreload_start,
    .interrupt = guard_interrupt,
    .publish = vm_publish,
    .dump = lstats_dump,
    .trim = vm_trim,
    .memory = vm_memory,
    .pending = task_ready,
};
