/*
 * test_fs.c -- finding *_test.lua files: recursion, order, suffix.
 */
#include "fs.h"
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#ifdef _WIN32
#include <direct.h>
#define mkdir(p, m) _mkdir(p)
#define rmdir(p) _rmdir(p)
#else
#include <unistd.h>
#endif

static char found[16][256];
static int nfound;

static int collect(const char *path, void *ud) {
  (void)ud;
  if (nfound < 16)
    snprintf(found[nfound++], sizeof found[0], "%s", path);
  return 0;
}

static void touch(const char *path) {
  FILE *f = fopen(path, "w");
  if (f)
    fclose(f);
}

static void walks_sorted_and_recursive(void) {
  char root[] = "fs_test_tree";
  mkdir(root, 0755);
  mkdir("fs_test_tree/b", 0755);
  mkdir("fs_test_tree/a", 0755);
  touch("fs_test_tree/z_test.lua");
  touch("fs_test_tree/b/y_test.lua");
  touch("fs_test_tree/a/x_test.lua");
  touch("fs_test_tree/a/helper.lua");
  touch("fs_test_tree/a/notes_test.lua.txt");
  nfound = 0;
  T_ASSERT_EQ(fs_walk(root, "_test.lua", collect, NULL), 0);
  T_ASSERT_EQ(nfound, 3);
  T_ASSERT_STREQ(found[0], "fs_test_tree/a/x_test.lua");
  T_ASSERT_STREQ(found[1], "fs_test_tree/b/y_test.lua");
  T_ASSERT_STREQ(found[2], "fs_test_tree/z_test.lua");
  nfound = 0;
  T_ASSERT_EQ(fs_walk("fs_test_tree/", "_test.lua", collect, NULL), 0);
  T_ASSERT_STREQ(found[0], "fs_test_tree/a/x_test.lua"); /* no "//" */
  nfound = 0;
  T_ASSERT_EQ(fs_walk("fs_test_tree/a/helper.lua", "_test.lua", collect, NULL), 0);
  T_ASSERT_EQ(nfound, 1); /* a file named directly runs whatever its name */
  T_ASSERT_EQ(fs_walk("fs_test_tree/nope", "_test.lua", collect, NULL), -1);
  remove("fs_test_tree/a/x_test.lua");
  remove("fs_test_tree/a/helper.lua");
  remove("fs_test_tree/a/notes_test.lua.txt");
  remove("fs_test_tree/b/y_test.lua");
  remove("fs_test_tree/z_test.lua");
  rmdir("fs_test_tree/a");
  rmdir("fs_test_tree/b");
  rmdir("fs_test_tree");
}

int main(void) {
  T_RUN(walks_sorted_and_recursive);
  return test_report();
}
