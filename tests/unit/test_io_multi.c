/*
 * test_io_multi.c -- the completion contract of io.h for the multishot
 * receive (io_recv_multi): chunks with IO_OP_MORE, then exactly one final
 * completion (end of stream, a cancel, a close), and nothing after it.
 * Run on every backend that works here, or only on the one named by
 * argv[1]; io.c emulates the multishot where the kernel has none.
 *
 * Each test ends by asserting fix_close() == 0 (io_loop_close(): no op or
 * handle left behind); a test that fails leaves the same to its fixture's
 * cleanup (io_pair.h).
 */
#include "io_pair.h"

#include <string.h>

struct stream { /* what a multishot receive saw */
  int chunks;   /* completions with IO_OP_MORE */
  int finals;   /* completions without */
  int final_res;
  int after_final; /* anything delivered after the final one */
  size_t bytes;
  uint32_t sum; /* a checksum of the bytes, in order */
};

static void stream_cb(struct io_op *op) {
  struct stream *st = op->data;
  if (st->finals)
    st->after_final++;
  if (op->flags & IO_OP_MORE) {
    st->chunks++;
    for (int i = 0; i < op->res; i++)
      st->sum = st->sum * 31 + (unsigned char)op->u.recv.data[i];
    st->bytes += (size_t)op->res;
  } else {
    st->finals++;
    st->final_res = op->res;
  }
}

static void multi_delivers_chunks_then_eof(void) {
  struct pair p;
  struct io_op rop;
  struct stream st = {0};
  T_ASSERT_EQ(pair_open(&p), 0);
  io_op_init(&rop, &st);
  T_ASSERT_EQ(io_recv_multi(&p.sh, &rop, stream_cb), 0);
  T_ASSERT(io_posted(&rop));
  T_ASSERT_EQ(send_now(&p, &p.ch, "one", 3), 3);
  RUN_UNTIL(p.loop, st.bytes == 3);
  T_ASSERT(io_posted(&rop)); /* still armed after a chunk */
  T_ASSERT_EQ(send_now(&p, &p.ch, "two", 3), 3);
  RUN_UNTIL(p.loop, st.bytes == 6);
  T_ASSERT_EQ(st.finals, 0);
  T_ASSERT(st.chunks >= 2);
  T_ASSERT_EQ(io_shutdown(&p.ch), 0);
  RUN_UNTIL(p.loop, st.finals == 1);
  T_ASSERT_EQ(st.final_res, 0);
  T_ASSERT(!io_posted(&rop));
  T_ASSERT_EQ(pair_close(&p), 0);
  T_ASSERT_EQ(st.after_final, 0);
}

static void multi_cancel_ends_once(void) {
  struct pair p;
  struct io_op rop;
  struct stream st = {0};
  T_ASSERT_EQ(pair_open(&p), 0);
  io_op_init(&rop, &st);
  T_ASSERT_EQ(io_recv_multi(&p.sh, &rop, stream_cb), 0);
  T_ASSERT_EQ(send_now(&p, &p.ch, "x", 1), 1);
  RUN_UNTIL(p.loop, st.bytes == 1);
  io_cancel(p.loop, &rop);
  io_cancel(p.loop, &rop);
  RUN_UNTIL(p.loop, st.finals == 1);
  T_ASSERT_EQ(st.final_res, IO_ECANCELED);
  /* the data still buffered in the kernel is there for the next recv */
  T_ASSERT_EQ(send_now(&p, &p.ch, "y", 1), 1);
  T_ASSERT_EQ(io_recv(&p.sh, &p.rop, 16, rec_cb), 0);
  RUN_UNTIL(p.loop, p.rrec.calls == 1);
  T_ASSERT_EQ(p.rrec.res, 1);
  T_ASSERT_EQ(p.rrec.data[0], 'y');
  T_ASSERT_EQ(pair_close(&p), 0);
  T_ASSERT_EQ(st.after_final, 0);
}

static void multi_cancelled_from_its_callback(void) {
  struct pair p;
  struct io_op rop;
  struct stream st = {0};
  T_ASSERT_EQ(pair_open(&p), 0);
  io_op_init(&rop, &st);
  T_ASSERT_EQ(io_recv_multi(&p.sh, &rop, stream_cb), 0);
  T_ASSERT_EQ(send_now(&p, &p.ch, "abc", 3), 3);
  RUN_UNTIL(p.loop, st.chunks >= 1);
  io_cancel(p.loop, &rop); /* as a reader applying back-pressure would */
  RUN_UNTIL(p.loop, st.finals == 1);
  T_ASSERT_EQ(st.final_res, IO_ECANCELED);
  T_ASSERT_EQ(pair_close(&p), 0);
}

static void multi_close_cancels(void) {
  struct pair p;
  struct io_op rop;
  struct stream st = {0};
  T_ASSERT_EQ(pair_open(&p), 0);
  io_op_init(&rop, &st);
  T_ASSERT_EQ(io_recv_multi(&p.sh, &rop, stream_cb), 0);
  closed_count = 0;
  io_close(&p.sh, count_close);
  RUN_UNTIL(p.loop, closed_count == 1);
  T_ASSERT_EQ(st.finals, 1); /* before close_cb */
  T_ASSERT_EQ(st.final_res, IO_ECANCELED);
  T_ASSERT_EQ(pair_close_rest(&p, &p.sh), 0);
}

static void multi_carries_a_large_stream_intact(void) {
  struct pair p;
  struct io_op rop;
  struct stream st = {0};
  size_t size = 3u << 20;
  uint32_t sum = 0;
  T_ASSERT_EQ(pair_open(&p), 0);
  char *big = fix_alloc(&p.fx, size);
  T_ASSERT(big != NULL);
  for (size_t i = 0; i < size; i++) {
    big[i] = (char)(i * 13 + (i >> 9));
    sum = sum * 31 + (unsigned char)big[i];
  }
  io_op_init(&rop, &st);
  struct io_buf b = io_buf_make(big, size);
  T_ASSERT_EQ(io_recv_multi(&p.sh, &rop, stream_cb), 0);
  T_ASSERT_EQ(io_send(&p.ch, &p.sop, &b, 1, rec_cb), 0);
  RUN_UNTIL(p.loop, st.bytes == size && p.srec.calls == 1);
  T_ASSERT_EQ(p.srec.res, (long long)size);
  T_ASSERT_EQ(st.bytes, size);
  T_ASSERT_EQ(st.sum, sum);
  T_ASSERT(st.chunks > 1);
  T_ASSERT_EQ(pair_close(&p), 0);
}

static void run_all(void) {
  T_RUN(multi_delivers_chunks_then_eof);
  T_RUN(multi_cancel_ends_once);
  T_RUN(multi_cancelled_from_its_callback);
  T_RUN(multi_close_cancels);
  T_RUN(multi_carries_a_large_stream_intact);
}

int main(int argc, char **argv) { return io_suite_main(argc, argv, run_all); }
