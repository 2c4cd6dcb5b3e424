/*
 * llistener.c -- host.listen and the "host.listener" type: options, the
 * handler kept as a registry ref in the listener, and each accepted
 * connection started as a handler task.  The listener itself (accepting,
 * back-off, groups across workers) is src/host/listener.c.
 */
#include "llistener.h"
#include "conn.h"
#include "lconn.h"
#include "lhost.h"
#include "fault.h"
#include "group.h"
#include "listener.h"
#include "lmain.h"
#include "log.h"
#include "lproxy.h"
#include "ltask.h"
#include "ltls.h"
#include "tls.h"
#include "worker.h"

#include <lauxlib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LISTENER_META "host.listener"
#define LISTEN_COUNTS "host.listen_counts"
#define DEFAULT_BACKLOG 511

/* The Lua userdata of a listener: a box, as for connections. */
struct listener_box {
  struct listener *l;
};

/* The handler is a registry ref, kept in the listener's ud. */
static int handler_ref(const struct listener *l) {
  return (int)(intptr_t)l->ud;
}

/* A reloading VM's host.listen on an address its predecessor listens
 * on: the listener changes hands when the new script has loaded
 * (llistener_commit), so that its socket is never closed; until then the
 * old handler serves.  Kept in listener.next. */
struct pending {
  struct lvm *vm;           /* the new owner */
  int ref;                  /* its handler, in vm's registry */
  struct listener_box *box; /* its box in vm, NULL once collected */
  struct lopts {
    uint32_t maxline, maxread, timeout, idle, handshake, proxy_ms;
    int proxy;
    struct tls_config *tls; /* a reference, or NULL */
  } o;
};

static void drop_pending(struct listener *l) {
  struct pending *p = l->next;
  if (p->vm->L)
    luaL_unref(p->vm->L, LUA_REGISTRYINDEX, p->ref);
  if (p->box)
    p->box->l = NULL;
  if (p->o.tls)
    tls_config_unref(p->o.tls);
  free(p);
  l->next = NULL;
}

static void on_listener_free(struct listener *l) {
  struct lvm *vm = l->owner;
  if (vm && vm->L) /* a forced end may come after the VM is gone */
    luaL_unref(vm->L, LUA_REGISTRYINDEX, handler_ref(l));
  if (l->next)
    drop_pending(l);
}

/* The options of o on l (o's TLS reference is l's then). */
static void apply(struct listener *l, const struct lopts *o) {
  l->maxline = o->maxline;
  l->maxread = o->maxread;
  l->timeout = o->timeout;
  l->idle = o->idle;
  l->handshake = o->handshake;
  l->proxy = o->proxy;
  l->proxy_ms = o->proxy_ms;
  if (l->tls)
    tls_config_unref(l->tls);
  l->tls = o->tls;
}

/* Protected part of an accept: everything that may raise (memory). */
static int accept_p(lua_State *L) {
  struct listener *l = lua_touserdata(L, 1);
  struct conn *c = lua_touserdata(L, 2);
  lua_settop(L, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, handler_ref(l));
  if (l->tls) /* the handshake first, in the task, then the handler */
    ltls_push_acceptor(L);
  if (l->proxy) /* before that, the PROXY header (then TLS starts) */
    lproxy_push_acceptor(L, l->tls, l->handshake, l->proxy_ms);
  lconn_push(L, c);
  if (!task_spawn(l->w, L, 1, TASK_HANDLER, c, 1, 0))
    return luaL_error(L, "not enough memory");
  return 0;
}

static void on_conn(struct listener *l, io_sock sock) {
  struct worker *w = l->w;
  struct lvm *vm = l->owner;
  struct conn *c = vm->L && !vm->killed ? lconn_new(w) : NULL;
  if (!c) {
    io_sock_close(sock);
    return;
  }
  c->owner = vm->owner;
  if (conn_open(c, sock) != 0)
    return; /* conn_open freed c and closed the socket */
  c->maxline = l->maxline;
  c->maxread = l->maxread;
  c->timeout = l->timeout;
  c->idle = l->idle;
  if (l->tls && !l->proxy &&
      conn_tls_start(c, l->tls, NULL, l->handshake) != 0) {
    conn_close(c);
    return;
  }
  lua_State *L = vm->L;
  lua_pushcfunction(L, accept_p);
  lua_pushlightuserdata(L, l);
  lua_pushlightuserdata(L, c);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    log_write(LOG_ERROR, w->id, "cannot start a handler: %s",
              lua_tostring(L, -1));
    lua_pop(L, 1);
    conn_close(c); /* no task took it: nothing raises after task_spawn */
  }
}

static struct listener *tolistener(lua_State *L) {
  struct listener_box *b = luaL_checkudata(L, 1, LISTENER_META);
  if (!b->l || listener_closing(b->l))
    luaL_error(L, "attempt to use a closed listener");
  return b->l;
}

