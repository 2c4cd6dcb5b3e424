/*
 * test_resolve.c -- the resolver pool: the fast path, the system resolver
 * (localhost, a number, a name that does not exist), coalescing, bounded
 * threads and queue, cancel, stop with lookups stuck, the fault walk.
 *
 * Most cases use a gated lookup function instead of getaddrinfo: it counts
 * its calls and blocks until the test opens the gate, so "in progress" and
 * "queued" are states the test controls rather than races it hopes for.
 *
 *   test_resolve                       the suite
 *   test_resolve hosts NAME ADDR       resolves NAME with the system
 *                                      resolver and expects ADDR among the
 *                                      answers (run under with_hosts.sh)
 */
#include "fault.h"
#include "resolve.h"
#include "sys.h"
#include "t.h"

#include <stdlib.h>

#ifndef _WIN32
#include <arpa/inet.h>
#endif

static sys_mutex mu;  /* guards everything below */
static sys_cond cv;   /* any of it changed */
static int dones;     /* done callbacks so far */
static int gate_open; /* the fake lookup may return */
static int calls;     /* fake lookups started */
static int running;   /* fake lookups inside */
static int max_running;
static int returned; /* fake lookups returned */

static void reset(int open) {
  sys_mutex_lock(&mu);
  dones = calls = running = max_running = returned = 0;
  gate_open = open;
  sys_mutex_unlock(&mu);
}

static void on_done(struct resolve_req *req) {
  (void)req;
  sys_mutex_lock(&mu);
  dones++;
  sys_cond_broadcast(&cv);
  sys_mutex_unlock(&mu);
}

static void fake(const char *name, int family, struct resolve_result *res,
                 void *ud) {
  (void)family;
  (void)ud;
  sys_mutex_lock(&mu);
  calls++;
  if (++running > max_running)
    max_running = running;
  sys_cond_broadcast(&cv);
  while (!gate_open)
    sys_cond_wait(&cv, &mu);
  running--;
  sys_mutex_unlock(&mu);
  res->status = RESOLVE_OK;
  res->naddrs = 1;
  memset(&res->addrs[0], 0, sizeof res->addrs[0]);
  res->addrs[0].in4.sin_family = AF_INET;
  res->addrs[0].in4.sin_addr.s_addr =
      htonl(0x7f000000u + (unsigned)strlen(name));
  sys_mutex_lock(&mu);
  returned++;
  sys_cond_broadcast(&cv);
  sys_mutex_unlock(&mu);
}

static void open_gate(void) {
  sys_mutex_lock(&mu);
  gate_open = 1;
  sys_cond_broadcast(&cv);
  sys_mutex_unlock(&mu);
}

/* Waits (up to 10 s) until *counter >= n; returns its value. */
static int wait_for(int *counter, int n) {
  uint64_t end = sys_clock_ms() + 10000;
  sys_mutex_lock(&mu);
  while (*counter < n && sys_clock_ms() < end)
    sys_cond_timedwait(&cv, &mu, 100);
  int v = *counter;
  sys_mutex_unlock(&mu);
  return v;
}

static int get(int *counter) {
  sys_mutex_lock(&mu);
  int v = *counter;
  sys_mutex_unlock(&mu);
  return v;
}

static struct resolver *pool(int threads, int queue, resolve_fn fn) {
  struct resolve_config cfg = {threads, queue, fn, NULL};
  return resolve_new(&cfg);
}

static int submit(struct resolver *r, struct resolve_req *req, const char *name,
                  int family) {
  memset(req, 0, sizeof *req);
  req->done = on_done;
  return resolve_submit(r, req, name, strlen(name), family);
}

static int has4(const struct resolve_result *res, const char *text) {
  struct in_addr a;
  inet_pton(AF_INET, text, &a);
  for (int i = 0; i < res->naddrs; i++)
    if (res->addrs[i].sa.sa_family == AF_INET &&
        res->addrs[i].in4.sin_addr.s_addr == a.s_addr)
      return 1;
  return 0;
}

