/*
 * test_ws.c -- WebSocket frames: each length form, masks, control-frame
 * and sequence rules, every error code, UTF-8 edge cases, close codes and
 * Sec-WebSocket-Accept.
 */
#include "t.h"
#include "ws.h"

#include <stdint.h>
#include <stdlib.h>

static struct ws_frame f;

#define B(...) ((const uint8_t[]){__VA_ARGS__})
#define PARSE(flags, max, ...)                                              \
  ws_parse_header(B(__VA_ARGS__), sizeof((const uint8_t[]){__VA_ARGS__}),   \
                  (flags), (max), &f)

/* Every proper prefix of b[0, n) must give 0 or the same error. */
static void prefixes(const uint8_t *b, size_t n, unsigned flags, int want) {
  struct ws_frame g;
  for (size_t i = 0; i < n; i++) {
    int r = ws_parse_header(b, i, flags, UINT64_MAX, &g);
    T_ASSERT(r == 0 || (want < 0 && r == want));
  }
  T_ASSERT_EQ(ws_parse_header(b, n, flags, UINT64_MAX, &g), want);
}

static void parses_each_length_form(void) {
  T_ASSERT_EQ(PARSE(0, 1000, 0x81, 0x05), 2);
  T_ASSERT_EQ(f.fin, 1);
  T_ASSERT_EQ(f.opcode, WS_TEXT);
  T_ASSERT_EQ(f.len, 5);
  T_ASSERT_EQ(f.masked, 0);
  T_ASSERT_EQ(PARSE(0, 1000, 0x82, 0x7D), 2);
  T_ASSERT_EQ(f.len, 125);
  T_ASSERT_EQ(PARSE(0, 100000, 0x02, 0x7E, 0x00, 0x7E), 4);
  T_ASSERT_EQ(f.fin, 0);
  T_ASSERT_EQ(f.len, 126);
  T_ASSERT_EQ(PARSE(0, 100000, 0x82, 0x7E, 0xFF, 0xFF), 4);
  T_ASSERT_EQ(f.len, 65535);
  T_ASSERT_EQ(PARSE(0, UINT64_MAX, 0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0), 10);
  T_ASSERT_EQ(f.len, 65536);
  T_ASSERT_EQ(PARSE(0, UINT64_MAX, 0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF,
                    0xFF, 0xFF, 0xFF),
              10);
  T_ASSERT(f.len == INT64_MAX);
}

static void reads_the_mask_key(void) {
  T_ASSERT_EQ(PARSE(WS_SERVER, 1000, 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d), 6);
  T_ASSERT_EQ(f.masked, 1);
  T_ASSERT(!memcmp(f.key, "\x37\xfa\x21\x3d", 4));
  T_ASSERT_EQ(PARSE(WS_SERVER, 1000, 0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4), 8);
  T_ASSERT_EQ(f.len, 256);
  T_ASSERT(!memcmp(f.key, "\x01\x02\x03\x04", 4));
  T_ASSERT_EQ(PARSE(WS_SERVER, UINT64_MAX, 0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0,
                    9, 8, 7, 6),
              14);
  T_ASSERT(!memcmp(f.key, "\x09\x08\x07\x06", 4));
}

static void needs_every_header_byte(void) {
  prefixes(B(0x81, 0x85, 1, 2, 3, 4), 6, WS_SERVER, 6);
  prefixes(B(0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4), 8, WS_SERVER, 8);
  prefixes(B(0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0), 10, 0, 10);
  /* a bad length is refused before the mask key arrives */
  prefixes(B(0x82, 0xFE, 0x00, 0x05), 4, WS_SERVER, WS_ELENGTH);
}

