/*
 * host.c -- the process: start the workers, turn signals into stops,
 * wait for the workers, return the exit code (see host.h).
 *
 * Signals are handled synchronously: every signal we act on is blocked
 * before any worker starts (threads inherit the mask), and the main
 * thread takes them with sigtimedwait.  SIGINT, SIGTERM and SIGQUIT stop
 * gracefully (a second one stops at once); SIGHUP reloads the script
 * (every worker, through its inbox: worker_vm's reload hook); SIGUSR1
 * makes every worker log what its tasks are doing (host_dump); SIGUSR2
 * and SIGALRM are taken and logged instead of killing the process (the
 * default action of each).  A
 * real-time signal (WAKE_SIGNAL) is how a finishing worker tells the main
 * thread to look again.  After a second stop request the main thread
 * gives the workers HOST_FORCE_EXIT_S, then ends the process even if one
 * is stuck in a handler that never yields.
 *
 * On Windows a console control handler does the same for Ctrl-C,
 * Ctrl-Break and closing the console, and an event replaces the wake-up
 * signal.  Windows has no SIGHUP: a named event, "host-reload-PID", is
 * what `host --reload PID` sets (main.c), and the main thread waits on it
 * beside the wake-up event.  The handler runs on a thread the system starts,
 * possibly while host_run is ending: it reaches the host only under
 * console_lock, and host_run takes the host away from it before freeing the
 * workers. Closing the console (or a shutdown) ends the process about 5 s after
 * the event whatever the handler does, so that stop gets a grace of at
 * most STOP_BEFORE_KILL_S and the handler waits for it to finish.
 * Windows has no SIGUSR1: each host process waits on a named event,
 * HOST_DUMP_EVENT with its process id, which `host --dump PID` sets.
 */
#include "host.h"
#include "group.h"
#include "listener.h"
#include "log.h"
#include "resolve.h"
#include "watchdog.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#define STOP_BEFORE_KILL_S 4.0
static struct host *console_host; /* the console handler has no argument */
static SRWLOCK console_lock = SRWLOCK_INIT; /* guards console_host */
static HANDLE worker_done_event; /* a worker ended (WAKE_SIGNAL's role) */
static HANDLE dump_event;        /* `host --dump PID` (SIGUSR1's role) */
static HANDLE all_done_event;    /* host_run is done with the workers */
static HANDLE reload_event;      /* host --reload PID sets it (SIGHUP's) */
#else
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#define WAKE_SIGNAL (SIGRTMIN + 1)
#endif

/* After a second stop request: are we past the moment to give up on the
 * workers? */
static int force_exit_due(struct host *h) {
  uint64_t at = atomic_load(&h->force_at);
  return at != 0 && io_clock() >= at;
}

static void force_exit(struct host *h) {
  log_write(LOG_ERROR, 0,
            "%d worker(s) did not stop within %.3g s of the second stop "
            "request (a handler that never yields?): exiting now",
            atomic_load(&h->running), HOST_FORCE_EXIT_S);
  fflush(stdout);
#ifdef _WIN32
  ExitProcess(HOST_EXIT_FAILED);
#else
  _exit(HOST_EXIT_FAILED);
#endif
}

void host_stop(struct host *h, double grace) {
  int n = atomic_fetch_add(&h->stops, 1);
  if (grace < 0 || grace != grace)
    grace = h->cfg.grace;
  if (n == 0 && grace >= HOST_GRACE_FOREVER)
    log_write(LOG_INFO, 0, "stopping (waiting for handlers to finish)");
  else if (n == 0 && grace > 0)
    log_write(LOG_INFO, 0, "stopping (grace %.3g s)", grace);
  if (n > 0 && atomic_load(&h->force_at) == 0)
    atomic_store(&h->force_at,
                 io_clock() + (uint64_t)(HOST_FORCE_EXIT_S * 1e9));
  for (int i = 0; h->workers && i < h->nworkers; i++) {
    if (!h->workers[i])
      continue; /* never created: out of memory at start */
    struct msg *m = msg_new(MSG_STOP, NULL, IO_NOSOCK);
    if (!m)
      continue; /* the worker stops when the host exits anyway */
    m->grace = n == 0 ? grace : 0; /* a second request: at once */
    worker_post(h->workers[i], m);
  }
}

static void reload_call(struct worker *w, struct msg *m, int run) {
  if (run && w->host->cfg.vm->reload)
    w->host->cfg.vm->reload(w);
  free(m);
}

