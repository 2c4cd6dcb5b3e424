/*
 * mail.c -- messages between workers: posting into a worker's bounded
 * inbox, waking it once per burst, and taking (see mail.h).
 *
 * The bound is checked without touching the receiver's counters on most
 * posts: a sender compares `posted` with the `taken` it last read, which
 * can only be too small (so the inbox only looks fuller than it is), and
 * reads the receiver's published count again only when that says full.
 * So the one cache line the receiver writes per message is read by a
 * sender once per inbox-full of messages, not once per message.
 *
 * A broadcast takes the inbox locks of every receiver, in worker order
 * (the only place that holds two: the order keeps it deadlock-free), so
 * it either reaches every open inbox or none.
 */
#include "mail.h"
#include "fault.h"
#include "host.h"
#include "worker.h"

#include <stdlib.h>
#include <string.h>

struct mail *mail_new(int from, size_t len) {
  if (len > SIZE_MAX - sizeof(struct mail) || fault_fail(FAULT_C, "mail"))
    return NULL;
  struct mail *m = malloc(sizeof *m + len);
  if (m) {
    m->next = NULL;
    m->from = from;
    m->len = len;
  }
  return m;
}

void mail_free(struct mail *m) { free(m); }

void mailbox_init(struct mailbox *mb, uint32_t max) {
  memset(mb, 0, sizeof *mb);
  atomic_init(&mb->taken, 0);
  mb->max = max ? max : MAIL_DEFAULT_INBOX;
}

/* ---- posting ------------------------------------------------------------ */

/* Under the lock: MAIL_ECLOSED, MAIL_EFULL, or 0 if one more fits. */
static int room(struct mailbox *mb) {
  if (mb->closed)
    return MAIL_ECLOSED;
  if (mb->posted - mb->taken_seen >= mb->max) {
    mb->taken_seen = atomic_load_explicit(&mb->taken, memory_order_acquire);
    if (mb->posted - mb->taken_seen >= mb->max)
      return MAIL_EFULL;
  }
  return 0;
}

/* Under the lock, after room(): appends m; wakes the worker if the
 * shared half was empty (otherwise a wake-up is already on its way). */
static void append(struct worker *w, struct mail *m) {
  struct mailbox *mb = &w->mail;
  m->next = NULL;
  if (mb->tail) {
    mb->tail->next = m;
  } else {
    mb->head = m;
    if (w->loop_ready)
      io_wake(w->loop);
  }
  mb->tail = m;
  mb->posted++;
}

int mail_post(struct worker *to, struct mail *m) {
  sys_mutex_lock(&to->inbox_lock);
  int r = room(&to->mail);
  if (r == 0)
    append(to, m);
  sys_mutex_unlock(&to->inbox_lock);
  return r;
}

int mail_broadcast(struct host *h, int from, const void *data, size_t len) {
  int n = h->nworkers;
  struct mail **copies = fault_fail(FAULT_C, "broadcast")
                             ? NULL
                             : calloc((size_t)n, sizeof *copies);
  int r = copies ? 0 : MAIL_ENOMEM;
  for (int i = 0; r == 0 && i < n; i++) {
    if (i + 1 == from || !h->workers[i])
      continue;
    if (!(copies[i] = mail_new(from, len)))
      r = MAIL_ENOMEM;
    else
      memcpy(copies[i]->data, data, len);
  }
  if (r == 0) {
    for (int i = 0; i < n; i++)
      if (copies[i])
        sys_mutex_lock(&h->workers[i]->inbox_lock);
    for (int i = 0; i < n; i++)
      if (copies[i] && room(&h->workers[i]->mail) == MAIL_EFULL)
        r = MAIL_EFULL;
    for (int i = 0; i < n; i++) {
      if (!copies[i])
        continue;
      if (r == 0 && !h->workers[i]->mail.closed) {
        append(h->workers[i], copies[i]);
        copies[i] = NULL; /* the receiver's now */
      }
      sys_mutex_unlock(&h->workers[i]->inbox_lock);
    }
  }
  for (int i = 0; copies && i < n; i++)
    mail_free(copies[i]);
  free(copies);
  return r;
}

/* ---- taking ---------------------------------------------------------------
 */

int mailbox_move(struct mailbox *mb) {
  if (!mb->head)
    return 0;
  if (mb->local_tail)
    mb->local_tail->next = mb->head;
  else
    mb->local = mb->head;
  mb->local_tail = mb->tail;
  mb->head = mb->tail = NULL;
  return 1;
}

struct mail *mail_take(struct worker *w) {
  struct mailbox *mb = &w->mail;
  if (!mb->local) {
    sys_mutex_lock(&w->inbox_lock);
    mailbox_move(mb);
    sys_mutex_unlock(&w->inbox_lock);
    if (!mb->local)
      return NULL;
  }
  struct mail *m = mb->local;
  if (!(mb->local = m->next))
    mb->local_tail = NULL;
  m->next = NULL;
  atomic_store_explicit(&mb->taken, ++mb->ntaken, memory_order_release);
  return m;
}

void mail_unget(struct worker *w, struct mail *m) {
  struct mailbox *mb = &w->mail;
  if (!(m->next = mb->local))
    mb->local_tail = m;
  mb->local = m;
}

int mail_closed(const struct worker *w) { return w->mail.closed; }

uint64_t mailbox_free(struct mailbox *mb) {
  uint64_t n = 0;
  mailbox_move(mb);
  for (struct mail *m = mb->local, *next; m; m = next) {
    next = m->next;
    mail_free(m);
    n++;
  }
  mb->local = mb->local_tail = NULL;
  return n;
}
