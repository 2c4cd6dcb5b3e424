/*
 * test_io_accept.c -- the completion contract of io.h for listeners and
 * connects: refused connects, an address in use, the multishot accept
 * (bursts, a listener closed from its own callback, running out of
 * descriptors).  Run on every backend that works here, or only on the
 * one named by argv[1].
 *
 * Each test ends by asserting fix_close() == 0 (io_loop_close(): no op or
 * handle left behind); a test that fails leaves the same to its fixture's
 * cleanup (io_pair.h).
 */
#include "io_pair.h"

#include <string.h>
#ifndef _WIN32
#include <netinet/tcp.h>
#endif

static void connect_refused(void) {
  struct fixture f;
  struct io_handle lh, ch;
  struct io_op cop;
  struct rec crec = {0};
  T_ASSERT_EQ(fix_open(&f, NULL, NULL), 0);
  struct io_loop *loop = f.loop;
  fix_handles(&f, &lh, 1);
  fix_handles(&f, &ch, 1);
  /* A port that was just free: bind, read it, close. */
  struct sockaddr_in sa = loopback(0);
  T_ASSERT_EQ(io_listen(loop, &lh, (struct sockaddr *)&sa, sizeof sa, 1, 0),
              0);
  sa = loopback(port_of(&lh));
  closed_count = 0;
  io_close(&lh, count_close);
  RUN_UNTIL(loop, closed_count == 1);
  io_op_init(&cop, &crec);
  T_ASSERT_EQ(io_connect(loop, &ch, &cop, (struct sockaddr *)&sa, sizeof sa,
                         rec_cb), 0);
  RUN_UNTIL(loop, crec.calls == 1);
  T_ASSERT_EQ(crec.res, IO_ECONNREFUSED);
  io_close(&ch, count_close);
  RUN_UNTIL(loop, closed_count == 2);
  T_ASSERT_EQ(fix_close(&f), 0);
}

static void listen_in_use(void) {
  struct fixture f;
  struct io_handle a, b;
  T_ASSERT_EQ(fix_open(&f, NULL, NULL), 0);
  struct io_loop *loop = f.loop;
  fix_handles(&f, &a, 1);
  fix_handles(&f, &b, 1);
  struct sockaddr_in sa = loopback(0);
  T_ASSERT_EQ(io_listen(loop, &a, (struct sockaddr *)&sa, sizeof sa, 1, 0),
              0);
  sa = loopback(port_of(&a));
  T_ASSERT_EQ(io_listen(loop, &b, (struct sockaddr *)&sa, sizeof sa, 1, 0),
              IO_EADDRINUSE);
  closed_count = 0;
  io_close(&a, count_close);
  RUN_UNTIL(loop, closed_count == 1);
  T_ASSERT_EQ(fix_close(&f), 0);
}

/* Starts n more connects to the pair's listener, on handles that the
 * fixture closes if the test fails. */
static void connect_more(struct pair *p, int n, struct io_handle *h,
                         struct io_op *ops, struct rec *recs) {
  fix_handles(&p->fx, h, n);
  memset(recs, 0, (size_t)n * sizeof *recs);
  for (int i = 0; i < n; i++) {
    io_op_init(&ops[i], &recs[i]);
    io_connect(p->loop, &h[i], &ops[i], (struct sockaddr *)&p->addr,
               sizeof p->addr, rec_cb);
  }
}

static void multishot_accept(void) {
  struct pair p;
  struct io_handle extra[3];
  struct io_op cops[3];
  struct rec crecs[3];
  T_ASSERT_EQ(pair_open(&p), 0);
  int before = p.arec.calls;
  connect_more(&p, 3, extra, cops, crecs);
  /* Each accepted socket is closed by the callback's owner: here, as the
   * completions arrive. */
  int accepted = 0;
  for (int t = 0; t < 2000 && accepted < 3; t++) {
    int calls = p.arec.calls;
    io_loop_run(p.loop, 0);
    if (p.arec.calls != calls) {
      T_ASSERT_EQ(p.arec.res, 0);
      T_ASSERT(p.arec.more);
      io_sock_close(p.aop.u.accept.sock);
      accepted += p.arec.calls - calls;
    }
  }
  T_ASSERT_EQ(p.arec.calls - before, 3);
  closed_count = 0;
  for (int i = 0; i < 3; i++)
    io_close(&extra[i], count_close);
  RUN_UNTIL(p.loop, closed_count == 3);
  T_ASSERT_EQ(pair_close(&p), 0);
}

/* Connections queued at a listener before and while accept is posted:
 * every one completes, each with IO_OP_MORE, and nothing else does. */
