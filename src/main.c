/*
 * main.c -- the `host` command line.
 *
 *   host [options] SCRIPT [args...]     run SCRIPT in every worker
 *   host [options] test [PATH...]       run the *_test.lua files
 *
 * Exit codes, as lua.c has them plus one: 0 a clean stop, 1 the script
 * (or a test) failed, 2 bad usage.  Everything but --help and --version
 * output goes to stderr as log lines; stdout belongs to the script.
 *
 * One table of options (`options`, below) both parses the command line
 * and prints --help, so the two cannot drift apart; each entry's handler
 * checks and stores its value.  parse_args() reads the options, and the
 * steps after it (the backend, the script or the test files) each return
 * an exit code, or GO_ON; main() runs them in order.  Every message that
 * ends the program before the host runs goes through fail().
 */
#include "fs.h"
#include "host.h"
#include "io.h"
#include "lmain.h"
#include "log.h"
#include "mail.h"
#include "sys.h"
#include "tls_alloc.h"

#include <errno.h>
#include <lua.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>
#endif

#define GO_ON (-1) /* a step's "not done yet": main() carries on */

/* What the command line asks for beyond the host's configuration. */
struct cli {
  struct host_config *cfg; /* the options' target */
  const char *backend;     /* --backend; "auto" unless given */
  int version;             /* -v: say the version and stop */
  int level_set;           /* --log-level was given */
  int max_conn_set;        /* --max-connections was given */
  int rest;                /* argv index of SCRIPT (or of test's PATHs) */
  const char *pid_file;    /* --pid-file */
};

/* The one channel for fatal messages: "host: MESSAGE" on stderr, with a
 * pointer to --help after a usage error.  Returns code, for main(). */
static int fail(int code, const char *fmt, ...) LOG_PRINTF(2, 3);
static int fail(int code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "host: %s\n%s", msg,
          code == HOST_EXIT_USAGE ? "try 'host --help'\n" : "");
  return code;
}

static int parse_number(const char *s, double lo, double hi, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end || !(v >= lo && v <= hi))
    return -1;
  *out = v;
  return 0;
}

/* ---- the options ----------------------------------------------------- */

/* A handler stores its option's value (NULL for a flag) and returns
 * GO_ON, or the exit code after fail() has said why. */
typedef int (*option_fn)(struct cli *c, const char *value);

static int set_listen(struct cli *c, const char *v) {
  struct host_config *cfg = c->cfg;
  if (cfg->nlisten == HOST_MAX_LISTEN)
    return fail(HOST_EXIT_USAGE, "too many --listen options (at most %d)",
                HOST_MAX_LISTEN);
  cfg->listen[cfg->nlisten++] = v;
  return GO_ON;
}

static int set_workers(struct cli *c, const char *v) {
  double n;
  if (parse_number(v, 1, 1024, &n) != 0 || n != (int)n)
    return fail(HOST_EXIT_USAGE,
                "--workers wants a number from 1 to 1024, not '%s'", v);
  c->cfg->workers = (int)n;
  return GO_ON;
}

static int set_backend(struct cli *c, const char *v) {
  c->backend = v; /* checked once the backends are tried */
  return GO_ON;
}

static int set_grace(struct cli *c, const char *v) {
  double n;
  if (parse_number(v, 0, 86400, &n) != 0)
    return fail(HOST_EXIT_USAGE, "--grace wants seconds (0 to 86400), not '%s'",
                v);
  c->cfg->grace = n;
  return GO_ON;
}

static int set_memory_limit(struct cli *c, const char *v) {
  double n;
  if (parse_number(v, 1, 1 << 20, &n) != 0)
    return fail(HOST_EXIT_USAGE, "--memory-limit wants megabytes, not '%s'", v);
  c->cfg->memory_limit = (size_t)(n * 1024 * 1024);
  return GO_ON;
}

static int set_inbox(struct cli *c, const char *v) {
  double n;
  if (parse_number(v, 1, MAIL_MAX_INBOX, &n) != 0 || n != (int)n)
    return fail(HOST_EXIT_USAGE,
                "--inbox wants a number from 1 to 16777216, not '%s'", v);
  c->cfg->inbox = (uint32_t)n;
  return GO_ON;
}

