/*
 * worker.c -- one worker thread: its loop, its Lua VM, its stop sequence
 * (see worker.h).
 *
 * The loop is created on the worker's own thread: an io_uring set up
 * SINGLE_ISSUER belongs to the thread that made it.  Other threads reach
 * a worker only through its inbox, and only while the loop exists
 * (`loop_ready`, checked under the inbox lock), so a stop request racing
 * a worker's start or end is never lost and never touches a freed loop.
 *
 * The VM is reached only through the configuration's worker_vm hooks:
 * this file runs a loop and does not know what the VM is.
 *
 * Stopping has two steps.  A graceful stop closes the listeners and the
 * connections that sit between two exchanges (conn_set_end), and lets
 * the tasks finish for the grace period; when it ends (or at a second
 * stop request) the worker is killed: nothing is resumed any more, every
 * connection is closed, and once the last completion is in the VM is
 * closed.  A worker also ends by itself when nothing is left to wait for.
 */
#include "worker.h"
#include "conn.h"
#include "group.h"
#include "host.h"
#include "listener.h"
#include "log.h"
#include "tls_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- inbox -------------------------------------------------------------- */

struct msg *msg_new(int type, struct group *group, io_sock sock) {
  struct msg *m = calloc(1, sizeof *m);
  if (m) {
    m->type = type;
    m->group = group;
    m->sock = sock;
  }
  return m;
}

void worker_post(struct worker *w, struct msg *m) {
  m->next = NULL;
  sys_mutex_lock(&w->inbox_lock);
  if (w->inbox_tail)
    w->inbox_tail->next = m;
  else
    w->inbox = m;
  w->inbox_tail = m;
  if (w->loop_ready)
    io_wake(w->loop);
  sys_mutex_unlock(&w->inbox_lock);
}

void worker_wake(struct worker *w) {
  sys_mutex_lock(&w->inbox_lock);
  if (w->loop_ready)
    io_wake(w->loop);
  sys_mutex_unlock(&w->inbox_lock);
}

/* Tells the VM about mail (or a closed inbox), if it is there to hear. */
static void tell_vm(struct worker *w) {
  const struct worker_vm *vm = w->host->cfg.vm;
  if (w->vm && vm->mail)
    vm->mail(w);
}

static void drain_inbox(struct worker *w) {
  sys_mutex_lock(&w->inbox_lock);
  struct msg *m = w->inbox;
  w->inbox = w->inbox_tail = NULL;
  int mail = mailbox_move(&w->mail);
  sys_mutex_unlock(&w->inbox_lock);
  if (mail)
    tell_vm(w);
  while (m) {
    struct msg *next = m->next;
    if (m->type == MSG_CALL) {
      m->call(w, m, !w->killing); /* it frees m */
      m = next;
      continue;
    }
    if (m->type == MSG_STOP) {
      worker_stop(w, m->grace);
    } else if (m->type == MSG_ACCEPTED) {
      group_deliver(w, m->group, m->sock); /* finds our listener, if any */
    }
    free(m);
    m = next;
  }
}

static void on_wake(void *ud) { drain_inbox(ud); }

int worker_inbox_length(struct worker *w) {
  int n = 0;
  sys_mutex_lock(&w->inbox_lock);
  for (struct msg *m = w->inbox; m; m = m->next)
    n++;
  sys_mutex_unlock(&w->inbox_lock);
  return n;
}

/* ---- what the watchdog reads ------------------------------------------- */

/* A seqlock with one writer at a time: the worker, or its interrupt
 * while the worker is stopped, which is why a write already in progress
 * makes the second one give up rather than wait.  Plain byte copies: this
 * may run in a signal handler. */
