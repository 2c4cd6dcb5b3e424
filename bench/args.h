/*
 * args.h: strict parsing of numeric command-line values for the bench tools.
 *
 * Every option value goes through these helpers so that a typo ("-c 5O") is an
 * error instead of a silently different benchmark. Both return 0 on success
 * and -1 (with a message on stderr naming the option) on a malformed or
 * out-of-range value; *out is written only on success.
 */
#ifndef BENCH_ARGS_H
#define BENCH_ARGS_H

#include <stdint.h>

/* An unsigned decimal integer in [min, max]. */
int args_uint(const char *opt, const char *text, uint64_t min, uint64_t max,
              uint64_t *out);

/* A non-negative decimal number of seconds (e.g. "5", "0.25"), at most max. */
int args_seconds(const char *opt, const char *text, double max, double *out);

#endif
