/*
 * log.h -- log lines on stderr: time, level, worker, message.
 *
 *   2026-11-25 16:23:04.123 INFO  [w1] listening on 127.0.0.1:4567
 *
 * Each line goes out in one write, so lines from different workers never
 * interleave.  The message is data, never a format: log_write formats
 * with its own fmt only.  Worker 0 means the main thread.
 */
#ifndef HOST_LOG_H
#define HOST_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

#if defined(__GNUC__)
#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LOG_PRINTF(a, b)
#endif

void log_set_level(int level);
int log_get_level(void);
/* "debug", "info", "warn", "error" -> level; -1 if none of them. */
int log_level_parse(const char *name);
const char *log_level_name(int level);
void log_write(int level, int worker, const char *fmt, ...) LOG_PRINTF(3, 4);
/* msg of len bytes, written as is (it may hold anything but NUL). */
void log_text(int level, int worker, const char *msg, size_t len);

/* A limit on one kind of repeated line (a reset storm, descriptors
 * running out): at most `burst` lines per `period_ms`.  One instance is
 * used by one thread.  Zero-initialised is ready. */
struct log_rate {
  unsigned long long window; /* start of the current period, ms */
  unsigned count;            /* lines let out in it */
  unsigned dropped;          /* lines held back since the last one out */
};
/* 1 if a line may go out at now_ms (then *dropped is how many were held
 * back before it, to say so in the line), 0 if it should be dropped. */
int log_rate_allow(struct log_rate *r, unsigned long long now_ms,
                   unsigned burst, unsigned period_ms, unsigned *dropped);

#endif
