/*
 * hist.h: a fixed-size log-linear histogram for latencies in nanoseconds.
 *
 * Values below 2^HIST_SUB_BITS are counted exactly; above that every power of
 * two is cut into 2^(HIST_SUB_BITS-1) equal buckets, so a reported percentile
 * is within 1/128 (0.8%) of the true value. The struct is one flat array: no
 * allocation, recording is a few instructions, and histograms of the same
 * shape can be merged by adding the arrays. Values of 2^HIST_MAX_EXP ns
 * (about 18 minutes) and above land in the last bucket.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 8
#define HIST_MAX_EXP 40
#define HIST_LINEAR (1u << HIST_SUB_BITS)          /* exact buckets 0..255 */
#define HIST_HALF (1u << (HIST_SUB_BITS - 1))      /* buckets per octave */
#define HIST_BUCKETS \
    (HIST_LINEAR + (HIST_MAX_EXP - HIST_SUB_BITS + 1) * HIST_HALF)

struct hist {
    uint64_t count;                  /* values recorded */
    uint64_t min, max;               /* exact extremes (min is 0 when empty) */
    double sum;                      /* for the mean */
    uint64_t bucket[HIST_BUCKETS];   /* counts per bucket */
};

void hist_reset(struct hist *h);
void hist_add(struct hist *h, uint64_t v);

/* Bucket index of v, and the bucket's [lo, lo + width) range. */
unsigned hist_index(uint64_t v);
void hist_bucket_range(unsigned index, uint64_t *lo, uint64_t *width);

/*
 * The q-quantile (0 < q <= 1): the midpoint of the bucket holding the
 * ceil(q * count)-th smallest value, clamped to [min, max]. 0 when empty.
 */
uint64_t hist_quantile(const struct hist *h, double q);

double hist_mean(const struct hist *h);

#endif
