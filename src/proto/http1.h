/*
 * http1.h -- HTTP/1.x message heads (RFC 9112), parsed without copying.
 *
 * The parser reads a request head ("GET / HTTP/1.1" + fields + empty line)
 * or a response head out of the caller's receive buffer and describes it
 * with spans {off, len}: offsets from the start of that buffer, so the
 * buffer may move (be grown or compacted) between calls as long as the
 * bytes of the message keep their offsets.  Nothing is allocated: the
 * caller owns the buffer, the struct http_msg and the header array, and
 * this module keeps no pointer into any of them after a call returns.
 *
 * Incremental use, the connection's loop:
 *
 *   struct http_header fields[100];           // lim.max_headers entries
 *   struct http_msg m;
 *   http_msg_init(&m, fields);
 *   for (;;) {                                // after each receive
 *     int n = http_parse_request(buf, len, &lim, &m);
 *     if (n > 0) break;                       // head is buf[0, n)
 *     if (n < 0) reply(http_status_of(n));    // then close
 *     ...receive more into buf[len...]...
 *   }
 *
 * Each call resumes where the last stopped (the struct carries the scan
 * position and every field line already checked), so a head that drips in
 * one byte at a time costs O(bytes), not O(bytes^2).  The bytes already
 * given must be the same on the next call.  Before the next message (a
 * pipelined request starts at buf + n), call http_msg_init again.
 *
 * What is checked and in which order, so that a head fed in pieces gives
 * exactly the result of the same head fed at once:
 *   - lines are read in order; each complete line is checked when its LF
 *     arrives, and the first bad line decides the error;
 *   - the limits are checked on what has arrived: a line or a head that
 *     can no longer end within its limit is an error at once (414/431);
 *   - a request's method is checked as its bytes arrive, so a client that
 *     talks another protocol (TLS, HTTP/2 preface...) is refused at once;
 *   - checks that need the whole head (Host present, Content-Length
 *     with Transfer-Encoding, ...) run at the empty line.
 *
 * Line ends: CRLF; a bare LF is accepted as well (as nginx does and RFC
 * 9112 section 2.2 allows), in the head and in chunked framing alike,
 * unless limits.strict_crlf is set.  A CR not followed by LF is always an
 * error.  Leading empty lines before a request line are skipped (at most
 * HTTP_MAX_EMPTY_LINES).
 */
#ifndef HOST_HTTP1_H
#define HOST_HTTP1_H

#include <stddef.h>
#include <stdint.h>

/* A piece of the caller's buffer: buf + off, len bytes. */
struct http_span {
  uint32_t off; /* from the start of the buffer given to the parser */
  uint32_t len; /* bytes */
};

/* One field line; the value has no leading or trailing SP/HTAB. */
struct http_header {
  struct http_span name;  /* a token, case as sent */
  struct http_span value; /* may be empty */
};

/* Limits.  Line limits count the whole line with its CRLF. */
struct http_limits {
  uint32_t max_line;    /* request or status line (414): 8192 */
  uint32_t max_header;  /* one field line (431): 8192 */
  uint32_t max_head;    /* the whole head, empty line included (431): 32768 */
  uint32_t max_headers; /* field lines (431); the header array's size: 100 */
  uint32_t max_chunk_line; /* chunk-size line with extensions: 4096 */
  uint32_t max_trailer;    /* trailer section in bytes: 8192 */
  uint32_t max_trailers;   /* trailer field lines: 32 */
  uint32_t strict_crlf;    /* nonzero: a bare LF line end is an error */
};

#define HTTP_LIMITS_DEFAULT                                                    \
  { 8192, 8192, 32768, 100, 4096, 8192, 32, 0 }
extern const struct http_limits http_default_limits;

#define HTTP_MAX_EMPTY_LINES 8 /* CRLFs skipped before a request line */
#define HTTP_MAX_LENGTH (UINT64_C(1) << 62) /* largest Content-Length/chunk */

/* Errors: negative, each maps to one status (http_status_of).  For a
 * response, any error means "invalid response" (a proxy answers 502). */
