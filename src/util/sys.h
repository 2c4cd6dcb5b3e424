/*
 * sys.h -- the little the host needs from the OS besides sockets:
 * threads, mutexes, condition variables, one-time initialisation, random
 * bytes, the CPU count, blocking signals.  One header, with a POSIX and a
 * Windows half in sys.c, so nothing else has an #ifdef for it.
 */
#ifndef HOST_SYS_H
#define HOST_SYS_H

#ifdef _WIN32
#include <winsock2.h> /* must come before windows.h, wherever sys.h goes */
#include <windows.h>
typedef HANDLE sys_thread;
typedef CRITICAL_SECTION sys_mutex;
typedef CONDITION_VARIABLE sys_cond;
typedef INIT_ONCE sys_once_flag;
#define SYS_ONCE_INIT INIT_ONCE_STATIC_INIT
#else
#include <pthread.h>
typedef pthread_t sys_thread;
typedef pthread_mutex_t sys_mutex;
typedef pthread_cond_t sys_cond;
typedef pthread_once_t sys_once_flag;
#define SYS_ONCE_INIT PTHREAD_ONCE_INIT
#endif

#include <stddef.h>
#include <stdint.h>

/* 0 on success, -1 on failure. */
int sys_thread_start(sys_thread *t, void (*fn)(void *), void *arg);
void sys_thread_join(sys_thread t);
/* Lets t run on alone: its resources go when it returns; no join after. */
void sys_thread_detach(sys_thread t);
/* Lowers the calling thread's CPU priority, for a helper thread whose
 * work must not delay the loops when the CPUs are busy (the resolver
 * pool's): 10 more nice for this thread alone on Linux (19 at most),
 * below normal on Windows.  Best effort. */
void sys_thread_background(void);

void sys_mutex_init(sys_mutex *m);
void sys_mutex_destroy(sys_mutex *m);
void sys_mutex_lock(sys_mutex *m);
void sys_mutex_unlock(sys_mutex *m);

/* Condition variables, used with a sys_mutex held (pthread_cond_wait's
 * contract; SleepConditionVariableCS on Windows).  Wakeups may be
 * spurious: wait in a loop on the predicate. */
void sys_cond_init(sys_cond *c);
void sys_cond_destroy(sys_cond *c);
void sys_cond_wait(sys_cond *c, sys_mutex *m);
/* 0 when woken (or spuriously), -1 when ms milliseconds have passed. */
int sys_cond_timedwait(sys_cond *c, sys_mutex *m, unsigned ms);
void sys_cond_signal(sys_cond *c);
void sys_cond_broadcast(sys_cond *c);

/* Runs fn exactly once per flag (initialised with SYS_ONCE_INIT), however
 * many threads call it; every caller returns after fn has finished. */
void sys_once(sys_once_flag *flag, void (*fn)(void));

/* Fills buf with n bytes from the OS's cryptographic generator
 * (getrandom or /dev/urandom; RtlGenRandom).  0, or -1 if none answered
 * (buf then holds bytes mixed from the clock and addresses: unique, not
 * secret). */
int sys_random(void *buf, size_t n);

/* Monotonic clock in milliseconds (arbitrary origin). */
uint64_t sys_clock_ms(void);

/* Online CPUs, at least 1. */
int sys_cpu_count(void);

/* The number of descriptors the process may open, after raising its
 * soft limit to the hard one (as Go's runtime does: the soft limit is
 * only a default for programs that cannot cope with more); 0 where there
 * is no such limit (Windows: sockets are bounded by memory). */
long sys_fd_limit(void);

/* Large blocks are mapped and unmapped one by one (glibc: a fixed
 * M_MMAP_THRESHOLD, not one that grows after the first large free), so
 * a peak of large buffers is given back as it is freed.  Once, early. */
void sys_heap_setup(void);
/* A block of `size` bytes (a power of two, at least a page) aligned to
 * its size, for pools and allocators that find a block from an object's
 * address; NULL if there is no memory.  On Linux it is mapped: its pages
 * count only once touched, and go back to the system when it is freed.
 * sys_aligned_free takes the same size. */
void *sys_aligned_alloc(size_t size);
void sys_aligned_free(void *p, size_t size);
/* Gives the C library's free pages back to the system (malloc_trim). */
void sys_trim_heap(void);

/* Physical memory in bytes, or the control group's memory limit if that
 * is lower (Linux, cgroup v2 memory.max); 0 if unknown. */
uint64_t sys_memory(void);

/* One-time process setup: ignore SIGPIPE, start Winsock. 0 or -1. */
int sys_init(void);

/* Sleep the calling thread (tests and back-off only). */
void sys_sleep_ms(unsigned ms);

/* Interrupting a running thread, as a signal would.  After
 * sys_interrupt_init(fn) (once, before any thread is interrupted),
 * sys_thread_interrupt(t, arg) makes fn(arg) run while t is stopped
 * between two of its instructions: on t itself, in a signal handler, on
 * POSIX (a real-time signal, SA_RESTART); on the calling thread while t
 * is suspended, on Windows.  So fn may do only what a signal handler
 * may: no locks, no allocation, no stdio, and it must not assume which
 * thread it runs on.  t must not have been joined.  0, or -1. */
int sys_interrupt_init(void (*fn)(void *arg));
int sys_thread_interrupt(sys_thread t, void *arg);

/* The CPU time thread t has used, in ns, read from any thread: 0 and
 * *ns, or -1 where it cannot be had.  On Windows it moves in steps of the
 * system's clock tick (about 15.6 ms). */
int sys_thread_cpu(sys_thread t, uint64_t *ns);
/* The same for the calling thread (which need not know its handle yet). */
int sys_thread_cpu_self(uint64_t *ns);

#endif
