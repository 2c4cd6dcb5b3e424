/*
 * lconn_send.c -- writing to a "host.conn": write (queue, do not wait),
 * send (write, then wait until every byte is written), flush (wait until
 * everything queued is written).
 *
 * conn.c keeps the queue and the one send in flight (conn.h, "Output").
 * conn:write copies into the queue and returns at once: the worker sends
 * what a turn wrote before it waits, so a handler that answers several
 * pipelined requests with one write each still makes one system call.
 * conn:send does not copy: its strings go into the send behind the queue
 * while they stay on this task's stack, and the task is pinned in the
 * registry until the send completes, so the kernel's pointers into them
 * stay valid without a reference per string (only the host resumes a
 * task: ltask.h).
 */
#include "conn.h"
#include "lconn_internal.h"
#include "lhost.h"
#include "ltask.h"
#include "worker.h"

#include <lauxlib.h>
#include <stdint.h>

static int send_k(lua_State *L, int status, lua_KContext ctx);

/* Where a send continues: argument index and offset into it, packed into
 * the continuation's context (64 bits on every target we build).  Index
 * SEND_DONE: every argument is in a send that has completed; index
 * SEND_FLUSH: wait until nothing is queued or in flight. */
#define SEND_POS(i, off) ((lua_KContext)(((intptr_t)(off) << 20) | (i)))
#define SEND_ARG(ctx) ((int)((ctx) & ((1 << 20) - 1)))
#define SEND_OFF(ctx) ((size_t)((ctx) >> 20))
#define SEND_DONE ((1 << 20) - 1)
#define SEND_FLUSH 0

static int wait_send(lua_State *L, struct conn *c, lua_KContext ctx) {
  struct task *t = task_of(L);
  conn_wait_output(c);
  c->writer = t;
  return task_yield(L, t, TASK_SEND, ctx, send_k);
}

/* Posts the arguments from index `from` (offset `off` into it) on, behind
 * what is queued: up to CONN_SEND_BATCH pieces and IO_SEND_MAXBYTES with
 * the queue, so a string of any size goes out in as many sends as it
 * takes; then waits for the send. */
