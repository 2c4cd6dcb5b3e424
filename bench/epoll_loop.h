/*
 * epoll_loop.h: the epoll loop both readiness-based baselines share
 * (echo_epoll.c, echo_tls_epoll.c), so they differ only in what they do
 * with a connection's events.
 *
 * One epoll set per worker with its listener (level-triggered, up to
 * EP_ACCEPT_BATCH accepts per event, backing off EP_ACCEPT_PAUSE_MS when
 * out of descriptors or memory) and its wake eventfd (readable: stop).
 * Each accepted socket is made by the server's conn_new (which keeps it
 * in its own list), set TCP_NODELAY and registered once, edge-triggered,
 * for EPOLLIN | EPOLLOUT | EPOLLRDHUP: the hot path has no epoll_ctl
 * (echo_epoll.c's head comment says why).  Its events go to on_conn.
 */
#ifndef BENCH_EPOLL_LOOP_H
#define BENCH_EPOLL_LOOP_H

#include <stdint.h>
#include <time.h>

#include "server.h"

#define EP_ACCEPT_BATCH 64
#define EP_ACCEPT_PAUSE_MS 50

struct ep_loop {
    int ep, lfd, wake_fd;
    int accept_paused;         /* listener removed after EMFILE */
    struct timespec resume;    /* when to re-add it */
    const char *name;          /* the program, for messages */
    /* The server's: a connection for accepted socket fd (owning it from
     * now on), or NULL, then fd is closed; its end (closes the socket);
     * its events. */
    void *(*conn_new)(struct ep_loop *el, int fd);
    void (*conn_free)(struct ep_loop *el, void *conn);
    void (*on_conn)(struct ep_loop *el, void *conn, uint32_t events);
};

/* Makes the set, listens on sw's address, watches the wake fd; -1 with
 * errno set when it cannot (el->ep and el->lfd are -1 or open). */
int ep_loop_setup(struct ep_loop *el, const struct server_worker *sw);
/* Runs until the wake fd is readable: 0, or -1 if epoll_wait fails. */
int ep_loop_run(struct ep_loop *el);
/* Closes the listener and the set (after the server freed its conns). */
void ep_loop_close(struct ep_loop *el);

#endif
