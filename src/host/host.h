/*
 * host.h -- the process: configuration, the workers, stopping, the exit
 * code.  host_run() starts one worker per thread, waits for signals and
 * for the workers to finish, and returns the process's exit code.
 */
#ifndef HOST_HOST_H
#define HOST_HOST_H

#include "conn.h"
#include "group.h"
#include "io.h"
#include "log.h"
#include "sys.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HOST_DEFAULT_LISTEN "127.0.0.1:4567"
/* A grace this long or longer means "wait for the handlers however long
 * they take" (host.stop(math.huge)): no grace timer at all. */
#define HOST_GRACE_FOREVER 1e9
/* After a second stop request, workers that have not ended in this many
 * seconds (stuck in a handler that never yields) end with the process. */
#define HOST_FORCE_EXIT_S 2.0
#define HOST_MAX_LISTEN 16

enum { HOST_EXIT_OK = 0, HOST_EXIT_FAILED = 1, HOST_EXIT_USAGE = 2 };

struct host_config {
  const char *script; /* path of the script (NULL in test mode) */
  int argc;           /* the script's own arguments */
  char **argv;
  const char *listen[HOST_MAX_LISTEN]; /* --listen, in order */
  int nlisten;
  int workers;         /* --workers */
  double grace;        /* --grace, seconds */
  size_t memory_limit; /* --memory-limit, bytes per worker VM */
  uint32_t inbox;      /* --inbox: messages a worker may have queued */
  double slice;        /* --slice, seconds a task runs before it is
                          paused for the others (0: never) */
  double cpu_limit;    /* --cpu-limit, seconds a task may run without
                          waiting before it is ended (0: no limit) */
  int max_connections; /* --max-connections (0: none) */
  const struct io_backend *backend;
  const struct worker_vm *vm; /* what each worker runs (worker.h) */
  int test_mode;              /* `host test`: argv are the test files */
};

struct worker;
struct worker_vm;
struct group;

struct host {
  struct host_config cfg;
  struct worker **workers;
  int nworkers;
  atomic_int running; /* workers not yet finished */
  atomic_int stops;   /* stop requests so far */
  atomic_int exit_code;
  _Atomic uint64_t force_at;     /* io_clock() after which the process ends
                                     even with workers still running; 0: no */
  struct group_registry reg;     /* the listener groups (group.c) */
  struct resolver *resolver;     /* names, off the loops (resolve.h); NULL if
                                    it could not start */
  struct watchdog *watchdog;     /* watchdog.h; NULL if it could not start */
  struct conn_limit limit;       /* --max-connections (conn.h) */
  _Atomic uint64_t limit_logged; /* the pause in progress was logged */
  sys_mutex lock;                /* orders a failure and the exit code */
  atomic_int failed;             /* a script failure was reported */
#ifndef _WIN32
  sys_thread main_thread; /* woken with SIGUSR1 when a worker ends */
#endif
};

int host_run(const struct host_config *cfg);
/* Any thread: a graceful stop of every worker (grace < 0: the configured
 * grace; >= HOST_GRACE_FOREVER: no limit).  A second request stops at
 * once, and ends the process HOST_FORCE_EXIT_S later if a worker is
 * stuck. */
void host_stop(struct host *h, double grace);
/* Any thread: every worker loads the script again (worker_vm's reload
 * hook); ignored once stopping.  SIGHUP, or the Windows event below. */
void host_reload(struct host *h);
/* Windows: the name of the event that reloads process pid. */
static inline void host_reload_event_name(unsigned long pid, char *buf,
                                          size_t size) {
  snprintf(buf, size, "Local\\host-reload-%lu", pid);
}
/* A worker's script failed: print msg once, exit code 1, stop all. */
void host_fail(struct host *h, const char *msg);
/* Sets the exit code (the test runner's verdict). */
void host_set_exit(struct host *h, int code);
/* A worker thread has finished. */
void host_worker_done(struct host *h);
/* Any worker: accepting paused at the connection limit (pausing = 1)
 * or resumed (0): logs it, the pauses at most once per
 * LISTENER_WARN_MS and a resume only after a pause that was logged. */
void host_limit_log(struct host *h, int pausing, int open);
/* Any worker: the connection limit was reached: every worker's listeners
 * pause (listener_pause, through the inboxes). */
void host_limit_reached(struct host *h);
/* Any thread: every worker writes what its tasks are doing to the log
 * (its VM's dump hook, run from its inbox: a worker stuck in a task
 * answers once it is back in its loop). */
void host_dump(struct host *h);
/* `host --dump PID`: asks the host process PID to dump its tasks
 * (SIGUSR1 on POSIX; on Windows, the named event HOST_DUMP_EVENT that
 * every host process waits on).  0, or -1 with a message in err. */
int host_request_dump(unsigned long pid, char *err, size_t errsize);
#define HOST_DUMP_EVENT "Local\\host-dump-%lu" /* with the process id */

#endif
