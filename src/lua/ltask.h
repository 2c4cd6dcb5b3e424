/*
 * ltask.h -- tasks: the coroutines the host runs and resumes.
 *
 * Every handler call, host.spawn and the script's main chunk run in a
 * task.  A host call that must wait (recv, send, connect, sleep...) posts
 * its operation, records the task as the op's waiter and yields through
 * task_yield(); the op's completion pushes the results on the task's
 * stack and calls task_resume().  Only the host resumes a task that
 * yielded this way.
 *
 * A task's body is the function itself: no wrapper frame, which keeps an
 * idle handler's coroutine small.  An error ends lua_resume with the
 * coroutine suspended where it raised; its traceback is taken from there,
 * logged with the worker and the peer, and only that task ends (and the
 * connection of a handler is closed).
 */
#ifndef HOST_LTASK_H
#define HOST_LTASK_H

#include <lua.h>

#include "io.h"
#include "list.h"
#include "pool.h"

struct worker;
struct conn;
struct lvm;

enum task_kind { TASK_HANDLER, TASK_SPAWN, TASK_MAIN };
/* What a suspended task waits on (host.tasks(), host.stats()). */
enum task_wait {
  TASK_READY, /* nothing: queued to run (new, or paused by its slice) */
  TASK_RECV,
  TASK_SEND,
  TASK_CONNECT,
  TASK_SLEEP,
  TASK_WAIT, /* host.wait */
  TASK_HANDSHAKE,
  TASK_RESOLVE,
  TASK_RECEIVE, /* host.receive */
  TASK_NWAITS
};
extern const char *const task_wait_names[TASK_NWAITS];
enum task_wake {
  TASK_WAKE_NONE,
  TASK_WAKE_WAITING, /* in host.wait */
  TASK_WAKE_WOKEN,   /* host.wakeup queued it */
  TASK_WAKE_TIMEDOUT /* its host.wait timed out */
};

/* The fields every wake-up and wait touch come first; ordered so that no
 * padding is left (96 bytes, one task per connection). */
struct task {
  lua_State *co;
  struct worker *w;
  struct lvm *vm;          /* its VM (two per worker while reloading) */
  uint64_t since;          /* io_now() when it last waited or was paused */
  uint64_t cpu;            /* ns it ran, over its slices, since it last
                              waited (the cpu limit's count) */
  unsigned char waiting;   /* suspended in a host call */
  unsigned char wait;      /* enum task_wait while suspended */
  unsigned char guard;     /* TASK_SLICED, TASK_KILLED, TASK_CANCELLED */
  unsigned char kind;      /* enum task_kind */
  unsigned char queued;    /* on the run queue */
  unsigned char wake;      /* host.wait state: TASK_WAKE_* */
  unsigned char exposed;   /* the script has held its thread */
  struct task *next;       /* run queue */
  struct conn *conn;       /* a handler's connection, closed at the end */
  int ref;                 /* registry ref pinning co */
  int nargs;               /* when queued: values waiting on co's stack */
  struct sleeper *sleeper; /* the timer of host.sleep/host.wait */
  void *ud;                /* what else it waits on (lresolve.c; lmsg.c:
                              its place in host.receive's line) */
  uint32_t id;             /* 1, 2, ... per worker (host.tasks(), logs) */
  int kill_ref;            /* the traceback of its kill (lguard.c) */
};

/* task.guard */
#define TASK_SLICED 0x01    /* its count hook yielded it: queue it again */
#define TASK_KILLED 0x02    /* past the cpu limit: it ends at the next step */
#define TASK_CANCELLED 0x04 /* ended from outside (host._cancel) */
#define TASK_PAUSED 0x08    /* queued after a slice: I/O goes out first */

/* A host.sleep / host.wait timer.  Lives until its completion arrives,
 * which can be after the task it woke has ended. */
struct sleeper {
  struct io_op op;
  struct worker *w;
  struct lvm *vm;        /* whose pool it goes back to */
  struct task *task;     /* NULL once detached */
  struct list_node node; /* in sched.sleepers */
};

