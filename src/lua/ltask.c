/*
 * ltask.c -- tasks: creating, suspending, resuming and ending the
 * coroutines the host runs (see ltask.h).
 *
 * A task is found from its thread through Lua's per-thread extra space,
 * which holds the task pointer.  A thread the script creates itself
 * inherits its creator's extra space, so a task is accepted only if its
 * `co` is the thread asking: that is how a host call made from inside a
 * coroutine.wrap is told apart and refused with a clear message (the
 * host could not resume that coroutine correctly).
 */
#include "ltask.h"
#include "conn.h"
#include "lguard.h"
#include "lmain.h"
#include "lcompat.h"
#include "log.h"
#include "worker.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(TASK_NWAITS <= WORKER_NWAITS, "host.stats counts every wait");
const char *const task_wait_names[TASK_NWAITS] = {
    "ready", "recv",      "send",    "connect", "sleep",
    "wait",  "handshake", "resolve", "receive"};

void sched_init(struct sched *s) {
  memset(s, 0, sizeof *s);
  list_init(&s->sleepers);
  pool_init(&s->task_pool, sizeof(struct task), 64);
  pool_init(&s->sleeper_pool, sizeof(struct sleeper), 32);
}

void sched_free(struct sched *s) {
  pool_destroy(&s->task_pool);
  pool_destroy(&s->sleeper_pool);
}

struct task *task_of(lua_State *co) {
  struct task *t = *(struct task **)lua_getextraspace(co);
  return t && t->co == co ? t : NULL;
}

struct task *task_current(lua_State *L, const char *what) {
  struct task *t = task_of(L);
  if (!t)
    luaL_error(L,
               "%s must be called from a host task (a handler or a function "
               "started with host.spawn), not from %s",
               what,
               lua_pushthread(L) ? "the main chunk's thread"
                                 : "a coroutine created by the script");
  return t;
}

struct task *task_current_wait(lua_State *L, const char *what) {
  struct task *t = task_current(L, what);
  if (!lua_isyieldable(L))
    luaL_error(L,
               "%s cannot wait inside a C function such as table.sort, "
               "string.gsub or a metamethod called by one (tostring's "
               "__tostring, __gc): call it outside",
               what);
  return t;
}

/* ---- the coroutine library's guards ------------------------------------- */

/* Calls the function below the n arguments on top as the thread co runs
 * them (co: a coroutine a task resumes, or NULL), so that the CPU guard
 * finds the thread that really runs (lguard.h); errors pass through. */
static int call_running(lua_State *L, lua_State *co, int n) {
  struct lvm *vm = co ? lvm_of_state(L) : NULL;
  lua_State *outer = vm ? guard_enter(&vm->guard, co) : NULL;
  int status = lua_pcall(L, n, LUA_MULTRET, 0);
  if (vm)
    guard_leave(&vm->guard, outer);
  if (status != LUA_OK)
    return lua_error(L);
  return lua_gettop(L);
}

/* coroutine.resume / coroutine.close: the original as upvalue 1, its name
 * as upvalue 2. */
static int guarded(lua_State *L) {
  lua_State *co = lua_type(L, 1) == LUA_TTHREAD ? lua_tothread(L, 1) : NULL;
  if (co && task_of(co))
    return luaL_error(L,
                      "coroutine.%s: cannot %s a host task (the host "
                      "resumes it when what it waits for is done; use "
                      "host.wakeup to end a host.wait)",
                      lua_tostring(L, lua_upvalueindex(2)),
                      lua_tostring(L, lua_upvalueindex(2)));
  int resume = lua_tostring(L, lua_upvalueindex(2))[0] == 'r';
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  return call_running(L, resume ? co : NULL, lua_gettop(L) - 1);
}

/* A function coroutine.wrap made: the original as upvalue 1, its
 * coroutine as upvalue 2. */
static int wrapped(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  return call_running(L, lua_tothread(L, lua_upvalueindex(2)),
                      lua_gettop(L) - 1);
}

