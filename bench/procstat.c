/*
 * procstat.c: read a process's CPU time from /proc (see procstat.h).
 *
 * The command name (field 2) may contain spaces and parentheses, so fields
 * are counted from the last ')' in the line, as procps does: utime and
 * stime are the 12th and 13th fields after it. /proc/stat's first line is
 * "cpu user nice system idle iowait irq softirq steal ...", in ticks.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "procstat.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long long procstat_parse_ticks(const char *text)
{
    const char *p = strrchr(text, ')');
    long long utime = -1, stime = -1;
    int field = 2;                   /* the ')' ends field 2 (comm) */

    if (p == NULL)
        return -1;
    p++;
    while (*p != '\0' && field < 15) {
        char *end;
        long long v;

        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        field++;
        v = strtoll(p, &end, 10);
        if (field == 14)
            utime = (end != p) ? v : -1;
        else if (field == 15)
            stime = (end != p) ? v : -1;
        p = strchr(p, ' ');
        if (p == NULL)
            break;
    }
    if (utime < 0 || stime < 0)
        return -1;
    return utime + stime;
}

long long procstat_parse_idle(const char *text)
{
    long long v[5];
    const char *p = text;

    if (strncmp(p, "cpu ", 4) != 0)
        return -1;
    p += 4;
    for (int i = 0; i < 5; i++) {        /* user nice system idle iowait */
        char *end;
        v[i] = strtoll(p, &end, 10);
        if (end == p || v[i] < 0)
            return -1;
        p = end;
    }
    return v[3] + v[4];
}

/* Reads a small /proc file into text; returns its length or -1. */
static ssize_t slurp(const char *path, char *text, size_t size)
{
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    n = read(fd, text, size - 1);
    close(fd);
    if (n <= 0)
        return -1;
    text[n] = '\0';
    return n;
}

double procstat_cpu_seconds(pid_t pid)
{
    char path[64], text[1024];
    long hz = sysconf(_SC_CLK_TCK);
    long long ticks;
    clockid_t clock;
    struct timespec ts;

    /* The process's CPU clock: the same total, to the nanosecond. */
    if (clock_getcpuclockid(pid, &clock) == 0 && clock_gettime(clock, &ts) == 0)
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if (hz <= 0 || slurp(path, text, sizeof text) < 0)
        return -1.0;
    ticks = procstat_parse_ticks(text);
    return ticks < 0 ? -1.0 : (double)ticks / (double)hz;
}

double procstat_machine_idle(void)
{
    char text[512];                      /* the first line is enough */
    long hz = sysconf(_SC_CLK_TCK);
    long long ticks;

    if (hz <= 0 || slurp("/proc/stat", text, sizeof text) < 0)
        return -1.0;
    ticks = procstat_parse_idle(text);
    return ticks < 0 ? -1.0 : (double)ticks / (double)hz;
}