static void every_opcode(void) {
  T_ASSERT_EQ(PARSE(0, 10, 0x81, 0), 2);
  T_ASSERT_EQ(PARSE(0, 10, 0x82, 0), 2);
  T_ASSERT_EQ(PARSE(0, 10, 0x88, 2, 0x03, 0xE8), 2);
  T_ASSERT_EQ(f.opcode, WS_CLOSE);
  T_ASSERT_EQ(PARSE(0, 10, 0x89, 0), 2);
  T_ASSERT_EQ(PARSE(0, 10, 0x8A, 0), 2);
  T_ASSERT_EQ(PARSE(WS_IN_MESSAGE, 10, 0x80, 0), 2);
  T_ASSERT_EQ(f.opcode, WS_CONT);
  static const uint8_t reserved[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
  for (size_t i = 0; i < sizeof reserved; i++) {
    uint8_t b[2] = {(uint8_t)(0x80 | reserved[i]), 0};
    T_ASSERT_EQ(ws_parse_header(b, 2, 0, 10, &f), WS_EOPCODE);
  }
}

static void rsv_bits_need_an_extension(void) {
  T_ASSERT_EQ(PARSE(0, 10, 0xC1, 0), WS_ERSV);
  T_ASSERT_EQ(PARSE(0, 10, 0xA1, 0), WS_ERSV);
  T_ASSERT_EQ(PARSE(0, 10, 0x91, 0), WS_ERSV);
  T_ASSERT_EQ(PARSE(WS_RSV1_OK, 10, 0xC1, 0), 2);
  T_ASSERT_EQ(f.rsv, 4);
  T_ASSERT_EQ(PARSE(WS_RSV1_OK, 10, 0xA1, 0), WS_ERSV);
  T_ASSERT_EQ(PARSE(WS_RSV2_OK | WS_RSV3_OK, 10, 0xB1, 0), 2);
  T_ASSERT_EQ(f.rsv, 3);
  /* never on control frames, RSV1 never on continuations */
  T_ASSERT_EQ(PARSE(WS_RSV1_OK, 10, 0xC9, 0), WS_ERSV);
  T_ASSERT_EQ(PARSE(WS_RSV1_OK | WS_IN_MESSAGE, 10, 0xC0, 0), WS_ERSV);
}

static void control_frame_rules(void) {
  T_ASSERT_EQ(PARSE(0, 1000, 0x09, 0), WS_ECONTROL);
  T_ASSERT_EQ(PARSE(0, 1000, 0x89, 126, 0, 126), WS_ECONTROL);
  T_ASSERT_EQ(PARSE(0, 1000, 0x88, 125), 2);
  /* a control frame inside a fragmented message is fine */
  T_ASSERT_EQ(PARSE(WS_IN_MESSAGE, 1000, 0x89, 0), 2);
}

static void fragmentation_rules(void) {
  T_ASSERT_EQ(PARSE(0, 10, 0x80, 0), WS_ESEQUENCE);
  T_ASSERT_EQ(PARSE(0, 10, 0x00, 0), WS_ESEQUENCE);
  T_ASSERT_EQ(PARSE(WS_IN_MESSAGE, 10, 0x81, 0), WS_ESEQUENCE);
  T_ASSERT_EQ(PARSE(WS_IN_MESSAGE, 10, 0x02, 0), WS_ESEQUENCE);
  T_ASSERT_EQ(PARSE(WS_IN_MESSAGE, 10, 0x00, 0), 2);
}

static void masking_depends_on_the_side(void) {
  T_ASSERT_EQ(PARSE(WS_SERVER, 10, 0x81, 0x00), WS_EMASK);
  T_ASSERT_EQ(PARSE(0, 10, 0x81, 0x80, 1, 2, 3, 4), WS_EMASK);
}

static void lengths_must_be_minimal(void) {
  T_ASSERT_EQ(PARSE(0, 100000, 0x82, 0x7E, 0x00, 0x7D), WS_ELENGTH);
  T_ASSERT_EQ(PARSE(0, 100000, 0x82, 0x7E, 0x00, 0x00), WS_ELENGTH);
  T_ASSERT_EQ(PARSE(0, UINT64_MAX, 0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF),
              WS_ELENGTH);
  T_ASSERT_EQ(PARSE(0, UINT64_MAX, 0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 5),
              WS_ELENGTH);
  T_ASSERT_EQ(PARSE(0, UINT64_MAX, 0x82, 0x7F, 0x80, 0, 0, 0, 0, 1, 0, 0),
              WS_ELENGTH);
}

static void enforces_the_payload_limit(void) {
  T_ASSERT_EQ(PARSE(0, 5, 0x82, 0x05), 2);
  T_ASSERT_EQ(PARSE(0, 5, 0x82, 0x06), WS_ETOO_BIG);
  T_ASSERT_EQ(PARSE(0, 65535, 0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0),
              WS_ETOO_BIG);
  T_ASSERT_EQ(ws_close_code(WS_ETOO_BIG), 1009);
}

static void every_error_has_a_close_code(void) {
  for (int e = WS_ERSV; e >= WS_ELAST; e--) {
    int c = ws_close_code(e);
    T_ASSERT(c == 1002 || c == 1007 || c == 1009);
    T_ASSERT(strlen(ws_strerror(e)) > 5);
  }
  T_ASSERT_EQ(ws_close_code(WS_EUTF8), 1007);
  T_ASSERT_EQ(ws_close_code(WS_ELENGTH), 1002);
  T_ASSERT_EQ(ws_close_code(0), 1011);
  T_ASSERT_STREQ(ws_strerror(-99), "not a WebSocket error");
}

static void encodes_headers(void) {
  static const uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536,
                                  UINT64_C(1) << 40, INT64_MAX};
  static const size_t sizes[] = {2, 2, 2, 4, 4, 4, 10, 10, 10};
  const uint8_t key[4] = {0xde, 0xad, 0xbe, 0xef};
  uint8_t h[WS_MAX_HEADER];
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    T_ASSERT_EQ(ws_encode_header(h, 1, 0, WS_BINARY, lens[i], NULL), sizes[i]);
    T_ASSERT_EQ(ws_parse_header(h, sizes[i], 0, UINT64_MAX, &f), sizes[i]);
    T_ASSERT(f.len == lens[i]);
    T_ASSERT_EQ(f.opcode, WS_BINARY);
    T_ASSERT_EQ(ws_encode_header(h, 0, 4, WS_TEXT, lens[i], key),
                sizes[i] + 4);
    T_ASSERT_EQ(ws_parse_header(h, sizes[i] + 4, WS_SERVER | WS_RSV1_OK,
                                UINT64_MAX, &f),
                sizes[i] + 4);
    T_ASSERT(f.len == lens[i]);
    T_ASSERT_EQ(f.fin, 0);
    T_ASSERT_EQ(f.rsv, 4);
    T_ASSERT(!memcmp(f.key, key, 4));
  }
  T_ASSERT_EQ(ws_encode_header(h, 1, 0, WS_CLOSE, 2, NULL), 2);
  T_ASSERT(!memcmp(h, "\x88\x02", 2));
}

