/*
 * tls_alloc.c -- OpenSSL's allocator: malloc, realloc and free, except
 * that a thread which began caching keeps the record-buffer-sized blocks
 * it frees and hands them out again (see tls_alloc.h for why).
 *
 * Blocks carry no header.  A cached block is allocated at BLOCK_SIZE, and
 * a freed block is recognised as one by its usable size (the allocator
 * rounds a request up a little, never down), so any block of that size,
 * whoever asked for it, may serve any request from BLOCK_MIN to
 * BLOCK_SIZE.  Every other block goes straight to the C library.
 *
 * The sizes are OpenSSL 3's record buffers with compression off (as
 * tls_config.c sets it): 16 KiB of plaintext plus the record's header,
 * overhead and alignment, 16,584 to 16,896 bytes as OpenSSL 3.0 asks for
 * them (counted in test_tls_alloc).  A buffer asked for bigger
 * (read-ahead, pipelines) falls outside and is simply malloc'd.
 */
#include "tls_alloc.h"

#include <malloc.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#define BLOCK_MIN 16384
#define BLOCK_SIZE 17408 /* 17 KiB: above both record buffers */
#define BLOCK_SLACK 64   /* what the allocator may add to a request */

static _Thread_local struct {
  int on; /* this thread caches (tls_alloc_thread_begin) */
  int n;
  void *blocks[TLS_ALLOC_KEEP];
} kept;

static size_t usable_size(void *p) {
#ifdef _WIN32
  return _msize(p);
#else
  return malloc_usable_size(p);
#endif
}

static void *alloc_fn(size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  if (n == 0)
    return NULL; /* as OpenSSL's own: CRYPTO_malloc(0) is NULL */
  if (n >= BLOCK_MIN && n <= BLOCK_SIZE && kept.on) {
    if (kept.n > 0)
      return kept.blocks[--kept.n];
    return malloc(BLOCK_SIZE); /* full size, so that it can be kept */
  }
  return malloc(n);
}

static void free_fn(void *p, const char *file, int line) {
  (void)file;
  (void)line;
  if (p && kept.on && kept.n < TLS_ALLOC_KEEP) {
    size_t size = usable_size(p);
    if (size >= BLOCK_SIZE && size < BLOCK_SIZE + BLOCK_SLACK) {
      kept.blocks[kept.n++] = p;
      return;
    }
  }
  free(p);
}

/* OpenSSL's own realloc says: NULL is a malloc, 0 bytes a free. */
static void *realloc_fn(void *p, size_t n, const char *file, int line) {
  if (!p)
    return alloc_fn(n, file, line);
  if (n == 0) {
    free_fn(p, file, line);
    return NULL;
  }
  return realloc(p, n);
}

int tls_alloc_install(void) {
  return CRYPTO_set_mem_functions(alloc_fn, realloc_fn, free_fn) ? 0 : -1;
}

void tls_alloc_thread_begin(void) { kept.on = 1; }

void tls_alloc_trim(void) {
  while (kept.n > 0)
    free(kept.blocks[--kept.n]);
}

void tls_alloc_thread_end(void) {
  tls_alloc_trim();
  kept.on = 0;
}

int tls_alloc_kept(void) { return kept.n; }
