/*
 * fuzz_ws.c -- WebSocket frames.  Input: a flags byte (WS_SERVER,
 * WS_IN_MESSAGE and the RSV permissions), a byte choosing the payload
 * limit, then a stream of frames.  For each frame:
 *   - every prefix of the header gives 0 or the same error;
 *   - a parsed header re-encodes to the very same bytes (lengths are
 *     minimal, so the encoding is canonical);
 *   - unmasking in pieces at their payload offsets equals unmasking at
 *     once and a byte-by-byte reference; masking twice is the identity;
 *   - text: ws_utf8 in pieces equals ws_utf8 at once and agrees with a
 *     reference validator written another way (code point ranges);
 *   - close: ws_parse_close agrees with ws_close_code_valid and UTF-8.
 * The whole input is also run through the UTF-8 checks as raw text.
 */
#include "fuzz_check.h"
#include "ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reference: 0 valid and complete, 1 a valid prefix, 2 invalid.  Each
 * sequence's possible code points form a range [lo, hi] (the missing
 * continuation bytes free); it is fine when the range meets the
 * sequence length's range outside the surrogates. */
static int ref_utf8(const uint8_t *p, size_t n) {
  static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
  static const uint32_t max[5] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    int len = c < 0x80 ? 1 : c >= 0xC0 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0
              ? 3 : c >= 0xF0 && c < 0xF8 ? 4 : 0;
    if (!len)
      return 2;
    uint32_t lo = c & (len == 1 ? 0x7F : 0x7F >> len), hi;
    int k = 1;
    for (; k < len && i + (size_t)k < n; k++) {
      if ((p[i + k] & 0xC0) != 0x80)
        return 2;
      lo = lo << 6 | (p[i + k] & 0x3F);
    }
    hi = lo;
    for (int j = k; j < len; j++) {
      lo = lo << 6;
      hi = hi << 6 | 0x3F;
    }
    /* [lo, hi] must meet [min, max] minus [D800, DFFF] */
    uint32_t a = lo > min[len] ? lo : min[len];
    uint32_t b = hi < max[len] ? hi : max[len];
    if (a > b || (a >= 0xD800 && b <= 0xDFFF))
      return 2;
    if (k < len)
      return 1;
    i += (size_t)len;
  }
  return 0;
}

static int state_class(uint32_t st) {
  return st == WS_UTF8_OK ? 0 : st == WS_UTF8_BAD ? 2 : 1;
}

static uint32_t utf8_pieces(const uint8_t *p, size_t n, uint64_t *seed) {
  uint32_t st = WS_UTF8_OK;
  size_t i = 0;
  while (i < n) {
    size_t k = (size_t)(fuzz_next(seed) % 11) + 1;
    if (k > n - i)
      k = n - i;
    st = ws_utf8(st, p + i, k);
    i += k;
  }
  return st;
}

static void check_utf8(const uint8_t *p, size_t n, uint64_t *seed) {
  uint32_t st = ws_utf8(WS_UTF8_OK, p, n);
  CHECK(st == utf8_pieces(p, n, seed));
  CHECK(state_class(st) == ref_utf8(p, n));
}

static void check_header(const uint8_t *b, size_t n, unsigned flags,
                         uint64_t max, int r, const struct ws_frame *f) {
  struct ws_frame g;
  size_t upto = r > 0 ? (size_t)r : n;
  for (size_t i = 0; i < upto; i++) {
    int q = ws_parse_header(b, i, flags, max, &g);
    CHECK(q == 0 || (r < 0 && q == r));
  }
  if (r < 0) {
    int c = ws_close_code(r);
    CHECK(c == 1002 || c == 1007 || c == 1009);
    return;
  }
  if (r == 0)
    return;
  uint8_t h[WS_MAX_HEADER];
  CHECK(r >= 2 && r <= WS_MAX_HEADER && (size_t)r <= n);
  CHECK(f->len <= max && f->opcode <= WS_PONG);
  CHECK(!(f->opcode & 8) || (f->fin && f->len <= WS_MAX_CONTROL));
  CHECK(f->masked == !!(flags & WS_SERVER));
  size_t e = ws_encode_header(h, f->fin, f->rsv, f->opcode, f->len,
                              f->masked ? f->key : NULL);
  CHECK(e == (size_t)r && !memcmp(h, b, e));
}

static void check_payload(uint8_t *p, size_t n, const struct ws_frame *f,
                          uint64_t *seed) {
  uint8_t *whole = fuzz_dup(p, n), *ref = fuzz_dup(p, n);
  for (size_t i = 0; i < n; i++)
    ref[i] ^= f->key[i & 3];
  ws_mask(whole, n, f->key, 0);
  CHECK(!memcmp(whole, ref, n));
  size_t i = 0;
  while (i < n) {
    size_t k = (size_t)(fuzz_next(seed) % 23) + 1;
    if (k > n - i)
      k = n - i;
    ws_mask(p + i, k, f->key, i);
    i += k;
  }
  CHECK(!memcmp(p, ref, n));
  ws_mask_copy(ref, p, n, f->key, 0); /* masks back: the original */
  ws_mask(whole, n, f->key, 0);
  CHECK(!memcmp(ref, whole, n));
  free(whole);
  free(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t seed = fuzz_hash(data, size) | 1;
  if (size < 2)
    return 0;
  unsigned flags = data[0] & (WS_SERVER | WS_IN_MESSAGE | WS_RSV1_OK |
                              WS_RSV2_OK | WS_RSV3_OK);
  uint64_t max = data[1] == 0xFF ? UINT64_MAX : UINT64_C(1) << (data[1] & 63);
  const uint8_t *b = data + 2;
  size_t n = size - 2, p = 0;
  int text = 0;

  check_utf8(b, n, &seed);
  for (int frames = 0; frames < 64 && p < n; frames++) {
    struct ws_frame f;
    int r = ws_parse_header(b + p, n - p, flags, max, &f);
    check_header(b + p, n - p, flags, max, r, &f);
    if (r <= 0)
      break;
    p += (size_t)r;
    size_t avail = n - p < f.len ? n - p : (size_t)f.len;
    uint8_t *pl = fuzz_dup(b + p, avail);
    check_payload(pl, avail, &f, &seed);
    if (f.opcode == WS_TEXT)
      text = 1;
    if (f.opcode == WS_TEXT || (f.opcode == WS_CONT && text))
      check_utf8(pl, avail, &seed);
    if (f.opcode == WS_CLOSE && avail == f.len) {
      unsigned code = 0;
      int c = ws_parse_close(pl, avail, &code);
      if (avail == 0)
        CHECK(c == 0 && code == 1005);
      else if (avail == 1 || !ws_close_code_valid((unsigned)pl[0] << 8 | pl[1]))
        CHECK(c == WS_ECLOSE);
      else
        CHECK(c == (ref_utf8(pl + 2, avail - 2) == 0 ? 0 : WS_EUTF8));
    }
    free(pl);
    if (!(f.opcode & 8)) {
      flags = f.fin ? flags & ~(unsigned)WS_IN_MESSAGE : flags | WS_IN_MESSAGE;
      if (f.fin)
        text = 0;
    }
    if (avail < f.len)
      break;
    p += avail;
  }
  return 0;
}
