/*
 * resp.h -- the Redis protocol: replies (RESP2 and RESP3) parsed into a
 * flat array of tokens, and commands encoded as arrays of bulk strings.
 *
 * Parsing.  resp_parse() reads one reply from the start of a buffer and
 * writes one token per value, in pre-order, into an array the caller
 * owns: an aggregate's token comes first, its values follow, and its
 * `end` field is the index just past its last descendant, so a walker
 * can build values recursively or skip a subtree in O(1).  Strings are
 * spans (offset, length) into the caller's buffer: nothing is copied and
 * nothing is allocated, ever.  A reply arriving in pieces is resumed
 * where the previous call stopped (the parser keeps the position, a
 * stack of open aggregates and how far it searched for a line end), so
 * the total work is O(reply size) however it is split.  When the token
 * array fills up, resp_parse() says so and the caller may grow it and
 * call again; the tokens already written stay valid.
 *
 * Every size that the peer controls is bounded (struct resp_limits):
 * nesting, values per aggregate, bulk length, line length.  Counts never
 * reserve memory in advance: a reply announcing 2^20 values only costs
 * what actually arrives.
 *
 * Streamed types (RESP3 "$?" with ';' chunks, "*?" "%?" "~?" closed by
 * '.') are supported: a streamed string is a token with the
 * RESP_TF_STREAMED flag followed by one RESP_CHUNK token per chunk (the
 * final ";0" adds none); a streamed aggregate is an ordinary aggregate
 * token whose count is filled in when its '.' arrives.
 *
 * Attributes ('|') annotate the value that follows them.  By default
 * they are parsed, checked against the limits and dropped: the tokens
 * are exactly those of the reply without them.  With RESP_KEEP_ATTRS
 * each attribute stays as a RESP_ATTR token (a map: len keys and values)
 * placed just before the value it annotates; it is not counted in its
 * parent's len, and a walker skips it with `end`.
 *
 * Encoding.  resp_command_size() + resp_encode_command() write
 * "*N\r\n$len\r\narg\r\n..."; the resp_put_* pieces let a binding mix
 * string and integer arguments without formatting numbers through
 * printf.  Nothing here does I/O or knows about Lua.
 */
#ifndef HOST_RESP_H
#define HOST_RESP_H

#include <stddef.h>
#include <stdint.h>

/* ---- tokens ------------------------------------------------------------ */

enum resp_type {                    /* the type byte itself */
                 RESP_SIMPLE = '+', /* span */
                 RESP_ERROR = '-',  /* span */
                 RESP_INT = ':',    /* v.i */
                 RESP_BULK =
                     '$', /* span; streamed: len = total, chunks follow */
                 RESP_ARRAY = '*',      /* aggregate */
                 RESP_NULL = '_',       /* also "$-1" and "*-1" (see flags) */
                 RESP_DOUBLE = ',',     /* v.d */
                 RESP_BOOL = '#',       /* v.i: 1 or 0 */
                 RESP_BLOB_ERROR = '!', /* span */
                 RESP_VERBATIM =
                     '=',           /* span of the text; its 3-byte format
                                       ("txt",   "mkd") is at buf + v.off - 4 */
                 RESP_BIGNUM = '(', /* span of the digits, sign included */
                 RESP_MAP = '%',    /* aggregate, len = 2 x pairs */
                 RESP_SET = '~',    /* aggregate */
                 RESP_PUSH = '>',   /* aggregate, only at the top level */
                 RESP_ATTR =
                     '|', /* aggregate, len = 2 x pairs (RESP_KEEP_ATTRS) */
                 RESP_CHUNK = ';' /* span: one piece of a streamed string */
};

#define RESP_TF_STREAMED 0x01   /* "$?" string, or "*?" "%?" "~?" */
#define RESP_TF_NULL_BULK 0x02  /* a RESP_NULL that came as "$-1" */
#define RESP_TF_NULL_ARRAY 0x04 /* a RESP_NULL that came as "*-1" */

struct resp_token {
  uint8_t type;  /* enum resp_type */
  uint8_t flags; /* RESP_TF_* */
  uint16_t pad;  /* 0 */
  uint32_t len;  /* string: bytes; aggregate: values (map: 2 x pairs);
                    streamed string: total bytes of its chunks */
  union {
    int64_t i;  /* RESP_INT, RESP_BOOL */
    double d;   /* RESP_DOUBLE */
    size_t off; /* strings: offset of the bytes in the buffer */
    size_t end; /* aggregates, streamed string: index after the subtree */
  } v;
};

/* ---- limits ------------------------------------------------------------ */

#define RESP_MAX_DEPTH 64              /* hard cap of max_depth */
#define RESP_MAX_COUNT 0x7FFFFFFFu     /* hard cap of max_count */
#define RESP_DEFAULT_COUNT (1u << 20)  /* values per aggregate */
#define RESP_DEFAULT_BULK (512u << 20) /* Redis's own proto-max-bulk-len */
#define RESP_DEFAULT_LINE (64u << 10)  /* simple string, error, big number */

struct resp_limits {
  unsigned max_depth; /* open aggregates at once, 1..RESP_MAX_DEPTH */
  uint32_t max_count; /* values per aggregate (map, attribute: pairs;
                         streamed string: chunks), 1..RESP_MAX_COUNT */
  uint32_t max_bulk;  /* bytes of one string, streamed ones in total */
  uint32_t max_line;  /* bytes of a simple string/error/big number line,
                         CRLF excluded */
};

/* ---- the parser -------------------------------------------------------- */

#define RESP_KEEP_ATTRS 0x01 /* keep attributes as RESP_ATTR tokens */

