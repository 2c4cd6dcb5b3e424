/*
 * loadgen.c: command line and report of the load generator.
 *
 * Parses options into a struct lg_config, raises RLIMIT_NOFILE, arms a hard
 * deadline (SIGALRM kills the run even if the engine were stuck), runs the
 * engine (lg_engine.c) and prints human-readable lines plus one
 * machine-readable RESULT line of key=value pairs for bench/run. With --pid
 * the server's CPU time is sampled by the engine at the exact instants the
 * measured window opens and closes, so CPU per message needs no clock
 * agreement between processes.
 *
 * Exit status: 0 clean run, 1 errors were counted (or not all idle
 * connections came up), 2 bad usage or setup failure, 3 hard deadline hit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "lg_tls.h"
#include "loadgen.h"

#define MAX_CONNS 1000000
#define MAX_DEPTH 1024
#define MAX_SIZE (1024 * 1024)
#define MAX_SECONDS 86400.0
#define RESERVED_FDS 16          /* stdio, epoll and friends */

static void usage(FILE *f)
{
    fputs(
"usage: loadgen --addr HOST:PORT [options]\n"
"  --mode echo|connrate   echo: keep -p messages in flight on -c\n"
"                         connections; connrate: -c slots each repeat\n"
"                         connect, one echo, close (default echo)\n"
"  --idle N               open N connections, confirm each with one echo,\n"
"                         print 'idle-ready N', hold them --hold seconds\n"
"  -c N                   connections or connrate slots (default 50)\n"
"  -p DEPTH               messages in flight per connection (default 1)\n"
"  -s BYTES               message size (default 64)\n"
"  -d SECONDS             measured window; with --idle: time allowed to\n"
"                         set up all connections (default 5; idle 60)\n"
"  --warmup SECONDS       load before the window opens (default 1)\n"
"  --hold SECONDS         idle: how long to hold (default 10)\n"
"  --timeout SECONDS      no progress for this long is an error (default 5)\n"
"  --pid PID              report the CPU time of process PID in the window\n"
"  --pid2 PID             and of a second one apart (a proxy's backend)\n"
"  --tls                  TLS 1.3 on every connection: a full handshake\n"
"                         each (no resumption), no verification\n"
"  --rate N               echo: start at most N messages per second in\n"
"                         all (token bucket), to compare servers at the\n"
"                         same load; default: as fast as echoes return\n"
"  --tick MICROSECONDS    with --rate: start messages only on this clock\n"
"                         (open loop), never when an echo wakes the\n"
"                         generator: arrivals then do not follow the\n"
"                         server's own timing (bench/README.md)\n"
"  --spin                 poll epoll without sleeping: the server never\n"
"                         has to wake the generator, and lg_busy (share of\n"
"                         the window spent handling events) shows how\n"
"                         close the generator is to being the bottleneck\n"
"  --chatty               echo: one send() per message (a new message as\n"
"                         each echo returns), never several in one: the\n"
"                         server sees many small segments, as a chatty\n"
"                         protocol's peer sends them\n",
          f);
}

static void on_signal(int sig)
{
    (void)sig;
    lg_stop = 1;
}

static void on_alarm(int sig)
{
    static const char msg[] = "loadgen: hard deadline reached, aborting\n";

    (void)sig;
    (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
    _exit(3);
}

static void install_signals(double budget)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;          /* no SA_RESTART: wake epoll */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)ceil(budget));
}

