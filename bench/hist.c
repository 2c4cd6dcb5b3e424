/*
 * hist.c: log-linear latency histogram (see hist.h for the bucket layout).
 *
 * The layout is HdrHistogram's idea reduced to what the load generator
 * needs: one precision, nanosecond values, a fixed range, percentiles by a
 * single cumulative scan.
 */
#include "hist.h"

#include <math.h>
#include <string.h>

void hist_reset(struct hist *h)
{
    memset(h, 0, sizeof *h);
}

unsigned hist_index(uint64_t v)
{
    unsigned e, shift;

    if (v < HIST_LINEAR)
        return (unsigned)v;
    e = 63u - (unsigned)__builtin_clzll(v);   /* v >= 2^e, e >= SUB_BITS */
    if (e > HIST_MAX_EXP)
        return HIST_BUCKETS - 1;
    shift = e - HIST_SUB_BITS + 1;            /* bucket width is 2^shift */
    return HIST_LINEAR + (e - HIST_SUB_BITS) * HIST_HALF +
           (unsigned)((v >> shift) - HIST_HALF);
}

void hist_bucket_range(unsigned index, uint64_t *lo, uint64_t *width)
{
    unsigned k, e, shift;

    if (index < HIST_LINEAR) {
        *lo = index;
        *width = 1;
        return;
    }
    k = index - HIST_LINEAR;
    e = HIST_SUB_BITS + k / HIST_HALF;
    shift = e - HIST_SUB_BITS + 1;
    *lo = (uint64_t)(HIST_HALF + k % HIST_HALF) << shift;
    *width = (uint64_t)1 << shift;
}

void hist_add(struct hist *h, uint64_t v)
{
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->count++;
    h->sum += (double)v;
    h->bucket[hist_index(v)]++;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    uint64_t rank, seen = 0, lo, width, mid;
    unsigned i;

    if (h->count == 0)
        return 0;
    if (q >= 1.0)
        return h->max;
    rank = (uint64_t)ceil(q * (double)h->count);
    if (rank == 0)
        rank = 1;
    for (i = 0; i < HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank)
            break;
    }
    if (i == HIST_BUCKETS)          /* unreachable while counts add up */
        return h->max;
    hist_bucket_range(i, &lo, &width);
    mid = lo + (width - 1) / 2;
    if (mid < h->min)
        mid = h->min;
    if (mid > h->max)
        mid = h->max;
    return mid;
}

double hist_mean(const struct hist *h)
{
    return h->count ? h->sum / (double)h->count : 0.0;
}
