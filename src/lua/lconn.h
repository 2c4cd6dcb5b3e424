/*
 * lconn.h -- the "host.conn" type and host.connect (lconn.c).
 */
#ifndef HOST_LCONN_H
#define HOST_LCONN_H

#include <lua.h>
#include <stddef.h>

struct worker;
struct conn;

/* Registers the type in a new VM. */
void lconn_open(lua_State *L);
/* A new conn of worker w, set up for the binding (NULL if no memory). */
struct conn *lconn_new(struct worker *w);
/* Pushes the userdata for c (c->box points back at it). */
void lconn_push(lua_State *L, struct conn *c);
/* host.connect(address [, timeout]) -> conn | nil, err */
int lconn_connect(lua_State *L);
/* The API's word for an IO_E* code: one of a fixed set (README). */
const char *lconn_errstr(int err);

#endif