/* ---- the fast path ----------------------------------------------------- */

static void fast_path_answers_numbers_and_localhost(void) {
  struct resolve_result res;
  T_ASSERT_EQ(resolve_fast("127.0.0.1", 9, RESOLVE_ANY, &res), 1);
  T_ASSERT(res.status == RESOLVE_OK && res.naddrs == 1);
  T_ASSERT(has4(&res, "127.0.0.1"));
  T_ASSERT_EQ(resolve_fast("::1", 3, RESOLVE_V6, &res), 1);
  T_ASSERT(res.naddrs == 1 && res.addrs[0].sa.sa_family == AF_INET6);
  T_ASSERT_EQ(res.addrs[0].in6.sin6_addr.s6_addr[15], 1);
  T_ASSERT_EQ(resolve_fast("10.0.0.1", 8, RESOLVE_V6, &res), 1);
  T_ASSERT_EQ(res.status, RESOLVE_ENOTFOUND);
  T_ASSERT_EQ(resolve_fast("::1", 3, RESOLVE_V4, &res), 1);
  T_ASSERT_EQ(res.status, RESOLVE_ENOTFOUND);
  T_ASSERT_EQ(resolve_fast("localhost", 9, RESOLVE_ANY, &res), 1);
  T_ASSERT_EQ(res.naddrs, 2);
  T_ASSERT(res.addrs[0].sa.sa_family == AF_INET && has4(&res, "127.0.0.1"));
  T_ASSERT_EQ(res.addrs[1].sa.sa_family, AF_INET6);
  T_ASSERT_EQ(resolve_fast("LocalHost.", 10, RESOLVE_V4, &res), 1);
  T_ASSERT_EQ(res.naddrs, 1);
  T_ASSERT_EQ(resolve_fast("localhost", 9, RESOLVE_V6, &res), 1);
  T_ASSERT(res.naddrs == 1 && res.addrs[0].sa.sa_family == AF_INET6);
  T_ASSERT_EQ(res.addrs[0].in6.sin6_port, 0);
}

static void fast_path_leaves_names_to_the_pool(void) {
  struct resolve_result res;
  T_ASSERT_EQ(resolve_fast("example.com", 11, RESOLVE_ANY, &res), 0);
  T_ASSERT_EQ(resolve_fast("localhostx", 10, RESOLVE_ANY, &res), 0);
  T_ASSERT_EQ(resolve_fast("127.1", 5, RESOLVE_ANY, &res), 0);
  T_ASSERT_EQ(resolve_fast("", 0, RESOLVE_ANY, &res), 0);
  T_ASSERT_EQ(resolve_fast("127.0.0.1\0x", 11, RESOLVE_ANY, &res), 0);
}

static void bad_requests(void) {
  struct resolver *r = pool(1, 8, NULL);
  struct resolve_req req;
  char big[300];
  memset(big, 'a', sizeof big);
  memset(&req, 0, sizeof req);
  req.done = on_done;
  T_ASSERT(r != NULL);
  T_ASSERT_EQ(resolve_submit(r, &req, "", 0, RESOLVE_ANY), RESOLVE_EINVAL);
  T_ASSERT_EQ(resolve_submit(r, &req, big, RESOLVE_NAME_MAX + 1, 0),
              RESOLVE_EINVAL);
  T_ASSERT_EQ(resolve_submit(r, &req, "a\0b", 3, 0), RESOLVE_EINVAL);
  T_ASSERT_EQ(resolve_submit(r, &req, "ab", 2, 5), RESOLVE_EINVAL);
  T_ASSERT_EQ(resolve_cancel(r, &req), RESOLVE_EBUSY); /* never submitted */
  resolve_stop(r, 1000);
  T_ASSERT_STREQ(resolve_strerror(RESOLVE_ENOTFOUND), "not found");
  T_ASSERT_STREQ(resolve_strerror(RESOLVE_EAGAIN), "temporary failure");
  T_ASSERT_STREQ(resolve_strerror(RESOLVE_EFULL), "full");
  T_ASSERT_STREQ(resolve_strerror(RESOLVE_ECANCELED), "canceled");
  T_ASSERT_STREQ(resolve_strerror(RESOLVE_EFAIL), "resolver failure");
}