static uint32_t opt_limit(lua_State *L, int idx, const char *name,
                          uint32_t def) {
  if (!idx)
    return def;
  lua_getfield(L, idx, name);
  lua_Integer v =
      lua_isnil(L, -1) ? (lua_Integer)def : luaL_checkinteger(L, -1);
  if (v < 1 || v > ((lua_Integer)1 << 30))
    luaL_error(L, "option '%s' out of range", name);
  lua_pop(L, 1);
  return (uint32_t)v;
}

static void read_opts(lua_State *L, int opts, struct lopts *o) {
  double timeout = 0, handshake = 10, proxy_timeout = 5, idle = 0;
  memset(o, 0, sizeof *o);
  o->maxline = opt_limit(L, opts, "maxline", CONN_MAXLINE);
  o->maxread = opt_limit(L, opts, "maxread", CONN_MAXREAD);
  if (opts) {
    lua_getfield(L, opts, "timeout");
    timeout = luaL_optnumber(L, -1, 0);
    lua_getfield(L, opts, "handshake");
    handshake = luaL_optnumber(L, -1, 10);
    lua_getfield(L, opts, "proxy_timeout");
    proxy_timeout = luaL_optnumber(L, -1, 5);
    lua_getfield(L, opts, "proxy_protocol");
    o->proxy = lua_toboolean(L, -1);
    lua_getfield(L, opts, "idle");
    idle = luaL_optnumber(L, -1, 0);
    lua_pop(L, 5);
    if (!(handshake > 0))
      luaL_error(L, "option 'handshake' must be positive");
    if (!(idle >= 0))
      luaL_error(L, "option 'idle' must be seconds (0: none)");
    if (!(proxy_timeout > 0))
      luaL_error(L, "option 'proxy_timeout' must be positive");
    if (lua_getfield(L, opts, "tls") != LUA_TNIL) {
      if (!lua_istable(L, -1))
        luaL_error(L, "option 'tls' must be a table {cert =, key =, ...}");
      o->tls = ltls_config(L, -1, 1); /* the VM's cache holds it */
    }
    lua_pop(L, 1);
  }
  o->timeout = timeout > 0 ? conn_timeout_ms(timeout) : 0;
  o->idle = idle > 0 ? conn_timeout_ms(idle) : 0;
  o->handshake = conn_timeout_ms(handshake);
  o->proxy_ms = conn_timeout_ms(proxy_timeout);
}

/* A listener of this worker on `key` that an older VM owns. */
static struct listener *inherited(struct worker *w, struct lvm *vm,
                                  const char *key) {
  for (struct list_node *n = list_first(&w->listeners); n;
       n = list_next(&w->listeners, n)) {
    struct listener *l = list_entry(n, struct listener, node);
    if (!listener_closing(l) && l->owner != vm &&
        strcmp(group_key(l->group), key) == 0)
      return l;
  }
  return NULL;
}

/* [box, handler] -> [box]: l goes to vm at the commit.  1, or 0 and
 * the error text. */
static int take_over(lua_State *L, struct listener *l, struct lvm *vm,
                     struct lopts *o) {
  struct pending *p;
  if (l->next || fault_fail(FAULT_C, "listener hand-over") ||
      !(p = calloc(1, sizeof *p))) {
    lua_pop(L, 2);
    lua_pushstring(L, l->next ? "address already in use" : "not enough memory");
    return 0;
  }
  p->vm = vm;
  p->ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops the handler */
  p->box = lua_touserdata(L, -1);
  p->box->l = l;
  p->o = *o;
  if (o->tls)
    tls_config_ref(o->tls);
  l->next = p;
  return 1;
}

int lhost_listen(lua_State *L, struct worker *w, const char *text, int opts) {
  struct addr a;
  char msg[160];
  if (addr_parse(text, &a, msg, sizeof msg) != 0) {
    lua_pop(L, 1);
    lua_pushstring(L, msg);
    return -1;
  }
  int backlog = (int)opt_limit(L, opts, "backlog", DEFAULT_BACKLOG);
  struct lopts o;
  read_opts(L, opts, &o);
  struct lvm *vm = lvm_of_L(L);
  if (w->stopping || vm->draining) {
    lua_pop(L, 1);
    lua_pushliteral(L, "closed");
    return 0;
  }
  /* Every worker's listen on one address is one group, whatever the
   * spelling ("localhost:80", "127.0.0.1:080").  Port 0 asks for a fresh
   * port each time: there the k-th listen of each worker is one group. */
  char key[ADDR_TEXT_MAX + 32];
  addr_format((struct sockaddr *)&a.ss, key, ADDR_TEXT_MAX);
  if (addr_port(&a) == 0) {
    lua_getfield(L, LUA_REGISTRYINDEX, LISTEN_COUNTS);
    lua_getfield(L, -1, key);
    lua_Integer k = lua_tointeger(L, -1) + 1;
    lua_pop(L, 1);
    lua_pushinteger(L, k);
    lua_setfield(L, -2, key);
    lua_pop(L, 1);
    size_t n = strlen(key);
    snprintf(key + n, sizeof key - n, "#%lld", (long long)k);
  }

  struct listener *l;
  /* Everything that may raise before the listener exists. */
  struct listener_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->l = NULL;
  luaL_setmetatable(L, LISTENER_META);
  lua_insert(L, -2); /* [box, handler] */
  /* A reload: the address's listener stays open and changes hands. */
  if (vm->loading && (l = inherited(w, vm, key)) != NULL)
    return take_over(L, l, vm, &o);
  lua_pushvalue(L, -1);
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pop(L, 1);
  int err = listener_open(w, key, &a, backlog, on_conn, on_listener_free,
                          (void *)(intptr_t)ref, &l);
  if (err) {
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    lua_pop(L, 1);
    lua_pushstring(L, io_strerror(err, msg, sizeof msg));
    return 0;
  }
  if (o.tls)
    tls_config_ref(o.tls);
  apply(l, &o);
  l->owner = vm;
  b->l = l;
  l->box = b;
  log_write(LOG_INFO, w->id, "listening on %s", l->address);
  return 1;
}

