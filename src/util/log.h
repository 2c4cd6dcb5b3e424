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

#endif
