/*
 * test_mail.c -- messages between workers (src/host/mail.h): order, the
 * bound, closing, broadcast all or none, one wake-up per burst, what is
 * left at the end, out of memory, and two sender threads against one
 * receiver.  Workers are made with worker_new and never started: the
 * test thread plays the receiving worker.
 */
#include "fault.h"
#include "host.h"
#include "io.h"
#include "mail.h"
#include "sys.h"
#include "t.h"
#include "worker.h"

#include <stdlib.h>

static struct host *new_host(int n, uint32_t inbox) {
  struct host *h = calloc(1, sizeof *h);
  h->cfg.inbox = inbox;
  h->nworkers = n;
  h->workers = calloc((size_t)n, sizeof *h->workers);
  for (int i = 0; i < n; i++)
    h->workers[i] = worker_new(h, i + 1);
  return h;
}

static void free_host(struct host *h) {
  for (int i = 0; i < h->nworkers; i++)
    worker_free(h->workers[i]);
  free(h->workers);
  free(h);
}

/* Posts a one-byte message `v` from worker `from`; the post's result. */
static int post(struct worker *to, int from, unsigned char v) {
  struct mail *m = mail_new(from, 1);
  if (!m)
    return MAIL_ENOMEM;
  m->data[0] = v;
  int r = mail_post(to, m);
  if (r)
    mail_free(m);
  return r;
}

/* Takes the next message's byte, or -1. */
static int take(struct worker *w) {
  struct mail *m = mail_take(w);
  if (!m)
    return -1;
  int v = m->data[0];
  mail_free(m);
  return v;
}

static void arrive_in_order_with_their_sender(void) {
  struct host *h = new_host(2, 0);
  struct worker *w = h->workers[0];
  T_ASSERT_EQ(w->mail.max, MAIL_DEFAULT_INBOX);
  for (int i = 0; i < 10; i++)
    T_ASSERT_EQ(post(w, 2, (unsigned char)i), 0);
  struct mail *m = mail_take(w);
  T_ASSERT(m != NULL);
  T_ASSERT_EQ(m->from, 2);
  T_ASSERT_EQ(m->len, 1);
  T_ASSERT_EQ(m->data[0], 0);
  mail_free(m);
  for (int i = 1; i < 10; i++)
    T_ASSERT_EQ(take(w), i);
  T_ASSERT_EQ(take(w), -1);
  free_host(h);
}

static void the_bound_counts_what_is_not_yet_taken(void) {
  struct host *h = new_host(1, 3);
  struct worker *w = h->workers[0];
  for (int i = 0; i < 3; i++)
    T_ASSERT_EQ(post(w, 1, (unsigned char)i), 0);
  T_ASSERT_EQ(post(w, 1, 9), MAIL_EFULL);
  /* Moved to the worker's own half, still not taken: still full. */
  sys_mutex_lock(&w->inbox_lock);
  mailbox_move(&w->mail);
  sys_mutex_unlock(&w->inbox_lock);
  T_ASSERT_EQ(post(w, 1, 9), MAIL_EFULL);
  T_ASSERT_EQ(take(w), 0);
  T_ASSERT_EQ(post(w, 1, 3), 0); /* one taken: one more fits */
  T_ASSERT_EQ(post(w, 1, 9), MAIL_EFULL);
  for (int i = 1; i <= 3; i++)
    T_ASSERT_EQ(take(w), i);
  T_ASSERT_EQ(take(w), -1);
  free_host(h);
}

static void a_closed_inbox_refuses_but_keeps_what_it_has(void) {
  struct host *h = new_host(1, 0);
  struct worker *w = h->workers[0];
  T_ASSERT_EQ(post(w, 1, 7), 0);
  w->mail.closed = 1; /* as worker_stop does, on the worker's thread */
  T_ASSERT(mail_closed(w));
  T_ASSERT_EQ(post(w, 1, 8), MAIL_ECLOSED);
  T_ASSERT_EQ(take(w), 7);
  T_ASSERT_EQ(take(w), -1);
  free_host(h);
}

static void broadcast_reaches_every_other_open_worker(void) {
  struct host *h = new_host(4, 0);
  h->workers[3]->mail.closed = 1;
  T_ASSERT_EQ(mail_broadcast(h, 2, "x", 1), 0);
  T_ASSERT_EQ(take(h->workers[0]), 'x');
  T_ASSERT_EQ(take(h->workers[1]), -1); /* not to the sender */
  T_ASSERT_EQ(take(h->workers[2]), 'x');
  T_ASSERT_EQ(take(h->workers[3]), -1); /* closed: left out */
  T_ASSERT_EQ(take(h->workers[0]), -1);
  free_host(h);
}

static void broadcast_is_all_or_none(void) {
  struct host *h = new_host(3, 1);
  T_ASSERT_EQ(post(h->workers[2], 1, 5), 0); /* worker 3 is full */
  T_ASSERT_EQ(mail_broadcast(h, 1, "y", 1), MAIL_EFULL);
  T_ASSERT_EQ(take(h->workers[1]), -1); /* so worker 2 got nothing */
  T_ASSERT_EQ(take(h->workers[2]), 5);
  T_ASSERT_EQ(mail_broadcast(h, 1, "y", 1), 0);
  T_ASSERT_EQ(take(h->workers[1]), 'y');
  T_ASSERT_EQ(take(h->workers[2]), 'y');
  free_host(h);
}

static int wakes;
static void on_wake(void *ud) {
  (void)ud;
  wakes++;
}

