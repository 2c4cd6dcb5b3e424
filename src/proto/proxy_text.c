/*
 * proxy_text.c -- PROXY protocol version 1 (one text line) and the IP
 * address text it carries, both ways.
 *
 * The line is checked in two passes.  The first walks its structure byte
 * by byte ("PROXY ", the protocol word, single spaces, the characters a
 * field may hold, CRLF) and can run on any prefix: it fails on the first
 * byte that no valid line could have there, and otherwise asks for more
 * until the CRLF, within 107 bytes.  Only then does the second pass read
 * the fields (addresses, ports), so a line fed in pieces fails or
 * succeeds exactly as it would in one piece.
 *
 * We parse and print addresses ourselves instead of calling inet_pton /
 * inet_ntop: the rules are the spec's (no leading zeros in IPv4 parts,
 * which some inet_pton accept), the code is the same on Windows, and it
 * needs no library.
 */
#include "proxy_internal.h"

#include <string.h>

/* ---- IPv4 / IPv6 text -------------------------------------------------- */

static int is_digit(int c) { return c >= '0' && c <= '9'; }

static int hex_val(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int proxy_ip4_parse(const char *s, size_t n, uint8_t out[4]) {
  size_t i = 0;
  for (int part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= n || s[i] != '.')
        return -1;
      i++;
    }
    size_t start = i;
    unsigned v = 0;
    while (i < n && is_digit(s[i]) && i - start < 3)
      v = v * 10 + (unsigned)(s[i++] - '0');
    if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
      return -1; /* empty, too big, or a leading zero (octal look-alike) */
    out[part] = (uint8_t)v;
  }
  return i == n ? 0 : -1;
}

/* One group of 1-4 hex digits at s[*i]; -1 if there is none or it is
 * longer. */
static long hex_group(const char *s, size_t n, size_t *i) {
  size_t start = *i;
  long v = 0;
  int d;
  while (*i < n && (d = hex_val(s[*i])) >= 0) {
    if (*i - start == 4)
      return -1;
    v = v << 4 | d;
    (*i)++;
  }
  return *i == start ? -1 : v;
}

int proxy_ip6_parse(const char *s, size_t n, uint8_t out[16]) {
  uint16_t w[8];
  int count = 0, gap = -1; /* gap: where "::" stands, in groups */
  size_t i = 0;
  if (n > 45 || n < 2)
    return -1;
  if (s[0] == ':') {
    if (s[1] != ':')
      return -1;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    size_t start = i;
    if (count == 8)
      return -1;
    long v = hex_group(s, n, &i);
    if (i < n && s[i] == '.') { /* an IPv4 tail ends the address */
      if (count > 6 || proxy_ip4_parse(s + start, n - start, out) != 0)
        return -1;
      w[count++] = (uint16_t)(out[0] << 8 | out[1]);
      w[count++] = (uint16_t)(out[2] << 8 | out[3]);
      i = n;
      break;
    }
    if (v < 0)
      return -1;
    w[count++] = (uint16_t)v;
    if (i == n)
      break;
    if (s[i++] != ':' || i == n)
      return -1; /* not a separator, or a lone trailing ':' */
    if (s[i] == ':') {
      if (gap >= 0)
        return -1; /* a second "::" */
      gap = count;
      i++;
    }
  }
  if (gap < 0 ? count != 8 : count > 7)
    return -1;
  int fill = 8 - count, k = 0;
  for (int g = 0; g < 8; g++) {
    uint16_t v = (gap >= 0 && g >= gap && g < gap + fill) ? 0 : w[k++];
    out[2 * g] = (uint8_t)(v >> 8);
    out[2 * g + 1] = (uint8_t)v;
  }
  return 0;
}

static size_t put_dec(char *out, unsigned v) {
  char tmp[3];
  size_t n = 0, i = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n)
    out[i++] = tmp[--n];
  return i;
}

size_t proxy_ip4_format(const uint8_t a[4], char *out) {
  size_t n = 0;
  for (int i = 0; i < 4; i++) {
    if (i)
      out[n++] = '.';
    n += put_dec(out + n, a[i]);
  }
  out[n] = '\0';
  return n;
}

static size_t put_hex(char *out, unsigned v) {
  static const char digits[] = "0123456789abcdef";
  size_t n = 0;
  int started = 0;
  for (int shift = 12; shift >= 0; shift -= 4) {
    unsigned d = (v >> shift) & 15;
    if (d || started || shift == 0) {
      out[n++] = digits[d];
      started = 1;
    }
  }
  return n;
}

size_t proxy_ip6_format(const uint8_t a[16], char *out) {
  unsigned w[8];
  int best = -1, best_len = 1, run = 0;
  for (int g = 0; g < 8; g++) {
    w[g] = (unsigned)(a[2 * g] << 8 | a[2 * g + 1]);
    run = w[g] == 0 ? run + 1 : 0;
    if (run > best_len) { /* the longest run of >= 2; the first on a tie */
      best_len = run;
      best = g - run + 1;
    }
  }
  size_t n = 0;
  int mapped = best == 0 && best_len == 5 && w[5] == 0xFFFF;
  int last = mapped ? 6 : 8; /* groups printed in hex */
  for (int g = 0; g < last; g++) {
    if (g == best) {
      out[n++] = ':';
      out[n++] = ':';
      g += best_len - 1;
      continue;
    }
    if (n && out[n - 1] != ':')
      out[n++] = ':';
    n += put_hex(out + n, w[g]);
  }
  if (mapped) {
    out[n++] = ':';
    n += proxy_ip4_format(a + 12, out + n);
  }
  out[n] = '\0';
  return n;
}