/* ---- the system resolver ------------------------------------------------ */

static void system_resolves_localhost_and_numbers(void) {
  reset(1);
  struct resolver *r = pool(2, 0, NULL);
  struct resolve_req a, b;
  T_ASSERT(r != NULL);
  T_ASSERT_EQ(submit(r, &a, "localhost", RESOLVE_V4), 0);
  T_ASSERT_EQ(submit(r, &b, "127.0.0.1", RESOLVE_ANY), 0);
  T_ASSERT_EQ(wait_for(&dones, 2), 2);
  T_ASSERT_EQ(a.res.status, RESOLVE_OK);
  T_ASSERT(has4(&a.res, "127.0.0.1")); /* from /etc/hosts */
  T_ASSERT_EQ(b.res.status, RESOLVE_OK);
  T_ASSERT_EQ(b.res.naddrs, 1);
  T_ASSERT(has4(&b.res, "127.0.0.1"));
  resolve_stop(r, 1000);
}

static void system_says_not_found(void) {
  reset(1);
  struct resolver *r = pool(1, 0, NULL);
  struct resolve_req a;
  T_ASSERT_EQ(submit(r, &a, "no-such-host.invalid", RESOLVE_ANY), 0);
  T_ASSERT_EQ(wait_for(&dones, 1), 1);
  /* .invalid never exists (RFC 6761); without any DNS server reachable
   * the resolver may say "try again" instead. */
  T_ASSERT(a.res.status == RESOLVE_ENOTFOUND || a.res.status == RESOLVE_EAGAIN);
  T_ASSERT_EQ(a.res.naddrs, 0);
  resolve_stop(r, 1000);
}

#define MANY 1000

static void a_thousand_requests_with_two_threads(void) {
  reset(0);
  struct resolver *r = pool(2, 0, fake);
  static struct resolve_req reqs[MANY];
  char name[32];
  for (int i = 0; i < MANY; i++) {
    snprintf(name, sizeof name, "host%d.test", i % 50);
    T_ASSERT_EQ(submit(r, &reqs[i], name, RESOLVE_ANY), 0);
  }
  T_ASSERT_EQ(wait_for(&calls, 2), 2);
  open_gate();
  T_ASSERT_EQ(wait_for(&dones, MANY), MANY);
  T_ASSERT_EQ(get(&calls), 50); /* one per distinct name */
  T_ASSERT(get(&max_running) <= 2);
  for (int i = 0; i < MANY; i++) {
    snprintf(name, sizeof name, "host%d.test", i % 50);
    T_ASSERT_EQ(reqs[i].res.status, RESOLVE_OK);
    T_ASSERT_EQ(ntohl(reqs[i].res.addrs[0].in4.sin_addr.s_addr),
                0x7f000000u + strlen(name));
  }
  resolve_stop(r, 1000);
}

static void a_thousand_of_one_name_make_one_call(void) {
  reset(0);
  struct resolver *r = pool(4, 0, fake);
  static struct resolve_req reqs[MANY];
  for (int i = 0; i < MANY; i++)
    T_ASSERT_EQ(submit(r, &reqs[i], "same.test", RESOLVE_ANY), 0);
  T_ASSERT_EQ(wait_for(&calls, 1), 1);
  open_gate();
  T_ASSERT_EQ(wait_for(&dones, MANY), MANY);
  T_ASSERT_EQ(get(&calls), 1);
  resolve_stop(r, 1000);
  /* The same through getaddrinfo: all answered. */
  reset(1);
  r = pool(2, 0, NULL);
  for (int i = 0; i < MANY; i++)
    T_ASSERT_EQ(
        submit(r, &reqs[i], i % 2 ? "localhost" : "127.0.0.1", RESOLVE_V4), 0);
  T_ASSERT_EQ(wait_for(&dones, MANY), MANY);
  for (int i = 0; i < MANY; i++)
    T_ASSERT(reqs[i].res.status == RESOLVE_OK &&
             has4(&reqs[i].res, "127.0.0.1"));
  resolve_stop(r, 1000);
}

