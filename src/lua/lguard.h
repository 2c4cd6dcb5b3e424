/*
 * lguard.h -- the CPU guard of a worker's tasks: time slices and the cpu
 * limit, by a count hook that is armed only when a task needs it.
 *
 * A count hook on every task would cost every Lua instruction a call
 * (+10% of the instructions of an echoed message, measured), so while
 * tasks behave there is none.  The watchdog thread (watchdog.h) notices a
 * run that outlasts --slice and interrupts the worker, as a signal does;
 * the interrupt (guard_interrupt) only sets a flag and arms a count hook
 * on the thread that runs (lua_sethook is safe there: lua.c calls it
 * from its SIGINT handler).  At the task's next Lua instruction the hook
 * runs, on the worker, inside the task, and
 *  - pauses it (a count hook may yield in Lua 5.4): task_resume queues it
 *    behind the tasks that are ready, and the loop serves I/O meanwhile;
 *  - or, if it has run more than --cpu-limit since it last waited (its
 *    slices add up), kills it: the traceback of that moment is kept, the
 *    task yields and is ended as if it had raised "cpu limit exceeded"
 *    (a yield goes through the script's pcall, so pcall cannot keep it
 *    alive).  Where it cannot yield (inside a C function such as
 *    table.sort's comparator, or in a coroutine it resumed) the hook
 *    raises the error instead, and again at every instruction until the
 *    error reaches a point where the task can yield, or ends it.
 * A task that cannot pause yet is looked at again every GUARD_RECHECK
 * instructions.  A task stuck inside one C call (a huge string.rep, a
 * slow pattern) runs no instruction: nothing can stop it, but the
 * watchdog reports it, with where it is (guard_interrupt reads the
 * task's Lua frames then, as they cannot move while a C function runs).
 *
 * The thread that runs is tracked through coroutine.resume and
 * coroutine.wrap (ltask.c), so a spin inside a coroutine the task
 * resumed is caught too; one resumed by a C module is caught when it
 * hands back.  A task that sets a debug hook of its own loses it to the
 * guard's when it is interrupted.
 */
#ifndef HOST_LGUARD_H
#define HOST_LGUARD_H

#include "io.h"
#include "worker.h"

#include <lua.h>
#include <stdatomic.h>
#include <stdint.h>

struct task;

#define GUARD_KILL_MESSAGE "cpu limit exceeded"
#define GUARD_RECHECK                                                          \
  1000 /* instructions between looks while a task                              \
          cannot pause yet */

/* A worker's guard; part of its struct lvm. */
struct guard {
  _Atomic(lua_State *) running; /* a coroutine the running task resumed
                                   and that runs now, or NULL: the task's
                                   own thread (sched.current) runs */
  _Atomic uint64_t want_yield;  /* the run (pulse.runs) the watchdog asked
                                   to pause; 0: none */
  uint64_t where_run;           /* a WHERE request of this run, unanswered */
  uint64_t where_hooks;         /* `hooks` when it was made */
  uint64_t hooks;               /* times the hook has run */
  uint64_t floor;               /* io_clock() of the last pause: a run that
                                   began after it cannot have begun before
                                   (the loop's clock, io_now(), which a run
                                   starts after, may be older) */
  uint64_t slice, limit;        /* ns; 0: off */
};

void guard_init(struct guard *g, double slice, double limit);

/* A task starts running (outermost: not from inside another run, whose
 * coroutine, if one ran, is returned for guard_end).  The task itself is
 * sched.current, set before. */
static inline lua_State *guard_begin(struct guard *g, struct worker *w,
                                     int outermost) {
  lua_State *outer = NULL;
  if (outermost) {
    worker_run_begin(w);
  } else {
    outer = atomic_load_explicit(&g->running, memory_order_relaxed);
    atomic_store_explicit(&g->running, NULL, memory_order_relaxed);
  }
  atomic_signal_fence(memory_order_seq_cst); /* as the interrupt sees it */
  return outer;
}

static inline void guard_end(struct guard *g, struct worker *w,
                             lua_State *outer, int outermost) {
  atomic_signal_fence(memory_order_seq_cst);
  if (outermost)
    worker_run_end(w);
  else
    atomic_store_explicit(&g->running, outer, memory_order_relaxed);
}

/* A coroutine the task resumes runs / hands back (ltask.c). */
static inline lua_State *guard_enter(struct guard *g, lua_State *co) {
  lua_State *outer = atomic_load_explicit(&g->running, memory_order_relaxed);
  atomic_store_explicit(&g->running, co, memory_order_relaxed);
  return outer;
}
static inline void guard_leave(struct guard *g, lua_State *outer) {
  atomic_store_explicit(&g->running, outer, memory_order_relaxed);
}

/* The worker_vm interrupt hook (signal-handler rules: see sys.h). */
void guard_interrupt(struct worker *w, int ask);
/* t ends: what the guard kept for it goes. */
void guard_forget(struct task *t);
/* "task 7 (handler, peer 127.0.0.1:4000)" into buf (no stdio: it may
 * run in a signal handler). */
void guard_describe(struct task *t, char *buf, size_t size);

#endif
