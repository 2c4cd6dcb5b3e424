/*
 * echo_tls.c: the raw C TLS echo server, the baseline for the host's TLS
 * rows: echo_uring's loop with OpenSSL in it, no Lua, as lean as we know
 * how, so the gap to the host is the cost of the host's own layers.
 *
 * The loop is echo_uring.c's (read its head comment): one thread and ring
 * per worker (SINGLE_ISSUER | DEFER_TASKRUN), one multishot accept,
 * multishot receives from a provided-buffer ring, one io_uring_submit_and
 * _wait per turn, completions reaped in a batch.  What TLS changes:
 *
 *   - TLS.  tls_pipe.c (shared with echo_tls_epoll.c): a received
 *     buffer is lent to OpenSSL through a BIO of our own and wholly
 *     consumed, so it goes back to the ring at once; each decrypted chunk
 *     is written straight back and the records gather in the connection's
 *     `fill` buffer.
 *   - Output.  With no send in flight, `fill` becomes `sending` and goes
 *     out in one send (MSG_WAITALL); records made meanwhile gather in a
 *     new `fill` and go out together next.  Both are freed when empty.
 *   - Backpressure.  Past OUT_PAUSE bytes waiting to be sent the
 *     connection stops receiving (the multishot receive is cancelled) and
 *     re-arms once its sends have drained.
 *
 * A failed handshake or record, or the peer's close_notify, closes the
 * connection; the peer's TCP end of stream closes it once its output is
 * sent.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "args.h"
#include "conn_list.h"
#include "server.h"
#include "tls_pipe.h"

#define SQ_ENTRIES 1024
#define CQ_ENTRIES 16384
#define BGID 0
#define OUT_PAUSE (1024 * 1024)        /* output waiting that stops reading */
#define ACCEPT_PAUSE_NS 50000000
#define STOP_GRACE_NS 2000000000ULL

enum op { OP_NONE, OP_RECV, OP_SEND, OP_ACCEPT, OP_WAKE, OP_PAUSE };
#define OP_MASK 7u

enum {
    F_RECV = 1,       /* a recv is armed */
    F_SEND = 2,       /* a send is in flight */
    F_PAUSING = 4,    /* multishot recv cancel requested */
    F_STARVED = 8,    /* recv ended with -ENOBUFS, not re-armed */
    F_EOF = 16,       /* peer finished sending */
    F_CLOSING = 32    /* close requested; freed when ops end */
};

struct tls_cfg {
    struct tls_pipe_cfg tls;   /* made in main, shared by the workers */
    unsigned bufs, bufsize;    /* provided ring */
};

struct conn {
    int fd;
    uint16_t flags;
    struct tls_pipe tls;       /* its fill: records not yet sending */
    struct obuf sending;       /* the kernel reads it while F_SEND */
    struct conn *prev, *next;
};

struct worker {
    struct io_uring ring;
    struct server_worker *sw;
    const struct tls_cfg *cfg;
    int lfd;
    struct io_uring_buf_ring *br;
    size_t br_bytes;
    uint8_t *data;
    size_t data_bytes;
    unsigned added, held, nstarved;
    struct conn *conns;
    unsigned nconns;
    uint64_t wake_val;
    struct __kernel_timespec pause;
    int accepting, pausing, stopping;
    unsigned char plain[TLS_PIPE_PLAIN];
};

/* ---- the ring ------------------------------------------------------------ */

static uint64_t tag(void *p, enum op op)
{
    return (uint64_t)(uintptr_t)p | op;
}

static struct io_uring_sqe *sqe_get(struct worker *w)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

    for (int i = 0; sqe == NULL && i < 8; i++) {
        io_uring_submit(&w->ring);
        sqe = io_uring_get_sqe(&w->ring);
    }
    if (sqe == NULL) {
        fprintf(stderr, "echo_tls: submission queue stuck\n");
        abort();
    }
    return sqe;
}

static uint8_t *buf_addr(struct worker *w, unsigned bid)
{
    return w->data + (size_t)bid * w->cfg->bufsize;
}

static void buf_return(struct worker *w, unsigned bid)
{
    io_uring_buf_ring_add(w->br, buf_addr(w, bid), w->cfg->bufsize,
                          (unsigned short)bid,
                          io_uring_buf_ring_mask(w->cfg->bufs),
                          (int)w->added++);
    w->held--;
}

static void buf_publish(struct worker *w)
{
    if (w->added) {
        io_uring_buf_ring_advance(w->br, (int)w->added);
        w->added = 0;
    }
}

static void arm_accept(struct worker *w)
{
    struct io_uring_sqe *sqe = sqe_get(w);

    io_uring_prep_multishot_accept(sqe, w->lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, tag(w, OP_ACCEPT));
    w->accepting = 1;
}