enum http_err {
  HTTP_EMETHOD = -1,      /* 400 empty method, or not a token */
  HTTP_ELINE = -2,        /* 400 not "method SP target SP version" */
  HTTP_ETARGET = -3,      /* 400 invalid request target */
  HTTP_EVERSION = -4,     /* 400 not "HTTP/d.d" */
  HTTP_ESTATUS = -5,      /* 400 invalid status line (responses) */
  HTTP_EEMPTY = -6,       /* 400 too many empty lines before the request */
  HTTP_ECR = -7,          /* 400 CR not followed by LF */
  HTTP_ELF = -8,          /* 400 bare LF line end when strict_crlf */
  HTTP_EOBSFOLD = -9,     /* 400 field line starts with SP/HTAB */
  HTTP_ENAME = -10,       /* 400 field name not a token, or no ':' */
  HTTP_EVALUE = -11,      /* 400 control character in a field value */
  HTTP_ELENGTH = -12,     /* 400 Content-Length not digits, or > 2^62 */
  HTTP_EDUPLENGTH = -13,  /* 400 two Content-Length fields */
  HTTP_ELENGTH_TE = -14,  /* 400 Content-Length and Transfer-Encoding */
  HTTP_ETE_10 = -15,      /* 400 Transfer-Encoding in an HTTP/1.0 message */
  HTTP_ENOHOST = -16,     /* 400 HTTP/1.1 request without Host */
  HTTP_EDUPHOST = -17,    /* 400 two Host fields */
  HTTP_ELINE_LONG = -18,  /* 414 request (or status) line too long */
  HTTP_EFIELD_LONG = -19, /* 431 a field line too long */
  HTTP_EHEAD_LARGE = -20, /* 431 head larger than max_head */
  HTTP_EFIELDS = -21,     /* 431 more than max_headers fields */
  HTTP_ETE = -22,         /* 501 Transfer-Encoding other than "chunked" */
  HTTP_EVERSION_NS = -23, /* 505 HTTP major version other than 1 */
  /* chunked body (http_chunked.h) */
  HTTP_ECHUNK_SIZE = -24, /* 400 chunk size empty or not hex */
  HTTP_ECHUNK_BIG = -25,  /* 400 chunk size > 2^62 */
  HTTP_ECHUNK_EXT = -26,  /* 400 control character in a chunk extension */
  HTTP_ECHUNK_LINE = -27, /* 400 chunk-size line longer than max_chunk_line */
  HTTP_ECHUNK_CRLF = -28, /* 400 chunk data not followed by CRLF */
  HTTP_ETRAILER = -29,    /* 400 malformed trailer field line */
  HTTP_ETRAILER_LARGE = -30, /* 400 trailer section too large / too many */
  HTTP_ELAST = -30
};

/* The status a server sends for err (400, 414, 431, 501, 505); 500 for a
 * value that is not an http_err. */
int http_status_of(int err);
/* A short English description of err ("bad request line", ...); never
 * NULL, static storage. */
const char *http_strerror(int err);

enum http_method {
  HTTP_OTHER = 0, /* any other valid token: compare the span */
  HTTP_GET,
  HTTP_HEAD,
  HTTP_POST,
  HTTP_PUT,
  HTTP_DELETE,
  HTTP_OPTIONS,
  HTTP_PATCH,
  HTTP_CONNECT,
  HTTP_TRACE
};

/* How the body that follows the head is delimited. */
enum http_body {
  HTTP_BODY_NONE = 0, /* no body bytes follow */
  HTTP_BODY_LENGTH,   /* content_length bytes (> 0) follow */
  HTTP_BODY_CHUNKED,  /* chunked coding: feed http_chunked_decode */
  HTTP_BODY_CLOSE     /* response only: everything until the peer closes */
};

