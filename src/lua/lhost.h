/*
 * lhost.h -- `require "host"`: the module table and the Lua types.
 */
#ifndef HOST_LHOST_H
#define HOST_LHOST_H

#include <lua.h>
#include <stddef.h>

struct worker;
struct conn;

/* Sets up a worker's fresh VM: standard libraries, the host module and
 * its types, package paths, the embedded Lua library. */
void lhost_setup(lua_State *L, struct worker *w);
/* The worker of the running binding (its upvalue). */
struct worker *lhost_worker(lua_State *L);
/* Listens on addr with the handler at the top of L's stack (popped).
 * Returns 1 and pushes the listener, or 0 and pushes the error text. */
int lhost_listen(lua_State *L, struct worker *w, const char *addr,
                 int opts_idx);

/* lconn.c */
void lconn_open(lua_State *L);
void lconn_push(lua_State *L, struct conn *c);
/* A new conn of worker w, set up for the binding (NULL if no memory). */
struct conn *lconn_new(struct worker *w);
int lconn_connect(lua_State *L);
const char *lconn_errstr(int err, char *buf, size_t size);

/* lembed.c: package.preload entries for scripts/lib */
void lembed_open(lua_State *L);
/* Loads embedded file `name` ("host/test.lua") as a chunk; 0 or error. */
int lembed_load(lua_State *L, const char *name);

#endif
