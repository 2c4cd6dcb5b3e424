/*
 * proxy.c -- the PROXY protocol: the entry point that tells the two
 * versions apart, the binary version 2 (signature, addresses, TLVs with
 * the SSL sub-TLVs, the optional CRC32C), and address formatting.
 * Version 1's text line lives in proxy_text.c.
 *
 * Every check that can be made on a prefix is made on the prefix, in the
 * same order as on the whole header, so garbage fails on its first bad
 * byte and a header fed in pieces gives exactly the result (or error) of
 * a single call.  The header is bounded (v2_max) before any of its body
 * needs to be buffered, and every TLV length is checked against the
 * header's end before its value is looked at.
 */
#include "proxy_internal.h"

#include <string.h>

#ifdef _WIN32
#include <afunix.h>
#else
#include <sys/un.h>
#endif

static const uint8_t v2sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                  0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* ---- CRC32C ------------------------------------------------------------ */

/* Four bits at a time: entry i is i run through four steps of the
 * bitwise CRC with the reflected Castagnoli polynomial 0x82F63B78
 * (test_proxy checks the table against that loop).  Headers are at most a
 * few KiB, so a 16-entry constant table is fast enough and needs no
 * start-up code. */
static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x105EC76Fu, 0x20BD8EDEu, 0x30E349B1u,
    0x417B1DBCu, 0x5125DAD3u, 0x61C69362u, 0x7198540Du,
    0x82F63B78u, 0x92A8FC17u, 0xA24BB5A6u, 0xB21572C9u,
    0xC38D26C4u, 0xD3D3E1ABu, 0xE330A81Au, 0xF36E6F75u};

uint32_t proxy_crc32c(uint32_t crc, const void *buf, size_t len) {
  const uint8_t *p = buf;
  crc = ~crc;
  while (len--) {
    crc ^= *p++;
    crc = crc_nibble[crc & 15] ^ (crc >> 4);
    crc = crc_nibble[crc & 15] ^ (crc >> 4);
  }
  return ~crc;
}

/* ---- version 2 --------------------------------------------------------- */

/* Address block size of a family/transport byte, or -1 for a byte the
 * spec does not list (it lists exactly these seven). */
static int addr_size(uint8_t fam) {
  switch (fam) {
  case 0x00: return 0;
  case 0x11:
  case 0x12: return 12;
  case 0x21:
  case 0x22: return 36;
  case 0x31:
  case 0x32: return 216;
  default: return -1;
  }
}