static void accept_burst(void) {
  enum { N = 100 };
  struct fixture f;
  struct io_handle lh;
  struct io_op aop;
  struct rec arec = {0};
  T_ASSERT_EQ(fix_open(&f, NULL, NULL), 0);
  struct io_loop *loop = f.loop;
  struct io_handle *ch = fix_alloc(&f, N * sizeof *ch);
  struct io_op *cops = fix_alloc(&f, N * sizeof *cops);
  struct rec *crecs = fix_alloc(&f, N * sizeof *crecs);
  T_ASSERT(ch && cops && crecs);
  fix_handles(&f, &lh, 1);
  fix_handles(&f, ch, N);
  struct sockaddr_in sa = loopback(0);
  T_ASSERT_EQ(io_listen(loop, &lh, (struct sockaddr *)&sa, sizeof sa, 256,
                        0), 0);
  sa = loopback(port_of(&lh));
  for (int i = 0; i < N; i++) {
    io_op_init(&cops[i], &crecs[i]);
    io_connect(loop, &ch[i], &cops[i], (struct sockaddr *)&sa, sizeof sa,
               rec_cb);
  }
  int connected = 0;
  for (int t = 0; t < 2000 && connected < N; t++) {
    io_loop_run(loop, 0);
    connected = 0;
    for (int i = 0; i < N; i++)
      connected += crecs[i].calls == 1 && crecs[i].res == 0;
  }
  T_ASSERT_EQ(connected, N);
  io_op_init(&aop, &arec);
  T_ASSERT_EQ(io_accept(&lh, &aop, rec_cb), 0);
  int accepted = 0, bad = 0;
  for (int t = 0; t < 2000 && accepted < N; t++) {
    int calls = arec.calls;
    io_loop_run(loop, 0);
    if (arec.calls == calls)
      continue;
    /* rec_cb keeps only the last result: one completion per turn is not
     * promised, so close what this one accepted and count. */
    bad += arec.res != 0 || !arec.more;
    io_sock_close(aop.u.accept.sock);
    accepted += arec.calls - calls;
  }
  T_ASSERT_EQ(bad, 0);
  T_ASSERT_EQ(accepted, N);
  run_for(loop, 10);
  T_ASSERT_EQ(arec.calls, N);
  closed_count = 0;
  io_close(&lh, count_close);
  for (int i = 0; i < N; i++)
    io_close(&ch[i], count_close);
  RUN_UNTIL(loop, closed_count == N + 1);
  T_ASSERT_EQ(arec.calls, N + 1);
  T_ASSERT_EQ(arec.res, IO_ECANCELED);
  T_ASSERT_EQ(arec.more, 0);
  T_ASSERT_EQ(fix_close(&f), 0);
}

/* An accept callback that closes its listener.  Connections the kernel
 * accepted before the cancel took effect may still be delivered (a cancel
 * can lose the race); then the multishot accept ends with exactly one
 * cancelled completion, and nothing follows it. */
struct accept_log {
  struct io_handle *lh;      /* accept_close_cb closes it */
  int accepted;              /* completions with a socket */
  int without_more;          /* of those, any with IO_OP_MORE clear */
  int finals;                /* completions with IO_OP_MORE clear */
  int after_final;           /* completions after the final one */
  int final_res;             /* the final one's res */
};

static void accept_close_cb(struct io_op *op) {
  struct accept_log *g = op->data;
  if (g->finals)
    g->after_final++;
  if (!(op->flags & IO_OP_MORE)) {
    g->finals++;
    g->final_res = op->res;
  }
  if (op->res == 0) {
    g->accepted++;
    g->without_more += !(op->flags & IO_OP_MORE);
    io_sock_close(op->u.accept.sock);
    io_close(g->lh, count_close); /* again after the first: a no-op */
  }
}

/* Ends the pair's own accept, which a test that posts its own is done
 * with; 0 once it has completed. */
static int end_pair_accept(struct pair *p) {
  io_cancel(p->loop, &p->aop);
  RUN_UNTIL(p->loop, !io_posted(&p->aop));
  return io_posted(&p->aop) ? -1 : 0;
}

static void close_listener_in_accept_callback(void) {
  struct pair p;
  struct io_handle extra[3];
  struct io_op cops[3], aop;
  struct rec crecs[3];
  struct accept_log g = {0};
  T_ASSERT_EQ(pair_open(&p), 0);
  /* Post a fresh accept while three connections wait. */
  T_ASSERT_EQ(end_pair_accept(&p), 0);
  connect_more(&p, 3, extra, cops, crecs);
  RUN_UNTIL(p.loop, crecs[0].calls + crecs[1].calls + crecs[2].calls == 3);
  run_for(p.loop, 10);
  g.lh = &p.lh;
  closed_count = 0;
  io_op_init(&aop, &g);
  T_ASSERT_EQ(io_accept(&p.lh, &aop, accept_close_cb), 0);
  RUN_UNTIL(p.loop, closed_count == 1);
  run_for(p.loop, 10);
  T_ASSERT(g.accepted >= 1 && g.accepted <= 3);
  T_ASSERT_EQ(g.without_more, 0);
  T_ASSERT_EQ(g.finals, 1);
  T_ASSERT_EQ(g.final_res, IO_ECANCELED);
  T_ASSERT_EQ(g.after_final, 0);
  T_ASSERT(!io_posted(&aop));
  for (int i = 0; i < 3; i++)
    io_close(&extra[i], count_close);
  io_close(&p.ch, count_close);
  io_close(&p.sh, count_close);
  RUN_UNTIL(p.loop, closed_count == 6);
  T_ASSERT_EQ(fix_close(&p.fx), 0);
}

