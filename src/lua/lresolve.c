/*
 * lresolve.c -- names, without blocking the loop: host.resolve, and the
 * wait that host.connect("name:port") makes.
 *
 * A name that is an address (or "localhost") is answered at once.  Any
 * other goes to the process's resolver pool (util/resolve.h), whose
 * answer comes back on a pool thread; the request record is itself the
 * inbox message (MSG_CALL) that carries it to the worker, so answering
 * allocates nothing and cannot fail.  The task waits with a deadline (a
 * sleeper): if it passes first, the request is cancelled, or, when the
 * answer is already on its way, left to free itself on arrival.
 */
#include "lresolve.h"
#include "addr.h"
#include "host.h"
#include "lhost.h"
#include "lmain.h"
#include "ltask.h"
#include "worker.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESOLVE_TIMEOUT 10.0 /* seconds, when the caller gives none */

struct lresolve {
  struct msg m;               /* first: the inbox hands it back */
  struct resolve_req req;     /* the pool's */
  struct worker *w;           /* whose inbox */
  struct task *t;             /* the waiting task, NULL once abandoned */
  struct resolve_result *dst; /* the answer goes here (on t's stack) */
};

/* On the worker (run) or wherever it cannot run any more. */
static void on_answer(struct worker *w, struct msg *m, int run) {
  struct lresolve *r = (struct lresolve *)m;
  struct task *t = r->t;
  (void)w;
  if (run && t) {
    *r->dst = r->req.res;
    t->ud = NULL;
    task_unsleep(t);
    free(r);
    task_resume(t, 0);
    return;
  }
  free(r); /* the task is not touched: a stopping worker may have freed
               it (a forced stop drops every task) */
}

/* On a pool thread: the answer goes home through the inbox. */
static void on_done(struct resolve_req *req) {
  struct lresolve *r = req->data;
  worker_post(r->w, &r->m);
}

/* The deadline passed before the answer came. */
static void on_timeout(struct io_op *op) {
  struct sleeper *s = op->data;
  struct task *t = s->task;
  int res = op->res;
  sleeper_release(s->w, s);
  if (!t || res != 0 || !t->ud)
    return;
  struct lresolve *r = t->ud;
  t->ud = NULL;
  r->dst->status = LRESOLVE_TIMEOUT;
  r->t = NULL;
  if (resolve_cancel(r->w->host->resolver, &r->req) == 0)
    free(r); /* else the answer is on its way: on_answer frees it */
  task_resume(t, 0);
}

int lresolve_wait(lua_State *L, const char *name, size_t len, double timeout,
                  struct resolve_result *dst, lua_KContext ctx,
                  lua_KFunction k) {
  struct worker *w = lhost_worker(L);
  if (resolve_fast(name, len, RESOLVE_ANY, dst))
    return k(L, LUA_OK, ctx);
  struct task *t = task_current_wait(L, "name resolution");
  struct resolver *pool = w->host->resolver;
  struct lresolve *r = pool ? calloc(1, sizeof *r) : NULL;
  if (!r) {
    dst->status = RESOLVE_ENOMEM;
    return k(L, LUA_OK, ctx);
  }
  r->m.type = MSG_CALL;
  r->m.call = on_answer;
  r->req.done = on_done;
  r->req.data = r;
  r->w = w;
  r->t = t;
  r->dst = dst;
  int err = resolve_submit(pool, &r->req, name, len, RESOLVE_ANY);
  if (err) {
    free(r);
    dst->status = err;
    return k(L, LUA_OK, ctx);
  }
  if (task_sleep(t, timeout, on_timeout) != 0) {
    if (resolve_cancel(pool, &r->req) == 0)
      free(r);
    else
      r->t = NULL;
    dst->status = RESOLVE_ENOMEM;
    return k(L, LUA_OK, ctx);
  }
  t->ud = r;
  return task_yield(L, t, TASK_RESOLVE, ctx, k);
}

const char *lresolve_error(int status) {
  switch (status) {
  case LRESOLVE_TIMEOUT: return "timeout";
  case RESOLVE_ENOTFOUND:
  case RESOLVE_EINVAL: return "not found";
  case RESOLVE_EFULL:
  case RESOLVE_ENOMEM: return "no resources";
  default: return resolve_strerror(status); /* "temporary failure"... */
  }
}

/* host.resolve(name [, timeout]) -> { "addr", ... } | nil, err */
static int resolve_k(lua_State *L, int status, lua_KContext ctx) {
  struct resolve_result *res = lua_touserdata(L, (int)ctx);
  (void)status;
  if (res->status != RESOLVE_OK)
    return lhost_fail(L, lresolve_error(res->status));
  if (res->naddrs == 0)
    return lhost_fail(L, "not found");
  lua_createtable(L, res->naddrs, 0);
  for (int i = 0; i < res->naddrs; i++) {
    char buf[ADDR_TEXT_MAX];
    lresolve_format(&res->addrs[i], buf, sizeof buf);
    lua_pushstring(L, buf);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

void lresolve_format(const union resolve_addr *a, char *buf, size_t size) {
  char tmp[ADDR_TEXT_MAX];
  addr_format(&a->sa, tmp, sizeof tmp); /* "ip:0" or "[ip]:0" */
  char *colon = strrchr(tmp, ':');
  if (colon)
    *colon = '\0';
  const char *ip = tmp;
  if (tmp[0] == '[') { /* an address, not a host:port: no brackets */
    ip = tmp + 1;
    char *close = strchr(tmp, ']');
    if (close)
      *close = '\0';
  }
  snprintf(buf, size, "%s", ip);
}

int lresolve_lua(lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  double timeout = luaL_optnumber(L, 2, RESOLVE_TIMEOUT);
  luaL_argcheck(L, !isnan(timeout) && timeout > 0, 2, "positive seconds");
  lua_settop(L, 2);
  struct resolve_result *res = lua_newuserdatauv(L, sizeof *res, 0);
  memset(res, 0, sizeof *res);
  return lresolve_wait(L, name, len, timeout, res, 3, resolve_k);
}
