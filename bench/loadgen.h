/*
 * loadgen.h: the contract between the load generator's command line
 * (loadgen.c) and its connection engine (lg_engine.c).
 *
 * The engine runs one of three loads against one address, from a single
 * thread, and fills a struct lg_result; the command line parses options and
 * prints. Times are seconds as doubles at this boundary and nanoseconds
 * inside the engine.
 */
#ifndef BENCH_LOADGEN_H
#define BENCH_LOADGEN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hist.h"
#include "netutil.h"

enum lg_mode {
    LG_ECHO,      /* conns connections, depth messages in flight on each */
    LG_CONNRATE,  /* conns slots: connect, one echo, close, repeat */
    LG_IDLE       /* conns connections, one echo each, then held open */
};

struct lg_config {
    struct net_addr addr;  /* server to load */
    enum lg_mode mode;
    unsigned conns;        /* connections (echo, idle) or slots (connrate) */
    unsigned depth;        /* echo: messages in flight per connection */
    size_t size;           /* bytes per message */
    double warmup;         /* echo/connrate: seconds before the window */
    double duration;       /* echo/connrate: window; idle: setup limit */
    double hold;           /* idle: seconds to hold after idle-ready */
    double timeout;        /* seconds without progress = a timeout error */
    pid_t server_pid;      /* > 0: sample its CPU time over the window */
    int spin;              /* poll without sleeping (see loadgen.c) */
    int chatty;            /* echo: one send() per message, never more */
    double rate;           /* echo: messages/s for all, 0 = as fast as can */
    uint64_t tick_ns;      /* --tick: with --rate, messages start only on
                              this clock, not as echoes return */
    int tls;               /* TLS 1.3 over every connection (lg_tls.h) */
    pid_t server_pid2;     /* > 0: a second server process (a proxy's
                              backend), its CPU reported apart */
};

struct lg_errors {
    uint64_t connect;      /* refused, unreachable or failed connects */
    uint64_t reset;        /* reset, or closed by the server mid-stream */
    uint64_t mismatch;     /* a byte differed from the pattern, or extra */
    uint64_t timeout;      /* no progress for cfg->timeout seconds */
};

struct lg_result {
    uint64_t msgs;         /* messages (connrate: connections) in window */
    double secs;           /* measured window length */
    struct hist *lat;      /* caller's storage: latency of those, in ns */
    struct lg_errors err;  /* over the whole run, warmup included */
    double lg_cpu;         /* this process's CPU seconds in the window */
    double lg_busy;        /* seconds of the window spent handling events */
    double srv_cpu;        /* server CPU seconds in the window, or -1 */
    double srv2_cpu;       /* server_pid2's, or -1 */
    char tls[96];          /* TLS: what the first handshake agreed on */
    double other_cpu;      /* everything else's CPU seconds, or -1 */
    unsigned ready;        /* idle: connections confirmed and still open */
    double setup_secs;     /* idle: time until all were confirmed */
    int interrupted;       /* stopped early by SIGINT or SIGTERM */
};

/* Set by the signal handler; the engine stops at its next loop turn. */
extern volatile sig_atomic_t lg_stop;

/*
 * Runs the load described by cfg; res->lat must point to a histogram.
 * Returns 0 when the run went to its end (errors may still be counted),
 * -1 when it could not start (message on stderr).
 */
int lg_run(const struct lg_config *cfg, struct lg_result *res);

static inline uint64_t lg_errors_total(const struct lg_errors *e)
{
    return e->connect + e->reset + e->mismatch + e->timeout;
}

#endif
