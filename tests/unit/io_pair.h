/*
 * io_pair.h -- the fixture the completion-contract suites share
 * (test_io_ops.c, test_io_accept.c, test_io_multi.c).
 *
 * A suite is one executable per subject, run once per backend by ctest.
 * This header gives each of them the same few pieces, so that a test
 * reads as the behaviour it pins down:
 *
 *  - `struct rec` and rec_cb(), a callback that records what it saw;
 *  - RUN_UNTIL(), which turns the loop until a condition holds (bounded);
 *  - `struct fixture`: a loop and what a test holds on it (handles,
 *    timers, memory the kernel may read), released by a failed assertion
 *    through t.h's t_on_failure(); fix_close() is the test's own end and
 *    checks that the loop is left empty (io_loop_close() == 0);
 *  - `struct pair`: a fixture with a listener and two connected handles,
 *    and a send and a receive record of its own, opened by pair_open()
 *    and closed by pair_close();
 *  - io_suite_main(), the main() of every suite: it runs the suite on
 *    every backend that works here, or on the one named by argv[1]
 *    (exit code 77, ctest's skip, when this machine blocks that one).
 *
 * Every record a test posts is initialised with io_op_init() and never
 * written by the test afterwards, as io.h asks.  Everything here is
 * static (one copy per suite): a suite is one translation unit.
 */
#ifndef HOST_IO_PAIR_H
#define HOST_IO_PAIR_H

#include "io.h"
#include "sys.h"
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef _WIN32
#include <arpa/inet.h>
#include <netinet/in.h>
#endif

static const struct io_backend *be; /* the backend under test */

struct rec {      /* what a callback saw */
  int calls;      /* completions delivered */
  int res;        /* the last one's op->res */
  int more;       /* the last one had IO_OP_MORE */
  char data[256]; /* received bytes, in order, up to 256 */
  int len;        /* bytes kept in data */
};

static inline void rec_cb(struct io_op *op) {
  struct rec *r = op->data;
  r->calls++;
  r->res = op->res;
  r->more = (op->flags & IO_OP_MORE) != 0;
  if (op->type == IO_OP_RECV && op->res > 0 &&
      r->len + op->res <= (int)sizeof r->data) {
    memcpy(r->data + r->len, op->u.recv.data, (size_t)op->res);
    r->len += op->res;
  }
}

static int closed_count; /* close callbacks run since a test reset it */

static inline void count_close(struct io_handle *h) {
  (void)h;
  closed_count++;
}

static inline struct sockaddr_in loopback(int port) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

