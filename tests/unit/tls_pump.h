/*
 * tls_pump.h -- test_tls's plumbing (tls_pump.c): no assertions here, so
 * every check stays in test_tls.c with t.h's counters.
 */
#ifndef HOST_TLS_PUMP_H
#define HOST_TLS_PUMP_H

#include <stdatomic.h>
#include <stddef.h>

#include "tls.h"

/* A counting allocator for CRYPTO_set_mem_functions: pump_live is the
 * number of bytes OpenSSL (and the engine, which allocates through
 * OpenSSL) holds right now; atomic, as threads may allocate at once. */
extern atomic_size_t pump_live;
void *pump_malloc(size_t n, const char *file, int line);
void *pump_realloc(void *q, size_t n, const char *file, int line);
void pump_free(void *q, const char *file, int line);

/* The test certificate directory's file `name` (a rotating static
 * buffer: up to 32 results stay valid at once). */
const char *cert(const char *name);

/* A server with server.pem, and a client that trusts ca.pem. */
struct tls_options server_opts(void);
struct tls_options client_opts(void);

/* tls_config_new, printing the error when it fails. */
struct tls_config *config(const struct tls_options *o);

/* The bytes in flight one way (grows without bound: tests only). */
struct wire {
  unsigned char *buf;
  size_t len, cap;
};
void wire_put(struct wire *w, const void *p, size_t n);
void wire_take(struct wire *w, size_t n);

/* Moves everything the session has to send onto the wire. */
void flush(struct tls_session *s, struct wire *w);

/* One handshake step: feeds the wire in, tls_handshake, output out. */
int step(struct tls_session *s, struct wire *in, struct wire *out);

/* A client and a server session and the wires between them. */
struct pair {
  struct tls_session *c, *s;
  struct wire c2s, s2c;
  int cst, sst; /* the last handshake status of each */
};

/* Steps both sides until both are done, one fails (the other then
 * reads its alert) or nothing moves. */
void handshake(struct pair *p);

/* New sessions on the configs (client with servername), then the
 * handshake; -1 if a session could not be made. */
int pair_open(struct pair *p, struct tls_config *ccfg, struct tls_config *scfg,
              const char *servername);
void pair_close(struct pair *p);

/* Feeds the wire in and reads into buf[*got..max) until the buffer is
 * full or the session stops; returns that last status. */
int drain(struct tls_session *s, struct wire *in, char *buf, size_t max,
          size_t *got);

/* Configs from co and so (dropped again: the sessions keep them), then
 * pair_open; -1 if a config or session could not be made. */
int connect_with(struct pair *p, struct tls_options *co, struct tls_options *so,
                 const char *name);

#endif
