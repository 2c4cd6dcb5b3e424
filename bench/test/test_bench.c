/*
 * test_bench.c: unit tests for the pieces the load generator's verdicts
 * rest on: the pattern must catch every kind of damage an echo server can
 * do (flipped, lost, duplicated, reordered or foreign bytes), histogram
 * percentiles must be within the stated precision, and the /proc and
 * command-line parsers must reject what they cannot read. Prints one line
 * per failure and a closing "N passed, N failed" line; exits 1 on failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "hist.h"
#include "netutil.h"
#include "pattern.h"
#include "procstat.h"

static int passed, failed;

#define T_CHECK(cond)                                                     \
    do {                                                                  \
        if (cond) {                                                       \
            passed++;                                                     \
        } else {                                                          \
            failed++;                                                     \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);        \
        }                                                                 \
    } while (0)

#define T_EQ(a, b)                                                        \
    do {                                                                  \
        unsigned long long a_ = (unsigned long long)(a);                  \
        unsigned long long b_ = (unsigned long long)(b);                  \
        if (a_ == b_) {                                                   \
            passed++;                                                     \
        } else {                                                          \
            failed++;                                                     \
            printf("FAIL %s:%d: %s == %s (%llu vs %llu)\n", __FILE__,     \
                   __LINE__, #a, #b, a_, b_);                             \
        }                                                                 \
    } while (0)

/* A stream of `count` messages of `size` bytes, as the sender makes it. */
static uint8_t *stream(uint32_t id, size_t size, unsigned count)
{
    uint8_t *s = malloc(size * count);

    for (unsigned i = 0; s && i < count; i++)
        pattern_fill(s + i * size, pattern_key(id, i), 0, size);
    return s;
}

/* Offset of the first bad byte when s is checked as the receiver does,
 * in arbitrary chunk sizes, or len if all is well. */
static size_t verify(const uint8_t *s, size_t len, uint32_t id, size_t size,
                     size_t chunk)
{
    size_t pos = 0;

    while (pos < len) {
        size_t n = len - pos, off = pos % size, k;
        if (n > chunk)
            n = chunk;
        if (n > size - off)
            n = size - off;
        k = pattern_check(s + pos, pattern_key(id, pos / size), off, n);
        if (k != n)
            return pos + k;
        pos += n;
    }
    return len;
}

static void test_pattern_roundtrip(void)
{
    static const size_t sizes[] = { 1, 7, 8, 9, 64, 100, 4097 };

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t size = sizes[i], len = size * 5;
        uint8_t *s = stream(3, size, 5);
        T_CHECK(s != NULL);
        if (s == NULL)
            return;
        for (size_t chunk = 1; chunk <= 13; chunk += 4)
            T_EQ(verify(s, len, 3, size, chunk), len);
        /* fill of a sub-range equals the same slice of the whole */
        {
            uint8_t part[64];
            size_t off = size / 3, n = size - off < 64 ? size - off : 64;
            pattern_fill(part, pattern_key(3, 2), off, n);
            T_CHECK(memcmp(part, s + 2 * size + off, n) == 0);
            T_EQ(pattern_byte(pattern_key(3, 2), off), s[2 * size + off]);
        }
        free(s);
    }
}

static void test_pattern_damage(void)
{
    const size_t size = 64, len = size * 8;
    uint8_t *s = stream(9, size, 8), *t = malloc(len);

    if (s == NULL || t == NULL) {
        T_CHECK(0);
        free(s);
        free(t);
        return;
    }
    /* one flipped bit anywhere is found at its offset */
    for (size_t pos = 0; pos < len; pos += 37) {
        memcpy(t, s, len);
        t[pos] ^= 0x10;
        T_EQ(verify(t, len, 9, size, 1000), pos);
    }
    /* two messages swapped: caught at the first byte of the swap */
    memcpy(t, s, len);
    memcpy(t + 2 * size, s + 3 * size, size);
    memcpy(t + 3 * size, s + 2 * size, size);
    T_EQ(verify(t, len, 9, size, 1000), 2 * size);
    /* a lost byte shifts the stream: caught within a few bytes */
    memcpy(t, s, 100);
    memcpy(t + 100, s + 101, len - 101);
    T_CHECK(verify(t, len - 1, 9, size, 1000) <= 100 + 8);
    /* a duplicated message */
    memcpy(t, s, 2 * size);
    memcpy(t + 2 * size, s + size, size);
    T_EQ(verify(t, 3 * size, 9, size, 1000), 2 * size);
    /* another connection's bytes */
    free(t);
    t = stream(10, size, 8);
    T_CHECK(t != NULL && verify(t, len, 9, size, 1000) < 8);
    free(s);
    free(t);
}

