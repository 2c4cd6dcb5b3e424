/*
 * lhttp_ws.c -- WebSocket (RFC 6455) on a session after the upgrade:
 * ws:recv, ws:send, ws:ping, and the close frame; the handshake's
 * Sec-WebSocket-Accept and a client's Sec-WebSocket-Key.
 *
 * Frames are parsed in the connection's read buffer by ws.c.  A frame is
 * taken once it is all there (the wait tells conn.c how much that is, up
 * to the frame limit): a whole message in one frame is unmasked straight
 * into its Lua string, fragments are unmasked into the session's
 * gathering buffer (user value 3, bounded by the message limit).  Text is
 * checked as UTF-8 as it comes.  Pings are answered as they are read,
 * pongs dropped; a close frame is answered with the same code and ends
 * the stream (recv returns reason, "close", code).  A protocol error
 * sends the close code ws.c names (1002, 1007, 1009) and returns nil,
 * "protocol error" (or "too long"), ws.c's reason.
 *
 * Sends are queued like conn:write (a turn's frames go out in one system
 * call), past the queue's high water they wait.  A client masks each
 * frame with a fresh key from a generator seeded by the system's.
 */
#include "conn.h"
#include "lconn_internal.h"
#include "lhttp_internal.h"
#include "sys.h"
#include "ws.h"

#include <lauxlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------- */

/* The WebSocket at 1: its session (its userdata pushed on top). */
static struct hsess *check_ws(lua_State *L) {
  void *p = lua_touserdata(L, 1);
  if (!p || !lua_getmetatable(L, 1) || !lua_rawequal(L, -1, UV_WSMT))
    luaL_typeerror(L, 1, HTTP_WS_META);
  lua_pop(L, 1);
  lua_getiuservalue(L, 1, 1);
  return lua_touserdata(L, -1);
}

