/*
 * lmsg.h -- messages between workers, the Lua side (lmsg.c):
 * host.post, host.broadcast, host.receive.  The inbox itself, its bound
 * and its wake-ups are src/host/mail.h's; this file encodes values into a
 * mail on the sender (lcodec.h), and on the receiver decodes each mail
 * into the values a waiting task's host.receive returns.
 */
#ifndef HOST_LMSG_H
#define HOST_LMSG_H

#include "lcodec.h"
#include "list.h"
#include "pool.h"

#include <lua.h>

#define LMSG_MAX_BYTES ((size_t)16 << 20) /* one message, encoded */

struct mail;
struct worker;

/* A VM's messaging state (in struct lvm). */
struct lmsg {
  struct lcodec_buf enc; /* the encoder's buffer, reused */
  struct mail *decoding; /* a mail whose decoding raised: freed next time */
  struct list waiters;   /* struct receiver: tasks waiting, oldest first */
  struct list woken;     /* struct receiver: answered, not yet resumed */
  struct pool pool;      /* struct receiver */
};

void lmsg_init(struct lmsg *s);
/* After lua_close: gives w back the mail its receivers still held. */
void lmsg_close(struct worker *w, struct lmsg *s);
/* A reload replaced s's VM: its waiting tasks get nil, "closed" (new
 * mail goes to the new VM). */
void lmsg_end(struct worker *w, struct lmsg *s);
/* The worker_vm mail hook: hands mail to the waiting tasks, oldest
 * first, or tells them the inbox closed. */
void lmsg_deliver(struct worker *w);

/* host.post(worker, ...) -> true | nil, "full" | nil, "closed" */
int lmsg_post(lua_State *L);
/* host.broadcast(...) -> true | nil, "full" */
int lmsg_broadcast(lua_State *L);
/* host.receive([seconds]) -> sender, ... | nil, "timeout" | nil, "closed" */
int lmsg_receive(lua_State *L);

#endif
