/*
 * lstats.h -- seeing inside: host.stats(), host.tasks(), host.pid, the
 * test runner's host._cancel, and the dump of every task to the log
 * (SIGUSR1, `host --dump PID`).
 */
#ifndef HOST_LSTATS_H
#define HOST_LSTATS_H

#include <lua.h>

struct worker;

/* Adds the functions and fields to the module table on top of L (the
 * worker is their upvalue). */
void lstats_setfuncs(lua_State *L, struct worker *w);
/* The worker_vm dump hook: this worker's tasks, one log line each. */
void lstats_dump(struct worker *w);

#endif