#ifndef _WIN32
#include <sys/resource.h>
#include <unistd.h>

/* Out of descriptors: the accept ends with IO_EMFILE (IO_OP_MORE clear)
 * instead of spinning, and a post after the pause accepts again. */
static void accept_keep_cb(struct io_op *op) {
  struct accept_log *g = op->data;
  if (!(op->flags & IO_OP_MORE)) {
    g->finals++;
    g->final_res = op->res;
  }
  if (op->res == 0) {
    g->accepted++;
    g->without_more += !(op->flags & IO_OP_MORE);
    io_sock_close(op->u.accept.sock);
  }
}

static void accept_emfile_disarms(void) {
  struct pair p;
  struct io_handle extra[2];
  struct io_op cops[2], guard, aop;
  struct rec crecs[2], grec = {0};
  struct accept_log g = {0};
  struct rlimit old, low;
  T_ASSERT_EQ(pair_open(&p), 0);
  T_ASSERT_EQ(end_pair_accept(&p), 0);
  fix_timer(&p.fx, &guard, &grec);
  io_op_init(&aop, &g);
  T_ASSERT_EQ(io_timeout(p.loop, &guard, 5000000000ull, rec_cb), 0);
  connect_more(&p, 1, &extra[0], &cops[0], &crecs[0]);
  RUN_UNTIL(p.loop, crecs[0].calls == 1);
  T_ASSERT_EQ(crecs[0].res, 0);
  /* Every descriptor below the lowest free one is taken: a limit there
   * leaves none to allocate. */
  int lowest = dup(0);
  T_ASSERT(lowest >= 0);
  close(lowest);
  T_ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  low = old;
  low.rlim_cur = (rlim_t)lowest;
  T_ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  T_ASSERT_EQ(io_accept(&p.lh, &aop, accept_keep_cb), 0);
  RUN_UNTIL(p.loop, g.finals == 1 || grec.calls);
  run_for(p.loop, 20);
  setrlimit(RLIMIT_NOFILE, &old);
  T_ASSERT_EQ(g.finals, 1);
  T_ASSERT_EQ(g.final_res, IO_EMFILE);
  T_ASSERT_EQ(g.accepted, 0); /* disarmed: nothing came after it */
  T_ASSERT(!io_posted(&aop));
  /* The caller's pause is over.  (Valgrind checks descriptor limits
   * itself and closes the one the kernel accepted, so connect again.) */
  connect_more(&p, 1, &extra[1], &cops[1], &crecs[1]);
  T_ASSERT_EQ(io_accept(&p.lh, &aop, accept_keep_cb), 0);
  RUN_UNTIL(p.loop, (g.accepted >= 1 && crecs[1].calls) || grec.calls);
  T_ASSERT(g.accepted >= 1);
  T_ASSERT_EQ(g.without_more, 0);
  T_ASSERT_EQ(g.finals, 1);
  io_cancel(p.loop, &guard);
  closed_count = 0;
  io_close(&extra[0], count_close);
  io_close(&extra[1], count_close);
  RUN_UNTIL(p.loop, closed_count == 2 && grec.calls == 1);
  T_ASSERT_EQ(pair_close(&p), 0);
}
#endif

static int nodelay_of(io_sock s) {
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(s, IPPROTO_TCP, TCP_NODELAY, (char *)&v, &len) != 0)
    return -1;
  return v != 0;
}

/* Both ends a loop made have Nagle off: the connected socket set it
 * itself, the accepted one inherited it from its listener (Linux) or set
 * it when adopted (Windows). */
static void sockets_nodelay(void) {
  struct pair p;
  T_ASSERT_EQ(pair_open(&p), 0);
#ifndef _WIN32
  T_ASSERT_EQ(nodelay_of(p.lh.sock), 1); /* what the others inherit */
#endif
  T_ASSERT_EQ(nodelay_of(p.sh.sock), 1);
  T_ASSERT_EQ(nodelay_of(p.ch.sock), 1);
  T_ASSERT_EQ(pair_close(&p), 0);
}

static void run_all(void) {
  T_RUN(sockets_nodelay);
  T_RUN(connect_refused);
  T_RUN(listen_in_use);
  T_RUN(multishot_accept);
  T_RUN(accept_burst);
  T_RUN(close_listener_in_accept_callback);
#ifndef _WIN32
  T_RUN(accept_emfile_disarms);
#endif
}

int main(int argc, char **argv) { return io_suite_main(argc, argv, run_all); }
