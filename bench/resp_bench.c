/*
 * resp_bench.c -- nanoseconds per operation of the RESP parser and
 * encoder (src/proto/resp.h), in a tight loop on one core:
 *
 *   get        parse "$3\r\nbar\r\n" (a GET reply) into tokens
 *   batch16    parse 16 GET replies back to back (a pipelined batch)
 *   scan16     count the same 16 with resp_scan (no tokens stored)
 *   array100   parse a 100-element array of bulk strings (HGETALL-like)
 *   set        encode SET key:000123 value (size, then bytes)
 *   set_int    encode SET key:000123 <integer> with resp_put_int_arg
 *
 * Each case runs for about 0.2 s, five times; the best run is reported,
 * so another process taking the CPU for a moment does not count.
 *
 *   build/bench/resp_bench [SCALE]     SCALE (a number, e.g. 0.01 under
 *                                      callgrind) multiplies the iterations
 */
#include "resp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile size_t sink;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef void (*bench_fn)(long iters);

static struct resp_token tok[256];
static struct resp_parser parser;
static char batch[16 * 9];
static char array100[4096];
static size_t array100_len;

static void get(long iters) {
  static const char reply[] = "$3\r\nbar\r\n";
  size_t used;
  for (long i = 0; i < iters; i++) {
    if (resp_parse(&parser, reply, 9, &used) != RESP_OK)
      abort();
    sink += tok[0].len;
  }
}

static void batch16(long iters) {
  size_t used;
  for (long i = 0; i < iters; i++) {
    size_t at = 0;
    for (int k = 0; k < 16; k++) {
      if (resp_parse(&parser, batch + at, sizeof batch - at, &used) != RESP_OK)
        abort();
      sink += tok[0].len;
      at += used;
    }
  }
}

static void scan16(long iters) {
  struct resp_parser p;
  resp_parser_init(&p, NULL, 0, NULL, 0);
  for (long i = 0; i < iters; i++) {
    size_t done = 0, used = 0;
    if (resp_scan(&p, batch, sizeof batch, 16, &done, &used) != RESP_OK)
      abort();
    sink += used;
  }
}

static void array(long iters) {
  size_t used;
  for (long i = 0; i < iters; i++) {
    if (resp_parse(&parser, array100, array100_len, &used) != RESP_OK)
      abort();
    sink += parser.ntok;
  }
}

static void set(long iters) {
  static const char *args[] = {"SET", "key:000123", "value"};
  static const size_t lens[] = {3, 10, 5};
  char out[64];
  for (long i = 0; i < iters; i++) {
    size_t n = resp_command_size(3, lens);
    if (n > sizeof out)
      abort();
    sink += resp_encode_command(out, 3, args, lens);
  }
}

static void set_int(long iters) {
  char out[64];
  for (long i = 0; i < iters; i++) {
    char *p = resp_put_header(out, 3);
    p = resp_put_arg(p, "SET", 3);
    p = resp_put_arg(p, "key:000123", 10);
    p = resp_put_int_arg(p, 1000 + (i & 1023));
    sink += (size_t)(p - out);
  }
}

static void run(const char *name, bench_fn fn, long iters, int per) {
  double best = 1e300;
  fn(iters / 10); /* warm up */
  for (int r = 0; r < 5; r++) {
    double t0 = now_ns();
    fn(iters);
    double ns = (now_ns() - t0) / (double)iters;
    best = ns < best ? ns : best;
  }
  if (per > 1)
    printf("%-10s %8.1f ns/op  (%.1f ns per reply)\n", name, best,
           best / per);
  else
    printf("%-10s %8.1f ns/op\n", name, best);
}

int main(int argc, char **argv) {
  double scale = argc > 1 ? atof(argv[1]) : 1;
  if (!(scale > 0))
    scale = 1;
  for (int k = 0; k < 16; k++)
    memcpy(batch + 9 * k, "$3\r\nbar\r\n", 9);
  array100_len = (size_t)sprintf(array100, "*100\r\n");
  for (int k = 0; k < 100; k++)
    array100_len += (size_t)sprintf(array100 + array100_len,
                                    "$8\r\nfield%03d\r\n", k);
  resp_parser_init(&parser, NULL, 0, tok, 256);

  printf("RESP micro-benchmark (best of 5 runs)\n");
  run("get", get, (long)(4000000 * scale) + 10, 1);
  run("batch16", batch16, (long)(250000 * scale) + 10, 16);
  run("scan16", scan16, (long)(250000 * scale) + 10, 16);
  run("array100", array, (long)(40000 * scale) + 10, 1);
  run("set", set, (long)(4000000 * scale) + 10, 1);
  run("set_int", set_int, (long)(4000000 * scale) + 10, 1);
  return sink == 42 ? 1 : 0;
}
