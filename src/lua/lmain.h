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
#include "lguard.h"
#include "log.h"
#include "ltask.h"
#include "worker.h"

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

/* A VM of a worker.  A worker has one, but for a while after a reload:
 * then the new one serves (w->vm) and the ones it replaced (`older`)
 * finish the connections they had, within the grace. */
struct lvm {
  lua_State *L;                /* the VM (NULL once closed) */
  struct lalloc alloc;         /* its allocator: counts, caps */
  struct sched sched;          /* its tasks (ltask.h) */
  struct log_rate task_errors; /* handler errors are logged sparingly */
  struct guard guard;          /* time slices, cpu limit (lguard.h) */
  int main_done;               /* the script's main chunk has finished */
  struct worker *w;
  struct lvm *older;      /* VMs this one replaced, newest first (lreload.c) */
  uint8_t owner;          /* its tag on connections (conn.owner) */
  uint8_t loading;        /* a reload's VM, main chunk not finished yet */
  uint8_t draining;       /* replaced: its tasks finish, then it closes */
  uint8_t killed;         /* nothing of it resumes any more */
  struct io_op grace_op;  /* a draining VM's grace (posted while it runs) */
  struct lmsg msg;        /* host.post / host.receive (lmsg.h) */
  int stop_told;          /* the stop hooks ran (lmain.c) */
  uint8_t gc_incremental; /* the script chose the incremental collector */
};

/* Functions in the registry's array LMAIN_STOP_HOOKS run once, with no
 * argument, when the worker begins a graceful stop (host.http closes its
 * idle keep-alive connections from there). */
#define LMAIN_STOP_HOOKS "host.on_stop"

extern const struct worker_vm lua_vm;

/* After host_run: every VM is closed; frees what they shared for the
 * whole process (the named dictionaries of host.shared). */
void lmain_exit(void);

/* The worker's serving VM. */
static inline struct lvm *lvm_of(const struct worker *w) {
  return (struct lvm *)w->vm;
}

/* The VM of a Lua state (any of its threads): its allocator's owner. */
static inline struct lvm *lvm_of_L(lua_State *L) {
  void *ud;
  lua_getallocf(L, &ud);
  return (struct lvm *)(void *)((char *)ud - offsetof(struct lvm, alloc));
}

/* The same (the name the guards and stats use). */
static inline struct lvm *lvm_of_state(lua_State *L) { return lvm_of_L(L); }

/* The script's main task returned nres values (on co's stack), or failed
 * with msg. */
void lmain_done(struct lvm *vm, lua_State *co, int nres);
void lmain_failed(struct lvm *vm, const char *msg);

/* lmain.c for lreload.c: a new VM (state, allocator, tasks), or NULL
 * with a message in err; and the protected start of its script. */
struct lvm *lmain_new_vm(struct worker *w, char *err, size_t errsize);
/* Loads the script in vm and queues its main task; 0, or -1 with the
 * message on vm->L's stack. */
int lmain_start(struct lvm *vm);
/* lua_close and the allocator's chunks; the struct and its task pools
 * stay (lmain_free_vm). */
void lmain_close_state(struct lvm *vm);
/* Counts vm against the worker's memory limit, with the buffers and the
 * worker's other VMs (a new VM; again for the one a failed reload left
 * serving, which changes nothing). */
void lmain_count(struct lvm *vm);
void lmain_free_vm(struct lvm *vm);

/* Runs vm's stop hooks once (LMAIN_STOP_HOOKS): at a stop, or when a
 * reload replaces it. */
void lmain_stop_hooks(struct lvm *vm);

/* lreload.c: a worker's reload (the worker_vm hook), and what the main
 * task of a reloading VM ends with. */
void lreload_start(struct worker *w);
void lreload_commit(struct lvm *vm);
void lreload_failed(struct lvm *vm, const char *msg);
/* Runs the queues of the older VMs and retires those that are done;
 * returns non-zero if tasks are ready. */
int lreload_turn(struct worker *w);
/* Forced stop: every older VM is killed; returns their live tasks. */
int lreload_kill(struct worker *w);
/* Frees every older VM (the worker ends). */
void lreload_close(struct worker *w);

#endif
