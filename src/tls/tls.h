/*
 * tls.h -- a TLS engine driven entirely through memory, so that TLS sits
 * above the completion API instead of inside each backend.
 *
 * A connection's receive completion hands the engine ciphertext; the
 * engine hands back plaintext, copied from OpenSSL's record buffer
 * straight into the caller's destination.  Plaintext written to the engine
 * comes out as ciphertext in a buffer that the caller passes to its send
 * operation as it is and releases when the send completes.  The engine never
 * touches a socket, a loop or a timer: a handshake deadline is the caller's
 * timer.  It is built on OpenSSL 3 (Debian's libssl on Linux, a static build
 * from the same Debian source in host.exe).
 *
 * Two objects:
 *
 *   struct tls_config   one per listener or per set of connect options:
 *                       role, certificates, trust, verification, ALPN,
 *                       SNI table, protocol versions.  Immutable once
 *                       made, reference-counted, shared by every worker
 *                       thread (sessions may be created from any thread
 *                       at once), so a listener can close while its
 *                       connections live on.
 *   struct tls_session  one per connection, used by one thread at a time.
 *
 * Driving a session.  Every call below may produce ciphertext to send, so
 * after each one the caller sends what tls_output() gives (when no send of
 * its own is in flight).  The status codes say what the session waits for:
 *
 *     receive completes with ciphertext in buf[0..n):
 *         tls_feed(s, buf, n);                 lend the bytes
 *         st = tls_handshake(s);               or tls_read() in a loop
 *         used = tls_feed_done(s);             the session lets go of buf;
 *                                              keep buf[used..n) for later
 *         send tls_output(), post a receive if st == TLS_WANT_INPUT
 *     peer closed the TCP connection:
 *         tls_feed_eof(s); then tls_read()/tls_handshake() report it
 *     send of tls_output()'s bytes completes with k bytes written:
 *         tls_output_done(s, k)
 *
 * Errors are final: after TLS_ERROR every call returns TLS_ERROR again
 * and tls_error_detail() says why, in OpenSSL's words ("wrong version
 * number", "certificate verify failed: unable to get local issuer
 * certificate", "tlsv13 alert certificate required", ...).  An alert for
 * the peer may be waiting in tls_output(); sending it before closing is
 * polite, not required.
 *
 * Memory is bounded per session: at most one TLS record of lent input is
 * copied (TLS_INPUT_MAX), OpenSSL buffers at most one record each way
 * plus one handshake message (bounded by its max_cert_list, 100 KiB), and
 * pending output stops growing at TLS_OUTPUT_SOFT (tls_write) or
 * TLS_OUTPUT_HARD (anything else).  Idle, an established session keeps no
 * record buffers at all (SSL_MODE_RELEASE_BUFFERS, the leftovers freed
 * when it waits for input, and ours freed when empty).  Measured with
 * OpenSSL 3.0 (test_tls_io): an idle TLS 1.3 session holds about 14 KiB
 * on a server and 18 KiB on a client (which keeps the server's
 * certificate); a handshake in progress about 62 KiB, however slowly the
 * peer sends.
 */
#ifndef HOST_TLS_H
#define HOST_TLS_H

#include <stddef.h>

/* Status codes.  0 is success; the rest are negative. */
enum {
  TLS_OK = 0,
  TLS_WANT_INPUT = -1,  /* needs more ciphertext: feed it (after a recv) */
  TLS_WANT_OUTPUT = -2, /* pending output is full: send it, then retry */
  TLS_CLOSED = -3,      /* the peer sent close_notify; no more data */
  TLS_ERROR = -4,       /* fatal; see tls_error_detail() */
};

/* Most ciphertext tls_feed_done() copies out of a lent buffer: one whole
 * record (5-byte header, 16 KiB of data, 2 KiB of expansion). */
#define TLS_INPUT_MAX (5 + 16384 + 2048)
/* tls_write() encrypts no more plaintext once this much output waits
 * besides the buffer being sent. */
