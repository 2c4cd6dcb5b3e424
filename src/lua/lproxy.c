/*
 * lproxy.c -- the PROXY protocol on a listener (proxy_protocol = true):
 * the header a load balancer sends first on every connection it relays
 * is read, checked and taken off before TLS and before the handler, and
 * conn.peer / conn.address then report the original client and
 * destination (conn.c keeps them: conn_set_origin).  conn.proxy gives
 * the rest of what it said (version, command, the v2 TLVs).
 *
 * The header is read by the accepted connection's task itself, as the
 * TLS handshake is waited for (ltls.c): the task's body is a C function
 * that reads into the connection's buffer until proxy_parse() (src/proto)
 * says the header is complete, then calls the next body (the TLS
 * acceptor, or the handler).  A listener never guesses: with the option
 * every connection must start with a header (the spec forbids sniffing,
 * which would let any client spoof its address), and without it a
 * header is just bytes for the handler.
 *
 * A silent peer cannot hold the slot: the whole header is due within the
 * listener's proxy_timeout (default 5 s), however it trickles in; the
 * deadline rides on the read deadline of conn.c (the connection's own
 * timeout is set aside meanwhile).  A missing, malformed or late header
 * closes the connection, logged at debug level (it is the peer's doing).
 * The header's bytes are kept as they came (at most PROXY_V2_DEFAULT_MAX)
 * and conn.proxy parses them again when asked: a proxied connection that
 * never looks costs only those bytes.
 */
#include "lproxy.h"
#include "conn.h"
#include "lconn.h"
#include "lconn_internal.h"
#include "log.h"
#include "ltask.h"
#include "proxy.h"
#include "tls.h"

#include <lauxlib.h>
#include <string.h>

#define MAX_TLVS 64 /* TLVs (nested ones included) in one header */
#define DEADLINE 2  /* stack slot: io_clock() ms when the header is due */
#define SAVED 3     /* stack slot: the connection's own timeout */

/* Upvalues of the task body. */
#define UP_NEXT lua_upvalueindex(1)
#define UP_TLS lua_upvalueindex(2)
#define UP_HANDSHAKE lua_upvalueindex(3)

static int header_k(lua_State *L, int status, lua_KContext ctx);

/* The header did not come: the task ends (which closes the conn). */
static int refuse(struct conn *c, const char *why) {
  char peer[ADDR_TEXT_MAX];
  conn_peer(c, peer, sizeof peer);
  log_write(LOG_DEBUG, c->set->worker, "PROXY header (peer %s): %s", peer, why);
  return 0;
}

static int done_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L, (void)status, (void)ctx;
  return 0;
}

/* The header is in: record it, start TLS, run the next body. */
static int accepted(lua_State *L, struct conn *c, size_t size,
                    const struct proxy_result *r) {
  const struct sockaddr *src = NULL, *dst = NULL;
  if (r->command == PROXY_CMD_PROXY &&
      (r->family == PROXY_AF_INET || r->family == PROXY_AF_INET6)) {
    src = (const struct sockaddr *)&r->src;
    dst = (const struct sockaddr *)&r->dst;
  } /* LOCAL (a health check), UNKNOWN, UNIX: the socket's own addresses */
  if (conn_set_origin(c, src, dst, conn_rdata(c), size) != 0)
    return refuse(c, "no memory");
  conn_rbuf_consume(c, size);
  c->timeout = (uint32_t)lua_tointeger(L, SAVED);
  c->flags &= ~CONN_RTIMEDOUT;
  struct tls_config *tls = lua_touserdata(L, UP_TLS);
  if (tls && conn_tls_start(c, tls, NULL,
                            (uint32_t)lua_tointeger(L, UP_HANDSHAKE)) != 0)
    return refuse(c, "no memory for TLS");
  lua_settop(L, 1);
  lua_pushvalue(L, UP_NEXT);
  lua_insert(L, 1);
  lua_callk(L, 1, 0, 0, done_k);
  return 0;
}

/* Parses what is buffered; waits for more while the header is short. */
static int try_header(lua_State *L) {
  struct conn *c = ((struct conn_box *)lua_touserdata(L, 1))->c;
  if (!c || conn_closing(c))
    return 0;
  if (c->hot) { /* resumed from the loop with a chunk: it is ours */
    if (c->hotlen && conn_rbuf_append(c, c->hot, c->hotlen) != 0)
      return refuse(c, "no memory");
    conn_hot_take(c, c->hotlen);
  }
  struct proxy_tlv tlvs[MAX_TLVS];
  struct proxy_result r;
  proxy_result_init(&r, tlvs, MAX_TLVS);
  int n = c->rlen ? proxy_parse(conn_rdata(c), c->rlen, &r) : 0;
  if (n > 0)
    return accepted(L, c, (size_t)n, &r);
  if (n < 0)
    return refuse(c, proxy_strerror(n));
  if (c->flags & CONN_EOF)
    return refuse(c, "closed before the header was complete");
  if (c->rerr)
    return refuse(c, lconn_errstr(c->rerr));
  uint64_t now = io_clock() / 1000000u;
  uint64_t due = (uint64_t)lua_tointeger(L, DEADLINE);
  if ((c->flags & CONN_RTIMEDOUT) || now >= due)
    return refuse(c, "timed out");
  c->timeout = (uint32_t)(due - now);
  if (conn_wait_input(c, (size_t)c->rlen + 1) != 0)
    return refuse(c, "cannot receive");
  struct task *t = task_of(L);
  c->reader = t;
  return task_yield(L, t, TASK_RECV, 0, header_k);
}

