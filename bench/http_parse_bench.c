/*
 * http_parse_bench.c -- nanoseconds per request of the HTTP/1 head parser
 * (src/proto/http1.c), for the request wrk sends and for a browser's GET
 * with a dozen fields; also the chunked decoder and WebSocket unmasking
 * in bytes per nanosecond.  A micro-benchmark: the input is hot in cache,
 * so this is the parser's own cost, the floor of a request's.
 *
 *   build/bench/http_parse_bench [ITERATIONS]     (default 2,000,000)
 *
 * Each figure is the best of 5 rounds, timed with the thread's CPU clock
 * (CLOCK_THREAD_CPUTIME_ID), so that other processes on a busy machine
 * disturb it less than they would wall time.
 */
#include "http1.h"
#include "http_chunked.h"
#include "ws.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char wrk[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

static const char browser[] =
  "GET /static/js/app.min.js?v=1718 HTTP/1.1\r\n"
  "Host: www.example.com\r\n"
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 "
  "Firefox/128.0\r\n"
  "Accept: */*\r\n"
  "Accept-Language: en-US,en;q=0.5\r\n"
  "Accept-Encoding: gzip, deflate, br, zstd\r\n"
  "Referer: https://www.example.com/articles/2024/fast-parsers.html\r\n"
  "Connection: keep-alive\r\n"
  "Cookie: session=7f3a9c1e5b2d48a6b0c4e8f1a3d5c7e9; theme=dark; "
  "consent=yes\r\n"
  "Sec-Fetch-Dest: script\r\n"
  "Sec-Fetch-Mode: no-cors\r\n"
  "Sec-Fetch-Site: same-origin\r\n"
  "If-None-Match: \"5f2b-61a8c3d0e4f80\"\r\n"
  "\r\n";

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static volatile int sink;

static double bench_head(const char *req, long iters) {
  struct http_header fields[100];
  struct http_msg m;
  size_t n = strlen(req);
  double best = 1e30;
  for (int round = 0; round < 5; round++) {
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
      http_msg_init(&m, fields);
      sink += http_parse_request(req, n, &http_default_limits, &m);
    }
    double per = (now_ns() - t0) / (double)iters;
    if (per < best)
      best = per;
  }
  return best;
}

static double bench_chunked(long iters) {
  enum { CHUNK = 4096, N = 16 };
  static char body[N * (CHUNK + 16) + 16];
  size_t len = 0, used;
  struct http_chunked c;
  struct http_span d;
  for (int k = 0; k < N; k++) {
    len += (size_t)sprintf(body + len, "%x\r\n", CHUNK);
    memset(body + len, 'x', CHUNK);
    len += CHUNK;
    len += (size_t)sprintf(body + len, "\r\n");
  }
  len += (size_t)sprintf(body + len, "0\r\n\r\n");
  double best = 1e30;
  for (int round = 0; round < 5; round++) {
    double t0 = now_ns();
    for (long i = 0; i < iters / 100; i++) {
      size_t p = 0;
      http_chunked_init(&c, &http_default_limits);
      while (http_chunked_decode(&c, body + p, len - p, &used, &d) == 0)
        p += used;
      sink += (int)p;
    }
    double per = (now_ns() - t0) / (double)(iters / 100);
    if (per < best)
      best = per;
  }
  return (double)(N * CHUNK) / best;
}

static double bench_unmask(long iters) {
  enum { N = 16384 };
  static uint8_t buf[N + 1];
  const uint8_t key[4] = {1, 2, 3, 4};
  double best = 1e30;
  for (int round = 0; round < 5; round++) {
    double t0 = now_ns();
    for (long i = 0; i < iters / 100; i++)
      ws_mask(buf + 1, N, key, (uint64_t)i); /* unaligned on purpose */
    double per = (now_ns() - t0) / (double)(iters / 100);
    if (per < best)
      best = per;
  }
  sink += buf[5];
  return N / best;
}

int main(int argc, char **argv) {
  long iters = argc > 1 ? atol(argv[1]) : 2000000;
  if (iters < 100)
    iters = 100;
  printf("wrk request      (%3zu bytes,  1 field):  %6.1f ns/request\n",
         strlen(wrk), bench_head(wrk, iters));
  printf("browser request  (%3zu bytes, 13 fields): %6.1f ns/request\n",
         strlen(browser), bench_head(browser, iters));
  printf("chunked body     (16 x 4 KiB chunks):     %6.1f bytes/ns\n",
         bench_chunked(iters));
  printf("ws unmask        (16 KiB, unaligned):     %6.1f bytes/ns\n",
         bench_unmask(iters));
  return 0;
}
