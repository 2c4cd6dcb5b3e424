/*
 * procstat.h: CPU time of another process, for "server CPU per message".
 *
 * Reads the process's CPU-time clock (clock_getcpuclockid): the kernel's
 * total for the whole thread group, including threads that have already
 * exited, in nanoseconds.  Where that clock cannot be read, utime + stime
 * from /proc/PID/stat: the same total, but in clock ticks (USER_HZ,
 * normally 100), so a difference of two readings is exact to two ticks
 * (20 ms): 0.4% of a 5 s window at full load, but 8% of a 2 s window
 * at the 13% load of the 16 KiB TLS cell.
 */
#ifndef BENCH_PROCSTAT_H
#define BENCH_PROCSTAT_H

#include <sys/types.h>

/* Parses the text of a /proc/PID/stat file; returns ticks or -1. */
long long procstat_parse_ticks(const char *text);

/* CPU time of pid (all its threads) in seconds, or -1.0 if it cannot be
 * read. */
double procstat_cpu_seconds(pid_t pid);

/*
 * CPU-seconds all CPUs together have been idle (idle + iowait) since boot,
 * from /proc/stat; -1.0 on failure. The kernel measures idle time exactly
 * (busy time only by sampling ticks, which misses short bursts), so the
 * machine's busy time over a window is CPUs x window - idle; minus the
 * server's and the load generator's CPU time, it is what everything else
 * on the machine took.
 */
double procstat_machine_idle(void);

/* Parses the text of /proc/stat; returns idle + iowait ticks or -1. */
long long procstat_parse_idle(const char *text);

#endif
