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
#include "stat.h"
#include "sys.h"

#include <stdatomic.h>
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
  /* The watchdog's request (WORKER_ASK_*) about the run in progress; runs
   * as a signal handler does (sys_thread_interrupt): it may only set
   * flags and arm a hook that acts at the VM's next step.  Optional. */
  void (*interrupt)(struct worker *w, int ask);
  /* Publish the VM's gauges in w->stats (worker_publish).  Optional. */
  void (*publish)(struct worker *w);
  /* Log what every task is doing (SIGUSR1, `host --dump`).  Optional. */
  void (*dump)(struct worker *w);
  /* Give back what the VM keeps for later (worker_trim); returns the
   * memory it holds now, in bytes.  Optional. */
  size_t (*trim)(struct worker *w);
  /* The memory the VM holds now, in bytes.  Optional. */
  size_t (*memory)(struct worker *w);
  /* Some task is ready to run now (the turn's answer may be stale:
   * callbacks run between turns can make one ready).  Optional. */
  int (*pending)(struct worker *w);
};

/* What the watchdog asks of a run (worker_vm.interrupt). */
#define WORKER_ASK_YIELD 0x01 /* it ran past its slice: pause it */
#define WORKER_ASK_WHERE 0x02 /* publish where it runs (pulse.where) */

/* What a worker publishes about the task it runs, for the watchdog
 * (watchdog.c) on another thread: lock-free, written only by the worker
 * (or by its interrupt, while it is stopped), read by anyone. */
struct worker_pulse {
  _Atomic uint64_t runs;      /* +1 as a task starts and as it stops
                                 running: odd while one runs */
  _Atomic uint64_t hooked;    /* `runs` when the VM last acted on a request */
  _Atomic int ask;            /* WORKER_ASK_* the interrupt is to pass on */
  _Atomic uint64_t ask_run;   /* the run they are about: a later one is not
                                 disturbed */
  _Atomic uint32_t where_ver; /* odd while `where` is being written */
  _Atomic uint64_t where_run; /* the run `where` describes */
  char where[200];            /* "task 7 (handler, peer ...) at f.lua:12" */
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

#define WORKER_NWAITS 12 /* at least the VM's kinds of waits (host.stats) */
#define WORKER_NWORDS 16 /* at least the connection API's error words */

/* A worker's counters (host.stats()): written by the worker alone,
 * readable from any thread (stat.h).  Cumulative ones change as things
 * happen; the gauges marked "per turn" are published once per turn of
 * the loop (worker_publish), which is exact as seen from the worker's
 * own tasks and a turn late from another worker's. */
struct worker_stats {
  stat_counter accepted;               /* connections accepted */
  stat_counter connected;              /* connections made (host.connect) */
  stat_counter closed;                 /* connections freed, of both kinds */
  stat_counter open;                   /* connections alive (gauge) */
  stat_counter bytes_in, bytes_out;    /* payload received / sent */
  stat_counter tasks;                  /* live tasks (gauge) */
  stat_counter waiting[WORKER_NWAITS]; /* suspended tasks, by wait */
  stat_counter errors[WORKER_NWORDS];  /* nil, err results, by word */
  stat_counter forced_yields;          /* tasks paused by their slice */
  stat_counter cpu_kills;              /* tasks ended at the cpu limit */
  stat_counter memory_trims;           /* times memory was given back */
  stat_counter lua_bytes;              /* the VM's memory (per turn) */
  stat_counter buf_bytes;              /* connection buffers (per turn) */
  stat_counter timers;                 /* timers posted (per turn) */
};

struct worker {
  int id; /* 1..N */
  struct host *host;
  struct io_loop *loop;
  sys_thread thread;
  void *vm;           /* the VM's own state (host->cfg.vm's) */
  int ready;          /* the VM has tasks ready: do not block */
  unsigned turns;     /* turns of the loop (publishing the gauges) */
  uint64_t published; /* io_now() when the gauges were published */
  uint64_t trim_cpu;  /* its CPU time when a trim was put off */
  uint64_t trimmed;   /* io_now() when memory was last given back */
  size_t mem_peak;    /* the most held since then (worker_trim) */
  size_t mem_trimmed; /* what was held right after */

  sys_mutex inbox_lock; /* guards inbox, loop_ready, mail's shared half */
  struct msg *inbox, *inbox_tail;
  int loop_ready;      /* the loop exists: io_wake may be called */
  struct mailbox mail; /* messages from the VMs of workers (mail.h) */

  struct worker_pulse pulse; /* for the watchdog */
  struct worker_stats stats; /* for host.stats() */

  struct conn_set conns; /* every connection (conn.h) */
  struct list listeners; /* this worker's (listener.h) */

  int stopping;          /* graceful stop begun: no more accepts */
  int killing;           /* grace over: nothing resumes any more */
  struct io_op grace_op; /* fires when the grace period ends */
  struct io_op trim_op;  /* a trim put off (maybe_trim): not a reason to
                            stay, as the grace timer is not */
};

/* A task starts / stops running (the VM calls these around each run;
 * single writer, so no read-modify-write). */
static inline void worker_run_begin(struct worker *w) {
  uint64_t r = atomic_load_explicit(&w->pulse.runs, memory_order_relaxed);
  atomic_store_explicit(&w->pulse.runs, r + 1, memory_order_relaxed);
}
#define worker_run_end worker_run_begin
static inline int worker_running(struct worker *w) {
  return (atomic_load_explicit(&w->pulse.runs, memory_order_relaxed) & 1) != 0;
}
/* Publishes text as where the current run is (worker thread, or its
 * interrupt; skipped if a write is already in progress). */
void worker_publish_where(struct worker *w, const char *text);

/* On the worker, outside any task: posts what was written and delivers
 * what has completed, without waiting (a task that was paused by its
 * slice lets the others' replies go out before it runs again). */
void worker_pump(struct worker *w);

/* Publishes the gauges of w->stats (also the VM's).  The worker does it
 * at most every WORKER_PUBLISH_MS, checked before its loop blocks and
 * every WORKER_PUBLISH_TURNS turns. */
#define WORKER_PUBLISH_MS 10
#define WORKER_PUBLISH_TURNS 64
void worker_publish(struct worker *w);

/* Memory is given back (pools, spare buffers, the VM's free chunks after
 * a full collection, the C library's free pages) after a peak: once the
 * worker holds WORKER_TRIM_BYTES more than it holds now, or than it held
 * after the last time.  Not at once, but WORKER_TRIM_MS later, if the
 * worker was quiet in between (it used less than 1 / WORKER_TRIM_QUIET
 * of a CPU); a busy one, at most every WORKER_TRIM_BUSY_MS.  A busy
 * worker's collector keeps pace with its garbage, and what a trim would
 * give back it needs again at once: its heap swings by more than a MiB
 * from one collection to the next, and a trim on each swing was a full
 * collection every second, plus the pages faulted back in after it.  But
 * a peak that has passed while it stays busy (the garbage of ten
 * thousand connections gone, which a generational collector leaves
 * until the heap doubles again) still goes back within a minute. */
#define WORKER_TRIM_MS 1000
#define WORKER_TRIM_BYTES (1u << 20)
#define WORKER_TRIM_QUIET 10
#define WORKER_TRIM_BUSY_MS 60000
void worker_trim(struct worker *w);

/* Messages waiting in the inbox (any thread; takes the inbox lock). */
int worker_inbox_length(struct worker *w);

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
