/*
 * ltls.h -- TLS from Lua (ltls.c).
 */
#ifndef HOST_LTLS_H
#define HOST_LTLS_H

#include <lua.h>

struct conn;
struct tls_config;

/* Registers the configuration type in a new VM. */
void ltls_open(lua_State *L);
/* The configuration for the options at idx (a table, or anything else
 * for the defaults), server or client side.  Cached per worker by its
 * options: the cache holds the reference (take your own to keep it past
 * the VM).  Raises on a bad option, with the engine's reason. */
struct tls_config *ltls_config(lua_State *L, int idx, int server);
/* [handler] -> [task body]: waits for c's handshake, then calls handler
 * with the conn (a failed handshake ends the task quietly). */
void ltls_push_acceptor(lua_State *L);
/* Yields the running task until c's handshake ends, then k. */
int ltls_wait(lua_State *L, struct conn *c, lua_KContext ctx, lua_KFunction k);
/* conn.tls: what the handshake agreed on, or nil. */
int ltls_push_info(lua_State *L, struct conn *c);
/* conn:starttls([opts]) */
int ltls_starttls(lua_State *L);

#endif
