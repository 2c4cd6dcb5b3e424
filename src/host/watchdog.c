/*
 * watchdog.c -- the thread that watches the workers (see watchdog.h).
 *
 * What a worker publishes costs it two plain stores per run of a task
 * (worker_run_begin/end), so the watchdog cannot know exactly when a run
 * began: it notes when it first saw it, which is at most one look late.
 * A slice is therefore honoured between --slice and --slice plus one
 * look (a look every half slice, WATCHDOG_IDLE_MS at most).  It counts
 * the CPU time the worker's thread used since then, where it can be read
 * (sys_thread_cpu): a worker the system did not let run on a busy
 * machine has not overrun its slice, and its task is not paused (pausing
 * one that has run briefly would only add switches).  An interrupt names
 * the run it is about, and one that arrives after that run ended is
 * dropped.  The cpu limit is the VM's to measure; the watchdog only makes
 * sure the VM gets to look, by asking once the run is long enough.
 */
#include "watchdog.h"
#include "fault.h"
#include "host.h"
#include "log.h"
#include "sys.h"
#include "worker.h"

#include <stdlib.h>
#include <string.h>

#define MS 1000000ull /* ns */

/* What the watchdog knows of one worker. */
struct watch {
  uint64_t run;       /* the pulse's `runs` at the last look */
  uint64_t seen;      /* io_clock() when that run was first seen */
  uint64_t cpu;       /* the worker thread's CPU time then (0: unknown) */
  uint64_t asked;     /* when a pause was last asked for (0: not yet) */
  uint64_t report_at; /* when the next report about this run is due */
  uint32_t where_ver; /* the pulse's where_ver when WHERE was asked */
  int where_asks;     /* WHERE requests made for the report due */
  int reported;       /* reports made about this run */
};

struct watchdog {
  struct host *h;
  sys_thread thread;
  sys_mutex lock;  /* guards stop */
  sys_cond cond;   /* signalled to stop */
  int stop;        /* watchdog_stop was called */
  unsigned tick;   /* ms between looks while tasks run */
  uint64_t slice;  /* ns; 0: no slices */
  uint64_t limit;  /* ns; 0: no cpu limit */
  struct watch *w; /* one per worker */
};

/* The interrupt, on (or for) the worker: pass the request to its VM if
 * the run it is about still goes on (a late one must not pause a task
 * that has only just begun). */
static void on_interrupt(void *arg) {
  struct worker *w = arg;
  int ask = atomic_exchange_explicit(&w->pulse.ask, 0, memory_order_relaxed);
  uint64_t run = atomic_load_explicit(&w->pulse.ask_run, memory_order_relaxed);
  const struct worker_vm *vm = w->host->cfg.vm;
  if (ask && worker_running(w) && vm->interrupt &&
      atomic_load_explicit(&w->pulse.runs, memory_order_relaxed) == run)
    vm->interrupt(w, ask);
}

static void ask(struct worker *w, uint64_t run, int what) {
  atomic_store_explicit(&w->pulse.ask_run, run, memory_order_relaxed);
  atomic_fetch_or_explicit(&w->pulse.ask, what, memory_order_relaxed);
  sys_thread_interrupt(w->thread, w);
}

/* Copies where the worker said run `run` is, if it has said so since
 * version `since` of its text; 0 if it has not. */
static int read_where(struct worker *w, uint64_t run, uint32_t since, char *buf,
                      size_t size) {
  struct worker_pulse *p = &w->pulse;
  for (int tries = 0; tries < 4; tries++) {
    uint32_t v = atomic_load_explicit(&p->where_ver, memory_order_acquire);
    if (v & 1)
      continue; /* being written */
    if (v == since ||
        atomic_load_explicit(&p->where_run, memory_order_relaxed) != run)
      return 0;
    size_t n = size < sizeof p->where ? size : sizeof p->where;
    memcpy(buf, p->where, n);
    buf[n - 1] = 0;
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&p->where_ver, memory_order_relaxed) == v)
      return 1;
  }
  return 0;
}

static void report(struct worker *w, struct watch *s, uint64_t now,
                   const char *where) {
  double secs = (double)(now - s->seen) / 1e9;
  log_write(LOG_WARN, w->id,
            "the worker has not come back to its loop for %.1f s: %s", secs,
            where[0] ? where
                     : "a task is running (where is unknown: it did not "
                       "answer)");
}