void host_reload(struct host *h) {
  if (atomic_load(&h->stops) > 0 || h->cfg.test_mode)
    return;
  log_write(LOG_INFO, 0, "reloading %s", h->cfg.script);
  for (int i = 0; h->workers && i < h->nworkers; i++) {
    struct msg *m = h->workers[i] ? msg_new(MSG_CALL, NULL, IO_NOSOCK) : NULL;
    if (!m)
      continue;
    m->call = reload_call;
    worker_post(h->workers[i], m);
  }
}

void host_fail(struct host *h, const char *msg) {
  sys_mutex_lock(&h->lock);
  int first = !atomic_exchange(&h->failed, 1);
  sys_mutex_unlock(&h->lock);
  atomic_store(&h->exit_code, HOST_EXIT_FAILED);
  if (first) {
    /* One write: workers failing together do not interleave. */
    size_t len = strlen(msg);
    char *line = malloc(len + 8);
    if (line) {
      memcpy(line, "host: ", 6);
      memcpy(line + 6, msg, len);
      line[len + 6] = '\n';
      fwrite(line, 1, len + 7, stderr);
      free(line);
    }
    fflush(stderr);
    host_stop(h, 0);
  }
}

void host_set_exit(struct host *h, int code) {
  sys_mutex_lock(&h->lock);
  if (!atomic_load(&h->failed))
    atomic_store(&h->exit_code, code);
  sys_mutex_unlock(&h->lock);
}

static void dump_call(struct worker *w, struct msg *m, int run) {
  if (run && w->host->cfg.vm->dump)
    w->host->cfg.vm->dump(w);
  free(m);
}

void host_limit_log(struct host *h, int pausing, int open) {
  if (!pausing) {
    if (atomic_exchange(&h->limit_logged, 0))
      log_write(LOG_INFO, 0, "%d connections open: accepting again", open);
    return;
  }
  uint64_t now = sys_clock_ms() | 1; /* never 0 */
  static _Atomic uint64_t last;      /* the last pause logged */
  uint64_t prev = atomic_load(&last);
  if ((prev && now - prev < LISTENER_WARN_MS) ||
      !atomic_compare_exchange_strong(&last, &prev, now))
    return;
  atomic_store(&h->limit_logged, now);
  log_write(LOG_WARN, 0,
            "%d connections open, the limit (--max-connections): accepting "
            "paused until some close",
            open);
}

static void resume_call(struct worker *w, struct msg *m, int run) {
  if (run)
    listener_resume(w);
  free(m);
}

static void pause_call(struct worker *w, struct msg *m, int run) {
  if (run)
    listener_pause(w);
  free(m);
}

static void broadcast(struct host *h,
                      void (*call)(struct worker *, struct msg *, int)) {
  for (int i = 0; h->workers && i < h->nworkers; i++) {
    struct msg *m = h->workers[i] ? msg_new(MSG_CALL, NULL, IO_NOSOCK) : NULL;
    if (!m)
      continue; /* no memory: that worker finds out at its next accept */
    m->call = call;
    worker_post(h->workers[i], m);
  }
}

void host_limit_reached(struct host *h) { broadcast(h, pause_call); }

/* Below the connection limit again: every worker's paused listeners
 * accept again (any worker's thread: through the inboxes). */
static void resume_accepting(struct conn_limit *lim) {
  struct host *h = (struct host *)((char *)lim - offsetof(struct host, limit));
  host_limit_log(h, 0, atomic_load(&lim->open));
  broadcast(h, resume_call);
}

void host_dump(struct host *h) {
  log_write(LOG_INFO, 0, "dumping every worker's tasks");
  for (int i = 0; h->workers && i < h->nworkers; i++) {
    struct msg *m = h->workers[i] ? msg_new(MSG_CALL, NULL, IO_NOSOCK) : NULL;
    if (!m)
      continue;
    m->call = dump_call;
    worker_post(h->workers[i], m);
  }
}

int host_request_dump(unsigned long pid, char *err, size_t errsize) {
#ifdef _WIN32
  char name[64];
  snprintf(name, sizeof name, HOST_DUMP_EVENT, pid);
  HANDLE e = OpenEventA(EVENT_MODIFY_STATE, FALSE, name);
  if (!e || !SetEvent(e)) {
    snprintf(err, errsize, "no host process %lu in this session (error %lu)",
             pid, (unsigned long)GetLastError());
    if (e)
      CloseHandle(e);
    return -1;
  }
  CloseHandle(e);
  return 0;
#else
  if (kill((pid_t)pid, SIGUSR1) != 0) {
    snprintf(err, errsize, "cannot signal process %lu: %s", pid,
             strerror(errno));
    return -1;
  }
  return 0;
#endif
}

