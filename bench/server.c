/*
 * server.c: command line, threads and signals for the baseline echo servers
 * (see server.h).
 *
 * Signals are taken synchronously with sigwait() in the main thread, so no
 * handler ever runs inside a worker's loop; the only cross-thread traffic is
 * one eventfd write per worker at stop time. With one worker the listener
 * is bound without SO_REUSEPORT, so a stale server still holding the port
 * makes bind fail instead of silently sharing the load.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "server.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "args.h"

#define MAX_WORKERS 256
#define MAX_OPTS 16

uint64_t server_work_ns;

static void usage(const struct server_spec *spec, FILE *f)
{
    fprintf(f, "usage: %s --addr HOST:PORT [--workers N] [--work-ns N]%s\n"
            "  --work-ns N               spin N ns per read that brought "
            "data: a known\n"
            "                            cost, to check what a measure "
            "makes of it\n%s",
            spec->name, spec->extra ? " [options]" : "",
            spec->extra_usage ? spec->extra_usage : "");
}

uint64_t server_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void server_work(void)
{
    uint64_t start;

    if (server_work_ns == 0)
        return;
    start = server_now_ns();
    while (server_now_ns() - start < server_work_ns)
        ;
}

static int parse(int argc, char **argv, const struct server_spec *spec,
                 struct net_addr *addr, unsigned *workers)
{
    struct option opts[MAX_OPTS + 5];
    unsigned n = 0;
    int have_addr = 0, opt, idx;
    uint64_t v;

    opts[n++] = (struct option){ "addr", required_argument, NULL, 'a' };
    opts[n++] = (struct option){ "workers", required_argument, NULL, 'w' };
    opts[n++] = (struct option){ "work-ns", required_argument, NULL, 'k' };
    opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
    for (unsigned i = 0; spec->extra && spec->extra[i] && i < MAX_OPTS; i++)
        opts[n++] = (struct option){ spec->extra[i], required_argument, NULL,
                                     'x' };
    opts[n] = (struct option){ NULL, 0, NULL, 0 };
    while ((opt = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
        switch (opt) {
        case 'a':
            if (net_parse_addr(optarg, addr) != 0)
                return -1;
            have_addr = 1;
            break;
        case 'w':
            if (args_uint("--workers", optarg, 1, MAX_WORKERS, &v) != 0)
                return -1;
            *workers = (unsigned)v;
            break;
        case 'k':
            if (args_uint("--work-ns", optarg, 0, 1000000000, &v) != 0)
                return -1;
            server_work_ns = v;
            break;
        case 'x':
            if (spec->set(spec->cfg, opts[idx].name, optarg) != 0)
                return -1;
            break;
        case 'h':
            usage(spec, stdout);
            exit(0);
        default:
            usage(spec, stderr);
            return -1;
        }
    }
    if (optind != argc || !have_addr) {
        usage(spec, stderr);
        return -1;
    }
    return 0;
}

void server_fail(struct server_worker *w)
{
    w->status = 1;
    kill(getpid(), SIGTERM);
}

static void wake_all(struct server_worker *w, unsigned n)
{
    uint64_t one = 1;

    for (unsigned i = 0; i < n; i++)
        if (write(w[i].wake_fd, &one, sizeof one) != sizeof one)
            perror("eventfd write");
}

int server_main(int argc, char **argv, const struct server_spec *spec)
{
    struct net_addr addr;
    struct server_worker *w;
    unsigned workers = 1, started = 0;
    sigset_t set;
    int sig = 0, status = 0;

    if (parse(argc, argv, spec, &addr, &workers) != 0)
        return 2;
    net_raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);   /* inherited by workers */
    w = calloc(workers, sizeof *w);
    if (w == NULL) {
        perror(spec->name);
        return 1;
    }
    for (; started < workers; started++) {
        struct server_worker *x = &w[started];
        x->id = started;
        x->workers = workers;
        x->addr = &addr;
        x->cfg = spec->cfg;
        x->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (x->wake_fd < 0 ||
            pthread_create(&x->thread, NULL, spec->worker, x) != 0) {
            fprintf(stderr, "%s: cannot start worker %u\n", spec->name,
                    started);
            if (x->wake_fd >= 0)
                close(x->wake_fd);
            status = 1;
            break;
        }
    }
    if (status == 0)
        sigwait(&set, &sig);
    wake_all(w, started);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(w[i].thread, NULL);
        close(w[i].wake_fd);
        if (w[i].status != 0)
            status = 1;
    }
    free(w);
    return status;
}