int proxy_set_inet(struct sockaddr_storage *ss, int family, const uint8_t *addr,
                   const uint8_t port_be[2]) {
  memset(ss, 0, sizeof *ss);
  if (family == PROXY_AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    memcpy(&a->sin_addr, addr, 4);
    memcpy(&a->sin_port, port_be, 2); /* both in network order already */
    return (int)sizeof *a;
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
  a->sin6_family = AF_INET6;
  memcpy(&a->sin6_addr, addr, 16);
  memcpy(&a->sin6_port, port_be, 2);
  return (int)sizeof *a;
}

/* A 108-byte AF_UNIX field: the path runs to the first NUL; an abstract
 * name (leading NUL) runs to its last non-NUL byte. */
static struct proxy_span unix_path(const uint8_t *buf, uint32_t off) {
  struct proxy_span s = {off, 0};
  const uint8_t *p = buf + off;
  if (p[0] != 0) {
    while (s.len < 108 && p[s.len] != 0)
      s.len++;
  } else {
    for (uint32_t i = 108; i > 1; i--)
      if (p[i - 1] != 0) {
        s.len = i;
        break;
      }
  }
  return s;
}

static int set_unix(struct sockaddr_storage *ss, const uint8_t *buf,
                    struct proxy_span path) {
  struct sockaddr_un *a = (struct sockaddr_un *)ss;
  memset(ss, 0, sizeof *ss);
  a->sun_family = AF_UNIX;
  memcpy(a->sun_path, buf + path.off, path.len);
  return (int)(offsetof(struct sockaddr_un, sun_path) + path.len +
               (path.len < sizeof a->sun_path && buf[path.off] != 0));
}

static void v2_addresses(const uint8_t *buf, uint8_t fam,
                         struct proxy_result *r) {
  const uint8_t *a = buf + 16;
  r->family = fam >> 4;
  r->transport = fam & 0x0F;
  if (r->command != PROXY_CMD_PROXY)
    return; /* LOCAL: the spec says to ignore the block */
  switch (r->family) {
  case PROXY_AF_INET:
    r->src_len = proxy_set_inet(&r->src, PROXY_AF_INET, a, a + 8);
    r->dst_len = proxy_set_inet(&r->dst, PROXY_AF_INET, a + 4, a + 10);
    break;
  case PROXY_AF_INET6:
    r->src_len = proxy_set_inet(&r->src, PROXY_AF_INET6, a, a + 32);
    r->dst_len = proxy_set_inet(&r->dst, PROXY_AF_INET6, a + 16, a + 34);
    break;
  case PROXY_AF_UNIX:
    r->src_path = unix_path(buf, 16);
    r->dst_path = unix_path(buf, 16 + 108);
    r->src_len = set_unix(&r->src, buf, r->src_path);
    r->dst_len = set_unix(&r->dst, buf, r->dst_path);
    break;
  default: break; /* UNSPEC: no addresses */
  }
}

static int add_tlv(struct proxy_result *r, uint8_t type, int nested,
                   uint32_t off, uint16_t len) {
  if (r->ntlvs >= r->tlv_cap)
    return PROXY_ETLVCOUNT;
  struct proxy_tlv *t = &r->tlvs[r->ntlvs++];
  t->type = type;
  t->nested = (uint8_t)nested;
  t->len = len;
  t->off = off;
  return 0;
}

static void ssl_field(struct proxy_ssl *s, uint8_t type, uint32_t off,
                      uint16_t len) {
  struct proxy_span *f = NULL;
  switch (type) {
  case PP2_SUBTYPE_SSL_VERSION: f = &s->version; break;
  case PP2_SUBTYPE_SSL_CN: f = &s->cn; break;
  case PP2_SUBTYPE_SSL_CIPHER: f = &s->cipher; break;
  case PP2_SUBTYPE_SSL_SIG_ALG: f = &s->sig_alg; break;
  case PP2_SUBTYPE_SSL_KEY_ALG: f = &s->key_alg; break;
  default: return;
  }
  if (f->off == 0) { /* the first of each kind; 0 is never a value offset */
    f->off = off;
    f->len = len;
  }
}

/* Walks TLVs in buf[off..end); nested: inside the SSL TLV (no further
 * nesting, SSL and CRC32C are plain spans there). */
static int walk_tlvs(const uint8_t *buf, uint32_t off, uint32_t end, int nested,
                     struct proxy_result *r, uint32_t *crc_off);

static int ssl_tlv(const uint8_t *buf, uint32_t off, uint16_t len,
                   struct proxy_result *r) {
  if (len < 5 || r->ssl.present)
    return PROXY_ETLV; /* too short for client + verify, or a second one */
  r->ssl.present = 1;
  r->ssl.client = buf[off];
  r->ssl.verify = be32(buf + off + 1);
  return walk_tlvs(buf, off + 5, off + len, 1, r, NULL);
}

static int walk_tlvs(const uint8_t *buf, uint32_t off, uint32_t end, int nested,
                     struct proxy_result *r, uint32_t *crc_off) {
  while (off < end) {
    if (end - off < 3)
      return PROXY_ETLV;
    uint8_t type = buf[off];
    uint16_t len = be16(buf + off + 1);
    uint32_t val = off + 3;
    if (len > end - val)
      return PROXY_ETLV;
    int rc = add_tlv(r, type, nested, val, len);
    if (rc < 0)
      return rc;
    if (nested) {
      ssl_field(&r->ssl, type, val, len);
    } else if (type == PP2_TYPE_SSL) {
      if ((rc = ssl_tlv(buf, val, len, r)) < 0)
        return rc;
    } else if (type == PP2_TYPE_CRC32C) {
      if (len != 4 || *crc_off != 0)
        return PROXY_ETLV;
      *crc_off = val;
    }
    off = val + len;
  }
  return 0;
}

static int check_crc(const uint8_t *buf, uint32_t total, uint32_t at) {
  static const uint8_t zero[4] = {0, 0, 0, 0};
  uint32_t crc = proxy_crc32c(0, buf, at);
  crc = proxy_crc32c(crc, zero, 4);
  crc = proxy_crc32c(crc, buf + at + 4, total - at - 4);
  return crc == be32(buf + at) ? 0 : PROXY_ECRC;
}

static int parse_v2(const uint8_t *buf, size_t len, struct proxy_result *r) {
  size_t n = len < 12 ? len : 12;
  if (memcmp(buf, v2sig, n) != 0)
    return PROXY_ESIG;
  if (len < 13)
    return 0;
  if ((buf[12] >> 4) != 2)
    return PROXY_EVERSION;
  if ((buf[12] & 0x0F) > 1)
    return PROXY_ECOMMAND;
  if (len < 14)
    return 0;
  int asize = addr_size(buf[13]);
  if (asize < 0)
    return PROXY_EFAMILY;
  if (len < 16)
    return 0;
  uint32_t total = 16u + be16(buf + 14);
  if (total > r->v2_max)
    return PROXY_ETOOBIG;
  if (total < 16u + (uint32_t)asize)
    return PROXY_ESHORT;
  if (len < total)
    return 0;

  r->version = 2;
  r->command = buf[12] & 0x0F;
  v2_addresses(buf, buf[13], r);
  uint32_t crc_off = 0;
  int rc = walk_tlvs(buf, 16u + (uint32_t)asize, total, 0, r, &crc_off);
  if (rc < 0)
    return rc;
  if (crc_off && r->check_crc) {
    if ((rc = check_crc(buf, total, crc_off)) < 0)
      return rc;
    r->crc_checked = 1;
  }
  return (int)total;
}

/* ---- entry points ------------------------------------------------------ */

void proxy_result_init(struct proxy_result *r, struct proxy_tlv *tlvs,
                       size_t tlv_cap) {
  memset(r, 0, sizeof *r);
  r->tlvs = tlvs;
  r->tlv_cap = tlvs ? tlv_cap : 0;
  r->v2_max = PROXY_V2_DEFAULT_MAX;
  r->check_crc = 1;
}

/* Clears the out-fields, so a call after a failed or partial one starts
 * clean. */
static void reset_out(struct proxy_result *r) {
  struct proxy_result in = *r;
  memset(r, 0, sizeof *r);
  r->tlvs = in.tlvs;
  r->tlv_cap = in.tlv_cap;
  r->v2_max = in.v2_max;
  r->check_crc = in.check_crc;
}

int proxy_parse(const void *data, size_t len, struct proxy_result *r) {
  const uint8_t *buf = data;
  if (!r || (!buf && len) || (r->tlv_cap && !r->tlvs) || r->v2_max < 16 ||
      r->v2_max > PROXY_V2_HARD_MAX)
    return PROXY_EARG;
  reset_out(r);
  if (len == 0)
    return 0;
  int rc;
  if (buf[0] == 'P')
    rc = proxy_parse_v1(buf, len, r);
  else if (buf[0] == 0x0D)
    rc = parse_v2(buf, len, r);
  else
    rc = PROXY_ESIG;
  if (rc <= 0)
    reset_out(r); /* no half-filled result */
  return rc;
}

const char *proxy_strerror(int err) {
  switch (err) {
  case PROXY_ESIG: return "not a PROXY protocol header";
  case PROXY_ETOOLONG: return "PROXY v1 line too long";
  case PROXY_ELINE: return "bad PROXY v1 line";
  case PROXY_EADDR: return "bad address in PROXY v1 line";
  case PROXY_EPORT: return "bad port in PROXY v1 line";
  case PROXY_EVERSION: return "unsupported PROXY protocol version";
  case PROXY_ECOMMAND: return "bad PROXY v2 command";
  case PROXY_EFAMILY: return "bad PROXY v2 address family";
  case PROXY_ETOOBIG: return "PROXY v2 header too long";
  case PROXY_ESHORT: return "PROXY v2 header too short for its addresses";
  case PROXY_ETLV: return "bad PROXY v2 TLV";
  case PROXY_ETLVCOUNT: return "too many PROXY v2 TLVs";
  case PROXY_ECRC: return "PROXY v2 CRC32C mismatch";
  case PROXY_EARG: return "bad arguments";
  default: return "unknown error";
  }
}

/* ---- formatting -------------------------------------------------------- */

static size_t put_port(char *out, unsigned port) {
  char tmp[5];
  size_t n = 0, i = 0;
  do {
    tmp[n++] = (char)('0' + port % 10);
    port /= 10;
  } while (port);
  while (n)
    out[i++] = tmp[--n];
  return i;
}

static int format_unix(const struct sockaddr *sa, int salen, char *out,
                       size_t cap) {
  const struct sockaddr_un *a = (const struct sockaddr_un *)sa;
  size_t off = offsetof(struct sockaddr_un, sun_path);
  size_t n = (size_t)salen > off ? (size_t)salen - off : 0;
  if (n > sizeof a->sun_path)
    n = sizeof a->sun_path;
  if (n && a->sun_path[0] != 0) { /* a path: up to its NUL */
    size_t k = 0;
    while (k < n && a->sun_path[k] != 0)
      k++;
    n = k;
  }
  if (5 + n + 1 > cap)
    return -1;
  memcpy(out, "unix:", 5);
  for (size_t i = 0; i < n; i++) /* an abstract name's NULs shown as '@' */
    out[5 + i] = a->sun_path[i] ? a->sun_path[i] : '@';
  out[5 + n] = '\0';
  return (int)(5 + n);
}

int proxy_format(const struct sockaddr *sa, int salen, char *out, size_t cap) {
  char text[64];
  size_t n;
  unsigned port;
  if (cap)
    out[0] = '\0';
  if (!sa || salen < (int)sizeof(sa->sa_family))
    return -1;
  if (sa->sa_family == AF_INET && salen >= (int)sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    const uint8_t *p = (const uint8_t *)&a->sin_port;
    n = proxy_ip4_format((const uint8_t *)&a->sin_addr, text);
    port = (unsigned)(p[0] << 8 | p[1]);
  } else if (sa->sa_family == AF_INET6 &&
             salen >= (int)sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
    const uint8_t *p = (const uint8_t *)&a->sin6_port;
    text[0] = '[';
    n = 1 + proxy_ip6_format((const uint8_t *)&a->sin6_addr, text + 1);
    text[n++] = ']';
    port = (unsigned)(p[0] << 8 | p[1]);
  } else if (sa->sa_family == AF_UNIX) {
    return format_unix(sa, salen, out, cap);
  } else {
    return -1;
  }
  text[n++] = ':';
  n += put_port(text + n, port);
  if (n + 1 > cap)
    return -1;
  memcpy(out, text, n);
  out[n] = '\0';
  return (int)n;
}