static void test_hist_layout(void)
{
    uint64_t lo, width, prev_end = 0;
    unsigned gaps = 0;

    /* buckets tile the range without gaps or overlaps */
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        hist_bucket_range(i, &lo, &width);
        gaps += lo != prev_end;
        prev_end = lo + width;
    }
    T_EQ(gaps, 0);
    T_EQ(prev_end, (uint64_t)1 << (HIST_MAX_EXP + 1));
    /* every value maps into the bucket that contains it */
    for (uint64_t v = 1; v < ((uint64_t)1 << 39); v = v * 3 + 1) {
        unsigned i = hist_index(v);
        hist_bucket_range(i, &lo, &width);
        T_CHECK(v >= lo && v < lo + width);
        T_CHECK(width == 1 || (double)width / (double)lo <= 1.0 / 128);
    }
    T_EQ(hist_index(UINT64_MAX), HIST_BUCKETS - 1);
}

static void test_hist_quantiles(void)
{
    static struct hist h;
    uint64_t p50, p99;

    hist_reset(&h);
    T_EQ(hist_quantile(&h, 0.5), 0);
    for (uint64_t v = 1; v <= 100000; v++)
        hist_add(&h, v * 1000);              /* 1 us .. 100 ms */
    p50 = hist_quantile(&h, 0.50);
    p99 = hist_quantile(&h, 0.99);
    T_CHECK(p50 > 50000000 * 0.99 && p50 < 50000000 * 1.01);
    T_CHECK(p99 > 99000000 * 0.99 && p99 < 99000000 * 1.01);
    T_EQ(hist_quantile(&h, 1.0), 100000000);
    T_EQ(h.min, 1000);
    T_EQ(h.count, 100000);
    hist_reset(&h);
    hist_add(&h, 42);
    T_EQ(hist_quantile(&h, 0.5), 42);
    T_EQ(hist_quantile(&h, 0.99), 42);
}

static void test_procstat(void)
{
    T_EQ(procstat_parse_ticks(
             "123 (a b) c) S 1 2 3 4 5 6 7 8 9 10 250 17 0 0 20 0 1"), 267);
    T_EQ(procstat_parse_ticks("1 (x) R 1 2"), (unsigned long long)-1);
    T_EQ(procstat_parse_ticks("garbage"), (unsigned long long)-1);
    T_EQ(procstat_parse_idle("cpu  10 0 20 300 4 0 5 0 0 0\ncpu0 1"), 304);
    T_EQ(procstat_parse_idle("cpu0 1 2 3 4 5"), (unsigned long long)-1);
    T_EQ(procstat_parse_idle("cpu  1 2 3"), (unsigned long long)-1);
    T_CHECK(procstat_machine_idle() > 0.0);
    T_CHECK(procstat_cpu_seconds(1) >= 0.0);
    T_CHECK(procstat_cpu_seconds(0x7ffffff0) < 0.0);
    /* Finer than a clock tick (10 ms): 3 ms of this process's CPU reads
     * as 3 ms, where /proc/PID/stat would say 0 or 10. */
    double a = procstat_cpu_seconds(getpid()), b;
    struct timespec t0, t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    do
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < 0.003);
    b = procstat_cpu_seconds(getpid());
    T_CHECK(b - a >= 0.003 && b - a < 0.006);
}

static void test_args(void)
{
    struct net_addr a;
    char text[64];
    uint64_t v = 7;
    double d = 0;

    T_EQ(args_uint("-c", "50", 1, 100, &v), 0);
    T_EQ(v, 50);
    T_EQ(args_uint("-c", "5O", 1, 100, &v), (unsigned long long)-1);
    T_EQ(args_uint("-c", "-1", 1, 100, &v), (unsigned long long)-1);
    T_EQ(args_uint("-c", "0", 1, 100, &v), (unsigned long long)-1);
    T_EQ(args_seconds("-d", "0.25", 10, &d), 0);
    T_CHECK(d == 0.25);
    T_EQ(args_seconds("-d", "nan", 10, &d), (unsigned long long)-1);
    T_EQ(args_seconds("-d", "1s", 10, &d), (unsigned long long)-1);
    T_EQ(net_parse_addr("127.0.0.1:8080", &a), 0);
    net_format_addr(&a, text, sizeof text);
    T_CHECK(strcmp(text, "127.0.0.1:8080") == 0);
    T_CHECK(net_is_loopback4(&a));
    T_EQ(net_parse_addr("[::1]:9", &a), 0);
    net_format_addr(&a, text, sizeof text);
    T_CHECK(strcmp(text, "[::1]:9") == 0);
    T_CHECK(!net_is_loopback4(&a));
    T_EQ(net_parse_addr("127.0.0.1", &a), (unsigned long long)-1);
    T_EQ(net_parse_addr("127.0.0.1:0", &a), (unsigned long long)-1);
    T_EQ(net_parse_addr("localhost:80", &a), (unsigned long long)-1);
}

int main(void)
{
    test_pattern_roundtrip();
    test_pattern_damage();
    test_hist_layout();
    test_hist_quantiles();
    test_procstat();
    test_args();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
