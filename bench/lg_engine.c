/*
 * lg_engine.c: the load generator's connection engine (see loadgen.h).
 *
 * One thread, one epoll set, non-blocking sockets registered once with
 * EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, so the hot path never calls
 * epoll_ctl. Each connection sends the deterministic stream of pattern.h and
 * checks every byte that comes back; nothing is buffered per connection
 * except a ring of `depth` send timestamps, because any range of the stream
 * can be regenerated from (id, seq, offset). Message seq uses timestamp slot
 * seq % depth; at most depth messages are in flight, so a slot is reused
 * only after its echo arrived.
 *
 * Reads stop at a short read: with edge triggering the queue was empty at
 * that moment and any later data raises a new edge (nginx does the same),
 * which saves the extra read that would return EAGAIN. New messages are
 * generated after all reads of a connection in one turn and go out in one
 * send, so the generator costs few syscalls per message.
 *
 * With --tls every socket carries TLS 1.3 (lg_tls.c): a handshake follows
 * the connect (counted as connecting, so at most MAX_CONNECTING are in
 * progress at once, and timed as a connect is), reads go on until EAGAIN
 * (a record at a time), and the same bytes are checked as in the clear.
 *
 * Time is bounded everywhere: epoll waits are at most one tick (100 ms), a
 * connection without progress for cfg->timeout is closed and counted, the
 * ramp-up of echo mode lasts at most cfg->timeout, and the run ends at its
 * deadline whatever the server does.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "loadgen.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lg_tls.h"
#include "pattern.h"
#include "procstat.h"

#define IO_BUF (64 * 1024)          /* shared read and write scratch */
#define MAX_EVENTS 512
#define MAX_CONNECTING 256          /* connects in progress at once */
#define TICK_NS 100000000ULL        /* timeout/retry scan period */
#define RETRY_NS 100000000ULL       /* pause before reconnecting */
#define REPORT_LIMIT 5              /* diagnostics printed per error kind */

volatile sig_atomic_t lg_stop;

enum state {
    S_WAIT,        /* queued for connect */
    S_CONNECTING,  /* non-blocking connect in progress */
    S_HANDSHAKE,   /* --tls: connected, TLS handshake in progress */
    S_OPEN,        /* exchanging messages */
    S_READY,       /* idle mode: echo confirmed, held open */
    S_RETRY,       /* failed; reconnect at retry_ns */
    S_DEAD         /* failed; no reconnect */
};

enum err_kind { E_CONNECT, E_RESET, E_MISMATCH, E_TIMEOUT };

struct lconn {
    int fd;               /* -1 when closed */
    void *tls;            /* --tls: the session, else NULL */
    uint32_t gen;         /* bumped per socket; tags epoll events */
    uint32_t id;          /* pattern stream id of the current socket */
    uint8_t state;        /* enum state */
    uint8_t was_up;       /* echo: this slot has had an echo (ramp-up) */
    uint8_t paced;        /* --rate: on the queue waiting for tokens */
    uint32_t owed;        /* --rate: messages it may start once paid for */
    uint32_t tx_off;      /* bytes of message tx_seq already sent */
    uint32_t rx_off;      /* bytes of message rx_seq already checked */
    uint64_t tx_seq;      /* message being sent */
    uint64_t rx_seq;      /* message being received */
    uint64_t tx_limit;    /* messages that may be started: rx_seq + depth */
    uint64_t start_ns;    /* when the current socket's connect began */
    uint64_t since_ns;    /* last progress, for the timeout */
    uint64_t retry_ns;    /* S_RETRY: when to reconnect */
    uint64_t *sent_ns;    /* depth slots: send time of message seq */
};

