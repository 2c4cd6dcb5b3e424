/*
 * proxy.h -- the PROXY protocol header (HAProxy's proxy-protocol.txt,
 * versions 1 and 2) that a load balancer puts in front of every
 * connection it relays, so the server learns the original client and
 * destination.
 *
 * A listener configured for it (never guessed: the spec forbids sniffing,
 * since any client could then spoof its address) calls proxy_parse() on
 * the bytes received so far until it returns the header's size; the
 * handler then sees only what follows.  The parser is pure: no I/O, no
 * allocation, no global state, the same on every platform (it formats and
 * parses IP addresses itself, so it needs no ws2_32 on Windows).
 *
 * Ownership: proxy_parse() writes into the caller's struct proxy_result
 * and into the caller's TLV array; every span (struct proxy_span, struct
 * proxy_tlv) is an offset into the caller's buffer, valid as long as the
 * caller keeps those bytes.  Nothing is ever freed.
 */
#ifndef HOST_PROXY_H
#define HOST_PROXY_H

#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#include <sys/socket.h>
#endif

/* ---- limits ------------------------------------------------------------ */

/* A v1 line, CRLF included, is at most 107 bytes (the spec's worst case,
 * "PROXY UNKNOWN" with two full IPv6 addresses). */
#define PROXY_V1_MAX 107
/* Default cap of a whole v2 header.  The 16-bit length allows 65,551
 * bytes; real senders stay far below (216 bytes of UNIX addresses, a few
 * TLVs: ALPN, authority, unique id <= 128, SSL strings).  4 KiB covers
 * them with room to spare while a peer cannot make us buffer 64 KiB per
 * connection before the handler even starts. */
#define PROXY_V2_DEFAULT_MAX 4096
#define PROXY_V2_HARD_MAX (16 + 65535)
/* Longest text proxy_format() writes: "[" 45-char IPv6 "]:65535" + NUL;
 * a UNIX path is up to 108 bytes plus "unix:". */
#define PROXY_ADDR_TEXT_MAX 120

/* ---- results ----------------------------------------------------------- */

enum proxy_command {
  PROXY_CMD_LOCAL = 0, /* v2 LOCAL or v1 UNKNOWN: use the real endpoints */
  PROXY_CMD_PROXY = 1  /* the addresses below are the original ones */
};

enum proxy_family { /* the v2 family nibble; v1 gives INET/INET6/UNSPEC */
                    PROXY_AF_UNSPEC = 0,
                    PROXY_AF_INET = 1,
                    PROXY_AF_INET6 = 2,
                    PROXY_AF_UNIX = 3
};

enum proxy_transport { /* the v2 transport nibble; v1 is always STREAM */
                       PROXY_TRANSPORT_UNSPEC = 0,
                       PROXY_TRANSPORT_STREAM = 1,
                       PROXY_TRANSPORT_DGRAM = 2
};

/* TLV types (section 2.2).  Sub-types live inside PP2_TYPE_SSL. */
#define PP2_TYPE_ALPN 0x01
#define PP2_TYPE_AUTHORITY 0x02
#define PP2_TYPE_CRC32C 0x03
#define PP2_TYPE_NOOP 0x04
#define PP2_TYPE_UNIQUE_ID 0x05
#define PP2_TYPE_SSL 0x20
#define PP2_SUBTYPE_SSL_VERSION 0x21
#define PP2_SUBTYPE_SSL_CN 0x22
#define PP2_SUBTYPE_SSL_CIPHER 0x23
#define PP2_SUBTYPE_SSL_SIG_ALG 0x24
#define PP2_SUBTYPE_SSL_KEY_ALG 0x25
#define PP2_TYPE_NETNS 0x30
/* Bits of the SSL TLV's client field. */
#define PP2_CLIENT_SSL 0x01
#define PP2_CLIENT_CERT_CONN 0x02
#define PP2_CLIENT_CERT_SESS 0x04

/* Bytes buf[off .. off+len) of the buffer given to proxy_parse(). */
struct proxy_span {
  uint32_t off;
  uint32_t len; /* 0: absent (or empty) */
};

/* One TLV: its value is buf[off .. off+len). */
struct proxy_tlv {
  uint8_t type;   /* PP2_TYPE_* or, when nested, PP2_SUBTYPE_SSL_* */
  uint8_t nested; /* 1: a sub-TLV of the PP2_TYPE_SSL TLV before it */
  uint16_t len;   /* value length */
  uint32_t off;   /* value offset in the buffer */
};

