// Why: the session file tools (write, read, str_replace, multi_edit, insert) must run *inside* the
// sandbox as the agent's user, never as Corral (root) on the host, and they must work in any sandbox
// root: the host's, a Debian image, an Alpine or distroless image with no perl, python or shell. This
// is the program they run: static (no C library needed in the image), bound read-only at
// /run/corral-file in every sandbox, started from an argv array [/run/corral-file, op, arg?] with the
// path, a NUL and the data on stdin (nothing the agent wrote is ever in argv or parsed as code).
// Threats it stops: a symlink the agent planted (`ln -s /etc/shadow notes.txt`, then "view
// notes.txt") reaching the host's files with root's rights (the path is resolved in the sandbox's
// mount namespace with the agent's uid); a FIFO or socket put where a file was expected holding the
// call until its time limit (every open is non-blocking and anything but a regular file or a
// directory is refused after the open, so there is no check-then-open race either).
// Exit codes: 0 done, 2 bad use, 3 cannot read, 4 cannot write, 5 the edit does not apply.
// Every message for the agent is one stderr line starting "corral-file-tool: "; a line starting
// "corral-file-tool-opened: " names the file really opened when a link made it another than the path.
// A path in either is written with its control bytes and backslashes as \ooo (octal), so a name
// holding a newline can neither end the line early nor start a line of its own that the caller
// would read as the program's (file-tools.ts openedPaths decodes it).
// An edit (str_replace, multi_edit, insert) writes the very file it read, and an append reads the end
// of the very file it appends to: a link the agent swaps between the two opens fails the call.
// A write and an edit replace the file whole and atomically (file-replace.c: a temporary file in its
// directory renamed over it, mode and group kept), so a call killed part-way leaves the old file, not
// half of the new one; a file with hard links, a mount point or a file whose directory the agent
// cannot create in is written in place as before. An append stays an O_APPEND write.
// str_replace [all] and multi_edit (Claude Code's Edit with replace_all, and MultiEdit) edit the text
// in memory and write it once: when one edit does not apply nothing is written, and the message says
// which ("edit 2 of 3", counted from 1).
// Output on stdout: write/append/str_replace/multi_edit/insert print "<bytes now in the file>\n" (an
// edit — append, str_replace, multi_edit, insert — then the lines around what it changed, around
// every change of a replace_all or a multi_edit: one more line either side and the file's first line
// for its #!, so the screen judges the code as it now is); read prints
// "F <bytes sent> <1 if more follow> <file size>\n" and the bytes, or for a directory "D <entries>\n"
// and each name followed by a NUL ("/" after directories; a name may hold a newline).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "file-replace.h"

enum { EXIT_USAGE = 2, EXIT_READ = 3, EXIT_WRITE = 4, EXIT_NO_EDIT = 5 };

typedef struct { char *p; size_t n, cap; } buf_t;

/** Marks the program's own messages for the agent (file-tool-program.ts FILE_TOOL_SAYS). */
#define SAYS "corral-file-tool: "
/** The most an edit prints of the lines around its change (file-tool-program.ts EDIT_CONTEXT_MAX). */
#define EDIT_CONTEXT_MAX ((size_t)1 << 20)
/** The most one edit call (str_replace, multi_edit) may grow a file (file-tool-program.ts EDIT_GROWTH_MAX). */
#define EDIT_GROWTH_MAX ((size_t)32 << 20)
/** How much of a file's end an append reads first, so a line it finishes is screened whole. */
#define APPEND_TAIL ((size_t)65536)

/** Writes s with its control bytes and backslashes as \ooo: one line whatever a file name holds. */
static void put_escaped(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f || c == '\\') fprintf(stderr, "\\%03o", c);
    else fputc(c, stderr);
  }
}

static void fail(int code, const char *fmt, ...) {
  va_list ap;
  char *msg = NULL;
  va_start(ap, fmt);
  int n = vasprintf(&msg, fmt, ap);
  va_end(ap);
  fputs(SAYS, stderr);
  if (n >= 0) put_escaped(msg, (size_t)n);
  else fputs("out of memory", stderr);
  fputc('\n', stderr);
  exit(code);
}

