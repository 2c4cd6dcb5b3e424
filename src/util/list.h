/*
 * list.h -- an intrusive doubly-linked list (libuv's queue): the node
 * lives in the object, so linking and unlinking allocate nothing and an
 * object removes itself in O(1) without knowing which list holds it.
 *
 * The list is circular around a sentinel head, so no operation has a
 * special case for the ends.  A zeroed node is "not in a list" only after
 * list_node_init; list_remove leaves the node initialised (self-linked),
 * so removing twice is harmless.
 */
#ifndef HOST_LIST_H
#define HOST_LIST_H

#include <stddef.h>

struct list_node {
  struct list_node *prev, *next;
};

struct list {
  struct list_node head; /* sentinel: head.next is the first */
};

static inline void list_init(struct list *l) {
  l->head.prev = l->head.next = &l->head;
}

static inline void list_node_init(struct list_node *n) {
  n->prev = n->next = n;
}

static inline int list_empty(const struct list *l) {
  return l->head.next == &l->head;
}

/* Inserts n at the front. */
static inline void list_push(struct list *l, struct list_node *n) {
  n->next = l->head.next;
  n->prev = &l->head;
  l->head.next->prev = n;
  l->head.next = n;
}

/* Inserts n at the back. */
static inline void list_append(struct list *l, struct list_node *n) {
  n->prev = l->head.prev;
  n->next = &l->head;
  l->head.prev->next = n;
  l->head.prev = n;
}

static inline void list_remove(struct list_node *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = n;
}

static inline struct list_node *list_first(const struct list *l) {
  return list_empty(l) ? NULL : l->head.next;
}

/* The node after n, or NULL at the end. */
static inline struct list_node *list_next(const struct list *l,
                                          const struct list_node *n) {
  return n->next == &l->head ? NULL : n->next;
}

/* The object that holds node `n` as its member `member`. */
#define list_entry(n, type, member)                                            \
  ((type *)(void *)((char *)(n)-offsetof(type, member)))

#endif
