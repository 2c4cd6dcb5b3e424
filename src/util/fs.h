/*
 * fs.h -- finding test files: every file under a path whose name ends
 * with a suffix, in sorted order, so runs are repeatable.
 */
#ifndef HOST_FS_H
#define HOST_FS_H

/* Calls fn(path, ud) for each match; a file path given directly is
 * matched whatever its name.  Stops early if fn returns non-zero and
 * returns that; returns -1 if `path` does not exist, else 0. */
int fs_walk(const char *path, const char *suffix,
            int (*fn)(const char *path, void *ud), void *ud);

#endif