static void grow(buf_t *b, size_t need) {
  if (need <= b->cap) return;
  size_t cap = b->cap ? b->cap : 65536;
  while (cap < need) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) fail(EXIT_USAGE, "out of memory (%zu bytes)", need);
  b->p = p;
  b->cap = cap;
}

static void append(buf_t *b, const char *d, size_t n) {
  grow(b, b->n + n + 1);
  memcpy(b->p + b->n, d, n);
  b->n += n;
}

/** Reads a descriptor to its end (or `max` bytes); returns -1 with errno on error. */
static int slurp(int fd, buf_t *b, size_t max) {
  for (;;) {
    if (b->n >= max) return 0;
    size_t want = max - b->n < 65536 ? max - b->n : 65536;
    grow(b, b->n + want + 1);
    ssize_t r = read(fd, b->p + b->n, want);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) return 0;
    b->n += (size_t)r;
  }
}

static void write_all(int fd, const char *d, size_t n, const char *path) {
  while (n > 0) {
    ssize_t w = write(fd, d, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail(EXIT_WRITE, "cannot write %s: %s", path, strerror(errno));
    d += w;
    n -= (size_t)w;
  }
}

/**
 * Says on stderr which file was really opened when it is not the path given ("corral-file-tool-opened:
 * /workspace/.bashrc" for notes.txt -> .bashrc): the screen judged the name the agent gave, and a
 * link the agent planted in an earlier call can point that name at a credential or a persistence
 * place. Read from the descriptor (/proc/self/fd), so it is the file the call really touched.
 */
static void report_opened(int fd, const char *given) {
  static char last[PATH_MAX];
  char link[64], real[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, real, sizeof real - 1);
  if (n <= 0) return;
  real[n] = '\0';
  if (!strcmp(real, given) || !strcmp(real, last)) return;
  memcpy(last, real, (size_t)n + 1);
  fputs("corral-file-tool-opened: ", stderr);
  put_escaped(real, (size_t)n);
  fputc('\n', stderr);
}

static const char *kind_of(mode_t m) { return S_ISFIFO(m) ? "FIFO (named pipe)" : S_ISSOCK(m) ? "socket" : "device"; }

/**
 * Opens `path` without ever blocking (a FIFO with no peer, a device) and refuses what is not a
 * regular file (or a directory, where `dir_ok`). Returns the descriptor, blocking again.
 */
static int open_file(const char *path, int flags, int code, int dir_ok, struct stat *st) {
  int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0666);
  const char *verb = code == EXIT_READ ? "read" : "write";
  if (fd < 0) {
    if (errno == ENXIO) fail(code, "cannot %s %s: it is a FIFO (named pipe) or socket; file tools read and write files", verb, path);
    fail(code, "cannot %s %s: %s", verb, path, strerror(errno));
  }
  if (fstat(fd, st) != 0) fail(code, "cannot %s %s: %s", verb, path, strerror(errno));
  if (S_ISDIR(st->st_mode) && !dir_ok) fail(code, "cannot %s %s: Is a directory", verb, path);
  if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) fail(code, "cannot %s %s: it is a %s; file tools read and write files", verb, path, kind_of(st->st_mode));
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  report_opened(fd, path);
  return fd;
}

