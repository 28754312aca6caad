/* See mount-template.c. */
#ifndef CORRAL_MOUNT_TEMPLATE_H
#define CORRAL_MOUNT_TEMPLATE_H

/* corral-enter --mount-template-serve: make the template namespace, say "ready", wait for stdin's end. */
int serve_mount_template(int argc, char **argv);

/*
 * Move this process into a fresh copy of the template namespace at `template_path`, with the host
 * namespace's mounts at `keep[0..nkeep)` cloned into it at the same paths. Returns 0, or -1 with
 * this process still in the namespace it was in (a start that is only slower, never one missing a mount).
 */
int enter_mount_template(const char *template_path, const char **keep, int nkeep);

/*
 * Show each of `views` (host paths bwrap binds read-only) as read-only overlays of its mounts, in
 * this sandbox's own mount namespace: the template's copy (`own_namespace`), else a private copy of
 * the current one made here. Mounts at or below a `keep` path (Corral's run dir) stay as they are.
 * `empty_dir` is an empty directory (an overlay without an upper layer needs a second lower one).
 * What cannot be shown so stays as it lies and is said on stderr ("corral-enter: view PATH: shown
 * as it lies (...)"); the start goes on.
 */
void show_views(int own_namespace, const char **views, int nviews, const char **keep, int nkeep, const char *empty_dir);

#endif
