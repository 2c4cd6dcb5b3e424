/*
 * conn_set.c -- a worker's connections as a whole (see conn.h): the set
 * and its pools, ending or aborting them all (a stop, a forced stop, a
 * reload's old script), giving back what it keeps after a peak.
 */
#include "conn.h"
#include "conn_internal.h"

#include <stdlib.h>
#include <string.h>

void conn_set_init(struct conn_set *s, struct io_loop *loop, int worker,
                   int *stopping, struct worker_stats *stats,
                   struct conn_limit *limit) {
  memset(s, 0, sizeof *s);
  s->loop = loop;
  s->stats = stats;
  s->limit = limit;
  s->worker = worker;
  s->stopping = stopping;
  s->other_room = SIZE_MAX;
  list_init(&s->conns);
  pool_init(&s->conn_pool, sizeof(struct conn), 64);
  pool_init(&s->wreq_pool, sizeof(struct conn_wreq), 32);
  pool_init(&s->timer_pool, sizeof(struct conn_timer), 32);
}

void conn_set_free(struct conn_set *s) {
  pool_destroy(&s->conn_pool);
  pool_destroy(&s->wreq_pool);
  pool_destroy(&s->timer_pool);
  while (s->nspare > 0)
    free(s->spare[--s->nspare]);
  while (s->nospare > 0)
    free(s->ospare[--s->nospare]);
  s->buf_bytes = 0;
}

void conn_set_abort_all(struct conn_set *s) {
  struct list_node *n = list_first(&s->conns), *next;
  for (; n; n = next) {
    next = list_next(&s->conns, n); /* an unopened conn is freed at once */
    struct conn *c = list_entry(n, struct conn, node);
    c->flags &= ~CONN_HELD; /* its task will never run again */
    conn_abort(c);
  }
}

void conn_set_abort_owner(struct conn_set *s, int owner) {
  struct list_node *n = list_first(&s->conns), *next;
  for (; n; n = next) {
    next = list_next(&s->conns, n);
    struct conn *c = list_entry(n, struct conn, node);
    if (c->owner == owner)
      conn_abort(c);
  }
}

int conn_between(const struct conn *c) {
  return (c->flags & (CONN_CLIENT | CONN_IDLE)) == CONN_IDLE && c->rlen == 0 &&
         !conn_sending(c) && !conn_tls_handshaking(c);
}

void conn_set_end(struct conn_set *s, int owner) {
  struct list_node *n = list_first(&s->conns), *next;
  if (owner < 0)
    s->ending = 1;
  for (; n; n = next) {
    next = list_next(&s->conns, n); /* a close may free it */
    struct conn *c = list_entry(n, struct conn, node);
    if ((owner >= 0 && c->owner != owner) || (c->flags & CONN_CLIENT))
      continue;
    c->flags |= CONN_ENDING;
    if ((c->flags & CONN_RWAIT) && conn_between(c)) {
      c->flags |= CONN_ENDED | CONN_EOF;
      conn_wake_reader(c); /* "closed"; the layer above resumes it later */
    }
  }
}

int conn_set_drop_spares(struct conn_set *s) {
  int had = s->nspare + s->nospare > 0;
  while (s->nspare > 0) {
    free(s->spare[--s->nspare]);
    conn_set_shrank(s, CONN_RBUF_CHUNK);
  }
  while (s->nospare > 0) {
    free(s->ospare[--s->nospare]);
    conn_set_shrank(s, CONN_OBUF_CHUNK);
  }
  return had;
}

void conn_set_trim(struct conn_set *s) {
  conn_set_drop_spares(s);
  pool_trim(&s->conn_pool);
  pool_trim(&s->wreq_pool);
  pool_trim(&s->timer_pool);
}

int conn_set_reading(const struct conn_set *s) {
  for (struct list_node *n = list_first(&s->conns); n;
       n = list_next(&s->conns, n))
    if (list_entry(n, struct conn, node)->flags & CONN_RWAIT)
      return 1;
  return 0;
}
