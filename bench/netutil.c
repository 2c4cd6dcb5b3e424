/*
 * netutil.c: socket plumbing shared by the bench tools (see netutil.h).
 *
 * Addresses are numeric on purpose: a benchmark must not depend on a
 * resolver, and loopback is the only place it may send traffic anyway.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "netutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static int parse_port(const char *s, unsigned short *port)
{
    char *end = NULL;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v > 65535)
        return -1;
    *port = (unsigned short)v;
    return 0;
}

int net_parse_addr(const char *text, struct net_addr *out)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon, *hs = text;
    size_t hlen;
    unsigned short port;
    int v6 = 0;

    memset(out, 0, sizeof *out);
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            goto bad;
        hs = text + 1;
        hlen = (size_t)(close - hs);
        colon = close + 1;
        v6 = 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL)
            goto bad;
        hlen = (size_t)(colon - text);
    }
    if (hlen == 0 || hlen >= sizeof host || parse_port(colon + 1, &port) != 0)
        goto bad;
    memcpy(host, hs, hlen);
    host[hlen] = '\0';
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->ss;
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            goto bad;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        out->len = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&out->ss;
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            goto bad;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        out->len = sizeof *s4;
    }
    return 0;
bad:
    fprintf(stderr, "bad address '%s' (want A.B.C.D:PORT or [V6]:PORT)\n",
            text);
    return -1;
}

void net_format_addr(const struct net_addr *a, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];

    if (a->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        snprintf(buf, size, "[%s]:%u", host, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        snprintf(buf, size, "%s:%u", host, ntohs(s4->sin_port));
    }
}

int net_is_loopback4(const struct net_addr *a)
{
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->ss;

    return a->ss.ss_family == AF_INET &&
           (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
}

int net_listen(const struct net_addr *a, int reuseport, int nonblock)
{
    int one = 1;
    int type = SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0);
    int fd = socket(a->ss.ss_family, type, 0);

    if (fd < 0) {
        perror("socket");
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (reuseport &&
         setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)) {
        perror("setsockopt");
        goto fail;
    }
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0) {
        perror("bind");
        goto fail;
    }
    if (listen(fd, SOMAXCONN) != 0) {
        perror("listen");
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

void net_nodelay(int fd)
{
    int one = 1;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

long net_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = { rl.rlim_max, rl.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    return rl.rlim_cur == RLIM_INFINITY ? (long)1 << 30 : (long)rl.rlim_cur;
}