static void a_full_queue_says_full(void) {
  reset(0);
  struct resolver *r = pool(1, 8, fake);
  struct resolve_req reqs[10];
  char name[32];
  for (int i = 0; i < 8; i++) {
    snprintf(name, sizeof name, "q%d.test", i);
    T_ASSERT_EQ(submit(r, &reqs[i], name, RESOLVE_ANY), 0);
  }
  T_ASSERT_EQ(submit(r, &reqs[8], "q9.test", RESOLVE_ANY), RESOLVE_EFULL);
  T_ASSERT_EQ(submit(r, &reqs[8], "q1.test", RESOLVE_ANY), RESOLVE_EFULL);
  open_gate();
  T_ASSERT_EQ(wait_for(&dones, 8), 8);
  T_ASSERT_EQ(submit(r, &reqs[9], "q9.test", RESOLVE_ANY), 0);
  T_ASSERT_EQ(wait_for(&dones, 9), 9);
  sys_sleep_ms(20);
  T_ASSERT_EQ(get(&dones), 9); /* the refused one never came back */
  resolve_stop(r, 1000);
}

static void cancel_before_and_during(void) {
  reset(0);
  struct resolver *r = pool(1, 0, fake);
  struct resolve_req a, b, c1, c2, d;
  T_ASSERT_EQ(submit(r, &a, "a.test", RESOLVE_ANY), 0);
  T_ASSERT_EQ(wait_for(&calls, 1), 1); /* a is in progress */
  T_ASSERT_EQ(submit(r, &b, "b.test", RESOLVE_ANY), 0);
  T_ASSERT_EQ(submit(r, &c1, "c.test", RESOLVE_ANY), 0);
  T_ASSERT_EQ(submit(r, &c2, "c.test", RESOLVE_ANY), 0);
  T_ASSERT_EQ(resolve_cancel(r, &b), 0);             /* queued: removed */
  T_ASSERT_EQ(resolve_cancel(r, &a), 0);             /* running: detached */
  T_ASSERT_EQ(resolve_cancel(r, &c1), 0);            /* one of two sharing */
  T_ASSERT_EQ(resolve_cancel(r, &b), RESOLVE_EBUSY); /* not any more */
  open_gate();
  T_ASSERT_EQ(wait_for(&dones, 1), 1);
  T_ASSERT_EQ(c2.res.status, RESOLVE_OK);
  T_ASSERT_EQ(submit(r, &d, "d.test", RESOLVE_ANY), 0);
  T_ASSERT_EQ(wait_for(&dones, 2), 2);
  T_ASSERT_EQ(resolve_cancel(r, &d), RESOLVE_EBUSY); /* already answered */
  sys_sleep_ms(20);
  T_ASSERT_EQ(get(&dones), 2);
  T_ASSERT_EQ(get(&calls), 3); /* a, c, d: b never ran */
  resolve_stop(r, 1000);
}

static void stop_with_requests_pending(void) {
  reset(0);
  struct resolver *r = pool(1, 0, fake);
  struct resolve_req reqs[5];
  char name[32];
  for (int i = 0; i < 5; i++) {
    snprintf(name, sizeof name, "s%d.test", i);
    T_ASSERT_EQ(submit(r, &reqs[i], name, RESOLVE_ANY), 0);
  }
  T_ASSERT_EQ(wait_for(&calls, 1), 1); /* one stuck, four queued */
  uint64_t t0 = sys_clock_ms();
  resolve_stop(r, 200); /* gives up on the stuck thread */
  uint64_t took = sys_clock_ms() - t0;
  T_ASSERT(took >= 150 && took < 5000);
  T_ASSERT_EQ(get(&dones), 5); /* all given back, on this thread */
  for (int i = 0; i < 5; i++)
    T_ASSERT_EQ(reqs[i].res.status, RESOLVE_ECANCELED);
  open_gate(); /* the detached thread comes back and frees the pool */
  T_ASSERT_EQ(wait_for(&returned, 1), 1);
  sys_sleep_ms(100);
  T_ASSERT_EQ(get(&dones), 5); /* and calls no done */
  T_ASSERT_EQ(get(&calls), 1);
}

