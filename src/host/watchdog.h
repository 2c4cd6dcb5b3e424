/*
 * watchdog.h -- a thread that watches the workers from outside.
 *
 * A worker's tasks run on its one thread: a task that computes for long
 * holds every other connection of that worker, and one stuck in a C call
 * holds it for good.  The watchdog reads what each worker publishes
 * (worker.h's pulse: whether a task runs, and since which run) a few
 * times per slice, and
 *  - asks a task that has run past --slice to pause, by interrupting its
 *    worker (sys_thread_interrupt; the VM's interrupt hook arms a count
 *    hook that yields it at its next step: lguard.c), and asks again,
 *    sparingly, while the run goes on (the VM also enforces --cpu-limit
 *    there);
 *  - logs a worker that has not come back to its loop for
 *    WATCHDOG_STUCK_MS, with the task and where it runs (which the VM
 *    publishes when asked), again every WATCHDOG_REPEAT_MS while it
 *    lasts, and once more when it is back.
 * It never touches a worker's VM itself.  When no task is running at a
 * look, the next one comes later (twice as late each time, up to
 * WATCHDOG_IDLE_MS), so an idle host, or one whose tasks only ever run
 * briefly, does not wake it hundreds of times a second; a long run is
 * then noticed up to WATCHDOG_IDLE_MS late, and watched every tick from
 * there.
 */
#ifndef HOST_WATCHDOG_H
#define HOST_WATCHDOG_H

struct host;

#define WATCHDOG_STUCK_MS 1000  /* a run this long is reported */
#define WATCHDOG_REPEAT_MS 5000 /* and again this often while it lasts */
#define WATCHDOG_IDLE_MS 100    /* the longest pause between two looks */
#define WATCHDOG_REASK_MS 50    /* a pause not yet honoured is asked again */

/* Starts the thread for h's workers (h->workers filled, not necessarily
 * started).  0, or -1 (then the host runs without it). */
int watchdog_start(struct host *h);
/* Stops and joins it; before the workers are joined. */
void watchdog_stop(struct host *h);

#endif
