/*
 * lhost.c -- `require "host"`: sleep, spawn, wait, wakeup, now, log,
 * stop, the worker's identity (listen is llistener.c's, connect
 * lconn.c's, shared lshared.c's, post/broadcast/receive lmsg.c's), and
 * the setup of each worker's VM.
 *
 * Every function of the module has the worker as its one upvalue, so a
 * binding finds its worker without a global (lhost_worker).
 */
#include "lhost.h"
#include "host.h"
#include "lconn.h"
#include "lembed.h"
#include "lhttp.h"
#include "lresolve.h"
#include "lresp.h"
#include "llistener.h"
#include "lstats.h"
#include "lmain.h"
#include "lmsg.h"
#include "lshared.h"
#include "log.h"
#include "ltask.h"
#include "ltls.h"
#include "worker.h"

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int lhost_fail(lua_State *L, const char *err) {
  luaL_pushfail(L);
  lua_pushstring(L, err);
  return 2;
}

struct worker *lhost_worker(lua_State *L) {
  return lua_touserdata(L, lua_upvalueindex(1));
}

/* ---- time and tasks ---------------------------------------------------------
 */

static void on_sleep(struct io_op *op) {
  struct sleeper *s = op->data;
  struct task *t = s->task;
  int res = op->res;
  sleeper_release(s->w, s);
  if (t && res == 0)
    task_resume(t, 0);
}

static int sleep_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L, (void)status, (void)ctx;
  return 0;
}

/* host.sleep(seconds) */
static int lhost_sleep(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  luaL_argcheck(L, !isnan(s), 1, "not a number");
  struct task *t = task_current_wait(L, "host.sleep");
  if (s <= 0) { /* just yield: behind every task that is ready to run */
    task_schedule(t, 0);
    return task_yield(L, t, TASK_SLEEP, 0, sleep_k);
  }
  if (task_sleep(t, s, on_sleep) != 0)
    return luaL_error(L, "not enough memory");
  return task_yield(L, t, TASK_SLEEP, 0, sleep_k);
}

static void on_wait_timeout(struct io_op *op) {
  struct sleeper *s = op->data;
  struct task *t = s->task;
  int res = op->res;
  sleeper_release(s->w, s);
  if (t && res == 0 && t->wake == TASK_WAKE_WAITING) {
    t->wake = TASK_WAKE_TIMEDOUT;
    task_resume(t, 0);
  }
}

static int wait_k(lua_State *L, int status, lua_KContext ctx) {
  struct task *t = task_of(L);
  (void)status;
  if (t->wake == TASK_WAKE_TIMEDOUT) {
    t->wake = TASK_WAKE_NONE;
    return lhost_fail(L, "timeout");
  }
  t->wake = TASK_WAKE_NONE;
  return lua_gettop(L) - (int)ctx; /* what host.wakeup passed */
}

/* host.wait([seconds]) -> values given to host.wakeup | nil, "timeout" */
static int lhost_wait(lua_State *L) {
  double s = luaL_optnumber(L, 1, -1);
  luaL_argcheck(L, !isnan(s), 1, "not a number");
  struct task *t = task_current_wait(L, "host.wait");
  lua_settop(L, 0);
  if (s >= 0 && task_sleep(t, s, on_wait_timeout) != 0)
    return luaL_error(L, "not enough memory");
  t->wake = TASK_WAKE_WAITING;
  return task_yield(L, t, TASK_WAIT, 0, wait_k);
}

/* host.wakeup(co, ...) -> true if co was waiting in host.wait */
static int lhost_wakeup(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTHREAD);
  lua_State *co = lua_tothread(L, 1);
  struct task *t = task_of(co);
  int n = lua_gettop(L) - 1;
  if (!t || t->wake != TASK_WAKE_WAITING || t->w != lhost_worker(L)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (!lua_checkstack(co, n + LUA_MINSTACK))
    return luaL_error(L, "too many values to pass");
  t->wake = TASK_WAKE_WOKEN;
  task_unsleep(t);
  lua_xmove(L, co, n);
  task_schedule(t, n);
  lua_pushboolean(L, 1);
  return 1;
}

/* host.spawn(fn, ...) -> the new task's coroutine */
static int lhost_spawn(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  struct worker *w = lhost_worker(L);
  if (!task_spawn(w, L, lua_gettop(L) - 1, TASK_SPAWN, NULL, 0, 1))
    return luaL_error(L, "not enough memory");
  return 1;
}

static int lhost_now(lua_State *L) {
  lua_pushnumber(L, (double)io_clock() / 1e9);
  return 1;
}

