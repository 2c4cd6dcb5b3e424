/*
 * main.c -- the `host` command line.
 *
 *   host [options] SCRIPT [args...]     run SCRIPT in every worker
 *   host [options] test [PATH...]       run the *_test.lua files
 *
 * Exit codes, as lua.c has them plus one: 0 a clean stop, 1 the script
 * (or a test) failed, 2 bad usage.  Everything but --help and --version
 * output goes to stderr as log lines; stdout belongs to the script.
 */
#include "fs.h"
#include "host.h"
#include "io.h"
#include "lmain.h"
#include "log.h"
#include "mail.h"
#include "sys.h"

#include <lua.h>
#include <stdio.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>
#endif
#include <stdlib.h>
#include <errno.h>
#include <string.h>

static const char usage_text[] =
    "usage: host [options] SCRIPT [args...]\n"
    "       host [options] test [PATH...]\n"
    "\n"
    "Runs SCRIPT (a Lua 5.4 file) in every worker.  If it returns a\n"
    "function, every accepted connection runs it in its own coroutine.\n"
    "`host test` runs every *_test.lua file under PATH (default: tests).\n"
    "\n"
    "options:\n"
    "  --listen ADDR        listen on ADDR (ip:port, [ipv6]:port, *:port);\n"
    "                       repeatable; default " HOST_DEFAULT_LISTEN "\n"
    "  --workers N          worker threads (default: one per CPU)\n"
    "  --backend NAME       auto, io_uring, epoll or iocp (default: auto)\n"
    "  --grace SECONDS      time handlers get to finish on stop (default 5)\n"
    "  --memory-limit MB    cap each worker's Lua memory (default: none)\n"
    "  --inbox N            messages a worker may have queued (default 65536)\n"
    "  --log-level LEVEL    debug, info, warn or error (default: info)\n"
    "  --pid-file FILE      write the process id to FILE (removed at exit)\n"
    "  --reload PID|FILE    tell a running host to reload its script (as\n"
    "                       SIGHUP does; the way to do it on Windows)\n"
    "  -h, --help           this text\n"
    "  -v, --version        version and I/O backend\n";

static int usage(const char *fmt, const char *arg) {
  fprintf(stderr, "host: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\ntry 'host --help'\n");
  return HOST_EXIT_USAGE;
}

static int parse_number(const char *s, double lo, double hi, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end || !(v >= lo && v <= hi))
    return -1;
  *out = v;
  return 0;
}

/* host --reload PID|FILE: SIGHUP, or on Windows the named event the
 * host waits on (host.c). */
static int reload_other(const char *target) {
  char buf[32] = "";
  const char *text = target;
  FILE *f = strspn(target, "0123456789") == strlen(target) ? NULL
                                                           : fopen(target, "r");
  if (f) {
    if (!fgets(buf, sizeof buf, f))
      buf[0] = '\0';
    fclose(f);
    text = buf;
  }
  char *end;
  unsigned long pid = strtoul(text, &end, 10);
  if (end == text || pid == 0) {
    fprintf(stderr, "host: --reload: no process id in '%s'\n", target);
    return HOST_EXIT_FAILED;
  }
#ifdef _WIN32
  char name[64];
  host_reload_event_name(pid, name, sizeof name);
  HANDLE ev = OpenEventA(EVENT_MODIFY_STATE, FALSE, name);
  if (!ev || !SetEvent(ev)) {
    fprintf(stderr, "host: --reload: no host with process id %lu\n", pid);
    if (ev)
      CloseHandle(ev);
    return HOST_EXIT_FAILED;
  }
  CloseHandle(ev);
#else
  if (kill((pid_t)pid, SIGHUP) != 0) {
    fprintf(stderr, "host: --reload: process %lu: %s\n", pid, strerror(errno));
    return HOST_EXIT_FAILED;
  }
#endif
  return HOST_EXIT_OK;
}

static unsigned long own_pid(void) {
#ifdef _WIN32
  return (unsigned long)GetCurrentProcessId();
#else
  return (unsigned long)getpid();
#endif
}

struct files {
  char **v;
  int n, cap;
};

static int add_file(const char *path, void *ud) {
  struct files *f = ud;
  if (f->n == f->cap) {
    int cap = f->cap ? f->cap * 2 : 16;
    char **v = realloc(f->v, (size_t)cap * sizeof *v);
    if (!v)
      return -2; /* -1 is fs_walk's "no such path" */
    f->v = v;
    f->cap = cap;
  }
  size_t len = strlen(path) + 1;
  if (!(f->v[f->n] = malloc(len)))
    return -2;
  memcpy(f->v[f->n++], path, len);
  return 0;
}

static void free_files(struct files *f) {
  for (int i = 0; i < f->n; i++)
    free(f->v[i]);
  free(f->v);
}