void host_worker_done(struct host *h) {
  atomic_fetch_sub(&h->running, 1);
  /* A worker whose tasks wait only for mail stays while another runs:
   * each one left looks again. */
  for (int i = 0; h->workers && i < h->nworkers; i++)
    if (h->workers[i])
      worker_wake(h->workers[i]);
#ifdef _WIN32
  SetEvent(worker_done_event);
#else
  pthread_kill(h->main_thread, WAKE_SIGNAL);
#endif
}

#ifdef _WIN32
/* Ctrl-C and Ctrl-Break stop as SIGINT does (a second one: at once).
 * Under Wine, SIGINT to the process arrives here as CTRL_C_EVENT. */
static BOOL WINAPI on_console(DWORD type) {
  const char *what;
  int ending = type == CTRL_CLOSE_EVENT || type == CTRL_SHUTDOWN_EVENT;
  switch (type) {
  case CTRL_C_EVENT: what = "Ctrl-C"; break;
  case CTRL_BREAK_EVENT: what = "Ctrl-Break"; break;
  case CTRL_CLOSE_EVENT: what = "console close"; break;
  case CTRL_SHUTDOWN_EVENT: what = "system shutdown"; break;
  case CTRL_LOGOFF_EVENT: return TRUE; /* only services get it: not ours */
  default: return FALSE;
  }
  log_write(LOG_INFO, 0, "%s received", what);
  AcquireSRWLockShared(&console_lock);
  struct host *h = console_host;
  if (h) {
    double grace = h->cfg.grace;
    host_stop(h,
              ending && grace > STOP_BEFORE_KILL_S ? STOP_BEFORE_KILL_S : -1);
  }
  ReleaseSRWLockShared(&console_lock);
  if (ending && h)
    WaitForSingleObject(all_done_event,
                        (DWORD)(STOP_BEFORE_KILL_S * 1000) + 500);
  return TRUE;
}

static void wait_workers(struct host *h) {
  /* Wait on the events that exist (a failed CreateEvent leaves NULL). */
  HANDLE events[3];
  void (*act[3])(struct host *) = {NULL, host_dump, host_reload};
  HANDLE all[3] = {worker_done_event, dump_event, reload_event};
  DWORD n = 0;
  int which[3];
  for (int i = 0; i < 3; i++)
    if (all[i]) {
      which[n] = i;
      events[n++] = all[i];
    }
  while (atomic_load(&h->running) > 0) {
    DWORD r = WaitForMultipleObjects(n, events, FALSE, 100);
    if (r - WAIT_OBJECT_0 < n && act[which[r - WAIT_OBJECT_0]])
      act[which[r - WAIT_OBJECT_0]](h);
    if (force_exit_due(h))
      force_exit(h);
  }
}
#else
static void handled_signals(sigset_t *set) {
  static const int sigs[] = {SIGINT,  SIGTERM, SIGQUIT, SIGHUP,
                             SIGUSR1, SIGUSR2, SIGALRM};
  sigemptyset(set);
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
    sigaddset(set, sigs[i]);
  sigaddset(set, WAKE_SIGNAL);
}

static const char *signal_name(int sig) {
  switch (sig) {
  case SIGINT: return "SIGINT";
  case SIGTERM: return "SIGTERM";
  case SIGQUIT: return "SIGQUIT";
  case SIGHUP: return "SIGHUP";
  case SIGUSR1: return "SIGUSR1";
  case SIGUSR2: return "SIGUSR2";
  default: return "SIGALRM";
  }
}

static void on_signal(struct host *h, int sig) {
  if (sig == WAKE_SIGNAL)
    return; /* a worker ended: the loop looks again */
  if (sig == SIGINT || sig == SIGTERM || sig == SIGQUIT) {
    log_write(LOG_INFO, 0, "%s received", signal_name(sig));
    host_stop(h, -1);
  } else if (sig == SIGHUP) {
    log_write(LOG_INFO, 0, "SIGHUP received");
    host_reload(h);
  } else if (sig == SIGUSR1) {
    host_dump(h);
  } else if (sig == SIGALRM) {
    log_write(LOG_DEBUG, 0, "SIGALRM received: ignored");
  } else {
    log_write(LOG_WARN, 0, "%s received: ignored (it has no meaning yet)",
              signal_name(sig));
  }
}