/* host.log(level, ...): the values, as print() shows them, on one line. */
static int lhost_log(lua_State *L) {
  static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
  int level = luaL_checkoption(L, 1, NULL, levels);
  int n = lua_gettop(L);
  if (level < log_get_level())
    return 0;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 2; i <= n; i++) {
    if (i > 2)
      luaL_addchar(&b, ' ');
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  size_t len;
  const char *msg = lua_tolstring(L, -1, &len);
  log_text(level, lhost_worker(L)->id, msg, len);
  return 0;
}

/* print(...), as Lua's, but the line goes out in one write: lines from
 * several workers never mix. */
static int lhost_print(lua_State *L) {
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1)
      luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_addchar(&b, '\n');
  luaL_pushresult(&b);
  size_t len;
  const char *line = lua_tolstring(L, -1, &len);
  fwrite(line, 1, len, stdout);
  fflush(stdout);
  return 0;
}

/* host._idle() -> true if nothing could ever resume a waiting task (for
 * `host test`, which fails such a test at once; not part of the API). */
static int lhost_idle(lua_State *L) {
  struct worker *w = lhost_worker(L);
  lua_pushboolean(L, !task_ready(w) && worker_idle(w));
  return 1;
}

/* host.stop([grace]) */
static int lhost_stop(lua_State *L) {
  double grace = luaL_optnumber(L, 1, -1);
  luaL_argcheck(L, !isnan(grace), 1, "not a number");
  host_stop(lhost_worker(L)->host, grace);
  return 0;
}

/* host.stopping() -> true once the host stops, or (in the old script) a
 * reload has replaced this script: a long loop should wind up. */
static int lhost_stopping(lua_State *L) {
  lua_pushboolean(L, lhost_worker(L)->stopping || lvm_of_L(L)->draining);
  return 1;
}

/* ---- the module ---------------------------------------------------------- */

static const luaL_Reg funcs[] = {{"listen", llistener_listen},
                                 {"connect", lconn_connect},
                                 {"resolve", lresolve_lua},
                                 {"sleep", lhost_sleep},
                                 {"wait", lhost_wait},
                                 {"wakeup", lhost_wakeup},
                                 {"spawn", lhost_spawn},
                                 {"now", lhost_now},
                                 {"log", lhost_log},
                                 {"stop", lhost_stop},
                                 {"shared", lshared_shared},
                                 {"post", lmsg_post},
                                 {"broadcast", lmsg_broadcast},
                                 {"receive", lmsg_receive},
                                 {"_idle", lhost_idle},
                                 {"stopping", lhost_stopping},
                                 {NULL, NULL}};

static void push_module(lua_State *L, struct worker *w) {
  const struct host_config *cfg = &w->host->cfg;
  luaL_newlibtable(L, funcs);
  lua_pushlightuserdata(L, w);
  luaL_setfuncs(L, funcs, 1);
  lstats_setfuncs(L, w);
  lua_pushinteger(L, w->id);
  lua_setfield(L, -2, "worker");
  lua_pushinteger(L, w->host->nworkers);
  lua_setfield(L, -2, "workers");
  lua_pushstring(L, io_loop_backend(w->loop));
  lua_setfield(L, -2, "backend");
  lua_pushliteral(L, HOST_VERSION);
  lua_setfield(L, -2, "version");
  lua_createtable(L, cfg->argc, 0);
  for (int i = 0; i < cfg->argc; i++) {
    lua_pushstring(L, cfg->argv[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "arg");
}

/* package.path: the script's directory first, so its modules load. */
static void set_paths(lua_State *L, const char *script) {
  const char *slash = script ? strrchr(script, '/') : NULL;
#ifdef _WIN32
  const char *bslash = script ? strrchr(script, '\\') : NULL;
  if (bslash && (!slash || bslash > slash))
    slash = bslash;
#endif
  lua_getglobal(L, "package");
  if (slash) {
    lua_pushlstring(L, script, (size_t)(slash - script + 1));
    lua_pushfstring(L, "%s?.lua;%s?/init.lua;", lua_tostring(L, -1),
                    lua_tostring(L, -1));
  } else {
    lua_pushnil(L);
    lua_pushliteral(L, "./?.lua;./?/init.lua;");
  }
  lua_getfield(L, -3, "path");
  lua_concat(L, 2);
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
}

void lhost_setup(lua_State *L, struct worker *w) {
  luaL_openlibs(L);
  task_guard_coroutines(L);
  lconn_open(L);
  llistener_open(L);
  ltls_open(L);
  lshared_open(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  push_module(L, w);
  lua_setfield(L, -2, "host");
  lua_pop(L, 1);
  set_paths(L, w->host->cfg.script);
  lembed_open(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, lresp_open);
  lua_setfield(L, -2, "host.resp");
  lua_pop(L, 1);
  lhttp_open(L, w);
  lua_pushcfunction(L, lhost_print);
  lua_setglobal(L, "print");
}
