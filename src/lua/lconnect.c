/*
 * lconnect.c -- host.connect(address [, options]): resolve the name off
 * the loop, connect to its addresses in the order the resolver gave them
 * (the next one after a refusal, an unreachable network or a timeout),
 * then, with the tls option, the handshake.  Each try and the handshake
 * have a deadline (10 s unless the script gives one for the tries), so a
 * peer that drops SYNs or never answers a ClientHello cannot hold a task
 * for the system's minutes.
 *
 *   host.connect("api.example.com:443", {tls = true, timeout = 5})
 *
 * The state of the attempt is a userdata on the task's stack (argument
 * slot 3), so the address a connect points at lives as long as the wait,
 * and each step is a continuation: resolved_k, connected_k, shaken_k.
 */
#include "lconn.h"
#include "addr.h"
#include "conn.h"
#include "lconn_internal.h"
#include "lhost.h"
#include "lmain.h"
#include "lresolve.h"
#include "ltask.h"
#include "ltls.h"
#include "worker.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STATE 3                /* the state's stack slot */
#define HANDSHAKE_DEFAULT 10.0 /* seconds, also when a timeout is given */
#define CONNECT_DEFAULT 10.0   /* seconds per try when none is given */

struct connect_state {
  struct resolve_result res;       /* the name's addresses */
  struct addr a;                   /* the one being tried */
  struct tls_config *tls;          /* NULL: plain (the VM's cache holds it) */
  char host[RESOLVE_NAME_MAX + 1]; /* the name or address to connect to */
  char sni[RESOLVE_NAME_MAX + 1];  /* TLS: the name to send and verify */
  double timeout;                  /* seconds per try, 0: the default */
  int port;
  int next;       /* the next address to try */
  int lasterr;    /* why the last try failed */
  struct conn *c; /* the try in flight */
};

static struct connect_state *state_of(lua_State *L) {
  return lua_touserdata(L, STATE);
}

static int retryable(int err) {
  return err == IO_ECONNREFUSED || err == IO_ENETUNREACH ||
         err == IO_EHOSTUNREACH || err == IO_ETIMEDOUT ||
         err == IO_EADDRNOTAVAIL || err == IO_EAFNOSUPPORT;
}

static int connected_k(lua_State *L, int status, lua_KContext ctx);

static int try_next(lua_State *L, struct connect_state *st) {
  if (st->next >= st->res.naddrs)
    return lconn_fail(L, NULL, lconn_words[lconn_word_of(st->lasterr)]);
  const union resolve_addr *ra = &st->res.addrs[st->next++];
  memset(&st->a, 0, sizeof st->a);
  if (ra->sa.sa_family == AF_INET6) {
    memcpy(&st->a.ss, &ra->in6, sizeof ra->in6);
    ((struct sockaddr_in6 *)&st->a.ss)->sin6_port =
        htons((unsigned short)st->port);
    st->a.len = (int)sizeof ra->in6;
  } else {
    memcpy(&st->a.ss, &ra->in4, sizeof ra->in4);
    ((struct sockaddr_in *)&st->a.ss)->sin_port =
        htons((unsigned short)st->port);
    st->a.len = (int)sizeof ra->in4;
  }
  struct conn *c = lconn_new(lhost_worker(L));
  if (c)
    c->owner = lvm_of_L(L)->owner;
  if (!c || conn_connect(c, (struct sockaddr *)&st->a.ss, st->a.len) != 0) {
    if (c)
      conn_close(c);
    return luaL_error(L, "not enough memory");
  }
  c->timeout = conn_timeout_ms(st->timeout > 0 ? st->timeout : CONNECT_DEFAULT);
  st->c = c;
  conn_wait_output(c);
  struct task *t = task_of(L);
  c->writer = t;
  return task_yield(L, t, TASK_CONNECT, 0, connected_k);
}

static int shaken_k(lua_State *L, int status, lua_KContext ctx) {
  struct connect_state *st = state_of(L);
  struct conn *c = st->c;
  (void)status, (void)ctx;
  if (conn_tls_ready(c) && !conn_closing(c)) {
    lconn_push(L, c);
    return 1;
  }
  const char *why = c->rerr == IO_ETIMEDOUT ? "timeout"
                    : conn_closing(c)       ? "closed"
                                            : "tls";
  const char *detail = conn_tls_detail(c);
  lua_pushnil(L);
  lua_pushstring(L, why);
  lua_pushstring(L, *detail ? detail : why);
  conn_close(c);
  return 3;
}

