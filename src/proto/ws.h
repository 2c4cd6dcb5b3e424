/*
 * ws.h -- WebSocket (RFC 6455) framing: frame headers in and out,
 * masking, UTF-8 validation, close frames and the handshake's
 * Sec-WebSocket-Accept.  Pure functions over the caller's bytes: nothing
 * is allocated, nothing is kept between calls but what the caller holds
 * (a UTF-8 state word, the "inside a fragmented message" bit).
 *
 * Receiving, per frame:
 *
 *   int n = ws_parse_header(buf, len, flags, max_payload, &f);
 *   n == 0: read more; n < 0: send a close with ws_close_code(n), stop;
 *   n > 0: the payload is f.len bytes at buf + n; unmask each piece as it
 *          arrives with ws_mask(piece, size, f.key, offset_in_payload);
 *          for text, run ws_utf8() over the pieces, and check at the
 *          message's last frame that the state is WS_UTF8_OK.
 *
 * The caller tracks fragmentation with one bit: WS_IN_MESSAGE is set from
 * a non-final text/binary frame until the final continuation frame; with
 * it, ws_parse_header refuses a new data frame, without it a continuation.
 * Control frames may come in between and do not change it.
 *
 * Choices: a payload length must use the shortest of the three forms
 * (RFC 6455 section 5.2 says "MUST"), so a non-minimal length is 1002; a
 * 64-bit length must have its top bit clear.  RSV bits are refused unless
 * the flags allow them (an extension such as permessage-deflate was
 * negotiated), and are never allowed on control frames; RSV1 on a
 * continuation frame is refused too (RFC 7692 section 6).
 */
#ifndef HOST_WS_H
#define HOST_WS_H

#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
  WS_CONT = 0x0,
  WS_TEXT = 0x1,
  WS_BINARY = 0x2,
  WS_CLOSE = 0x8,
  WS_PING = 0x9,
  WS_PONG = 0xA
};

#define WS_MAX_HEADER 14   /* 2 + 8 (length) + 4 (mask) */
#define WS_MAX_CONTROL 125 /* payload of a control frame */

/* Flags for ws_parse_header. */
#define WS_SERVER                                                              \
  0x01                     /* we are the server: frames must be masked;        \
                              without it frames must not be */
#define WS_IN_MESSAGE 0x02 /* a fragmented data message is open */
#define WS_RSV1_OK 0x40    /* an extension gave RSV1 a meaning */
#define WS_RSV2_OK 0x20
#define WS_RSV3_OK 0x10

/* Errors; ws_close_code gives the status code to close with. */
enum ws_err {
  WS_ERSV = -1,      /* 1002 an RSV bit no extension allows */
  WS_EOPCODE = -2,   /* 1002 reserved opcode */
  WS_ECONTROL = -3,  /* 1002 control frame fragmented or > 125 bytes */
  WS_ESEQUENCE = -4, /* 1002 continuation without a message, or a new
                        data frame inside one */
  WS_EMASK = -5,     /* 1002 masked frame to a client, unmasked to a
                        server */
  WS_ELENGTH = -6,   /* 1002 non-minimal length, or 64-bit top bit set */
  WS_ETOO_BIG = -7,  /* 1009 payload larger than the caller's limit */
  WS_ECLOSE = -8,    /* 1002 close payload of 1 byte, or a bad code */
  WS_EUTF8 = -9,     /* 1007 text or close reason not UTF-8 */
  WS_EKEY = -10,     /* (handshake) not a valid Sec-WebSocket-Key */
  WS_ELAST = -10
};

/* The close status code for err (1002, 1007, 1009); 1011 otherwise. */
int ws_close_code(int err);
const char *ws_strerror(int err);

struct ws_frame {
  uint64_t len;   /* payload length */
  uint8_t fin;    /* 1: final frame of its message */
  uint8_t rsv;    /* RSV1..RSV3 as bits 0x4, 0x2, 0x1 */
  uint8_t opcode; /* enum ws_opcode */
  uint8_t masked; /* 1: key is the masking key */
  uint8_t key[4]; /* masking key, zero when not masked */
};

/* Parses the frame header at buf[0, len).  Returns its size (2..14) and
 * fills *f; 0 when more bytes are needed (every check possible on the
 * bytes given has passed); or a negative WS_E* code.  max_payload bounds
 * f->len (WS_ETOO_BIG); the bound on a whole fragmented message is the
 * caller's. */
int ws_parse_header(const uint8_t *buf, size_t len, unsigned flags,
                    uint64_t max_payload, struct ws_frame *f);

/* Writes a frame header to out and returns its size.  key NULL: unmasked
 * (a server's frames); else the mask bit and key are written (a client's
 * frames: mask the payload with ws_mask_copy and the same key).  rsv as
 * in struct ws_frame. */
size_t ws_encode_header(uint8_t out[WS_MAX_HEADER], int fin, unsigned rsv,
                        unsigned opcode, uint64_t len, const uint8_t *key);

/* XORs n bytes of payload with the key, in place, from position offset
 * of the frame's payload (so a payload may be unmasked piece by piece).
 * Any alignment.  Masking and unmasking are the same operation. */
void ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t offset);
/* The same from src into dst (which may be src, not a partial overlap). */
void ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t n,
                  const uint8_t key[4], uint64_t offset);

/* Incremental UTF-8 validation: state starts at WS_UTF8_OK; feed each
 * piece; WS_UTF8_BAD is final.  A message is valid when the state after
 * its last piece is WS_UTF8_OK.  Overlong forms, surrogates (U+D800..
 * U+DFFF) and code points above U+10FFFF are invalid; a sequence is
 * refused at its first impossible byte. */
#define WS_UTF8_OK 0u
#define WS_UTF8_BAD 8u
uint32_t ws_utf8(uint32_t state, const uint8_t *p, size_t n);

/* A close frame's payload p[0, n): 0 and *code (1005 "no status" when
 * n == 0; the reason is p + 2, n - 2 bytes, when n >= 2), or WS_ECLOSE,
 * or WS_EUTF8 for a reason that is not UTF-8. */
int ws_parse_close(const uint8_t *p, size_t n, unsigned *code);
/* Nonzero if code may appear in a close frame (RFC 6455 section 7.4 and
 * the IANA registry: 1000-1003, 1007-1014, 3000-4999). */
int ws_close_code_valid(unsigned code);

/* The handshake.  A SHA-1 function is the caller's (hostproto links no
 * crypto library): it writes the 20-byte digest of data and returns 0, or
 * returns -1.  ws_sha1_openssl (ws_sha1_openssl.c, library hostproto_ssl)
 * is one, over OpenSSL's libcrypto. */
typedef int (*ws_sha1_fn)(const void *data, size_t len, uint8_t out[20]);
int ws_sha1_openssl(const void *data, size_t len, uint8_t out[20]);

#define WS_KEY_LEN 24    /* base64 of 16 bytes */
#define WS_ACCEPT_LEN 28 /* base64 of 20 bytes */

/* Writes the Sec-WebSocket-Accept value for the key (the field's value,
 * trimmed) to out as a NUL-terminated string.  Returns 0, WS_EKEY if the
 * key is not 24 base64 characters ending in "==", or -1 if sha1 failed. */
int ws_accept(const char *key, size_t key_len, ws_sha1_fn sha1,
              char out[WS_ACCEPT_LEN + 1]);

#endif
