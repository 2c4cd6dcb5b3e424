/*
 * worker.c -- one worker thread: its loop, its Lua VM, its stop sequence
 * (see worker.h).
 *
 * The loop is created on the worker's own thread: an io_uring set up
 * SINGLE_ISSUER belongs to the thread that made it.  Other threads reach
 * a worker only through its inbox, and only while the loop exists
 * (`loop_ready`, checked under the inbox lock), so a stop request racing
 * a worker's start or end is never lost and never touches a freed loop.
 *
 * Stopping has two steps.  A graceful stop closes the listeners and lets
 * the tasks finish for the grace period; when it ends (or at a second
 * stop request) the worker is killed: nothing is resumed any more, every
 * connection is closed, and once the last completion is in the VM is
 * closed.  A worker also ends by itself when nothing is left to wait for.
 */
#include "worker.h"
#include "conn.h"
#include "group.h"
#include "host.h"
#include "lhost.h"
#include "listener.h"
#include "log.h"
#include "lsched.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

static int panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  log_write(LOG_ERROR, 0, "unprotected Lua error: %s", msg ? msg : "?");
  abort(); /* an invariant broke: every Lua call the host makes is protected */
}

/* ---- inbox -------------------------------------------------------------- */

void worker_post(struct worker *w, struct msg *m) {
  m->next = NULL;
  sys_mutex_lock(&w->inbox_lock);
  if (w->inbox_tail)
    w->inbox_tail->next = m;
  else
    w->inbox = m;
  w->inbox_tail = m;
  if (w->loop_ready)
    io_wake(w->loop);
  sys_mutex_unlock(&w->inbox_lock);
}

static void drain_inbox(struct worker *w) {
  sys_mutex_lock(&w->inbox_lock);
  struct msg *m = w->inbox;
  w->inbox = w->inbox_tail = NULL;
  sys_mutex_unlock(&w->inbox_lock);
  while (m) {
    struct msg *next = m->next;
    if (m->type == MSG_STOP) {
      worker_stop(w, m->grace);
    } else if (m->type == MSG_ACCEPTED) {
      group_deliver(w, m->group, m->sock); /* finds our listener, if any */
    }
    free(m);
    m = next;
  }
}

static void on_wake(void *ud) { drain_inbox(ud); }

/* ---- stopping -------------------------------------------------------- */

static void kill_tasks(struct worker *w) {
  if (w->killing)
    return;
  w->killing = 1;
  task_drop_all(w);
  conn_set_abort_all(&w->conns); /* no lingering either */
  if (io_posted(&w->grace_op))
    io_cancel(w->loop, &w->grace_op);
}

static void on_grace_over(struct io_op *op) {
  struct worker *w = op->data;
  if (op->res == 0) {
    if (w->ntasks > 0)
      log_write(LOG_WARN, w->id, "grace period over: closing %d task(s)",
                w->ntasks);
    kill_tasks(w);
  }
}

static void close_listeners(struct worker *w) {
  struct listener *l = w->listeners;
  while (l) {
    struct listener *next = l->next; /* close may free l, later */
    if (!l->closing)
      listener_close(l);
    l = next;
  }
}