static inline int port_of(struct io_handle *h) {
  struct sockaddr_storage ss;
  if (io_sockname(h, &ss, 0) != 0)
    return -1;
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Run turns until cond holds or 2000 turns pass (each turn blocks at most
 * until the next timer, and every test keeps a timer or I/O pending). */
#define RUN_UNTIL(loop, cond)                                                  \
  do {                                                                         \
    for (int t_i_ = 0; t_i_ < 2000 && !(cond); t_i_++)                         \
      io_loop_run(loop, 0);                                                    \
  } while (0)

/* Makes sure op is no longer posted: cancelled and completed if it still
 * was (a helper's own record must not outlive its frame posted). */
static inline void settle(struct io_loop *loop, struct io_op *op) {
  if (!io_posted(op))
    return;
  io_cancel(loop, op);
  RUN_UNTIL(loop, !io_posted(op));
}

/* ---- the fixture: a loop and what a test holds on it -------------------- */

#define FIX_MAX 8 /* entries of each kind a test may register */

/*
 * Registered things belong to the test until it fails: then the cleanup
 * cancels the timers, closes the handles, runs the loop until nothing is
 * left, closes it, and frees the memory (only if the loop did close: the
 * kernel may otherwise still read it).  On the test's own path,
 * fix_close() closes the loop (the test has closed everything) and frees
 * the memory.  Registered records and handles stay where the test keeps
 * them; they must live until the test returns.
 */
struct fixture {
  struct io_loop *loop;
  struct {
    struct io_handle *h; /* an array of handles */
    int n;               /* its length */
  } hs[FIX_MAX];         /* closed on failure */
  int nhs;
  struct io_op *ops[FIX_MAX]; /* timers: cancelled on failure */
  int nops;
  void *mem[FIX_MAX]; /* freed once the loop is closed */
  int nmem;
  int done; /* the loop is closed, the memory freed */
};

static inline void fix_full(const char *what) {
  fprintf(stderr, "io_pair.h: more than %d %s in one test\n", FIX_MAX, what);
  abort(); /* a test's own mistake, not a failure of what it tests */
}

static inline void fix_free_mem(struct fixture *f) {
  for (int i = 0; i < f->nmem; i++)
    free(f->mem[i]);
  f->nmem = 0;
  f->done = 1;
}

/* The failure path (t_on_failure's cleanup).  A guard timer of its own
 * bounds it to about a second even if the test left something
 * unregistered behind (then the loop stays open: a leak that points at
 * the test). */
static inline void fix_abandon(void *ctx) {
  struct fixture *f = ctx;
  struct io_op guard;
  struct rec grec = {0};
  for (int i = 0; i < f->nops; i++)
    io_cancel(f->loop, f->ops[i]);
  for (int i = 0; i < f->nhs; i++)
    for (int j = 0; j < f->hs[i].n; j++)
      io_close(&f->hs[i].h[j], NULL); /* no-op if unopened or closing */
  io_op_init(&guard, &grec);
  if (io_timeout(f->loop, &guard, 1000000000ull, rec_cb) != 0)
    return;
  RUN_UNTIL(f->loop, grec.calls || io_loop_alive(f->loop) == 1);
  settle(f->loop, &guard);
  if (io_loop_close(f->loop) == 0)
    fix_free_mem(f);
}

/* Opens the loop and arms the cleanup; 0 or io_loop_open()'s error. */
static inline int fix_open(struct fixture *f, void (*on_wake)(void *ud),
                           void *ud) {
  memset(f, 0, sizeof *f);
  int err = io_loop_open(&f->loop, be, on_wake, ud);
  if (err == 0)
    t_on_failure(fix_abandon, f);
  return err;
}

/* Registers n handles, not yet opened (it zeroes them): closed if the
 * test fails, whatever state they reached. */
static inline void fix_handles(struct fixture *f, struct io_handle *h, int n) {
  if (f->nhs == FIX_MAX)
    fix_full("handle arrays");
  memset(h, 0, (size_t)n * sizeof *h);
  f->hs[f->nhs].h = h;
  f->hs[f->nhs++].n = n;
}

/* Initialises a timer's record (io_op_init) and registers it: cancelled
 * if the test fails. */
static inline void fix_timer(struct fixture *f, struct io_op *op, void *data) {
  if (f->nops == FIX_MAX)
    fix_full("timers");
  io_op_init(op, data);
  f->ops[f->nops++] = op;
}

/* size zeroed bytes that fix_close() (or the cleanup) frees; NULL if
 * out of memory. */
static inline void *fix_alloc(struct fixture *f, size_t size) {
  if (f->nmem == FIX_MAX)
    fix_full("allocations");
  void *m = calloc(1, size);
  if (m)
    f->mem[f->nmem++] = m;
  return m;
}

/* The test's own end, once it has closed everything: io_loop_close()'s
 * result.  Only on success is the cleanup disarmed and the memory freed;
 * an IO_EBUSY leaves both to the failed assertion that follows. */
static inline int fix_close(struct fixture *f) {
  int err = io_loop_close(f->loop);
  if (err)
    return err;
  t_on_failure(NULL, NULL);
  fix_free_mem(f);
  return 0;
}

/* ---- the pair ----------------------------------------------------------- */

/* A connected pair: a listener, a client and the server side, with the
 * records a test posts most (sop/srec, rop/rrec), ready to post. */
struct pair {
  struct fixture fx;    /* the loop; the cleanup closes lh, ch, sh */
  struct io_loop *loop; /* fx.loop, for short */
  struct io_handle lh;  /* the listener */
  struct io_handle ch;  /* the client: connected to lh */
  struct io_handle sh;  /* the server side: lh's accepted socket */
  struct io_op aop;     /* lh's multishot accept, still armed */
  struct io_op cop;     /* ch's connect, completed */
  struct io_op sop;     /* free for a test: a send */
  struct io_op rop;     /* free for a test: a receive */
  struct rec arec, crec, srec, rrec; /* what each of those four saw */
  struct sockaddr_in addr;           /* lh's address */
};

/* Opens the fixture and the pair on it; 0, or a negative step number
 * (the cleanup is armed from the first step on). */
static inline int pair_open(struct pair *p) {
  memset(p, 0, sizeof *p);
  if (fix_open(&p->fx, NULL, NULL) != 0)
    return -1;
  p->loop = p->fx.loop;
  fix_handles(&p->fx, &p->lh, 1);
  fix_handles(&p->fx, &p->ch, 1);
  fix_handles(&p->fx, &p->sh, 1);
  io_op_init(&p->aop, &p->arec);
  io_op_init(&p->cop, &p->crec);
  io_op_init(&p->sop, &p->srec);
  io_op_init(&p->rop, &p->rrec);
  p->addr = loopback(0);
  if (io_listen(p->loop, &p->lh, (struct sockaddr *)&p->addr, sizeof p->addr,
                16, 0) != 0)
    return -2;
  p->addr = loopback(port_of(&p->lh));
  if (io_accept(&p->lh, &p->aop, rec_cb) != 0)
    return -3;
  io_connect(p->loop, &p->ch, &p->cop, (struct sockaddr *)&p->addr,
             sizeof p->addr, rec_cb);
  RUN_UNTIL(p->loop, p->arec.calls >= 1 && p->crec.calls == 1);
  if (p->arec.res != 0 || p->crec.res != 0)
    return -4;
  if (io_open(p->loop, &p->sh, p->aop.u.accept.sock) != 0)
    return -5;
  return 0;
}

/* Closes every handle of the pair and checks the loop is left empty:
 * fix_close()'s result, or -1 if a close callback never came. */
static inline int pair_close(struct pair *p) {
  closed_count = 0;
  io_close(&p->lh, count_close);
  io_close(&p->ch, count_close);
  io_close(&p->sh, count_close);
  RUN_UNTIL(p->loop, closed_count == 3);
  if (closed_count != 3)
    return -1;
  return fix_close(&p->fx);
}

/* pair_close() for a pair one of whose handles the test has closed
 * itself (closed_count counting it): closes the other two. */
static inline int pair_close_rest(struct pair *p, struct io_handle *done) {
  struct io_handle *hs[3] = {&p->lh, &p->ch, &p->sh};
  for (int i = 0; i < 3; i++)
    if (hs[i] != done)
      io_close(hs[i], count_close);
  RUN_UNTIL(p->loop, closed_count == 3);
  if (closed_count != 3)
    return -1;
  return fix_close(&p->fx);
}

/* Runs the loop for about ms milliseconds (a timer keeps it bounded). */
static inline void run_for(struct io_loop *loop, unsigned ms) {
  struct io_op tick;
  struct rec trec = {0};
  io_op_init(&tick, &trec);
  if (io_timeout(loop, &tick, (uint64_t)ms * 1000000u, rec_cb) != 0)
    return;
  RUN_UNTIL(loop, trec.calls == 1);
  settle(loop, &tick);
}

/* One recv of at most max bytes on h into r, run to its completion;
 * 0, a post's error, or -1 if it did not complete exactly once. */
static inline int recv_once(struct pair *p, struct io_handle *h, struct rec *r,
                            uint32_t max) {
  struct io_op op;
  io_op_init(&op, r);
  int calls = r->calls;
  int err = io_recv(h, &op, max, rec_cb);
  if (err)
    return err;
  RUN_UNTIL(p->loop, r->calls > calls);
  settle(p->loop, &op);
  return r->calls == calls + 1 ? 0 : -1;
}

/* One send of text on h, run to its completion; its result (the byte
 * count or an IO_E* code), or -1000 if it never completed. */
static inline int send_now(struct pair *p, struct io_handle *h,
                           const char *text, size_t len) {
  struct io_op sop;
  struct rec srec = {0};
  struct io_buf b = io_buf_make(text, len);
  io_op_init(&sop, &srec);
  int err = io_send(h, &sop, &b, 1, rec_cb);
  if (err)
    return err;
  RUN_UNTIL(p->loop, srec.calls == 1);
  settle(p->loop, &sop);
  return srec.calls == 1 ? srec.res : -1000;
}

/* main() of a suite: runs run_all() once per backend (all that work
 * here, or the one named by argv[1]) and reports in the suite format. */
static inline int io_suite_main(int argc, char **argv, void (*run_all)(void)) {
  static const char *names[] = {"io_uring", "epoll", "iocp"};
  char why[160], ctx[64];
  int err, ran = 0;
  sys_init();
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    if (argc > 1 && strcmp(argv[1], names[i]) != 0)
      continue;
    be = io_backend_pick(names[i], why, sizeof why, &err);
    if (!be) {
      char msg[128];
      printf("# %s: skipped (%s)\n", names[i],
             io_strerror(err, msg, sizeof msg));
      if (argc > 1 && (err == IO_EACCES || err == IO_ENOSYS))
        return 77; /* asked for a backend this machine blocks: ctest SKIP */
      continue;
    }
    snprintf(ctx, sizeof ctx, " [%s]", names[i]);
    t_ctx = ctx;
    run_all();
    ran++;
  }
  if (!ran)
    printf("not ok - no backend ran\n"), t_failed++;
  return test_report();
}

#endif