/** A path's type without following it into a FIFO's open: refuses FIFOs and sockets before any open. */
static void not_pipe(const char *path, int code) {
  struct stat st;
  if (stat(path, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
    fail(code, "cannot %s %s: it is a %s; file tools read and write files", code == EXIT_READ ? "read" : "write", path, kind_of(st.st_mode));
}

static void whole(const char *path, buf_t *out, struct stat *st_out) {
  struct stat st;
  not_pipe(path, EXIT_READ);
  int fd = open_file(path, O_RDONLY, EXIT_READ, 0, &st);
  *st_out = st;
  if (slurp(fd, out, (size_t)-1) != 0) fail(EXIT_READ, "cannot read %s: %s", path, strerror(errno));
  close(fd);
}

/**
 * Makes the file open on fd (checked by open_file, `st` its fstat) hold exactly d[0..n): replaced
 * atomically where it can be (file-replace.c: a reader or a killed call sees the old or the whole
 * new file), else truncated and written in place as before. Closes fd.
 */
static void put_whole(int fd, const struct stat *st, const char *path, const char *d, size_t n) {
  if (replace_whole(fd, st, d, n) == REPLACED) { close(fd); return; }
  if (ftruncate(fd, 0) != 0) fail(EXIT_WRITE, "cannot write %s: %s", path, strerror(errno));
  write_all(fd, d, n, path);
  if (close(fd) != 0) fail(EXIT_WRITE, "cannot write %s: %s", path, strerror(errno));
}

/**
 * Replaces the bytes of the file an edit read (`was`): the path is opened again, and if it is no
 * longer that file (a link the agent swapped between the read and the write: the screen judged
 * the file read, and the edit would land in another, e.g. ~/.bashrc) nothing is written.
 */
static void put_same(const char *path, const char *d, size_t n, const struct stat *was) {
  struct stat st;
  not_pipe(path, EXIT_WRITE);
  int fd = open_file(path, O_WRONLY, EXIT_WRITE, 0, &st);
  if (st.st_dev != was->st_dev || st.st_ino != was->st_ino) fail(EXIT_WRITE, "cannot write %s: it became another file while it was edited; nothing was written", path);
  put_whole(fd, &st, path, d, n);
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/** `mkdir -p` of the directory part of `path` (each missing component 0777 less the umask). */
static void make_parents(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash || slash == path) return;
  size_t n = (size_t)(slash - path);
  char *dir = strndup(path, n);
  if (!dir) fail(EXIT_USAGE, "out of memory");
  if (is_dir(dir)) { free(dir); return; }
  for (size_t i = 1; i <= n; i++) {
    if (i < n && dir[i] != '/') continue;
    char keep = dir[i];
    dir[i] = '\0';
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) fail(EXIT_WRITE, "cannot create directory %s: %s", dir, strerror(errno));
    if (!is_dir(dir)) fail(EXIT_WRITE, "cannot create directory %s: Not a directory", dir);
    dir[i] = keep;
  }
  free(dir);
}

static int parse_count(const char *s, size_t *out) {
  if (!s || !*s) return 0;
  size_t v = 0;
  for (const char *c = s; *c; c++) {
    if (*c < '0' || *c > '9') return 0;
    if (v > (SIZE_MAX - 9) / 10) return 0;
    v = v * 10 + (size_t)(*c - '0');
  }
  *out = v;
  return 1;
}

static size_t line_of(const char *d, size_t at) {
  size_t line = 1;
  for (size_t i = 0; i < at; i++) line += d[i] == '\n';
  return line;
}

static const char *find(const char *hay, size_t hn, const char *needle, size_t nn, size_t from) {
  if (from > hn) return NULL;
  return memmem(hay + from, hn - from, needle, nn);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/** Lists the directory open on fd (the one open_file checked and reported, not the path again). */
static void list_dir(int fd, const char *path, size_t max) {
  DIR *dh = fdopendir(fd);
  if (!dh) fail(EXIT_READ, "cannot read %s: %s", path, strerror(errno));
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((errno = 0, e = readdir(dh)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      names = realloc(names, cap * sizeof *names);
      if (!names) fail(EXIT_USAGE, "out of memory");
    }
    names[n] = strdup(e->d_name);
    if (!names[n++]) fail(EXIT_USAGE, "out of memory");
  }
  if (errno != 0) fail(EXIT_READ, "cannot read %s: %s", path, strerror(errno));
  if (n > 1) qsort(names, n, sizeof *names, by_name);
  buf_t out = {0};
  char head[64];
  int hn = snprintf(head, sizeof head, "D %zu\n", n);
  append(&out, head, (size_t)hn);
  // (whole names only, up to max bytes: the caller counts them against the total)
  size_t sent = 0;
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    size_t len = strlen(names[i]);
    int dir = fstatat(dirfd(dh), names[i], &st, 0) == 0 && S_ISDIR(st.st_mode);
    if (sent + len + (size_t)dir + 1 > max) break;
    append(&out, names[i], len);
    if (dir) append(&out, "/", 1);
    append(&out, "", 1);
    sent += len + (size_t)dir + 1;
  }
  closedir(dh);
  write_all(1, out.p, out.n, "standard output");
}

static void do_read(const char *path, const char *arg) {
  size_t max = 1048576;
  if (arg) parse_count(arg, &max);
  struct stat st;
  not_pipe(path, EXIT_READ);
  int fd = open_file(path, O_RDONLY, EXIT_READ, 1, &st);
  if (S_ISDIR(st.st_mode)) { list_dir(fd, path, max); return; }
  buf_t b = {0};
  if (slurp(fd, &b, max) != 0) fail(EXIT_READ, "cannot read %s: %s", path, strerror(errno));
  char x;
  ssize_t more;
  do more = read(fd, &x, 1); while (more < 0 && errno == EINTR);
  close(fd);
  char head[96];
  int hn = snprintf(head, sizeof head, "F %zu %d %lld\n", b.n, more > 0 ? 1 : 0, (long long)st.st_size);
  write_all(1, head, (size_t)hn, "standard output");
  write_all(1, b.p ? b.p : "", b.n, "standard output");
}

/** Index of the last newline at or before pos, or -1. */
static long nl_before(const char *d, size_t len, long pos) {
  if (pos < 0 || len == 0) return -1;
  if ((size_t)pos >= len) pos = (long)len - 1;
  const char *p = memrchr(d, '\n', (size_t)pos + 1);
  return p ? (long)(p - d) : -1;
}

/** Index of the first newline at or after pos, or -1. */
static long nl_after(const char *d, size_t len, size_t pos) {
  if (pos >= len) return -1;
  const char *p = memchr(d + pos, '\n', len - pos);
  return p ? (long)(p - d) : -1;
}

/** Prints the lines of d around bytes [s, e): one more line either side, and the first line when not among them. */
static void print_around(const char *d, size_t len, size_t s, size_t e) {
  size_t lo = s > 0 ? (size_t)(nl_before(d, len, (long)s - 1) + 1) : 0;
  lo = lo > 1 ? (size_t)(nl_before(d, len, (long)lo - 2) + 1) : 0;
  long h = nl_after(d, len, e > s ? e - 1 : s);
  if (h >= 0) h = nl_after(d, len, (size_t)h + 1);
  size_t hi = h < 0 ? len : (size_t)h + 1;
  if (hi - lo > EDIT_CONTEXT_MAX) hi = lo + EDIT_CONTEXT_MAX;
  if (lo > 0) {
    long n = nl_after(d, len, 0);
    if (n >= 0 && n < 255) write_all(1, d, (size_t)n + 1, "standard output");
    else { write_all(1, d, len < 255 ? len : 255, "standard output"); write_all(1, "\n", 1, "standard output"); }
  }
  write_all(1, d + lo, hi - lo, "standard output");
}

static void print_size(size_t n) {
  char s[32];
  int k = snprintf(s, sizeof s, "%zu\n", n);
  write_all(1, s, (size_t)k, "standard output");
}

/** One replacement of an edit call: old text, new text, and whether every occurrence is replaced. */
typedef struct { const char *old, *new_text; size_t n, m; int all; } edit_t;

/** A changed stretch [s, e) of the text being edited (empty where text was only removed). */
typedef struct { size_t s, e; } span_t;
typedef struct { span_t *v; size_t n, cap; } spans_t;

/** Adds a span, in order of start; one that overlaps or touches the last is merged into it (edit-preview.ts pushSpan). */
static void span_push(spans_t *l, size_t s, size_t e) {
  if (l->n && s <= l->v[l->n - 1].e) {
    if (e > l->v[l->n - 1].e) l->v[l->n - 1].e = e;
    return;
  }
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    if (!l->v) fail(EXIT_USAGE, "out of memory");
  }
  l->v[l->n++] = (span_t){ s, e };
}

