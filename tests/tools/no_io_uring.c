/*
 * no_io_uring.c -- runs a command with io_uring blocked, the way a
 * container's seccomp profile blocks it, to test the fallback to epoll.
 *
 *   no_io_uring [-n] command [args...]
 *
 * A seccomp-BPF filter makes io_uring_setup, io_uring_enter and
 * io_uring_register fail with EPERM (ENOSYS with -n, as on a kernel built
 * without io_uring); every other system call is allowed.  The filter is
 * inherited across execve() and by every thread and child, so the command
 * cannot undo it.  No libseccomp: the program is thirteen instructions.
 *
 * A syscall number means something only together with the architecture
 * the call was made for, so the filter checks seccomp_data.arch first:
 * the native one, and the 32-bit one the same kernel also runs (i386 on
 * x86-64, arm on aarch64).  On x86-64 the x32 ABI shares AUDIT_ARCH_X86_64
 * and sets __X32_SYSCALL_BIT in the number; the filter masks the bit off,
 * so x32 io_uring calls are blocked too rather than slipping past an
 * exact compare.  io_uring_* are 425-427 in every one of these tables
 * (numbers from 424 on are shared by all architectures but alpha, ia64
 * and mips).  A call for any other architecture kills the process: our
 * numbers would mean nothing there, and failing loudly beats guessing.
 *
 * Exit status: the command's, or 125 if the filter could not be
 * installed, 127 if the command could not be run.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>

#define NR_IO_URING_SETUP 425
#define NR_IO_URING_ENTER 426
#define NR_IO_URING_REGISTER 427

#if defined(__x86_64__)
#define ARCH_NATIVE AUDIT_ARCH_X86_64
#define ARCH_COMPAT AUDIT_ARCH_I386
#define NR_MASK (~0x40000000u) /* __X32_SYSCALL_BIT */
#elif defined(__aarch64__)
#define ARCH_NATIVE AUDIT_ARCH_AARCH64
#define ARCH_COMPAT AUDIT_ARCH_ARM
#define NR_MASK 0xffffffffu    /* no second ABI in the number */
#else
#error "no_io_uring: add this architecture's AUDIT_ARCH and numbers"
#endif

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS SECCOMP_RET_KILL /* before Linux 4.14 */
#endif

#define LOAD(field)                                                         \
  BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define JEQ(k, jt, jf) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (jt), (jf))
#define RET(k) BPF_STMT(BPF_RET | BPF_K, (k))

static int install(int err) {
  /* Jump offsets count the instructions skipped; the comments give the
   * index each instruction lands on. */
  struct sock_filter code[] = {
      /*  0 */ LOAD(arch),
      /*  1 */ JEQ(ARCH_NATIVE, 0, 3),            /* native: 2, else 5 */
      /*  2 */ LOAD(nr),
      /*  3 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, NR_MASK),
      /*  4 */ BPF_JUMP(BPF_JMP | BPF_JA, 2, 0, 0), /* to 7 */
      /*  5 */ JEQ(ARCH_COMPAT, 0, 6),            /* compat: 6, else 12 */
      /*  6 */ LOAD(nr),
      /*  7 */ JEQ(NR_IO_URING_SETUP, 3, 0),      /* to 11 */
      /*  8 */ JEQ(NR_IO_URING_ENTER, 2, 0),      /* to 11 */
      /*  9 */ JEQ(NR_IO_URING_REGISTER, 1, 0),   /* to 11 */
      /* 10 */ RET(SECCOMP_RET_ALLOW),
      /* 11 */ RET(SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
      /* 12 */ RET(SECCOMP_RET_KILL_PROCESS),
  };
  struct sock_fprog prog = {
      .len = (unsigned short)(sizeof code / sizeof *code),
      .filter = code,
  };
  /* Without no_new_privs an unprivileged process may not add a filter
   * (a setuid child could be made to misbehave). */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return -1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

int main(int argc, char **argv) {
  int err = EPERM, i = 1;
  if (i < argc && strcmp(argv[i], "-n") == 0)
    err = ENOSYS, i++;
  if (i < argc && strcmp(argv[i], "--") == 0)
    i++;
  if (i >= argc) {
    fprintf(stderr, "usage: no_io_uring [-n] command [args...]\n");
    return 125;
  }
  if (install(err) != 0) {
    fprintf(stderr, "no_io_uring: cannot install the filter: %s\n",
            strerror(errno));
    return 125;
  }
  execvp(argv[i], argv + i);
  fprintf(stderr, "no_io_uring: %s: %s\n", argv[i], strerror(errno));
  return 127;
}
