/*
 * test_tls_alloc.c -- OpenSSL's allocator with the per-thread cache of
 * record buffers (src/tls/tls_alloc.c): what is kept, how much, on which
 * threads, and that real sessions' record buffers are the ones kept.
 * ASan's leak check covers the blocks handed back.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sys.h"
#include "t.h"
#include "tls.h"
#include "tls_alloc.h"
#include "tls_pump.h"
#include "tls_testcerts.h"

/* Two of the sizes OpenSSL 3.0 asks for its record buffers. */
#define READ_BUF 16716
#define WRITE_BUF 16896

static void a_freed_record_buffer_serves_the_next(void) {
  tls_alloc_thread_begin();
  void *p = OPENSSL_malloc(READ_BUF);
  T_ASSERT(p != NULL);
  memset(p, 1, READ_BUF);
  OPENSSL_free(p);
  T_ASSERT_EQ(tls_alloc_kept(), 1);
  void *q = OPENSSL_malloc(WRITE_BUF); /* the other size: the same block */
  T_ASSERT(q == p);
  T_ASSERT_EQ(tls_alloc_kept(), 0);
  memset(q, 2, WRITE_BUF);
  OPENSSL_free(q);
  void *small = OPENSSL_malloc(100), *big = OPENSSL_malloc(64 * 1024);
  T_ASSERT(small != NULL && big != NULL);
  OPENSSL_free(small);
  OPENSSL_free(big);
  T_ASSERT_EQ(tls_alloc_kept(), 1); /* neither of those */
  tls_alloc_thread_end();
  T_ASSERT_EQ(tls_alloc_kept(), 0);
}

static void a_thread_keeps_at_most_its_limit(void) {
  enum { N = TLS_ALLOC_KEEP + 3 };
  void *p[N];
  tls_alloc_thread_begin();
  for (int i = 0; i < N; i++)
    T_ASSERT((p[i] = OPENSSL_malloc(READ_BUF)) != NULL);
  for (int i = 0; i < N; i++)
    OPENSSL_free(p[i]);
  T_ASSERT_EQ(tls_alloc_kept(), TLS_ALLOC_KEEP);
  tls_alloc_trim();
  T_ASSERT_EQ(tls_alloc_kept(), 0);
  p[0] = OPENSSL_malloc(READ_BUF); /* still caching after a trim */
  OPENSSL_free(p[0]);
  T_ASSERT_EQ(tls_alloc_kept(), 1);
  tls_alloc_thread_end();
}

/* OpenSSL's own conventions: realloc of NULL allocates, to 0 frees. */
static void realloc_follows_openssl(void) {
  tls_alloc_thread_begin();
  char *p = OPENSSL_realloc(NULL, 10);
  T_ASSERT(p != NULL);
  memcpy(p, "0123456789", 10);
  p = OPENSSL_realloc(p, READ_BUF);
  T_ASSERT(p != NULL && memcmp(p, "0123456789", 10) == 0);
  T_ASSERT(OPENSSL_realloc(p, 0) == NULL); /* freed */
  T_ASSERT(OPENSSL_malloc(0) == NULL);
  tls_alloc_thread_end();
}

static int other_kept = -1;
static void free_a_block(void *arg) {
  (void)arg;
  OPENSSL_free(OPENSSL_malloc(READ_BUF));
  other_kept = tls_alloc_kept();
}

static void a_thread_that_did_not_begin_keeps_nothing(void) {
  sys_thread t;
  T_ASSERT_EQ(sys_thread_start(&t, free_a_block, NULL), 0);
  sys_thread_join(t);
  T_ASSERT_EQ(other_kept, 0);
}

/* Records both ways between two real sessions: their buffers are kept
 * and reused (so the sizes above are OpenSSL's), and the bytes arrive. */
static void sessions_reuse_their_record_buffers(void) {
  tls_alloc_thread_begin();
  struct tls_options co = client_opts(), so = server_opts();
  struct pair p;
  T_ASSERT_EQ(connect_with(&p, &co, &so, "localhost"), 0);
  T_ASSERT(p.cst == TLS_OK && p.sst == TLS_OK);
  for (int i = 0; i < 50; i++) {
    char msg[64], buf[64];
    snprintf(msg, sizeof msg, "message %d", i);
    size_t n = 0, got = 0;
    T_ASSERT_EQ(tls_write(p.c, msg, strlen(msg), &n), TLS_OK);
    T_ASSERT_EQ(n, strlen(msg));
    flush(p.c, &p.c2s);
    drain(p.s, &p.c2s, buf, sizeof buf, &got);
    T_ASSERT(got == n && memcmp(buf, msg, n) == 0);
    T_ASSERT(tls_alloc_kept() >= 1); /* the buffers came back here */
  }
  pair_close(&p);
  T_ASSERT(tls_alloc_kept() <= TLS_ALLOC_KEEP);
  tls_alloc_thread_end();
}

int main(void) {
  /* First, before anything allocates through OpenSSL. */
  if (tls_alloc_install() != 0) {
    fprintf(stderr, "tls_alloc_install failed\n");
    return 1;
  }
  if (!testcerts_make())
    return 1;

  T_RUN(a_freed_record_buffer_serves_the_next);
  T_RUN(a_thread_keeps_at_most_its_limit);
  T_RUN(realloc_follows_openssl);
  T_RUN(a_thread_that_did_not_begin_keeps_nothing);
  T_RUN(sessions_reuse_their_record_buffers);
  testcerts_remove();
  return test_report();
}