static void a_burst_costs_one_wake_up(void) {
  struct host *h = new_host(1, 0);
  struct worker *w = h->workers[0];
  char why[128];
  int err;
  const struct io_backend *be = io_backend_pick(NULL, why, sizeof why, &err);
  T_ASSERT(be != NULL);
  T_ASSERT_EQ(io_loop_open(&w->loop, be, on_wake, NULL), 0);
  w->loop_ready = 1;
  wakes = 0;
  for (int i = 0; i < 100; i++)
    T_ASSERT_EQ(post(w, 1, (unsigned char)i), 0);
  io_loop_run(w->loop, 1);
  T_ASSERT_EQ(wakes, 1);
  /* Not yet drained: more posts wake nobody (a wake-up is on its way). */
  T_ASSERT_EQ(post(w, 1, 100), 0);
  io_loop_run(w->loop, 1);
  T_ASSERT_EQ(wakes, 1);
  for (int i = 0; i <= 100; i++)
    T_ASSERT_EQ(take(w), i);
  T_ASSERT_EQ(post(w, 1, 1), 0); /* empty again: this one wakes */
  io_loop_run(w->loop, 1);
  T_ASSERT_EQ(wakes, 2);
  T_ASSERT_EQ(take(w), 1);
  w->loop_ready = 0;
  T_ASSERT_EQ(io_loop_close(w->loop), 0);
  w->loop = NULL;
  free_host(h);
}

static void what_is_left_is_freed_and_counted(void) {
  struct host *h = new_host(1, 0);
  struct worker *w = h->workers[0];
  for (int i = 0; i < 5; i++)
    T_ASSERT_EQ(post(w, 1, (unsigned char)i), 0);
  struct mail *m = mail_take(w); /* taken, then given back unused */
  T_ASSERT(m != NULL);
  T_ASSERT_EQ(take(w), 1);
  mail_unget(w, m);
  T_ASSERT_EQ(take(w), 0); /* back at the front */
  mail_unget(w, mail_new(1, 0));
  T_ASSERT_EQ(mailbox_free(&w->mail), 4);
  T_ASSERT_EQ(mailbox_free(&w->mail), 0);
  for (int i = 0; i < 3; i++) /* and worker_free frees the rest */
    T_ASSERT_EQ(post(w, 1, (unsigned char)i), 0);
  free_host(h);
}

#ifdef HOST_FAULT_INJECTION
static void out_of_memory_is_an_error_not_a_crash(void) {
  struct host *h = new_host(3, 0);
  fault_arm(FAULT_C, 1);
  T_ASSERT(mail_new(1, 10) == NULL);
  fault_arm(FAULT_C, 1); /* the copies' array */
  T_ASSERT_EQ(mail_broadcast(h, 1, "z", 1), MAIL_ENOMEM);
  fault_arm(FAULT_C, 3); /* the second copy */
  T_ASSERT_EQ(mail_broadcast(h, 1, "z", 1), MAIL_ENOMEM);
  fault_arm(FAULT_C, 0);
  T_ASSERT_EQ(take(h->workers[1]), -1); /* nobody got anything */
  T_ASSERT_EQ(take(h->workers[2]), -1);
  T_ASSERT_EQ(mail_broadcast(h, 1, "z", 1), 0);
  T_ASSERT_EQ(take(h->workers[1]), 'z');
  T_ASSERT_EQ(take(h->workers[2]), 'z');
  free_host(h);
}
#endif

/* ---- two senders, one receiver ------------------------------------------ */

#define PER_SENDER 200000

struct sender {
  struct worker *to;
  int id;
  long fulls;
};

static void send_all(void *arg) {
  struct sender *s = arg;
  for (int i = 0; i < PER_SENDER;) {
    struct mail *m = mail_new(s->id, sizeof i);
    memcpy(m->data, &i, sizeof i);
    if (mail_post(s->to, m) == 0) {
      i++;
    } else {
      mail_free(m);
      s->fulls++;
    }
  }
}

static void threads_keep_each_senders_order(void) {
  struct host *h = new_host(3, 64); /* a small bound: many "full" */
  struct worker *w = h->workers[0];
  struct sender s[2] = {{w, 2, 0}, {w, 3, 0}};
  sys_thread t[2];
  for (int i = 0; i < 2; i++)
    T_ASSERT_EQ(sys_thread_start(&t[i], send_all, &s[i]), 0);
  int next[4] = {0}, got = 0, bad = 0;
  while (got < 2 * PER_SENDER) {
    struct mail *m = mail_take(w);
    if (!m)
      continue; /* spin: the test thread is the receiver */
    int v;
    memcpy(&v, m->data, sizeof v);
    if (m->from < 2 || m->from > 3 || v != next[m->from]++)
      bad++;
    mail_free(m);
    got++;
  }
  for (int i = 0; i < 2; i++)
    sys_thread_join(t[i]);
  T_ASSERT_EQ(bad, 0);
  T_ASSERT_EQ(next[2], PER_SENDER);
  T_ASSERT_EQ(next[3], PER_SENDER);
  T_ASSERT_EQ(take(w), -1);
  printf("# %ld and %ld posts found the inbox full\n", s[0].fulls, s[1].fulls);
  free_host(h);
}

int main(void) {
  sys_init();
  T_RUN(arrive_in_order_with_their_sender);
  T_RUN(the_bound_counts_what_is_not_yet_taken);
  T_RUN(a_closed_inbox_refuses_but_keeps_what_it_has);
  T_RUN(broadcast_reaches_every_other_open_worker);
  T_RUN(broadcast_is_all_or_none);
  T_RUN(a_burst_costs_one_wake_up);
  T_RUN(what_is_left_is_freed_and_counted);
#ifdef HOST_FAULT_INJECTION
  T_RUN(out_of_memory_is_an_error_not_a_crash);
#endif
  T_RUN(threads_keep_each_senders_order);
  return test_report();
}
