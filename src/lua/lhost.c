/*
 * lhost.c -- `require "host"`: listen, connect, sleep, spawn, wait,
 * wakeup, now, log, stop, the worker's identity, and the "host.listener"
 * type.  Also sets up each worker's VM.
 *
 * Every function of the module has the worker as its one upvalue, so a
 * binding finds its worker without a global (lhost_worker).
 */
#include "lhost.h"
#include "conn.h"
#include "lmain.h"
#include "host.h"
#include "listener.h"
#include "log.h"
#include "lsched.h"
#include "worker.h"

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LISTENER_META "host.listener"
#define LISTEN_COUNTS "host.listen_counts"
#define DEFAULT_BACKLOG 511

struct worker *lhost_worker(lua_State *L) {
  return lua_touserdata(L, lua_upvalueindex(1));
}

/* ---- listeners ------------------------------------------------------------ */

/* The Lua userdata of a listener: a box, as for connections. */
struct listener_box {
  struct listener *l;
};

/* The handler is a registry ref, kept in the listener's ud. */
static int handler_ref(const struct listener *l) {
  return (int)(intptr_t)l->ud;
}

static void on_listener_free(struct listener *l) {
  struct lvm *vm = lvm_of(l->w);
  if (vm && vm->L) /* a forced end may come after the VM is gone */
    luaL_unref(vm->L, LUA_REGISTRYINDEX, handler_ref(l));
}

/* Protected part of an accept: everything that may raise (memory). */
static int accept_p(lua_State *L) {
  struct listener *l = lua_touserdata(L, 1);
  struct conn *c = lua_touserdata(L, 2);
  lua_settop(L, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, handler_ref(l));
  lconn_push(L, c);
  if (!task_spawn(l->w, L, 1, TASK_HANDLER, c, 1, 0))
    return luaL_error(L, "not enough memory");
  return 0;
}

static void on_conn(struct listener *l, io_sock sock) {
  struct worker *w = l->w;
  struct conn *c = lconn_new(w);
  if (!c) {
    io_sock_close(sock);
    return;
  }
  if (conn_open(c, sock) != 0)
    return; /* conn_open freed c and closed the socket */
  c->maxline = l->maxline;
  c->maxread = l->maxread;
  c->timeout = l->timeout;
  lua_State *L = lvm_of(w)->L;
  lua_pushcfunction(L, accept_p);
  lua_pushlightuserdata(L, l);
  lua_pushlightuserdata(L, c);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    log_write(LOG_ERROR, w->id, "cannot start a handler: %s",
              lua_tostring(L, -1));
    lua_pop(L, 1);
    conn_close(c); /* no task took it: nothing raises after task_spawn */
  }
}

static struct listener *tolistener(lua_State *L) {
  struct listener_box *b = luaL_checkudata(L, 1, LISTENER_META);
  if (!b->l || listener_closing(b->l))
    luaL_error(L, "attempt to use a closed listener");
  return b->l;
}

static uint32_t opt_limit(lua_State *L, int idx, const char *name,
                          uint32_t def) {
  if (!idx)
    return def;
  lua_getfield(L, idx, name);
  lua_Integer v = lua_isnil(L, -1) ? (lua_Integer)def : luaL_checkinteger(L, -1);
  if (v < 1 || v > ((lua_Integer)1 << 30))
    luaL_error(L, "option '%s' out of range", name);
  lua_pop(L, 1);
  return (uint32_t)v;
}

int lhost_listen(lua_State *L, struct worker *w, const char *text,
                 int opts) {
  struct addr a;
  char msg[160];
  if (addr_parse(text, &a, msg, sizeof msg) != 0) {
    lua_pop(L, 1);
    lua_pushstring(L, msg);
    return -1;
  }
  int backlog = (int)opt_limit(L, opts, "backlog", DEFAULT_BACKLOG);
  uint32_t maxline = opt_limit(L, opts, "maxline", CONN_MAXLINE);
  uint32_t maxread = opt_limit(L, opts, "maxread", CONN_MAXREAD);
  double timeout = 0;
  if (opts) {
    lua_getfield(L, opts, "timeout");
    timeout = luaL_optnumber(L, -1, 0);
    lua_pop(L, 1);
  }
  if (w->stopping) {
    lua_pop(L, 1);
    lua_pushliteral(L, "closed");
    return 0;
  }
  /* Every worker's listen on one address is one group, whatever the
   * spelling ("localhost:80", "127.0.0.1:080").  Port 0 asks for a fresh
   * port each time: there the k-th listen of each worker is one group. */
  char key[ADDR_TEXT_MAX + 32];
  addr_format((struct sockaddr *)&a.ss, key, ADDR_TEXT_MAX);
  if (addr_port(&a) == 0) {
    lua_getfield(L, LUA_REGISTRYINDEX, LISTEN_COUNTS);
    lua_getfield(L, -1, key);
    lua_Integer k = lua_tointeger(L, -1) + 1;
    lua_pop(L, 1);
    lua_pushinteger(L, k);
    lua_setfield(L, -2, key);
    lua_pop(L, 1);
    size_t n = strlen(key);
    snprintf(key + n, sizeof key - n, "#%lld", (long long)k);
  }

  struct listener *l;
  /* Everything that may raise before the listener exists. */
  struct listener_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->l = NULL;
  luaL_setmetatable(L, LISTENER_META);
  lua_insert(L, -2); /* [box, handler] */
  lua_pushvalue(L, -1);
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pop(L, 1);
  int err = listener_open(w, key, &a, backlog, on_conn, on_listener_free,
                          (void *)(intptr_t)ref, &l);
  if (err) {
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    lua_pop(L, 1);
    lua_pushstring(L, io_strerror(err, msg, sizeof msg));
    return 0;
  }
  l->maxline = maxline;
  l->maxread = maxread;
  l->timeout = timeout > 0 ? conn_timeout_ms(timeout) : 0;
  b->l = l;
  l->box = b;
  log_write(LOG_INFO, w->id, "listening on %s", l->address);
  return 1;
}