/** How many occurrences (at a[0..c), each n bytes) end at or before p. */
static size_t ended_by(const size_t *a, size_t c, size_t n, size_t p) {
  size_t lo = 0, hi = c;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (a[mid] + n <= p) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/**
 * Where position p of the text before an edit is after it (occurrences a[0..c) of n bytes each became
 * m bytes). A position strictly inside a replaced occurrence moves to its replacement's start
 * (`end`: its end), so a changed span an edit overwrites still covers what replaced it.
 */
static size_t moved(const size_t *a, size_t c, size_t n, size_t m, size_t p, int end) {
  size_t j = ended_by(a, c, n, p);
  if (j < c && a[j] < p) return a[j] - j * n + j * m + (end ? m : 0);
  return p - j * n + j * m;
}

/**
 * Applies one edit to the text (every occurrence when `all`, else the one occurrence there must be)
 * and moves the changed spans with it. An edit that does not apply ends the program before anything
 * is written: `say` starts the message ("no replacement: ", or which edit of a multi_edit failed).
 * `limit`: the most bytes the text may hold afterwards (EDIT_GROWTH_MAX over its size before the call).
 */
static void apply_edit(buf_t *text, spans_t *sp, const edit_t *ed, const char *path, const char *say, size_t limit) {
  if (ed->n == 0) fail(EXIT_NO_EDIT, "%sthe old text is empty", say);
  const char *data = text->p ? text->p : "";
  size_t *at = NULL, count = 0, cap = 0;
  for (const char *hit = find(data, text->n, ed->old, ed->n, 0); hit; hit = find(data, text->n, ed->old, ed->n, (size_t)(hit - data) + ed->n)) {
    if (count == cap) {
      cap = cap ? cap * 2 : 16;
      at = realloc(at, cap * sizeof *at);
      if (!at) fail(EXIT_USAGE, "out of memory");
    }
    at[count++] = (size_t)(hit - data);
    if (!ed->all && count > 10) break;
  }
  if (count == 0) fail(EXIT_NO_EDIT, "%sthe old text does not appear verbatim in %s", say, path);
  if (!ed->all && count > 1) {
    size_t total = count;
    for (const char *hit = find(data, text->n, ed->old, ed->n, at[count - 1] + ed->n); hit; hit = find(data, text->n, ed->old, ed->n, (size_t)(hit - data) + ed->n)) total++;
    buf_t lines = {0};
    for (size_t i = 0; i < count && i < 10; i++) {
      char s[32];
      int k = snprintf(s, sizeof s, "%s%zu", i ? ", " : "", line_of(data, at[i]));
      append(&lines, s, (size_t)k);
    }
    lines.p[lines.n] = '\0';
    fail(EXIT_NO_EDIT, "%sthe old text appears %zu times in %s (lines %s); it must be unique", say, total, path, lines.p);
  }
  // (the size afterwards, before building it: a replace_all of "a" by a long text multiplies)
  size_t after = text->n - count * ed->n;
  if (ed->m > 0 && count > (limit - after) / ed->m) fail(EXIT_NO_EDIT, "%sthe file would grow by more than %zu bytes (the most one edit call may add to %s)", say, (size_t)EDIT_GROWTH_MAX, path);
  after += count * ed->m;
  buf_t out = {0};
  grow(&out, after + 1);
  size_t from = 0;
  for (size_t i = 0; i < count; i++) {
    append(&out, data + from, at[i] - from);
    append(&out, ed->new_text, ed->m);
    from = at[i] + ed->n;
  }
  append(&out, data + from, text->n - from);
  // the spans changed so far, moved to where they are now, merged with this edit's replacements
  spans_t next = {0};
  size_t i = 0, k = 0;
  while (i < sp->n || k < count) {
    size_t ms = 0, me = 0;
    if (i < sp->n) {
      ms = moved(at, count, ed->n, ed->m, sp->v[i].s, 0);
      me = moved(at, count, ed->n, ed->m, sp->v[i].e, 1);
      if (me < ms) me = ms;
    }
    size_t ks = k < count ? at[k] - k * ed->n + k * ed->m : 0;
    if (i < sp->n && (k >= count || ms <= ks)) { span_push(&next, ms, me); i++; }
    else { span_push(&next, ks, ks + ed->m); k++; }
  }
  free(sp->v);
  *sp = next;
  free(at);
  free(text->p);
  *text = out;
}

/** Region [lo, hi) printed for a change [s, e): its lines and one more line either side (no cap). */
static void region_of(const char *d, size_t len, size_t s, size_t e, size_t *lo_out, size_t *hi_out) {
  size_t lo = s > 0 ? (size_t)(nl_before(d, len, (long)s - 1) + 1) : 0;
  lo = lo > 1 ? (size_t)(nl_before(d, len, (long)lo - 2) + 1) : 0;
  long h = nl_after(d, len, e > s ? e - 1 : s);
  if (h >= 0) h = nl_after(d, len, (size_t)h + 1);
  *lo_out = lo;
  *hi_out = h < 0 ? len : (size_t)h + 1;
}

/**
 * Prints the lines around every changed span (print_around's lines for each; regions that overlap
 * or touch as one), the file's first line before them when not among them, at most EDIT_CONTEXT_MAX
 * bytes of regions in all: every line an edit call changed is screened as it now is.
 */
static void print_spans(const char *d, size_t len, const spans_t *sp) {
  size_t budget = EDIT_CONTEXT_MAX, plo = 0, phi = 0;
  int have = 0, first = 1;
  for (size_t i = 0; i <= sp->n; i++) {
    size_t lo = 0, hi = 0;
    if (i < sp->n) {
      region_of(d, len, sp->v[i].s, sp->v[i].e, &lo, &hi);
      if (have && lo <= phi) { if (hi > phi) phi = hi; continue; }
    }
    if (have && budget > 0) {
      if (first && plo > 0) {
        long n = nl_after(d, len, 0);
        if (n >= 0 && n < 255) write_all(1, d, (size_t)n + 1, "standard output");
        else { write_all(1, d, len < 255 ? len : 255, "standard output"); write_all(1, "\n", 1, "standard output"); }
      }
      first = 0;
      size_t n = phi - plo < budget ? phi - plo : budget;
      write_all(1, d + plo, n, "standard output");
      budget -= n;
    }
    plo = lo, phi = hi, have = 1;
  }
}

/**
 * Edits a file in memory, every edit to the text the ones before it left, and writes it once: if any
 * edit does not apply, nothing is written (the message names the edit, counted from 1). Prints the
 * size and the lines around every change.
 */
static void edit_file(const char *path, const edit_t *edits, size_t count, int multi) {
  buf_t d = {0};
  struct stat was;
  whole(path, &d, &was);
  size_t limit = d.n > SIZE_MAX - EDIT_GROWTH_MAX ? SIZE_MAX : d.n + EDIT_GROWTH_MAX;
  spans_t sp = {0};
  for (size_t i = 0; i < count; i++) {
    char say[96];
    if (multi) snprintf(say, sizeof say, "no edit was made (edit %zu of %zu failed): ", i + 1, count);
    else snprintf(say, sizeof say, "no replacement: ");
    apply_edit(&d, &sp, &edits[i], path, say, limit);
  }
  put_same(path, d.p ? d.p : "", d.n, &was);
  print_size(d.n);
  print_spans(d.p ? d.p : "", d.n, &sp);
}

/** str_replace [all]: stdin after the path is "<old length>\n", the old text, then the new text. */
static void do_str_replace(const char *path, const char *arg, const char *in, size_t in_n) {
  if (arg && strcmp(arg, "all")) fail(EXIT_USAGE, "str_replace: the only option is \"all\"");
  const char *nl = memchr(in, '\n', in_n);
  size_t n = 0;
  char digits[24];
  size_t dl = nl ? (size_t)(nl - in) : 0;
  if (!nl || dl == 0 || dl >= sizeof digits) fail(EXIT_USAGE, "str_replace: input must start with the old text length");
  memcpy(digits, in, dl);
  digits[dl] = '\0';
  if (!parse_count(digits, &n)) fail(EXIT_USAGE, "str_replace: input must start with the old text length");
  const char *rest = nl + 1;
  size_t rest_n = in_n - dl - 1;
  if (n > rest_n) fail(EXIT_USAGE, "str_replace: the old text is shorter than its length");
  edit_t ed = { rest, rest + n, n, rest_n - n, arg != NULL };
  edit_file(path, &ed, 1, 0);
}

/**
 * multi_edit: stdin after the path is, for each edit in order, "<old length> <new length> <0|1>\n"
 * (1: every occurrence), the old text and the new text. The whole input is read before the file.
 */
static void do_multi_edit(const char *path, const char *in, size_t in_n) {
  edit_t *edits = NULL;
  size_t count = 0, cap = 0, pos = 0;
  while (pos < in_n) {
    const char *nl = memchr(in + pos, '\n', in_n - pos);
    char head[64];
    size_t hl = nl ? (size_t)(nl - (in + pos)) : 0;
    if (!nl || hl == 0 || hl >= sizeof head) fail(EXIT_USAGE, "multi_edit: edit %zu: expected \"<old length> <new length> <0|1>\"", count + 1);
    memcpy(head, in + pos, hl);
    head[hl] = '\0';
    // (exactly three whole numbers, one space apart)
    char *b = strchr(head, ' '), *c = b ? strchr(b + 1, ' ') : NULL;
    size_t on = 0, mn = 0, all = 0;
    if (b) *b++ = '\0';
    if (c) *c++ = '\0';
    if (!b || !c || !parse_count(head, &on) || !parse_count(b, &mn) || !parse_count(c, &all) || all > 1)
      fail(EXIT_USAGE, "multi_edit: edit %zu: expected \"<old length> <new length> <0|1>\"", count + 1);
    pos += hl + 1;
    if (on > in_n - pos || mn > in_n - pos - on) fail(EXIT_USAGE, "multi_edit: edit %zu: the input is shorter than its lengths", count + 1);
    if (count == cap) {
      cap = cap ? cap * 2 : 16;
      edits = realloc(edits, cap * sizeof *edits);
      if (!edits) fail(EXIT_USAGE, "out of memory");
    }
    edits[count++] = (edit_t){ in + pos, in + pos + on, on, mn, (int)all };
    pos += on + mn;
  }
  if (count == 0) fail(EXIT_USAGE, "multi_edit: no edits");
  edit_file(path, edits, count, 1);
}

static void do_insert(const char *path, const char *arg, const char *text, size_t text_n) {
  buf_t d = {0};
  struct stat was;
  whole(path, &d, &was);
  size_t line;
  if (!parse_count(arg, &line)) fail(EXIT_USAGE, "insert: the line must be a whole number");
  const char *data = d.p ? d.p : "";
  // Lines keep their newline; a last line without one still counts.
  size_t count = 0, at = 0, end_of_target = 0;
  for (size_t i = 0; i < d.n; i++) {
    if (data[i] == '\n' || i + 1 == d.n) {
      count++;
      if (count == line) end_of_target = i + 1;
    }
  }
  if (line > count) fail(EXIT_NO_EDIT, "no insertion: line %zu is past the end of %s (%zu lines)", line, path, count);
  at = line == 0 ? 0 : end_of_target;
  buf_t out = {0};
  append(&out, data, at);
  if (line > 0 && data[at - 1] != '\n') append(&out, "\n", 1);
  size_t s = out.n;
  append(&out, text, text_n);
  if (text_n > 0 && text[text_n - 1] != '\n' && line < count) append(&out, "\n", 1);
  size_t e = out.n;
  append(&out, data + at, d.n - at);
  put_same(path, out.p ? out.p : "", out.n, &was);
  print_size(out.n);
  print_around(out.p ? out.p : "", out.n, s, e);
}

/**
 * The last APPEND_TAIL bytes of the file open for the append on `wfd`, as it is before the append
 * (reopened through /proc/self/fd: the same file, never what the path names by now — a link
 * swapped after the write's open would have the screen judge another file's end).
 */
static void append_tail(int wfd, buf_t *out) {
  char self[64];
  snprintf(self, sizeof self, "/proc/self/fd/%d", wfd);
  int fd = open(self, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return;
  struct stat st, wst;
  if (fstat(fd, &st) == 0 && fstat(wfd, &wst) == 0 && st.st_dev == wst.st_dev && st.st_ino == wst.st_ino && S_ISREG(st.st_mode)) {
    off_t from = st.st_size > (off_t)APPEND_TAIL ? st.st_size - (off_t)APPEND_TAIL : 0;
    if (lseek(fd, from, SEEK_SET) == from && slurp(fd, out, APPEND_TAIL) != 0) out->n = 0;
  }
  close(fd);
}

int main(int argc, char **argv) {
  const char *op = argc > 1 ? argv[1] : NULL;
  const char *arg = argc > 2 ? argv[2] : NULL;
  buf_t in = {0};
  if (slurp(0, &in, (size_t)-1) != 0) fail(EXIT_USAGE, "cannot read standard input: %s", strerror(errno));
  const char *z = in.p ? memchr(in.p, '\0', in.n) : NULL;
  if (!z) fail(EXIT_USAGE, "usage: stdin must start with the path and a NUL");
  const char *path = in.p;
  const char *data = z + 1;
  size_t data_n = in.n - (size_t)(z - in.p) - 1;
  if (!op || !*path) fail(EXIT_USAGE, "usage: op [arg], stdin: path NUL data");
  if (!strcmp(op, "write") || !strcmp(op, "append")) {
    int appending = !strcmp(op, "append");
    make_parents(path);
    if (is_dir(path)) fail(EXIT_WRITE, "cannot write %s: Is a directory", path);
    buf_t seen = {0};
    struct stat st;
    not_pipe(path, EXIT_WRITE);
    // (no O_TRUNC: a write replaces the file whole, put_whole; an append stays an O_APPEND write)
    int fd = open_file(path, O_WRONLY | O_CREAT | (appending ? O_APPEND : 0), EXIT_WRITE, 0, &st);
    if (!appending) {
      put_whole(fd, &st, path, data, data_n);
      print_size(data_n);
      return 0;
    }
    append_tail(fd, &seen);
    size_t tail_n = seen.n;
    write_all(fd, data, data_n, path);
    if (fstat(fd, &st) != 0) st.st_size = 0;
    if (close(fd) != 0) fail(EXIT_WRITE, "cannot write %s: %s", path, strerror(errno));
    print_size((size_t)st.st_size);
    append(&seen, data, data_n);
    print_around(seen.p ? seen.p : "", seen.n, tail_n, seen.n);
  } else if (!strcmp(op, "read")) {
    do_read(path, arg);
  } else if (!strcmp(op, "str_replace")) {
    do_str_replace(path, arg, data, data_n);
  } else if (!strcmp(op, "multi_edit")) {
    do_multi_edit(path, data, data_n);
  } else if (!strcmp(op, "insert")) {
    do_insert(path, arg, data, data_n);
  } else {
    fail(EXIT_USAGE, "unknown operation %s", op);
  }
  return 0;
}
