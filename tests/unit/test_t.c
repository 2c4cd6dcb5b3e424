/*
 * test_t.c -- t.h itself: a failed assertion counts once, stops its test
 * and runs the armed cleanup exactly once, with its context; T_RUN
 * disarms the cleanup around each test, so a passing test's cleanup
 * never runs for the next one.  The failures provoked here are taken
 * back from the counters (they print to stderr, saying so), and the
 * suite reports only its own results.
 */
#include "t.h"

static int cleanups;      /* note() calls */
static void *cleaned_ctx; /* the last one's ctx */

static void note(void *ctx) {
  cleanups++;
  cleaned_ctx = ctx;
}

static int reached; /* a provoked test went on after its failure */

static void fails_armed(void *ctx) {
  t_on_failure(note, ctx);
  T_ASSERT_EQ(1 + 1, 3);
  reached = 1;
}

static void fails_unarmed(void *ctx) {
  (void)ctx;
  T_ASSERT_STREQ("one", "two");
  reached = 1;
}

/* Runs fn as a test meant to fail; returns the failures it counted,
 * which it takes back from the totals. */
static int provoke(void (*fn)(void *), void *ctx) {
  int before = t_failed_asserts;
  fprintf(stderr, "  (a failure provoked by test_t.c follows)\n");
  reached = 0;
  fn(ctx);
  int n = t_failed_asserts - before;
  t_failed_asserts = before;
  return n;
}

static void failure_runs_the_cleanup_once(void) {
  int ctx;
  cleanups = 0;
  T_ASSERT_EQ(provoke(fails_armed, &ctx), 1);
  T_ASSERT_EQ(reached, 0); /* the test stopped at its failure */
  T_ASSERT_EQ(cleanups, 1);
  T_ASSERT(cleaned_ctx == &ctx);
  /* Run once: a later failure finds it disarmed. */
  T_ASSERT_EQ(provoke(fails_unarmed, NULL), 1);
  T_ASSERT_EQ(cleanups, 1);
}

static void armed_then_passes(void) {
  cleanups = 0;
  t_on_failure(note, NULL);
}

/* Runs right after armed_then_passes: T_RUN disarmed what it left. */
static void a_passed_test_leaves_no_cleanup(void) {
  T_ASSERT_EQ(provoke(fails_unarmed, NULL), 1);
  T_ASSERT_EQ(cleanups, 0);
}

static void disarmed_cleanup_does_not_run(void) {
  cleanups = 0;
  t_on_failure(note, NULL);
  t_on_failure(NULL, NULL); /* what a test's own end does */
  T_ASSERT_EQ(provoke(fails_unarmed, NULL), 1);
  T_ASSERT_EQ(cleanups, 0);
}

int main(void) {
  T_RUN(failure_runs_the_cleanup_once);
  T_RUN(armed_then_passes);
  T_RUN(a_passed_test_leaves_no_cleanup);
  T_RUN(disarmed_cleanup_does_not_run);
  return test_report();
}
