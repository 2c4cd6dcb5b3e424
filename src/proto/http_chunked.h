/*
 * http_chunked.h -- the chunked transfer coding (RFC 9112 section 7.1),
 * decoded incrementally without copying.
 *
 * The decoder is a small state machine fed whatever bytes have arrived,
 * in pieces of any size (one byte at a time works).  Each call consumes
 * framing (chunk-size lines, extensions, the CRLF after data, the last
 * chunk, trailer fields) and at most one run of body data, which it
 * reports as a span of the caller's buffer: no byte is copied.  The body
 * ends after the last chunk's trailer section and its empty line; bytes
 * after that (a pipelined request) are never consumed.
 *
 * Extensions are checked (no control byte but HTAB; the line is bounded
 * by limits.max_chunk_line) and skipped.  Trailer fields are checked as
 * field lines (a token, ':', a value without control bytes; no obs-fold),
 * bounded by limits.max_trailer bytes and limits.max_trailers lines, and
 * skipped: HTTP lets a recipient discard them, and a span could straddle
 * two calls.  Line ends follow http1.h: CRLF, or a bare LF unless
 * limits.strict_crlf; a CR not followed by LF is an error.  Errors are the
 * HTTP_E* codes of http1.h (all 400) and are sticky.
 */
#ifndef HOST_HTTP_CHUNKED_H
#define HOST_HTTP_CHUNKED_H

#include "http1.h"

/* Decoder state: owned by the caller, set up by http_chunked_init. */
struct http_chunked {
  uint64_t left;     /* data bytes left in this chunk, or the size read */
  uint32_t line;     /* bytes of the chunk-size line so far */
  uint32_t trailer;  /* bytes of the trailer section so far */
  uint32_t trailers; /* trailer lines so far */
  uint32_t max_line; /* limits copied by http_chunked_init */
  uint32_t max_trailer;
  uint32_t max_trailers;
  uint8_t strict; /* bare LF is an error */
  uint8_t state;  /* private */
  int16_t err;    /* the error once one happened, else 0 */
};

void http_chunked_init(struct http_chunked *c, const struct http_limits *lim);

/* Decodes from buf[0, len).  Sets *used to the bytes consumed (<= len)
 * and *data to the body data among them (offset from buf; length 0 when
 * none).  Returns 1 when the body is complete (buf[*used] is the next
 * message), 0 when not yet: call again with buf + *used (the rest, if
 * *used < len, or the next bytes to arrive), or a negative HTTP_E* code.
 * Only the first UINT32_MAX bytes of a larger buffer are looked at. */
int http_chunked_decode(struct http_chunked *c, const char *buf, size_t len,
                        size_t *used, struct http_span *data);

/* The same, decoding in place: the body data found in buf[0, len) is
 * moved to buf[0, *out) (the other consumed bytes are overwritten), and
 * *used says how many bytes were consumed.  Stops only at the end of the
 * body, at the end of buf or at an error; same return values. */
int http_chunked_decode_inplace(struct http_chunked *c, char *buf, size_t len,
                                size_t *used, size_t *out);

/* Nonzero once the last chunk and the trailer section were consumed. */
int http_chunked_done(const struct http_chunked *c);

#endif
