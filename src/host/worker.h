/*
 * worker.h -- one thread: its own completion loop, its own Lua VM, its
 * own timers, tasks and connections.  Nothing in a worker is touched by
 * another thread except its inbox (worker_post), which is how stop
 * requests and, on Windows, accepted sockets arrive.
 */
#ifndef HOST_WORKER_H
#define HOST_WORKER_H

#include "conn.h"
#include "io.h"
#include "lalloc.h"
#include "log.h"
#include "pool.h"
#include "sys.h"

#include <stddef.h>
#include <stdint.h>

struct host;
struct conn;
struct listener;
struct group;
struct task;
struct sleeper;
struct lua_State;

enum msg_type {
  MSG_STOP,      /* begin a graceful stop (a second one: stop at once) */
  MSG_ACCEPTED   /* a connection handed over by the accepting worker */
};

struct msg {
  struct msg *next;
  int type;
  io_sock sock;              /* MSG_ACCEPTED */
  struct group *group;       /* MSG_ACCEPTED: the listener group (group.h) */
  double grace;              /* MSG_STOP: seconds */
};

#define TASK_ERRORS_PER_S 20 /* handler errors logged per second, at most */

struct worker {
  int id;                    /* 1..N */
  struct host *host;
  struct io_loop *loop;
  struct lua_State *L;
  sys_thread thread;

  sys_mutex inbox_lock;      /* guards inbox and loop_ready */
  struct msg *inbox, *inbox_tail;
  int loop_ready;            /* the loop exists: io_wake may be called */

  struct task *runq, *runq_tail;   /* tasks to resume next turn */
  struct task *current;      /* the task running now, NULL in the loop */
  struct conn_set conns;     /* every connection (conn.h) */
  struct listener *listeners;
  struct sleeper *sleepers;  /* posted host.sleep / host.wait timers */
  struct pool task_pool;     /* struct task */
  struct pool sleeper_pool;  /* struct sleeper */

  int stopping;              /* graceful stop begun: no more accepts */
  int killing;               /* grace over: nothing resumes any more */
  struct io_op grace_op;     /* fires when the grace period ends */


  struct lalloc alloc;       /* the VM's allocator: counts, caps */
  int ntasks;                /* live tasks */
  int main_done;             /* the script's main chunk has finished */
  struct log_rate task_errors; /* handler errors are logged sparingly */
};

/* Creates the worker (not started).  NULL if out of memory. */
struct worker *worker_new(struct host *host, int id);
int worker_start(struct worker *w);
void worker_join(struct worker *w);
void worker_free(struct worker *w);

/* Any thread: queue m (malloc'd; the worker frees it) and wake it. */
void worker_post(struct worker *w, struct msg *m);

/* The script's main task returned nres values (on co's stack), or
 * failed with the message on co's stack. */
void worker_main_done(struct worker *w, struct lua_State *co, int nres);
void worker_main_failed(struct worker *w, const char *msg);

/* Nothing is left that could resume a task: no task ready, no listener,
 * no operation or timer posted (but unread receive streams). */
int worker_idle(struct worker *w);

/* On the worker: start closing listeners, let tasks finish within
 * `grace` seconds, then close everything. */
void worker_stop(struct worker *w, double grace);

#endif