/* Facts found while parsing (http_msg.flags). */
#define HTTP_F_CONTENT_LENGTH 0x001    /* Content-Length present */
#define HTTP_F_CHUNKED 0x002           /* Transfer-Encoding: chunked */
#define HTTP_F_KEEP_ALIVE 0x004        /* another message may follow */
#define HTTP_F_EXPECT_CONTINUE 0x008   /* HTTP/1.1 "Expect: 100-continue" */
#define HTTP_F_UPGRADE 0x010           /* Upgrade field present */
#define HTTP_F_CONN_UPGRADE 0x020      /* "upgrade" among Connection tokens */
#define HTTP_F_CONN_CLOSE 0x040        /* "close" among Connection tokens */
#define HTTP_F_CONN_KEEP_ALIVE 0x080   /* "keep-alive" in Connection */
#define HTTP_F_HOST 0x100              /* Host present (request) */
#define HTTP_F_TRANSFER_ENCODING 0x200 /* Transfer-Encoding present */

/* Index of a field in the header array, or -1 (http_msg.ix[]). */
enum http_ix {
  HTTP_IX_HOST,
  HTTP_IX_CONTENT_LENGTH,
  HTTP_IX_TRANSFER_ENCODING,
  HTTP_IX_CONNECTION,
  HTTP_IX_UPGRADE,
  HTTP_IX_EXPECT,
  HTTP_IX_COUNT
};

/* The parser's progress between calls: private, zeroed by http_msg_init. */
struct http_scan {
  uint32_t pos;            /* bytes searched for the next LF */
  uint32_t line;           /* where the line being read starts */
  uint32_t early;          /* start line: bytes checked before its LF came */
  int32_t result;          /* the final result once known, else 0 */
  uint16_t empty;          /* empty lines skipped before the request line */
  uint16_t te_codings;     /* transfer codings listed so far */
  uint8_t started;         /* the start line has been parsed */
  uint8_t te_chunked_last; /* the last coding listed was "chunked" */
  uint8_t early_done;      /* the start line's early check passed */
  uint8_t unused;
};

/* One request or response head.  Spans point into the parsed buffer. */
struct http_msg {
  struct http_span method;    /* request: the method token */
  struct http_span target;    /* request: the request-target as sent */
  struct http_span path;      /* request: target up to '?' ("*" for
                                 asterisk-form, after the authority in
                                 absolute-form; empty for CONNECT) */
  struct http_span query;     /* request: after the first '?', raw */
  struct http_span authority; /* request: absolute- or authority-form's
                                 host[:port], else empty */
  struct http_span reason;    /* response: reason phrase, may be empty */
  uint16_t status;            /* response: 100..999 */
  uint8_t method_id;          /* request: enum http_method */
  uint8_t minor;              /* 0 or 1 (HTTP/1.2+ reads as 1) */
  uint8_t body;               /* enum http_body (when the head is done) */
  uint8_t unused[3];
  uint32_t flags;              /* HTTP_F_* */
  uint64_t content_length;     /* the Content-Length value, if present */
  struct http_header *headers; /* the caller's array, max_headers entries */
  uint32_t nheaders;           /* fields stored in headers[] */
  int32_t ix[HTTP_IX_COUNT];   /* first index of each field, or -1 */
  struct http_scan scan;       /* private */
};

/* Prepares m for a new message whose fields go to headers (the caller's
 * array, at least limits.max_headers entries, owned by the caller). */
void http_msg_init(struct http_msg *m, struct http_header *headers);

/* Parses a request head from buf[0, len).  Returns the head's size (the
 * body or the next request starts at buf + n) once complete; 0 when more
 * bytes are needed (the limits hold for what has arrived); or a negative
 * HTTP_E* code (answer http_status_of(err) and close).  After a result
 * other than 0, further calls return the same result. */
int http_parse_request(const char *buf, size_t len,
                       const struct http_limits *lim, struct http_msg *m);

/* Response flags: what the request was, which decides whether a body
 * follows (RFC 9112 section 6.3). */
#define HTTP_RESP_TO_HEAD 1    /* the request was HEAD: no body */
#define HTTP_RESP_TO_CONNECT 2 /* the request was CONNECT: 2xx is a tunnel */

/* Parses a response head, as http_parse_request.  1xx, 204, 304, a reply
 * to HEAD and a 2xx reply to CONNECT have no body whatever their fields
 * say (their syntax is still checked).  Leading empty lines are errors. */
int http_parse_response(const char *buf, size_t len,
                        const struct http_limits *lim, unsigned resp_flags,
                        struct http_msg *m);

#endif
