/*
 * tls_pipe.h: the OpenSSL part of the two raw C TLS echo servers
 * (echo_tls.c on io_uring, echo_tls_epoll.c on epoll), so that the two
 * baselines differ in their loops only.
 *
 * A pipe is one server-side SSL driven through a BIO of our own, as
 * src/tls does it: received ciphertext is lent to OpenSSL for the time of
 * one tls_pipe_echo() and wholly consumed (a record cut across two
 * receives is kept by OpenSSL itself), every decrypted chunk is written
 * straight back, and the records OpenSSL makes are appended to `fill`,
 * which the server sends as it likes and frees when it is empty.
 *
 * Settings are the host's defaults (src/tls/tls_config.c): TLS 1.2 and
 * 1.3, groups X25519 and P-256, no renegotiation or compression, no
 * server-side session cache, tickets as OpenSSL sends them by default,
 * SSL_MODE_RELEASE_BUFFERS (an idle connection keeps only its SSL).
 * With `--record-cache on`, OpenSSL allocates through the host's own
 * src/tls/tls_alloc.c, as the host does: each worker keeps a few freed
 * record buffers for the next record instead of a malloc and a free of
 * 16.5 KiB per record.  Off by default, the common setting (nginx's).
 */
#ifndef BENCH_TLS_PIPE_H
#define BENCH_TLS_PIPE_H

#include <stddef.h>

#include <openssl/ssl.h>

#define TLS_PIPE_PLAIN 16384 /* one record of plaintext */

/* Ciphertext to send: bytes [off, len) of p wait; cap bytes allocated. */
struct obuf {
    unsigned char *p;
    size_t off, len, cap;
};

struct tls_pipe {
    SSL *ssl;
    const unsigned char *in;   /* lent input, NULL outside tls_pipe_echo */
    size_t in_len, in_off;
    struct obuf fill;          /* the BIO appends records here */
};

/* The server's options and context, shared by its workers. */
struct tls_pipe_cfg {
    const char *cert, *key;    /* PEM files */
    int record_cache;          /* --record-cache on */
    SSL_CTX *ctx;
};

/* Finds --cert and --key in argv, makes the BIO method and the context;
 * prints why and returns -1 when it cannot.  `who` names the program. */
int tls_pipe_setup(struct tls_pipe_cfg *cfg, int argc, char **argv,
                   const char *who);
void tls_pipe_teardown(struct tls_pipe_cfg *cfg);

/* Each worker's first and last call: its record cache, if on. */
void tls_pipe_thread_begin(const struct tls_pipe_cfg *cfg);
void tls_pipe_thread_end(const struct tls_pipe_cfg *cfg);

/* Handles --cert, --key and --record-cache for server_main (1: not one
 * of them, -1: a bad value). */
int tls_pipe_option(struct tls_pipe_cfg *cfg, const char *name,
                    const char *value);

/* A new server-side session in p (zeroed first); -1 if out of memory. */
int tls_pipe_open(struct tls_pipe *p, SSL_CTX *ctx);
void tls_pipe_close(struct tls_pipe *p);

/* Decrypts all of in[0..n) through plain[TLS_PIPE_PLAIN] and writes each
 * chunk back into p->fill.  0: it wants more input; -1: the session
 * failed or the peer sent close_notify (an alert may be in fill). */
int tls_pipe_echo(struct tls_pipe *p, const unsigned char *in, size_t n,
                  unsigned char *plain);

void obuf_free(struct obuf *o);

#endif
