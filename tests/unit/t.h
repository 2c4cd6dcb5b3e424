/*
 * t.h -- the smallest test harness that says what went wrong.
 *
 * T_ASSERT* print the expression, both values and the line, count the
 * failure and return from the test function (so a test stops at its first
 * broken expectation).  T_RUN runs one test function and prints
 * "ok"/"not ok"; test_report() prints the totals in the suite format
 * ("N passed, N failed") and gives main its exit code.
 */
#ifndef HOST_T_H
#define HOST_T_H

#include <stdio.h>
#include <string.h>

static int t_failed_asserts;
static int t_passed, t_failed;
static const char *t_ctx = ""; /* printed after the name, e.g. a backend */

#define T_FAIL_(...)                                                        \
  do {                                                                      \
    fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                       \
    fprintf(stderr, __VA_ARGS__);                                           \
    fprintf(stderr, "\n");                                                  \
    t_failed_asserts++;                                                     \
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
    fn(__VA_ARGS__);                                                        \
    if (t_failed_asserts == t_before_) {                                    \
      t_passed++;                                                           \
      printf("ok %d - %s%s\n", t_passed + t_failed, #fn, t_ctx);                     \
    } else {                                                                \
      t_failed++;                                                           \
      printf("not ok %d - %s%s\n", t_passed + t_failed, #fn, t_ctx);                 \
    }                                                                       \
    fflush(stdout);                                                         \
  } while (0)

static inline int test_report(void) {
  printf("%d passed, %d failed\n", t_passed, t_failed);
  return t_failed ? 1 : 0;
}

#endif