/* What the PP2_TYPE_SSL TLV says, when there is one. */
struct proxy_ssl {
  int present;               /* 1 if the header carried PP2_TYPE_SSL */
  uint8_t client;            /* PP2_CLIENT_* bits */
  uint32_t verify;           /* 0: the client certificate verified */
  struct proxy_span version; /* e.g. "TLSv1.3" (first of each kind) */
  struct proxy_span cn;      /* client certificate's common name */
  struct proxy_span cipher;  /* e.g. "TLS_AES_256_GCM_SHA384" */
  struct proxy_span sig_alg; /* e.g. "RSA-SHA256" */
  struct proxy_span key_alg; /* e.g. "RSA2048" */
};

struct proxy_result {
  /* In: set by the caller before proxy_parse() (proxy_result_init). */
  struct proxy_tlv *tlvs; /* where TLV spans go (may be NULL if cap 0) */
  size_t tlv_cap;         /* its capacity; more TLVs is an error */
  size_t v2_max;          /* cap of a v2 header, 16..PROXY_V2_HARD_MAX */
  int check_crc;          /* verify PP2_TYPE_CRC32C when present */

  /* Out: valid when proxy_parse() returned > 0. */
  int version;                 /* 1 or 2 */
  int command;                 /* enum proxy_command */
  int family;                  /* enum proxy_family */
  int transport;               /* enum proxy_transport */
  struct sockaddr_storage src; /* original client (command PROXY, and */
  struct sockaddr_storage dst; /*   family INET/INET6, or UNIX where the */
  int src_len, dst_len;        /*   platform has sockaddr_un); else 0 */
  struct proxy_span src_path;  /* AF_UNIX: the paths (up to the first */
  struct proxy_span dst_path;  /*   NUL; abstract names start with NUL) */
  size_t ntlvs;                /* TLVs stored in tlvs[] (nested included) */
  int crc_checked;             /* 1: a CRC32C TLV was present and matched */
  struct proxy_ssl ssl;
};

/* Errors: proxy_parse() returns one of these (all negative). */
enum proxy_error {
  PROXY_ESIG = -1,       /* neither "PROXY " nor the v2 signature */
  PROXY_ETOOLONG = -2,   /* v1: no CRLF within 107 bytes */
  PROXY_ELINE = -3,      /* v1: bad syntax (spaces, CR/LF, protocol) */
  PROXY_EADDR = -4,      /* v1: bad IPv4/IPv6 address */
  PROXY_EPORT = -5,      /* v1: bad port */
  PROXY_EVERSION = -6,   /* v2: version nibble is not 2 */
  PROXY_ECOMMAND = -7,   /* v2: command is neither LOCAL nor PROXY */
  PROXY_EFAMILY = -8,    /* v2: family/transport byte not in the spec */
  PROXY_ETOOBIG = -9,    /* v2: header longer than v2_max */
  PROXY_ESHORT = -10,    /* v2: length too small for the addresses */
  PROXY_ETLV = -11,      /* v2: a TLV runs past the header, or a bad SSL,
                            CRC32C TLV */
  PROXY_ETLVCOUNT = -12, /* v2: more TLVs than tlv_cap */
  PROXY_ECRC = -13,      /* v2: CRC32C mismatch */
  PROXY_EARG = -14       /* the caller's result fields are invalid */
};

/* Sets the in-fields to the defaults: tlvs/cap as given, v2_max
 * PROXY_V2_DEFAULT_MAX, check_crc 1.  Out-fields are zeroed. */
void proxy_result_init(struct proxy_result *r, struct proxy_tlv *tlvs,
                       size_t tlv_cap);

/* Parses the header at the start of buf[0..len).  Returns its size (> 0)
 * when complete and valid (r filled; the connection's data starts at
 * buf + size); 0 when the bytes so far are a valid beginning of a header
 * and more are needed; a negative enum proxy_error when they cannot
 * become one.  Garbage fails as soon as it can: the first byte that
 * breaks "PROXY " or the v2 signature, a v1 line without CRLF in 107
 * bytes, a v2 length above v2_max as soon as the 16-byte fixed part is
 * in.  Calling it again with more bytes (the same prefix) is the
 * intended use; the result is the same as a single call on all of them.
 * It never reads past buf + len. */
int proxy_parse(const void *buf, size_t len, struct proxy_result *r);

/* A static English message for an error code ("unknown error" else). */
const char *proxy_strerror(int err);

/* Writes sa as "ip:port" ("[ip6]:port" for IPv6, "unix:path" for a UNIX
 * address, with an abstract name's leading NUL shown as '@') into out
 * (always NUL-terminated when cap > 0).  Returns the text's length, or -1
 * when the family is not one of those or cap is too small. */
int proxy_format(const struct sockaddr *sa, int salen, char *out, size_t cap);

/* CRC32C (Castagnoli, RFC 4960 appendix B) of buf, continuing from crc
 * (start with 0). */
uint32_t proxy_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