static void arm_recv(struct worker *w, struct conn *c)
{
    struct io_uring_sqe *sqe = sqe_get(w);

    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, tag(c, OP_RECV));
    c->flags |= F_RECV;
}

static void cancel_quietly(struct worker *w, uint64_t what, int fd)
{
    struct io_uring_sqe *sqe = sqe_get(w);

    if (fd >= 0)
        io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    else
        io_uring_prep_cancel64(sqe, what, 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, tag(NULL, OP_NONE));
}

/* ---- connections ----------------------------------------------------- */

static size_t out_pending(const struct conn *c)
{
    return c->sending.len - c->sending.off + c->tls.fill.len;
}

/* Sends `fill` when no send is in flight. */
static void flush(struct worker *w, struct conn *c)
{
    struct io_uring_sqe *sqe;

    if ((c->flags & (F_SEND | F_CLOSING)) || c->tls.fill.len == 0)
        return;
    obuf_free(&c->sending);
    c->sending = c->tls.fill;
    memset(&c->tls.fill, 0, sizeof c->tls.fill);
    sqe = sqe_get(w);
    io_uring_prep_send(sqe, c->fd, c->sending.p, c->sending.len, MSG_WAITALL);
    io_uring_sqe_set_data64(sqe, tag(c, OP_SEND));
    c->flags |= F_SEND;
}

static struct conn *conn_new(struct worker *w, int fd)
{
    struct conn *c = calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    if (tls_pipe_open(&c->tls, w->cfg->tls.ctx) != 0) {
        free(c);
        return NULL;
    }
    c->fd = fd;
    CONN_LIST_PUSH(w->conns, c);
    w->nconns++;
    return c;
}

static void conn_release(struct worker *w, struct conn *c)
{
    struct io_uring_sqe *sqe;

    if (!(c->flags & F_CLOSING) || (c->flags & (F_RECV | F_SEND)))
        return;
    if (c->flags & F_STARVED)
        w->nstarved--;
    sqe = sqe_get(w);
    io_uring_prep_close(sqe, c->fd);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, tag(NULL, OP_NONE));
    CONN_LIST_UNLINK(w->conns, c);
    w->nconns--;
    tls_pipe_close(&c->tls);
    obuf_free(&c->sending);
    free(c);
}

static void conn_close(struct worker *w, struct conn *c)
{
    if (c->flags & F_CLOSING)
        return;
    c->flags |= F_CLOSING;
    if (c->flags & (F_RECV | F_SEND))
        cancel_quietly(w, 0, c->fd);
}

/* After a completion: read on, pause, or finish.  May free c. */
static void conn_next(struct worker *w, struct conn *c)
{
    if ((c->flags & F_EOF) && !(c->flags & F_SEND) && out_pending(c) == 0)
        conn_close(w, c);
    if (c->flags & F_CLOSING) {
        conn_release(w, c);
        return;
    }
    if (c->flags & F_EOF)
        return;
    if (out_pending(c) >= OUT_PAUSE) {
        if ((c->flags & (F_RECV | F_PAUSING)) == F_RECV) {
            cancel_quietly(w, tag(c, OP_RECV), -1);
            c->flags |= F_PAUSING;
        }
        return;
    }
    if (!(c->flags & (F_RECV | F_STARVED)))
        arm_recv(w, c);
}

/* Decrypts everything the received buffer holds and writes it back. */
static void decrypt_echo(struct worker *w, struct conn *c,
                         const unsigned char *in, size_t n)
{
    int st = tls_pipe_echo(&c->tls, in, n, w->plain);

    flush(w, c); /* the echo, or an alert if OpenSSL made one */
    if (st != 0)
        conn_close(w, c);
}

static void on_recv(struct worker *w, struct conn *c,
                    const struct io_uring_cqe *cqe)
{
    int res = cqe->res;

    if (!(cqe->flags & IORING_CQE_F_MORE))
        c->flags &= (uint16_t)~(F_RECV | F_PAUSING);
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        w->held++;
        if (res > 0 && !(c->flags & F_CLOSING))
            decrypt_echo(w, c, buf_addr(w, bid), (size_t)res);
        buf_return(w, bid); /* wholly consumed */
    }
    if (res == 0) {
        c->flags |= F_EOF;
    } else if (res == -ENOBUFS) {
        if (!(c->flags & F_STARVED)) {
            c->flags |= F_STARVED;
            w->nstarved++;
        }
    } else if (res < 0 && res != -ECANCELED) {
        conn_close(w, c);
    }
    conn_next(w, c);
}

