/*
 * fs.c -- recursive, sorted directory walk (see fs.h).  Entries of one
 * directory are collected and sorted before descending, so the order is
 * the same on every file system.
 */
#include "fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <dirent.h>
#endif

struct names {
  char **v;
  size_t n, cap;
};

static int add(struct names *ns, const char *name) {
  if (ns->n == ns->cap) {
    size_t cap = ns->cap ? ns->cap * 2 : 32;
    char **v = realloc(ns->v, cap * sizeof *v);
    if (!v)
      return -1;
    ns->v = v;
    ns->cap = cap;
  }
  size_t len = strlen(name) + 1;
  if (!(ns->v[ns->n] = malloc(len)))
    return -1;
  memcpy(ns->v[ns->n++], name, len);
  return 0;
}

static void clear(struct names *ns) {
  for (size_t i = 0; i < ns->n; i++)
    free(ns->v[i]);
  free(ns->v);
}

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *path, int *exists) {
  struct stat st;
  *exists = stat(path, &st) == 0;
  return *exists && (st.st_mode & S_IFMT) == S_IFDIR;
}

static int list(const char *dir, struct names *ns) {
#ifdef _WIN32
  char pattern[4096];
  WIN32_FIND_DATAA fd;
  snprintf(pattern, sizeof pattern, "%s\\*", dir);
  HANDLE h = FindFirstFileA(pattern, &fd);
  if (h == INVALID_HANDLE_VALUE)
    return 0;
  do {
    if (fd.cFileName[0] != '.' && add(ns, fd.cFileName) != 0) {
      FindClose(h);
      return -1;
    }
  } while (FindNextFileA(h, &fd));
  FindClose(h);
#else
  DIR *d = opendir(dir);
  struct dirent *e;
  if (!d)
    return 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] != '.' && add(ns, e->d_name) != 0) {
      closedir(d);
      return -1;
    }
  }
  closedir(d);
#endif
  qsort(ns->v, ns->n, sizeof *ns->v, cmp);
  return 0;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int walk_dir(const char *dir, const char *suffix,
                    int (*fn)(const char *, void *), void *ud) {
  struct names ns = {0};
  int r = list(dir, &ns);
  for (size_t i = 0; r == 0 && i < ns.n; i++) {
    char path[4096];
    int exists;
    size_t dl = strlen(dir);
    const char *sep =
        dl && (dir[dl - 1] == '/' || dir[dl - 1] == '\\') ? "" : "/";
    if ((size_t)snprintf(path, sizeof path, "%s%s%s", dir, sep, ns.v[i]) >=
        sizeof path)
      continue;
    if (is_dir(path, &exists))
      r = walk_dir(path, suffix, fn, ud);
    else if (exists && ends_with(ns.v[i], suffix))
      r = fn(path, ud);
  }
  clear(&ns);
  return r;
}

int fs_walk(const char *path, const char *suffix,
            int (*fn)(const char *, void *), void *ud) {
  int exists;
  if (is_dir(path, &exists))
    return walk_dir(path, suffix, fn, ud);
  if (!exists)
    return -1;
  return fn(path, ud);
}
