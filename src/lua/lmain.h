/*
 * lmain.h -- a worker's Lua VM: the state the Lua side keeps per worker,
 * and the hook table (lua_vm) through which worker.c creates, runs and
 * closes it without knowing it is Lua.  main.c puts &lua_vm in the host's
 * configuration, the way io.c is handed a backend table.
 */
#ifndef HOST_LMAIN_H
#define HOST_LMAIN_H

#include "lalloc.h"
#include "lmsg.h"
#include "log.h"
#include "ltask.h"
#include "worker.h"

#include <lua.h>

struct lvm {
  lua_State *L;                /* the worker's VM */
  struct lalloc alloc;         /* its allocator: counts, caps */
  struct sched sched;          /* its tasks (ltask.h) */
  struct log_rate task_errors; /* handler errors are logged sparingly */
  int main_done;               /* the script's main chunk has finished */
  struct lmsg msg;             /* host.post / host.receive (lmsg.h) */
  int stop_told;               /* the stop hooks ran (lmain.c) */
};

/* Functions in the registry's array LMAIN_STOP_HOOKS run once, with no
 * argument, when the worker begins a graceful stop (host.http closes its
 * idle keep-alive connections from there). */
#define LMAIN_STOP_HOOKS "host.on_stop"

extern const struct worker_vm lua_vm;

/* After host_run: every VM is closed; frees what they shared for the
 * whole process (the named dictionaries of host.shared). */
void lmain_exit(void);

static inline struct lvm *lvm_of(const struct worker *w) {
  return (struct lvm *)w->vm;
}

/* The script's main task returned nres values (on co's stack), or failed
 * with msg. */
void lmain_done(struct worker *w, lua_State *co, int nres);
void lmain_failed(struct worker *w, const char *msg);

#endif
