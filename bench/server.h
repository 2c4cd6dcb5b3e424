/*
 * server.h: what the two baseline echo servers share: the command line
 * (--addr, --workers, plus a server's own options), worker threads, and a
 * clean stop on SIGINT/SIGTERM.
 *
 * server_run() blocks SIGINT and SIGTERM in every thread, starts one thread
 * per worker, and waits for one of those signals in the main thread. Each
 * worker gets an eventfd (wake_fd) that becomes readable when the server
 * must stop; the worker watches it in its own loop (an epoll entry, or a
 * read queued on its ring), closes everything it owns and returns. A worker
 * that fails sets its status and raises SIGTERM, which stops the others.
 * Servers print nothing on stdout.
 */
#ifndef BENCH_SERVER_H
#define BENCH_SERVER_H

#include <pthread.h>
#include <stdint.h>

#include "netutil.h"

struct server_worker {
    unsigned id;                 /* 0 .. workers-1 */
    unsigned workers;            /* how many there are */
    int wake_fd;                 /* eventfd: readable = stop now */
    const struct net_addr *addr; /* where every worker listens */
    void *cfg;                   /* the server's own options, read-only */
    int status;                  /* set by the worker: 0 ok, 1 failed */
    pthread_t thread;
};

/* A server's extra option handler: returns 0, or -1 for a bad value. */
typedef int server_opt_fn(void *cfg, const char *name, const char *value);

struct server_spec {
    const char *name;            /* program name for messages */
    const char *extra_usage;     /* usage lines of the extra options */
    const char *const *extra;    /* NULL-terminated names, each takes a value */
    server_opt_fn *set;          /* called for each extra option */
    void *(*worker)(void *);     /* thread body; gets a struct server_worker */
    void *cfg;                   /* passed to set() and to each worker */
};

/* Parses argv, runs the workers until a signal. Returns the exit status. */
int server_main(int argc, char **argv, const struct server_spec *spec);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t server_now_ns(void);

/* --work-ns: the servers call server_work() after each read that brought
 * data, which spins that long (0: returns at once). */
extern uint64_t server_work_ns;
void server_work(void);

/* Called by a failing worker: records the failure and stops the server. */
void server_fail(struct server_worker *w);

#endif
