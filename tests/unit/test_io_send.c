/*
 * test_io_send.c -- sends that must wait for room, and their cancels, run
 * on every backend that works here (or only on the one named by argv[1]).
 *
 * The peer of these sends has half-closed its side first.  On io_uring
 * that is the hard case: the kernel's own poll of a send sees the peer's
 * hang-up as "ready", so a send that waits for room is retried until the
 * kernel gives up polling it and hands it to a worker thread.  The send
 * must still wait there for the peer to read (not fail with EAGAIN), and
 * a cancel must still end it: once, with IO_ECANCELED (not EINTR), also
 * when it arrives while the kernel is between two of those retries.
 * Every backend must behave the same, so every backend runs these.
 */
#include "io.h"
#include "io_pair.h"
#include "sys.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

#ifdef __linux__
#include <dirent.h>
#include <stdio.h>
#endif

/* Runs the loop until r has seen `calls` completions or `ms` have passed
 * (a guard timer keeps each turn bounded even if nothing else completes).
 * Returns 0 if the completions came. */
static int wait_calls(struct io_loop *loop, struct rec *r, int calls,
                      unsigned ms) {
  struct io_op guard;
  struct rec grec = {0};
  io_op_init(&guard, &grec);
  if (io_timeout(loop, &guard, (uint64_t)ms * 1000000u, rec_cb) != 0)
    return -1;
  RUN_UNTIL(loop, r->calls >= calls || grec.calls == 1);
  io_cancel(loop, &guard);
  RUN_UNTIL(loop, grec.calls == 1);
  return r->calls >= calls ? 0 : -1;
}

/* Splits size bytes at base into n buffers of about equal length. */
static void split(struct io_buf *bufs, int n, char *base, size_t size) {
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    size_t len = i == n - 1 ? size - at : size / (size_t)n;
    bufs[i] = io_buf_make(base + at, len);
    at += len;
  }
}

/* A pair whose client side (the peer of p->sh) has half-closed. */
static int half_closed_pair(struct pair *p) {
  int err = pair_open(p);
  if (err)
    return err;
  if (io_shutdown(&p->ch) != 0)
    return -10;
  run_for(p->loop, 10); /* the FIN reaches the server side */
  return 0;
}

/* Reads everything from the client side until size bytes came, checking
 * the pattern that fill() wrote.  Returns the bytes read, or -1. */
static long long read_all(struct pair *p, size_t size) {
  struct io_op rop;
  struct rec rrec;
  size_t got = 0;
  while (got < size) {
    memset(&rrec, 0, sizeof rrec);
    io_op_init(&rop, &rrec);
    if (io_recv(&p->ch, &rop, 65536, rec_cb) != 0)
      return -1;
    RUN_UNTIL(p->loop, rrec.calls == 1);
    if (rrec.calls != 1 || rrec.res <= 0)
      return -1;
    for (int i = 0; i < rrec.len; i++) /* rec_cb keeps the first 256 */
      if (rrec.data[i] != (char)((got + (size_t)i) * 7))
        return -1;
    got += (size_t)rrec.res;
  }
  return (long long)got;
}

static char *fill(size_t size) {
  char *big = malloc(size);
  if (big)
    for (size_t i = 0; i < size; i++)
      big[i] = (char)(i * 7);
  return big;
}

/* ---- tests ------------------------------------------------------------ */

/* The peer half-closed and reads nothing for a while: a large send waits
 * for room (no completion meanwhile), then completes with every byte once
 * the peer reads.  Once with one buffer, once with several (a sendmsg). */
static void send_waits_for_half_closed_reader(int nbufs) {
  struct pair p;
  struct io_op sop;
  struct rec srec = {0};
  struct io_buf bufs[3];
  size_t size = 8u << 20;
  char *big = fill(size);
  T_ASSERT(big != NULL);
  T_ASSERT_EQ(half_closed_pair(&p), 0);
  split(bufs, nbufs, big, size);
  io_op_init(&sop, &srec);
  T_ASSERT_EQ(io_send(&p.sh, &sop, bufs, nbufs, rec_cb), 0);
  run_for(p.loop, 100);
  T_ASSERT_EQ(srec.calls, 0); /* it waits: no "would block" */
  T_ASSERT_EQ(read_all(&p, size), (long long)size);
  T_ASSERT_EQ(wait_calls(p.loop, &srec, 1, 5000), 0);
  T_ASSERT_EQ(srec.res, (long long)size);
  free(big);
  T_ASSERT_EQ(pair_close(&p), 0);
}