/* A masking key (a client's frames): splitmix64 over a system seed. */
static void mask_key(struct hmod *mod, uint8_t key[4]) {
  if (mod->rng == 0) {
    uint64_t seed = 0;
    sys_random(&seed, sizeof seed);
    mod->rng = seed | 1;
  }
  uint64_t z = (mod->rng += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  z ^= z >> 31;
  memcpy(key, &z, 4);
}

/* Queues one frame of n bytes at p (a small one: a control frame, or a
 * data frame that fits the queue).  0, or -1 (no memory). */
static int queue_frame(struct hsess *s, struct conn *c, unsigned op,
                       const char *p, size_t n) {
  uint8_t h[WS_MAX_HEADER], key[4];
  int client = !(s->ws_flags & WS_SERVER);
  if (client)
    mask_key(s->mod, key);
  size_t hn = ws_encode_header(h, 1, 0, op, n, client ? key : NULL);
  if (conn_write(c, (const char *)h, hn) != 0)
    return -1;
  if (!client)
    return n ? conn_write(c, p, n) : 0;
  char tmp[4096];
  for (size_t off = 0; off < n;) {
    size_t k = n - off < sizeof tmp ? n - off : sizeof tmp;
    ws_mask_copy((uint8_t *)tmp, (const uint8_t *)p + off, k, key, off);
    if (conn_write(c, tmp, k) != 0)
      return -1;
    off += k;
  }
  return 0;
}

/* Our close frame (once): code (0: none), reason. */
static void send_close(struct hsess *s, struct conn *c, unsigned code,
                       const char *reason, size_t rlen) {
  char p[WS_MAX_CONTROL];
  size_t n = 0;
  if (s->ws_sent_close)
    return;
  s->ws_sent_close = 1;
  if (code) {
    p[0] = (char)(code >> 8);
    p[1] = (char)code;
    n = 2;
    if (rlen > WS_MAX_CONTROL - 2)
      rlen = WS_MAX_CONTROL - 2;
    memcpy(p + 2, reason, rlen);
    n += rlen;
  }
  queue_frame(s, c, WS_CLOSE, p, n);
}

/* The peer broke the protocol: close with ws.c's code, nil, word, why. */
static int protocol_fail(lua_State *L, struct hsess *s, struct conn *c,
                         int err) {
  send_close(s, c, (unsigned)ws_close_code(err), "", 0);
  s->ws_got_close = 1; /* nothing more is read */
  lua_pushnil(L);
  lua_pushstring(L, err == WS_ETOO_BIG ? "too long" : "protocol error");
  lua_pushstring(L, ws_strerror(err));
  return 3;
}

/* ---- ws:recv() ------------------------------------------------------------
 */

/* A control frame whose payload is p[0, n) (unmasked). */
static int control(lua_State *L, struct hsess *s, struct conn *c, unsigned op,
                   const char *p, size_t n) {
  if (op == WS_PING) {
    if (!s->ws_sent_close)
      queue_frame(s, c, WS_PONG, p, n);
    return -1; /* read on */
  }
  if (op == WS_PONG)
    return -1;
  unsigned code;
  int err = ws_parse_close((const uint8_t *)p, n, &code);
  if (err)
    return protocol_fail(L, s, c, err);
  s->ws_got_close = 1;
  send_close(s, c, code == 1005 ? 0 : code, "", 0);
  lua_pushlstring(L, n > 2 ? p + 2 : "", n > 2 ? n - 2 : 0);
  lua_pushliteral(L, "close");
  lua_pushinteger(L, code);
  return 3;
}

static int push_kind(lua_State *L, unsigned op) {
  if (op == WS_TEXT)
    lua_pushliteral(L, "text");
  else
    lua_pushliteral(L, "binary");
  return 2;
}

/* A data frame (f, payload at p): a result count, or -1 to read on. */
static int data(lua_State *L, struct hsess *s, struct conn *c,
                const struct ws_frame *f, const uint8_t *p) {
  size_t n = (size_t)f->len;
  if (f->fin && f->opcode != WS_CONT) { /* a whole message: the common case */
    luaL_Buffer b;
    char *dst = luaL_buffinitsize(L, &b, n);
    if (f->masked)
      ws_mask_copy((uint8_t *)dst, p, n, f->key, 0);
    else
      memcpy(dst, p, n);
    if (f->opcode == WS_TEXT &&
        ws_utf8(WS_UTF8_OK, (const uint8_t *)dst, n) != WS_UTF8_OK)
      return protocol_fail(L, s, c, WS_EUTF8);
    luaL_pushresultsize(&b, n);
    return push_kind(L, f->opcode);
  }
  if (f->opcode != WS_CONT) { /* the first fragment */
    s->ws_op = f->opcode;
    s->ws_flags |= WS_IN_MESSAGE;
    s->acclen = 0;
    s->ws_utf8 = WS_UTF8_OK;
  }
  if (s->acclen + (uint64_t)n > s->o->ws_max_msg)
    return protocol_fail(L, s, c, WS_ETOO_BIG);
  uint8_t *dst = (uint8_t *)hs_acc(L, 3, s, n);
  if (!dst)
    return protocol_fail(L, s, c, WS_ETOO_BIG);
  if (f->masked)
    ws_mask_copy(dst, p, n, f->key, 0);
  else
    memcpy(dst, p, n);
  s->acclen += (uint32_t)n;
  if (s->ws_op == WS_TEXT) {
    s->ws_utf8 = ws_utf8(s->ws_utf8, dst, n);
    if (s->ws_utf8 == WS_UTF8_BAD)
      return protocol_fail(L, s, c, WS_EUTF8);
  }
  if (!f->fin)
    return -1;
  s->ws_flags &= ~WS_IN_MESSAGE;
  if (s->ws_op == WS_TEXT && s->ws_utf8 != WS_UTF8_OK)
    return protocol_fail(L, s, c, WS_EUTF8);
  lua_getiuservalue(L, 3, 3);
  lua_pushlstring(L, lua_touserdata(L, -1), s->acclen);
  lua_remove(L, -2);
  s->acclen = 0;
  return push_kind(L, s->ws_op);
}

static int recv_k(lua_State *L, int status, lua_KContext ctx);

static int recv_step(lua_State *L, struct hsess *s, struct conn *c) {
  for (;;) {
    if (s->ws_got_close)
      return hs_fail(L, "closed");
    const uint8_t *p = (const uint8_t *)conn_rdata(c);
    size_t len = c->rlen, need = WS_MAX_HEADER;
    struct ws_frame f;
    int n =
        len ? ws_parse_header(p, len, s->ws_flags, s->o->ws_max_frame, &f) : 0;
    if (n < 0)
      return protocol_fail(L, s, c, n);
    if (n > 0) {
      need = (size_t)n + (size_t)f.len;
      if (len >= need) {
        int r;
        if (f.opcode >= WS_CLOSE) {
          char ctl[WS_MAX_CONTROL];
          size_t k = (size_t)f.len;
          if (f.masked)
            ws_mask_copy((uint8_t *)ctl, p + n, k, f.key, 0);
          else
            memcpy(ctl, p + n, k);
          r = control(L, s, c, f.opcode, ctl, k);
        } else {
          r = data(L, s, c, &f, p + n);
        }
        if (conn_closing(c))
          return r < 0 ? hs_fail(L, "closed") : r;
        conn_rbuf_consume(c, need);
        if (r >= 0)
          return r;
        continue;
      }
    }
    const char *err = hs_input_error(c);
    if (err)
      return hs_fail(L, err);
    uint32_t ms =
        lua_isnumber(L, 2) ? conn_timeout_ms(lua_tonumber(L, 2)) : s->ws_ms;
    return hs_wait(L, s, c, need, ms, 0, recv_k);
  }
}

static int recv_k(lua_State *L, int status, lua_KContext ctx) {
  struct hsess *s = lua_touserdata(L, 3);
  struct conn *c = hs_resumed(L, s);
  (void)status, (void)ctx;
  if (!c)
    return hs_fail(L, "closed");
  return recv_step(L, s, c);
}

/* ws:recv([timeout]) -> data, "text" | "binary" | reason, "close", code
 * | nil, err [, detail] */
static int ws_recv(lua_State *L) {
  double t = luaL_optnumber(L, 2, 0);
  luaL_argcheck(L, t >= 0, 2, "negative timeout");
  lua_settop(L, 2);
  struct hsess *s = check_ws(L); /* its session: 3 */
  struct conn *c = hs_conn(s);
  if (!c)
    return hs_fail(L, "closed");
  return recv_step(L, s, c);
}

/* ---- sending ------------------------------------------------------------ */

static int results_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L, (void)status, (void)ctx;
  return 2;
}

