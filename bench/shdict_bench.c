/*
 * shdict_bench.c -- nanoseconds per get and per set on one shared
 * dictionary, from 1 and 2 threads: 16-byte keys, 32-byte values, keys
 * drawn at random from a preloaded set (the shape of OpenResty's usual
 * ngx.shared.DICT benchmark).  The engine alone, without a Lua binding:
 * the binding's cost is the lead's to add and measure.
 *
 *   shdict_bench [ops_per_thread] [keys]      defaults 2000000, 100000
 *
 * Each case runs three times; the best run is printed.  wall ns/op is
 * elapsed time over the operations of all threads (with 2 threads, the
 * throughput of the two contending for the dictionary's one mutex); cpu
 * ns/op is the process's CPU time over the same count, which says less
 * about contention but survives a machine shared with other work.
 */
#include "shdict.h"
#include "sys.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_LEN 16
#define VAL_LEN 32

static unsigned nkeys = 100000;
static unsigned nops = 2000000;

struct run {
  struct shdict *d; /* the dictionary */
  int set;          /* set rather than get */
  uint64_t seed;    /* the thread's generator */
  unsigned misses;  /* gets that found nothing (should be 0) */
};

static double clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* "key:" and 12 hex digits, without printf's cost in the loop. */
static void key_of(char *k, unsigned i) {
  memcpy(k, "key:", 4);
  for (int j = KEY_LEN - 1; j >= 4; j--, i >>= 4)
    k[j] = "0123456789abcdef"[i & 15];
}

static void loop(void *p) {
  struct run *r = p;
  char key[KEY_LEN], val[VAL_LEN], buf[64];
  memset(val, 'v', sizeof val);
  struct shdict_value v = {SHDICT_STRING, VAL_LEN, {0}}, out;
  v.v.s = val;
  uint64_t x = r->seed;
  for (unsigned i = 0; i < nops; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    key_of(key, (unsigned)(x >> 24) % nkeys);
    if (r->set)
      shdict_set(r->d, key, KEY_LEN, &v, 0, 0, NULL);
    else if (shdict_get(r->d, key, KEY_LEN, &out, buf, sizeof buf) != 0)
      r->misses++;
  }
}

/* Best of three: wall ns per op (all threads' ops) and CPU ns per op. */
static void run_case(struct shdict *d, int set, int threads, double *wall,
                     double *cpu) {
  *wall = *cpu = 1e18;
  for (int rep = 0; rep < 3; rep++) {
    struct run r[2];
    sys_thread t[2];
    double t0 = clock_ns(CLOCK_MONOTONIC);
    double c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < threads; i++) {
      uint64_t seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1 + rep * 2);
      r[i] = (struct run){d, set, seed, 0};
      if (sys_thread_start(&t[i], loop, &r[i]) != 0) {
        fprintf(stderr, "cannot start a thread\n");
        exit(1);
      }
    }
    for (int i = 0; i < threads; i++)
      sys_thread_join(t[i]);
    double ops = (double)nops * threads;
    double w = (clock_ns(CLOCK_MONOTONIC) - t0) / ops;
    double c = (clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / ops;
    for (int i = 0; i < threads; i++)
      if (r[i].misses) {
        fprintf(stderr, "%u gets missed\n", r[i].misses);
        exit(1);
      }
    if (w < *wall)
      *wall = w;
    if (c < *cpu)
      *cpu = c;
  }
}

int main(int argc, char **argv) {
  if (argc > 1)
    nops = (unsigned)strtoul(argv[1], NULL, 10);
  if (argc > 2)
    nkeys = (unsigned)strtoul(argv[2], NULL, 10);
  struct shdict *d = shdict_new(SHDICT_DEFAULT_SIZE, 0);
  if (!d || nops == 0 || nkeys == 0) {
    fprintf(stderr, "usage: shdict_bench [ops_per_thread] [keys]\n");
    return 2;
  }
  char key[KEY_LEN], val[VAL_LEN];
  memset(val, 'v', sizeof val);
  struct shdict_value v = {SHDICT_STRING, VAL_LEN, {0}};
  v.v.s = val;
  for (unsigned i = 0; i < nkeys; i++) {
    key_of(key, i);
    shdict_set(d, key, KEY_LEN, &v, 0, 0, NULL);
  }
  struct shdict_stats st;
  shdict_stats(d, &st);
  printf("shdict: %u keys of %d bytes, values of %d bytes, %.1f MiB dict "
         "(%llu evicted while loading), %u ops per thread\n",
         nkeys, KEY_LEN, VAL_LEN, (double)st.size / 1048576.0,
         (unsigned long long)st.evictions, nops);
  printf("%-6s %8s %12s %12s %14s\n", "op", "threads", "wall ns/op",
         "cpu ns/op", "Mops/s (wall)");
  const char *names[2] = {"get", "set"};
  for (int set = 0; set < 2; set++)
    for (int threads = 1; threads <= 2; threads++) {
      double wall, cpu;
      run_case(d, set, threads, &wall, &cpu);
      printf("%-6s %8d %12.1f %12.1f %14.2f\n", names[set], threads, wall, cpu,
             1e3 / wall);
    }
  shdict_release(d);
  return 0;
}
