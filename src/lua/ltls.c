/*
 * ltls.c -- TLS from Lua: options tables made into engine configurations
 * (cached per worker, so host.connect(..., {tls = true}) a thousand times
 * builds one), the handshake that an accepted connection's task waits
 * for before its handler runs, conn:starttls, and conn.tls.
 *
 * Options are the deployment's, so a bad one raises (with the engine's
 * reason: "cannot open certificate file 'x.pem': No such file or
 * directory"); a handshake that fails is the peer's doing and returns
 * nil, "tls", reason.
 */
#include "ltls.h"
#include "conn.h"
#include "lconn.h"
#include "lconn_internal.h"
#include "lhost.h"
#include "log.h"
#include "ltask.h"
#include "tls.h"
#include "worker.h"

#include <lauxlib.h>
#include <string.h>

#define CONFIG_META "host.tls_config"
#define CONFIG_CACHE "host.tls_configs"
#define MAX_LIST 16 /* ALPN protocols, SNI names, versions */

/* ---- configurations --------------------------------------------------- */

static int config_gc(lua_State *L) {
  struct tls_config **box = luaL_checkudata(L, 1, CONFIG_META);
  if (*box)
    tls_config_unref(*box);
  *box = NULL;
  return 0;
}

/* A string field of the table at idx, or NULL; the key is appended to
 * the cache key being built in b. */
static const char *field(lua_State *L, int idx, const char *name,
                         luaL_Buffer *b) {
  lua_getfield(L, idx, name);
  const char *v = NULL;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "tls option '%s' must be a string", name);
    v = lua_tostring(L, -1);
  }
  lua_pop(L, 1); /* v stays valid: the table holds the string */
  luaL_addstring(b, name);
  luaL_addchar(b, '=');
  luaL_addstring(b, v ? v : "");
  luaL_addchar(b, '\n');
  return v;
}

static int flag(lua_State *L, int idx, const char *name, int def,
                luaL_Buffer *b) {
  lua_getfield(L, idx, name);
  int v = lua_isnil(L, -1) ? def : lua_toboolean(L, -1);
  lua_pop(L, 1);
  luaL_addstring(b, name);
  luaL_addstring(b, v ? "=1\n" : "=0\n");
  return v;
}

/* A list of strings (alpn, protocols) into v[]; returns the count. */
static size_t list(lua_State *L, int idx, const char *name, const char **v,
                   luaL_Buffer *b) {
  size_t n = 0;
  lua_getfield(L, idx, name);
  if (!lua_isnil(L, -1)) {
    luaL_argexpected(L, lua_istable(L, -1), idx, "a table of strings");
    for (lua_Integer i = 1;; i++) {
      if (lua_rawgeti(L, -1, i) == LUA_TNIL) {
        lua_pop(L, 1);
        break;
      }
      if (lua_type(L, -1) != LUA_TSTRING || n == MAX_LIST)
        luaL_error(L,
                   "tls option '%s' must be a list of at most %d "
                   "strings",
                   name, MAX_LIST);
      v[n++] = lua_tostring(L, -1);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  luaL_addstring(b, name);
  luaL_addchar(b, '=');
  for (size_t i = 0; i < n; i++) {
    luaL_addstring(b, v[i]);
    luaL_addchar(b, ',');
  }
  luaL_addchar(b, '\n');
  return n;
}

/* servers = {["a.example"] = {cert =, key =}, ...}, in a stable order
 * for the cache key (sorted by name). */
static size_t servers(lua_State *L, int idx, struct tls_server_cert *v,
                      luaL_Buffer *b) {
  size_t n = 0;
  lua_getfield(L, idx, "servers");
  if (!lua_isnil(L, -1)) {
    luaL_argexpected(L, lua_istable(L, -1), idx, "a table of servers");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1) ||
          n == MAX_LIST)
        luaL_error(L,
                   "tls option 'servers' maps at most %d names to "
                   "{cert =, key =}",
                   MAX_LIST);
      struct tls_server_cert s;
      s.name = lua_tostring(L, -2);
      lua_getfield(L, -1, "cert");
      lua_getfield(L, -2, "key");
      s.cert = lua_tostring(L, -2);
      s.key = lua_tostring(L, -1);
      lua_pop(L, 3);
      if (!s.cert || !s.key)
        luaL_error(L, "tls server '%s' needs cert and key", s.name);
      size_t i = n++;
      while (i > 0 && strcmp(v[i - 1].name, s.name) > 0) {
        v[i] = v[i - 1];
        i--;
      }
      v[i] = s;
    }
  }
  lua_pop(L, 1);
  for (size_t i = 0; i < n; i++) {
    luaL_addstring(b, v[i].name);
    luaL_addchar(b, '=');
    luaL_addstring(b, v[i].cert);
    luaL_addchar(b, ',');
    luaL_addstring(b, v[i].key);
    luaL_addchar(b, '\n');
  }
  return n;
}

