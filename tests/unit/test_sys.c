/*
 * test_sys.c -- the parts of sys.h the shared modules added: condition
 * variables (a wait that times out, a signal that wakes), once, random
 * bytes, the millisecond clock, detached threads, background priority.
 */
#include "sys.h"
#include "t.h"

#ifdef __linux__
#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

static sys_mutex mu;
static sys_cond cv;
static int flag, once_runs, detached_ran;

static void timedwait_times_out(void) {
  sys_mutex_lock(&mu);
  uint64_t t0 = sys_clock_ms();
  int r = sys_cond_timedwait(&cv, &mu, 50);
  uint64_t took = sys_clock_ms() - t0;
  sys_mutex_unlock(&mu);
  T_ASSERT_EQ(r, -1);
  /* Windows' waits and tick clock have a resolution of ~16 ms (and Wine
   * wakes a little early): "about 50 ms", not "at least 50". */
  if (took < 25 || took >= 5000)
    T_FAIL_("a 50 ms timed wait took %llu ms", (unsigned long long)took);
}

static void raise_flag(void *p) {
  (void)p;
  sys_sleep_ms(20);
  sys_mutex_lock(&mu);
  flag = 1;
  sys_cond_signal(&cv);
  sys_mutex_unlock(&mu);
}

static void signal_wakes_a_waiter(void) {
  sys_thread t;
  flag = 0;
  T_ASSERT_EQ(sys_thread_start(&t, raise_flag, NULL), 0);
  sys_mutex_lock(&mu);
  uint64_t end = sys_clock_ms() + 5000;
  while (!flag && sys_clock_ms() < end)
    sys_cond_timedwait(&cv, &mu, 1000);
  int seen = flag;
  sys_mutex_unlock(&mu);
  sys_thread_join(t);
  T_ASSERT_EQ(seen, 1);
}

static sys_once_flag once = SYS_ONCE_INIT;
static void init_once(void) {
  sys_sleep_ms(10); /* long enough for the others to arrive */
  once_runs++;
}
static void call_once(void *p) {
  (void)p;
  sys_once(&once, init_once);
}

static void once_runs_once(void) {
  sys_thread t[4];
  for (int i = 0; i < 4; i++)
    T_ASSERT_EQ(sys_thread_start(&t[i], call_once, NULL), 0);
  for (int i = 0; i < 4; i++)
    sys_thread_join(t[i]);
  sys_once(&once, init_once);
  T_ASSERT_EQ(once_runs, 1);
}

static void random_bytes_differ(void) {
  unsigned char a[32], b[32], zero[32] = {0};
  T_ASSERT_EQ(sys_random(a, sizeof a), 0);
  T_ASSERT_EQ(sys_random(b, sizeof b), 0);
  T_ASSERT(memcmp(a, b, sizeof a) != 0);
  T_ASSERT(memcmp(a, zero, sizeof a) != 0);
  T_ASSERT_EQ(sys_random(a, 0), 0);
}

static void clock_moves_forward(void) {
  uint64_t a = sys_clock_ms();
  sys_sleep_ms(20);
  uint64_t b = sys_clock_ms();
  T_ASSERT(b >= a + 15 && b < a + 5000);
}

static void mark_ran(void *p) {
  (void)p;
  sys_mutex_lock(&mu);
  detached_ran = 1;
  sys_cond_signal(&cv);
  sys_mutex_unlock(&mu);
}

static void a_detached_thread_runs(void) {
  sys_thread t;
  T_ASSERT_EQ(sys_thread_start(&t, mark_ran, NULL), 0);
  sys_thread_detach(t);
  sys_mutex_lock(&mu);
  uint64_t end = sys_clock_ms() + 5000;
  while (!detached_ran && sys_clock_ms() < end)
    sys_cond_timedwait(&cv, &mu, 1000);
  int ran = detached_ran;
  sys_mutex_unlock(&mu);
  T_ASSERT_EQ(ran, 1);
  sys_sleep_ms(20); /* let it return before the process ends */
}

/* The thread's own priority after sys_thread_background(), and the
 * calling thread's, which must not change. */
static int prio_bg = -100, prio_main = -100;

static int my_priority(void) {
#ifdef _WIN32
  return GetThreadPriority(GetCurrentThread());
#elif defined(__linux__)
  errno = 0;
  int p = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
  return errno ? -100 : p;
#else
  return 0;
#endif
}

static void go_background(void *p) {
  (void)p;
  sys_thread_background();
  prio_bg = my_priority();
}

static void background_lowers_only_that_thread(void) {
  int before = my_priority();
  sys_thread t;
  T_ASSERT_EQ(sys_thread_start(&t, go_background, NULL), 0);
  sys_thread_join(t);
  prio_main = my_priority();
  T_ASSERT_EQ(prio_main, before);
#ifdef _WIN32
  T_ASSERT(prio_bg < THREAD_PRIORITY_NORMAL);
#elif defined(__linux__)
  T_ASSERT(prio_bg == (before + 10 > 19 ? 19 : before + 10));
#endif
}

int main(void) {
  sys_init();
  sys_mutex_init(&mu);
  sys_cond_init(&cv);
  T_RUN(timedwait_times_out);
  T_RUN(signal_wakes_a_waiter);
  T_RUN(once_runs_once);
  T_RUN(random_bytes_differ);
  T_RUN(clock_moves_forward);
  T_RUN(a_detached_thread_runs);
  T_RUN(background_lowers_only_that_thread);
  sys_cond_destroy(&cv);
  sys_mutex_destroy(&mu);
  return test_report();
}
