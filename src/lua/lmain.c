/*
 * lmain.c -- a worker's Lua VM, from its creation to its close (see
 * lmain.h): the allocator, the standard libraries and the host module,
 * loading the script (or the test runner) in the manner of lua.c, its
 * main task, listening on --listen for the handler it returns, and the
 * worker's turn, kill and close hooks.
 */
#include "lmain.h"
#include "host.h"
#include "lembed.h"
#include "lhost.h"
#include "llistener.h"
#include "lshared.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>

static int panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  log_write(LOG_ERROR, 0, "unprotected Lua error: %s", msg ? msg : "?");
  abort(); /* an invariant broke: every Lua call the host makes is protected */
}

/* ---- the script's main chunk ------------------------------------------ */

/* [handler] -> listens on every --listen address; raises on failure. */
static int listen_defaults(lua_State *L) {
  struct worker *w = lua_touserdata(L, 1);
  const struct host_config *cfg = &w->host->cfg;
  for (int i = 0; i < cfg->nlisten; i++) {
    lua_pushvalue(L, 2);
    if (w->stopping)
      return 0; /* stopped before we got here: nothing to listen for */
    if (lhost_listen(L, w, cfg->listen[i], 0) != 1)
      return luaL_error(L, "cannot listen on %s: %s", cfg->listen[i],
                        lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return 0;
}

void lmain_done(struct worker *w, lua_State *co, int nres) {
  struct host *host = w->host;
  lua_State *L = lvm_of(w)->L;
  lvm_of(w)->main_done = 1;
  if (host->cfg.test_mode) {
    /* The test runner returns how many tests failed. */
    lua_Integer failed = nres > 0 ? lua_tointeger(co, -nres) : 1;
    host_set_exit(host, failed == 0 ? HOST_EXIT_OK : HOST_EXIT_FAILED);
    host_stop(host, 0);
    return;
  }
  int t = nres > 0 ? lua_type(co, -nres) : LUA_TNIL;
  if (t == LUA_TNIL)
    return;
  if (t != LUA_TFUNCTION) {
    char msg[256];
    snprintf(msg, sizeof msg,
             "%s: the script returned a %s (expected a handler function "
             "or nothing)",
             host->cfg.script, lua_typename(co, t));
    host_fail(host, msg);
    return;
  }
  lua_pushcfunction(L, listen_defaults);
  lua_pushlightuserdata(L, w);
  lua_pushvalue(co, -nres);
  lua_xmove(co, L, 1);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    host_fail(host, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
}

void lmain_failed(struct worker *w, const char *msg) {
  host_fail(w->host, msg);
}

/* Protected: set up the VM, load the script, queue its main task. */
static int start_p(lua_State *L) {
  struct worker *w = lua_touserdata(L, 1);
  const struct host_config *cfg = &w->host->cfg;
  lua_settop(L, 0);
  lhost_setup(L, w);
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

static int vm_open(struct worker *w) {
  struct lvm *vm = calloc(1, sizeof *vm);
  if (!vm) {
    host_fail(w->host, "not enough memory for a Lua state");
    return -1;
  }
  w->vm = vm;
  lalloc_init(&vm->alloc, w->host->cfg.memory_limit);
  sched_init(&vm->sched);
  lmsg_init(&vm->msg);
  vm->L = lua_newstate(lalloc, &vm->alloc);
  if (!vm->L) {
    host_fail(w->host, "not enough memory for a Lua state");
    return -1;
  }
  lua_atpanic(vm->L, panic);
  *(void **)lua_getextraspace(vm->L) = NULL; /* the main thread is no task */
  lua_pushcfunction(vm->L, start_p);
  lua_pushlightuserdata(vm->L, w);
  if (lua_pcall(vm->L, 1, 0, 0) != LUA_OK) {
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

static int vm_turn(struct worker *w) {
  struct lvm *vm = lvm_of(w);
  if (w->stopping && !vm->stop_told && vm->L) {
    vm->stop_told = 1;
    run_stop_hooks(w, vm->L);
  }
  task_run_queue(w);
  return lvm_of(w)->sched.runq != NULL;
}

static int vm_kill(struct worker *w) {
  int n = lvm_of(w)->sched.ntasks;
  task_drop_all(w);
  return n;
}

/* After lua_close nothing more is resumed; tasks a forced stop left
 * suspended go with their pool. */
static void vm_close(struct worker *w) {
  struct lvm *vm = lvm_of(w);
  if (!vm)
    return;
  if (vm->L) {
    lua_close(vm->L); /* __gc of what is left only requests closes */
    vm->L = NULL;
  }
  lmsg_close(w, &vm->msg);
  lalloc_destroy(&vm->alloc);
  sched_free(&vm->sched);
  free(vm);
  w->vm = NULL;
}

void lmain_exit(void) { lshared_exit(); }

const struct worker_vm lua_vm = {
    .open = vm_open,
    .turn = vm_turn,
    .kill = vm_kill,
    .close = vm_close,
    .mail = lmsg_deliver,
};