struct tls_config *ltls_config(lua_State *L, int idx, int server) {
  struct tls_options o;
  const char *alpn[MAX_LIST], *protocols[MAX_LIST];
  struct tls_server_cert srv[MAX_LIST];
  memset(&o, 0, sizeof o);
  o.role = server ? TLS_SERVER : TLS_CLIENT;
  idx = lua_absindex(L, idx);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, server ? "server\n" : "client\n");
  if (lua_istable(L, idx)) {
    o.cert = field(L, idx, "cert", &b);
    o.key = field(L, idx, "key", &b);
    o.ca = field(L, idx, "ca", &b);
    if (server)
      o.verify = flag(L, idx, "verify_peer", 0, &b) ? TLS_VERIFY_PEER
                                                    : TLS_VERIFY_NONE;
    else
      o.verify =
          flag(L, idx, "verify", 1, &b) ? TLS_VERIFY_PEER : TLS_VERIFY_NONE;
    o.alpn = alpn;
    o.nalpn = list(L, idx, "alpn", alpn, &b);
    o.protocols = protocols;
    o.nprotocols = list(L, idx, "protocols", protocols, &b);
    if (server) {
      o.servers = srv;
      o.nservers = servers(L, idx, srv, &b);
    }
  } else {
    o.verify = server ? TLS_VERIFY_NONE : TLS_VERIFY_PEER;
  }
  luaL_pushresult(&b);
  int key = lua_gettop(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, CONFIG_CACHE);
  lua_pushvalue(L, key);
  if (lua_rawget(L, -2) == LUA_TUSERDATA) {
    struct tls_config *cfg = *(struct tls_config **)lua_touserdata(L, -1);
    lua_pop(L, 3);
    return cfg; /* the cache holds the reference */
  }
  lua_pop(L, 1);
  struct tls_config **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, CONFIG_META);
  char err[256];
  *box = tls_config_new(&o, err, sizeof err);
  if (!*box)
    luaL_error(L, "tls: %s", err);
  lua_pushvalue(L, key);
  lua_pushvalue(L, -2);
  lua_rawset(L, -4); /* cache[key] = box */
  struct tls_config *cfg = *box;
  lua_pop(L, 3);
  return cfg;
}

/* ---- the handshake -------------------------------------------------- */

