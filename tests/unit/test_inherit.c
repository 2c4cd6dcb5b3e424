/*
 * test_inherit.c -- sockets from a service manager (LISTEN_PID,
 * LISTEN_FDS from descriptor 3): taken only when they are for this
 * process, only listening TCP sockets, the variables removed; and the
 * lookup by address.
 */
#include "inherit.h"
#include "log.h"
#include "sys.h"
#include "t.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A socket on 127.0.0.1 (listening or not) placed at descriptor fd. */
static int socket_at(int fd, int listening, struct sockaddr_in *out) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
      (listening && listen(s, 8) != 0) ||
      getsockname(s, (struct sockaddr *)out, &len) != 0)
    return -1;
  if (s != fd) {
    if (dup2(s, fd) < 0)
      return -1;
    close(s);
  }
  return fd;
}

static void set_env(long pid, int n) {
  char v[32];
  snprintf(v, sizeof v, "%ld", pid);
  setenv("LISTEN_PID", v, 1);
  snprintf(v, sizeof v, "%d", n);
  setenv("LISTEN_FDS", v, 1);
}

static void takes_listening_sockets_meant_for_us(void) {
  struct sockaddr_in a3, a4, a5;
  T_ASSERT_EQ(socket_at(3, 1, &a3), 3);
  T_ASSERT_EQ(socket_at(4, 0, &a4), 4); /* not listening: left alone */
  T_ASSERT_EQ(socket_at(5, 1, &a5), 5);
  set_env((long)getpid(), 3);
  struct inherited v[INHERIT_MAX];
  T_ASSERT_EQ(inherit_take(v, INHERIT_MAX), 2);
  T_ASSERT_EQ(v[0].sock, 3);
  T_ASSERT_EQ(v[1].sock, 5);
  T_ASSERT(getenv("LISTEN_PID") == NULL);
  T_ASSERT(getenv("LISTEN_FDS") == NULL);
  T_ASSERT(inherit_find(v, 2, (struct sockaddr *)&a5) == &v[1]);
  T_ASSERT(inherit_find(v, 2, (struct sockaddr *)&a4) == NULL);
  a3.sin_addr.s_addr = htonl(INADDR_ANY); /* same port, other address */
  T_ASSERT(inherit_find(v, 2, (struct sockaddr *)&a3) == NULL);
  io_sock d = inherit_dup(3);
  T_ASSERT(d != IO_NOSOCK && d != 3);
  close(d);
  close(3);
  close(4);
  close(5);
}

static void ignores_sockets_for_another_process(void) {
  struct sockaddr_in a;
  T_ASSERT_EQ(socket_at(3, 1, &a), 3);
  set_env((long)getpid() + 1, 1);
  struct inherited v[4];
  T_ASSERT_EQ(inherit_take(v, 4), 0);
  T_ASSERT(getenv("LISTEN_PID") != NULL); /* not ours: not touched */
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  T_ASSERT_EQ(inherit_take(v, 4), 0); /* and none at all */
  setenv("LISTEN_PID", "garbage", 1);
  setenv("LISTEN_FDS", "1", 1);
  T_ASSERT_EQ(inherit_take(v, 4), 0);
  close(3);
}

static void keeps_at_most_cap(void) {
  struct sockaddr_in a;
  T_ASSERT_EQ(socket_at(3, 1, &a), 3);
  T_ASSERT_EQ(socket_at(4, 1, &a), 4);
  set_env((long)getpid(), 2);
  struct inherited v[1];
  T_ASSERT_EQ(inherit_take(v, 1), 1);
  T_ASSERT_EQ(v[0].sock, 3);
  close(3);
  close(4);
}

int main(void) {
  sys_init();
  log_set_level(LOG_ERROR);
  T_RUN(takes_listening_sockets_meant_for_us);
  T_RUN(ignores_sockets_for_another_process);
  T_RUN(keeps_at_most_cap);
  return test_report();
}
