/*
 * io_pair.h -- what the io tests share: a loop with a connected pair of
 * handles on loopback, a callback that records what it saw, and bounded
 * ways to run the loop.  Header-only (static inline), so that each test
 * executable takes what it uses; `be` is the backend the test runs on,
 * set by its main() before each run.
 */
#ifndef HOST_IO_PAIR_H
#define HOST_IO_PAIR_H

#include "io.h"

#include <string.h>

#ifndef _WIN32
#include <arpa/inet.h>
#include <netinet/in.h>
#endif

static const struct io_backend *be;

#ifdef _WIN32
/* For the few places where Wine cannot behave as Windows does. */
static inline int under_wine(void) {
  HMODULE nt = GetModuleHandleA("ntdll.dll");
  return nt && GetProcAddress(nt, "wine_get_version") != NULL;
}
#endif

struct rec { /* what a callback saw */
  int calls;
  int res;
  int more;
  char data[256];
  int len;
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

static int closed_count;
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

/* A connected pair: a listener, a client and the server side. */
struct pair {
  struct io_loop *loop;
  struct io_handle lh, ch, sh;
  struct io_op aop, cop;
  struct rec arec, crec;
  struct sockaddr_in addr;
};

static inline int pair_open(struct pair *p) {
  memset(p, 0, sizeof *p);
  if (io_loop_open(&p->loop, be, NULL, NULL) != 0)
    return -1;
  p->addr = loopback(0);
  if (io_listen(p->loop, &p->lh, (struct sockaddr *)&p->addr, sizeof p->addr,
                16, 0) != 0)
    return -2;
  p->addr = loopback(port_of(&p->lh));
  p->aop.data = &p->arec;
  p->cop.data = &p->crec;
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

/* Closes every handle of the pair and checks the loop is left empty. */
static inline int pair_close(struct pair *p) {
  closed_count = 0;
  io_close(&p->lh, count_close);
  io_close(&p->ch, count_close);
  io_close(&p->sh, count_close);
  RUN_UNTIL(p->loop, closed_count == 3);
  if (closed_count != 3)
    return -1;
  return io_loop_close(p->loop);
}

/* Runs the loop for about ms milliseconds (a timer keeps it bounded). */
static inline void run_for(struct io_loop *loop, unsigned ms) {
  struct io_op tick;
  struct rec trec = {0};
  tick.flags = 0;
  tick.data = &trec;
  if (io_timeout(loop, &tick, (uint64_t)ms * 1000000u, rec_cb) != 0)
    return;
  RUN_UNTIL(loop, trec.calls == 1);
}

/* One recv of at most max bytes on h, run to its completion. */
static inline int recv_once(struct pair *p, struct io_handle *h, struct rec *r,
                            uint32_t max) {
  struct io_op op;
  op.flags = 0;
  op.data = r;
  int calls = r->calls;
  int err = io_recv(h, &op, max, rec_cb);
  if (err)
    return err;
  RUN_UNTIL(p->loop, r->calls > calls);
  return r->calls == calls + 1 ? 0 : -1;
}

/* Fills the socket buffers from sh towards ch, which does not read, and
 * returns with a send still pending on sh. */
static inline int send_until_blocked(struct pair *p, struct io_op *sop,
                                     struct rec *srec, struct io_buf *b) {
  sop->flags = 0;
  sop->data = srec;
  if (io_send(&p->sh, sop, b, 1, rec_cb) != 0)
    return -1;
  run_for(p->loop, 50);
  return srec->calls == 0 ? 0 : -2;
}

#endif
