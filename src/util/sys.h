/*
 * sys.h -- the little the host needs from the OS besides sockets:
 * threads, mutexes, the CPU count, blocking signals.  One header, with a
 * POSIX and a Windows half in sys.c, so nothing else has an #ifdef for it.
 */
#ifndef HOST_SYS_H
#define HOST_SYS_H

#ifdef _WIN32
#include <winsock2.h> /* must come before windows.h, wherever sys.h goes */
#include <windows.h>
typedef HANDLE sys_thread;
typedef CRITICAL_SECTION sys_mutex;
#else
#include <pthread.h>
typedef pthread_t sys_thread;
typedef pthread_mutex_t sys_mutex;
#endif

/* 0 on success, -1 on failure. */
int sys_thread_start(sys_thread *t, void (*fn)(void *), void *arg);
void sys_thread_join(sys_thread t);

void sys_mutex_init(sys_mutex *m);
void sys_mutex_destroy(sys_mutex *m);
void sys_mutex_lock(sys_mutex *m);
void sys_mutex_unlock(sys_mutex *m);

/* Online CPUs, at least 1. */
int sys_cpu_count(void);

/* One-time process setup: ignore SIGPIPE, start Winsock. 0 or -1. */
int sys_init(void);

/* Sleep the calling thread (tests and back-off only). */
void sys_sleep_ms(unsigned ms);

#endif