static void wait_workers(struct host *h) {
  sigset_t set;
  handled_signals(&set);
  while (atomic_load(&h->running) > 0) {
    /* A bounded wait: after a second stop request the clock matters. */
    struct timespec ts = {0, 100 * 1000000};
    int sig = sigtimedwait(&set, NULL, &ts);
    if (sig > 0)
      on_signal(h, sig);
    if (force_exit_due(h))
      force_exit(h);
  }
}
#endif

static void catch_stop_requests(void) {
#ifdef _WIN32
  char name[64];
  snprintf(name, sizeof name, HOST_DUMP_EVENT,
           (unsigned long)GetCurrentProcessId());
  dump_event = CreateEventA(NULL, FALSE, FALSE, name); /* NULL: no dumps */
  worker_done_event = CreateEventA(NULL, FALSE, FALSE, NULL);
  all_done_event = CreateEventA(NULL, TRUE, FALSE, NULL);
  host_reload_event_name(GetCurrentProcessId(), name, sizeof name);
  reload_event = CreateEventA(NULL, FALSE, FALSE, name); /* NULL: none */
  SetConsoleCtrlHandler(on_console, TRUE);
#else
  sigset_t set;
  handled_signals(&set);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
#endif
}

int host_run(const struct host_config *cfg) {
  struct host *h = calloc(1, sizeof *h);
  if (!h) {
    fprintf(stderr, "host: not enough memory\n");
    return HOST_EXIT_FAILED;
  }
  h->cfg = *cfg;
  h->nworkers = cfg->workers;
  sys_mutex_init(&h->lock);
  /* Before any thread starts (the resolver's too): threads inherit the
   * mask, and one that did not block SIGHUP, SIGTERM or SIGUSR1 could
   * take it with the default action, which ends the process. */
  catch_stop_requests();
  group_registry_init(&h->reg);
  h->resolver = resolve_new(NULL);
  atomic_init(&h->failed, 0);
  atomic_init(&h->running, 0);
  atomic_init(&h->stops, 0);
  atomic_init(&h->exit_code, HOST_EXIT_OK);
  atomic_init(&h->force_at, 0);
  atomic_init(&h->limit.open, 0);
  atomic_init(&h->limit.paused, 0);
  h->limit.max = cfg->max_connections;
  h->limit.resume = resume_accepting;
  h->workers = calloc((size_t)h->nworkers, sizeof *h->workers);
#ifdef _WIN32
  console_host = h;
#else
  h->main_thread = pthread_self();
#endif
  int started = 0, created = 0;
  while (h->workers && created < h->nworkers &&
         (h->workers[created] = worker_new(h, created + 1)))
    created++;
  /* All of them count as running before the first starts: a worker whose
   * tasks wait for mail stays while another runs, and must not see the
   * others as gone because they have not started yet. */
  atomic_store(&h->running, created);
  for (int i = 0; i < created; i++) {
    if (worker_start(h->workers[i]) != 0) {
      atomic_fetch_sub(&h->running, created - i);
      host_fail(h, "cannot start a worker thread");
      break;
    }
    started++;
  }
  if (started < h->nworkers && !atomic_load(&h->failed))
    host_fail(h, "not enough memory for the workers");
  if (started == h->nworkers && watchdog_start(h) != 0)
    log_write(LOG_WARN, 0,
              "cannot start the watchdog: tasks run unwatched "
              "(no time slices, no cpu limit)");
  wait_workers(h);
  watchdog_stop(h); /* it interrupts workers: before they are joined */
  for (int i = 0; i < started; i++)
    worker_join(h->workers[i]);
  /* Requests still out come back cancelled, into inboxes that
   * worker_free empties; a lookup stuck in getaddrinfo is left behind. */
  if (h->resolver)
    resolve_stop(h->resolver, 1000);
#ifdef _WIN32
  AcquireSRWLockExclusive(&console_lock);
  console_host = NULL; /* a late Ctrl-C must not reach freed workers */
  ReleaseSRWLockExclusive(&console_lock);
#endif
  for (int i = 0; h->workers && i < h->nworkers; i++)
    if (h->workers[i])
      worker_free(h->workers[i]);
  int code = atomic_load(&h->exit_code);
  group_registry_free(&h->reg);
  sys_mutex_destroy(&h->lock);
  free(h->workers);
  free(h);
#ifdef _WIN32
  SetEvent(all_done_event);
#endif
  return code;
}
