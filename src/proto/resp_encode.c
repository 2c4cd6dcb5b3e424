/*
 * resp_encode.c -- commands as RESP arrays of bulk strings (see resp.h).
 *
 * A command is "*N\r\n" then, per argument, "$len\r\n" + bytes + "\r\n".
 * Integers are written straight into their bulk string ("$3\r\n123\r\n")
 * by a small digit loop, so a binding that passes Lua integers never goes
 * through snprintf.  Sizes are computed first, so the caller allocates
 * once; the arithmetic refuses to wrap.
 */
#include "resp.h"

#include <string.h>

static size_t digits_u64(uint64_t v) {
  if (v < 10)
    return 1;
  if (v < 100)
    return 2;
  size_t n = 3;
  for (v /= 1000; v; v /= 10)
    n++;
  return n;
}

/* Writes v in decimal at out; returns the byte after it.  Lengths and
 * counts are mostly one or two digits: those take no loop. */
static char *put_u64(char *out, uint64_t v) {
  if (v < 10) {
    *out = (char)('0' + v);
    return out + 1;
  }
  if (v < 100) {
    out[0] = (char)('0' + v / 10);
    out[1] = (char)('0' + v % 10);
    return out + 2;
  }
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n)
    *out++ = tmp[--n];
  return out;
}

static uint64_t magnitude(int64_t v) {
  return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

size_t resp_header_size(size_t nargs) { return 1 + digits_u64(nargs) + 2; }

size_t resp_arg_size(size_t len) { return 1 + digits_u64(len) + 2 + len + 2; }

size_t resp_int_arg_size(int64_t v) {
  return resp_arg_size(digits_u64(magnitude(v)) + (v < 0));
}

char *resp_put_header(char *out, size_t nargs) {
  *out++ = '*';
  out = put_u64(out, nargs);
  *out++ = '\r';
  *out++ = '\n';
  return out;
}

char *resp_put_arg(char *out, const void *arg, size_t len) {
  *out++ = '$';
  out = put_u64(out, len);
  *out++ = '\r';
  *out++ = '\n';
  if (len)
    memcpy(out, arg, len);
  out += len;
  *out++ = '\r';
  *out++ = '\n';
  return out;
}

char *resp_put_int_arg(char *out, int64_t v) {
  uint64_t m = magnitude(v);
  size_t n = digits_u64(m) + (v < 0);
  *out++ = '$';
  out = put_u64(out, n);
  *out++ = '\r';
  *out++ = '\n';
  if (v < 0)
    *out++ = '-';
  out = put_u64(out, m);
  *out++ = '\r';
  *out++ = '\n';
  return out;
}

size_t resp_command_size(size_t nargs, const size_t *lens) {
  size_t total = resp_header_size(nargs);
  for (size_t i = 0; i < nargs; i++) {
    size_t a = lens[i];
    if (a > (size_t)-1 - 32) /* room for "$", digits and two CRLF */
      return 0;
    a = resp_arg_size(a);
    if (total > (size_t)-1 - a)
      return 0;
    total += a;
  }
  return total;
}

size_t resp_encode_command(char *out, size_t nargs, const char *const *args,
                           const size_t *lens) {
  char *p = resp_put_header(out, nargs);
  for (size_t i = 0; i < nargs; i++)
    p = resp_put_arg(p, args[i], lens[i]);
  return (size_t)(p - out);
}
