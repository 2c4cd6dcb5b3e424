/*
 * echo_uring.c: the raw C io_uring echo server, the baseline the Lua host is
 * measured against. It uses the loop the host uses, done as well as we
 * know how, so the gap to the host is the cost of the host's own layers.
 *
 * One thread per worker, each with its own ring (SINGLE_ISSUER |
 * DEFER_TASKRUN where the kernel has them: only the owner thread submits
 * and completions run when it waits, no IPIs), its own SO_REUSEPORT
 * listener with one multishot accept, and its own provided-buffer ring.
 * Receives pick a buffer from that ring only when data arrives, so an idle
 * connection pins none. The received buffer itself is sent back (no copy)
 * and returns to the ring when its send completes. One send is in flight
 * per connection; buffers that arrive meanwhile queue behind it (linked by
 * buffer id, so the queue costs nothing per connection) and go out
 * together in one sendmsg. Past PAUSE_AT queued buffers the connection
 * stops reading until its sends drain, so a client that does not read
 * cannot empty the shared ring. MSG_WAITALL makes the kernel finish short
 * sends itself; a short completion is still handled by sending the rest.
 *
 * Each loop turn publishes returned buffers, submits every queued SQE and
 * waits in one io_uring_submit_and_wait(), then reaps all CQEs in a batch.
 * A recv that fails with -ENOBUFS marks its connection starved; starved
 * connections are re-armed once buffers have come back. Any multishot CQE
 * without IORING_CQE_F_MORE is re-armed.
 *
 * recv one-shot vs multishot (--recv): measured with bench/loadgen on the
 * 2-vCPU test VM (kernel 6.18, 64-byte messages, server CPU per message,
 * runs with other load under 0.05 core), multishot cost 1-4% less than
 * one-shot: 7.7 vs 7.9 us at 50 conns x 1, 0.52 vs 0.54 us at 50 x 16,
 * 8.45 vs 8.5 us at 1000 x 1, and the same 31 us per connection for
 * connect/echo/close. It saves an SQE and a poll re-arm per receive, so it
 * is the default. One-shot arms with IORING_RECVSEND_POLL_FIRST unless the
 * kernel flagged that more data is waiting (IORING_CQE_F_SOCK_NONEMPTY).
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

#define SQ_ENTRIES 1024
#define CQ_ENTRIES 16384
#define BGID 0                 /* buffer group of the worker's ring */
#define PAUSE_AT 8             /* queued buffers that stop reading */
#define GATHER_MAX 8           /* buffers per sendmsg */
#define ACCEPT_PAUSE_NS 50000000
#define STOP_GRACE_NS 2000000000ULL

enum op {                      /* low 3 bits of user_data */
    OP_NONE,                   /* cancel/close results: ignored */
    OP_RECV, OP_SEND,          /* pointer part: struct conn */
    OP_ACCEPT, OP_WAKE, OP_PAUSE  /* pointer part: struct worker */
};
#define OP_MASK 7u

enum {                         /* struct conn flags */
    F_RECV = 1,                /* a recv is armed */
    F_SEND = 2,                /* a send is in flight */
    F_PAUSING = 4,             /* multishot recv cancel requested */
    F_STARVED = 8,             /* recv ended with -ENOBUFS, not re-armed */
    F_EOF = 16,                /* peer finished sending */
    F_CLOSING = 32             /* close requested; freed when ops end */
};

struct uring_cfg {
    unsigned bufs;             /* buffers in each worker's ring, 2^k */
    unsigned bufsize;          /* bytes per buffer */
    int multishot;             /* recv mode */
};

/* An in-flight gather send; the kernel reads it until the CQE. */
struct sendv {
    struct msghdr mh;
    struct iovec iov[GATHER_MAX];
    struct sendv *next;        /* worker's free list */
};

/* One accepted socket. The kernel holds it (user_data) while F_RECV or
 * F_SEND is set; it is freed only when both are clear. */
struct conn {
    int fd;
    uint16_t flags;            /* F_* */
    uint16_t qcount;           /* buffers queued for sending */
    uint16_t qhead, qtail;     /* first and last queued buffer id */
    uint32_t qoff;             /* bytes of qhead already sent */
    struct sendv *sv;          /* gather send in flight, or NULL */
    struct conn *prev, *next;  /* worker's list of live connections */
};

