/*
 * worker.h -- one thread: its own completion loop, its own Lua VM, its
 * own timers, tasks and connections.  Nothing in a worker is touched by
 * another thread except its inbox (worker_post), which is how stop
 * requests and, on Windows, accepted sockets arrive, and its mailbox of
 * messages from other workers' VMs (mail.h), under the same lock.
 */
#ifndef HOST_WORKER_H
#define HOST_WORKER_H

#include "conn.h"
#include "io.h"
#include "mail.h"
#include "pool.h"
#include "sys.h"

#include <stddef.h>
#include <stdint.h>

struct host;
struct listener;
struct group;

/* The VM a worker runs, behind hooks: the Lua side fills the table
 * (lmain.c) and main.c hands it over in the host's configuration, so
 * nothing here knows it is Lua.  All run on the worker's thread. */
struct worker_vm {
  /* The loop exists: create the VM, load the script, queue its first
   * task.  0, or -1 after reporting the failure (host_fail). */
  int (*open)(struct worker *w);
  /* Resume what is ready; returns non-zero if tasks are ready again, so
   * the next turn of the loop must not block. */
  int (*turn)(struct worker *w);
  /* Forced stop: nothing is resumed any more.  Returns how many tasks
   * were still alive. */
  int (*kill)(struct worker *w);
  /* Every completion is in: close the VM (its finalizers may still ask
   * for closes, which the loop then completes). */
  void (*close)(struct worker *w);
  /* Mail arrived (mail_take has some), or the inbox closed: hand it to
   * the tasks waiting for it.  May be NULL. */
  void (*mail)(struct worker *w);
  /* Load the script again into a fresh VM; the connections already open
   * finish under the old one (SIGHUP, host --reload).  May be NULL. */
  void (*reload)(struct worker *w);
};

enum msg_type {
  MSG_STOP,     /* begin a graceful stop (a second one: stop at once) */
  MSG_ACCEPTED, /* a connection handed over by the accepting worker */
  MSG_CALL      /* call(w, m, 1) on the worker (e.g. a name resolved); or
                   call(w, m, 0) to free it where it cannot run (the
                   worker is stopping or gone).  call owns m: the message
                   may be embedded in the caller's own record. */
};

struct msg {
  struct msg *next;
  int type;
  io_sock sock;        /* MSG_ACCEPTED */
  struct group *group; /* MSG_ACCEPTED: the listener group (group.h) */
  double grace;        /* MSG_STOP: seconds */
  void (*call)(struct worker *w, struct msg *m, int run); /* MSG_CALL */
};

struct worker {
  int id; /* 1..N */
  struct host *host;
  struct io_loop *loop;
  sys_thread thread;
  void *vm;  /* the VM's own state (host->cfg.vm's) */
  int ready; /* the VM has tasks ready: do not block */

  sys_mutex inbox_lock; /* guards inbox, loop_ready, mail's shared half */
  struct msg *inbox, *inbox_tail;
  int loop_ready;      /* the loop exists: io_wake may be called */
  struct mailbox mail; /* messages from the VMs of workers (mail.h) */

  struct conn_set conns; /* every connection (conn.h) */
  struct list listeners; /* this worker's (listener.h) */

  int stopping;          /* graceful stop begun: no more accepts */
  int killing;           /* grace over: nothing resumes any more */
  struct io_op grace_op; /* fires when the grace period ends */
};

/* Creates the worker (not started).  NULL if out of memory. */
struct worker *worker_new(struct host *host, int id);
int worker_start(struct worker *w);
void worker_join(struct worker *w);
void worker_free(struct worker *w);

/* A message (calloc'd), or NULL if out of memory. */
struct msg *msg_new(int type, struct group *group, io_sock sock);
/* Any thread: queue m (from msg_new; the worker frees it) and wake it. */
void worker_post(struct worker *w, struct msg *m);
/* Any thread: wake the worker so it looks again whether it is done (a
 * task waiting for mail keeps it only while another worker runs). */
void worker_wake(struct worker *w);

/* Nothing is left that could resume a task: no task ready, no listener,
 * no operation or timer posted (but unread receive streams). */
int worker_idle(struct worker *w);

/* On the worker: start closing listeners, let tasks finish within
 * `grace` seconds, then close everything. */
void worker_stop(struct worker *w, double grace);

#endif