/* ---- version 1: structure ---------------------------------------------- */

enum { V1_TCP4, V1_TCP6, V1_UNKNOWN };
static const char *const v1_words[] = {"TCP4", "TCP6", "UNKNOWN"};

struct v1_line {
  int proto;     /* V1_* */
  size_t off[4]; /* src, dst, sport, dport (TCP only) */
  size_t len[4];
  size_t end; /* line length, CRLF included */
};

/* Out of bytes at the walk's limit: too long once 107 bytes are in. */
static int more(size_t len) { return len >= PROXY_V1_MAX ? PROXY_ETOOLONG : 0; }

static int is_field_char(int c) {
  return hex_val(c) >= 0 || c == '.' || c == ':';
}

/* Is w[0..n) the start of one of the protocol words? */
static int word_prefix(const uint8_t *w, size_t n) {
  for (int k = 0; k < 3; k++)
    if (n <= strlen(v1_words[k]) && memcmp(w, v1_words[k], n) == 0)
      return 1;
  return 0;
}

static int word_id(const uint8_t *w, size_t n) {
  for (int k = 0; k < 3; k++)
    if (n == strlen(v1_words[k]) && memcmp(w, v1_words[k], n) == 0)
      return k;
  return -1;
}

/* "UNKNOWN": anything but CR and LF up to the CRLF is ignored. */
static int walk_unknown(const uint8_t *b, size_t len, size_t lim, size_t i,
                        struct v1_line *l) {
  if (b[i] == ' ')
    for (i++; i < lim && b[i] != '\r'; i++)
      if (b[i] == '\n')
        return PROXY_ELINE;
  if (i == lim)
    return more(len);
  if (++i == lim)
    return more(len);
  if (b[i] != '\n')
    return PROXY_ELINE;
  l->end = i + 1;
  return 1;
}

/* 1 with the line's fields when it is complete, 0 for more, or an error. */
static int v1_walk(const uint8_t *b, size_t len, struct v1_line *l) {
  size_t lim = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
  size_t i = 6, w = 6;
  for (; i < lim && b[i] != ' ' && b[i] != '\r'; i++)
    if (!word_prefix(b + w, i + 1 - w))
      return PROXY_ELINE;
  if (i == lim)
    return more(len);
  if ((l->proto = word_id(b + w, i - w)) < 0)
    return PROXY_ELINE;
  if (l->proto == V1_UNKNOWN)
    return walk_unknown(b, len, lim, i, l);
  if (b[i++] != ' ')
    return PROXY_ELINE;
  for (int f = 0; f < 4; f++) {
    l->off[f] = i;
    while (i < lim && is_field_char(b[i]))
      i++;
    if (i == lim)
      return more(len);
    l->len[f] = i - l->off[f];
    if (l->len[f] == 0 || b[i++] != (f < 3 ? ' ' : '\r'))
      return PROXY_ELINE;
  }
  if (i == lim)
    return more(len);
  if (b[i] != '\n')
    return PROXY_ELINE;
  l->end = i + 1;
  return 1;
}

/* ---- version 1: fields ------------------------------------------------- */

static int parse_port(const uint8_t *s, size_t n, uint8_t be[2]) {
  unsigned v = 0;
  if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (!is_digit(s[i]))
      return -1;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v > 65535)
    return -1;
  be[0] = (uint8_t)(v >> 8);
  be[1] = (uint8_t)v;
  return 0;
}

int proxy_parse_v1(const uint8_t *buf, size_t len, struct proxy_result *r) {
  static const char magic[6] = "PROXY ";
  struct v1_line l;
  uint8_t src[16], dst[16], sport[2], dport[2];
  size_t n = len < 6 ? len : 6;
  if (memcmp(buf, magic, n) != 0)
    return PROXY_ESIG;
  if (len < 6)
    return 0;
  int rc = v1_walk(buf, len, &l);
  if (rc <= 0)
    return rc;
  r->version = 1;
  if (l.proto == V1_UNKNOWN) {
    r->command = PROXY_CMD_LOCAL; /* use the connection's own addresses */
    return (int)l.end;
  }
  const char *t = (const char *)buf;
  int fam = l.proto == V1_TCP4 ? PROXY_AF_INET : PROXY_AF_INET6;
  int (*ip)(const char *, size_t, uint8_t *) =
      fam == PROXY_AF_INET ? proxy_ip4_parse : proxy_ip6_parse;
  if (ip(t + l.off[0], l.len[0], src) != 0 ||
      ip(t + l.off[1], l.len[1], dst) != 0)
    return PROXY_EADDR;
  if (parse_port(buf + l.off[2], l.len[2], sport) != 0 ||
      parse_port(buf + l.off[3], l.len[3], dport) != 0)
    return PROXY_EPORT;
  r->command = PROXY_CMD_PROXY;
  r->family = fam;
  r->transport = PROXY_TRANSPORT_STREAM;
  r->src_len = proxy_set_inet(&r->src, fam, src, sport);
  r->dst_len = proxy_set_inet(&r->dst, fam, dst, dport);
  return (int)l.end;
}