struct resp_frame { /* one open aggregate (private to resp.c) */
  size_t tok;       /* index of its token */
  uint64_t left;    /* values still expected (sized ones) */
  uint64_t seen;    /* values (chunks) so far (streamed ones) */
  uint64_t total;   /* streamed string: bytes so far */
  uint8_t type;     /* its type byte */
  uint8_t streamed; /* 1: ends with '.' (or ";0" for a string) */
};

/* Owned by the caller (on its stack, in a struct); no heap inside. */
struct resp_parser {
  struct resp_limits lim;    /* fixed by resp_parser_init */
  unsigned flags;            /* RESP_KEEP_ATTRS */
  struct resp_token *tok;    /* caller's token array; NULL: count only */
  size_t cap;                /* its capacity in tokens */
  size_t ntok;               /* tokens of the reply so far */
  size_t pos;                /* bytes of the reply parsed so far */
  size_t scan;               /* where the search for CR resumes */
  int depth;                 /* open aggregates on the stack */
  int err;                   /* sticky error, 0 if none */
  int done;                  /* the last call completed a reply */
  int attr_pending;          /* an attribute awaits its value */
  struct resp_token scratch; /* written instead when tok is NULL */
  struct resp_frame stack[RESP_MAX_DEPTH];
};

/* Return values of resp_parse() and resp_scan(). */
enum resp_status {
  RESP_OK = 1,          /* a reply is complete */
  RESP_NEED = 0,        /* more bytes needed: call again with them added */
  RESP_EFULL = -1,      /* token array full: grow it, call again (not sticky) */
  RESP_ETYPE = -2,      /* unknown type byte */
  RESP_ELINE = -3,      /* line longer than its limit */
  RESP_ECRLF = -4,      /* CR or LF out of place, or data not ended by CRLF */
  RESP_EINT = -5,       /* bad integer syntax, or out of the int64 range */
  RESP_ELEN = -6,       /* bad length or count */
  RESP_EBULK = -7,      /* string longer than max_bulk */
  RESP_ECOUNT = -8,     /* more values than max_count */
  RESP_EDEPTH = -9,     /* nested deeper than max_depth */
  RESP_EDOUBLE = -10,   /* bad double */
  RESP_EBOOL = -11,     /* boolean other than #t / #f */
  RESP_ENULL = -12,     /* "_" followed by something */
  RESP_EBIGNUM = -13,   /* bad big number */
  RESP_EVERBATIM = -14, /* verbatim string without its "xxx:" prefix */
  RESP_ESTREAM = -15,   /* ';' or '.' out of place, '?' where not allowed,
                           streamed map with an odd number of values */
  RESP_EPUSH = -16,     /* push type inside an aggregate */
  RESP_EATTR = -17      /* attribute not followed by a value */
};

/* Default limits: depth 64, 2^20 values, 512 MiB bulk, 64 KiB lines. */
void resp_limits_default(struct resp_limits *lim);

/* Prepares p (lim NULL: the defaults; out-of-range fields are clamped to
 * the hard caps).  Tokens go to tok[0..cap); tok NULL means count only
 * (resp_scan, validation). */
void resp_parser_init(struct resp_parser *p, const struct resp_limits *lim,
                      unsigned flags, struct resp_token *tok, size_t cap);

/* Gives p a new token array (e.g. after RESP_EFULL, a larger copy of the
 * old one, as realloc makes). */
void resp_parser_set_tokens(struct resp_parser *p, struct resp_token *tok,
                            size_t cap);

/* Forgets any reply in progress and any error. */
void resp_parser_reset(struct resp_parser *p);

/* Parses the reply at the start of buf[0..len).  RESP_OK: tokens
 * p->tok[0..p->ntok) describe it and *used is its size in bytes; the next
 * call starts a new reply, which the caller places at the start of the
 * buffer it passes (e.g. buf + *used).  RESP_NEED: call again with the
 * same bytes and more (the buffer may have moved: spans are offsets).
 * RESP_EFULL: call resp_parser_set_tokens() with more room, then again.
 * Any other negative value is an error; the connection is then unusable,
 * and every later call returns it until resp_parser_reset().  Never reads
 * past buf + len. */
int resp_parse(struct resp_parser *p, const char *buf, size_t len,
               size_t *used);

/* Counts complete replies without storing tokens (p made with tok NULL):
 * starting from *done replies in *used bytes (both 0 on the first call),
 * advances them while replies complete, up to `want`.  RESP_OK once *done
 * == want, RESP_NEED when the bytes ran out first (call again with more,
 * keeping *done and *used), or an error. */
int resp_scan(struct resp_parser *p, const char *buf, size_t len, size_t want,
              size_t *done, size_t *used);

/* A static English message for a status ("unknown error" else). */
const char *resp_strerror(int status);

/* ---- encoding commands ------------------------------------------------- */

#define RESP_HEADER_MAX 23  /* "*" + 20 digits + CRLF */
#define RESP_INT_ARG_MAX 27 /* "$20\r\n" "-9223372036854775808" "\r\n" */

/* Sizes of the pieces; resp_arg_size() is "$len\r\n" + len + "\r\n". */
size_t resp_header_size(size_t nargs);
size_t resp_arg_size(size_t len);
size_t resp_int_arg_size(int64_t v);

/* Write one piece at out and return the byte after it.  out must have
 * room for the piece's size. */
char *resp_put_header(char *out, size_t nargs);
char *resp_put_arg(char *out, const void *arg, size_t len);
char *resp_put_int_arg(char *out, int64_t v);

/* Bytes of the whole command, or 0 if it would overflow size_t. */
size_t resp_command_size(size_t nargs, const size_t *lens);
/* Writes the command (out has resp_command_size() bytes); returns the
 * number written. */
size_t resp_encode_command(char *out, size_t nargs, const char *const *args,
                           const size_t *lens);

#endif
