/*
 * log.c -- stderr log lines (see log.h).  The line is built in memory,
 * then written with one call, which is what keeps concurrent workers'
 * lines whole.
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _WIN32
#include <windows.h>
/* WriteFile, not the CRT's _write: <io.h> is our own src/io/io.h on the
 * include path, and a raw write adds no "\r" before "\n". */
static long write_err(const char *p, size_t n) {
  DWORD done = 0;
  if (!WriteFile(GetStdHandle(STD_ERROR_HANDLE), p, (DWORD)n, &done, NULL))
    return -1;
  return (long)done;
}
#else
#include <sys/time.h>
#include <unistd.h>
#define write_err(p, n) write(2, p, n)
#endif

static atomic_int min_level = LOG_INFO;
static const char *const names[] = {"debug", "info", "warn", "error"};
static const char *const tags[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

void log_set_level(int level) { atomic_store(&min_level, level); }
int log_get_level(void) { return atomic_load(&min_level); }

int log_level_parse(const char *name) {
  for (int i = 0; i < 4; i++)
    if (strcmp(name, names[i]) == 0)
      return i;
  return -1;
}

const char *log_level_name(int level) {
  return level >= 0 && level < 4 ? names[level] : "?";
}

static size_t stamp(char *buf, size_t size) {
  struct tm tm;
  long ms;
#ifdef _WIN32
  SYSTEMTIME st;
  GetSystemTime(&st);
  memset(&tm, 0, sizeof tm);
  tm.tm_year = st.wYear - 1900, tm.tm_mon = st.wMonth - 1;
  tm.tm_mday = st.wDay, tm.tm_hour = st.wHour;
  tm.tm_min = st.wMinute, tm.tm_sec = st.wSecond;
  ms = st.wMilliseconds;
#else
  struct timeval tv;
  gettimeofday(&tv, NULL);
  time_t t = tv.tv_sec;
  gmtime_r(&t, &tm);
  ms = (long)(tv.tv_usec / 1000);
#endif
  size_t n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
  n += (size_t)snprintf(buf + n, size - n, ".%03ld", ms);
  return n;
}

static void emit(int level, int worker, const char *msg, size_t len) {
  char head[64], stackbuf[1024];
  size_t h = stamp(head, sizeof head);
  if (level < 0 || level > 3)
    level = LOG_ERROR;
  if (worker > 0)
    h += (size_t)snprintf(head + h, sizeof head - h, " %s [w%d] ", tags[level],
                          worker);
  else
    h +=
        (size_t)snprintf(head + h, sizeof head - h, " %s [main] ", tags[level]);
  size_t total = h + len + 1;
  char *line = total <= sizeof stackbuf ? stackbuf : malloc(total);
  if (!line) { /* no memory: two writes are better than none */
    write_err(head, h);
    write_err(msg, len);
    write_err("\n", 1);
    return;
  }
  memcpy(line, head, h);
  memcpy(line + h, msg, len);
  line[total - 1] = '\n';
  size_t off = 0;
  while (off < total) {
    long w = (long)write_err(line + off, total - off);
    if (w <= 0)
      break;
    off += (size_t)w;
  }
  if (line != stackbuf)
    free(line);
}

void log_text(int level, int worker, const char *msg, size_t len) {
  if (level < atomic_load(&min_level))
    return;
  emit(level, worker, msg, len);
}

void log_write(int level, int worker, const char *fmt, ...) {
  char buf[1024];
  if (level < atomic_load(&min_level))
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n < sizeof buf) {
    emit(level, worker, buf, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) {
    emit(level, worker, buf, sizeof buf - 1);
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  emit(level, worker, big, (size_t)n);
  free(big);
}

int log_rate_allow(struct log_rate *r, unsigned long long now_ms,
                   unsigned burst, unsigned period_ms, unsigned *dropped) {
  if (now_ms - r->window >= period_ms || now_ms < r->window) {
    r->window = now_ms;
    r->count = 0;
  }
  if (r->count >= burst) {
    r->dropped++;
    return 0;
  }
  r->count++;
  *dropped = r->dropped;
  r->dropped = 0;
  return 1;
}
