/*
 * tls_alloc.h -- OpenSSL's allocator in the host: the C library's, with a
 * small cache of record buffers on each thread that asks for one.
 *
 * A session frees its record buffers whenever they are empty
 * (SSL_MODE_RELEASE_BUFFERS, tls_config.c), so an idle connection holds
 * none; but then every record in and out costs OpenSSL a malloc and a
 * free of about 16.5 KiB, the C library's slow path for large chunks.
 * A thread that called tls_alloc_thread_begin() keeps up to
 * TLS_ALLOC_KEEP such blocks when they are freed and hands them out again
 * (a pop and a push), so a busy worker stops paying that and an idle
 * connection still holds no buffers.
 *
 * Use: tls_alloc_install() once, first thing in main(), before anything
 * touches OpenSSL; then each worker thread brackets its life with
 * tls_alloc_thread_begin() and tls_alloc_thread_end(), and may give its
 * blocks back at any time with tls_alloc_trim().  Without the install,
 * or on a thread that did not begin, OpenSSL allocates as it always does.
 */
#ifndef HOST_TLS_ALLOC_H
#define HOST_TLS_ALLOC_H

#include <stddef.h>

#define TLS_ALLOC_KEEP 8 /* blocks a thread keeps (about 136 KiB) */

/* Makes OpenSSL allocate through this file.  Returns 0, or -1 if OpenSSL
 * had allocated with its own allocator already (then nothing changes: it
 * keeps that one, which is still correct, only slower). */
int tls_alloc_install(void);

/* The calling thread starts / stops keeping blocks; end gives back those
 * it kept.  A thread that began must end before it exits. */
void tls_alloc_thread_begin(void);
void tls_alloc_thread_end(void);

/* Gives back the blocks the calling thread keeps; it keeps caching. */
void tls_alloc_trim(void);

/* The blocks the calling thread keeps now (for tests). */
int tls_alloc_kept(void);

#endif