static void masks_as_the_rfc_example(void) {
  /* RFC 6455 section 5.7: "Hello" masked with 37 fa 21 3d */
  uint8_t p[] = {0x7f, 0x9f, 0x4d, 0x51, 0x58};
  const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  ws_mask(p, 5, key, 0);
  T_ASSERT(!memcmp(p, "Hello", 5));
  uint8_t out[5];
  ws_mask_copy(out, (const uint8_t *)"Hello", 5, key, 0);
  T_ASSERT(!memcmp(out, "\x7f\x9f\x4d\x51\x58", 5));
}

static void masks_in_pieces_at_any_alignment(void) {
  enum { N = 1000 };
  uint8_t *src = malloc(N + 16), *a = malloc(N + 16), *b = malloc(N + 16);
  const uint8_t key[4] = {0x11, 0x22, 0x84, 0xf0};
  for (int i = 0; i < N + 16; i++)
    src[i] = (uint8_t)(i * 7 + 3);
  for (int align = 0; align < 8; align++) {
    /* reference: byte by byte */
    for (int i = 0; i < N; i++)
      a[align + i] = src[i] ^ key[i & 3];
    memcpy(b + align, src, N);
    /* pieces of 1, 2, 3, ... bytes */
    size_t off = 0, piece = 1;
    while (off < N) {
      size_t n = off + piece > N ? N - off : piece;
      ws_mask(b + align + off, n, key, off);
      off += n;
      piece = piece % 13 + 1;
    }
    T_ASSERT(!memcmp(a + align, b + align, N));
    ws_mask(b + align, N, key, 0);
    T_ASSERT(!memcmp(b + align, src, N));
  }
  free(src);
  free(a);
  free(b);
}

static uint32_t utf8(const char *s, size_t n) {
  return ws_utf8(WS_UTF8_OK, (const uint8_t *)s, n);
}

#define VALID(s) T_ASSERT_EQ(utf8(s, sizeof s - 1), WS_UTF8_OK)
#define INVALID(s) T_ASSERT_EQ(utf8(s, sizeof s - 1), WS_UTF8_BAD)