/* coroutine.wrap: the original as upvalue 1.  Its function keeps its
 * coroutine as its first upvalue, which is how we learn which it is. */
static int guarded_wrap(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  if (lua_getupvalue(L, -1, 1) && lua_type(L, -1) == LUA_TTHREAD) {
    lua_pushcclosure(L, wrapped, 2);
    return 1;
  }
  lua_pop(L, 1); /* not the 5.4 we know: leave it as it is */
  return 1;
}

static int guarded_yield(lua_State *L) {
  if (task_of(L))
    return luaL_error(L, "coroutine.yield() in a host task, outside any "
                         "coroutine the script created: nothing would "
                         "resume it (wait with host.wait or host.sleep)");
  return lua_yield(L, lua_gettop(L));
}

/* coroutine.running: a task whose thread the script holds is never
 * recycled for another (a later host.wakeup or coroutine.status on it
 * would reach the wrong task).  The original is upvalue 1. */
static int exposing_running(lua_State *L) {
  struct task *t = task_of(L);
  if (t)
    t->exposed = 1;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_call(L, 0, LUA_MULTRET);
  return lua_gettop(L);
}

void task_guard_coroutines(lua_State *L) {
  static const char *const names[] = {"resume", "close", NULL};
  lua_getglobal(L, "coroutine");
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  for (int i = 0; names[i]; i++) {
    lua_getfield(L, -1, names[i]);
    lua_pushstring(L, names[i]);
    lua_pushcclosure(L, guarded, 2);
    lua_setfield(L, -2, names[i]);
  }
  lua_pushcfunction(L, guarded_yield);
  lua_setfield(L, -2, "yield");
  lua_getfield(L, -1, "running");
  lua_pushcclosure(L, exposing_running, 1);
  lua_setfield(L, -2, "running");
  lua_getfield(L, -1, "wrap");
  lua_pushcclosure(L, guarded_wrap, 1);
  lua_setfield(L, -2, "wrap");
  lua_pop(L, 1);
}

/* ---- errors ------------------------------------------------------------ */

/* [co] -> the error on co's stack as text, with co's traceback: a task
 * that raised stays suspended at the error, so its stack can still be
 * walked (lua.c's msghandler, done after the fact as auxresume does). */
static int traceback_of(lua_State *L) {
  lua_State *co = lua_tothread(L, 1);
  const char *msg;
  lua_xmove(co, L, 1); /* the error object */
  msg = lua_tostring(L, -1);
  if (msg == NULL) {
    if (luaL_callmeta(L, -1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);
    else
      msg = lua_pushfstring(L, "(error object is a %s value)",
                            luaL_typename(L, -1));
  }
  luaL_traceback(L, co, msg, 0);
  return 1;
}

/* Pushes on the worker's main thread the message of the error that ended
 * t, with a traceback; built under pcall, as it can run out of memory. */
static const char *error_text(struct task *t) {
  lua_State *L = t->vm->L, *co = t->co;
  if (!lua_checkstack(co, 1) || !lua_checkstack(L, 4)) {
    lua_pushliteral(L, "(no room left to report the error)");
    return lua_tostring(L, -1);
  }
  lua_pushcfunction(L, traceback_of);
  lua_pushthread(co);
  lua_xmove(co, L, 1);
  lua_pcall(L, 1, 1, 0); /* on failure, its own message will do */
  const char *msg = lua_tostring(L, -1);
  return msg ? msg : "(error while reporting an error)";
}

#define TASK_ERRORS_PER_S 20 /* handler errors logged per second, at most */

/* `host test` attaches task errors to the test that caused them: it
 * sets this registry field to a function, called with the message. */
#define ON_TASK_ERROR "host.on_task_error"

static void tell_tests(lua_State *L, const char *msg) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, ON_TASK_ERROR) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    return;
  }
  lua_pushstring(L, msg);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK)
    lua_pop(L, 1); /* its own failure is not worth another report */
}

/* Logged with the peer; rate-limited, so a storm of failing handlers
 * cannot flood the log (the next line says how many were held back). */