/* A large send to a half-closed peer that never reads, cancelled in the
 * same turn it was posted (on io_uring the cancel then meets the send
 * between two of the kernel's retries): it completes once, cancelled,
 * within a bounded time. */
static void cancel_in_posting_turn(int nbufs) {
  struct pair p;
  struct io_op sop;
  struct rec srec = {0};
  struct io_buf bufs[3];
  size_t size = 16u << 20;
  char *big = calloc(1, size);
  T_ASSERT(big != NULL);
  T_ASSERT_EQ(half_closed_pair(&p), 0);
  split(bufs, nbufs, big, size);
  io_op_init(&sop, &srec);
  T_ASSERT_EQ(io_send(&p.sh, &sop, bufs, nbufs, rec_cb), 0);
  io_cancel(p.loop, &sop);
  T_ASSERT_EQ(wait_calls(p.loop, &srec, 1, 3000), 0);
  run_for(p.loop, 10);
  T_ASSERT_EQ(srec.calls, 1);
  T_ASSERT_EQ(srec.res, IO_ECANCELED);
  T_ASSERT(sop.u.send.total < size);
  free(big);
  T_ASSERT_EQ(pair_close(&p), 0);
}

/* Fills the socket buffers from sh towards ch, which does not read, and
 * returns with a send (sop) still pending on sh. */
static int send_until_blocked(struct pair *p, struct io_op *sop,
                              struct rec *srec, struct io_buf *b) {
  io_op_init(sop, srec);
  if (io_send(&p->sh, sop, b, 1, rec_cb) != 0)
    return -1;
  run_for(p->loop, 50);
  return srec->calls == 0 ? 0 : -2;
}

/* The socket to a half-closed peer is full already (an earlier send was
 * cancelled there).  Sends of 64 KiB then go in until one finds no room
 * at all and waits: each one that waits is cancelled, and ends once with
 * IO_ECANCELED -- also the one that wrote nothing (not "interrupted"). */
static void cancel_send_to_full_socket(int nbufs) {
  struct pair p;
  struct io_op sop;
  struct rec srec = {0};
  struct io_buf b, bufs[3];
  size_t size = 16u << 20, probe = 65536;
  char *big = calloc(1, size);
  T_ASSERT(big != NULL);
  T_ASSERT_EQ(half_closed_pair(&p), 0);
  b = io_buf_make(big, size);
  T_ASSERT_EQ(send_until_blocked(&p, &sop, &srec, &b), 0);
  io_cancel(p.loop, &sop);
  T_ASSERT_EQ(wait_calls(p.loop, &srec, 1, 3000), 0);
  T_ASSERT_EQ(srec.res, IO_ECANCELED);
  int nothing_written = 0;
  for (int i = 0; i < 256 && !nothing_written; i++) {
    memset(&srec, 0, sizeof srec);
    split(bufs, nbufs, big, probe);
    io_op_init(&sop, &srec);
    T_ASSERT_EQ(io_send(&p.sh, &sop, bufs, nbufs, rec_cb), 0);
    if (wait_calls(p.loop, &srec, 1, 50) == 0) {
      T_ASSERT_EQ(srec.res, (long long)probe); /* it fitted, whole */
      continue;
    }
    io_cancel(p.loop, &sop);
    T_ASSERT_EQ(wait_calls(p.loop, &srec, 1, 3000), 0);
    run_for(p.loop, 5);
    T_ASSERT_EQ(srec.calls, 1);
    T_ASSERT_EQ(srec.res, IO_ECANCELED);
    T_ASSERT(sop.u.send.total < probe);
    nothing_written = sop.u.send.total == 0;
  }
  T_ASSERT(nothing_written);
  free(big);
  T_ASSERT_EQ(pair_close(&p), 0);
}

/* Closing a handle whose send to a half-closed peer waits for room ends
 * the send (cancelled) and then the handle, also when the close comes in
 * the turn that posted the send. */
