/*
 * fault.h -- a countdown fault injector, as sqlite's faultsimStep: in a
 * build with HOST_FAULT_INJECTION, the k-th call of a kind fails (k from
 * the environment), so a test can walk k over every allocation the host
 * makes and check that each failure is survived: an error for whoever
 * asked, no crash, no leak, no hang.  Two kinds, counted apart:
 *
 *   HOST_FAULT_C=k     the host's own allocations (pools, read buffers,
 *                      timer heap)
 *   HOST_FAULT_LUA=k   the Lua VM's allocations
 *
 * A firing is reported on stderr ("fault injected: ..."), so the walk
 * knows when k has gone past the last call.  In other builds fault_fail()
 * is the constant 0 and costs nothing.
 */
#ifndef HOST_FAULT_H
#define HOST_FAULT_H

enum fault_kind { FAULT_C, FAULT_LUA };

#ifdef HOST_FAULT_INJECTION
int fault_fail(int kind, const char *where);
/* For unit tests that walk in-process: the k-th next call of kind fails
 * (k <= 0 disarms), whatever the environment said. */
void fault_arm(int kind, long k);
/* Calls of kind left before the armed one; <= 0 once it has fired (or
 * when nothing is armed). */
long fault_left(int kind);
#else
#define fault_fail(kind, where) 0
#endif

#endif