static void on_send(struct worker *w, struct conn *c,
                    const struct io_uring_cqe *cqe)
{
    c->flags &= (uint16_t)~F_SEND;
    if (cqe->res <= 0) {
        conn_close(w, c);
    } else {
        c->sending.off += (size_t)cqe->res;
        if (c->sending.off < c->sending.len && !(c->flags & F_CLOSING)) {
            struct io_uring_sqe *sqe = sqe_get(w);
            io_uring_prep_send(sqe, c->fd, c->sending.p + c->sending.off,
                               c->sending.len - c->sending.off, MSG_WAITALL);
            io_uring_sqe_set_data64(sqe, tag(c, OP_SEND));
            c->flags |= F_SEND;
        } else {
            obuf_free(&c->sending);
            flush(w, c);
        }
    }
    conn_next(w, c);
}

static void on_accept(struct worker *w, const struct io_uring_cqe *cqe)
{
    int res = cqe->res;

    if (!(cqe->flags & IORING_CQE_F_MORE))
        w->accepting = 0;
    if (res >= 0) {
        struct conn *c = w->stopping ? NULL : conn_new(w, res);
        if (c == NULL) {
            close(res);
        } else {
            net_nodelay(res);
            arm_recv(w, c);
        }
    }
    if (w->accepting || w->stopping)
        return;
    if (res == -EMFILE || res == -ENFILE || res == -ENOMEM) {
        struct io_uring_sqe *sqe = sqe_get(w);
        w->pause.tv_sec = 0;
        w->pause.tv_nsec = ACCEPT_PAUSE_NS;
        io_uring_prep_timeout(sqe, &w->pause, 0, 0);
        io_uring_sqe_set_data64(sqe, tag(w, OP_PAUSE));
        w->pausing = 1;
    } else {
        arm_accept(w);
    }
}

static void begin_stop(struct worker *w)
{
    w->stopping = 1;
    if (w->accepting)
        cancel_quietly(w, tag(w, OP_ACCEPT), -1);
    for (struct conn *c = w->conns, *next; c != NULL; c = next) {
        next = c->next;
        conn_close(w, c);
        conn_release(w, c);
    }
}

static void on_cqe(struct worker *w, const struct io_uring_cqe *cqe)
{
    void *p = (void *)(uintptr_t)(cqe->user_data & ~(uint64_t)OP_MASK);

    switch ((enum op)(cqe->user_data & OP_MASK)) {
    case OP_RECV:
        on_recv(w, p, cqe);
        break;
    case OP_SEND:
        on_send(w, p, cqe);
        break;
    case OP_ACCEPT:
        on_accept(w, cqe);
        break;
    case OP_WAKE:
        begin_stop(w);
        break;
    case OP_PAUSE:
        w->pausing = 0;
        if (!w->stopping)
            arm_accept(w);
        break;
    case OP_NONE:
        break;
    }
}

static void feed_starved(struct worker *w)
{
    unsigned room = w->cfg->bufs - w->held;

    for (struct conn *c = w->conns, *next; c && w->nstarved && room;
         c = next) {
        next = c->next;
        if (!(c->flags & F_STARVED))
            continue;
        c->flags &= (uint16_t)~F_STARVED;
        w->nstarved--;
        room--;
        conn_next(w, c);
    }
}

/* ---- setup and the loop --------------------------------------------- */

static int ring_setup(struct worker *w)
{
    static const unsigned tries[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN, 0
    };
    int ret = -EINVAL;

    for (unsigned i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = tries[i] | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
        p.cq_entries = CQ_ENTRIES;
        ret = io_uring_queue_init_params(SQ_ENTRIES, &w->ring, &p);
        if (ret == 0) {
            (void)io_uring_register_ring_fd(&w->ring);
            return 0;
        }
        if (ret != -EINVAL)
            break;
    }
    fprintf(stderr, "echo_tls: io_uring_queue_init: %s\n", strerror(-ret));
    return -1;
}