/* ws:send(data [, "binary" | "text"]) -> true | nil, err */
static int ws_send(lua_State *L) {
  static const char *const kinds[] = {"text", "binary", NULL};
  lua_settop(L, 3);
  struct hsess *s = check_ws(L); /* 4 */
  size_t n;
  const char *p = luaL_checklstring(L, 2, &n);
  unsigned op = luaL_checkoption(L, 3, "text", kinds) ? WS_BINARY : WS_TEXT;
  struct conn *c = hs_conn(s);
  if (!c || s->ws_sent_close)
    return hs_fail(L, "closed");
  if (conn_queued(c) + n + WS_MAX_HEADER <= CONN_OBUF_HIGH) {
    if (queue_frame(s, c, op, p, n) != 0)
      return hs_fail(L, "no resources");
    lua_pushboolean(L, 1);
    return 1;
  }
  /* A large frame: the header, then the payload through conn:write,
   * which waits as long as the peer takes (masked into a new string for
   * a client). */
  uint8_t h[WS_MAX_HEADER], key[4];
  int client = !(s->ws_flags & WS_SERVER);
  if (client)
    mask_key(s->mod, key);
  size_t hn = ws_encode_header(h, 1, 0, op, n, client ? key : NULL);
  lua_pushlstring(L, (const char *)h, hn);
  if (client) {
    luaL_Buffer b;
    ws_mask_copy((uint8_t *)luaL_buffinitsize(L, &b, n), (const uint8_t *)p, n,
                 key, 0);
    luaL_pushresultsize(&b, n);
  } else {
    lua_pushvalue(L, 2);
  }
  return hs_conn_call(L, 4, "write", 2, 0, results_k);
}

