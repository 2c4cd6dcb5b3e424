/*
 * lshared.h -- host.shared and the "host.shared" type (lshared.c).
 */
#ifndef HOST_LSHARED_H
#define HOST_LSHARED_H

#include <lua.h>

/* Registers the type, its scratch buffer and the VM's table of opened
 * dictionaries in a new VM. */
void lshared_open(lua_State *L);
/* host.shared(name [, size_mb]) -> the dictionary (raises on misuse). */
int lshared_shared(lua_State *L);
/* The process ends (every VM is closed): gives back its references to the
 * named dictionaries, which frees them. */
void lshared_exit(void);

#endif
