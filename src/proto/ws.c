/*
 * ws.c -- WebSocket framing (RFC 6455 section 5), UTF-8 validation,
 * close frames and the accept key.
 *
 * The header parser checks a frame as far as its bytes go and returns 0
 * only when a byte it needs is missing, so a header that arrives in
 * pieces meets the same verdict as one that arrives whole.  Masking is
 * one XOR with an 8-byte pattern (the key rotated to the payload offset)
 * per 8 bytes, through memcpy so that any alignment works; the UTF-8
 * validator is an 8-state machine with an 8-bytes-at-a-time ASCII path.
 */
#include "ws.h"

#include <string.h>

/* ---- errors ------------------------------------------------------------ */

static const struct {
  unsigned short code;
  const char *text;
} errs[] = {
    {1002, "reserved bit set"},
    {1002, "reserved opcode"},
    {1002, "bad control frame"},
    {1002, "unexpected continuation or data frame"},
    {1002, "bad masking"},
    {1002, "bad payload length"},
    {1009, "frame too big"},
    {1002, "bad close frame"},
    {1007, "invalid UTF-8"},
    {1002, "bad Sec-WebSocket-Key"},
};

int ws_close_code(int err) {
  if (err < WS_ELAST || err > WS_ERSV)
    return 1011;
  return errs[-err - 1].code;
}

const char *ws_strerror(int err) {
  if (err < WS_ELAST || err > WS_ERSV)
    return "not a WebSocket error";
  return errs[-err - 1].text;
}

/* ---- frame headers ----------------------------------------------------- */

/* Checks of the first two bytes. */
static int first_bytes(unsigned b0, unsigned b1, unsigned flags) {
  unsigned op = b0 & 0x0F, rsv = (b0 >> 4) & 7, control = op & 8;
  if ((op > WS_BINARY && op < WS_CLOSE) || op > WS_PONG)
    return WS_EOPCODE;
  if ((rsv & ~(flags >> 4) & 7) || (rsv && control) ||
      ((rsv & 4) && op == WS_CONT))
    return WS_ERSV;
  if (control) {
    if (!(b0 & 0x80) || (b1 & 0x7F) > WS_MAX_CONTROL)
      return WS_ECONTROL;
  } else if ((flags & WS_IN_MESSAGE) ? op != WS_CONT : op == WS_CONT) {
    return WS_ESEQUENCE;
  }
  if (!(b1 & 0x80) != !(flags & WS_SERVER))
    return WS_EMASK;
  return 0;
}

int ws_parse_header(const uint8_t *b, size_t len, unsigned flags,
                    uint64_t max_payload, struct ws_frame *f) {
  uint64_t n;
  size_t hs = 2;
  int rc;
  if (len < 2)
    return 0;
  if ((rc = first_bytes(b[0], b[1], flags)) < 0)
    return rc;
  n = b[1] & 0x7F;
  if (n == 126) {
    if (len < 4)
      return 0;
    n = (uint64_t)b[2] << 8 | b[3];
    if (n < 126)
      return WS_ELENGTH;
    hs = 4;
  } else if (n == 127) {
    if (len < 10)
      return 0;
    n = 0;
    for (int i = 2; i < 10; i++)
      n = n << 8 | b[i];
    if ((n >> 63) || n <= 0xFFFF)
      return WS_ELENGTH;
    hs = 10;
  }
  if (n > max_payload)
    return WS_ETOO_BIG;
  memset(f->key, 0, 4);
  f->masked = b[1] >> 7;
  if (f->masked) {
    if (len < hs + 4)
      return 0;
    memcpy(f->key, b + hs, 4);
    hs += 4;
  }
  f->len = n;
  f->fin = b[0] >> 7;
  f->rsv = (b[0] >> 4) & 7;
  f->opcode = b[0] & 0x0F;
  return (int)hs;
}

size_t ws_encode_header(uint8_t out[WS_MAX_HEADER], int fin, unsigned rsv,
                        unsigned opcode, uint64_t len, const uint8_t *key) {
  uint8_t mbit = key ? 0x80 : 0;
  size_t n;
  out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv & 7) << 4 | (opcode & 0x0F));
  if (len < 126) {
    out[1] = (uint8_t)(mbit | len);
    n = 2;
  } else if (len <= 0xFFFF) {
    out[1] = mbit | 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    n = 4;
  } else {
    out[1] = mbit | 127;
    for (int i = 0; i < 8; i++)
      out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    n = 10;
  }
  if (key) {
    memcpy(out + n, key, 4);
    n += 4;
  }
  return n;
}

/* ---- masking ----------------------------------------------------------- */

void ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t n,
                  const uint8_t key[4], uint64_t offset) {
  uint8_t k[8];
  uint64_t m;
  size_t i = 0;
  for (int j = 0; j < 8; j++)
    k[j] = key[(offset + (uint64_t)j) & 3];
  memcpy(&m, k, 8);
  for (; n - i >= 8; i += 8) {
    uint64_t x;
    memcpy(&x, src + i, 8);
    x ^= m;
    memcpy(dst + i, &x, 8);
  }
  for (; i < n; i++)
    dst[i] = src[i] ^ k[i & 3];
}

void ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t offset) {
  ws_mask_copy(p, p, n, key, offset);
}

/* ---- UTF-8 ------------------------------------------------------------- */

/* States 1..7 wait for a continuation byte in [lo, hi] and then go to nx:
 * 1-3 need 1-3 more of 80..BF; 4 follows E0 (A0..BF, no overlong), 5
 * follows ED (80..9F, no surrogate), 6 follows F0 (90..BF, no overlong),
 * 7 follows F4 (80..8F, nothing above U+10FFFF). */
static const uint8_t lo[8] = {0, 0x80, 0x80, 0x80, 0xA0, 0x80, 0x90, 0x80};
static const uint8_t hi[8] = {0, 0xBF, 0xBF, 0xBF, 0xBF, 0x9F, 0xBF, 0x8F};
static const uint8_t nx[8] = {0, 0, 1, 2, 1, 1, 2, 2};

static uint32_t lead(uint8_t c) {
  if (c < 0x80)
    return 0;
  if (c < 0xC2) /* a continuation byte, or C0/C1 (overlong) */
    return WS_UTF8_BAD;
  if (c < 0xE0)
    return 1;
  if (c == 0xE0)
    return 4;
  if (c == 0xED)
    return 5;
  if (c < 0xF0)
    return 2;
  if (c == 0xF0)
    return 6;
  if (c < 0xF4)
    return 3;
  return c == 0xF4 ? 7 : WS_UTF8_BAD;
}

uint32_t ws_utf8(uint32_t st, const uint8_t *p, size_t n) {
  size_t i = 0;
  if (st >= WS_UTF8_BAD)
    return WS_UTF8_BAD;
  while (i < n) {
    if (st == 0) {
      while (n - i >= 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        if (x & UINT64_C(0x8080808080808080))
          break;
        i += 8;
      }
      if (i == n)
        break;
      if ((st = lead(p[i++])) == WS_UTF8_BAD)
        return st;
    } else {
      uint8_t c = p[i++];
      if (c < lo[st] || c > hi[st])
        return WS_UTF8_BAD;
      st = nx[st];
    }
  }
  return st;
}

/* ---- close frames ------------------------------------------------------ */

int ws_close_code_valid(unsigned code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

int ws_parse_close(const uint8_t *p, size_t n, unsigned *code) {
  unsigned c;
  if (n == 0) {
    *code = 1005;
    return 0;
  }
  if (n == 1)
    return WS_ECLOSE;
  c = (unsigned)p[0] << 8 | p[1];
  if (!ws_close_code_valid(c))
    return WS_ECLOSE;
  if (ws_utf8(WS_UTF8_OK, p + 2, n - 2) != WS_UTF8_OK)
    return WS_EUTF8;
  *code = c;
  return 0;
}

/* ---- the handshake ----------------------------------------------------- */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int is_b64(char c) { return c != 0 && memchr(b64, c, 64) != NULL; }

int ws_accept(const char *key, size_t key_len, ws_sha1_fn sha1,
              char out[WS_ACCEPT_LEN + 1]) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  uint8_t in[WS_KEY_LEN + sizeof guid - 1], d[21];
  if (key_len != WS_KEY_LEN || key[22] != '=' || key[23] != '=')
    return WS_EKEY;
  for (int i = 0; i < 22; i++)
    if (!is_b64(key[i]))
      return WS_EKEY;
  memcpy(in, key, WS_KEY_LEN);
  memcpy(in + WS_KEY_LEN, guid, sizeof guid - 1);
  if (sha1(in, sizeof in, d) != 0)
    return -1;
  d[20] = 0; /* the last group has 2 bytes: pad the third */
  for (int i = 0, o = 0; i < 21; i += 3, o += 4) {
    uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
    out[o] = b64[v >> 18];
    out[o + 1] = b64[(v >> 12) & 63];
    out[o + 2] = b64[(v >> 6) & 63];
    out[o + 3] = b64[v & 63];
  }
  out[WS_ACCEPT_LEN - 1] = '=';
  out[WS_ACCEPT_LEN] = 0;
  return 0;
}
