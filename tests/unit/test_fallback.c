/*
 * test_fallback.c -- the run-time choice of backend when io_uring is
 * blocked.  Meant to run under tests/tools/no_io_uring, which makes the
 * io_uring system calls fail (ctest does this: io_fallback*):
 *
 *   no_io_uring test_fallback          io_uring refused with EPERM
 *   no_io_uring -n test_fallback -n    refused with ENOSYS
 *
 * Asking for io_uring by name must fail with the mapped error; "auto"
 * must pick epoll and say, in `why`, that io_uring was skipped and why;
 * and the loop it gives must work.  Run without the filter, the first
 * test fails: that is the point of it.
 */
#include "io.h"
#include "sys.h"
#include "t.h"

#include <string.h>

static int expected; /* IO_EACCES (EPERM) or IO_ENOSYS */

static void io_uring_refused(void) {
  char why[160];
  int err = 0;
  const struct io_backend *be =
      io_backend_pick("io_uring", why, sizeof why, &err);
  T_ASSERT(be == NULL);
  T_ASSERT_EQ(err, expected);
}

static void auto_picks_epoll(void) {
  char why[160], msg[64];
  int err = 0;
  const struct io_backend *be = io_backend_pick("auto", why, sizeof why, &err);
  T_ASSERT(be != NULL);
  T_ASSERT_STREQ(io_backend_name(be), "epoll");
  T_ASSERT(strstr(why, "io_uring") != NULL);
  T_ASSERT(strstr(why, io_strerror(expected, msg, sizeof msg)) != NULL);
  be = io_backend_pick(NULL, why, sizeof why, &err); /* NULL = "auto" */
  T_ASSERT(be != NULL);
  T_ASSERT_STREQ(io_backend_name(be), "epoll");
}

static void timer_cb(struct io_op *op) { *(int *)op->data += 1; }

static void fallback_loop_runs(void) {
  char why[160];
  int err = 0, fired = 0;
  struct io_loop *loop;
  struct io_op t;
  const struct io_backend *be = io_backend_pick("auto", why, sizeof why, &err);
  T_ASSERT(be != NULL);
  T_ASSERT_EQ(io_loop_open(&loop, be, NULL, NULL), 0);
  T_ASSERT_STREQ(io_loop_backend(loop), "epoll");
  io_op_init(&t, &fired);
  T_ASSERT_EQ(io_timeout(loop, &t, 1000000, timer_cb), 0);
  for (int i = 0; i < 100 && !fired; i++)
    io_loop_run(loop, 0);
  T_ASSERT_EQ(fired, 1);
  T_ASSERT_EQ(io_loop_close(loop), 0);
}

int main(int argc, char **argv) {
  sys_init();
  expected = argc > 1 && strcmp(argv[1], "-n") == 0 ? IO_ENOSYS : IO_EACCES;
  T_RUN(io_uring_refused);
  T_RUN(auto_picks_epoll);
  T_RUN(fallback_loop_runs);
  return test_report();
}
