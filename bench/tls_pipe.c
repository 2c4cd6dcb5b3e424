/*
 * tls_pipe.c: the OpenSSL part of the raw C TLS echo servers (see
 * tls_pipe.h).
 */
#include "tls_pipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "server.h"
#include "tls_alloc.h"

static BIO_METHOD *bio_method;

/* ---- the BIO: input from the lent buffer, output into `fill` ----------- */

static int bio_read(BIO *b, char *dst, int len)
{
    struct tls_pipe *p = BIO_get_data(b);
    size_t n = p->in_len - p->in_off;

    BIO_clear_retry_flags(b);
    if (n == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    if (n > (size_t)len)
        n = (size_t)len;
    memcpy(dst, p->in + p->in_off, n);
    p->in_off += n;
    return (int)n;
}

static int bio_write(BIO *b, const char *src, int len)
{
    struct tls_pipe *p = BIO_get_data(b);
    struct obuf *o = &p->fill;

    BIO_clear_retry_flags(b);
    if (o->len + (size_t)len > o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 4096;
        while (cap < o->len + (size_t)len)
            cap *= 2;
        unsigned char *q = realloc(o->p, cap);
        if (q == NULL)
            return -1;
        o->p = q;
        o->cap = cap;
    }
    memcpy(o->p + o->len, src, (size_t)len);
    o->len += (size_t)len;
    return len;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static int make_bio_method(const char *who)
{
    bio_method =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, who);
    return bio_method && BIO_meth_set_read(bio_method, bio_read) &&
                   BIO_meth_set_write(bio_method, bio_write) &&
                   BIO_meth_set_ctrl(bio_method, bio_ctrl) &&
                   BIO_meth_set_create(bio_method, bio_create)
               ? 0
               : -1;
}

/* ---- the context ------------------------------------------------------- */

static SSL_CTX *make_ctx(const struct tls_pipe_cfg *cfg, const char *who)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1) {
        unsigned long e = ERR_peek_last_error();
        fprintf(stderr, "%s: cannot use %s / %s: %s\n", who, cfg->cert,
                cfg->key, e ? ERR_reason_error_string(e) : "no context");
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return ctx;
}

int tls_pipe_setup(struct tls_pipe_cfg *cfg, int argc, char **argv,
                   const char *who)
{
    /* The certificate is needed before the workers start, and the
     * allocator before OpenSSL allocates anything: find them first. */
    for (int i = 1; i < argc - 1; i++) {
        if (strcmp(argv[i], "--cert") == 0)
            cfg->cert = argv[i + 1];
        else if (strcmp(argv[i], "--key") == 0)
            cfg->key = argv[i + 1];
        else if (strcmp(argv[i], "--record-cache") == 0)
            cfg->record_cache = strcmp(argv[i + 1], "on") == 0;
    }
    if (cfg->record_cache && tls_alloc_install() != 0) {
        fprintf(stderr, "%s: OpenSSL allocated before the cache\n", who);
        return -1;
    }
    if (cfg->cert == NULL || cfg->key == NULL) {
        fprintf(stderr, "%s: --cert and --key are required\n", who);
        return -1;
    }
    if (make_bio_method(who) != 0) {
        fprintf(stderr, "%s: no BIO method\n", who);
        return -1;
    }
    cfg->ctx = make_ctx(cfg, who);
    return cfg->ctx ? 0 : -1;
}

void tls_pipe_teardown(struct tls_pipe_cfg *cfg)
{
    SSL_CTX_free(cfg->ctx);
    cfg->ctx = NULL;
    BIO_meth_free(bio_method);
    bio_method = NULL;
}

void tls_pipe_thread_begin(const struct tls_pipe_cfg *cfg)
{
    if (cfg->record_cache)
        tls_alloc_thread_begin();
}

void tls_pipe_thread_end(const struct tls_pipe_cfg *cfg)
{
    if (cfg->record_cache)
        tls_alloc_thread_end();
}

int tls_pipe_option(struct tls_pipe_cfg *cfg, const char *name,
                    const char *value)
{
    if (strcmp(name, "record-cache") == 0) {
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
            fprintf(stderr, "--record-cache: on or off\n");
            return -1;
        }
        return 0; /* taken by tls_pipe_setup, before the workers */
    }
    if (strcmp(name, "cert") == 0)
        cfg->cert = value;
    else if (strcmp(name, "key") == 0)
        cfg->key = value;
    else
        return 1;
    return 0;
}

/* ---- sessions ---------------------------------------------------------- */

int tls_pipe_open(struct tls_pipe *p, SSL_CTX *ctx)
{
    BIO *bio;

    memset(p, 0, sizeof *p);
    p->ssl = SSL_new(ctx);
    bio = p->ssl ? BIO_new(bio_method) : NULL;
    if (bio == NULL) {
        SSL_free(p->ssl);
        p->ssl = NULL;
        return -1;
    }
    BIO_set_data(bio, p);
    SSL_set_bio(p->ssl, bio, bio);
    SSL_set_accept_state(p->ssl);
    return 0;
}

void tls_pipe_close(struct tls_pipe *p)
{
    SSL_free(p->ssl);
    p->ssl = NULL;
    obuf_free(&p->fill);
}

int tls_pipe_echo(struct tls_pipe *p, const unsigned char *in, size_t n,
                  unsigned char *plain)
{
    size_t got, put;
    int st = -1;

    p->in = in;
    p->in_len = n;
    p->in_off = 0;
    for (;;) {
        if (SSL_read_ex(p->ssl, plain, TLS_PIPE_PLAIN, &got) == 1) {
            server_work();
            if (SSL_write_ex(p->ssl, plain, got, &put) != 1 || put != got)
                break;
            continue;
        }
        if (SSL_get_error(p->ssl, 0) == SSL_ERROR_WANT_READ)
            st = 0;
        break; /* else a failure, or the peer's close_notify */
    }
    if (st != 0)
        ERR_clear_error();
    p->in = NULL;
    p->in_len = p->in_off = 0;
    return st;
}

void obuf_free(struct obuf *o)
{
    free(o->p);
    memset(o, 0, sizeof *o);
}
