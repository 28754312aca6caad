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

#endif
