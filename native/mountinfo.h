/*
 * mountinfo: reading /proc/self/mountinfo paths, shared by the mount template (mount-template.c)
 * and the sandbox's read-only views (host-views.c).
 */
#ifndef CORRAL_MOUNTINFO_H
#define CORRAL_MOUNTINFO_H
#include <string.h>

/* "\040" and the like in /proc/self/mountinfo back to the bytes they stand for (in place). */
static inline void unescape_octal(char *s) {
  char *w = s;
  for (char *r = s; *r;) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
      *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
      r += 4;
    } else {
      *w++ = *r++;
    }
  }
  *w = 0;
}

/* 1 when `path` is `dir` itself, 2 when it is below it (by whole path components), else 0. */
static inline int relation(const char *path, const char *dir) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  if (strncmp(path, dir, n) != 0) return 0;
  if (path[n] == 0) return 1;
  return path[n] == '/' || (n == 1 && dir[0] == '/') ? 2 : 0;
}

#endif
