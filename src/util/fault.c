/*
 * fault.c -- the countdown fault injector (see fault.h).  Counters are
 * atomic: the workers count down the same ones, so with several workers
 * which one fails is a matter of timing; the walks use one worker.
 */
#include "fault.h"

#ifdef HOST_FAULT_INJECTION
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static atomic_long left[2];
static atomic_int ready;

static void init(void) {
  const char *c = getenv("HOST_FAULT_C"), *l = getenv("HOST_FAULT_LUA");
  atomic_store(&left[FAULT_C], c ? atol(c) : 0);
  atomic_store(&left[FAULT_LUA], l ? atol(l) : 0);
}

static void ensure_init(void) {
  int expected = 0;
  if (atomic_compare_exchange_strong(&ready, &expected, 1))
    init(); /* the first call comes before any worker thread exists */
}

void fault_arm(int kind, long k) {
  ensure_init();
  atomic_store(&left[kind], k > 0 ? k : 0);
}

long fault_left(int kind) {
  ensure_init();
  return atomic_load(&left[kind]);
}

int fault_fail(int kind, const char *where) {
  ensure_init();
  if (atomic_load(&left[kind]) <= 0)
    return 0;
  if (atomic_fetch_sub(&left[kind], 1) != 1)
    return 0;
  fprintf(stderr, "fault injected: %s\n", where);
  return 1;
}
#endif