static void stop_when_idle_joins_quickly(void) {
  struct resolver *r = pool(4, 0, NULL);
  T_ASSERT(r != NULL);
  uint64_t t0 = sys_clock_ms();
  resolve_stop(r, 10000);
  T_ASSERT(sys_clock_ms() - t0 < 2000);
}

static void fault_walk(void) {
#ifdef HOST_FAULT_INJECTION
  reset(1);
  int fired = 0;
  for (long k = 1; k < 20; k++) {
    fault_arm(FAULT_C, k);
    struct resolver *r = pool(1, 0, fake);
    struct resolve_req a, b;
    int ra = -1, rb = -1;
    if (r) {
      ra = submit(r, &a, "a.test", RESOLVE_ANY);
      rb = submit(r, &b, "b.test", RESOLVE_ANY);
      T_ASSERT(ra == 0 || ra == RESOLVE_ENOMEM);
      T_ASSERT(rb == 0 || rb == RESOLVE_ENOMEM);
    }
    long left = fault_left(FAULT_C);
    fault_arm(FAULT_C, 0);
    if (r) {
      int want = (ra == 0) + (rb == 0);
      T_ASSERT_EQ(wait_for(&dones, want), want);
      resolve_stop(r, 1000);
    }
    reset(1);
    if (left > 0)
      break;
    fired++;
  }
  T_ASSERT_EQ(fired, 3); /* the pool, a's lookup, b's lookup */
#else
  printf("# fault walk skipped: build with -DHOST_FAULT_INJECTION=ON\n");
#endif
}

/* ---- under with_hosts.sh --------------------------------------------------
 */

static int hosts_mode(const char *name, const char *addr) {
  reset(1);
  struct resolver *r = pool(1, 0, NULL);
  struct resolve_req req;
  struct resolve_result fast;
  if (!r || resolve_fast(name, strlen(name), RESOLVE_ANY, &fast)) {
    printf("not ok 1 - %s must need the pool\n", name);
    return 1;
  }
  int ok = submit(r, &req, name, RESOLVE_ANY) == 0 &&
           wait_for(&dones, 1) == 1 && req.res.status == RESOLVE_OK &&
           has4(&req.res, addr);
  resolve_stop(r, 1000);
  printf("%s 1 - %s resolves to %s through /etc/hosts (%s)\n",
         ok ? "ok" : "not ok", name, addr, resolve_strerror(req.res.status));
  printf("%d passed, %d failed\n", ok, !ok);
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  sys_init();
  sys_mutex_init(&mu);
  sys_cond_init(&cv);
  if (argc == 4 && strcmp(argv[1], "hosts") == 0)
    return hosts_mode(argv[2], argv[3]);
  T_RUN(fast_path_answers_numbers_and_localhost);
  T_RUN(fast_path_leaves_names_to_the_pool);
  T_RUN(bad_requests);
  T_RUN(system_resolves_localhost_and_numbers);
  T_RUN(system_says_not_found);
  T_RUN(a_thousand_requests_with_two_threads);
  T_RUN(a_thousand_of_one_name_make_one_call);
  T_RUN(a_full_queue_says_full);
  T_RUN(cancel_before_and_during);
  T_RUN(stop_with_requests_pending);
  T_RUN(stop_when_idle_joins_quickly);
  T_RUN(fault_walk);
  return test_report();
}
