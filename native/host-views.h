/* See host-views.c. */
#ifndef CORRAL_HOST_VIEWS_H
#define CORRAL_HOST_VIEWS_H

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