#define SCHED_IDLE_MAX 64 /* finished handler threads kept for reuse */

/* A worker's tasks: what runs next, what runs now, and their pools. */
struct sched {
  struct {
    lua_State *co; /* reset, referenced by ref, ready for a handler */
    int ref;
  } idle[SCHED_IDLE_MAX];
  int nidle;
  struct task *runq, *runq_tail; /* tasks to resume next turn */
  struct task *rest;             /* what task_run_queue has still to run */
  struct task *current;          /* the task running now, NULL in the loop */
  struct list sleepers;          /* posted host.sleep / host.wait timers */
  struct pool task_pool;         /* struct task */
  struct pool sleeper_pool;      /* struct sleeper */
  int ntasks;                    /* live tasks */
  uint32_t last_id;              /* the id of the newest task */
};

void sched_init(struct sched *s);
/* After lua_close: tasks a forced stop left suspended go with the pool. */
void sched_free(struct sched *s);

/* The task running on L; raises a Lua error naming `what` if L is not a
 * host task (the main thread, or a coroutine the script created). */
struct task *task_current(lua_State *L, const char *what);
/* The same, for a call that may wait: also raises where L cannot yield
 * (inside table.sort, string.gsub, tostring's __tostring, a __gc...).
 * Every waiting call checks this before it records anything, because
 * lua_yieldk would raise after the task was recorded as a waiter. */
struct task *task_current_wait(lua_State *L, const char *what);
/* Replaces coroutine.resume, coroutine.close and coroutine.yield with
 * versions that refuse host tasks: only the host resumes a task (a send
 * in flight keeps its strings alive on the task's stack), and a yield
 * straight out of a task would suspend it with nobody to resume it. */
void task_guard_coroutines(lua_State *L);
/* The task of thread co, or NULL. */
struct task *task_of(lua_State *co);

/* New task running fn (at index fnidx of L) with the nargs values above
 * it, which are popped.  It starts on the next turn, or at once if `now`
 * and no task is running (a task is never resumed from inside another).  Pushes
 * the thread on L if push is set.  NULL (and nothing pushed) if out of memory.
 */
struct task *task_spawn(struct worker *w, lua_State *L, int nargs, int kind,
                        struct conn *conn, int now, int push);

/* Suspend the running task, waiting on `wait` (enum task_wait), until
 * the host resumes it. */
int task_yield(lua_State *L, struct task *t, int wait, lua_KContext ctx,
               lua_KFunction k);
/* Resume t with the nargs values on top of t->co's stack (from the loop). */
void task_resume(struct task *t, int nargs);
/* Resume t on the next turn instead. */
void task_schedule(struct task *t, int nargs);
/* Resume everything of vm queued before this call.  Returns how many
 * ran. */
int task_run_queue(struct lvm *vm);
/* Some task of any of the worker's VMs is queued to run (now, from a
 * task: the worker's own w->ready is as of its last turn). */
int task_ready(struct worker *w);

/* host.sleep / host.wait timers. */
int task_sleep(struct task *t, double seconds, io_op_cb cb);
void task_unsleep(struct task *t);
/* Called by a sleeper's callback once its completion is in. */
void sleeper_release(struct worker *w, struct sleeper *s);

/* Forced stop: forget every task of vm without resuming it. */
void task_drop_all(struct lvm *vm);

/* Ends t from outside without resuming it again: at once if it is queued
 * to run, else when what it waits for completes (nothing is logged).
 * The test runner ends a test that ran past its time this way. */
void task_cancel(struct task *t);

/* Calls fn(t, ud) for every live task of the worker (a walk of the
 * registry, on L's stack, with its key on top while fn runs: for
 * host.tasks() and the SIGUSR1 dump, not a hot path). */
void task_each(struct worker *w, lua_State *L,
               void (*fn)(struct task *t, void *ud), void *ud);

#endif