struct worker {
    struct io_uring ring;
    struct server_worker *sw;
    const struct uring_cfg *cfg;
    int lfd;                   /* this worker's listener */
    struct io_uring_buf_ring *br;   /* shared with the kernel */
    size_t br_bytes;
    uint8_t *data;             /* bufs * bufsize bytes of buffer memory */
    size_t data_bytes;
    uint32_t *blen;            /* bytes received into each buffer */
    uint16_t *bnext;           /* send queue links, by buffer id */
    unsigned added;            /* buffers returned since last publish */
    unsigned held;             /* buffers out of the ring (ours) */
    unsigned nstarved;         /* connections with F_STARVED */
    struct conn *conns;        /* live connections */
    unsigned nconns;
    struct sendv *sv_free;
    uint64_t wake_val;         /* eventfd read target (kernel writes) */
    struct __kernel_timespec pause;  /* accept back-off (kernel reads) */
    int accepting;             /* multishot accept armed */
    int pausing;               /* accept back-off timer armed */
    int stopping;
};

static uint64_t tag(void *p, enum op op)
{
    return (uint64_t)(uintptr_t)p | op;
}

static struct io_uring_sqe *sqe_get(struct worker *w)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

    for (int i = 0; sqe == NULL && i < 8; i++) {
        io_uring_submit(&w->ring);            /* SQ full: flush it */
        sqe = io_uring_get_sqe(&w->ring);
    }
    if (sqe == NULL) {
        fprintf(stderr, "echo_uring: submission queue stuck\n");
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

static void arm_recv(struct worker *w, struct conn *c, int poll_first)
{
    struct io_uring_sqe *sqe = sqe_get(w);

    if (w->cfg->multishot) {
        io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    } else {
        io_uring_prep_recv(sqe, c->fd, NULL, 0, 0);
        if (poll_first)
            sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
    }
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, tag(c, OP_RECV));
    c->flags |= F_RECV;
}

/* Sends the queued buffers: one send, or one sendmsg gathering several. */
static void post_send(struct worker *w, struct conn *c)
{
    struct io_uring_sqe *sqe = sqe_get(w);
    unsigned bid = c->qhead;

    if (c->qcount == 1) {
        io_uring_prep_send(sqe, c->fd, buf_addr(w, bid) + c->qoff,
                           w->blen[bid] - c->qoff, MSG_WAITALL);
    } else {
        struct sendv *sv = w->sv_free;
        unsigned n = 0;

        if (sv != NULL)
            w->sv_free = sv->next;
        else if ((sv = malloc(sizeof *sv)) == NULL)
            abort();                       /* out of memory */
        memset(&sv->mh, 0, sizeof sv->mh);
        for (; n < c->qcount && n < GATHER_MAX; n++, bid = w->bnext[bid]) {
            uint32_t skip = n == 0 ? c->qoff : 0;
            sv->iov[n].iov_base = buf_addr(w, bid) + skip;
            sv->iov[n].iov_len = w->blen[bid] - skip;
        }
        sv->mh.msg_iov = sv->iov;
        sv->mh.msg_iovlen = n;
        io_uring_prep_sendmsg(sqe, c->fd, &sv->mh, MSG_WAITALL);
        c->sv = sv;
    }
    io_uring_sqe_set_data64(sqe, tag(c, OP_SEND));
    c->flags |= F_SEND;
}

static void enqueue(struct worker *w, struct conn *c, unsigned bid,
                    uint32_t len)
{
    w->blen[bid] = len;
    if (c->qcount == 0)
        c->qhead = (uint16_t)bid;
    else
        w->bnext[c->qtail] = (uint16_t)bid;
    c->qtail = (uint16_t)bid;
    c->qcount++;
}

/* Drops `bytes` sent bytes from the front of the queue. */
static void dequeue(struct worker *w, struct conn *c, size_t bytes)
{
    while (bytes > 0 && c->qcount > 0) {
        size_t avail = w->blen[c->qhead] - c->qoff;
        if (bytes < avail) {
            c->qoff += (uint32_t)bytes;
            return;
        }
        bytes -= avail;
        buf_return(w, c->qhead);
        c->qhead = w->bnext[c->qhead];
        c->qcount--;
        c->qoff = 0;
    }
    if (bytes > 0) {
        fprintf(stderr, "echo_uring: kernel sent more than was queued\n");
        abort();
    }
}