static int bufs_setup(struct worker *w)
{
    const struct tls_cfg *cfg = w->cfg;
    struct io_uring_buf_reg reg;
    int ret;

    w->br_bytes = (size_t)cfg->bufs * sizeof(struct io_uring_buf);
    w->data_bytes = (size_t)cfg->bufs * cfg->bufsize;
    w->br = mmap(NULL, w->br_bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    w->data = mmap(NULL, w->data_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (w->br == MAP_FAILED || w->data == MAP_FAILED) {
        perror("echo_tls: buffers");
        return -1;
    }
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)w->br;
    reg.ring_entries = cfg->bufs;
    reg.bgid = BGID;
    ret = io_uring_register_buf_ring(&w->ring, &reg, 0);
    if (ret != 0) {
        fprintf(stderr, "echo_tls: register_buf_ring: %s\n", strerror(-ret));
        return -1;
    }
    io_uring_buf_ring_init(w->br);
    w->held = cfg->bufs;
    for (unsigned bid = 0; bid < cfg->bufs; bid++)
        buf_return(w, bid);
    buf_publish(w);
    return 0;
}

static int loop(struct worker *w)
{
    uint64_t deadline = 0;

    for (;;) {
        struct io_uring_cqe *cqe;
        unsigned head, n = 0;
        int ret;

        if (w->stopping) {
            if (deadline == 0)
                deadline = server_now_ns() + STOP_GRACE_NS;
            if ((w->nconns == 0 && !w->accepting && !w->pausing) ||
                server_now_ns() > deadline)
                break;
        }
        buf_publish(w);
        if (w->stopping) {
            struct __kernel_timespec ts = { 0, 100000000 };
            ret = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts,
                                                   NULL);
        } else {
            ret = io_uring_submit_and_wait(&w->ring, 1);
        }
        if (ret < 0 && ret != -EINTR && ret != -ETIME && ret != -EAGAIN &&
            ret != -EBUSY) {
            fprintf(stderr, "echo_tls: submit: %s\n", strerror(-ret));
            return -1;
        }
        io_uring_for_each_cqe(&w->ring, head, cqe) {
            on_cqe(w, cqe);
            n++;
        }
        io_uring_cq_advance(&w->ring, n);
        if (w->nstarved && w->held < w->cfg->bufs)
            feed_starved(w);
    }
    io_uring_submit(&w->ring);
    return 0;
}

static void teardown(struct worker *w, int ring_ok)
{
    if (ring_ok)
        io_uring_queue_exit(&w->ring);
    while (w->conns != NULL) {
        struct conn *c = w->conns;
        w->conns = c->next;
        close(c->fd);
        tls_pipe_close(&c->tls);
        obuf_free(&c->sending);
        free(c);
    }
    if (w->br != NULL && w->br != MAP_FAILED)
        munmap(w->br, w->br_bytes);
    if (w->data != NULL && w->data != MAP_FAILED)
        munmap(w->data, w->data_bytes);
    if (w->lfd >= 0)
        close(w->lfd);
}

static void *worker_main(void *arg)
{
    struct server_worker *sw = arg;
    struct worker *w = calloc(1, sizeof *w);
    int ring_ok = 0, ok = 0;

    if (w == NULL) {
        server_fail(sw);
        return NULL;
    }
    w->sw = sw;
    w->cfg = sw->cfg;
    tls_pipe_thread_begin(&w->cfg->tls);
    w->lfd = net_listen(sw->addr, sw->workers > 1, 0);
    if (w->lfd >= 0 && ring_setup(w) == 0) {
        ring_ok = 1;
        if (bufs_setup(w) == 0) {
            struct io_uring_sqe *sqe = sqe_get(w);
            io_uring_prep_read(sqe, sw->wake_fd, &w->wake_val,
                               sizeof w->wake_val, 0);
            io_uring_sqe_set_data64(sqe, tag(w, OP_WAKE));
            arm_accept(w);
            ok = loop(w) == 0;
        }
    }
    teardown(w, ring_ok);
    tls_pipe_thread_end(&w->cfg->tls);
    free(w);
    OPENSSL_thread_stop();
    if (!ok)
        server_fail(sw);
    return NULL;
}

static int set_option(void *p, const char *name, const char *value)
{
    struct tls_cfg *cfg = p;
    uint64_t v;

    int r = tls_pipe_option(&cfg->tls, name, value);

    if (r <= 0)
        return r;
    if (strcmp(name, "bufs") == 0) {
        if (args_uint("--bufs", value, 1, 32768, &v) != 0)
            return -1;
        if (v & (v - 1)) {
            fprintf(stderr, "--bufs must be a power of two\n");
            return -1;
        }
        cfg->bufs = (unsigned)v;
        return 0;
    }
    if (args_uint("--bufsize", value, 64, 1 << 20, &v) != 0)
        return -1;
    cfg->bufsize = (unsigned)v;
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const extra[] = { "cert", "key", "record-cache",
                                         "bufs", "bufsize", NULL };
    struct tls_cfg cfg = { .bufs = 256, .bufsize = 16384 }; /* 4 MiB */
    struct server_spec spec = {
        .name = "echo_tls",
        .extra_usage =
            "  --cert FILE         PEM certificate (then its chain)\n"
            "  --key FILE          PEM private key\n"
            "  --record-cache on   keep freed record buffers (tls_pipe.h)\n"
            "  --bufs N            ring buffers per worker, 2^k (256)\n"
            "  --bufsize BYTES     bytes per buffer (16384)\n",
        .extra = extra,
        .set = set_option,
        .worker = worker_main,
        .cfg = &cfg,
    };
    int status;

    if (tls_pipe_setup(&cfg.tls, argc, argv, "echo_tls") != 0)
        return 2;
    status = server_main(argc, argv, &spec);
    tls_pipe_teardown(&cfg.tls);
    return status;
}
