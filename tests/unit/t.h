/*
 * t.h -- the smallest test harness that says what went wrong.
 *
 * T_ASSERT* print the expression, both values and the line, count the
 * failure, run the test's cleanup and return from the test function (so
 * a test stops at its first broken expectation).  T_RUN runs one test
 * function and prints "ok"/"not ok"; test_report() prints the totals in
 * the suite format ("N passed, N failed") and gives main its exit code.
 *
 * Cleanup on failure.  A test that holds resources (a loop with sockets
 * and posted operations, memory the kernel may still read) names a
 * cleanup with t_on_failure(fn, ctx); a failed assertion calls fn(ctx)
 * once, before it returns.  The test's own end releases the same things
 * and then disarms it with t_on_failure(NULL, NULL); T_RUN disarms it
 * around every test, so a cleanup never outlives its test.  Without
 * this a failed assertion would leak the loop, and a sanitizer build
 * would report a leak on top of the real failure.
 *
 * Why a cleanup, not abort() (libuv) or goto-based checks: the rest of
 * the suite still runs and reports, so one broken expectation hides no
 * other, and the next test starts from a clean process (no loop, socket
 * or descriptor left behind).  abort() would need a process per test to
 * keep that, and gotos would need every test written around a label.
 * The cleanup runs in the failing test's frame, so its ctx may point at
 * the test's locals.  It must not use T_ASSERT*.
 */
#ifndef HOST_T_H
#define HOST_T_H

#include <stdio.h>
#include <string.h>

static int t_failed_asserts;
static int t_passed, t_failed;
static const char *t_ctx = ""; /* printed after the name, e.g. a backend */

typedef void (*t_cleanup_fn)(void *ctx);
static t_cleanup_fn t_cleanup_; /* what a failure runs, or NULL */
static void *t_cleanup_ctx_;

/* Arms the cleanup a failed assertion runs (fn NULL: none). */
static inline void t_on_failure(t_cleanup_fn fn, void *ctx) {
  t_cleanup_ = fn;
  t_cleanup_ctx_ = ctx;
}

/* Runs the armed cleanup once: disarmed first, so it cannot recur. */
static inline void t_run_cleanup_(void) {
  t_cleanup_fn fn = t_cleanup_;
  t_cleanup_ = NULL;
  if (fn)
    fn(t_cleanup_ctx_);
}

#define T_FAIL_(...)                                                        \
  do {                                                                      \
    fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                       \
    fprintf(stderr, __VA_ARGS__);                                           \
    fprintf(stderr, "\n");                                                  \
    t_failed_asserts++;                                                     \
    t_run_cleanup_();                                                       \
    return;                                                                 \
  } while (0)

#define T_ASSERT(cond)                                                      \
  do {                                                                      \
    if (!(cond))                                                            \
      T_FAIL_("assertion failed: %s", #cond);                               \
  } while (0)

#define T_ASSERT_EQ(a, b)                                                   \
  do {                                                                      \
    long long t_a_ = (long long)(a), t_b_ = (long long)(b);                 \
    if (t_a_ != t_b_)                                                       \
      T_FAIL_("%s == %s: %lld != %lld", #a, #b, t_a_, t_b_);                \
  } while (0)

#define T_ASSERT_STREQ(a, b)                                                \
  do {                                                                      \
    const char *t_a_ = (a), *t_b_ = (b);                                    \
    if (strcmp(t_a_, t_b_) != 0)                                            \
      T_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, t_a_, t_b_);            \
  } while (0)

#define T_RUN(fn, ...)                                                      \
  do {                                                                      \
    int t_before_ = t_failed_asserts;                                       \
    t_on_failure(NULL, NULL);                                               \
    fn(__VA_ARGS__);                                                        \
    t_on_failure(NULL, NULL);                                               \
    if (t_failed_asserts == t_before_) {                                    \
      t_passed++;                                                           \
      printf("ok %d - %s%s\n", t_passed + t_failed, #fn, t_ctx);            \
    } else {                                                                \
      t_failed++;                                                           \
      printf("not ok %d - %s%s\n", t_passed + t_failed, #fn, t_ctx);        \
    }                                                                       \
    fflush(stdout);                                                         \
  } while (0)

static inline int test_report(void) {
  printf("%d passed, %d failed\n", t_passed, t_failed);
  return t_failed ? 1 : 0;
}

#endif
