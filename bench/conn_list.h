/*
 * conn_list.h: the worker's doubly linked list of live connections, which
 * every baseline echo server keeps (to close them all at shutdown).  Each
 * server has its own struct conn; these work on any that has `prev` and
 * `next` pointers to its own type, with `head` the worker's list.
 */
#ifndef BENCH_CONN_LIST_H
#define BENCH_CONN_LIST_H

/* Puts c first on the list. */
#define CONN_LIST_PUSH(head, c)                                               \
    do {                                                                      \
        (c)->prev = NULL;                                                     \
        (c)->next = (head);                                                   \
        if ((head) != NULL)                                                   \
            (head)->prev = (c);                                               \
        (head) = (c);                                                         \
    } while (0)

/* Takes c off the list. */
#define CONN_LIST_UNLINK(head, c)                                             \
    do {                                                                      \
        if ((c)->prev != NULL)                                                \
            (c)->prev->next = (c)->next;                                      \
        else                                                                  \
            (head) = (c)->next;                                               \
        if ((c)->next != NULL)                                                \
            (c)->next->prev = (c)->prev;                                      \
    } while (0)

#endif