static int set_max_connections(struct cli *c, const char *v) {
  double n;
  if (parse_number(v, 0, 1 << 30, &n) != 0 || n != (int)n)
    return fail(HOST_EXIT_USAGE,
                "--max-connections wants a count (0: none), not '%s'", v);
  c->cfg->max_connections = (int)n;
  c->max_conn_set = 1;
  return GO_ON;
}

static int set_slice(struct cli *c, const char *v) {
  double n;
  if (parse_number(v, 0, 60, &n) != 0 || (n > 0 && n < 0.001))
    return fail(HOST_EXIT_USAGE,
                "--slice wants seconds (0, or 0.001 to 60), not '%s'", v);
  c->cfg->slice = n;
  return GO_ON;
}

static int set_cpu_limit(struct cli *c, const char *v) {
  double n;
  if (parse_number(v, 0, 1e6, &n) != 0)
    return fail(HOST_EXIT_USAGE,
                "--cpu-limit wants seconds (0 to 1e6), not '%s'", v);
  c->cfg->cpu_limit = n;
  return GO_ON;
}

/* --dump PID: done at once, whatever follows. */
static int do_dump(struct cli *c, const char *v) {
  double n;
  char err[160];
  (void)c;
  if (parse_number(v, 1, 4294967295.0, &n) != 0 || n != (long long)n)
    return fail(HOST_EXIT_USAGE, "--dump wants a process id, not '%s'", v);
  if (host_request_dump((unsigned long)n, err, sizeof err) != 0)
    return fail(HOST_EXIT_FAILED, "%s", err);
  return HOST_EXIT_OK;
}

static int set_log_level(struct cli *c, const char *v) {
  int level = log_level_parse(v);
  if (level < 0)
    return fail(HOST_EXIT_USAGE, "unknown log level '%s'", v);
  log_set_level(level);
  c->level_set = 1;
  return GO_ON;
}

static int set_pid_file(struct cli *c, const char *v) {
  c->pid_file = v;
  return GO_ON;
}

/* host --reload PID|FILE: SIGHUP, or on Windows the named event the
 * host waits on (host.c).  Done at once: the exit code. */
