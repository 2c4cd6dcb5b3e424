/*
 * host.c -- the process: start the workers, turn signals into stops,
 * wait for the workers, return the exit code (see host.h).
 *
 * Signals are handled synchronously: SIGINT, SIGTERM and SIGUSR1 are
 * blocked before any worker starts (threads inherit the mask), and the
 * main thread takes them with sigwait.  SIGUSR1 is how a finishing worker
 * tells the main thread to look again.  On Windows a console control
 * handler does the same for Ctrl-C, Ctrl-Break and closing the console,
 * and an event replaces SIGUSR1.
 */
#include "host.h"
#include "group.h"
#include "log.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
static struct host *console_host; /* the console handler has no argument */
static HANDLE worker_done_event;
#else
#include <signal.h>
#endif

void host_stop(struct host *h, double grace) {
  int n = atomic_fetch_add(&h->stops, 1);
  if (grace < 0)
    grace = h->cfg.grace;
  if (n == 0 && grace > 0)
    log_write(LOG_INFO, 0, "stopping (grace %.3g s)", grace);
  for (int i = 0; i < h->nworkers; i++) {
    struct msg *m = calloc(1, sizeof *m);
    if (!m)
      continue; /* the worker stops when the host exits anyway */
    m->type = MSG_STOP;
    m->grace = n == 0 ? grace : 0; /* a second request: at once */
    worker_post(h->workers[i], m);
  }
}

void host_fail(struct host *h, const char *msg) {
  sys_mutex_lock(&h->lock);
  int first = !h->failed;
  h->failed = 1;
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
  if (!h->failed)
    atomic_store(&h->exit_code, code);
  sys_mutex_unlock(&h->lock);
}

void host_worker_done(struct host *h) {
  atomic_fetch_sub(&h->running, 1);
#ifdef _WIN32
  SetEvent(worker_done_event);
#else
  pthread_kill(h->main_thread, SIGUSR1);
#endif
}

#ifdef _WIN32
static BOOL WINAPI on_console(DWORD type) {
  if (type == CTRL_C_EVENT || type == CTRL_BREAK_EVENT ||
      type == CTRL_CLOSE_EVENT) {
    host_stop(console_host, -1);
    return TRUE;
  }
  return FALSE;
}

static void wait_workers(struct host *h) {
  while (atomic_load(&h->running) > 0)
    WaitForSingleObject(worker_done_event, INFINITE);
}
#else
static void wait_workers(struct host *h) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  while (atomic_load(&h->running) > 0) {
    int sig;
    if (sigwait(&set, &sig) != 0)
      continue;
    if (sig == SIGINT || sig == SIGTERM) {
      log_write(LOG_INFO, 0, "%s received",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
      host_stop(h, -1);
    }
  }
}
#endif

static void block_signals(void) {
#ifdef _WIN32
  worker_done_event = CreateEventA(NULL, FALSE, FALSE, NULL);
  SetConsoleCtrlHandler(on_console, TRUE);
#else
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
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
  atomic_init(&h->running, 0);
  atomic_init(&h->stops, 0);
  atomic_init(&h->exit_code, HOST_EXIT_OK);
  h->workers = calloc((size_t)h->nworkers, sizeof *h->workers);
#ifdef _WIN32
  console_host = h;
#else
  h->main_thread = pthread_self();
#endif
  block_signals();
  int started = 0;
  for (int i = 0; h->workers && i < h->nworkers; i++) {
    if (!(h->workers[i] = worker_new(h, i + 1)))
      break;
  }
  for (int i = 0; h->workers && i < h->nworkers && h->workers[i]; i++) {
    atomic_fetch_add(&h->running, 1);
    if (worker_start(h->workers[i]) != 0) {
      atomic_fetch_sub(&h->running, 1);
      host_fail(h, "cannot start a worker thread");
      break;
    }
    started++;
  }
  if (started < h->nworkers && !h->failed)
    host_fail(h, "not enough memory for the workers");
  wait_workers(h);
  for (int i = 0; i < started; i++)
    worker_join(h->workers[i]);
  for (int i = 0; h->workers && i < h->nworkers; i++)
    if (h->workers[i])
      worker_free(h->workers[i]);
  int code = atomic_load(&h->exit_code);
  group_free_all(h);
  sys_mutex_destroy(&h->lock);
  free(h->workers);
  free(h);
  return code;
}