static void utf8_accepts_every_form(void) {
  VALID("");
  VALID("plain ascii text, longer than eight bytes");
  VALID("\x7f");
  VALID("\xc2\x80");         /* U+0080 */
  VALID("\xdf\xbf");         /* U+07FF */
  VALID("\xe0\xa0\x80");     /* U+0800 */
  VALID("\xed\x9f\xbf");     /* U+D7FF */
  VALID("\xee\x80\x80");     /* U+E000 */
  VALID("\xef\xbf\xbf");     /* U+FFFF */
  VALID("\xf0\x90\x80\x80"); /* U+10000 */
  VALID("\xf4\x8f\xbf\xbf"); /* U+10FFFF */
  VALID("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"); /* kosme */
}

static void utf8_rejects(void) {
  INVALID("\x80");             /* lone continuation */
  INVALID("\xbf");
  INVALID("\xc0\x80");         /* overlong NUL */
  INVALID("\xc1\xbf");         /* overlong */
  INVALID("\xe0\x80\x80");     /* overlong */
  INVALID("\xe0\x9f\xbf");     /* overlong */
  INVALID("\xf0\x80\x80\x80"); /* overlong */
  INVALID("\xf0\x8f\xbf\xbf"); /* overlong */
  INVALID("\xed\xa0\x80");     /* U+D800 */
  INVALID("\xed\xbf\xbf");     /* U+DFFF */
  INVALID("\xf4\x90\x80\x80"); /* U+110000 */
  INVALID("\xf5\x80\x80\x80");
  INVALID("\xff");
  INVALID("\xc2\x41");         /* continuation missing */
  INVALID("abcdefgh\xe0\xa0\xc0");
  /* refused at the first impossible byte, before the sequence ends */
  T_ASSERT_EQ(utf8("\xf4\x90", 2), WS_UTF8_BAD);
  T_ASSERT_EQ(utf8("\xed\xa0", 2), WS_UTF8_BAD);
  /* truncated: not bad yet, but not complete either */
  T_ASSERT(utf8("\xe2\x82", 2) != WS_UTF8_OK);
  T_ASSERT(utf8("\xe2\x82", 2) != WS_UTF8_BAD);
  /* bad is final */
  T_ASSERT_EQ(ws_utf8(WS_UTF8_BAD, (const uint8_t *)"a", 1), WS_UTF8_BAD);
}

static void utf8_in_pieces(void) {
  const char s[] = "a\xc2\x80\xe0\xa0\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf z";
  size_t n = sizeof s - 1;
  for (size_t i = 0; i <= n; i++) {
    for (size_t j = i; j <= n; j++) {
      uint32_t st = ws_utf8(WS_UTF8_OK, (const uint8_t *)s, i);
      st = ws_utf8(st, (const uint8_t *)s + i, j - i);
      st = ws_utf8(st, (const uint8_t *)s + j, n - j);
      T_ASSERT_EQ(st, WS_UTF8_OK);
    }
  }
  const char bad[] = "ab\xed\xa0\x80";
  for (size_t i = 0; i <= 5; i++) {
    uint32_t st = ws_utf8(WS_UTF8_OK, (const uint8_t *)bad, i);
    T_ASSERT_EQ(ws_utf8(st, (const uint8_t *)bad + i, 5 - i), WS_UTF8_BAD);
  }
}

static void parses_close_payloads(void) {
  unsigned code = 0;
  T_ASSERT_EQ(ws_parse_close(NULL, 0, &code), 0);
  T_ASSERT_EQ(code, 1005);
  T_ASSERT_EQ(ws_parse_close(B(0x03), 1, &code), WS_ECLOSE);
  T_ASSERT_EQ(ws_parse_close(B(0x03, 0xE8), 2, &code), 0);
  T_ASSERT_EQ(code, 1000);
  T_ASSERT_EQ(ws_parse_close(B(0x0F, 0xA0, 'b', 'y', 'e'), 5, &code), 0);
  T_ASSERT_EQ(code, 4000);
  T_ASSERT_EQ(ws_parse_close(B(0x03, 0xE8, 0xce, 0xba), 4, &code), 0);
  T_ASSERT_EQ(ws_parse_close(B(0x03, 0xE8, 0xed, 0xa0, 0x80), 5, &code),
              WS_EUTF8);
  T_ASSERT_EQ(ws_parse_close(B(0x03, 0xE8, 0xce), 3, &code), WS_EUTF8);
}