/* ws:ping([data]) -> true | nil, err (the pong is dropped by recv). */
static int ws_ping(lua_State *L) {
  lua_settop(L, 2);
  struct hsess *s = check_ws(L);
  size_t n = 0;
  const char *p = luaL_optlstring(L, 2, "", &n);
  luaL_argcheck(L, n <= WS_MAX_CONTROL, 2, "at most 125 bytes");
  struct conn *c = hs_conn(s);
  if (!c || s->ws_sent_close)
    return hs_fail(L, "closed");
  if (queue_frame(s, c, WS_PING, p, n) != 0)
    return hs_fail(L, "no resources");
  lua_pushboolean(L, 1);
  return 1;
}

/* core.ws_close(ws [, code [, reason]]) -> true, or false when a close
 * was sent already: queues our close frame.  ws:close (Lua) then waits
 * for the peer's. */
static int ws_close_frame(lua_State *L) {
  lua_settop(L, 3);
  struct hsess *s = check_ws(L);
  lua_Integer code = luaL_optinteger(L, 2, 1000);
  size_t rlen = 0;
  const char *reason = luaL_optlstring(L, 3, "", &rlen);
  luaL_argcheck(L, ws_close_code_valid((unsigned)code), 2,
                "not a close code a peer may send");
  luaL_argcheck(L, rlen <= WS_MAX_CONTROL - 2, 3, "at most 123 bytes");
  struct conn *c = hs_conn(s);
  if (!c || s->ws_sent_close) {
    lua_pushboolean(L, 0);
    return 1;
  }
  send_close(s, c, (unsigned)code, reason, rlen);
  lua_pushboolean(L, 1);
  return 1;
}

/* ws:state() -> "open" | "closing" (we sent our close) | "closed" (the
 * peer's came) */
static int ws_state(lua_State *L) {
  lua_settop(L, 1);
  struct hsess *s = check_ws(L);
  lua_pushstring(L, s->ws_got_close || !hs_conn(s) ? "closed"
                    : s->ws_sent_close             ? "closing"
                                                   : "open");
  return 1;
}

const luaL_Reg lhttp_ws_methods[] = {
    {"recv", ws_recv},   {"send", ws_send},
    {"ping", ws_ping},   {"_close_frame", ws_close_frame},
    {"state", ws_state}, {NULL, NULL}};

/* ---- the handshake --------------------------------------------------------
 */

/* core.ws_new(session or response, is_client [, timeout]) -> ws: the
 * session speaks WebSocket from now on. */
int lhttp_ws_new(lua_State *L) {
  lua_settop(L, 3);
  struct hsess *s = hs_check(L, 1); /* its userdata: 4 */
  int client = lua_toboolean(L, 2);
  double t = luaL_optnumber(L, 3, 0);
  luaL_argcheck(L, t >= 0, 3, "negative timeout");
  s->upgraded = 1;
  s->keep = 0;
  s->ws_flags = client ? 0 : WS_SERVER;
  s->ws_ms = t > 0 ? conn_timeout_ms(t) : 0;
  s->acclen = 0;
  lua_newuserdatauv(L, 1, 1);
  lua_pushvalue(L, 4);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, UV_WSMT);
  lua_setmetatable(L, -2);
  return 1;
}

/* core.ws_accept(key) -> the Sec-WebSocket-Accept value | nil */
int lhttp_ws_accept(lua_State *L) {
  size_t n;
  const char *key = luaL_checklstring(L, 1, &n);
  char out[WS_ACCEPT_LEN + 1];
  if (ws_accept(key, n, ws_sha1_openssl, out) != 0)
    return 0;
  lua_pushstring(L, out);
  return 1;
}

/* core.ws_key() -> a fresh Sec-WebSocket-Key (16 random bytes, base64) */
int lhttp_ws_key(lua_State *L) {
  static const char b64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint8_t r[18] = {0};
  char out[WS_KEY_LEN];
  sys_random(r, 16);
  for (int i = 0, o = 0; i < 18; i += 3, o += 4) {
    uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)r[i + 1] << 8 | r[i + 2];
    out[o] = b64[v >> 18];
    out[o + 1] = b64[(v >> 12) & 63];
    out[o + 2] = b64[(v >> 6) & 63];
    out[o + 3] = b64[v & 63];
  }
  out[22] = out[23] = '='; /* 16 bytes: the last group has one byte */
  lua_pushlstring(L, out, WS_KEY_LEN);
  return 1;
}