static int reload_other(struct cli *c, const char *target) {
  char buf[32] = "";
  const char *text = target;
  (void)c;
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
  if (end == text || pid == 0)
    return fail(HOST_EXIT_FAILED, "--reload: no process id in '%s'", target);
#ifdef _WIN32
  char name[64];
  host_reload_event_name(pid, name, sizeof name);
  HANDLE ev = OpenEventA(EVENT_MODIFY_STATE, FALSE, name);
  BOOL set = ev && SetEvent(ev);
  if (ev)
    CloseHandle(ev);
  if (!set)
    return fail(HOST_EXIT_FAILED, "--reload: no host with process id %lu", pid);
#else
  if (kill((pid_t)pid, SIGHUP) != 0)
    return fail(HOST_EXIT_FAILED, "--reload: process %lu: %s", pid,
                strerror(errno));
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

static int show_help(struct cli *c, const char *v);

static int want_version(struct cli *c, const char *v) {
  (void)v;
  c->version = 1;
  return GO_ON;
}

static const struct option {
  const char *name;  /* "--listen" */
  const char *alias; /* a short form ("-h"), or NULL */
  const char *value; /* the value's name in --help; NULL: a flag */
  option_fn set;     /* checks and stores the value */
  const char *help;  /* for --help; '\n' starts an indented line */
} options[] = {
    {"--listen", NULL, "ADDR", set_listen,
     "listen on ADDR (ip:port, [ipv6]:port, *:port);\n"
     "repeatable; default " HOST_DEFAULT_LISTEN},
    {"--workers", NULL, "N", set_workers,
     "worker threads (default: one per CPU)"},
    {"--backend", NULL, "NAME", set_backend,
     "auto, io_uring, epoll or iocp (default: auto)"},
    {"--grace", NULL, "SECONDS", set_grace,
     "time handlers get to finish on stop (default 5)"},
    {"--memory-limit", NULL, "MB", set_memory_limit,
     "cap each worker's memory: its Lua VM and its\n"
     "connections' buffers (default: 3/4 of the\n"
     "machine's memory, shared out among the workers)"},
    {"--max-connections", NULL, "N", set_max_connections,
     "open connections, all workers (default: the\n"
     "descriptor limit less 1/8, at least 32 less)"},
    {"--slice", NULL, "SECONDS", set_slice,
     "a task that runs this long without waiting is\n"
     "paused for the others (default 0.01; 0: never)"},
    {"--cpu-limit", NULL, "SECONDS", set_cpu_limit,
     "a task that runs this long without waiting is\n"
     "ended (default 30; 0: no limit)"},
    {"--inbox", NULL, "N", set_inbox,
     "messages a worker may have queued (default 65536)"},
    {"--log-level", NULL, "LEVEL", set_log_level,
     "debug, info, warn or error (default: info)"},
    {"--pid-file", NULL, "FILE", set_pid_file,
     "write the process id to FILE (removed at exit)"},
    {"--reload", NULL, "PID|FILE", reload_other,
     "make a running host reload its script (as\n"
     "SIGHUP does; the way on Windows)"},
    {"--help", "-h", NULL, show_help, "this text"},
    {"--version", "-v", NULL, want_version, "version and I/O backend"},
    {"--dump", NULL, "PID", do_dump,
     "make the host process PID log what each of its\n"
     "tasks is doing (as SIGUSR1 does), and exit"},
};

#define NOPTIONS (sizeof options / sizeof *options)
#define HELP_COLUMN 20 /* width of the "--listen ADDR" column */

static int show_help(struct cli *c, const char *v) {
  (void)c, (void)v;
  fputs("usage: host [options] SCRIPT [args...]\n"
        "       host [options] test [PATH...]\n"
        "\n"
        "Runs SCRIPT (a Lua 5.4 file) in every worker.  If it returns a\n"
        "function, every accepted connection runs it in its own coroutine.\n"
        "`host test` runs every *_test.lua file under PATH (default: "
        "tests).\n"
        "\n"
        "options:\n",
        stdout);
  for (size_t i = 0; i < NOPTIONS; i++) {
    const struct option *o = &options[i];
    char label[64];
    snprintf(label, sizeof label, "%s%s%s%s%s", o->alias ? o->alias : "",
             o->alias ? ", " : "", o->name, o->value ? " " : "",
             o->value ? o->value : "");
    printf("  %-*s ", HELP_COLUMN, label);
    for (const char *p = o->help; *p; p++) {
      putchar(*p);
      if (*p == '\n')
        printf("%*s", HELP_COLUMN + 3, "");
    }
    putchar('\n');
  }
  return HOST_EXIT_OK;
}

static const struct option *find_option(const char *arg) {
  for (size_t i = 0; i < NOPTIONS; i++)
    if (strcmp(arg, options[i].name) == 0 ||
        (options[i].alias && strcmp(arg, options[i].alias) == 0))
      return &options[i];
  return NULL;
}

/* Reads the options up to SCRIPT, `--` or the first argument that is not
 * one (they may follow `test` too), into cfg and c; c->rest is where the
 * rest begins.  GO_ON, or the exit code after saying why. */
static int parse_args(int argc, char **argv, struct host_config *cfg,
                      struct cli *c) {
  int i;
  c->cfg = cfg;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || strcmp(a, "-") == 0) {
      if (strcmp(a, "test") == 0 && !cfg->test_mode) {
        cfg->test_mode = 1;
        continue;
      }
      break;
    }
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    const struct option *o = find_option(a);
    if (!o)
      return fail(HOST_EXIT_USAGE, "unknown option '%s'", a);
    const char *v = NULL;
    if (o->value) {
      if (i + 1 >= argc)
        return fail(HOST_EXIT_USAGE, "option '%s' needs a value", a);
      v = argv[++i];
    }
    int code = o->set(c, v);
    if (code != GO_ON)
      return code;
  }
  c->rest = i;
  return GO_ON;
}

/* ---- the steps after it ---------------------------------------------- */

/* Picks the backend (io_uring falls back to epoll where it is blocked),
 * answers --version, and warns when a preferred backend was passed over. */