static void report(struct task *t, const char *msg) {
  struct worker *w = t->w;
  const char *what = t->kind == TASK_HANDLER ? "handler" : "task";
  char peer[ADDR_TEXT_MAX], more[64] = "";
  unsigned dropped;
  tell_tests(t->vm->L, msg);
  if (!log_rate_allow(&t->vm->task_errors, io_now(w->loop) / 1000000u,
                      TASK_ERRORS_PER_S, 1000, &dropped))
    return;
  if (dropped)
    snprintf(more, sizeof more, " (%u more not logged)", dropped);
  if (t->conn) {
    const struct addr_small *a = conn_peer_addr(t->conn);
    if (a)
      addr_small_format(a, peer, sizeof peer);
    else
      snprintf(peer, sizeof peer, "unknown");
    log_write(LOG_ERROR, w->id, "%s error (peer %s)%s: %s", what, peer, more,
              msg);
  } else {
    log_write(LOG_ERROR, w->id, "%s error%s: %s", what, more, msg);
  }
}

/* ---- creating and ending --------------------------------------------- */

static struct task *task_alloc(struct worker *w, struct lvm *vm) {
  struct task *t = pool_zget(&vm->sched.task_pool);
  if (!t)
    return NULL;
  t->w = w;
  t->vm = vm;
  t->ref = LUA_NOREF;
  t->kill_ref = LUA_NOREF;
  t->id = ++vm->sched.last_id;
  t->since = io_now(w->loop);
  return t;
}

struct task *task_spawn(struct worker *w, lua_State *L, int nargs, int kind,
                        struct conn *conn, int now, int push) {
  struct lvm *vm = lvm_of_L(L);
  struct sched *s = &vm->sched;
  lua_State *co;
  int ref;
  if (kind == TASK_HANDLER && !push && s->nidle > 0) {
    /* A finished handler's thread, reset and never seen by the script:
     * no lua_newthread, no registry ref, no stack to grow again. */
    s->nidle--;
    co = s->idle[s->nidle].co;
    ref = s->idle[s->nidle].ref;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref); /* where the new one would be */
  } else {
    /* What may raise (memory) comes before what would leak. */
    co = lua_newthread(L);
    lua_pushvalue(L, -1);
    ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  /* lua_xmove does not grow the thread's stack: room for fn and args. */
  struct task *t = lua_checkstack(co, nargs + 1) ? task_alloc(w, vm) : NULL;
  if (!t) {
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    lua_pop(L, nargs + 2);
    return NULL;
  }
  t->ref = ref;
  t->co = co;
  t->kind = (unsigned char)kind;
  t->conn = conn;
  if (conn)
    conn_hold(conn); /* until finish: the box may go first */
  *(struct task **)lua_getextraspace(co) = t;
  if (push)
    lua_insert(L, -(nargs + 2)); /* thread below fn and args */
  else
    lua_pop(L, 1);
  lua_xmove(L, co, nargs + 1); /* fn and args: the coroutine's body */
  vm->sched.ntasks++;
  stat_inc(&w->stats.tasks);
  t->waiting = 1; /* only the host starts it */
  if (now && !vm->sched.current)
    task_resume(t, nargs);
  else
    task_schedule(t, nargs);
  return t;
}

/* `returned`: the body returned; its thread is then as a new one would
 * be (the return closed its upvalues and to-be-closed variables, its
 * call info is the base one), with a stack that need not grow again. */