static int connected_k(lua_State *L, int status, lua_KContext ctx) {
  struct connect_state *st = state_of(L);
  struct conn *c = st->c;
  int err = c->werr, timedout = (c->flags & CONN_WTIMEDOUT) != 0;
  (void)status, (void)ctx;
  c->timeout = 0; /* the connect timeout is not the connection's */
  c->flags &= ~CONN_WTIMEDOUT;
  c->werr = 0;
  conn_settle_deadline(c);
  if (timedout)
    err = IO_ETIMEDOUT;
  if (err || conn_closing(c)) {
    conn_close(c);
    st->c = NULL;
    st->lasterr = err ? err : IO_ECANCELED;
    if (retryable(st->lasterr))
      return try_next(L, st);
    return lconn_fail(L, NULL, lconn_words[lconn_word_of(st->lasterr)]);
  }
  if (!st->tls) {
    lconn_push(L, c);
    return 1;
  }
  if (conn_tls_start(c, st->tls, st->sni, conn_timeout_ms(HANDSHAKE_DEFAULT)) !=
      0) {
    conn_close(c);
    return lconn_fail(L, NULL, "no resources");
  }
  if (conn_tls_ready(c) || c->rerr)
    return shaken_k(L, LUA_OK, 0);
  return ltls_wait(L, c, 0, shaken_k);
}

static int resolved_k(lua_State *L, int status, lua_KContext ctx) {
  struct connect_state *st = state_of(L);
  (void)status, (void)ctx;
  if (st->res.status != RESOLVE_OK || st->res.naddrs == 0)
    return lconn_fail(L, NULL,
                      st->res.status == RESOLVE_OK
                          ? "not found"
                          : lresolve_error(st->res.status));
  st->lasterr = IO_ECONNREFUSED;
  return try_next(L, st);
}

/* "name:port", "1.2.3.4:port", "[::1]:port" into host and port. */
static void split(lua_State *L, const char *text, struct connect_state *st) {
  const char *colon, *host = text;
  size_t hlen;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (!close || close[1] != ':')
      luaL_argerror(L, 1, "expected [ipv6]:port");
    host = text + 1;
    hlen = (size_t)(close - host);
    colon = close + 1;
  } else {
    colon = strrchr(text, ':');
    if (!colon)
      luaL_argerror(L, 1, "expected host:port");
    hlen = (size_t)(colon - text);
  }
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (!colon[1] || *end || port < 1 || port > 65535)
    luaL_argerror(L, 1, "bad port");
  if (hlen == 0 || hlen > RESOLVE_NAME_MAX)
    luaL_argerror(L, 1, "bad host name");
  if (hlen == 1 && host[0] == '*')
    luaL_argerror(L, 1, "cannot connect to '*'");
  memcpy(st->host, host, hlen);
  st->host[hlen] = '\0';
  st->port = (int)port;
}

/* host.connect(address [, timeout | {timeout =, tls =}]) -> conn | nil,
 * err [, detail] */
int lconn_connect(lua_State *L) {
  const char *text = luaL_checkstring(L, 1);
  double timeout = 0;
  int tls = 0;
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_getfield(L, 2, "timeout");
    timeout = luaL_optnumber(L, -1, 0);
    lua_getfield(L, 2, "tls");
    tls = lua_toboolean(L, -1);
    lua_pop(L, 2);
  } else if (!lua_isnoneornil(L, 2)) {
    timeout = luaL_checknumber(L, 2);
  }
  luaL_argcheck(L, !isnan(timeout) && timeout >= 0, 2, "negative timeout");
  task_current_wait(L, "host.connect");
  lua_settop(L, 2);
  struct connect_state *st = lua_newuserdatauv(L, sizeof *st, 0);
  memset(st, 0, sizeof *st);
  st->timeout = timeout;
  split(L, text, st);
  if (tls) {
    strcpy(st->sni, st->host);
    lua_getfield(L, 2, "tls");
    if (lua_istable(L, -1)) { /* servername = overrides the address's */
      lua_getfield(L, -1, "servername");
      const char *sn = lua_tostring(L, -1);
      if (sn && strlen(sn) <= RESOLVE_NAME_MAX)
        strcpy(st->sni, sn);
      lua_pop(L, 1);
    }
    st->tls = ltls_config(L, -1, 0);
    lua_pop(L, 1);
  }
  return lresolve_wait(L, st->host, strlen(st->host),
                       timeout > 0 ? timeout : 10, &st->res, 0, resolved_k);
}
