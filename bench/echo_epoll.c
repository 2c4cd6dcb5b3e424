/*
 * echo_epoll.c: the raw C epoll echo server, the readiness-based baseline
 * for the host's epoll backend.
 *
 * One thread per worker, each with its own epoll set and SO_REUSEPORT
 * listener. Data is read into one per-thread buffer and written straight
 * back; only when a write is short does the rest go into a per-connection
 * pending buffer (allocated then, freed when flushed), and the connection
 * stops reading until it is flushed, so memory per connection is bounded by
 * one read and an idle connection holds no buffer.
 *
 * Why edge-triggered: each connection is registered once with
 * EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET and never modified, so the hot
 * path has no epoll_ctl at all. Level-triggered would need EPOLL_CTL_MOD to
 * turn EPOLLOUT on and off around short writes, and the kernel re-polls
 * every level-triggered socket it reported on the next epoll_wait. The cost
 * of edge triggering is that a socket must be drained; a read shorter than
 * the buffer proves it was empty at that moment (any later data raises a
 * new edge), so the usual extra read that returns EAGAIN is skipped.
 * EPOLLOUT edges come only after the socket was full, so they are rare.
 * The listener stays level-triggered: accept up to a batch per event.
 * The loop itself is epoll_loop.c, shared with echo_tls_epoll.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn_list.h"
#include "epoll_loop.h"

#define READ_BUF (64 * 1024)

/* One accepted socket; epoll's data.ptr points here. */
struct conn {
    int fd;
    int blocked;               /* pending output: reading is paused */
    char *pend;                /* unsent bytes, or NULL */
    uint32_t plen, poff;       /* pending length, bytes already sent */
    struct conn *prev, *next;  /* worker's list, for shutdown */
};

struct worker {
    struct ep_loop el;         /* first: its callbacks cast back */
    struct conn *conns;
    char *buf;                 /* READ_BUF bytes, shared by all reads */
};

static void conn_free(struct worker *w, struct conn *c)
{
    close(c->fd);                        /* also leaves the epoll set */
    CONN_LIST_UNLINK(w->conns, c);
    free(c->pend);
    free(c);
}

/* Writes what is pending. Returns -1 on a dead socket, else 0. */
static int flush(struct conn *c)
{
    while (c->poff < c->plen) {
        ssize_t n = send(c->fd, c->pend + c->poff, c->plen - c->poff,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -1;
        }
        c->poff += (uint32_t)n;
    }
    free(c->pend);
    c->pend = NULL;
    c->plen = c->poff = 0;
    c->blocked = 0;
    return 0;
}

/* Echoes n bytes of buf; keeps any unsent tail. -1 on a dead socket. */
static int echo(struct conn *c, const char *buf, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t w = send(c->fd, buf + done, n - done, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return -1;
            break;
        }
        done += (size_t)w;
    }
    if (done == n)
        return 0;
    c->pend = malloc(n - done);
    if (c->pend == NULL)
        return -1;
    memcpy(c->pend, buf + done, n - done);
    c->plen = (uint32_t)(n - done);
    c->poff = 0;
    c->blocked = 1;
    return 0;
}

/* Reads until drained or blocked. Returns -1 when c must close. */
static int drain(struct worker *w, struct conn *c, uint32_t events)
{
    int all = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;

    while (!c->blocked) {
        ssize_t r = recv(c->fd, w->buf, READ_BUF, 0);
        if (r > 0) {
            server_work();
            if (echo(c, w->buf, (size_t)r) != 0)
                return -1;
            if (r < READ_BUF && !all)
                return 0;
        } else if (r == 0) {
            return -1;
        } else if (errno == EAGAIN) {
            return 0;
        } else if (errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

static void on_conn(struct ep_loop *el, void *conn, uint32_t events)
{
    struct worker *w = (struct worker *)el;
    struct conn *c = conn;

    if (c->blocked && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        if (flush(c) != 0) {
            conn_free(w, c);
            return;
        }
        if (!c->blocked)
            events |= EPOLLIN;           /* data may wait: no new edge */
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
        drain(w, c, events) != 0)
        conn_free(w, c);
}

static void *new_conn(struct ep_loop *el, int fd)
{
    struct worker *w = (struct worker *)el;
    struct conn *c = calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    c->fd = fd;
    CONN_LIST_PUSH(w->conns, c);
    return c;
}

static void free_conn(struct ep_loop *el, void *conn)
{
    conn_free((struct worker *)el, conn);
}

static void *worker_main(void *arg)
{
    struct server_worker *sw = arg;
    struct worker w = { .el = { .ep = -1, .lfd = -1, .name = "echo_epoll",
                                .conn_new = new_conn, .conn_free = free_conn,
                                .on_conn = on_conn } };
    int ok = ep_loop_setup(&w.el, sw) == 0 &&
             (w.buf = malloc(READ_BUF)) != NULL;

    if (!ok) {
        perror("echo_epoll: setup");
    } else {
        memset(w.buf, 0, READ_BUF);      /* fault it in before measuring */
        ok = ep_loop_run(&w.el) == 0;
    }
    while (w.conns != NULL)
        conn_free(&w, w.conns);
    ep_loop_close(&w.el);
    free(w.buf);
    if (!ok)
        server_fail(sw);
    return NULL;
}

int main(int argc, char **argv)
{
    struct server_spec spec = {
        .name = "echo_epoll",
        .worker = worker_main,
    };

    return server_main(argc, argv, &spec);
}