/* host.listen(address, handler [, options]) -> listener | nil, err */
static int lhost_listen_lua(lua_State *L) {
  struct worker *w = lhost_worker(L);
  const char *text = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  int opts = 0;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    opts = 3;
  }
  lua_pushvalue(L, 2);
  int r = lhost_listen(L, w, text, opts);
  if (r < 0)
    return luaL_argerror(L, 1, lua_tostring(L, -1));
  if (r == 0) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  return 1;
}

static int llistener_close(lua_State *L) {
  listener_close(tolistener(L));
  lua_pushboolean(L, 1);
  return 1;
}

static int llistener_gc(lua_State *L) {
  /* A listener lives until closed or the host stops, not until its box
   * is collected: `host.listen(...)` without keeping the result is the
   * usual way to call it. */
  struct listener_box *b = luaL_checkudata(L, 1, LISTENER_META);
  if (b->l)
    b->l->box = NULL;
  b->l = NULL;
  return 0;
}

static int llistener_tostring(lua_State *L) {
  struct listener_box *b = luaL_checkudata(L, 1, LISTENER_META);
  if (!b->l || listener_closing(b->l))
    lua_pushliteral(L, "host.listener (closed)");
  else
    lua_pushfstring(L, "host.listener (%s)", b->l->address);
  return 1;
}

static int llistener_index(lua_State *L) {
  const char *key = lua_tostring(L, 2);
  if (key && strcmp(key, "address") == 0) {
    lua_pushstring(L, tolistener(L)->address);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

/* ---- time and tasks --------------------------------------------------------- */

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
    return task_yield(L, t, 0, sleep_k);
  }
  if (task_sleep(t, s, on_sleep) != 0)
    return luaL_error(L, "not enough memory");
  return task_yield(L, t, 0, sleep_k);
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
    luaL_pushfail(L);
    lua_pushliteral(L, "timeout");
    return 2;
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
  return task_yield(L, t, 0, wait_k);
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
  static const char *const levels[] = {"debug", "info", "warn", "error",
                                       NULL};
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
  lua_pushboolean(L, worker_idle(lhost_worker(L)));
  return 1;
}

/* host.stop([grace]) */
static int lhost_stop(lua_State *L) {
  double grace = luaL_optnumber(L, 1, -1);
  luaL_argcheck(L, !isnan(grace), 1, "not a number");
  host_stop(lhost_worker(L)->host, grace);
  return 0;
}

/* ---- the module ---------------------------------------------------------- */

static const luaL_Reg funcs[] = {
    {"listen", lhost_listen_lua},
    {"connect", lconn_connect},
    {"sleep", lhost_sleep},
    {"wait", lhost_wait},
    {"wakeup", lhost_wakeup},
    {"spawn", lhost_spawn},
    {"now", lhost_now},
    {"log", lhost_log},
    {"stop", lhost_stop},
    {"_idle", lhost_idle},
    {NULL, NULL}};

static const luaL_Reg listener_meth[] = {{"close", llistener_close},
                                         {NULL, NULL}};

static const luaL_Reg listener_metameth[] = {
    {"__gc", llistener_gc},
    {"__tostring", llistener_tostring},
    {"__index", NULL},
    {NULL, NULL}};

static void createmeta(lua_State *L) {
  luaL_newmetatable(L, LISTENER_META);
  luaL_setfuncs(L, listener_metameth, 0);
  luaL_newlib(L, listener_meth);
  lua_pushcclosure(L, llistener_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

static void push_module(lua_State *L, struct worker *w) {
  const struct host_config *cfg = &w->host->cfg;
  luaL_newlibtable(L, funcs);
  lua_pushlightuserdata(L, w);
  luaL_setfuncs(L, funcs, 1);
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
  createmeta(L);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, LISTEN_COUNTS);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  push_module(L, w);
  lua_setfield(L, -2, "host");
  lua_pop(L, 1);
  set_paths(L, w->host->cfg.script);
  lembed_open(L);
  lua_pushcfunction(L, lhost_print);
  lua_setglobal(L, "print");
}