static void close_ends_waiting_send(int wait_ms) {
  struct pair p;
  struct io_op sop;
  struct rec srec = {0};
  size_t size = 16u << 20;
  char *big = calloc(1, size);
  T_ASSERT(big != NULL);
  T_ASSERT_EQ(half_closed_pair(&p), 0);
  struct io_buf b = io_buf_make(big, size);
  io_op_init(&sop, &srec);
  T_ASSERT_EQ(io_send(&p.sh, &sop, &b, 1, rec_cb), 0);
  if (wait_ms)
    run_for(p.loop, (unsigned)wait_ms);
  T_ASSERT_EQ(srec.calls, 0);
  closed_count = 0;
  io_close(&p.sh, count_close);
  T_ASSERT_EQ(wait_calls(p.loop, &srec, 1, 3000), 0);
  RUN_UNTIL(p.loop, closed_count == 1);
  T_ASSERT_EQ(closed_count, 1);
  T_ASSERT_EQ(srec.res, IO_ECANCELED);
  io_close(&p.lh, count_close);
  io_close(&p.ch, count_close);
  RUN_UNTIL(p.loop, closed_count == 3);
  free(big);
  T_ASSERT_EQ(io_loop_close(p.loop), 0);
}

/* The kernel threads io_uring made for this process (iou-wrk-PID); 0
 * where there are none to count. */
static int kernel_workers(void) {
  int n = 0;
#ifdef __linux__
  DIR *d = opendir("/proc/self/task");
  if (!d)
    return -1;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    char path[300], comm[32] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f)
      continue;
    if (fgets(comm, sizeof comm, f) && strncmp(comm, "iou-wrk", 7) == 0)
      n++;
    fclose(f);
  }
  closedir(d);
#endif
  return n;
}

/* A peer that half-closed and never reads costs no thread: the sends that
 * wait for it wait in the loop (on io_uring, not blocked in a kernel
 * worker thread each), and a cancel still ends them. */
static void waiting_sends_hold_no_thread(void) {
  enum { PAIRS = 4 };
  struct pair p[PAIRS];
  struct io_op sop[PAIRS];
  struct rec srec[PAIRS];
  size_t size = 16u << 20;
  char *big = calloc(1, size);
  T_ASSERT(big != NULL);
  /* One io_buf each: a send advances its own in place (io.h, io_send),
   * so four sends sharing one would end each other early. */
  struct io_buf b[PAIRS];
  for (int i = 0; i < PAIRS; i++) {
    b[i] = io_buf_make(big, size);
    T_ASSERT_EQ(half_closed_pair(&p[i]), 0);
    memset(&srec[i], 0, sizeof srec[i]);
    T_ASSERT_EQ(send_until_blocked(&p[i], &sop[i], &srec[i], &b[i]), 0);
  }
  for (int i = 0; i < PAIRS; i++)
    run_for(p[i].loop, 20);
  T_ASSERT_EQ(kernel_workers(), 0);
  for (int i = 0; i < PAIRS; i++) {
    T_ASSERT_EQ(srec[i].calls, 0);
    io_cancel(p[i].loop, &sop[i]);
    T_ASSERT_EQ(wait_calls(p[i].loop, &srec[i], 1, 3000), 0);
    T_ASSERT_EQ(srec[i].res, IO_ECANCELED);
    T_ASSERT_EQ(pair_close(&p[i]), 0);
  }
  free(big);
}

/* One named case per variant, so that a failure says which one. */
static void waits_one_buffer(void) { send_waits_for_half_closed_reader(1); }
static void waits_three_buffers(void) { send_waits_for_half_closed_reader(3); }
static void cancel_at_once_one_buffer(void) { cancel_in_posting_turn(1); }
static void cancel_at_once_three_buffers(void) { cancel_in_posting_turn(3); }
static void cancel_full_one_buffer(void) { cancel_send_to_full_socket(1); }
static void cancel_full_three_buffers(void) { cancel_send_to_full_socket(3); }
static void close_at_once(void) { close_ends_waiting_send(0); }
static void close_while_waiting(void) { close_ends_waiting_send(50); }

static void run_all(void) {
  T_RUN(waits_one_buffer);
  T_RUN(waits_three_buffers);
  T_RUN(cancel_at_once_one_buffer);
  T_RUN(cancel_at_once_three_buffers);
  T_RUN(cancel_full_one_buffer);
  T_RUN(cancel_full_three_buffers);
  T_RUN(close_at_once);
  T_RUN(close_while_waiting);
  T_RUN(waiting_sends_hold_no_thread);
}

int main(int argc, char **argv) { return io_suite_main(argc, argv, run_all); }