struct engine {
    const struct lg_config *cfg;
    struct lg_result *res;
    int ep;                     /* epoll descriptor */
    struct lconn *conn;         /* cfg->conns slots */
    uint64_t *stamps;           /* conns * depth send timestamps */
    unsigned *queue;            /* ring of slots waiting to connect */
    unsigned qhead, qlen;
    unsigned connecting;        /* sockets in S_CONNECTING */
    unsigned ready;             /* idle: sockets in S_READY */
    uint32_t next_id;           /* pattern stream ids */
    uint32_t src_next;          /* connrate: source address rotation */
    int rotate_src;             /* connrate against 127/8: vary source IP */
    int measuring;              /* inside the window */
    int holding;                /* idle: past idle-ready */
    int no_pwait2;              /* epoll_pwait2 missing: use epoll_wait */
    int ramped;                 /* echo: every connection has echoed once */
    double tokens;              /* --rate: messages that may start now */
    uint64_t tokens_ns;         /* --rate: when tokens was last refilled */
    uint64_t pace_due;          /* --tick: when tokens are next handed out */
    unsigned *payq;             /* --rate: ring of slots owed messages */
    unsigned pq_head, pq_len;
    unsigned up;                /* echo: slots that have echoed once */
    uint64_t now;               /* CLOCK_MONOTONIC ns, refreshed often */
    uint64_t reported[4];       /* diagnostics printed per error kind */
    uint64_t win_ns;            /* window start: clock */
    uint64_t busy_ns;           /* window: time in turns that had events */
    double win_lg, win_srv;     /* window start: CPU seconds, ours and server's */
    double win_srv2;            /* window start: the second server's */
    double win_idle;            /* window start: machine idle CPU seconds */
    uint8_t rbuf[IO_BUF];
    uint8_t tbuf[IO_BUF];
};

static uint64_t clock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double self_cpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t sent_bytes(const struct engine *e, const struct lconn *c)
{
    return c->tx_seq * e->cfg->size + c->tx_off;
}

static uint64_t recv_bytes(const struct engine *e, const struct lconn *c)
{
    return c->rx_seq * e->cfg->size + c->rx_off;
}

