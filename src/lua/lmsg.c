/*
 * lmsg.c -- host.post, host.broadcast and host.receive (see lmsg.h).
 *
 * Sending encodes the values once into the VM's reusable buffer (which
 * raises for what cannot travel, with nothing allocated yet), copies the
 * bytes into a mail and posts it (mail.h); a full or closed inbox is the
 * receiver's state, not the script's mistake, so it returns nil, err.
 *
 * Receiving takes the next mail at once when no other task is waiting
 * for one; otherwise the task waits in line.  When mail arrives the
 * worker calls lmsg_deliver, which gives each waiting task, oldest first,
 * a mail of its own and schedules it; the task decodes its mail when it
 * runs (so a decoding that runs out of memory raises in that task, where
 * the mail is freed next time rather than lost).  Timeouts are sleepers,
 * as for host.wait.  When the worker stops, its inbox closes: what was
 * queued can still be received, and then host.receive returns nil,
 * "closed", so a receiving loop ends.
 */
#include "lmsg.h"
#include "host.h"
#include "lhost.h"
#include "lmain.h"
#include "ltask.h"
#include "mail.h"
#include "worker.h"

#include <lauxlib.h>
#include <math.h>
#include <string.h>

#define ENC_KEEP ((size_t)1 << 20) /* a bigger encoder buffer is let go */

enum { RECV_WAITING, RECV_MAIL, RECV_TIMEOUT, RECV_CLOSED };

/* A task in host.receive. */
struct receiver {
  struct list_node node; /* in lmsg.waiters, then lmsg.woken */
  struct task *t;        /* the task (t->ud points back) */
  struct mail *m;        /* the mail handed to it (RECV_MAIL) */
  int why;               /* RECV_* */
};

void lmsg_init(struct lmsg *s) {
  lcodec_buf_init(&s->enc, LMSG_MAX_BYTES);
  s->decoding = NULL;
  list_init(&s->waiters);
  list_init(&s->woken);
  pool_init(&s->pool, sizeof(struct receiver), 32);
}

/* Mail handed to tasks that never ran again goes back to the worker,
 * which counts it with the rest that nobody received. */
static void give_back(struct worker *w, struct list *l) {
  for (struct list_node *n = list_first(l); n; n = list_next(l, n)) {
    struct receiver *r = list_entry(n, struct receiver, node);
    if (r->m)
      mail_unget(w, r->m);
    r->m = NULL;
  }
}

void lmsg_close(struct worker *w, struct lmsg *s) {
  lcodec_buf_free(&s->enc);
  mail_free(s->decoding);
  s->decoding = NULL;
  give_back(w, &s->woken);
  give_back(w, &s->waiters);
  list_init(&s->waiters);
  list_init(&s->woken);
  pool_destroy(&s->pool);
}

/* The serving VM's: mail goes there.  A task uses its own VM's
 * (t->vm->msg): after a reload the old VM's receivers are told "closed"
 * (lmsg_end) and new mail goes to the new script. */
static struct lmsg *state_of(struct worker *w) { return &lvm_of(w)->msg; }

/* ---- sending ----------------------------------------------------------- */

/* Encodes the n values from slot first into the VM's buffer. */
static struct lcodec_buf *encode(lua_State *L, struct worker *w, int first,
                                 int n) {
  struct lcodec_buf *b = &lvm_of_L(L)->msg.enc;
  (void)w;
  if (b->cap > ENC_KEEP)
    lcodec_buf_free(b); /* one huge message does not pin its buffer */
  lcodec_encode(L, first, n, b);
  return b;
}

static int post_result(lua_State *L, int r) {
  if (r == MAIL_ENOMEM)
    return luaL_error(L, "not enough memory");
  if (r)
    return lhost_fail(L, r == MAIL_EFULL ? "full" : "closed");
  lua_pushboolean(L, 1);
  return 1;
}

int lmsg_post(lua_State *L) {
  struct worker *w = lhost_worker(L);
  lua_Integer to = luaL_checkinteger(L, 1);
  luaL_argcheck(L, to >= 1 && to <= w->host->nworkers, 1, "no such worker");
  struct lcodec_buf *b = encode(L, w, 2, lua_gettop(L) - 1);
  struct mail *m = mail_new(w->id, b->len);
  if (!m)
    return luaL_error(L, "not enough memory");
  memcpy(m->data, b->data, b->len);
  struct worker *dst = w->host->workers[to - 1];
  int r = dst ? mail_post(dst, m) : MAIL_ECLOSED;
  if (r)
    mail_free(m);
  return post_result(L, r);
}

