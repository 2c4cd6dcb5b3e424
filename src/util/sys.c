/*
 * sys.c -- threads, mutexes, condition variables, random bytes and
 * process setup for POSIX and Windows (see sys.h).  Thread functions
 * return void; the trampolines adapt them to each platform's signature.
 * Condition variables time out on the monotonic clock on POSIX, so a
 * change of the wall clock neither shortens nor stretches a wait.
 */
#include "sys.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#ifdef _WIN32
#include <winsock2.h>
#include <ntsecapi.h> /* RtlGenRandom */
#else
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#include <sys/syscall.h>
#endif
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

void sys_thread_detach(sys_thread t) {
#ifdef _WIN32
  CloseHandle(t);
#else
  pthread_detach(t);
#endif
}

void sys_thread_background(void) {
#ifdef _WIN32
  SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_BELOW_NORMAL);
#elif defined(__linux__)
  /* On Linux a nice value belongs to the thread (PRIO_PROCESS with a
   * thread id), not to the whole process as POSIX has it. */
  id_t tid = (id_t)syscall(SYS_gettid);
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, tid);
  if (errno == 0 && nice < 19)
    (void)setpriority(PRIO_PROCESS, tid, nice + 10 > 19 ? 19 : nice + 10);
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

/* ---- condition variables and once ----------------------------------- */

#ifdef _WIN32
void sys_cond_init(sys_cond *c) { InitializeConditionVariable(c); }
void sys_cond_destroy(sys_cond *c) { (void)c; }
void sys_cond_wait(sys_cond *c, sys_mutex *m) {
  SleepConditionVariableCS(c, m, INFINITE);
}
int sys_cond_timedwait(sys_cond *c, sys_mutex *m, unsigned ms) {
  if (SleepConditionVariableCS(c, m, ms))
    return 0;
  return GetLastError() == ERROR_TIMEOUT ? -1 : 0;
}
void sys_cond_signal(sys_cond *c) { WakeConditionVariable(c); }
void sys_cond_broadcast(sys_cond *c) { WakeAllConditionVariable(c); }

static BOOL CALLBACK once_tramp(PINIT_ONCE flag, PVOID fn, PVOID *ctx) {
  (void)flag;
  (void)ctx;
  void (*f)(void);
  memcpy(&f, &fn, sizeof f); /* a data pointer carried a function */
  f();
  return TRUE;
}

void sys_once(sys_once_flag *flag, void (*fn)(void)) {
  PVOID p;
  memcpy(&p, &fn, sizeof p);
  InitOnceExecuteOnce(flag, once_tramp, p, NULL);
}
#else
void sys_cond_init(sys_cond *c) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(c, &a);
  pthread_condattr_destroy(&a);
}
void sys_cond_destroy(sys_cond *c) { pthread_cond_destroy(c); }
void sys_cond_wait(sys_cond *c, sys_mutex *m) { pthread_cond_wait(c, m); }

int sys_cond_timedwait(sys_cond *c, sys_mutex *m, unsigned ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += (time_t)(ms / 1000);
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  return pthread_cond_timedwait(c, m, &ts) == ETIMEDOUT ? -1 : 0;
}
void sys_cond_signal(sys_cond *c) { pthread_cond_signal(c); }
void sys_cond_broadcast(sys_cond *c) { pthread_cond_broadcast(c); }

void sys_once(sys_once_flag *flag, void (*fn)(void)) { pthread_once(flag, fn); }
#endif

/* ---- random bytes and the clock --------------------------------------- */

#ifndef _WIN32
static int urandom(unsigned char *p, size_t n) {
#if defined(__linux__)
  while (n > 0) {
    ssize_t r = getrandom(p, n, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    p += r;
    n -= (size_t)r;
  }
  if (n == 0)
    return 0;
#endif
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    p += r;
    n -= (size_t)r;
  }
  close(fd);
  return n == 0 ? 0 : -1;
}
#endif

int sys_random(void *buf, size_t n) {
#ifdef _WIN32
  unsigned char *p = buf;
  size_t left = n;
  while (left > 0) { /* RtlGenRandom takes a ULONG length */
    ULONG chunk = left > 65536 ? 65536 : (ULONG)left;
    if (!RtlGenRandom(p, chunk))
      break;
    p += chunk;
    left -= chunk;
  }
  if (left == 0)
    return 0;
#else
  if (urandom(buf, n) == 0)
    return 0;
#endif
  /* Nothing answered: unique per call and process, never secret. */
  static atomic_ullong counter;
  unsigned long long x = sys_clock_ms() ^ (unsigned long long)(size_t)buf ^
                         (unsigned long long)(size_t)&counter ^
                         atomic_fetch_add(&counter, 0x9e3779b97f4a7c15ULL);
  unsigned char *q = buf;
  x |= 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27; /* xorshift64* */
    q[i] = (unsigned char)((x * 2685821657736338717ULL) >> 56);
  }
  return -1;
}

uint64_t sys_clock_ms(void) {
#ifdef _WIN32
  return (uint64_t)GetTickCount64();
#else
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
#endif
}

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

void sys_heap_setup(void) {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
}

/* Sanitizer builds keep the C library's aligned_alloc, so that a block
 * never freed is reported as a leak; mappings are not tracked. */