/* The handshake ended: true, or nil, "tls" | "timeout", detail. */
static int handshake_result(lua_State *L, struct conn *c) {
  if (c && conn_tls_ready(c)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  const char *detail = c ? conn_tls_detail(c) : "";
  lua_pushnil(L);
  lua_pushstring(L, c && c->rerr == IO_ETIMEDOUT ? "timeout"
                    : c && !conn_closing(c)      ? "tls"
                                                 : "closed");
  lua_pushstring(L, *detail ? detail : "connection closed");
  if (c)
    c->lasterr = W_ERROR;
  return 3;
}

int ltls_wait(lua_State *L, struct conn *c, lua_KContext ctx, lua_KFunction k) {
  struct task *t = task_of(L);
  conn_wait_handshake(c);
  c->writer = t;
  return task_yield(L, t, TASK_HANDSHAKE, ctx, k);
}

/* An accepted TLS connection's task body: wait for the handshake, then
 * run the handler (upvalue 1) with the conn (argument 1).  A failed
 * handshake is the peer's doing: logged at debug level, the handler never
 * runs. */
static int accept_k(lua_State *L, int status, lua_KContext ctx) {
  struct conn_box *b = lua_touserdata(L, 1);
  struct conn *c = b->c;
  (void)status;
  if (ctx == 1) /* the handler has returned */
    return lua_gettop(L) - 1;
  if (!c || !conn_tls_ready(c)) {
    if (c) {
      char peer[ADDR_TEXT_MAX];
      conn_peer(c, peer, sizeof peer);
      log_write(LOG_DEBUG, c->set->worker, "TLS handshake failed (peer %s): %s",
                peer, conn_tls_detail(c));
    }
    return 0;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  lua_callk(L, 1, LUA_MULTRET, 1, accept_k);
  return lua_gettop(L) - 1;
}

static int accept_tls(lua_State *L) {
  struct conn *c = ((struct conn_box *)lua_touserdata(L, 1))->c;
  if (c && !conn_tls_ready(c) && !c->rerr)
    return ltls_wait(L, c, 0, accept_k);
  return accept_k(L, LUA_OK, 0);
}

void ltls_push_acceptor(lua_State *L) {
  lua_pushcclosure(L, accept_tls, 1); /* the handler is the upvalue */
}

/* ---- conn:starttls and conn.tls --------------------------------------------
 */

static int starttls_k(lua_State *L, int status, lua_KContext ctx) {
  struct conn_box *b = lua_touserdata(L, 1);
  (void)status, (void)ctx;
  return handshake_result(L, b->c);
}

/* Whether client options at idx verify the server (verify is not false). */
static int verifies(lua_State *L, int idx) {
  if (!lua_istable(L, idx))
    return 1;
  lua_getfield(L, idx, "verify");
  int v = lua_isnil(L, -1) || lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* conn:starttls([opts]): the server side on an accepted connection, the
 * client side on one from host.connect (opts.servername for SNI and the
 * name to verify, required unless verify = false: the connection does not
 * know the name it was made with, and a chain checked without a name
 * proves nothing about the peer; opts.handshake the deadline, default
 * 10 s). */
int ltls_starttls(lua_State *L) {
  struct conn *c = lconn_check(L, 1);
  int server = !(c->flags & CONN_CLIENT);
  luaL_argcheck(L, lua_isnoneornil(L, 2) || lua_istable(L, 2), 2,
                "a table of TLS options");
  task_current_wait(L, "conn:starttls");
  if (c->tls)
    return luaL_error(L, "TLS is already on for this connection");
  if (c->reader || c->writer || conn_sending(c))
    return luaL_error(L, "conn:starttls needs the connection quiet (no "
                         "task reading or sending, nothing queued)");
  if (server && (lua_isnoneornil(L, 2)))
    return luaL_argerror(L, 2, "a server needs {cert =, key =}");
  double hs = 10;
  const char *name = NULL;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "handshake");
    hs = luaL_optnumber(L, -1, 10);
    lua_getfield(L, 2, "servername");
    name = lua_tostring(L, -1);
    lua_pop(L, 2); /* name stays valid: the table holds it */
  }
  luaL_argcheck(L, hs > 0, 2, "handshake must be positive");
  if (!server && !name && verifies(L, 2))
    return luaL_argerror(L, 2,
                         "a client needs servername = the name to verify "
                         "(or verify = false)");
  struct tls_config *cfg = ltls_config(L, 2, server);
  lua_settop(L, 2);
  if (conn_tls_start(c, cfg, name, conn_timeout_ms(hs)) != 0)
    return lconn_fail(L, c, "no resources");
  if (conn_tls_ready(c) || c->rerr)
    return handshake_result(L, c);
  return ltls_wait(L, c, 0, starttls_k);
}

int ltls_push_info(lua_State *L, struct conn *c) {
  struct tls_session *s = conn_tls_session(c);
  struct tls_info info;
  if (!s || !conn_tls_ready(c) || tls_info(s, &info) != TLS_OK) {
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, 0, 6);
  lua_pushstring(L, info.version);
  lua_setfield(L, -2, "version");
  lua_pushstring(L, info.cipher);
  lua_setfield(L, -2, "cipher");
  if (*info.alpn) {
    lua_pushstring(L, info.alpn);
    lua_setfield(L, -2, "alpn");
  }
  if (*info.servername) {
    lua_pushstring(L, info.servername);
    lua_setfield(L, -2, "servername");
  }
  lua_pushboolean(L, info.verified);
  lua_setfield(L, -2, "verified");
  if (*info.peer) {
    lua_pushstring(L, info.peer);
    lua_setfield(L, -2, "peer");
  }
  return 1;
}

void ltls_open(lua_State *L) {
  luaL_newmetatable(L, CONFIG_META);
  lua_pushcfunction(L, config_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
}
