/*
 * sys.c -- threads, mutexes and process setup for POSIX and Windows
 * (see sys.h).  Thread functions return void; the trampolines adapt them
 * to each platform's signature.
 */
#include "sys.h"

#include <stdlib.h>

#ifdef _WIN32
#include <winsock2.h>
#else
#include <signal.h>
#include <time.h>
#include <unistd.h>
#endif

struct start {
  void (*fn)(void *);
  void *arg;
};

#ifdef _WIN32
static DWORD WINAPI trampoline(LPVOID p) {
#else
static void *trampoline(void *p) {
#endif
  struct start s = *(struct start *)p;
  free(p);
  s.fn(s.arg);
#ifdef _WIN32
  return 0;
#else
  return NULL;
#endif
}

int sys_thread_start(sys_thread *t, void (*fn)(void *), void *arg) {
  struct start *s = malloc(sizeof *s);
  if (!s)
    return -1;
  s->fn = fn;
  s->arg = arg;
#ifdef _WIN32
  *t = CreateThread(NULL, 0, trampoline, s, 0, NULL);
  if (*t == NULL) {
#else
  if (pthread_create(t, NULL, trampoline, s) != 0) {
#endif
    free(s);
    return -1;
  }
  return 0;
}

void sys_thread_join(sys_thread t) {
#ifdef _WIN32
  WaitForSingleObject(t, INFINITE);
  CloseHandle(t);
#else
  pthread_join(t, NULL);
#endif
}

#ifdef _WIN32
void sys_mutex_init(sys_mutex *m) { InitializeCriticalSection(m); }
void sys_mutex_destroy(sys_mutex *m) { DeleteCriticalSection(m); }
void sys_mutex_lock(sys_mutex *m) { EnterCriticalSection(m); }
void sys_mutex_unlock(sys_mutex *m) { LeaveCriticalSection(m); }
#else
void sys_mutex_init(sys_mutex *m) { pthread_mutex_init(m, NULL); }
void sys_mutex_destroy(sys_mutex *m) { pthread_mutex_destroy(m); }
void sys_mutex_lock(sys_mutex *m) { pthread_mutex_lock(m); }
void sys_mutex_unlock(sys_mutex *m) { pthread_mutex_unlock(m); }
#endif

int sys_cpu_count(void) {
#ifdef _WIN32
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  return si.dwNumberOfProcessors > 0 ? (int)si.dwNumberOfProcessors : 1;
#else
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
#endif
}

int sys_init(void) {
#ifdef _WIN32
  WSADATA wsa;
  return WSAStartup(MAKEWORD(2, 2), &wsa) == 0 ? 0 : -1;
#else
  /* A write to a closed socket must be an error, never a signal. */
  signal(SIGPIPE, SIG_IGN);
  return 0;
#endif
}

void sys_sleep_ms(unsigned ms) {
#ifdef _WIN32
  Sleep(ms);
#else
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
#endif
}
