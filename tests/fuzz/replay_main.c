/*
 * replay_main.c -- runs a fuzz target's LLVMFuzzerTestOneInput once on
 * each file of the directories (or on the files) named on the command
 * line, without libFuzzer: how the normal and sanitizer builds replay the
 * seed corpora under ctest (tests/fuzz/CMakeLists.txt).  Each input is
 * read into a buffer of exactly its size, so AddressSanitizer sees any
 * read past its end.  A target reports a broken invariant by aborting.
 *
 * Exit status: 0 when at least one input ran, 1 otherwise (an empty or
 * missing corpus is a failure, not a pass).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  long n;
  uint8_t *buf;
  if (!f) {
    perror(path);
    return -1;
  }
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return -1;
  }
  buf = malloc(n ? (size_t)n : 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "%s: cannot read\n", path);
    free(buf);
    fclose(f);
    return -1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, (size_t)n);
  free(buf);
  return 0;
}

static int run_path(const char *path, int *count) {
  struct stat st;
  DIR *d;
  struct dirent *e;
  int rc = 0;
  if (stat(path, &st) != 0) {
    perror(path);
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    ++*count;
    return run_file(path);
  }
  if (!(d = opendir(path))) {
    perror(path);
    return -1;
  }
  while ((e = readdir(d)) != NULL) {
    char sub[4096];
    if (e->d_name[0] == '.')
      continue;
    snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    if (run_path(sub, count) != 0)
      rc = -1;
  }
  closedir(d);
  return rc;
}

int main(int argc, char **argv) {
  int count = 0, rc = 0;
  for (int i = 1; i < argc; i++)
    if (run_path(argv[i], &count) != 0)
      rc = 1;
  printf("%d inputs replayed\n", count);
  return rc || count == 0;
}