static int header_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status, (void)ctx;
  return try_header(L);
}

/* The task body: (conn) -> the next body's, once the header is in. */
static int accept_proxy(lua_State *L) {
  struct conn *c = ((struct conn_box *)lua_touserdata(L, 1))->c;
  lua_settop(L, 1);
  if (!c)
    return 0;
  uint64_t ms = (uint64_t)lua_tointeger(L, lua_upvalueindex(4));
  lua_pushinteger(L, (lua_Integer)(io_clock() / 1000000u + ms)); /* DEADLINE */
  lua_pushinteger(L, (lua_Integer)c->timeout);                   /* SAVED */
  return try_header(L);
}

void lproxy_push_acceptor(lua_State *L, struct tls_config *tls,
                          uint32_t handshake_ms, uint32_t proxy_ms) {
  if (tls)
    lua_pushlightuserdata(L, tls);
  else
    lua_pushnil(L);
  lua_pushinteger(L, handshake_ms);
  lua_pushinteger(L, proxy_ms);
  lua_pushcclosure(L, accept_proxy, 4); /* next is upvalue 1 */
}

/* ---- conn.proxy ---------------------------------------------------------- */

static void set_text(lua_State *L, const char *name, const unsigned char *buf,
                     struct proxy_span s) {
  if (s.len == 0)
    return;
  lua_pushlstring(L, (const char *)buf + s.off, s.len);
  lua_setfield(L, -2, name);
}

static void set_addr(lua_State *L, const char *name,
                     const struct sockaddr_storage *ss, int len) {
  char text[PROXY_ADDR_TEXT_MAX];
  if (len > 0 &&
      proxy_format((const struct sockaddr *)ss, len, text, sizeof text) >= 0) {
    lua_pushstring(L, text);
    lua_setfield(L, -2, name);
  }
}

static void push_ssl(lua_State *L, const unsigned char *buf,
                     const struct proxy_ssl *ssl) {
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, ssl->client);
  lua_setfield(L, -2, "client");
  lua_pushboolean(L, (ssl->client & PP2_CLIENT_SSL) != 0);
  lua_setfield(L, -2, "tls");
  lua_pushboolean(L, ssl->verify == 0 &&
                         (ssl->client &
                          (PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS)) != 0);
  lua_setfield(L, -2, "verified");
  set_text(L, "version", buf, ssl->version);
  set_text(L, "cn", buf, ssl->cn);
  set_text(L, "cipher", buf, ssl->cipher);
  set_text(L, "sig_alg", buf, ssl->sig_alg);
  set_text(L, "key_alg", buf, ssl->key_alg);
}

/* Every TLV as {type =, value =} (sub-TLVs of SSL too, nested = true). */
static void push_tlvs(lua_State *L, const unsigned char *buf,
                      const struct proxy_tlv *tlvs, size_t n) {
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, tlvs[i].type);
    lua_setfield(L, -2, "type");
    lua_pushlstring(L, (const char *)buf + tlvs[i].off, tlvs[i].len);
    lua_setfield(L, -2, "value");
    if (tlvs[i].nested) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, "nested");
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* The first top-level TLV of a type, as a string field. */
static void set_tlv(lua_State *L, const char *name, const unsigned char *buf,
                    const struct proxy_tlv *tlvs, size_t n, uint8_t type) {
  for (size_t i = 0; i < n; i++) {
    if (!tlvs[i].nested && tlvs[i].type == type) {
      lua_pushlstring(L, (const char *)buf + tlvs[i].off, tlvs[i].len);
      lua_setfield(L, -2, name);
      return;
    }
  }
}

int lproxy_push_info(lua_State *L, struct conn *c) {
  struct proxy_tlv tlvs[MAX_TLVS];
  struct proxy_result r;
  if (!c->origin) {
    lua_pushnil(L);
    return 1;
  }
  const unsigned char *buf = c->origin->header;
  proxy_result_init(&r, tlvs, MAX_TLVS);
  if (proxy_parse(buf, c->origin->len, &r) <= 0) { /* it parsed before */
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, 0, 10);
  lua_pushinteger(L, r.version);
  lua_setfield(L, -2, "version");
  lua_pushstring(L, r.command == PROXY_CMD_PROXY ? "proxy" : "local");
  lua_setfield(L, -2, "command");
  if (r.command == PROXY_CMD_PROXY) {
    set_addr(L, "source", &r.src, r.src_len);
    set_addr(L, "destination", &r.dst, r.dst_len);
  }
  set_tlv(L, "alpn", buf, tlvs, r.ntlvs, PP2_TYPE_ALPN);
  set_tlv(L, "authority", buf, tlvs, r.ntlvs, PP2_TYPE_AUTHORITY);
  set_tlv(L, "unique_id", buf, tlvs, r.ntlvs, PP2_TYPE_UNIQUE_ID);
  set_tlv(L, "netns", buf, tlvs, r.ntlvs, PP2_TYPE_NETNS);
  if (r.ssl.present) {
    push_ssl(L, buf, &r.ssl);
    lua_setfield(L, -2, "ssl");
  }
  push_tlvs(L, buf, tlvs, r.ntlvs);
  lua_setfield(L, -2, "tlvs");
  return 1;
}