#define TLS_OUTPUT_SOFT (64 * 1024)
/* Nothing produces output beyond this (handshake flights, alerts, key
 * update replies); the call then returns TLS_WANT_OUTPUT. */
#define TLS_OUTPUT_HARD (256 * 1024)

/* ---- configuration ------------------------------------------------------ */

enum tls_role { TLS_SERVER, TLS_CLIENT };

enum tls_verify {
  TLS_VERIFY_DEFAULT = 0, /* client: TLS_VERIFY_PEER; server: _NONE */
  TLS_VERIFY_NONE,        /* client: connect whatever the certificate */
  TLS_VERIFY_PEER,        /* client: check the server's chain and name;
                             server: require a client certificate and
                             check its chain */
};

/* One extra certificate of a server, chosen when the client's SNI names
 * it ("a.example", case-insensitive; "*.example" matches one label). */
struct tls_server_cert {
  const char *name; /* host name the certificate is for */
  const char *cert; /* PEM file: the certificate, then its chain */
  const char *key;  /* PEM file: its private key (not encrypted) */
};

/* What tls_config_new() reads.  All pointers are borrowed for the call
 * only; a zeroed struct with a role is a valid configuration (a client
 * that verifies against the system store, or a server that still needs
 * cert and key). */
struct tls_options {
  enum tls_role role;
  const char *cert; /* PEM file, certificate then chain: a server's
                       default certificate (required), or a client's
                       certificate (optional) */
  const char *key;  /* PEM file with cert's private key */
  const char *ca;   /* PEM file of trusted CAs; NULL: the system's
                       store (/etc/ssl/certs; Windows' ROOT store),
                       loaded on first use and shared by every
                       configuration of the process */
  enum tls_verify verify;
  const char *const *alpn; /* protocols, most preferred first: a server
                              picks the first the client also offers; a
                              client offers them all */
  size_t nalpn;
  const struct tls_server_cert *servers; /* server: SNI table */
  size_t nservers;
  const char *const *protocols; /* "TLSv1.2", "TLSv1.3" (a contiguous
                                   range); none given: both */
  size_t nprotocols;
};

struct tls_config;

/* Makes a configuration.  Returns NULL with a message in err (e.g.
 * "cannot open certificate file 'x.pem': No such file or directory",
 * "private key 'k.pem' does not match certificate 'c.pem'", "unknown
 * protocol 'TLSv1.1'", "out of memory"); err may be NULL.  The caller
 * owns the result (one reference) and drops it with tls_config_unref().
 * Thread-safe. */
struct tls_config *tls_config_new(const struct tls_options *opts, char *err,
                                  size_t errlen);

/* Takes and drops references; the last unref frees the configuration.
 * Each session holds its own reference.  Thread-safe. */
struct tls_config *tls_config_ref(struct tls_config *cfg);
void tls_config_unref(struct tls_config *cfg);

/* ---- sessions ----------------------------------------------------------- */

struct tls_session;

/* A session for one connection.  servername matters on a client only:
 * the name to send as SNI (unless it is an IP literal) and to verify the
 * server's certificate against (DNS name or IP address); NULL sends no
 * SNI and checks the chain alone.  NULL when out of memory.  The caller
 * owns the session and frees it with tls_session_free(). */
struct tls_session *tls_session_new(struct tls_config *cfg,
                                    const char *servername);
void tls_session_free(struct tls_session *s);

/* Lends the session ciphertext in[0..len) until tls_feed_done(): the
 * calls in between read from it without copying.  One lend at a time. */
void tls_feed(struct tls_session *s, const void *in, size_t len);

/* Ends the lend: copies up to a record's worth of what was not read into
 * the session (bounded by TLS_INPUT_MAX with what it already keeps) and
 * returns how many bytes of the lent buffer the session consumed, read
 * or kept.  The caller keeps the rest and feeds them again later; fewer
 * than len means the session is full until it is read from. */
