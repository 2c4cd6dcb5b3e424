/*
 * epoll_loop.c: the epoll loop of the readiness-based baselines (see
 * epoll_loop.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "epoll_loop.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 256

/* Tags for the two non-connection descriptors in the epoll set. */
static char listener_tag, wake_tag;

static void listener_set(struct ep_loop *el, int on)
{
    struct epoll_event ev = { .events = on ? EPOLLIN : 0,
                              .data.ptr = &listener_tag };

    epoll_ctl(el->ep, EPOLL_CTL_MOD, el->lfd, &ev);
    el->accept_paused = !on;
    if (!on) {
        clock_gettime(CLOCK_MONOTONIC, &el->resume);
        el->resume.tv_nsec += EP_ACCEPT_PAUSE_MS * 1000000L;
        if (el->resume.tv_nsec >= 1000000000L) {
            el->resume.tv_sec++;
            el->resume.tv_nsec -= 1000000000L;
        }
    }
}

static void on_listener(struct ep_loop *el)
{
    for (int i = 0; i < EP_ACCEPT_BATCH; i++) {
        struct epoll_event ev;
        void *c;
        int fd = accept4(el->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
                errno == ENOBUFS)
                listener_set(el, 0);     /* back off, no busy loop */
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return;
        }
        c = el->conn_new(el, fd);
        if (c == NULL) {
            close(fd);
            return;
        }
        net_nodelay(fd);
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = c;
        if (epoll_ctl(el->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            el->conn_free(el, c);
    }
}

/* Milliseconds until the listener comes back, or -1 (wait forever). */
static int wait_ms(const struct ep_loop *el)
{
    struct timespec now;
    long ms;

    if (!el->accept_paused)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (el->resume.tv_sec - now.tv_sec) * 1000L +
         (el->resume.tv_nsec - now.tv_nsec) / 1000000L;
    return ms < 0 ? 0 : (int)ms + 1;
}

int ep_loop_run(struct ep_loop *el)
{
    struct epoll_event evs[MAX_EVENTS];

    for (;;) {
        int n = epoll_wait(el->ep, evs, MAX_EVENTS, wait_ms(el));

        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "%s: epoll_wait: %s\n", el->name,
                    strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &wake_tag)
                return 0;
            if (p == &listener_tag)
                on_listener(el);
            else
                el->on_conn(el, p, evs[i].events);
        }
        if (el->accept_paused && wait_ms(el) == 0)
            listener_set(el, 1);
    }
}

int ep_loop_setup(struct ep_loop *el, const struct server_worker *sw)
{
    struct epoll_event ev = { .events = EPOLLIN };

    el->wake_fd = sw->wake_fd;
    el->ep = epoll_create1(EPOLL_CLOEXEC);
    el->lfd = net_listen(sw->addr, sw->workers > 1, 1);
    if (el->ep < 0 || el->lfd < 0)
        return -1;
    ev.data.ptr = &listener_tag;
    if (epoll_ctl(el->ep, EPOLL_CTL_ADD, el->lfd, &ev) != 0)
        return -1;
    ev.data.ptr = &wake_tag;
    return epoll_ctl(el->ep, EPOLL_CTL_ADD, el->wake_fd, &ev);
}

void ep_loop_close(struct ep_loop *el)
{
    if (el->lfd >= 0)
        close(el->lfd);
    if (el->ep >= 0)
        close(el->ep);
    el->lfd = el->ep = -1;
}