int lmsg_broadcast(lua_State *L) {
  struct worker *w = lhost_worker(L);
  struct lcodec_buf *b = encode(L, w, 1, lua_gettop(L));
  return post_result(L, mail_broadcast(w->host, w->id, b->data, b->len));
}

/* ---- receiving --------------------------------------------------------- */

/* Pushes m's sender and values, frees m; returns how many were pushed. */
static int push_mail(lua_State *L, struct lmsg *s, struct mail *m) {
  mail_free(s->decoding); /* left by a decoding that raised */
  s->decoding = m;
  lua_pushinteger(L, m->from);
  int n = lcodec_decode(L, m->data, m->len); /* raises only on memory */
  s->decoding = NULL;
  mail_free(m);
  if (n < 0)
    return luaL_error(L, "host.receive: message with too many values");
  return n + 1;
}

static int receive_k(lua_State *L, int status, lua_KContext ctx) {
  struct task *t = task_of(L);
  struct lmsg *s = &t->vm->msg;
  struct receiver *r = t->ud;
  (void)status, (void)ctx;
  t->ud = NULL;
  list_remove(&r->node);
  struct mail *m = r->m;
  int why = r->why;
  pool_put(&s->pool, r);
  if (m)
    return push_mail(L, s, m);
  return lhost_fail(L, why == RECV_TIMEOUT ? "timeout" : "closed");
}

/* Out of the line of waiters, into the answered ones. */
static void answer(struct worker *w, struct receiver *r, int why) {
  list_remove(&r->node);
  list_append(&r->t->vm->msg.woken, &r->node);
  w->mail.waiters--;
  r->why = why;
}

void lmsg_end(struct worker *w, struct lmsg *s) {
  while (!list_empty(&s->waiters)) {
    struct receiver *r =
        list_entry(list_first(&s->waiters), struct receiver, node);
    answer(w, r, RECV_CLOSED);
    task_unsleep(r->t);
    task_schedule(r->t, 0);
  }
}

static void on_timeout(struct io_op *op) {
  struct sleeper *sl = op->data;
  struct task *t = sl->task;
  int res = op->res;
  sleeper_release(sl->w, sl);
  if (t && res == 0 && t->ud) {
    struct receiver *r = t->ud;
    if (r->why == RECV_WAITING) {
      answer(t->w, r, RECV_TIMEOUT);
      task_resume(t, 0);
    }
  }
}

void lmsg_deliver(struct worker *w) {
  struct lmsg *s = state_of(w);
  while (!list_empty(&s->waiters)) {
    struct mail *m = mail_take(w);
    if (!m && !mail_closed(w))
      break;
    struct receiver *r =
        list_entry(list_first(&s->waiters), struct receiver, node);
    r->m = m;
    answer(w, r, m ? RECV_MAIL : RECV_CLOSED);
    task_unsleep(r->t);
    task_schedule(r->t, 0);
  }
}

int lmsg_receive(lua_State *L) {
  double secs = luaL_optnumber(L, 1, -1);
  luaL_argcheck(L, !isnan(secs), 1, "not a number");
  struct task *t = task_current_wait(L, "host.receive");
  struct worker *w = t->w;
  struct lmsg *s = &t->vm->msg;
  lua_settop(L, 0);
  if (t->vm->draining) /* a reload replaced this script: mail goes there */
    return lhost_fail(L, "closed");
  if (list_empty(&s->waiters)) { /* else they are served first */
    struct mail *m = mail_take(w);
    if (m)
      return push_mail(L, s, m);
    if (mail_closed(w))
      return lhost_fail(L, "closed");
  }
  if (secs == 0)
    return lhost_fail(L, "timeout"); /* a poll: nothing was there */
  struct receiver *r = pool_get(&s->pool);
  if (!r)
    return luaL_error(L, "not enough memory");
  if (secs > 0 && task_sleep(t, secs, on_timeout) != 0) {
    pool_put(&s->pool, r);
    return luaL_error(L, "not enough memory");
  }
  r->t = t;
  r->m = NULL;
  r->why = RECV_WAITING;
  list_append(&s->waiters, &r->node);
  t->ud = r;
  w->mail.waiters++;
  return task_yield(L, t, TASK_RECEIVE, 0, receive_k);
}
