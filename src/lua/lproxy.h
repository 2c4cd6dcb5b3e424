/*
 * lproxy.h -- listeners behind a load balancer: the PROXY header read
 * before anything else on an accepted connection, and conn.proxy.
 */
#ifndef HOST_LPROXY_H
#define HOST_LPROXY_H

#include <lua.h>
#include <stdint.h>

struct conn;
struct tls_config;

/* [next] -> [task body]: reads and checks the PROXY header within
 * proxy_ms, records what it says on the conn (conn_set_origin), starts
 * TLS with tls (if not NULL, with the handshake due in handshake_ms), then
 * calls next with the conn.  A missing, malformed or late header ends the
 * task (and so closes the conn), logged at debug level: next never runs.
 * tls must outlive the task (the VM's configuration cache holds it). */
void lproxy_push_acceptor(lua_State *L, struct tls_config *tls,
                          uint32_t handshake_ms, uint32_t proxy_ms);
/* conn.proxy: what the header said, as a table, or nil. */
int lproxy_push_info(lua_State *L, struct conn *c);

#endif
