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
#include "sys.h"

#include <lua.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
    "  --memory-limit MB    cap each worker's memory: its Lua VM and its\n"
    "                       connections' buffers (default: 3/4 of the\n"
    "                       machine's memory, shared out among the workers)\n"
    "  --max-connections N  open connections, all workers (default: the\n"
    "                       descriptor limit less 1/8, at least 32 less)\n"
    "  --slice SECONDS      a task that runs this long without waiting is\n"
    "                       paused for the others (default 0.01; 0: never)\n"
    "  --cpu-limit SECONDS  a task that runs this long without waiting is\n"
    "                       ended (default 30; 0: no limit)\n"
    "  --log-level LEVEL    debug, info, warn or error (default: info)\n"
    "  -h, --help           this text\n"
    "  -v, --version        version and I/O backend\n"
    "  --dump PID           make the host process PID log what each of its\n"
    "                       tasks is doing (as SIGUSR1 does), and exit\n";

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

/* Room for the descriptors that are not connections: the workers'
 * loops and listening sockets, the standard streams, files the scripts
 * open. */
static int default_max_connections(void) {
  long fds = sys_fd_limit();
  if (fds <= 0)
    return 0; /* no such limit: memory bounds it (--memory-limit) */
  long room = fds / 8 > 32 ? fds / 8 : 32;
  return fds - room > 1 ? (int)(fds - room) : 1;
}

/* 3/4 of the machine's memory (or of the control group's limit), shared
 * out among the workers; none if it is unknown. */
static size_t default_memory_limit(int workers) {
  uint64_t total = sys_memory() / 4 * 3 / (uint64_t)workers;
  return total > SIZE_MAX ? SIZE_MAX : (size_t)total;
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
  int max_connections_set = 0;
  memset(&cfg, 0, sizeof cfg);
  cfg.vm = &lua_vm;
  cfg.grace = 5;
  cfg.workers = 0;
  cfg.slice = 0.010;
  cfg.cpu_limit = 30;

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
    if (strcmp(a, "--dump") == 0) {
      char err[160];
      if (!v || parse_number(v, 1, 4294967295.0, &n) != 0 || n != (long long)n)
        return usage("--dump wants a process id, not '%s'", v ? v : "");
      if (host_request_dump((unsigned long)n, err, sizeof err) != 0) {
        fprintf(stderr, "host: %s\n", err);
        return HOST_EXIT_FAILED;
      }
      return HOST_EXIT_OK;
    }
    int takes = strcmp(a, "--listen") == 0 || strcmp(a, "--workers") == 0 ||
                strcmp(a, "--backend") == 0 || strcmp(a, "--grace") == 0 ||
                strcmp(a, "--memory-limit") == 0 || strcmp(a, "--slice") == 0 ||
                strcmp(a, "--cpu-limit") == 0 ||
                strcmp(a, "--log-level") == 0 ||
                strcmp(a, "--max-connections") == 0;
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
    } else if (strcmp(a, "--grace") == 0) {
      if (parse_number(v, 0, 86400, &n) != 0)
        return usage("--grace wants seconds (0 to 86400), not '%s'", v);
      cfg.grace = n;
    } else if (strcmp(a, "--memory-limit") == 0) {
      if (parse_number(v, 1, 1 << 20, &n) != 0)
        return usage("--memory-limit wants megabytes, not '%s'", v);
      cfg.memory_limit = (size_t)(n * 1024 * 1024);
    } else if (strcmp(a, "--max-connections") == 0) {
      if (parse_number(v, 0, 1 << 30, &n) != 0 || n != (int)n)
        return usage("--max-connections wants a count (0: none), not '%s'", v);
      cfg.max_connections = (int)n;
      max_connections_set = 1;
    } else if (strcmp(a, "--slice") == 0) {
      if (parse_number(v, 0, 60, &n) != 0 || (n > 0 && n < 0.001))
        return usage("--slice wants seconds (0, or 0.001 to 60), not '%s'", v);
      cfg.slice = n;
    } else if (strcmp(a, "--cpu-limit") == 0) {
      if (parse_number(v, 0, 1e6, &n) != 0)
        return usage("--cpu-limit wants seconds (0 to 1e6), not '%s'", v);
      cfg.cpu_limit = n;
    } else {
      int level = log_level_parse(v);
      if (level < 0)
        return usage("unknown log level '%s'", v);
      log_set_level(level);
      log_level_set_explicitly = 1;
    }
  }

  sys_heap_setup();
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
  if (!max_connections_set)
    cfg.max_connections = default_max_connections();
  if (!cfg.memory_limit)
    cfg.memory_limit = default_memory_limit(cfg.workers);
  if (cfg.nlisten == 0)
    cfg.listen[cfg.nlisten++] = HOST_DEFAULT_LISTEN;

  int code = host_run(&cfg);
  free_files(&files);
  return code;
}