int main(int argc, char **argv) {
  struct host_config cfg;
  const char *backend = "auto";
  int want_version = 0, log_level_set_explicitly = 0, i;
  const char *pid_file = NULL;
  memset(&cfg, 0, sizeof cfg);
  cfg.vm = &lua_vm;
  cfg.grace = 5;
  cfg.workers = 0;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    double n;
    if (a[0] != '-' || strcmp(a, "-") == 0) {
      if (strcmp(a, "test") == 0 && !cfg.test_mode) {
        cfg.test_mode = 1; /* options may follow `test` too */
        continue;
      }
      break;
    }
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(usage_text, stdout);
      return HOST_EXIT_OK;
    }
    if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
      want_version = 1;
      continue;
    }
    int takes = strcmp(a, "--listen") == 0 || strcmp(a, "--workers") == 0 ||
                strcmp(a, "--backend") == 0 || strcmp(a, "--grace") == 0 ||
                strcmp(a, "--memory-limit") == 0 || strcmp(a, "--inbox") == 0 ||
                strcmp(a, "--log-level") == 0 || strcmp(a, "--pid-file") == 0 ||
                strcmp(a, "--reload") == 0;
    if (!takes)
      return usage("unknown option '%s'", a);
    if (!v)
      return usage("option '%s' needs a value", a);
    i++;
    if (strcmp(a, "--listen") == 0) {
      if (cfg.nlisten == HOST_MAX_LISTEN)
        return usage("too many --listen options (at most 16)%s", "");
      cfg.listen[cfg.nlisten++] = v;
    } else if (strcmp(a, "--workers") == 0) {
      if (parse_number(v, 1, 1024, &n) != 0 || n != (int)n)
        return usage("--workers wants a number from 1 to 1024, not '%s'", v);
      cfg.workers = (int)n;
    } else if (strcmp(a, "--backend") == 0) {
      backend = v;
    } else if (strcmp(a, "--reload") == 0) {
      return reload_other(v);
    } else if (strcmp(a, "--pid-file") == 0) {
      pid_file = v;
    } else if (strcmp(a, "--grace") == 0) {
      if (parse_number(v, 0, 86400, &n) != 0)
        return usage("--grace wants seconds (0 to 86400), not '%s'", v);
      cfg.grace = n;
    } else if (strcmp(a, "--memory-limit") == 0) {
      if (parse_number(v, 1, 1 << 20, &n) != 0)
        return usage("--memory-limit wants megabytes, not '%s'", v);
      cfg.memory_limit = (size_t)(n * 1024 * 1024);
    } else if (strcmp(a, "--inbox") == 0) {
      if (parse_number(v, 1, MAIL_MAX_INBOX, &n) != 0 || n != (int)n)
        return usage("--inbox wants a number from 1 to 16777216, not '%s'", v);
      cfg.inbox = (uint32_t)n;
    } else {
      int level = log_level_parse(v);
      if (level < 0)
        return usage("unknown log level '%s'", v);
      log_set_level(level);
      log_level_set_explicitly = 1;
    }
  }

  if (sys_init() != 0) {
    fprintf(stderr, "host: cannot initialise the socket library\n");
    return HOST_EXIT_FAILED;
  }
  char why[192], msg[128];
  int err;
  cfg.backend = io_backend_pick(backend, why, sizeof why, &err);
  if (!cfg.backend) {
    if (err == IO_EINVAL)
      return usage("unknown backend '%s'", backend);
    fprintf(stderr, "host: backend %s unavailable: %s\n", backend,
            io_strerror(err, msg, sizeof msg));
    return HOST_EXIT_FAILED;
  }
  if (want_version) {
    printf("host %s (%s backend, %s)\n", HOST_VERSION,
           io_backend_name(cfg.backend), LUA_RELEASE);
    if (why[0])
      printf("%s\n", why);
    return HOST_EXIT_OK;
  }
  if (why[0])
    log_write(LOG_WARN, 0, "%s; using %s", why, io_backend_name(cfg.backend));

  struct files files = {0};
  if (cfg.test_mode) {
    const char *def = "tests";
    int npaths = argc - i;
    for (int k = 0; k < (npaths ? npaths : 1); k++) {
      const char *path = npaths ? argv[i + k] : def;
      int r = fs_walk(path, "_test.lua", add_file, &files);
      if (r != 0) {
        free_files(&files);
        if (r == -1)
          return usage("no such file or directory: %s", path);
        fprintf(stderr, "host: not enough memory\n");
        return HOST_EXIT_FAILED;
      }
    }
    if (files.n == 0) {
      fprintf(stderr, "host: no *_test.lua files found\n");
      free_files(&files);
      return HOST_EXIT_FAILED;
    }
    cfg.argc = files.n;
    cfg.argv = files.v;
    cfg.workers = 1; /* tests see one worker, always */
    if (!log_level_set_explicitly)
      log_set_level(LOG_WARN); /* test output is the runner's */
  } else {
    if (i >= argc)
      return usage("no script given%s", "");
    cfg.script = argv[i];
    cfg.argc = argc - i - 1;
    cfg.argv = argv + i + 1;
  }
  if (cfg.workers == 0)
    cfg.workers = sys_cpu_count();
  if (cfg.nlisten == 0)
    cfg.listen[cfg.nlisten++] = HOST_DEFAULT_LISTEN;

  if (pid_file) {
    FILE *f = fopen(pid_file, "w");
    int bad = !f || fprintf(f, "%lu\n", own_pid()) < 0;
    if ((f && fclose(f) != 0) || bad) {
      fprintf(stderr, "host: cannot write %s: %s\n", pid_file, strerror(errno));
      free_files(&files);
      return HOST_EXIT_FAILED;
    }
  }
  int code = host_run(&cfg);
  lmain_exit();
  if (pid_file)
    remove(pid_file);
  free_files(&files);
  return code;
}
