/*
 * lg_tls.h: the load generator's TLS client (loadgen --tls): OpenSSL on
 * the engine's own non-blocking socket, TLS 1.3 only, no certificate
 * verification (the bench measures the server's cost, and a client's
 * verification costs only the client), no session cache and no
 * resumption, so every connection makes a full handshake.
 *
 * The calls mirror recv() and send() so the engine keeps one code path:
 * a positive count, 0 for the end of the stream (close_notify or TCP
 * EOF), or -1 with errno EAGAIN (the socket has no data or no room: wait
 * for the next edge) or another errno (the connection failed; lg_tls_why
 * says how, in OpenSSL's words).
 *
 * Built only where OpenSSL is found (LG_TLS defined); lg_tls_init then
 * fails with a message and loadgen refuses --tls.
 */
#ifndef BENCH_LG_TLS_H
#define BENCH_LG_TLS_H

#include <stddef.h>
#include <sys/types.h>

/* Makes the process's one client context.  0, or -1 (message on stderr). */
int lg_tls_init(const char *servername);
void lg_tls_done(void);

/* A session on connected socket fd; NULL when out of memory. */
void *lg_tls_new(int fd);
void lg_tls_free(void *t);

/* Drives the handshake: 1 done, 0 wait for the socket, -1 failed. */
int lg_tls_handshake(void *t);

ssize_t lg_tls_recv(void *t, void *buf, size_t n);
ssize_t lg_tls_send(void *t, const void *buf, size_t n);

/* Sends close_notify if the socket takes it now (never waits). */
void lg_tls_close_notify(void *t);

/* Why the last call failed; "" if it did not. */
const char *lg_tls_why(void);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384 X25519" of an established session. */
void lg_tls_describe(void *t, char *buf, size_t size);

#endif
