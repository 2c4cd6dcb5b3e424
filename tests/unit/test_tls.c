/*
 * test_tls.c -- the TLS engine (src/tls) with client and server sessions
 * pumped into each other in memory: no sockets, no loop.  Certificates
 * are made by the test itself (tls_testcerts.c); the pumps are in
 * tls_pump.c.  This file covers handshakes, ALPN, SNI, verification and
 * configuration errors; test_tls_io.c the data path and memory.  Each
 * failure has its own case and checks the detail text a Lua caller would
 * see.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "tls.h"
#include "tls_internal.h" /* tls_store_load */
#include "tls_pump.h"
#include "tls_testcerts.h"

#define T_ASSERT_HAS(str, part)                                                \
  do {                                                                         \
    const char *t_s_ = (str), *t_p_ = (part);                                  \
    if (!strstr(t_s_, t_p_))                                                   \
      T_FAIL_("%s: \"%s\" does not contain \"%s\"", #str, t_s_, t_p_);         \
  } while (0)

static struct tls_info info(struct tls_session *s) {
  struct tls_info i = {0};
  if (tls_info(s, &i) != TLS_OK)
    i.version = i.cipher = i.alpn = i.servername = i.peer = "?";
  return i;
}

/* ---- handshakes -----------------------------------------------------------
 */

static void tls13_by_default(void) {
  struct tls_options co = client_opts(), so = server_opts();
  struct pair p;
  T_ASSERT_EQ(connect_with(&p, &co, &so, "localhost"), 0);
  T_ASSERT_EQ(p.cst, TLS_OK);
  T_ASSERT_EQ(p.sst, TLS_OK);
  struct tls_info ci = info(p.c), si = info(p.s);
  T_ASSERT_STREQ(ci.version, "TLSv1.3");
  T_ASSERT_STREQ(si.version, "TLSv1.3");
  T_ASSERT(ci.cipher[0] != 0);
  T_ASSERT_STREQ(ci.cipher, si.cipher);
  T_ASSERT_EQ(ci.verified, 1);
  T_ASSERT_STREQ(ci.peer, "CN=localhost,O=host test");
  T_ASSERT_STREQ(ci.servername, "localhost");
  T_ASSERT_STREQ(si.servername, "localhost");
  T_ASSERT_STREQ(si.peer, ""); /* no client certificate asked for */
  T_ASSERT_EQ(si.verified, 0);
  T_ASSERT_STREQ(ci.alpn, "");
  T_ASSERT_STREQ(tls_error_detail(p.c), "");
  pair_close(&p);
}

static void tls12_when_asked(void) {
  const char *v12[] = {"TLSv1.2"};
  struct tls_options co = client_opts(), so = server_opts();
  co.protocols = v12, co.nprotocols = 1;
  struct pair p;
  T_ASSERT_EQ(connect_with(&p, &co, &so, "localhost"), 0);
  T_ASSERT_EQ(p.cst, TLS_OK);
  T_ASSERT_EQ(p.sst, TLS_OK);
  T_ASSERT_STREQ(info(p.c).version, "TLSv1.2");
  T_ASSERT_STREQ(info(p.s).version, "TLSv1.2");
  T_ASSERT_HAS(info(p.c).cipher, "ECDHE-ECDSA");
  T_ASSERT_EQ(info(p.c).verified, 1);
  pair_close(&p);
}

static void version_mismatch_fails(void) {
  const char *v12[] = {"TLSv1.2"}, *v13[] = {"TLSv1.3"};
  struct tls_options co = client_opts(), so = server_opts();
  co.protocols = v12, co.nprotocols = 1;
  so.protocols = v13, so.nprotocols = 1;
  struct pair p;
  T_ASSERT_EQ(connect_with(&p, &co, &so, "localhost"), 0);
  T_ASSERT_EQ(p.sst, TLS_ERROR);
  T_ASSERT_HAS(tls_error_detail(p.s), "unsupported protocol");
  pair_close(&p);
}

static void chain_file_is_sent(void) {
  struct tls_options co = client_opts(), so = server_opts();
  so.cert = cert("chain.pem"), so.key = cert("chain.key");
  struct pair p;
  T_ASSERT_EQ(connect_with(&p, &co, &so, "chain.example"), 0);
  T_ASSERT_EQ(p.cst, TLS_OK);
  T_ASSERT_EQ(info(p.c).verified, 1);
  T_ASSERT_STREQ(info(p.c).peer, "CN=chain.example,O=host test");
  pair_close(&p);
}

/* ---- ALPN and SNI ----------------------------------------------------------
 */

static void alpn_by_server_preference(void) {
  const char *sp[] = {"h2", "http/1.1"}, *cp[] = {"http/1.1", "h2"};
  struct tls_options co = client_opts(), so = server_opts();
  so.alpn = sp, so.nalpn = 2;
  co.alpn = cp, co.nalpn = 2;
  struct pair p;
  T_ASSERT_EQ(connect_with(&p, &co, &so, "localhost"), 0);
  T_ASSERT_EQ(p.cst, TLS_OK);
  T_ASSERT_STREQ(info(p.c).alpn, "h2");
  T_ASSERT_STREQ(info(p.s).alpn, "h2");
  pair_close(&p);
}

static void alpn_only_common_protocol(void) {
  const char *sp[] = {"h2", "http/1.1"}, *cp[] = {"http/1.1"};
  struct tls_options co = client_opts(), so = server_opts();
  so.alpn = sp, so.nalpn = 2;
  co.alpn = cp, co.nalpn = 1;
  struct pair p;
  T_ASSERT_EQ(connect_with(&p, &co, &so, "localhost"), 0);
  T_ASSERT_STREQ(info(p.c).alpn, "http/1.1");
  pair_close(&p);
}

static void alpn_no_overlap_fails(void) {
  const char *sp[] = {"h2"}, *cp[] = {"spdy/3"};
  struct tls_options co = client_opts(), so = server_opts();
  so.alpn = sp, so.nalpn = 1;
  co.alpn = cp, co.nalpn = 1;
  struct pair p;
  T_ASSERT_EQ(connect_with(&p, &co, &so, "localhost"), 0);
  T_ASSERT_EQ(p.sst, TLS_ERROR);
  T_ASSERT_STREQ(tls_error_detail(p.s), "no application protocol");
  T_ASSERT_EQ(p.cst, TLS_ERROR);
  T_ASSERT_HAS(tls_error_detail(p.c), "no application protocol");
  pair_close(&p);
}

static void alpn_client_without_it(void) {
  const char *sp[] = {"h2"};
  struct tls_options co = client_opts(), so = server_opts();
  so.alpn = sp, so.nalpn = 1;
  struct pair p;
  T_ASSERT_EQ(connect_with(&p, &co, &so, "localhost"), 0);
  T_ASSERT_EQ(p.cst, TLS_OK);
  T_ASSERT_STREQ(info(p.s).alpn, "");
  pair_close(&p);
}

static void sni_server(struct tls_options *so, struct tls_server_cert *sc) {
  sc[0] = (struct tls_server_cert){"a.example", cert("a.pem"), cert("a.key")};
  sc[1] = (struct tls_server_cert){"B.Example", cert("b.pem"), cert("b.key")};
  sc[2] =
      (struct tls_server_cert){"*.wild.example", cert("b.pem"), cert("b.key")};
  *so = server_opts();
  so->servers = sc, so->nservers = 3;
}

/* Connects to the SNI server as `name`; the peer subject it saw. */
static void sni_case(const char *name, enum tls_verify v, const char *peer,
                     int verified) {
  struct tls_server_cert sc[3];
  struct tls_options co = client_opts(), so;
  sni_server(&so, sc);
  co.verify = v;
  struct pair p;
  T_ASSERT_EQ(connect_with(&p, &co, &so, name), 0);
  T_ASSERT_EQ(p.cst, TLS_OK);
  T_ASSERT_STREQ(info(p.c).peer, peer);
  T_ASSERT_EQ(info(p.c).verified, verified);
  T_ASSERT_STREQ(info(p.s).servername, name);
  pair_close(&p);
}

static void sni_picks_a(void) {
  sni_case("a.example", TLS_VERIFY_PEER, "CN=a.example,O=host test", 1);
}

static void sni_picks_b_case_insensitively(void) {
  sni_case("b.example", TLS_VERIFY_PEER, "CN=b.example,O=host test", 1);
}

static void sni_default_for_other_names(void) {
  sni_case("localhost", TLS_VERIFY_PEER, "CN=localhost,O=host test", 1);
  sni_case("c.example", TLS_VERIFY_NONE, "CN=localhost,O=host test", 0);
}

static void sni_wildcard_one_label(void) {
  sni_case("x.wild.example", TLS_VERIFY_NONE, "CN=b.example,O=host test", 0);
  sni_case("y.x.wild.example", TLS_VERIFY_NONE, "CN=localhost,O=host test", 0);
}

/* ---- verification -----------------------------------------------------------
 */

/* The client's handshake fails with detail; the server sees an alert. */
static void verify_fails(struct tls_options *co, struct tls_options *so,
                         const char *name, const char *detail) {
  struct pair p;
  T_ASSERT_EQ(connect_with(&p, co, so, name), 0);
  T_ASSERT_EQ(p.cst, TLS_ERROR);
  T_ASSERT_STREQ(tls_error_detail(p.c), detail);
  T_ASSERT_EQ(p.sst, TLS_ERROR);
  T_ASSERT_HAS(tls_error_detail(p.s), "alert");
  T_ASSERT_EQ(tls_handshake(p.c), TLS_ERROR); /* errors are final */
  pair_close(&p);
}

static void verify_unknown_ca(void) {
  struct tls_options co = client_opts(), so = server_opts();
  co.ca = cert("other-ca.pem");
  verify_fails(&co, &so, "localhost",
               "certificate verify failed: unable to get local issuer "
               "certificate");
}

static void verify_system_store_lacks_our_ca(void) {
  struct tls_options co = client_opts(), so = server_opts();
  co.ca = NULL; /* the system's store: our private CA is not in it */
  verify_fails(&co, &so, "localhost",
               "certificate verify failed: unable to get local issuer "
               "certificate");
}

static void verify_wrong_host_name(void) {
  struct tls_options co = client_opts(), so = server_opts();
  verify_fails(&co, &so, "wrong.example",
               "certificate verify failed: hostname mismatch");
}

static void verify_expired(void) {
  struct tls_options co = client_opts(), so = server_opts();
  so.cert = cert("expired.pem"), so.key = cert("expired.key");
  verify_fails(&co, &so, "localhost",
               "certificate verify failed: certificate has expired");
}

static void verify_ip_san(void) {
  struct tls_options co = client_opts(), so = server_opts();
  struct pair p;
  T_ASSERT_EQ(connect_with(&p, &co, &so, "127.0.0.1"), 0);
  T_ASSERT_EQ(p.cst, TLS_OK);
  T_ASSERT_EQ(info(p.c).verified, 1);
  T_ASSERT_STREQ(info(p.c).servername, "127.0.0.1");
  T_ASSERT_STREQ(info(p.s).servername, ""); /* no SNI for an IP */
  pair_close(&p);
}

static void verify_ip_mismatch(void) {
  struct tls_options co = client_opts(), so = server_opts();
  verify_fails(&co, &so, "127.0.0.2",
               "certificate verify failed: IP address mismatch");
}

static void verify_off_connects(void) {
  struct tls_options co = client_opts(), so = server_opts();
  co.verify = TLS_VERIFY_NONE;
  so.cert = cert("expired.pem"), so.key = cert("expired.key");
  struct pair p;
  T_ASSERT_EQ(connect_with(&p, &co, &so, "wrong.example"), 0);
  T_ASSERT_EQ(p.cst, TLS_OK);
  T_ASSERT_EQ(p.sst, TLS_OK);
  T_ASSERT_EQ(info(p.c).verified, 0);
  T_ASSERT_STREQ(info(p.c).peer, "CN=localhost,O=host test");
  pair_close(&p);
}

/* The system's store loads and is not empty: on Windows the ROOT
 * certificate store, copied (Wine fills it from the machine's own
 * certificates); on Debian the ca-certificates bundle that the default
 * verify paths name.  It is loaded once and shared. */
static void system_store_loads_once(void) {
  char err[256] = "";
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX *ctx2 = SSL_CTX_new(TLS_client_method());
  T_ASSERT(ctx && ctx2);
  T_ASSERT_EQ(tls_store_load(ctx, NULL, 0, err, sizeof err), 0);
  T_ASSERT_EQ(tls_store_load(ctx2, NULL, 0, err, sizeof err), 0);
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  int n = sk_X509_OBJECT_num(X509_STORE_get0_objects(store));
  printf("# %d certificates from the system's store\n", n);
  T_ASSERT(store == SSL_CTX_get_cert_store(ctx2));
  SSL_CTX_free(ctx);
  SSL_CTX_free(ctx2);
  T_ASSERT(n > 0);
}

/* A server that requires a client certificate from ca.pem. */
static struct tls_options mtls_server(void) {
  struct tls_options so = server_opts();
  so.verify = TLS_VERIFY_PEER;
  so.ca = cert("ca.pem");
  return so;
}

static void client_cert_accepted(void) {
  struct tls_options co = client_opts(), so = mtls_server();
  co.cert = cert("client.pem"), co.key = cert("client.key");
  struct pair p;
  T_ASSERT_EQ(connect_with(&p, &co, &so, "localhost"), 0);
  T_ASSERT_EQ(p.cst, TLS_OK);
  T_ASSERT_EQ(p.sst, TLS_OK);
  T_ASSERT_EQ(info(p.s).verified, 1);
  T_ASSERT_STREQ(info(p.s).peer, "CN=client,O=host test");
  pair_close(&p);
}

/* In TLS 1.3 the client finishes before the server judges its
 * certificate: the server's alert reaches it on its first read. */
static void client_cert_refused(struct tls_options *co, const char *sdetail,
                                const char *cdetail) {
  struct tls_options so = mtls_server();
  struct pair p;
  char buf[16];
  size_t got = 0;
  T_ASSERT_EQ(connect_with(&p, co, &so, "localhost"), 0);
  T_ASSERT_EQ(p.sst, TLS_ERROR);
  T_ASSERT_STREQ(tls_error_detail(p.s), sdetail);
  T_ASSERT_EQ(drain(p.c, &p.s2c, buf, sizeof buf, &got), TLS_ERROR);
  T_ASSERT_STREQ(tls_error_detail(p.c), cdetail);
  pair_close(&p);
}

static void client_cert_missing(void) {
  struct tls_options co = client_opts();
  client_cert_refused(&co, "peer did not return a certificate",
                      "tlsv13 alert certificate required");
}

static void client_cert_wrong_ca(void) {
  struct tls_options co = client_opts();
  co.cert = cert("rogue.pem"), co.key = cert("rogue.key");
  client_cert_refused(&co,
                      "certificate verify failed: unable to get local "
                      "issuer certificate",
                      "tlsv1 alert unknown ca");
}

static void client_cert_missing_tls12(void) {
  const char *v12[] = {"TLSv1.2"};
  struct tls_options co = client_opts(), so = mtls_server();
  co.protocols = v12, co.nprotocols = 1;
  struct pair p;
  T_ASSERT_EQ(connect_with(&p, &co, &so, "localhost"), 0);
  T_ASSERT_EQ(p.sst, TLS_ERROR);
  T_ASSERT_STREQ(tls_error_detail(p.s), "peer did not return a certificate");
  T_ASSERT_EQ(p.cst, TLS_ERROR);
  T_ASSERT_HAS(tls_error_detail(p.c), "alert handshake failure");
  pair_close(&p);
}

/* ---- configuration errors ---------------------------------------------- */

static void config_fails(struct tls_options *o, const char *part) {
  char err[256] = "";
  T_ASSERT(tls_config_new(o, err, sizeof err) == NULL);
  T_ASSERT_HAS(err, part);
}

static void config_cert_not_found(void) {
  struct tls_options o = server_opts();
  o.cert = cert("nope.pem");
  config_fails(&o, "cannot open certificate file '");
  config_fails(&o, "nope.pem': No such file or directory");
}

static void config_key_not_found(void) {
  struct tls_options o = server_opts();
  o.key = cert("nope.key");
  config_fails(&o, "cannot open key file '");
}

static void config_key_does_not_match(void) {
  struct tls_options o = server_opts();
  o.key = cert("a.key");
  config_fails(&o, "does not match certificate");
}

static void config_cert_not_pem(void) {
  struct tls_options o = server_opts();
  o.cert = cert("garbage.pem");
  config_fails(&o, "no certificate in '");
  o.cert = cert("empty.pem");
  config_fails(&o, "no certificate in '");
}

static void config_key_not_pem(void) {
  struct tls_options o = server_opts();
  o.key = cert("server.pem");
  config_fails(&o, "cannot read private key '");
}

static void config_server_needs_cert(void) {
  struct tls_options o = {0};
  o.role = TLS_SERVER;
  config_fails(&o, "a TLS server needs 'cert' and 'key'");
  o.cert = cert("server.pem");
  config_fails(&o, "'cert' and 'key' go together");
}

static void config_ca_not_found(void) {
  struct tls_options o = client_opts();
  o.ca = cert("nope.pem");
  config_fails(&o, "cannot open CA file '");
}

static void config_ca_without_certificates(void) {
  struct tls_options o = client_opts();
  o.ca = cert("ca.key");
  config_fails(&o, "holds no certificate");
}

static void config_ca_without_verify(void) {
  struct tls_options o = server_opts();
  o.ca = cert("ca.pem");
  config_fails(&o, "'ca' is given but peers are not verified");
}

static void config_unknown_protocol(void) {
  const char *p[] = {"TLSv1.3", "TLSv1.1"};
  struct tls_options o = client_opts();
  o.protocols = p, o.nprotocols = 2;
  config_fails(&o, "unknown protocol 'TLSv1.1'");
}

static void config_bad_alpn(void) {
  const char *a[] = {"h2", ""};
  struct tls_options o = client_opts();
  o.alpn = a, o.nalpn = 2;
  config_fails(&o, "ALPN protocol names are 1 to 255 bytes");
}

static void config_sni_on_a_client(void) {
  struct tls_server_cert sc = {"a.example", cert("a.pem"), cert("a.key")};
  struct tls_options o = client_opts();
  o.servers = &sc, o.nservers = 1;
  config_fails(&o, "'servers' is for a TLS server");
}

static void config_sni_entry_bad(void) {
  struct tls_server_cert sc = {"a.example", cert("a.pem"), cert("b.key")};
  struct tls_options o = server_opts();
  o.servers = &sc, o.nservers = 1;
  config_fails(&o, "does not match certificate");
  sc.name = "";
  config_fails(&o, "an SNI entry needs a name, a cert and a key");
}

static void config_outlives_its_owner(void) {
  struct tls_options co = client_opts(), so = server_opts();
  struct tls_config *ccfg = config(&co), *scfg = config(&so);
  T_ASSERT(ccfg && scfg);
  struct tls_session *c = tls_session_new(ccfg, "localhost");
  struct tls_session *s = tls_session_new(scfg, NULL);
  tls_config_unref(ccfg); /* the listener closes; its sessions live on */
  tls_config_unref(scfg);
  struct pair p = {.c = c, .s = s};
  handshake(&p);
  T_ASSERT_EQ(p.cst, TLS_OK);
  T_ASSERT_EQ(p.sst, TLS_OK);
  pair_close(&p);
}

/* test_tls [DIR]: with DIR, the certificates there (made by
 * tests/tools/make-certs.sh) instead of the test's own. */
int main(int argc, char **argv) {
  if (argc > 1)
    testcerts_use(argv[1]);
  else if (!testcerts_make())
    return 1;
  T_RUN(tls13_by_default);
  T_RUN(tls12_when_asked);
  T_RUN(version_mismatch_fails);
  T_RUN(chain_file_is_sent);
  T_RUN(alpn_by_server_preference);
  T_RUN(alpn_only_common_protocol);
  T_RUN(alpn_no_overlap_fails);
  T_RUN(alpn_client_without_it);
  T_RUN(sni_picks_a);
  T_RUN(sni_picks_b_case_insensitively);
  T_RUN(sni_default_for_other_names);
  T_RUN(sni_wildcard_one_label);
  T_RUN(verify_unknown_ca);
  T_RUN(verify_system_store_lacks_our_ca);
  T_RUN(system_store_loads_once);
  T_RUN(verify_wrong_host_name);
  T_RUN(verify_expired);
  T_RUN(verify_ip_san);
  T_RUN(verify_ip_mismatch);
  T_RUN(verify_off_connects);
  T_RUN(client_cert_accepted);
  T_RUN(client_cert_missing);
  T_RUN(client_cert_wrong_ca);
  T_RUN(client_cert_missing_tls12);
  T_RUN(config_cert_not_found);
  T_RUN(config_key_not_found);
  T_RUN(config_key_does_not_match);
  T_RUN(config_cert_not_pem);
  T_RUN(config_key_not_pem);
  T_RUN(config_server_needs_cert);
  T_RUN(config_ca_not_found);
  T_RUN(config_ca_without_certificates);
  T_RUN(config_ca_without_verify);
  T_RUN(config_unknown_protocol);
  T_RUN(config_bad_alpn);
  T_RUN(config_sni_on_a_client);
  T_RUN(config_sni_entry_bad);
  T_RUN(config_outlives_its_owner);
  testcerts_remove();
  tls_thread_done();
  return test_report();
}
