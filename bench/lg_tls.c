/*
 * lg_tls.c: the load generator's TLS client (see lg_tls.h).
 *
 * OpenSSL owns a socket BIO on the engine's descriptor, so its reads and
 * writes are the engine's syscalls: one record per SSL_read (the engine
 * reads until EAGAIN, as edge triggering needs), and SSL_write with
 * partial writes and a moving buffer, because the engine regenerates the
 * bytes of a retried send from the pattern instead of keeping them
 * (same bytes, possibly more of them, from another address: OpenSSL
 * accepts that).  Idle sessions drop their record buffers
 * (SSL_MODE_RELEASE_BUFFERS), so 10,000 of them fit in the client too.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "lg_tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifdef LG_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>

static SSL_CTX *ctx;
static const char *sni;
static char why[160];

int lg_tls_init(const char *servername)
{
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL ||
        !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
        fprintf(stderr, "loadgen: cannot make a TLS 1.3 client context\n");
        return -1;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    sni = servername;
    return 0;
}

void lg_tls_done(void)
{
    SSL_CTX_free(ctx);
    ctx = NULL;
}

void *lg_tls_new(int fd)
{
    SSL *ssl = SSL_new(ctx);

    if (ssl == NULL)
        return NULL;
    if (!SSL_set_fd(ssl, fd) ||
        (sni && !SSL_set_tlsext_host_name(ssl, sni))) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_connect_state(ssl);
    return ssl;
}

void lg_tls_free(void *t)
{
    SSL_free(t);
}

/* Maps a failed call: -1 with errno EAGAIN (wait), 0 (closed), or -1
 * with errno ECONNRESET and the reason in why. */
static ssize_t failed(SSL *ssl, int ret)
{
    int err = SSL_get_error(ssl, ret);
    unsigned long e;

    switch (err) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (errno == 0 || errno == EAGAIN) /* EOF without close_notify */
            return 0;
        snprintf(why, sizeof why, "%s", strerror(errno));
        break;
    default:
        e = ERR_peek_last_error();
        snprintf(why, sizeof why, "%s",
                 e ? ERR_reason_error_string(e) : "TLS error");
        break;
    }
    ERR_clear_error();
    errno = ECONNRESET;
    return -1;
}

int lg_tls_handshake(void *t)
{
    int ret;

    ERR_clear_error();
    errno = 0;
    why[0] = '\0';
    ret = SSL_do_handshake(t);
    if (ret == 1)
        return 1;
    if (failed(t, ret) < 0 && errno == EAGAIN)
        return 0;
    if (!why[0])
        snprintf(why, sizeof why, "closed during the handshake");
    return -1;
}

ssize_t lg_tls_recv(void *t, void *buf, size_t n)
{
    size_t got = 0;
    int ret;

    errno = 0;
    why[0] = '\0';
    ret = SSL_read_ex(t, buf, n, &got);
    return ret == 1 ? (ssize_t)got : failed(t, ret);
}

ssize_t lg_tls_send(void *t, const void *buf, size_t n)
{
    size_t put = 0;
    int ret;

    errno = 0;
    why[0] = '\0';
    ret = SSL_write_ex(t, buf, n, &put);
    if (ret == 1)
        return (ssize_t)put;
    ret = (int)failed(t, ret);
    if (ret == 0) {              /* a write cannot see a clean end */
        errno = EPIPE;
        snprintf(why, sizeof why, "closed by the server");
        return -1;
    }
    return ret;
}

void lg_tls_close_notify(void *t)
{
    (void)SSL_shutdown(t);
    ERR_clear_error();
}

const char *lg_tls_why(void)
{
    return why;
}

void lg_tls_describe(void *t, char *buf, size_t size)
{
    EVP_PKEY *key = NULL;
    const char *group = "";

    if (SSL_get_peer_tmp_key(t, &key) == 1) {
        group = OBJ_nid2sn(EVP_PKEY_get_base_id(key));
        if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
            static char name[64];
            size_t len = 0;
            if (EVP_PKEY_get_utf8_string_param(key, "group", name,
                                               sizeof name, &len) == 1)
                group = name;
        }
        EVP_PKEY_free(key);
    }
    snprintf(buf, size, "%s %s %s", SSL_get_version(t),
             SSL_CIPHER_get_name(SSL_get_current_cipher(t)), group);
}

#else /* no OpenSSL */

int lg_tls_init(const char *servername)
{
    (void)servername;
    fprintf(stderr, "loadgen: built without OpenSSL, no --tls\n");
    return -1;
}
void lg_tls_done(void) {}
void *lg_tls_new(int fd)
{
    (void)fd;
    return NULL;
}
void lg_tls_free(void *t) { (void)t; }
int lg_tls_handshake(void *t)
{
    (void)t;
    return -1;
}
ssize_t lg_tls_recv(void *t, void *buf, size_t n)
{
    (void)t, (void)buf, (void)n;
    errno = ENOSYS;
    return -1;
}
ssize_t lg_tls_send(void *t, const void *buf, size_t n)
{
    (void)t, (void)buf, (void)n;
    errno = ENOSYS;
    return -1;
}
void lg_tls_close_notify(void *t) { (void)t; }
const char *lg_tls_why(void) { return "no TLS"; }
void lg_tls_describe(void *t, char *buf, size_t size)
{
    (void)t;
    snprintf(buf, size, "none");
}

#endif