static struct conn *conn_new(struct worker *w, int fd)
{
    struct conn *c = calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    c->fd = fd;
    CONN_LIST_PUSH(w->conns, c);
    w->nconns++;
    return c;
}

/* Frees c once the kernel holds nothing of it. */
static void conn_release(struct worker *w, struct conn *c)
{
    struct io_uring_sqe *sqe;

    if (!(c->flags & F_CLOSING) || (c->flags & (F_RECV | F_SEND)))
        return;
    while (c->qcount > 0) {
        buf_return(w, c->qhead);
        c->qhead = w->bnext[c->qhead];
        c->qcount--;
    }
    if (c->flags & F_STARVED)
        w->nstarved--;
    sqe = sqe_get(w);
    io_uring_prep_close(sqe, c->fd);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, tag(NULL, OP_NONE));
    CONN_LIST_UNLINK(w->conns, c);
    w->nconns--;
    free(c);
}

/*
 * Cancels what the kernel holds of c. Never frees c: the caller ends with
 * conn_release(), which frees it once its last operation has completed.
 */
static void conn_close(struct worker *w, struct conn *c)
{
    if (c->flags & F_CLOSING)
        return;
    c->flags |= F_CLOSING;
    if (c->flags & (F_RECV | F_SEND)) {
        struct io_uring_sqe *sqe = sqe_get(w);
        io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
        sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
        io_uring_sqe_set_data64(sqe, tag(NULL, OP_NONE));
    }
}

/*
 * After a completion: read more, pause reading, or finish. Must be the last
 * use of c by the caller, since it may free c.
 */
static void conn_next(struct worker *w, struct conn *c, int poll_first)
{
    if (c->flags & F_EOF && !(c->flags & F_SEND) && c->qcount == 0)
        conn_close(w, c);
    if (c->flags & F_CLOSING) {
        conn_release(w, c);
        return;
    }
    if (c->flags & F_EOF)
        return;
    if (c->qcount >= PAUSE_AT) {
        if ((c->flags & (F_RECV | F_PAUSING)) == F_RECV &&
            w->cfg->multishot) {
            struct io_uring_sqe *sqe = sqe_get(w);
            io_uring_prep_cancel64(sqe, tag(c, OP_RECV), 0);
            sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
            io_uring_sqe_set_data64(sqe, tag(NULL, OP_NONE));
            c->flags |= F_PAUSING;
        }
        return;
    }
    if (!(c->flags & (F_RECV | F_STARVED)))
        arm_recv(w, c, poll_first);
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
        if (res > 0 && !(c->flags & F_CLOSING)) {
            server_work();
            enqueue(w, c, bid, (uint32_t)res);
            if (!(c->flags & F_SEND))
                post_send(w, c);
        } else {
            buf_return(w, bid);
        }
    } else if (res > 0) {
        fprintf(stderr, "echo_uring: recv data without a buffer\n");
        abort();
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
    conn_next(w, c, !(cqe->flags & IORING_CQE_F_SOCK_NONEMPTY));
}

static void on_send(struct worker *w, struct conn *c,
                    const struct io_uring_cqe *cqe)
{
    c->flags &= (uint16_t)~F_SEND;
    if (c->sv != NULL) {
        c->sv->next = w->sv_free;
        w->sv_free = c->sv;
        c->sv = NULL;
    }
    if (cqe->res <= 0) {
        conn_close(w, c);
    } else {
        dequeue(w, c, (size_t)cqe->res);
        if (c->qcount > 0 && !(c->flags & F_CLOSING))
            post_send(w, c);
    }
    conn_next(w, c, 0);
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
            arm_recv(w, c, 1);
        }
    }
    if (w->accepting || w->stopping)
        return;
    if (res == -EMFILE || res == -ENFILE || res == -ENOMEM) {
        struct io_uring_sqe *sqe = sqe_get(w);   /* back off, no busy loop */
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
    struct io_uring_sqe *sqe;

    w->stopping = 1;
    if (w->accepting) {
        sqe = sqe_get(w);
        io_uring_prep_cancel64(sqe, tag(w, OP_ACCEPT), 0);
        sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
        io_uring_sqe_set_data64(sqe, tag(NULL, OP_NONE));
    }
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

/* Re-arms starved connections, no more than there are free buffers. */
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
        conn_next(w, c, 0);
    }
}