#if defined(__SANITIZE_ADDRESS__)
#define ALIGNED_BY_MAP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALIGNED_BY_MAP 0
#endif
#endif
#ifndef ALIGNED_BY_MAP
#ifdef _WIN32
#define ALIGNED_BY_MAP 0
#else
#define ALIGNED_BY_MAP 1
#endif
#endif

void *sys_aligned_alloc(size_t size) {
#if ALIGNED_BY_MAP
  /* Twice the size, then what lies outside the aligned part goes back:
   * glibc's aligned_alloc would carve it from the heap, and the pieces
   * it frees around the block are touched (their headers) and rarely
   * reused, a page or two per block resident for nothing (300 bytes per
   * idle connection with the Lua chunks and the pools' blocks). */
  size_t span = size * 2;
  char *p = mmap(NULL, span, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  uintptr_t at = ((uintptr_t)p + size - 1) & ~(uintptr_t)(size - 1);
  size_t head = (size_t)(at - (uintptr_t)p), tail = span - head - size;
  if (head)
    munmap(p, head);
  if (tail)
    munmap((char *)at + size, tail);
  return (void *)at;
#elif defined(_WIN32)
  return _aligned_malloc(size, size);
#else
  return aligned_alloc(size, size);
#endif
}

void sys_aligned_free(void *p, size_t size) {
  if (!p)
    return;
#if ALIGNED_BY_MAP
  munmap(p, size);
#elif defined(_WIN32)
  (void)size;
  _aligned_free(p);
#else
  (void)size;
  free(p);
#endif
}

void sys_trim_heap(void) {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

long sys_fd_limit(void) {
#ifdef _WIN32
  return 0;
#else
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    struct rlimit up = rl;
    up.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &up) == 0)
      rl = up;
  }
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1 << 30)
    return 1 << 30;
  return (long)rl.rlim_cur;
#endif
}

uint64_t sys_memory(void) {
#ifdef _WIN32
  MEMORYSTATUSEX ms;
  ms.dwLength = sizeof ms;
  return GlobalMemoryStatusEx(&ms) ? (uint64_t)ms.ullTotalPhys : 0;
#else
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  uint64_t total = pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
#if defined(__linux__)
  int fd = open("/sys/fs/cgroup/memory.max", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0) {
      buf[n] = 0;
      char *end;
      unsigned long long cg = strtoull(buf, &end, 10);
      if (end != buf && cg > 0 && (!total || cg < total))
        total = cg; /* "max" (no limit) does not parse */
    }
  }
#endif
  return total;
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

/* ---- interrupting a thread ---------------------------------------------- */

static void (*interrupt_fn)(void *);

#ifdef _WIN32
int sys_interrupt_init(void (*fn)(void *)) {
  interrupt_fn = fn;
  return 0;
}

int sys_thread_interrupt(sys_thread t, void *arg) {
  if (!interrupt_fn || SuspendThread(t) == (DWORD)-1)
    return -1;
  /* SuspendThread only asks; GetThreadContext returns once t is really
   * stopped, and makes what it wrote visible here. */
  CONTEXT ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.ContextFlags = CONTEXT_CONTROL;
  GetThreadContext(t, &ctx);
  interrupt_fn(arg);
  ResumeThread(t);
  return 0;
}
#else
#define INTERRUPT_SIGNAL (SIGRTMIN + 2) /* +1 is host.c's wake-up */

static void on_interrupt(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  int saved = errno;
  if (interrupt_fn && si->si_code == SI_QUEUE)
    interrupt_fn(si->si_value.sival_ptr);
  errno = saved;
}

int sys_interrupt_init(void (*fn)(void *)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_interrupt;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  interrupt_fn = fn;
  return sigaction(INTERRUPT_SIGNAL, &sa, NULL);
}

int sys_thread_interrupt(sys_thread t, void *arg) {
#if defined(__linux__)
  union sigval v;
  v.sival_ptr = arg;
  return pthread_sigqueue(t, INTERRUPT_SIGNAL, v) == 0 ? 0 : -1;
#else
  (void)t;
  (void)arg;
  return -1; /* only Linux carries the argument with the signal */
#endif
}
#endif

int sys_thread_cpu(sys_thread t, uint64_t *ns) {
#ifdef _WIN32
  FILETIME created, exited, kernel, user;
  if (!GetThreadTimes(t, &created, &exited, &kernel, &user))
    return -1;
  uint64_t k = ((uint64_t)kernel.dwHighDateTime << 32) | kernel.dwLowDateTime;
  uint64_t u = ((uint64_t)user.dwHighDateTime << 32) | user.dwLowDateTime;
  *ns = (k + u) * 100; /* 100 ns units */
  return 0;
#else
  clockid_t id;
  struct timespec ts;
  if (pthread_getcpuclockid(t, &id) != 0 || clock_gettime(id, &ts) != 0)
    return -1;
  *ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  return 0;
#endif
}

int sys_thread_cpu_self(uint64_t *ns) {
#ifdef _WIN32
  return sys_thread_cpu(GetCurrentThread(), ns);
#else
  return sys_thread_cpu(pthread_self(), ns);
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