static int send_more(lua_State *L, struct conn *c, int from, size_t off) {
  if (c->wreq) /* one send at a time: ours goes after it */
    return wait_send(L, c, SEND_POS(from, off));
  struct io_buf bufs[CONN_SEND_BATCH];
  size_t room = IO_SEND_MAXBYTES - conn_queued(c);
  int top = lua_gettop(L), n = 0, i = from;
  size_t o = off;
  while (i <= top && n < CONN_SEND_BATCH && room > 0) {
    size_t len;
    const char *s = lua_tolstring(L, i, &len);
    size_t left = len - o, take = left < room ? left : room;
    if (take)
      bufs[n++] = io_buf_make(s + o, take);
    room -= take;
    if (take < left)
      break;
    i++;
    o = 0;
  }
  if (n == 0 && !conn_sending(c)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  size_t taken;
  int err = conn_send(c, bufs, n, &taken);
  if (err == IO_ENOMEM)
    return lconn_fail(L, c, "no resources");
  if (err)
    return lconn_fail_code(L, c, err);
  /* Where the next send starts: all that was offered went, on a plain
   * connection; TLS may have taken less (its output was full). */
  while (taken > 0) {
    size_t len;
    lua_tolstring(L, from, &len);
    size_t left = len - off;
    if (taken < left) {
      off += taken;
      break;
    }
    taken -= left;
    from++;
    off = 0;
  }
  for (size_t len; from <= top; from++, off = 0) { /* strings used up */
    lua_tolstring(L, from, &len);
    if (off < len)
      break;
  }
  return wait_send(L, c,
                   from > top ? SEND_POS(SEND_DONE, 0) : SEND_POS(from, off));
}

static int send_k(lua_State *L, int status, lua_KContext ctx) {
  struct conn_box *b = lua_touserdata(L, 1);
  struct conn *c = b->c;
  (void)status;
  if (c && (c->flags & CONN_WTIMEDOUT)) {
    c->flags &= ~CONN_WTIMEDOUT;
    return lconn_fail(L, c, "timeout");
  }
  if (c && c->werr)
    return lconn_fail_code(L, c, c->werr);
  /* Closed while we waited (by another task): "closed", as the README
   * promises, whether or not the send had completed before the close
   * cancelled what was left. */
  if (!c || conn_closing(c))
    return lconn_fail(L, c, "closed");
  if (SEND_ARG(ctx) == SEND_DONE) { /* our bytes are all written */
    lua_pushboolean(L, 1);
    return 1;
  }
  if (SEND_ARG(ctx) == SEND_FLUSH) {
    if (!conn_sending(c)) {
      lua_pushboolean(L, 1);
      return 1;
    }
    if (!c->wreq) {
      int err = conn_flush(c);
      if (err)
        return lconn_fail_code(L, c, err);
    }
    return wait_send(L, c, SEND_POS(SEND_FLUSH, 0));
  }
  return send_more(L, c, SEND_ARG(ctx), SEND_OFF(ctx));
}

/* What every writing method checks first; returns the argument count. */
static int begin_write(lua_State *L) {
  int top = lua_gettop(L);
  for (int i = 2; i <= top; i++)
    luaL_checklstring(L, i, NULL); /* numbers become strings in place */
  luaL_argcheck(L, top < (1 << 20) - 1, top, "too many strings");
  return top;
}

/* A writer must be the only one waiting (the checks are done before). */
static int begin_wait(lua_State *L, struct conn *c, const char *what) {
  task_current_wait(L, what);
  if (c->writer)
    return luaL_error(L, "another task is already sending on this connection");
  return 0;
}

int lconn_send(lua_State *L) {
  struct conn *c = lconn_check(L, 1);
  begin_write(L);
  begin_wait(L, c, "conn:send");
  if (c->werr)
    return lconn_fail_code(L, c, c->werr);
  if (c->flags & CONN_SHUTDOWN)
    return lconn_fail(L, c, "closed");
  return send_more(L, c, 2, 0);
}

/* conn:write(...): queued, sent when the task next waits (the worker
 * flushes before its loop waits) or on flush.  Past CONN_OBUF_HIGH queued
 * bytes it waits as send does, so a peer that does not read cannot make
 * the queue grow. */
int lconn_write(lua_State *L) {
  struct conn *c = lconn_check(L, 1);
  int top = begin_write(L);
  if (c->werr)
    return lconn_fail_code(L, c, c->werr);
  if (c->flags & CONN_SHUTDOWN)
    return lconn_fail(L, c, "closed");
  size_t total = 0;
  for (int i = 2; i <= top; i++)
    total += lua_rawlen(L, i);
  if (conn_queued(c) + total <= CONN_OBUF_HIGH) {
    for (int i = 2; i <= top; i++) {
      size_t len;
      const char *s = lua_tolstring(L, i, &len);
      if (conn_write(c, s, len) != 0)
        return lconn_fail(L, c, "no resources");
    }
    lua_pushboolean(L, 1);
    return 1;
  }
  begin_wait(L, c, "conn:write");
  return send_more(L, c, 2, 0);
}

/* conn:flush(): waits until everything queued has been written. */
int lconn_flush(lua_State *L) {
  struct conn *c = lconn_check(L, 1);
  if (c->werr)
    return lconn_fail_code(L, c, c->werr);
  if (!conn_sending(c)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  begin_wait(L, c, "conn:flush");
  lua_settop(L, 1);
  if (!c->wreq) {
    int err = conn_flush(c);
    if (err)
      return lconn_fail_code(L, c, err);
  }
  return wait_send(L, c, SEND_POS(SEND_FLUSH, 0));
}