/* Closes the socket (and its TLS session). */
static void close_conn(struct lconn *c)
{
    if (c->tls) {
        lg_tls_free(c->tls);
        c->tls = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static ssize_t conn_recv(struct lconn *c, void *buf, size_t n)
{
    return c->tls ? lg_tls_recv(c->tls, buf, n) : recv(c->fd, buf, n, 0);
}

static ssize_t conn_send(struct lconn *c, const void *buf, size_t n)
{
    return c->tls ? lg_tls_send(c->tls, buf, n)
                  : send(c->fd, buf, n, MSG_NOSIGNAL);
}

/* Why a failed conn_recv/conn_send failed. */
static const char *conn_why(const struct lconn *c, int err)
{
    return c->tls && *lg_tls_why() ? lg_tls_why() : strerror(err);
}

/* Closes the socket, counts the error and schedules a reconnect or not. */
static void fail(struct engine *e, struct lconn *c, enum err_kind kind,
                 const char *why)
{
    static const char *names[] = { "connect", "reset", "mismatch",
                                   "timeout" };
    uint64_t *counter[] = { &e->res->err.connect, &e->res->err.reset,
                            &e->res->err.mismatch, &e->res->err.timeout };
    int retry;

    (*counter[kind])++;
    if (e->reported[kind]++ < REPORT_LIMIT)
        fprintf(stderr, "loadgen: %s error on connection %u: %s\n",
                names[kind], (unsigned)(c - e->conn), why);
    if (c->state == S_CONNECTING || c->state == S_HANDSHAKE)
        e->connecting--;
    if (c->state == S_READY)
        e->ready--;
    close_conn(c);
    retry = e->cfg->mode != LG_IDLE || !e->holding;
    c->state = retry ? S_RETRY : S_DEAD;
    c->retry_ns = e->now + RETRY_NS;
}

static void set_source(struct engine *e, int fd)
{
    struct sockaddr_in src;
    int one = 1;
    uint32_t k = e->src_next++ % (16 * 254);

    /* 127.0.{0..15}.{1..254}: 4064 sources x ~28k ports each */
    memset(&src, 0, sizeof src);
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000000u | (k / 254) << 8 | (k % 254 + 1));
    (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                     sizeof one);
    (void)bind(fd, (struct sockaddr *)&src, sizeof src);
}

static void on_connected(struct engine *e, struct lconn *c);

static void start_connect(struct engine *e, struct lconn *c)
{
    const struct lg_config *cfg = e->cfg;
    struct epoll_event ev;
    char why[96];
    int fd;

    fd = socket(cfg->addr.ss.ss_family,
                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c->gen++;
    c->id = e->next_id++;
    c->tx_seq = c->rx_seq = 0;
    c->tx_off = c->rx_off = 0;
    c->tx_limit = 0;
    c->start_ns = c->since_ns = e->now;
    c->fd = fd;
    c->state = S_CONNECTING;
    e->connecting++;
    if (fd < 0) {
        snprintf(why, sizeof why, "socket: %s", strerror(errno));
        fail(e, c, E_CONNECT, why);
        return;
    }
    if (cfg->mode == LG_ECHO)
        net_nodelay(fd);
    if (e->rotate_src)
        set_source(e, fd);
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = (uint64_t)c->gen << 32 | (uint32_t)(c - e->conn);
    if (epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        snprintf(why, sizeof why, "epoll_ctl: %s", strerror(errno));
        fail(e, c, E_CONNECT, why);
        return;
    }
    if (connect(fd, (const struct sockaddr *)&cfg->addr.ss, cfg->addr.len)
        == 0) {
        on_connected(e, c);
    } else if (errno != EINPROGRESS) {
        snprintf(why, sizeof why, "connect: %s", strerror(errno));
        fail(e, c, E_CONNECT, why);
    }
}

/* Connects now if few connects are in progress, else queues the slot. */
static void want_connect(struct engine *e, struct lconn *c)
{
    if (e->connecting < MAX_CONNECTING && e->qlen == 0) {
        start_connect(e, c);
        return;
    }
    c->state = S_WAIT;
    e->queue[(e->qhead + e->qlen) % e->cfg->conns] = (unsigned)(c - e->conn);
    e->qlen++;
}

static void drain_queue(struct engine *e)
{
    while (e->qlen > 0 && e->connecting < MAX_CONNECTING) {
        struct lconn *c = &e->conn[e->queue[e->qhead]];
        e->qhead = (e->qhead + 1) % e->cfg->conns;
        e->qlen--;
        start_connect(e, c);
    }
}

/*
 * Sends as much of messages [tx_seq, tx_limit) as the socket takes,
 * stamping each message when its first byte goes out.
 */
static void pump(struct engine *e, struct lconn *c)
{
    const size_t size = e->cfg->size;
    const unsigned depth = e->cfg->depth;

    while (c->state == S_OPEN && c->tx_seq < c->tx_limit) {
        uint64_t seq = c->tx_seq;
        size_t off = c->tx_off, n = 0, left;
        int idle = sent_bytes(e, c) == recv_bytes(e, c);
        ssize_t w;

        /* --chatty: one message per send() (the rest of a message that
         * went out in part, and then no more) */
        uint64_t stop = e->cfg->chatty && seq + 1 < c->tx_limit
                            ? seq + 1 : c->tx_limit;
        while (seq < stop && n < IO_BUF) {
            size_t chunk = size - off;
            if (chunk > IO_BUF - n)
                chunk = IO_BUF - n;
            pattern_fill(e->tbuf + n, pattern_key(c->id, seq), off, chunk);
            n += chunk;
            off += chunk;
            if (off == size) {
                seq++;
                off = 0;
            }
        }
        e->now = clock_ns();
        w = conn_send(c, e->tbuf, n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            fail(e, c, E_RESET, conn_why(c, errno));
            return;
        }
        if (idle)
            c->since_ns = e->now;
        for (left = (size_t)w; left > 0;) {
            size_t chunk = size - c->tx_off;
            if (c->tx_off == 0)
                c->sent_ns[c->tx_seq % depth] = e->now;
            if (chunk > left)
                chunk = left;
            c->tx_off += (uint32_t)chunk;
            left -= chunk;
            if (c->tx_off == size) {
                c->tx_seq++;
                c->tx_off = 0;
            }
        }
        if ((size_t)w < n && !c->tls)
            return;             /* socket full: EPOLLOUT will come */
        /* TLS writes stop after each record; EAGAIN says when it is full */
    }
}

/*
 * Lets c start n more messages: at once, or with --rate once the token
 * bucket has paid for them (pace() hands out tokens in FIFO order).
 */
static void credit(struct engine *e, struct lconn *c, uint32_t n)
{
    if (e->cfg->rate == 0) {
        c->tx_limit += n;
        return;
    }
    c->owed += n;
    if (!c->paced) {
        c->paced = 1;
        e->payq[(e->pq_head + e->pq_len) % e->cfg->conns] =
            (unsigned)(c - e->conn);
        e->pq_len++;
    }
}

/* --rate: refills the bucket (at most 1 ms of burst, or two --ticks if
 * longer: a tick comes a little late, and what it brings must not be
 * lost) and spends it. */
static void pace(struct engine *e)
{
    double span = e->cfg->tick_ns > 500000 ? 2.0 * (double)e->cfg->tick_ns
                                           : 1e6;
    double burst = e->cfg->rate * span / 1e9;

    if (burst < 1.0)
        burst = 1.0;

    e->tokens += (double)(e->now - e->tokens_ns) * e->cfg->rate / 1e9;
    e->tokens_ns = e->now;
    if (e->tokens > burst)
        e->tokens = burst;
    while (e->pq_len > 0 && e->tokens >= 1.0) {
        struct lconn *c = &e->conn[e->payq[e->pq_head]];
        uint32_t grant = c->owed;

        if (c->state == S_OPEN) {
            if (grant > e->tokens)
                grant = (uint32_t)e->tokens;
            c->tx_limit += grant;
            c->owed -= grant;
            e->tokens -= grant;
        } else {
            c->owed = 0;                 /* its socket failed meanwhile */
        }
        if (c->owed == 0) {
            c->paced = 0;
            e->pq_head = (e->pq_head + 1) % e->cfg->conns;
            e->pq_len--;
        }
        if (grant > 0 && c->state == S_OPEN)
            pump(e, c);
    }
}

/* One whole message came back. Returns 1 if the socket was closed. */
static int message_done(struct engine *e, struct lconn *c)
{
    const struct lg_config *cfg = e->cfg;
    uint64_t sent = c->sent_ns[c->rx_seq % cfg->depth];

    c->rx_seq++;
    switch (cfg->mode) {
    case LG_ECHO:
        if (e->measuring) {
            e->res->msgs++;
            hist_add(e->res->lat, e->now - sent);
        }
        if (e->ramped)
            credit(e, c, 1);
        else if (!c->was_up) {
            c->was_up = 1;
            e->up++;
        }
        return 0;
    case LG_IDLE:
        c->state = S_READY;
        e->ready++;
        return 0;
    case LG_CONNRATE:
        if (e->measuring) {
            e->res->msgs++;
            hist_add(e->res->lat, e->now - c->start_ns);
        }
        if (c->tls)
            lg_tls_close_notify(c->tls);
        close_conn(c);
        want_connect(e, c);
        return 1;
    }
    return 0;
}

/* Checks n received bytes. Returns -1 when the socket was closed. */
static int consume(struct engine *e, struct lconn *c, const uint8_t *p,
                   size_t n)
{
    const size_t size = e->cfg->size;
    char why[160];

    if (n > sent_bytes(e, c) - recv_bytes(e, c)) {
        snprintf(why, sizeof why,
                 "%zu bytes arrived but only %llu were outstanding", n,
                 (unsigned long long)(sent_bytes(e, c) - recv_bytes(e, c)));
        fail(e, c, E_MISMATCH, why);
        return -1;
    }
    c->since_ns = e->now;
    while (n > 0) {
        size_t chunk = size - c->rx_off, k;
        uint64_t key = pattern_key(c->id, c->rx_seq);

        if (chunk > n)
            chunk = n;
        k = pattern_check(p, key, c->rx_off, chunk);
        if (k != chunk) {
            snprintf(why, sizeof why,
                     "message %llu byte %zu: expected 0x%02x, got 0x%02x",
                     (unsigned long long)c->rx_seq, c->rx_off + k,
                     pattern_byte(key, c->rx_off + k), p[k]);
            fail(e, c, E_MISMATCH, why);
            return -1;
        }
        c->rx_off += (uint32_t)chunk;
        p += chunk;
        n -= chunk;
        if (c->rx_off == size) {
            c->rx_off = 0;
            if (message_done(e, c))
                return -1;
        }
    }
    return 0;
}

/* Connected, and with --tls the handshake done: messages may flow. */
static void on_open(struct engine *e, struct lconn *c)
{
    e->connecting--;
    c->state = S_OPEN;
    c->tx_limit = 1;
    if (e->cfg->mode == LG_ECHO && e->ramped) {
        c->tx_limit = 0;
        c->owed = 0;
        credit(e, c, e->cfg->depth);
    }
    pump(e, c);
}

static void handshake(struct engine *e, struct lconn *c)
{
    int rc = lg_tls_handshake(c->tls);

    if (rc < 0) {
        fail(e, c, E_CONNECT, lg_tls_why());
    } else if (rc > 0) {
        if (!e->res->tls[0])
            lg_tls_describe(c->tls, e->res->tls, sizeof e->res->tls);
        on_open(e, c);
    }
}

static void on_connected(struct engine *e, struct lconn *c)
{
    if (!e->cfg->tls) {
        on_open(e, c);
        return;
    }
    c->tls = lg_tls_new(c->fd);
    if (c->tls == NULL) {
        fail(e, c, E_CONNECT, "cannot make a TLS session");
        return;
    }
    c->state = S_HANDSHAKE;
    handshake(e, c);
}

static void on_readable(struct engine *e, struct lconn *c, uint32_t events)
{
    int drain_all = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;

    /* A TLS read returns one record at most: read until EAGAIN. */
    if (c->tls)
        drain_all = 1;
    for (;;) {
        ssize_t r = conn_recv(c, e->rbuf, IO_BUF);
        if (r > 0) {
            e->now = clock_ns();
            if (consume(e, c, e->rbuf, (size_t)r) != 0)
                return;
            if (r < IO_BUF && !drain_all)
                break;
        } else if (r == 0) {
            fail(e, c, E_RESET, "closed by the server");
            return;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN) {
            break;
        } else {
            fail(e, c, E_RESET, conn_why(c, errno));
            return;
        }
    }
    pump(e, c);
}

static void on_event(struct engine *e, const struct epoll_event *ev)
{
    struct lconn *c = &e->conn[(uint32_t)ev->data.u64];

    if ((uint32_t)(ev->data.u64 >> 32) != c->gen || c->fd < 0)
        return;                  /* stale: that socket is gone */
    if (c->state == S_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;

        if (!(ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err != 0) {
            fail(e, c, E_CONNECT, strerror(err));
            return;
        }
        on_connected(e, c);
        return;
    }
    if (c->state == S_HANDSHAKE) {
        handshake(e, c);
        return;
    }
    if (c->state != S_OPEN && c->state != S_READY)
        return;
    if (ev->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        on_readable(e, c, ev->events);
    else if (ev->events & EPOLLOUT)
        pump(e, c);
}

/* Every tick: time out stuck sockets and restart failed ones. */
static void tick(struct engine *e)
{
    const uint64_t limit = (uint64_t)(e->cfg->timeout * 1e9);

    for (unsigned i = 0; i < e->cfg->conns; i++) {
        struct lconn *c = &e->conn[i];

        if ((c->state == S_CONNECTING || c->state == S_HANDSHAKE) &&
            e->now - c->since_ns > limit)
            fail(e, c, E_TIMEOUT, c->state == S_CONNECTING
                                      ? "connect took too long"
                                      : "TLS handshake took too long");
        else if (c->state == S_OPEN && sent_bytes(e, c) != recv_bytes(e, c)
                 && e->now - c->since_ns > limit)
            fail(e, c, E_TIMEOUT, "no echo within the timeout");
        if (c->state == S_RETRY && e->now >= c->retry_ns)
            want_connect(e, c);
    }
}

static void window_edge(struct engine *e, int start)
{
    pid_t pid = e->cfg->server_pid, pid2 = e->cfg->server_pid2;
    double srv = pid > 0 ? procstat_cpu_seconds(pid) : -1.0, idle;
    double srv2 = pid2 > 0 ? procstat_cpu_seconds(pid2) : -1.0;

    if (start) {
        e->measuring = 1;
        e->res->msgs = 0;
        hist_reset(e->res->lat);
        e->win_ns = e->now;
        e->win_lg = self_cpu();
        e->win_srv = srv;
        e->win_srv2 = srv2;
        e->win_idle = procstat_machine_idle();
        e->busy_ns = 0;
        printf("window-start\n");
    } else {
        e->measuring = 0;
        e->res->secs = (double)(e->now - e->win_ns) / 1e9;
        e->res->lg_cpu = self_cpu() - e->win_lg;
        e->res->lg_busy = (double)e->busy_ns / 1e9;
        e->res->srv_cpu = (e->win_srv >= 0 && srv >= 0) ? srv - e->win_srv
                                                        : -1.0;
        e->res->srv2_cpu = (e->win_srv2 >= 0 && srv2 >= 0)
                               ? srv2 - e->win_srv2 : -1.0;
        idle = procstat_machine_idle();
        e->res->other_cpu = -1.0;
        if (e->win_idle >= 0 && idle >= 0 && e->res->srv_cpu >= 0)
            e->res->other_cpu = (double)sysconf(_SC_NPROCESSORS_ONLN) *
                                    e->res->secs - (idle - e->win_idle) -
                                e->res->lg_cpu - e->res->srv_cpu -
                                (e->res->srv2_cpu > 0 ? e->res->srv2_cpu : 0);
        printf("window-end\n");
    }
    fflush(stdout);
}

static int setup(struct engine *e)
{
    const struct lg_config *cfg = e->cfg;

    e->ep = epoll_create1(EPOLL_CLOEXEC);
    e->conn = calloc(cfg->conns, sizeof *e->conn);
    e->stamps = calloc((size_t)cfg->conns * cfg->depth, sizeof *e->stamps);
    e->queue = calloc(cfg->conns, sizeof *e->queue);
    e->payq = calloc(cfg->conns, sizeof *e->payq);
    if (e->ep < 0 || !e->conn || !e->stamps || !e->queue || !e->payq) {
        perror("loadgen: setup");
        return -1;
    }
    for (unsigned i = 0; i < cfg->conns; i++) {
        e->conn[i].fd = -1;
        e->conn[i].state = S_DEAD;
        e->conn[i].sent_ns = e->stamps + (size_t)i * cfg->depth;
    }
    e->rotate_src = cfg->mode == LG_CONNRATE && net_is_loopback4(&cfg->addr);
    e->next_id = 1;
    return 0;
}

static void teardown(struct engine *e)
{
    if (e->conn)
        for (unsigned i = 0; i < e->cfg->conns; i++)
            close_conn(&e->conn[i]);
    if (e->ep >= 0)
        close(e->ep);
    free(e->conn);
    free(e->stamps);
    free(e->queue);
    free(e->payq);
}

/*
 * epoll_pwait2 (Linux 5.11) takes a nanosecond timeout; where it is missing
 * (older kernels, valgrind) fall back to epoll_wait, rounding up to 1 ms.
 */
static int wait_events(struct engine *e, struct epoll_event *evs,
                       const struct timespec *ts)
{
    int n, ms;

    if (!e->no_pwait2) {
        n = epoll_pwait2(e->ep, evs, MAX_EVENTS, ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            goto done;
        e->no_pwait2 = 1;
    }
    ms = (int)ts->tv_sec * 1000 + (int)((ts->tv_nsec + 999999) / 1000000);
    n = epoll_wait(e->ep, evs, MAX_EVENTS, ms);
done:
    if (n < 0 && errno != EINTR) {
        perror("loadgen: epoll_wait");
        lg_stop = 1;
    }
    return n;
}

/* Waits for events until `until` (or one tick) and handles them. */
static void turn(struct engine *e, uint64_t until, uint64_t *next_tick)
{
    struct epoll_event evs[MAX_EVENTS];
    uint64_t wake = until < *next_tick ? until : *next_tick;
    uint64_t wait = wake > e->now ? wake - e->now : 0;
    uint64_t before = 0;
    struct timespec ts;
    int n;

    if (e->pq_len > 0 && e->cfg->tick_ns) {   /* --tick: on the clock */
        uint64_t due = e->pace_due > e->now ? e->pace_due - e->now : 0;
        if (wait > due)
            wait = due;
    } else if (e->pq_len > 0 && wait > 1000000) {
        wait = 1000000;                 /* --rate: tokens come every ms */
    }
    ts.tv_sec = (time_t)(wait / 1000000000ULL);
    ts.tv_nsec = (long)(wait % 1000000000ULL);

    if (e->cfg->spin) {                 /* never sleep; time the work */
        ts.tv_sec = ts.tv_nsec = 0;
        before = clock_ns();
    }
    n = wait_events(e, evs, &ts);
    e->now = clock_ns();
    for (int i = 0; i < n; i++)
        on_event(e, &evs[i]);
    if (e->pq_len > 0 && e->now >= e->pace_due) {
        pace(e);
        /* --tick: the next hand-out is one tick on, whenever this one ran
         * (a late turn does not bunch the ticks that follow). */
        if (e->cfg->tick_ns)
            e->pace_due = e->now + e->cfg->tick_ns;
    }
    drain_queue(e);
    if (e->cfg->spin && n > 0 && e->measuring) {
        e->now = clock_ns();
        e->busy_ns += e->now - before;
    }
    if (e->now >= *next_tick) {
        tick(e);
        drain_queue(e);
        *next_tick = e->now + TICK_NS;
    }
}

/*
 * Echo mode ramps up first: each connection sends one message and waits
 * until every connection has had its echo (or cfg->timeout has passed),
 * then all fill their pipelines at once. Warmup and window follow, so they
 * measure the steady state with all connections served, whatever the
 * server's accept latency. Connrate needs no ramp-up.
 */
static void ramp_up(struct engine *e, uint64_t *next_tick)
{
    const struct lg_config *cfg = e->cfg;
    uint64_t t0 = e->now, limit = t0 + (uint64_t)(cfg->timeout * 1e9);

    if (cfg->mode != LG_ECHO) {
        e->ramped = 1;
        return;
    }
    while (!lg_stop && e->up < cfg->conns && e->now < limit)
        turn(e, limit, next_tick);
    e->ramped = 1;
    e->tokens_ns = e->now;
    for (unsigned i = 0; i < cfg->conns; i++) {
        struct lconn *c = &e->conn[i];
        if (c->state == S_OPEN) {
            credit(e, c, (uint32_t)(c->rx_seq + cfg->depth - c->tx_limit));
            pump(e, c);
        }
    }
    printf("ramp-up: %u of %u connections echoing after %.3f s\n", e->up,
           cfg->conns, (double)(e->now - t0) / 1e9);
    fflush(stdout);
}

static void run_timed(struct engine *e)
{
    const struct lg_config *cfg = e->cfg;
    uint64_t t0, next_tick = e->now + TICK_NS, w0, w1;

    ramp_up(e, &next_tick);
    t0 = e->now;
    w0 = t0 + (uint64_t)(cfg->warmup * 1e9);
    w1 = w0 + (uint64_t)(cfg->duration * 1e9);

    if (w0 == t0)
        window_edge(e, 1);
    while (!lg_stop && e->now < w1) {
        turn(e, e->measuring ? w1 : w0, &next_tick);
        if (!e->measuring && e->now >= w0 && e->now < w1)
            window_edge(e, 1);
    }
    if (!e->measuring)       /* stopped during warmup: empty window */
        window_edge(e, 1);
    window_edge(e, 0);
}

static void run_idle(struct engine *e)
{
    const struct lg_config *cfg = e->cfg;
    uint64_t t0 = e->now, next_tick = e->now + TICK_NS;
    uint64_t setup_end = t0 + (uint64_t)(cfg->duration * 1e9), hold_end;

    while (!lg_stop && e->ready < cfg->conns && e->now < setup_end)
        turn(e, setup_end, &next_tick);
    e->res->setup_secs = (double)(e->now - t0) / 1e9;
    if (e->ready < cfg->conns) {
        printf("idle-failed %u of %u\n", e->ready, cfg->conns);
        fflush(stdout);
        e->res->ready = e->ready;
        return;
    }
    e->holding = 1;
    printf("idle-ready %u\n", e->ready);
    fflush(stdout);
    hold_end = e->now + (uint64_t)(cfg->hold * 1e9);
    while (!lg_stop && e->now < hold_end)
        turn(e, hold_end, &next_tick);
    e->res->ready = e->ready;
}

int lg_run(const struct lg_config *cfg, struct lg_result *res)
{
    struct engine *e = calloc(1, sizeof *e);
    int rc = -1;

    if (e == NULL) {
        perror("loadgen");
        return -1;
    }
    e->cfg = cfg;
    e->res = res;
    e->ep = -1;
    res->srv_cpu = -1.0;
    res->srv2_cpu = -1.0;
    hist_reset(res->lat);
    if (setup(e) == 0) {
        e->now = clock_ns();
        for (unsigned i = 0; i < cfg->conns; i++)
            want_connect(e, &e->conn[i]);
        if (cfg->mode == LG_IDLE)
            run_idle(e);
        else
            run_timed(e);
        res->interrupted = lg_stop != 0;
        rc = 0;
    }
    teardown(e);
    free(e);
    return rc;
}
