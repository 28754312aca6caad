// Why: the interface between corral-file.c (the session file tools' program) and file-replace.c,
// which replaces a file's whole content atomically (a temporary file renamed over it) so a call
// killed part-way never leaves the agent's file half-written. See file-replace.c.
#ifndef CORRAL_FILE_REPLACE_H
#define CORRAL_FILE_REPLACE_H
#include <stddef.h>
#include <sys/stat.h>

/** What replace_whole did. */
enum replace_outcome {
  /** The file's name now holds a new file with the whole content, the old one's mode and owner. */
  REPLACED,
  /**
   * Nothing changed and nothing is left: the caller writes in place, as before (a hard link, a mount
   * point, a directory the agent cannot create in, the name swapped meanwhile, …).
   */
  IN_PLACE,
};

/**
 * Replaces the content of the regular file open on `fd` (`st`: its fstat, as opened) with `n`
 * bytes at `d`, through a temporary file in its directory renamed over it. Never exits: every
 * failure of the temporary-file route cleans up and answers IN_PLACE.
 */
enum replace_outcome replace_whole(int fd, const struct stat *st, const char *d, size_t n);

#endif
