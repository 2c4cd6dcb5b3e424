/*
 * io_err.c -- the completion core's error codes: their text, and the one
 * place where errno, Winsock and NTSTATUS values become IO_E* codes (for
 * io.c, the backends and io_sock.c alike).
 */
#include "io_internal.h"

#include <stdio.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#include <ntsecapi.h>
#else
#include <errno.h>
#endif

/* Indexed by -code: each text sits beside the code it names. */
static const char *const messages[] = {
    [-IO_ECANCELED] = "operation cancelled",
    [-IO_ECONNRESET] = "connection reset by peer",
    [-IO_EPIPE] = "broken pipe",
    [-IO_ECONNREFUSED] = "connection refused",
    [-IO_ETIMEDOUT] = "timed out",
    [-IO_EADDRINUSE] = "address already in use",
    [-IO_EADDRNOTAVAIL] = "address not available",
    [-IO_EMFILE] = "too many open files",
    [-IO_ENFILE] = "too many open files in system",
    [-IO_ENOBUFS] = "no buffer space available",
    [-IO_ENOMEM] = "not enough memory",
    [-IO_EINVAL] = "invalid argument",
    [-IO_ECONNABORTED] = "connection aborted",
    [-IO_ENETUNREACH] = "network unreachable",
    [-IO_EHOSTUNREACH] = "host unreachable",
    [-IO_EACCES] = "permission denied",
    [-IO_EAFNOSUPPORT] = "address family not supported",
    [-IO_ENOTCONN] = "socket is not connected",
    [-IO_ENOSYS] = "not available on this system",
    [-IO_EBUSY] = "operation already pending",
    [-IO_EAGAIN] = "resource temporarily unavailable",
};

const char *io_strerror(int err, char *buf, size_t size) {
  if (err < 0 && -err < (int)(sizeof messages / sizeof *messages) &&
      messages[-err]) {
    snprintf(buf, size, "%s", messages[-err]);
  } else if (err <= IO_ESYS_BASE) {
    int code = IO_ESYS_BASE - err;
#ifdef _WIN32
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM |
                                 FORMAT_MESSAGE_IGNORE_INSERTS,
                             NULL, (DWORD)code, 0, buf, (DWORD)size, NULL);
    while (n > 0 &&
           (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == '.'))
      buf[--n] = '\0';
    if (n == 0)
      snprintf(buf, size, "system error %d", code);
#else
    snprintf(buf, size, "%s", strerror(code));
#endif
  } else {
    snprintf(buf, size, "unknown error %d", err);
  }
  return buf;
}

#ifndef _WIN32
int io__from_errno(int e) {
  switch (e) {
  case 0: return 0;
  case ECANCELED: return IO_ECANCELED;
  case ECONNRESET: return IO_ECONNRESET;
  case EPIPE: return IO_EPIPE;
  case ECONNREFUSED: return IO_ECONNREFUSED;
  case ETIMEDOUT: return IO_ETIMEDOUT;
  case EADDRINUSE: return IO_EADDRINUSE;
  case EADDRNOTAVAIL: return IO_EADDRNOTAVAIL;
  case EMFILE: return IO_EMFILE;
  case ENFILE: return IO_ENFILE;
  case ENOBUFS: return IO_ENOBUFS;
  case ENOMEM: return IO_ENOMEM;
  case EINVAL: return IO_EINVAL;
  case ECONNABORTED: return IO_ECONNABORTED;
  case ENETUNREACH: return IO_ENETUNREACH;
  case EHOSTUNREACH: return IO_EHOSTUNREACH;
  case EACCES: return IO_EACCES;
  case EPERM: return IO_EACCES;
  case EAFNOSUPPORT: return IO_EAFNOSUPPORT;
  case ENOTCONN: return IO_ENOTCONN;
  case ENOSYS: return IO_ENOSYS;
  case EAGAIN: return IO_EAGAIN;
  default: return IO_ESYS(e);
  }
}
#else
int io__from_errno(int e) { return e ? IO_ESYS(e) : 0; }

int io__from_wsa(unsigned long e) {
  switch (e) {
  case 0: return 0;
  case WSA_OPERATION_ABORTED:
    return IO_ECANCELED; /* = ERROR_OPERATION_ABORTED */
  case WSAECONNRESET:
  case ERROR_NETNAME_DELETED:
  case WSAENETRESET: return IO_ECONNRESET;
  case WSAESHUTDOWN: return IO_EPIPE;
  case WSAECONNREFUSED:
  case ERROR_CONNECTION_REFUSED:
  case ERROR_PORT_UNREACHABLE: return IO_ECONNREFUSED;
  case WSAETIMEDOUT:
  case ERROR_SEM_TIMEOUT: return IO_ETIMEDOUT;
  case WSAEADDRINUSE: return IO_EADDRINUSE;
  case WSAEADDRNOTAVAIL: return IO_EADDRNOTAVAIL;
  case WSAEMFILE:
  case ERROR_TOO_MANY_OPEN_FILES: return IO_EMFILE;
  case WSAENOBUFS:
  case ERROR_NO_SYSTEM_RESOURCES: return IO_ENOBUFS;
  case WSA_NOT_ENOUGH_MEMORY: return IO_ENOMEM; /* = ERROR_NOT_ENOUGH_MEMORY */
  case WSAEINVAL: return IO_EINVAL;
  case WSAECONNABORTED:
  case ERROR_CONNECTION_ABORTED: return IO_ECONNABORTED;
  case WSAENETUNREACH:
  case ERROR_NETWORK_UNREACHABLE: return IO_ENETUNREACH;
  case WSAEHOSTUNREACH:
  case ERROR_HOST_UNREACHABLE: return IO_EHOSTUNREACH;
  case WSAEACCES: return IO_EACCES;
  case WSAEAFNOSUPPORT: return IO_EAFNOSUPPORT;
  case WSAENOTCONN: return IO_ENOTCONN;
  case WSAEWOULDBLOCK: return IO_EAGAIN;
  default: return IO_ESYS(e);
  }
}

/* An op's status as IOCP leaves it in OVERLAPPED.Internal.  The system's
 * own NTSTATUS -> Win32 table does the work; the one status it has no
 * socket meaning for is a handle closed under a pending op, which only
 * our own close does (after CancelIoEx), so it reads as a cancel. */
int io__from_ntstatus(long status) {
  if (status >= 0)
    return 0; /* NT_SUCCESS: success and informational codes */
  if ((unsigned long)status == 0x8000000Aul) /* STATUS_HANDLES_CLOSED */
    return IO_ECANCELED;
  return io__from_wsa(LsaNtStatusToWinError((NTSTATUS)status));
}
#endif