void llistener_commit(struct worker *w, struct lvm *vm) {
  struct list_node *n = list_first(&w->listeners), *next;
  for (; n; n = next) {
    next = list_next(&w->listeners, n); /* a close may free it */
    struct listener *l = list_entry(n, struct listener, node);
    struct pending *p = l->next;
    if (p && p->vm == vm) {
      struct lvm *old = l->owner;
      if (old && old->L)
        luaL_unref(old->L, LUA_REGISTRYINDEX, handler_ref(l));
      if (l->box) /* the old script's handle on it is closed */
        ((struct listener_box *)l->box)->l = NULL;
      l->ud = (void *)(intptr_t)p->ref;
      l->owner = vm;
      l->box = p->box;
      apply(l, &p->o);
      free(p);
      l->next = NULL;
    } else if (l->owner != vm && !listener_closing(l)) {
      listener_close(l); /* the new script does not listen there */
    }
  }
}

void llistener_rollback(struct worker *w, struct lvm *vm) {
  struct list_node *n = list_first(&w->listeners), *next;
  for (; n; n = next) {
    next = list_next(&w->listeners, n);
    struct listener *l = list_entry(n, struct listener, node);
    struct pending *p = l->next;
    if (p && p->vm == vm)
      drop_pending(l);
    else if (l->owner == vm && !listener_closing(l))
      listener_close(l);
  }
}

/* host.listen(address, handler [, options]) -> listener | nil, err */
int llistener_listen(lua_State *L) {
  struct worker *w = lhost_worker(L);
  const char *text = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  int opts = 0;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    opts = 3;
  }
  lua_pushvalue(L, 2);
  int r = lhost_listen(L, w, text, opts);
  if (r < 0)
    return luaL_argerror(L, 1, lua_tostring(L, -1));
  if (r == 0) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  return 1;
}

static int llistener_close(lua_State *L) {
  listener_close(tolistener(L));
  lua_pushboolean(L, 1);
  return 1;
}

/* __close: a listener in a to-be-closed variable closes at the end of
 * its block (unlike __gc, see below). */
static int llistener_tbc(lua_State *L) {
  struct listener_box *b = luaL_checkudata(L, 1, LISTENER_META);
  if (b->l && !listener_closing(b->l))
    listener_close(b->l);
  return 0;
}

static int llistener_gc(lua_State *L) {
  /* A listener lives until closed or the host stops, not until its box
   * is collected: `host.listen(...)` without keeping the result is the
   * usual way to call it. */
  struct listener_box *b = luaL_checkudata(L, 1, LISTENER_META);
  struct listener *l = b->l;
  if (l && l->box == b)
    l->box = NULL;
  if (l && l->next && ((struct pending *)l->next)->box == b)
    ((struct pending *)l->next)->box = NULL;
  b->l = NULL;
  return 0;
}

static int llistener_tostring(lua_State *L) {
  struct listener_box *b = luaL_checkudata(L, 1, LISTENER_META);
  if (!b->l || listener_closing(b->l))
    lua_pushliteral(L, "host.listener (closed)");
  else
    lua_pushfstring(L, "host.listener (%s)", b->l->address);
  return 1;
}

static int llistener_index(lua_State *L) {
  const char *key = lua_tostring(L, 2);
  if (key && strcmp(key, "address") == 0) {
    lua_pushstring(L, tolistener(L)->address);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

/* ---- the type --------------------------------------------------------- */

static const luaL_Reg meth[] = {{"close", llistener_close}, {NULL, NULL}};

static const luaL_Reg metameth[] = {
    {"__gc", llistener_gc},
    {"__close", llistener_tbc},
    {"__tostring", llistener_tostring},
    {"__index", NULL}, /* placeholder, set below */
    {NULL, NULL}};

void llistener_open(lua_State *L) {
  luaL_newmetatable(L, LISTENER_META);
  luaL_setfuncs(L, metameth, 0);
  luaL_newlib(L, meth);
  lua_pushcclosure(L, llistener_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, LISTEN_COUNTS);
}