static int pick_backend(struct host_config *cfg, const struct cli *c) {
  char why[192], msg[128];
  int err;
  sys_heap_setup();
  if (sys_init() != 0)
    return fail(HOST_EXIT_FAILED, "cannot initialise the socket library");
  cfg->backend = io_backend_pick(c->backend, why, sizeof why, &err);
  if (!cfg->backend) {
    if (err == IO_EINVAL)
      return fail(HOST_EXIT_USAGE, "unknown backend '%s'", c->backend);
    return fail(HOST_EXIT_FAILED, "backend %s unavailable: %s", c->backend,
                io_strerror(err, msg, sizeof msg));
  }
  if (c->version) {
    printf("host %s (%s backend, %s)\n", HOST_VERSION,
           io_backend_name(cfg->backend), LUA_RELEASE);
    if (why[0])
      printf("%s\n", why);
    return HOST_EXIT_OK;
  }
  if (why[0])
    log_write(LOG_WARN, 0, "%s; using %s", why, io_backend_name(cfg->backend));
  return GO_ON;
}

/* `host SCRIPT [args...]`. */
static int take_script(int argc, char **argv, struct host_config *cfg,
                       const struct cli *c) {
  if (c->rest >= argc)
    return fail(HOST_EXIT_USAGE, "no script given");
  cfg->script = argv[c->rest];
  cfg->argc = argc - c->rest - 1;
  cfg->argv = argv + c->rest + 1;
  return GO_ON;
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

struct files { /* the test files found, main() frees them */
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

/* `host test [PATH...]`: the *_test.lua files under each PATH (default
 * tests) are the runner's arguments, on one worker, quiet by default. */
static int find_tests(int argc, char **argv, struct host_config *cfg,
                      const struct cli *c, struct files *files) {
  int npaths = argc - c->rest;
  for (int k = 0; k < (npaths ? npaths : 1); k++) {
    const char *path = npaths ? argv[c->rest + k] : "tests";
    int r = fs_walk(path, "_test.lua", add_file, files);
    if (r == -1)
      return fail(HOST_EXIT_USAGE, "no such file or directory: %s", path);
    if (r != 0)
      return fail(HOST_EXIT_FAILED, "not enough memory");
  }
  if (files->n == 0)
    return fail(HOST_EXIT_FAILED, "no *_test.lua files found");
  cfg->argc = files->n;
  cfg->argv = files->v;
  cfg->workers = 1; /* tests see one worker, always */
  if (!c->level_set)
    log_set_level(LOG_WARN); /* test output is the runner's */
  return GO_ON;
}

/* --pid-file: GO_ON, or the exit code after saying why not. */
static int write_pid_file(const char *path) {
  if (!path)
    return GO_ON;
  FILE *f = fopen(path, "w");
  int bad = !f || fprintf(f, "%lu\n", own_pid()) < 0;
  if ((f && fclose(f) != 0) || bad)
    return fail(HOST_EXIT_FAILED, "cannot write %s: %s", path, strerror(errno));
  return GO_ON;
}

int main(int argc, char **argv) {
  struct host_config cfg;
  struct cli cli = {.backend = "auto"};
  struct files files = {0};
  memset(&cfg, 0, sizeof cfg);
  cfg.vm = &lua_vm;
  cfg.grace = 5;
  cfg.slice = 0.010;
  cfg.cpu_limit = 30;
  /* Before anything touches OpenSSL (it refuses once it has allocated). */
  (void)tls_alloc_install();

  int code = parse_args(argc, argv, &cfg, &cli);
  if (code == GO_ON)
    code = pick_backend(&cfg, &cli);
  if (code == GO_ON)
    code = cfg.test_mode ? find_tests(argc, argv, &cfg, &cli, &files)
                         : take_script(argc, argv, &cfg, &cli);
  if (code == GO_ON) {
    if (cfg.workers == 0)
      cfg.workers = sys_cpu_count();
    if (!cli.max_conn_set)
      cfg.max_connections = default_max_connections();
    if (!cfg.memory_limit)
      cfg.memory_limit = default_memory_limit(cfg.workers);
    if (cfg.nlisten == 0)
      cfg.listen[cfg.nlisten++] = HOST_DEFAULT_LISTEN;
    code = write_pid_file(cli.pid_file);
  }
  if (code == GO_ON) {
    code = host_run(&cfg);
    lmain_exit();
    if (cli.pid_file)
      remove(cli.pid_file);
  }
  free_files(&files);
  return code;
}