static void finish(struct task *t, int returned) {
  struct sched *s = &t->vm->sched;
  lua_State *L = t->vm->L;
  if (t->conn)
    conn_release(t->conn); /* closes it, if it is not yet */
  task_unsleep(t);
  guard_forget(t);
  *(struct task **)lua_getextraspace(t->co) = NULL;
  int status = LUA_OK;
  if (!returned)
    status = lcompat_closethread(t->co, L);
  /* Lua 5.4.4's reset leaves the error object on the stack, where
   * coroutine.status would see a suspended coroutine and resume would
   * call the object: a task that ended is dead. */
  lua_settop(t->co, 0);
  /* A handler's thread that the script never held (it did not call
   * coroutine.running, which would let it keep the thread and wake or
   * inspect it later) is kept for the next handler. */
  if (t->kind == TASK_HANDLER && !t->exposed && status == LUA_OK &&
      s->nidle < SCHED_IDLE_MAX) {
    s->idle[s->nidle].co = t->co;
    s->idle[s->nidle].ref = t->ref;
    s->nidle++;
  } else {
    luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
  }
  s->ntasks--;
  stat_dec(&t->w->stats.tasks);
  pool_put(&s->task_pool, t);
}

/* ---- suspending and resuming ----------------------------------------- */

int task_yield(lua_State *L, struct task *t, int wait, lua_KContext ctx,
               lua_KFunction k) {
  t->waiting = 1;
  t->wait = (unsigned char)wait;
  t->cpu = 0; /* waiting is what the cpu limit counts from */
  t->since = io_now(t->w->loop);
  stat_inc(&t->w->stats.waiting[wait]);
  return lua_yieldk(L, 0, ctx, k);
}

/* The task ended at its cpu limit (lguard.c); like any error, but with
 * the traceback of where it was stopped, whatever it raised since. */
static void report_kill(struct task *t) {
  lua_State *L = t->vm->L;
  stat_inc(&t->w->stats.cpu_kills);
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->kill_ref);
  const char *msg = lua_tostring(L, -1);
  if (t->kind == TASK_MAIN)
    lmain_failed(t->vm, msg ? msg : GUARD_KILL_MESSAGE);
  else
    report(t, msg ? msg : GUARD_KILL_MESSAGE);
  lua_pop(L, 1);
}

void task_resume(struct task *t, int nargs) {
  struct lvm *vm = t->vm;
  struct worker *w = t->w;
  int nres;
  if (t->w->killing || vm->killed)
    return; /* forced stop: nothing runs any more */
  if (t->guard & TASK_CANCELLED) {
    finish(t, 0);
    return;
  }
  t->waiting = 0;
  if (t->wait) {
    stat_dec(&t->w->stats.waiting[t->wait]);
    t->wait = TASK_READY;
  }
  struct task *outer = vm->sched.current;
  vm->sched.current = t;
  lua_State *outer_running = guard_begin(&vm->guard, w, !outer);
  int status = lua_resume(t->co, vm->L, nargs, &nres);
  guard_end(&vm->guard, w, outer_running, !outer);
  vm->sched.current = outer;
  if (status == LUA_YIELD) {
    if (t->waiting) {
      lua_pop(t->co, nres);
      return;
    }
    if (t->guard & TASK_KILLED) {
      report_kill(t);
    } else if (t->guard & TASK_SLICED) {
      /* Paused by its slice: behind every task that is ready now. */
      t->guard = (unsigned char)((t->guard & ~TASK_SLICED) | TASK_PAUSED);
      lua_pop(t->co, nres);
      stat_inc(&w->stats.forced_yields);
      t->since = io_now(w->loop);
      task_schedule(t, 0);
      return;
    } else {
      /* coroutine.yield() straight out of a task: nobody could ever
       * resume it, so it is an error in the script. */
      report(t, "coroutine.yield() called outside a host call (use "
                "host.spawn/host.wait to wait in a task)");
    }
  } else if (t->guard & TASK_KILLED) {
    report_kill(t); /* whatever it raised or returned after the kill */
  } else if (status == LUA_OK) {
    if (t->kind == TASK_MAIN)
      lmain_done(vm, t->co, nres);
    finish(t, 1);
    return;
  } else {
    const char *msg = error_text(t);
    if (t->kind == TASK_MAIN)
      lmain_failed(vm, msg);
    else
      report(t, msg);
    lua_pop(vm->L, 1);
  }
  finish(t, 0);
}