static int ring_setup(struct worker *w)
{
    static const unsigned tries[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0
    };
    int ret = -EINVAL;

    for (unsigned i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = tries[i] | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
        p.cq_entries = CQ_ENTRIES;
        ret = io_uring_queue_init_params(SQ_ENTRIES, &w->ring, &p);
        if (ret == 0) {
            if (i > 0)
                fprintf(stderr, "echo_uring: no DEFER_TASKRUN, flags 0x%x\n",
                        p.flags);
            (void)io_uring_register_ring_fd(&w->ring);
            return 0;
        }
        if (ret != -EINVAL)
            break;
    }
    fprintf(stderr, "echo_uring: io_uring_queue_init: %s\n", strerror(-ret));
    return -1;
}

/* Maps, pre-faults and registers the provided-buffer ring. */
static int bufs_setup(struct worker *w)
{
    const struct uring_cfg *cfg = w->cfg;
    struct io_uring_buf_reg reg;
    int ret;

    w->br_bytes = (size_t)cfg->bufs * sizeof(struct io_uring_buf);
    w->data_bytes = (size_t)cfg->bufs * cfg->bufsize;
    w->br = mmap(NULL, w->br_bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    w->data = mmap(NULL, w->data_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    w->blen = calloc(cfg->bufs, sizeof *w->blen);
    w->bnext = calloc(cfg->bufs, sizeof *w->bnext);
    if (w->br == MAP_FAILED || w->data == MAP_FAILED || !w->blen ||
        !w->bnext) {
        perror("echo_uring: buffers");
        return -1;
    }
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)w->br;
    reg.ring_entries = cfg->bufs;
    reg.bgid = BGID;
    ret = io_uring_register_buf_ring(&w->ring, &reg, 0);
    if (ret != 0) {
        fprintf(stderr, "echo_uring: register_buf_ring: %s\n",
                strerror(-ret));
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
            fprintf(stderr, "echo_uring: submit: %s\n", strerror(-ret));
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
    io_uring_submit(&w->ring);              /* flush queued closes */
    return 0;
}

static void teardown(struct worker *w, int ring_ok)
{
    if (ring_ok)
        io_uring_queue_exit(&w->ring);      /* ends every pending op */
    while (w->conns != NULL) {
        struct conn *c = w->conns;
        w->conns = c->next;
        free(c->sv);
        close(c->fd);
        free(c);
    }
    while (w->sv_free != NULL) {
        struct sendv *sv = w->sv_free;
        w->sv_free = sv->next;
        free(sv);
    }
    if (w->br != NULL && w->br != MAP_FAILED)
        munmap(w->br, w->br_bytes);
    if (w->data != NULL && w->data != MAP_FAILED)
        munmap(w->data, w->data_bytes);
    free(w->blen);
    free(w->bnext);
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
    free(w);
    if (!ok)
        server_fail(sw);
    return NULL;
}

static int set_option(void *p, const char *name, const char *value)
{
    struct uring_cfg *cfg = p;
    uint64_t v;

    if (strcmp(name, "recv") == 0) {
        if (strcmp(value, "multishot") == 0 || strcmp(value, "oneshot") == 0) {
            cfg->multishot = value[0] == 'm';
            return 0;
        }
        fprintf(stderr, "--recv: multishot or oneshot, not '%s'\n", value);
        return -1;
    }
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
    static const char *const extra[] = { "recv", "bufs", "bufsize", NULL };
    struct uring_cfg cfg = { .bufs = 4096, .bufsize = 4096, .multishot = 1 };
    struct server_spec spec = {
        .name = "echo_uring",
        .extra_usage =
            "  --recv multishot|oneshot  receive mode (default multishot)\n"
            "  --bufs N                  ring buffers per worker, 2^k "
            "(default 4096)\n"
            "  --bufsize BYTES           bytes per buffer (default 4096)\n",
        .extra = extra,
        .set = set_option,
        .worker = worker_main,
        .cfg = &cfg,
    };

    return server_main(argc, argv, &spec);
}
