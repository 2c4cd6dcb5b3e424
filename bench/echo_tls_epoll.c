/*
 * echo_tls_epoll.c: the raw C TLS echo server on epoll, the baseline for
 * the host's TLS rows on its epoll backend, as echo_tls.c is for io_uring:
 * echo_epoll.c's loop with OpenSSL in it (tls_pipe.c, shared with
 * echo_tls.c, so the two baselines differ in their loops only).
 *
 * The loop is echo_epoll.c's (epoll_loop.c, shared; read echo_epoll.c's
 * head comment): one thread and epoll set per worker, each connection
 * registered once, edge-triggered, with no epoll_ctl on the hot path; a
 * read shorter than the buffer proves the socket was drained.  What TLS changes:
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
#include <unistd.h>

#include "conn_list.h"
#include "epoll_loop.h"
#include "tls_pipe.h"

#define READ_BUF (64 * 1024)

/* One accepted socket; epoll's data.ptr points here. */
struct conn {
    int fd;
    int blocked;               /* output waits in tls.fill: reading paused */
    struct tls_pipe tls;
    struct conn *prev, *next;  /* worker's list, for shutdown */
};

struct worker {
    struct ep_loop el;         /* first: its callbacks cast back */
    SSL_CTX *ctx;
    struct conn *conns;
    unsigned char *buf;        /* READ_BUF bytes, shared by all reads */
    unsigned char plain[TLS_PIPE_PLAIN];
};

static void conn_free(struct worker *w, struct conn *c)
{
    close(c->fd);                        /* also leaves the epoll set */
    CONN_LIST_UNLINK(w->conns, c);
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

    if (c == NULL || tls_pipe_open(&c->tls, w->ctx) != 0) {
        free(c);
        return NULL;
    }
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
    const struct tls_pipe_cfg *cfg = sw->cfg;
    struct worker *w = calloc(1, sizeof *w);
    int ok;

    if (w == NULL) {
        server_fail(sw);
        return NULL;
    }
    w->el = (struct ep_loop){ .ep = -1, .lfd = -1, .name = "echo_tls_epoll",
                              .conn_new = new_conn, .conn_free = free_conn,
                              .on_conn = on_conn };
    w->ctx = cfg->ctx;
    tls_pipe_thread_begin(cfg);
    ok = ep_loop_setup(&w->el, sw) == 0 && (w->buf = malloc(READ_BUF)) != NULL;
    if (!ok) {
        perror("echo_tls_epoll: setup");
    } else {
        memset(w->buf, 0, READ_BUF);     /* fault it in before measuring */
        ok = ep_loop_run(&w->el) == 0;
    }
    while (w->conns != NULL)
        conn_free(w, w->conns);
    ep_loop_close(&w->el);
    tls_pipe_thread_end(cfg);
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
    static const char *const extra[] = { "cert", "key", "record-cache",
                                         NULL };
    struct tls_pipe_cfg cfg = { 0 };
    struct server_spec spec = {
        .name = "echo_tls_epoll",
        .extra_usage =
            "  --cert FILE         PEM certificate (then its chain)\n"
            "  --key FILE          PEM private key\n"
            "  --record-cache on   keep freed record buffers (tls_pipe.h)\n",
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