void worker_stop(struct worker *w, double grace) {
  if (w->killing)
    return;
  if (w->stopping || grace <= 0) {
    w->stopping = 1;
    close_listeners(w);
    kill_tasks(w);
    return;
  }
  w->stopping = 1;
  close_listeners(w);
  if (grace >= HOST_GRACE_FOREVER)
    return; /* the tasks take as long as they take */
  w->grace_op.data = w;
  if (io_timeout(w->loop, &w->grace_op, (uint64_t)(grace * 1e9),
                 on_grace_over) != 0)
    kill_tasks(w); /* no memory for a grace timer: stop now, not never */
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

void worker_main_done(struct worker *w, lua_State *co, int nres) {
  struct host *host = w->host;
  lua_State *L = w->L;
  w->main_done = 1;
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

void worker_main_failed(struct worker *w, const char *msg) {
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

/* ---- the thread ----------------------------------------------------------- */

/* Turns until nothing is left to wait for.  The check comes first: a
 * worker told to stop before its first turn has nothing to wait for, and
 * a blocking wait then would never end.  An open listener counts even
 * with nothing posted: a hand-off member (group.h) waits for its inbox. */
static int waiting(struct worker *w) {
  if (w->runq || w->listeners)
    return 1;
  /* The grace timer is no reason to stay, nor is a connection's receive
   * stream that no task is reading: a script that read a reply and ended
   * without closing its connection is done. */
  int other = io_loop_alive(w->loop) - conn_set_idle_streams(&w->conns) -
              (io_posted(&w->grace_op) ? 1 : 0);
  if (other > 0)
    return 1;
  /* Only streams are left (rare: a worker with a listener never gets
   * here), so this walk does not run per event on a busy server. */
  return conn_set_reading(&w->conns);
}

int worker_idle(struct worker *w) { return !waiting(w); }

static void run(struct worker *w) {
  while (waiting(w)) {
    io_loop_run(w->loop, w->runq != NULL);
    task_run_queue(w);
  }
}

static void finish(struct worker *w) {
  kill_tasks(w);
  close_listeners(w);
  while (io_loop_alive(w->loop) > 0)
    io_loop_run(w->loop, 0);
  if (w->L) {
    lua_close(w->L); /* __gc of what is left only requests closes */
    w->L = NULL;
  }
  lalloc_destroy(&w->alloc);
  while (io_loop_alive(w->loop) > 0)
    io_loop_run(w->loop, 0);
  io_loop_run(w->loop, 1);
  /* After lua_close: tasks a forced stop left suspended go with their
   * pool; every other pooled object is back by now. */
  pool_destroy(&w->task_pool);
  pool_destroy(&w->sleeper_pool);
  conn_set_free(&w->conns);
  sys_mutex_lock(&w->inbox_lock);
  w->loop_ready = 0;
  sys_mutex_unlock(&w->inbox_lock);
  /* Connections handed over before we left our listener groups: close
   * them now rather than at exit (group_deliver finds no listener). */
  drain_inbox(w);
  if (io_loop_close(w->loop) != 0)
    log_write(LOG_ERROR, w->id, "the loop still had work at exit");
  w->loop = NULL;
}

static void thread_main(void *arg) {
  struct worker *w = arg;
  char msg[128];
  int err = io_loop_open(&w->loop, w->host->cfg.backend, on_wake, w);
  if (err) {
    snprintf(msg, sizeof msg, "worker %d: cannot start its loop: %s", w->id,
             io_strerror(err, msg + 64, 64));
    host_fail(w->host, msg);
    host_worker_done(w->host);
    return;
  }
  conn_set_init(&w->conns, w->loop, w->id, &w->killing);
  sys_mutex_lock(&w->inbox_lock);
  w->loop_ready = 1;
  sys_mutex_unlock(&w->inbox_lock);
  w->L = lua_newstate(lalloc, &w->alloc);
  if (!w->L) {
    host_fail(w->host, "not enough memory for a Lua state");
  } else {
    lua_atpanic(w->L, panic);
    *(void **)lua_getextraspace(w->L) = NULL; /* the main thread is no task */
    lua_pushcfunction(w->L, start_p);
    lua_pushlightuserdata(w->L, w);
    if (lua_pcall(w->L, 1, 0, 0) != LUA_OK) {
      host_fail(w->host, lua_tostring(w->L, -1));
      lua_pop(w->L, 1);
    } else {
      drain_inbox(w); /* what was posted before the loop existed */
      run(w);
    }
  }
  finish(w);
  host_worker_done(w->host);
}

struct worker *worker_new(struct host *host, int id) {
  struct worker *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  w->id = id;
  w->host = host;
  lalloc_init(&w->alloc, host->cfg.memory_limit);
  w->grace_op.data = w;
  sys_mutex_init(&w->inbox_lock);
  pool_init(&w->task_pool, sizeof(struct task), 64);
  pool_init(&w->sleeper_pool, sizeof(struct sleeper), 32);
  return w;
}

int worker_start(struct worker *w) {
  return sys_thread_start(&w->thread, thread_main, w);
}

void worker_join(struct worker *w) { sys_thread_join(w->thread); }

void worker_free(struct worker *w) {
  struct msg *m = w->inbox;
  while (m) {
    struct msg *next = m->next;
    if (m->type == MSG_ACCEPTED)
      io_sock_close(m->sock);
    free(m);
    m = next;
  }
  sys_mutex_destroy(&w->inbox_lock);
  free(w);
}