void worker_publish_where(struct worker *w, const char *text) {
  struct worker_pulse *p = &w->pulse;
  uint32_t v = atomic_load_explicit(&p->where_ver, memory_order_relaxed);
  if (v & 1)
    return;
  atomic_store_explicit(&p->where_ver, v + 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  size_t i = 0;
  for (; text[i] && i + 1 < sizeof p->where; i++)
    p->where[i] = text[i];
  p->where[i] = 0;
  atomic_store_explicit(&p->where_run,
                        atomic_load_explicit(&p->runs, memory_order_relaxed),
                        memory_order_relaxed);
  atomic_store_explicit(&p->where_ver, v + 2, memory_order_release);
}

/* ---- stopping -------------------------------------------------------- */

/* Returns how many tasks were still alive. */
static int kill_tasks(struct worker *w) {
  if (w->killing)
    return 0;
  w->killing = 1;
  int n = w->vm ? w->host->cfg.vm->kill(w) : 0;
  w->ready = 0;
  conn_set_abort_all(&w->conns); /* no lingering either */
  if (io_posted(&w->grace_op))
    io_cancel(w->loop, &w->grace_op);
  if (io_posted(&w->trim_op))
    io_cancel(w->loop, &w->trim_op);
  return n;
}

static void on_grace_over(struct io_op *op) {
  struct worker *w = op->data;
  if (op->res == 0) {
    int n = kill_tasks(w);
    if (n > 0)
      log_write(LOG_WARN, w->id, "grace period over: closed %d task(s)", n);
  }
}

static void close_listeners(struct worker *w) {
  struct list_node *n = list_first(&w->listeners), *next;
  for (; n; n = next) {
    next = list_next(&w->listeners, n); /* the close may free it */
    listener_close(list_entry(n, struct listener, node));
  }
}

/* The inbox takes no more mail; what is queued can still be taken.
 * Tasks waiting for mail that will not come are told. */
static void close_mail(struct worker *w) {
  if (w->mail.closed)
    return;
  sys_mutex_lock(&w->inbox_lock);
  w->mail.closed = 1;
  mailbox_move(&w->mail);
  sys_mutex_unlock(&w->inbox_lock);
  tell_vm(w);
}

void worker_stop(struct worker *w, double grace) {
  if (w->killing)
    return;
  close_mail(w);
  if (w->stopping || grace <= 0) {
    w->stopping = 1;
    close_listeners(w);
    kill_tasks(w);
    return;
  }
  w->stopping = 1;
  close_listeners(w);
  conn_set_end(&w->conns, -1); /* idle connections close now */
  if (grace >= HOST_GRACE_FOREVER)
    return; /* the tasks take as long as they take */
  if (io_timeout(w->loop, &w->grace_op, (uint64_t)(grace * 1e9),
                 on_grace_over) != 0)
    kill_tasks(w); /* no memory for a grace timer: stop now, not never */
}

/* ---- the thread -----------------------------------------------------------
 */

/* Turns until nothing is left to wait for.  The check comes first: a
 * worker told to stop before its first turn has nothing to wait for, and
 * a blocking wait then would never end.  An open listener counts even
 * with nothing posted: a hand-off member (group.h) waits for its inbox. */
static int mail_in_inbox(struct worker *w) {
  sys_mutex_lock(&w->inbox_lock);
  int any = w->mail.head != NULL;
  sys_mutex_unlock(&w->inbox_lock);
  return any;
}

static int waiting(struct worker *w) {
  if (w->ready || !list_empty(&w->listeners) || w->conns.dirty)
    return 1;
  /* A task waiting for mail can be woken only by another worker: it
   * keeps this one while another runs (each wakes the rest as it ends),
   * and while mail the last of them posted before it ended is still in
   * the inbox (its wake-up is on its way: the loop will see it). */
  if (w->mail.waiters > 0 && !w->mail.closed &&
      (atomic_load(&w->host->running) > 1 || mail_in_inbox(w)))
    return 1;
  /* The grace timer is no reason to stay, nor is a connection's receive
   * stream that no task is reading: a script that read a reply and ended
   * without closing its connection is done. */
  int other = io_loop_alive(w->loop) - conn_set_streams(&w->conns) -
              (io_posted(&w->grace_op) ? 1 : 0) -
              (io_posted(&w->trim_op) ? 1 : 0);
  if (other > 0)
    return 1;
  /* Only streams are left (rare: a worker with a listener never gets
   * here), so this walk does not run per event on a busy server. */
  return conn_set_reading(&w->conns);
}

int worker_idle(struct worker *w) { return !waiting(w); }

void worker_pump(struct worker *w) {
  conn_set_flush(&w->conns);
  io_loop_run(w->loop, 1);
}

/* The gauges of host.stats() that are not kept as things happen: worth
 * a turn's work only now and then. */
void worker_publish(struct worker *w) {
  w->published = io_now(w->loop);
  stat_set(&w->stats.timers, (uint64_t)io_loop_timers(w->loop));
  stat_set(&w->stats.buf_bytes, (uint64_t)w->conns.buf_bytes);
  if (w->vm && w->host->cfg.vm->publish)
    w->host->cfg.vm->publish(w);
}

static size_t held(struct worker *w) {
  const struct worker_vm *vm = w->host->cfg.vm;
  return w->conns.buf_bytes + (vm->memory && w->vm ? vm->memory(w) : 0);
}

void worker_trim(struct worker *w) {
  const struct worker_vm *vm = w->host->cfg.vm;
  size_t before = held(w);
  conn_set_trim(&w->conns);
  tls_alloc_trim(); /* the record buffers this thread keeps */
  size_t vm_now = vm->trim && w->vm ? vm->trim(w) : 0;
  w->mem_trimmed = w->mem_peak = w->conns.buf_bytes + vm_now;
  w->trimmed = io_now(w->loop);
  sys_trim_heap(); /* the C library's free pages */
  stat_inc(&w->stats.memory_trims);
  log_write(LOG_DEBUG, w->id, "memory given back: %lu KiB held, was %lu KiB",
            (unsigned long)(w->mem_trimmed >> 10),
            (unsigned long)(before >> 10));
}

/* Whether the worker holds a peak's worth more than now, or than after
 * the last trim. */
static int worth_trimming(struct worker *w) {
  size_t now = held(w);
  if (now > w->mem_peak)
    w->mem_peak = now;
  return w->mem_peak - now >= WORKER_TRIM_BYTES ||
         now >= w->mem_trimmed + WORKER_TRIM_BYTES;
}

static void on_trim_due(struct io_op *op) {
  struct worker *w = op->data;
  uint64_t cpu;
  if (op->res != 0 || w->killing || sys_thread_cpu_self(&cpu) != 0)
    return;
  /* Busy since, and trimmed not long ago: its collector keeps pace, and
   * the next time it is about to wait looks again. */
  int quiet =
      cpu - w->trim_cpu < WORKER_TRIM_MS * 1000000ull / WORKER_TRIM_QUIET;
  int due = io_now(w->loop) - w->trimmed >= WORKER_TRIM_BUSY_MS * 1000000ull;
  if ((quiet || due) && worth_trimming(w))
    worker_trim(w);
}

/* Before the loop blocks: after a peak, a trim is put off for
 * WORKER_TRIM_MS, to see whether the worker stays quiet (the timer is
 * also what comes back to it if the loop then blocks for good). */
static void maybe_trim(struct worker *w) {
  if (!io_posted(&w->trim_op) && !w->stopping && worth_trimming(w) &&
      sys_thread_cpu_self(&w->trim_cpu) == 0)
    io_timeout(w->loop, &w->trim_op, WORKER_TRIM_MS * 1000000ull, on_trim_due);
}

static void run(struct worker *w) {
  const struct worker_vm *vm = w->host->cfg.vm;
  while (waiting(w)) {
    conn_set_flush(&w->conns); /* what this turn wrote goes out now */
    /* Sends that complete at once (epoll) complete here, before the
     * wait, which can then block at once (else it would look once
     * without blocking first: a second system call per wake-up), unless
     * their callbacks left work: a writer they resumed wrote more, or
     * woke a task. */
    int nowait = w->ready;
    if (!nowait && io_loop_submit(w->loop) > 0)
      nowait = w->conns.dirty || (vm->pending && vm->pending(w));
    if ((!nowait || ++w->turns % WORKER_PUBLISH_TURNS == 0) &&
        io_now(w->loop) - w->published >= WORKER_PUBLISH_MS * 1000000ull) {
      worker_publish(w); /* before it blocks, or now and then */
      if (!nowait)
        maybe_trim(w);
    }
    io_loop_run(w->loop, nowait);
    w->ready = vm->turn(w);
  }
}

static void finish(struct worker *w) {
  kill_tasks(w);
  close_listeners(w);
  while (io_loop_alive(w->loop) > 0)
    io_loop_run(w->loop, 0);
  w->host->cfg.vm->close(w); /* its finalizers only request closes */
  while (io_loop_alive(w->loop) > 0)
    io_loop_run(w->loop, 0);
  io_loop_run(w->loop, 1);
  conn_set_free(&w->conns); /* every conn is back in its pool by now */
  sys_mutex_lock(&w->inbox_lock);
  w->loop_ready = 0;
  w->mail.closed = 1;
  sys_mutex_unlock(&w->inbox_lock);
  /* Connections handed over before we left our listener groups: close
   * them now rather than at exit (group_deliver finds no listener). */
  drain_inbox(w);
  uint64_t lost = mailbox_free(&w->mail);
  if (lost > 0)
    log_write(LOG_WARN, w->id, "%llu message(s) never received",
              (unsigned long long)lost);
  if (io_loop_close(w->loop) != 0)
    log_write(LOG_ERROR, w->id, "the loop still had work at exit");
  w->loop = NULL;
}

static void thread_main(void *arg) {
  struct worker *w = arg;
  char msg[128];
  int err = io_loop_open(&w->loop, w->host->cfg.backend, on_wake, w);
  if (err) {
    snprintf(msg, sizeof msg, "worker %d: cannot start its loop: %s", w->id,
             io_strerror(err, msg + 64, 64));
    host_fail(w->host, msg);
    host_worker_done(w->host);
    return;
  }
  conn_set_init(&w->conns, w->loop, w->id, &w->killing, &w->stats,
                &w->host->limit);
  w->trimmed = io_now(w->loop); /* a busy start is no peak passed */
  tls_alloc_thread_begin();
  sys_mutex_lock(&w->inbox_lock);
  w->loop_ready = 1;
  sys_mutex_unlock(&w->inbox_lock);
  if (w->host->cfg.vm->open(w) == 0) {
    w->ready = 1;   /* the script's main task is queued */
    drain_inbox(w); /* what was posted before the loop existed */
    run(w);
  }
  finish(w);
  tls_alloc_thread_end();
  host_worker_done(w->host);
}

struct worker *worker_new(struct host *host, int id) {
  struct worker *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  w->id = id;
  w->host = host;
  io_op_init(&w->grace_op, w);
  io_op_init(&w->trim_op, w);
  list_init(&w->listeners);
  sys_mutex_init(&w->inbox_lock);
  mailbox_init(&w->mail, host->cfg.inbox);
  return w;
}

int worker_start(struct worker *w) {
  return sys_thread_start(&w->thread, thread_main, w);
}

void worker_join(struct worker *w) { sys_thread_join(w->thread); }

void worker_free(struct worker *w) {
  struct msg *m = w->inbox;
  while (m) {
    struct msg *next = m->next;
    if (m->type == MSG_ACCEPTED)
      io_sock_close(m->sock);
    if (m->type == MSG_CALL)
      m->call(w, m, 0);
    else
      free(m);
    m = next;
  }
  mailbox_free(&w->mail); /* a worker that never ran */
  sys_mutex_destroy(&w->inbox_lock);
  free(w);
}