static int parse(int argc, char **argv, struct lg_config *cfg)
{
    enum { O_ADDR = 256, O_MODE, O_IDLE, O_HOLD, O_WARMUP, O_TIMEOUT, O_PID,
           O_SPIN, O_RATE, O_TICK, O_PID2, O_TLS, O_CHATTY };
    static const struct option longopts[] = {
        { "addr", required_argument, NULL, O_ADDR },
        { "mode", required_argument, NULL, O_MODE },
        { "idle", required_argument, NULL, O_IDLE },
        { "hold", required_argument, NULL, O_HOLD },
        { "warmup", required_argument, NULL, O_WARMUP },
        { "timeout", required_argument, NULL, O_TIMEOUT },
        { "pid", required_argument, NULL, O_PID },
        { "spin", no_argument, NULL, O_SPIN },
        { "chatty", no_argument, NULL, O_CHATTY },
        { "rate", required_argument, NULL, O_RATE },
        { "tick", required_argument, NULL, O_TICK },
        { "pid2", required_argument, NULL, O_PID2 },
        { "tls", no_argument, NULL, O_TLS },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int have_addr = 0, have_d = 0, opt;
    uint64_t v;

    while ((opt = getopt_long(argc, argv, "c:p:s:d:h", longopts, NULL))
           != -1) {
        int rc = 0;
        switch (opt) {
        case O_ADDR:
            rc = net_parse_addr(optarg, &cfg->addr);
            have_addr = 1;
            break;
        case O_MODE:
            if (strcmp(optarg, "echo") == 0) {
                cfg->mode = LG_ECHO;
            } else if (strcmp(optarg, "connrate") == 0) {
                cfg->mode = LG_CONNRATE;
            } else {
                fprintf(stderr, "--mode: echo or connrate, not '%s'\n",
                        optarg);
                rc = -1;
            }
            break;
        case O_IDLE:
            rc = args_uint("--idle", optarg, 1, MAX_CONNS, &v);
            cfg->mode = LG_IDLE;
            cfg->conns = (unsigned)v;
            break;
        case 'c':
            rc = args_uint("-c", optarg, 1, MAX_CONNS, &v);
            cfg->conns = (unsigned)v;
            break;
        case 'p':
            rc = args_uint("-p", optarg, 1, MAX_DEPTH, &v);
            cfg->depth = (unsigned)v;
            break;
        case 's':
            rc = args_uint("-s", optarg, 1, MAX_SIZE, &v);
            cfg->size = (size_t)v;
            break;
        case 'd':
            rc = args_seconds("-d", optarg, MAX_SECONDS, &cfg->duration);
            have_d = 1;
            break;
        case O_WARMUP:
            rc = args_seconds("--warmup", optarg, MAX_SECONDS, &cfg->warmup);
            break;
        case O_HOLD:
            rc = args_seconds("--hold", optarg, MAX_SECONDS, &cfg->hold);
            break;
        case O_TIMEOUT:
            rc = args_seconds("--timeout", optarg, MAX_SECONDS,
                              &cfg->timeout);
            break;
        case O_PID:
            rc = args_uint("--pid", optarg, 1, 0x7fffffff, &v);
            cfg->server_pid = (pid_t)v;
            break;
        case O_PID2:
            rc = args_uint("--pid2", optarg, 1, 0x7fffffff, &v);
            cfg->server_pid2 = (pid_t)v;
            break;
        case O_SPIN:
            cfg->spin = 1;
            break;
        case O_TLS:
            cfg->tls = 1;
            break;
        case O_CHATTY:
            cfg->chatty = 1;
            break;
        case O_RATE:
            rc = args_uint("--rate", optarg, 1, 100000000, &v);
            cfg->rate = (double)v;
            break;
        case O_TICK:
            rc = args_uint("--tick", optarg, 10, 1000000, &v);
            cfg->tick_ns = v * 1000;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
        if (rc != 0)
            return -1;
    }
    if (optind != argc || !have_addr) {
        usage(stderr);
        return -1;
    }
    if (cfg->tick_ns && cfg->rate == 0) {
        fprintf(stderr, "--tick paces --rate: give both\n");
        return -1;
    }
    if (cfg->mode != LG_ECHO) {
        cfg->depth = 1;
        cfg->rate = 0;
        cfg->tick_ns = 0;
    }
    if (cfg->mode == LG_IDLE && !have_d)
        cfg->duration = 60.0;
    if (cfg->timeout <= 0.0) {
        fprintf(stderr, "--timeout must be positive\n");
        return -1;
    }
    return 0;
}

static void print_us(const char *label, uint64_t ns)
{
    printf("%s %.1f us", label, (double)ns / 1e3);
}

static void report_timed(const struct lg_config *cfg,
                         const struct lg_result *r)
{
    const char *unit = cfg->mode == LG_ECHO ? "msgs" : "conns";
    double rate = r->secs > 0 ? (double)r->msgs / r->secs : 0.0;
    double srv_us = (r->srv_cpu >= 0 && r->msgs > 0)
                        ? r->srv_cpu * 1e6 / (double)r->msgs : -1.0;
    uint64_t errors = lg_errors_total(&r->err);
    char srv_cpu[32], srv_per[32], busy[32] = "NA", other[32] = "NA";
    char srv2[80] = "", tls[120] = "";

    printf("rate: %llu %s in %.3f s = %.0f %s/s\n",
           (unsigned long long)r->msgs, unit, r->secs, rate, unit);
    print_us("latency: p50", hist_quantile(r->lat, 0.50));
    print_us("  p99", hist_quantile(r->lat, 0.99));
    print_us("  mean", (uint64_t)hist_mean(r->lat));
    print_us("  max", r->lat->max);
    printf("\n");
    printf("cpu: loadgen %.2f core", r->secs > 0 ? r->lg_cpu / r->secs : 0);
    if (cfg->spin)
        printf(" (spinning, busy %.0f%%)",
               r->secs > 0 ? 100.0 * r->lg_busy / r->secs : 0);
    if (srv_us >= 0)
        printf("; server %.2f core, %.3f us per %s", r->srv_cpu / r->secs,
               srv_us, cfg->mode == LG_ECHO ? "message" : "connection");
    if (r->other_cpu > -1.0 && r->secs > 0)
        printf("; everything else %.2f core", r->other_cpu / r->secs);
    printf("\n");
    snprintf(srv_cpu, sizeof srv_cpu, "%.3f", r->srv_cpu);
    snprintf(srv_per, sizeof srv_per, "%.4f", srv_us);
    if (cfg->spin && r->secs > 0)
        snprintf(busy, sizeof busy, "%.3f", r->lg_busy / r->secs);
    if (cfg->server_pid2 > 0)
        snprintf(srv2, sizeof srv2, " srv2_cpu=%.3f srv2_us_per_msg=%.4f",
                 r->srv2_cpu, r->msgs > 0 && r->srv2_cpu >= 0
                                  ? r->srv2_cpu * 1e6 / (double)r->msgs
                                  : -1.0);
    if (cfg->tls)
        snprintf(tls, sizeof tls, " tls=%s", r->tls[0] ? r->tls : "none");
    for (char *p = tls[0] ? tls + 1 : tls; *p; p++)
        if (*p == ' ')
            *p = '/';              /* one field: TLSv1.3/cipher/group */
    if (r->other_cpu > -1.0 && r->secs > 0)
        snprintf(other, sizeof other, "%.3f", r->other_cpu / r->secs);
    printf("RESULT mode=%s conns=%u depth=%u size=%zu target=%.0f msgs=%llu "
           "secs=%.3f rate=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f errors=%llu "
           "err_connect=%llu err_reset=%llu err_mismatch=%llu "
           "err_timeout=%llu lg_cpu=%.3f lg_busy=%s srv_cpu=%s "
           "srv_us_per_msg=%s other_cpu=%s%s%s\n",
           cfg->mode == LG_ECHO ? "echo" : "connrate", cfg->conns,
           cfg->depth, cfg->size, cfg->rate, (unsigned long long)r->msgs,
           r->secs, rate,
           (double)hist_quantile(r->lat, 0.50) / 1e3,
           (double)hist_quantile(r->lat, 0.99) / 1e3,
           (double)r->lat->max / 1e3, (unsigned long long)errors,
           (unsigned long long)r->err.connect,
           (unsigned long long)r->err.reset,
           (unsigned long long)r->err.mismatch,
           (unsigned long long)r->err.timeout,
           r->secs > 0 ? r->lg_cpu / r->secs : 0.0, busy,
           r->srv_cpu >= 0 ? srv_cpu : "NA", srv_us >= 0 ? srv_per : "NA",
           other, srv2, tls);
}

static void report_idle(const struct lg_config *cfg,
                        const struct lg_result *r)
{
    printf("idle: %u of %u connections confirmed in %.3f s, %u open at the "
           "end\n", r->ready, cfg->conns, r->setup_secs, r->ready);
    printf("RESULT mode=idle conns=%u ready=%u setup_secs=%.3f errors=%llu "
           "err_connect=%llu err_reset=%llu err_mismatch=%llu "
           "err_timeout=%llu\n",
           cfg->conns, r->ready, r->setup_secs,
           (unsigned long long)lg_errors_total(&r->err),
           (unsigned long long)r->err.connect,
           (unsigned long long)r->err.reset,
           (unsigned long long)r->err.mismatch,
           (unsigned long long)r->err.timeout);
}

int main(int argc, char **argv)
{
    static struct hist lat;
    struct lg_config cfg = {
        .mode = LG_ECHO, .conns = 50, .depth = 1, .size = 64,
        .warmup = 1.0, .duration = 5.0, .hold = 10.0, .timeout = 5.0,
    };
    struct lg_result res = { .lat = &lat };
    const struct lg_errors *e = &res.err;
    char where[64];
    long nofile;

    if (parse(argc, argv, &cfg) != 0)
        return 2;
    if (cfg.tls && lg_tls_init("localhost") != 0)
        return 2;
    nofile = net_raise_nofile();
    if (nofile >= 0 && (long)cfg.conns > nofile - RESERVED_FDS) {
        fprintf(stderr, "loadgen: %u connections need more descriptors than "
                "RLIMIT_NOFILE allows (%ld)\n", cfg.conns, nofile);
        return 2;
    }
    install_signals(cfg.warmup + cfg.duration + 2 * cfg.timeout + 10.0 +
                    (cfg.mode == LG_IDLE ? cfg.hold : 0.0));
    net_format_addr(&cfg.addr, where, sizeof where);
    if (cfg.mode == LG_IDLE)
        printf("loadgen: idle %s conns=%u size=%zu hold=%gs\n", where,
               cfg.conns, cfg.size, cfg.hold);
    else
        printf("loadgen: %s %s conns=%u depth=%u size=%zu warmup=%gs "
               "window=%gs rate=%g tick=%gus\n",
               cfg.mode == LG_ECHO ? "echo" : "connrate", where, cfg.conns,
               cfg.depth, cfg.size, cfg.warmup, cfg.duration, cfg.rate,
               (double)cfg.tick_ns / 1000.0);
    fflush(stdout);
    if (lg_run(&cfg, &res) != 0)
        return 2;
    if (cfg.tls)
        printf("tls: %s\n", res.tls[0] ? res.tls : "no handshake completed");
    printf("errors: %llu (connect %llu, reset %llu, mismatch %llu, "
           "timeout %llu)%s\n", (unsigned long long)lg_errors_total(e),
           (unsigned long long)e->connect, (unsigned long long)e->reset,
           (unsigned long long)e->mismatch, (unsigned long long)e->timeout,
           res.interrupted ? " [interrupted]" : "");
    if (cfg.mode == LG_IDLE)
        report_idle(&cfg, &res);
    else
        report_timed(&cfg, &res);
    fflush(stdout);
    if (cfg.tls)
        lg_tls_done();
    if (lg_errors_total(e) > 0)
        return 1;
    return cfg.mode == LG_IDLE && res.ready < cfg.conns ? 1 : 0;
}
