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
 * The listener stays level-triggered: accept up to ACCEPT_BATCH per event.
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
#include <time.h>
#include <unistd.h>

#include "server.h"

#define READ_BUF (64 * 1024)
#define MAX_EVENTS 256
#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_MS 50

/* One accepted socket; epoll's data.ptr points here. */
struct conn {
    int fd;
    int blocked;               /* pending output: reading is paused */
    char *pend;                /* unsent bytes, or NULL */
    uint32_t plen, poff;       /* pending length, bytes already sent */
    struct conn *prev, *next;  /* worker's list, for shutdown */
};

struct worker {
    int ep, lfd, wake_fd;
    struct conn *conns;
    int accept_paused;         /* listener removed after EMFILE */
    struct timespec resume;    /* when to re-add it */
    char *buf;                 /* READ_BUF bytes, shared by all reads */
};

/* Tags for the two non-connection descriptors in the epoll set. */
static char listener_tag, wake_tag;

static void conn_free(struct worker *w, struct conn *c)
{
    close(c->fd);                        /* also leaves the epoll set */
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
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

static void on_conn(struct worker *w, struct conn *c, uint32_t events)
{
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

static void listener_set(struct worker *w, int on)
{
    struct epoll_event ev = { .events = on ? EPOLLIN : 0,
                              .data.ptr = &listener_tag };

    epoll_ctl(w->ep, EPOLL_CTL_MOD, w->lfd, &ev);
    w->accept_paused = !on;
    if (!on) {
        clock_gettime(CLOCK_MONOTONIC, &w->resume);
        w->resume.tv_nsec += ACCEPT_PAUSE_MS * 1000000L;
        if (w->resume.tv_nsec >= 1000000000L) {
            w->resume.tv_sec++;
            w->resume.tv_nsec -= 1000000000L;
        }
    }
}

static void on_listener(struct worker *w)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct epoll_event ev;
        struct conn *c;
        int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
                errno == ENOBUFS)
                listener_set(w, 0);      /* back off, no busy loop */
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return;
        }
        c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            return;
        }
        net_nodelay(fd);
        c->fd = fd;
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = c;
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = w->conns;
        if (w->conns)
            w->conns->prev = c;
        w->conns = c;
    }
}

/* Milliseconds until the listener comes back, or -1 (wait forever). */
static int wait_ms(const struct worker *w)
{
    struct timespec now;
    long ms;

    if (!w->accept_paused)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (w->resume.tv_sec - now.tv_sec) * 1000L +
         (w->resume.tv_nsec - now.tv_nsec) / 1000000L;
    return ms < 0 ? 0 : (int)ms + 1;
}

static int loop(struct worker *w)
{
    struct epoll_event evs[MAX_EVENTS];

    for (;;) {
        int n = epoll_wait(w->ep, evs, MAX_EVENTS, wait_ms(w));

        if (n < 0 && errno != EINTR) {
            perror("echo_epoll: epoll_wait");
            return -1;
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &wake_tag)
                return 0;
            if (p == &listener_tag)
                on_listener(w);
            else
                on_conn(w, p, evs[i].events);
        }
        if (w->accept_paused && wait_ms(w) == 0)
            listener_set(w, 1);
    }
}

static int setup(struct worker *w, const struct server_worker *sw)
{
    struct epoll_event ev = { .events = EPOLLIN };

    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->lfd = net_listen(sw->addr, sw->workers > 1, 1);
    w->buf = malloc(READ_BUF);
    if (w->ep < 0 || w->lfd < 0 || w->buf == NULL)
        return -1;
    memset(w->buf, 0, READ_BUF);         /* fault it in before measuring */
    ev.data.ptr = &listener_tag;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->lfd, &ev) != 0)
        return -1;
    ev.data.ptr = &wake_tag;
    return epoll_ctl(w->ep, EPOLL_CTL_ADD, w->wake_fd, &ev);
}

static void *worker_main(void *arg)
{
    struct server_worker *sw = arg;
    struct worker w = { .ep = -1, .lfd = -1, .wake_fd = sw->wake_fd };
    int ok = setup(&w, sw) == 0;

    if (!ok)
        perror("echo_epoll: setup");
    else
        ok = loop(&w) == 0;
    while (w.conns != NULL)
        conn_free(&w, w.conns);
    if (w.lfd >= 0)
        close(w.lfd);
    if (w.ep >= 0)
        close(w.ep);
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