size_t tls_feed_done(struct tls_session *s);

/* The peer will send nothing more (TCP end of stream).  A handshake or
 * record cut short then fails ("unexpected eof while reading"). */
void tls_feed_eof(struct tls_session *s);

/* Drives the handshake.  TLS_OK once it is complete (also on every later
 * call), TLS_WANT_INPUT, TLS_WANT_OUTPUT or TLS_ERROR. */
int tls_handshake(struct tls_session *s);

/* Decrypts up to max bytes of application data into dst.  TLS_OK with
 * *n > 0 bytes, or TLS_WANT_INPUT, TLS_WANT_OUTPUT, TLS_CLOSED (the
 * peer's close_notify), TLS_ERROR; *n is 0 then.  Drives an unfinished
 * handshake first. */
int tls_read(struct tls_session *s, void *dst, size_t max, size_t *n);

/* Decrypted bytes that tls_read() can return without more input. */
size_t tls_pending(const struct tls_session *s);

/* 1 if the session holds ciphertext it has not read yet (lent, kept, or
 * buffered by OpenSSL) or was told of the end of the stream, so
 * tls_read() may have something to say; 0 means it can only say
 * TLS_WANT_INPUT, and a caller need not make room first. */
int tls_has_input(const struct tls_session *s);

/* Encrypts from src[0..len) into the pending output, record by record,
 * until all is taken or TLS_OUTPUT_SOFT bytes wait that tls_output() has
 * not given out yet (so the next buffer fills while one is being sent).  TLS_OK
 * with *n > 0 bytes taken, TLS_WANT_OUTPUT (nothing taken: send first), or
 * another status with *n == 0.  A retry may pass the same bytes from a
 * different address. */
int tls_write(struct tls_session *s, const void *src, size_t len, size_t *n);

/* The ciphertext to send next: *p and *len (0 when nothing waits).  The
 * bytes stay valid and unmoved until tls_output_done() says they are sent
 * (the kernel may hold them meanwhile) or the session is freed; calls in
 * between add new output elsewhere.  Call it with no send in flight. */
void tls_output(struct tls_session *s, const void **p, size_t *len);

/* k bytes of what tls_output() gave were sent.  A partial send leaves
 * the rest for the next tls_output(). */
void tls_output_done(struct tls_session *s, size_t k);

/* Bytes waiting to be sent, given out or not. */
size_t tls_output_pending(const struct tls_session *s);

/* Queues close_notify (send tls_output() afterwards).  Once the peer's
 * close_notify came (TLS_CLOSED), this answers it.  TLS_OK, or TLS_ERROR
 * on a failed session.  Before the handshake completes it queues
 * nothing. */
int tls_shutdown(struct tls_session *s);

/* What a completed handshake agreed on.  The strings are valid until the
 * session is freed; a field that does not apply is "" (alpn, servername,
 * peer) or 0. */
struct tls_info {
  const char *version;    /* "TLSv1.3", "TLSv1.2" */
  const char *cipher;     /* "TLS_AES_128_GCM_SHA256", ... */
  const char *alpn;       /* the agreed protocol, "" if none */
  const char *servername; /* client: the SNI sent; server: received */
  int verified;           /* the peer's certificate chain (and, on a
                             client, the name) checked out */
  const char *peer;       /* subject of the peer's certificate (RFC 2253,
                             "CN=localhost,O=host"), "" if none */
};

/* Fills *info (TLS_OK), or TLS_WANT_INPUT before the handshake is done.
 * May allocate the peer string once; TLS_ERROR if that fails. */
int tls_info(struct tls_session *s, struct tls_info *info);

/* Why the session failed, "" if it has not. */
const char *tls_error_detail(const struct tls_session *s);

/* A worker thread that used sessions calls this before it exits: frees
 * OpenSSL's per-thread state (needed where OpenSSL is linked statically
 * into a Windows program; harmless elsewhere). */
void tls_thread_done(void);

#endif