static void close_codes(void) {
  static const unsigned good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                  1010, 1011, 1012, 1013, 1014, 3000, 3999,
                                  4000, 4999};
  static const unsigned bad[] = {0,    999,  1004, 1005, 1006, 1015,
                                 1016, 1100, 2000, 2999, 5000, 65535};
  unsigned code;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    uint8_t b[2] = {(uint8_t)(good[i] >> 8), (uint8_t)good[i]};
    T_ASSERT_EQ(ws_parse_close(b, 2, &code), 0);
    T_ASSERT_EQ(code, good[i]);
  }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint8_t b[2] = {(uint8_t)(bad[i] >> 8), (uint8_t)bad[i]};
    T_ASSERT_EQ(ws_parse_close(b, 2, &code), WS_ECLOSE);
    T_ASSERT(!ws_close_code_valid(bad[i]));
  }
}

/* A stand-in for SHA-1 that returns the digest RFC 6455 section 1.3 gives
 * for its example key: checks the base64 half without a crypto library. */
static int rfc_digest(const void *data, size_t len, uint8_t out[20]) {
  static const uint8_t d[20] = {0xb3, 0x7a, 0x4f, 0x2c, 0xc0, 0x62, 0x4f,
                                0x16, 0x90, 0xf6, 0x46, 0x06, 0xcf, 0x38,
                                0x59, 0x45, 0xb2, 0xbe, 0xc4, 0xea};
  if (len != 60 || memcmp(data, "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-"
                                "95CA-C5AB0DC85B11", 60))
    return -1;
  memcpy(out, d, 20);
  return 0;
}

static int failing_sha1(const void *data, size_t len, uint8_t out[20]) {
  (void)data, (void)len, (void)out;
  return -1;
}

static void computes_the_accept_value(void) {
  char out[WS_ACCEPT_LEN + 1];
  const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
  T_ASSERT_EQ(ws_accept(key, 24, rfc_digest, out), 0);
  T_ASSERT_STREQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
#ifdef HOST_HAVE_OPENSSL
  memset(out, 0, sizeof out);
  T_ASSERT_EQ(ws_accept(key, 24, ws_sha1_openssl, out), 0);
  T_ASSERT_STREQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  T_ASSERT_EQ(ws_accept("AAAAAAAAAAAAAAAAAAAAAA==", 24, ws_sha1_openssl, out),
              0);
  T_ASSERT_EQ(strlen(out), WS_ACCEPT_LEN);
#endif
  T_ASSERT_EQ(ws_accept(key, 24, failing_sha1, out), -1);
}

static void rejects_bad_keys(void) {
  char out[WS_ACCEPT_LEN + 1];
  T_ASSERT_EQ(ws_accept("dGhlIHNhbXBsZSBub25jZQ=", 23, rfc_digest, out),
              WS_EKEY);
  T_ASSERT_EQ(ws_accept("dGhlIHNhbXBsZSBub25jZQ==x", 25, rfc_digest, out),
              WS_EKEY);
  T_ASSERT_EQ(ws_accept("dGhlIHNhbXBsZSBub25jZQxx", 24, rfc_digest, out),
              WS_EKEY);
  T_ASSERT_EQ(ws_accept("dGhlIHNhbXBsZSBub25j!Q==", 24, rfc_digest, out),
              WS_EKEY);
  T_ASSERT_EQ(ws_accept("dGhlIHNhbXBsZSBub25j\0Q==", 24, rfc_digest, out),
              WS_EKEY);
}

int main(void) {
  T_RUN(parses_each_length_form);
  T_RUN(reads_the_mask_key);
  T_RUN(needs_every_header_byte);
  T_RUN(every_opcode);
  T_RUN(rsv_bits_need_an_extension);
  T_RUN(control_frame_rules);
  T_RUN(fragmentation_rules);
  T_RUN(masking_depends_on_the_side);
  T_RUN(lengths_must_be_minimal);
  T_RUN(enforces_the_payload_limit);
  T_RUN(every_error_has_a_close_code);
  T_RUN(encodes_headers);
  T_RUN(masks_as_the_rfc_example);
  T_RUN(masks_in_pieces_at_any_alignment);
  T_RUN(utf8_accepts_every_form);
  T_RUN(utf8_rejects);
  T_RUN(utf8_in_pieces);
  T_RUN(parses_close_payloads);
  T_RUN(close_codes);
  T_RUN(computes_the_accept_value);
  T_RUN(rejects_bad_keys);
  return test_report();
}
