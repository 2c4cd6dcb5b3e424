/*
 * lreload.c -- reloading the script (SIGHUP, or `host --reload` on
 * Windows) without closing a listening socket, so that no client is ever
 * refused, and without cutting a connection that is being served.
 *
 * Each worker does it by itself.  It makes a fresh VM and runs the script
 * there, while the old VM goes on serving: its listeners stay open and
 * keep accepting into it.  A host.listen of the new script on an address
 * an old VM listens on does not bind: the listener is marked to change
 * hands (llistener.c).  When the new script's main chunk has finished
 * (and listened on --listen with the handler it returned), the reload is
 * committed: those listeners go to the new VM, the old VM's other
 * listeners close (the new script no longer listens there), and the old
 * VM drains.  If the script fails to load or its main chunk raises, the
 * changes are dropped, the error is logged with its file:line, and the
 * old VM serves on as if nothing happened.
 *
 * Draining.  A replaced VM keeps its tasks, its connections and its
 * timers: every connection it had finishes under the code that accepted
 * it.  Those between two exchanges (a keep-alive handler waiting for the
 * next request) are closed at once, and the others as soon as they get
 * there (conn_set_end); the rest get the grace (--grace), after which
 * the VM is killed: its tasks are dropped and its connections aborted.
 * A VM whose last task has ended is closed (lua_close: its finalizers
 * close the connections it kept, a pool's, say) and freed once the
 * completions of its timers are in.  A killed VM's struct and task pools
 * stay until the worker ends, because completions of its aborted
 * operations may still name its tasks: a few hundred bytes per reload
 * whose grace ran out.
 *
 * So a worker has one VM, but for a while after a reload: the serving
 * one (w->vm) and the ones it replaced, newest first (vm->older).  Each
 * tags the connections it creates (conn.owner) so they can be ended or
 * aborted by VM.  Tasks know their VM (task.vm), so resuming, scheduling
 * and errors go to the right one.
 */
#include "conn.h"
#include "host.h"
#include "llistener.h"
#include "lmain.h"
#include "log.h"
#include "worker.h"

#include <lauxlib.h>

#define MAX_VMS 64 /* VMs of a worker at once: reloads are refused past it */

/* A tag that no VM of the worker has. */
static uint8_t free_owner(struct worker *w) {
  struct lvm *cur = lvm_of(w);
  uint8_t o = cur->owner;
  for (int tries = 0; tries < 256; tries++) {
    int used = 0;
    o++;
    for (struct lvm *v = cur; v && !used; v = v->older)
      used = v->owner == o;
    if (!used)
      break;
  }
  return o;
}

static int count_vms(struct worker *w) {
  int n = 0;
  for (struct lvm *v = lvm_of(w); v; v = v->older)
    n++;
  return n;
}

/* Nothing of vm runs any more; its connections are aborted. */
static int kill_vm(struct lvm *vm) {
  struct worker *w = vm->w;
  int n = vm->sched.ntasks;
  vm->killed = 1;
  vm->draining = 1;
  task_drop_all(vm);
  conn_set_abort_owner(&w->conns, vm->owner);
  if (io_posted(&vm->grace_op))
    io_cancel(w->loop, &vm->grace_op);
  return n;
}

void lreload_start(struct worker *w) {
  struct lvm *cur = lvm_of(w);
  const struct host_config *cfg = &w->host->cfg;
  if (!cur || w->stopping || w->killing || cfg->test_mode)
    return;
  if (cur->loading) {
    log_write(LOG_WARN, w->id, "reload: the previous one is still loading");
    return;
  }
  if (count_vms(w) >= MAX_VMS) {
    log_write(LOG_WARN, w->id,
              "reload refused: %d previous scripts are still draining",
              MAX_VMS - 1);
    return;
  }
  char err[64];
  struct lvm *vm = lmain_new_vm(w, err, sizeof err);
  if (!vm) {
    log_write(LOG_ERROR, w->id, "reload failed: %s", err);
    return;
  }
  vm->owner = free_owner(w);
  vm->loading = 1;
  vm->older = cur;
  w->vm = vm;
  if (lmain_start(vm) != 0)
    lreload_failed(vm, lua_tostring(vm->L, -1));
  /* else its main task runs in this turn (the worker's turn hook) */
}

void lreload_failed(struct lvm *vm, const char *msg) {
  struct worker *w = vm->w;
  struct lvm *prev = vm->older;
  log_write(LOG_ERROR, w->id, "reload failed, the previous script goes on: %s",
            msg);
  vm->loading = 0;
  llistener_rollback(w, vm);
  /* It joins the older ones, killed; closed at the next turn (we may be
   * inside one of its tasks now). */
  w->vm = prev;
  lmain_count(prev);
  vm->older = prev->older;
  prev->older = vm;
  kill_vm(vm);
}

static void on_grace_over(struct io_op *op) {
  struct lvm *vm = op->data;
  if (op->res != 0 || vm->killed)
    return;
  int n = kill_vm(vm);
  if (n > 0)
    log_write(LOG_WARN, vm->w->id,
              "reload: grace period over, closed %d task(s) of the "
              "previous script",
              n);
}

/* vm was replaced: it finishes what it has, within the grace. */
static void drain(struct lvm *vm) {
  struct worker *w = vm->w;
  double grace = w->host->cfg.grace;
  vm->draining = 1;
  conn_set_end(&w->conns, vm->owner);
  lmsg_end(w, &vm->msg); /* host.receive: "closed", mail goes to the new */
  lmain_stop_hooks(vm);  /* host.http closes its idle connections */
  if (grace >= HOST_GRACE_FOREVER)
    return;
  if (io_timeout(w->loop, &vm->grace_op, (uint64_t)(grace * 1e9),
                 on_grace_over) != 0)
    kill_vm(vm); /* no memory for a timer: now, not never */
}

void lreload_commit(struct lvm *vm) {
  struct worker *w = vm->w;
  vm->loading = 0;
  llistener_commit(w, vm);
  for (struct lvm *o = vm->older; o; o = o->older)
    if (!o->draining)
      drain(o);
  log_write(LOG_INFO, w->id, "reloaded %s", w->host->cfg.script);
}

int lreload_turn(struct worker *w) {
  int ready = 0;
  struct lvm **pp = &lvm_of(w)->older;
  while (*pp) {
    struct lvm *o = *pp;
    if (!o->killed) {
      task_run_queue(o);
      ready |= o->sched.runq != NULL;
    }
    if (o->L && (o->killed || (o->draining && o->sched.ntasks == 0))) {
      if (io_posted(&o->grace_op))
        io_cancel(w->loop, &o->grace_op);
      lmain_close_state(o); /* its finalizers close what it kept */
    }
    if (!o->L && !o->killed && list_empty(&o->sched.sleepers) &&
        !io_posted(&o->grace_op)) {
      *pp = o->older;
      lmain_free_vm(o);
      continue;
    }
    pp = &o->older;
  }
  return ready;
}

int lreload_kill(struct worker *w) {
  int n = 0;
  for (struct lvm *o = lvm_of(w)->older; o; o = o->older) {
    if (o->killed)
      continue;
    n += o->sched.ntasks;
    o->killed = 1;
    task_drop_all(o);
    if (io_posted(&o->grace_op))
      io_cancel(w->loop, &o->grace_op);
  }
  return n;
}

void lreload_close(struct worker *w) {
  struct lvm *o = lvm_of(w)->older;
  lvm_of(w)->older = NULL;
  while (o) {
    struct lvm *next = o->older;
    lmain_free_vm(o);
    o = next;
  }
}
