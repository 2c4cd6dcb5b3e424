/*
 * echo_tls_epoll.c: the raw C TLS echo server on epoll, the baseline for
 * the host's TLS rows on its epoll backend, as echo_tls.c is for io_uring:
 * echo_epoll.c's loop with OpenSSL in it (tls_pipe.c, shared with
 * echo_tls.c, so the two baselines differ in their loops only).
 *
 * The loop is echo_epoll.c's (read its head comment): one thread and epoll
 * set per worker, each connection registered once, edge-triggered, with
 * no epoll_ctl on the hot path; a read shorter than the buffer proves the
 * socket was drained.  What TLS changes:
 *
 *   - Input.  Each read (into one per-worker buffer) is lent to OpenSSL
 *     and wholly consumed: records are decrypted into one per-worker
 *     plaintext buffer and written straight back, into the connection's
 *     `fill` buffer.
 *   - Output.  `fill` is sent at once after each read.  When the socket
 *     takes it all it is freed (an idle connection keeps only its SSL);
 *     when it does not, the rest waits in `fill` and the connection stops
 *     reading until an EPOLLOUT edge has drained it, so memory per
 *     connection is bounded by what one read decrypts to.
 *
 * A failed handshake or record, or the peer's close_notify, closes the
 * connection after trying to send what OpenSSL made (an alert); so does
 * the peer's TCP end of stream.
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
#include "tls_pipe.h"

#define READ_BUF (64 * 1024)
#define MAX_EVENTS 256
#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_MS 50

/* One accepted socket; epoll's data.ptr points here. */
struct conn {
    int fd;
    int blocked;               /* output waits in tls.fill: reading paused */
    struct tls_pipe tls;
    struct conn *prev, *next;  /* worker's list, for shutdown */
};

struct worker {
    int ep, lfd, wake_fd;
    SSL_CTX *ctx;
    struct conn *conns;
    int accept_paused;         /* listener removed after EMFILE */
    struct timespec resume;    /* when to re-add it */
    unsigned char *buf;        /* READ_BUF bytes, shared by all reads */
    unsigned char plain[TLS_PIPE_PLAIN];
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
    tls_pipe_close(&c->tls);
    free(c);
}

/* Sends what waits in fill, frees it once sent.  -1 on a dead socket. */
static int flush(struct conn *c)
{
    struct obuf *o = &c->tls.fill;

    while (o->off < o->len) {
        ssize_t n = send(c->fd, o->p + o->off, o->len - o->off,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return -1;
            c->blocked = 1;
            return 0;
        }
        o->off += (size_t)n;
    }
    obuf_free(o);
    c->blocked = 0;
    return 0;
}

/* Reads until drained or blocked. Returns -1 when c must close. */
static int drain(struct worker *w, struct conn *c, uint32_t events)
{
    int all = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;

    while (!c->blocked) {
        ssize_t r = recv(c->fd, w->buf, READ_BUF, 0);
        if (r > 0) {
            int st = tls_pipe_echo(&c->tls, w->buf, (size_t)r, w->plain);
            if (flush(c) != 0 || st != 0)
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
        if (c == NULL || tls_pipe_open(&c->tls, w->ctx) != 0) {
            close(fd);
            free(c);
            return;
        }
        net_nodelay(fd);
        c->fd = fd;
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = c;
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            tls_pipe_close(&c->tls);
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
            perror("echo_tls_epoll: epoll_wait");
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
    const struct tls_pipe_cfg *cfg = sw->cfg;
    struct worker *w = calloc(1, sizeof *w);
    int ok;

    if (w == NULL) {
        server_fail(sw);
        return NULL;
    }
    w->ep = w->lfd = -1;
    w->wake_fd = sw->wake_fd;
    w->ctx = cfg->ctx;
    ok = setup(w, sw) == 0;
    if (!ok)
        perror("echo_tls_epoll: setup");
    else
        ok = loop(w) == 0;
    while (w->conns != NULL)
        conn_free(w, w->conns);
    if (w->lfd >= 0)
        close(w->lfd);
    if (w->ep >= 0)
        close(w->ep);
    free(w->buf);
    free(w);
    OPENSSL_thread_stop();
    if (!ok)
        server_fail(sw);
    return NULL;
}

static int set_option(void *p, const char *name, const char *value)
{
    return tls_pipe_option(p, name, value) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    static const char *const extra[] = { "cert", "key", NULL };
    struct tls_pipe_cfg cfg = { 0 };
    struct server_spec spec = {
        .name = "echo_tls_epoll",
        .extra_usage =
            "  --cert FILE         PEM certificate (then its chain)\n"
            "  --key FILE          PEM private key\n",
        .extra = extra,
        .set = set_option,
        .worker = worker_main,
        .cfg = &cfg,
    };
    int status;

    if (tls_pipe_setup(&cfg, argc, argv, "echo_tls_epoll") != 0)
        return 2;
    status = server_main(argc, argv, &spec);
    tls_pipe_teardown(&cfg);
    return status;
}