void task_schedule(struct task *t, int nargs) {
  struct sched *s = &t->vm->sched;
  if (t->w->killing || t->vm->killed)
    return; /* forced stop: nothing runs any more */
  t->nargs = nargs;
  t->waiting = 1;
  t->queued = 1;
  t->next = NULL;
  if (s->runq_tail)
    s->runq_tail->next = t;
  else
    s->runq = t;
  s->runq_tail = t;
}

int task_run_queue(struct lvm *vm) {
  struct sched *s = &vm->sched;
  struct task *t = s->runq;
  int n = 0;
  s->runq = s->runq_tail = NULL;
  while (t) {
    struct task *next = t->next;
    s->rest = next; /* still to run: the worker is not idle */
    t->queued = 0;
    if (t->guard & TASK_PAUSED) {
      /* What the others wrote since it was paused goes out before it
       * takes its next slice (else a reply waits a slice longer).  The
       * pump may resume a task from a timer or a completion, and that
       * task must see this one still to run (host._idle(), which the
       * test runner asks). */
      t->guard &= (unsigned char)~TASK_PAUSED;
      s->rest = t;
      worker_pump(vm->w);
      s->rest = next;
    }
    task_resume(t, t->nargs);
    t = next;
    n++;
  }
  s->rest = NULL;
  return n;
}

int task_ready(struct worker *w) {
  for (struct lvm *vm = lvm_of(w); vm; vm = vm->older) /* older: reload */
    if (vm->sched.runq || vm->sched.rest)
      return 1;
  return 0;
}

/* ---- timers ------------------------------------------------------------ */

int task_sleep(struct task *t, double seconds, io_op_cb cb) {
  struct worker *w = t->w;
  struct sched *sc = &t->vm->sched;
  struct sleeper *s = pool_zget(&sc->sleeper_pool);
  if (!s)
    return IO_ENOMEM;
  s->w = w;
  s->vm = t->vm;
  s->task = t;
  io_op_init(&s->op, s);
  uint64_t ns = seconds <= 0     ? 0
                : seconds >= 1e9 ? (uint64_t)1e18
                                 : (uint64_t)(seconds * 1e9);
  int err = io_timeout(w->loop, &s->op, ns, cb);
  if (err) {
    pool_put(&sc->sleeper_pool, s);
    return err;
  }
  list_push(&sc->sleepers, &s->node);
  t->sleeper = s;
  return 0;
}

/* Detach t from its timer and cancel it; the timer's record is recycled
 * when its completion arrives (sleeper_release). */
void task_unsleep(struct task *t) {
  struct sleeper *s = t->sleeper;
  if (!s)
    return;
  t->sleeper = NULL;
  s->task = NULL;
  io_cancel(t->w->loop, &s->op);
}

void sleeper_release(struct worker *w, struct sleeper *s) {
  (void)w;
  list_remove(&s->node);
  if (s->task)
    s->task->sleeper = NULL;
  pool_put(&s->vm->sched.sleeper_pool, s);
}

void task_cancel(struct task *t) { t->guard |= TASK_CANCELLED; }

void task_each(struct worker *w, lua_State *L,
               void (*fn)(struct task *t, void *ud), void *ud) {
  if (!lua_checkstack(L, 3))
    return;
  lua_pushnil(L);
  while (lua_next(L, LUA_REGISTRYINDEX)) {
    struct task *t =
        lua_type(L, -1) == LUA_TTHREAD ? task_of(lua_tothread(L, -1)) : NULL;
    lua_pop(L, 1);
    if (t && t->w == w)
      fn(t, ud);
  }
}

void task_drop_all(struct lvm *vm) {
  struct worker *w = vm->w;
  struct sched *sc = &vm->sched;
  for (struct list_node *n = list_first(&sc->sleepers); n;
       n = list_next(&sc->sleepers, n)) {
    struct sleeper *s = list_entry(n, struct sleeper, node);
    if (s->task)
      s->task->sleeper = NULL;
    s->task = NULL;
    io_cancel(w->loop, &s->op);
  }
  for (struct task *t = sc->runq; t; t = t->next)
    t->queued = 0;
  sc->runq = sc->runq_tail = NULL;
}
