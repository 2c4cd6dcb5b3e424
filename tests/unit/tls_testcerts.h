/*
 * tls_testcerts.h -- the certificates test_tls needs, made in memory with
 * OpenSSL's API (ECDSA P-256, SHA-256) and written as PEM files into a
 * fresh temporary directory, so the test needs no `openssl` command and
 * runs the same under Wine.  tests/tools/make-certs.sh makes the same set
 * with the command line for the script-level tests.
 *
 * Files (NAME.pem is the certificate, NAME.key its key):
 *   ca          "host test CA", self-signed root
 *   inter       an intermediate CA under ca
 *   server      CN=localhost, SAN DNS:localhost, IP:127.0.0.1 (by ca)
 *   a, b        CN/SAN a.example, b.example (by ca)
 *   chain       SAN chain.example, issued by inter; chain.pem holds the
 *               leaf then inter
 *   expired     like server, but its validity ended yesterday
 *   client      CN=client, for client authentication (by ca)
 *   other-ca    another root; rogue (CN=rogue, client auth) is by it
 *   garbage.pem not PEM at all; empty.pem an empty file
 */
#ifndef HOST_TLS_TESTCERTS_H
#define HOST_TLS_TESTCERTS_H

/* Makes the directory and the files; returns its path (static storage)
 * or NULL, with a message on stderr. */
const char *testcerts_make(void);

/* Uses the files already in path (tests/tools/make-certs.sh makes the
 * same set with the openssl command); testcerts_remove() leaves them. */
void testcerts_use(const char *path);

/* dir/name (static storage, overwritten by the next call). */
const char *testcerts_path(const char *name);

/* Removes the files and the directory. */
void testcerts_remove(void);

#endif
