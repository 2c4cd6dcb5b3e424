/*
 * mail.h -- messages between workers: bytes one worker's VM posts to
 * another's (host.post, host.broadcast), carried by the receiver's
 * bounded inbox and its loop's wake-up.  What the bytes mean is the VM's
 * business (src/lua/lcodec.h): this floor moves them, counts them and
 * frees what nobody took.
 *
 * A mail is one allocation (header and bytes).  The sender makes it with
 * mail_new and hands it to mail_post; from then on it belongs to the
 * receiving worker, whose VM takes it with mail_take and frees it with
 * mail_free.  If mail_post refuses it, the sender still owns it.
 *
 * The inbox has two halves.  Senders append to the shared half under the
 * worker's inbox lock; the worker moves that whole list to its own half
 * in one step (when its wake-up runs, or when its own half runs dry), so
 * a burst of messages costs the receiver one lock and one wake-up.  A
 * sender wakes the worker only when the shared half goes from empty to
 * not empty.  Messages from one sender keep their order: there is one
 * queue per receiver.
 *
 * The bound (--inbox, in messages) counts everything posted and not yet
 * taken, in both halves: a VM that never receives makes its senders see
 * MAIL_EFULL, and nothing grows without limit.  A stopping worker's inbox
 * is closed (MAIL_ECLOSED): what was already queued can still be taken
 * during the grace period; whatever is left when the worker ends is freed
 * and counted in a log line.
 */
#ifndef HOST_MAIL_H
#define HOST_MAIL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define MAIL_DEFAULT_INBOX 65536 /* --inbox's default, messages */
#define MAIL_MAX_INBOX (1u << 24)

enum { MAIL_EFULL = -1, MAIL_ECLOSED = -2, MAIL_ENOMEM = -3 };

struct mail {
  struct mail *next;    /* in an inbox */
  int from;             /* the sending worker's id (1..N) */
  size_t len;           /* bytes in data */
  unsigned char data[]; /* the message */
};

/* A worker's inbox of mail (inside struct worker). */
struct mailbox {
  /* Under the worker's inbox_lock: */
  struct mail *head, *tail; /* posted, not yet moved to the worker */
  uint64_t posted;          /* messages accepted, ever */
  uint64_t taken_seen;      /* `taken` as senders last read it */
  int closed;               /* refuses new mail (set on its own thread) */
  /* The worker's own thread only: */
  struct mail *local, *local_tail; /* moved, not yet taken */
  uint64_t ntaken;                 /* messages taken, ever */
  int waiters;                     /* VM tasks waiting for mail (the VM
                                      keeps it: a reason to stay alive) */
  /* Written by the worker, read by senders: */
  _Atomic uint64_t taken; /* ntaken, published */
  uint32_t max;           /* the bound */
};

struct worker;
struct host;

/* A mail of len bytes (uninitialised) from worker `from`; NULL if out of
 * memory.  Freed by mail_free, by whoever owns it then. */
struct mail *mail_new(int from, size_t len);
void mail_free(struct mail *m);

/* Any thread: queues m for worker `to` and wakes it if needed.  0: `to`
 * owns m now.  MAIL_EFULL (the bound is reached) or MAIL_ECLOSED (`to`
 * is stopping or gone): the caller still owns m. */
int mail_post(struct worker *to, struct mail *m);
/* Any worker's thread: len bytes from worker `from` to every other
 * worker whose inbox is open, all or none: 0, MAIL_EFULL if any inbox is
 * at its bound (then nobody got it), MAIL_ENOMEM if the copies could not
 * be made (nobody got it either). */
int mail_broadcast(struct host *h, int from, const void *data, size_t len);

/* The worker's own thread: the next message, or NULL; the caller frees
 * it.  Looks at the shared half when its own half is empty. */
struct mail *mail_take(struct worker *w);
/* The worker's own thread: gives back a mail taken and never used (a VM
 * closing with it in hand), so the worker counts it among those never
 * received. */
void mail_unget(struct worker *w, struct mail *m);
/* The worker's own thread: the inbox is closed (the worker is stopping). */
int mail_closed(const struct worker *w);

/* ---- worker.c's side ------------------------------------------------ */

void mailbox_init(struct mailbox *mb, uint32_t max);
/* Under the inbox lock: moves the shared half to the worker's own half;
 * returns non-zero if anything moved. */
int mailbox_move(struct mailbox *mb);
/* Frees every message left in both halves (the worker has ended); returns
 * how many there were. */
uint64_t mailbox_free(struct mailbox *mb);

#endif
