/*
 * llistener.h -- host.listen and the "host.listener" type.
 */
#ifndef HOST_LLISTENER_H
#define HOST_LLISTENER_H

#include <lua.h>

struct worker;

/* Registers the type (and the listen counts of port 0) in a new VM. */
void llistener_open(lua_State *L);
/* host.listen(address, handler [, options]) -> listener | nil, err */
int llistener_listen(lua_State *L);
/* Listens on addr with the handler at the top of L's stack (popped) and
 * the options table at index opts_idx (0: none).  Returns 1 and pushes
 * the listener; 0 and pushes the error text (the system's: "address
 * already in use"...); or -1 and pushes a message for a malformed
 * address, which the caller raises. */
int lhost_listen(lua_State *L, struct worker *w, const char *addr,
                 int opts_idx);

/* A reload (lreload.c): vm has loaded, the listeners it asked for
 * change hands (their sockets stay open) and the older VMs' others
 * close; or vm failed, and those changes are dropped. */
struct lvm;
void llistener_commit(struct worker *w, struct lvm *vm);
void llistener_rollback(struct worker *w, struct lvm *vm);

#endif