/* One worker: returns 1 if a task is running. */
static int look_at(struct watchdog *wd, struct worker *w, struct watch *s,
                   uint64_t now) {
  uint64_t run = atomic_load_explicit(&w->pulse.runs, memory_order_relaxed);
  if (run != s->run) {
    if (s->reported)
      log_write(LOG_WARN, w->id, "the worker is back in its loop after %.1f s",
                (double)(now - s->seen) / 1e9);
    memset(s, 0, sizeof *s);
    s->run = run;
    s->seen = now;
    s->report_at = now + WATCHDOG_STUCK_MS * MS;
    if ((run & 1) && sys_thread_cpu(w->thread, &s->cpu) != 0)
      s->cpu = 0;
    return (int)(run & 1);
  }
  if (!(run & 1))
    return 0; /* in its loop, as at the last look */
  uint64_t ran = now - s->seen;
  /* A slice is CPU time where the thread's can be read: a worker that the
   * system did not let run (a busy machine) has not overrun its slice. */
  uint64_t cpu_now, used = ran;
  if (s->cpu && sys_thread_cpu(w->thread, &cpu_now) == 0)
    used = cpu_now > s->cpu ? cpu_now - s->cpu : 0;
  int what = 0;
  int due = (wd->slice && used >= wd->slice) || (wd->limit && ran >= wd->limit);
  if (due && (!s->asked || now - s->asked >= WATCHDOG_REASK_MS * MS)) {
    what |= WORKER_ASK_YIELD;
    s->asked = now;
  }
  if (now >= s->report_at) {
    char where[sizeof w->pulse.where];
    if (s->where_asks > 0 &&
        read_where(w, run, s->where_ver, where, sizeof where)) {
      s->where_asks = 2;
    } else if (s->where_asks < 2) {
      if (s->where_asks == 0)
        s->where_ver =
            atomic_load_explicit(&w->pulse.where_ver, memory_order_relaxed);
      s->where_asks++;
      what |= WORKER_ASK_WHERE; /* the second: the VM reads it directly */
      where[0] = 0;
    } else {
      where[0] = 0; /* it did not answer: report what we know */
    }
    if (!(what & WORKER_ASK_WHERE)) {
      report(w, s, now, where);
      s->reported++;
      s->where_asks = 0;
      s->report_at = now + WATCHDOG_REPEAT_MS * MS;
    }
  }
  if (what)
    ask(w, run, what);
  return 1;
}

static void watch(void *arg) {
  struct watchdog *wd = arg;
  struct host *h = wd->h;
  unsigned wait = wd->tick;
  sys_mutex_lock(&wd->lock);
  while (!wd->stop) {
    sys_cond_timedwait(&wd->cond, &wd->lock, wait);
    if (wd->stop)
      break;
    sys_mutex_unlock(&wd->lock);
    uint64_t now = io_clock();
    int active = 0;
    for (int i = 0; i < h->nworkers; i++)
      if (h->workers[i])
        active |= look_at(wd, h->workers[i], &wd->w[i], now);
    /* No task running: look less often (a run that starts now is seen
     * at most WATCHDOG_IDLE_MS late); one running: every tick. */
    wait = active ? wd->tick
                  : (wait * 2 > WATCHDOG_IDLE_MS ? WATCHDOG_IDLE_MS : wait * 2);
    sys_mutex_lock(&wd->lock);
  }
  sys_mutex_unlock(&wd->lock);
}

int watchdog_start(struct host *h) {
  struct watchdog *wd =
      fault_fail(FAULT_C, "watchdog") ? NULL : calloc(1, sizeof *wd);
  if (!wd)
    return -1;
  wd->w = calloc((size_t)h->nworkers, sizeof *wd->w);
  if (!wd->w) {
    free(wd);
    return -1;
  }
  wd->h = h;
  wd->slice = (uint64_t)(h->cfg.slice * 1e9);
  wd->limit = (uint64_t)(h->cfg.cpu_limit * 1e9);
  /* Half a slice between looks, as the slice is honoured one look late. */
  unsigned tick = wd->slice ? (unsigned)(wd->slice / MS / 2) : 50;
  wd->tick = tick < 1 ? 1 : tick > 50 ? 50 : tick;
  sys_mutex_init(&wd->lock);
  sys_cond_init(&wd->cond);
  if (sys_interrupt_init(on_interrupt) != 0 ||
      sys_thread_start(&wd->thread, watch, wd) != 0) {
    sys_cond_destroy(&wd->cond);
    sys_mutex_destroy(&wd->lock);
    free(wd->w);
    free(wd);
    return -1;
  }
  h->watchdog = wd;
  return 0;
}

void watchdog_stop(struct host *h) {
  struct watchdog *wd = h->watchdog;
  if (!wd)
    return;
  sys_mutex_lock(&wd->lock);
  wd->stop = 1;
  sys_cond_signal(&wd->cond);
  sys_mutex_unlock(&wd->lock);
  sys_thread_join(wd->thread);
  sys_cond_destroy(&wd->cond);
  sys_mutex_destroy(&wd->lock);
  free(wd->w);
  free(wd);
  h->watchdog = NULL;
}
