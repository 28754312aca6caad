/*
 * mount-api.h: the new mount API's syscall numbers and flags (open_tree, move_mount, mount_setattr),
 * for C libraries and kernel headers older than the kernels Corral runs on. Shared by corral-idmap
 * (idmapped workspace mounts) and mount-template (sandboxes started from a template mount
 * namespace), so both ask the kernel for the same thing by the same numbers. x86_64/arm64 numbers
 * (the generic syscall table gives these calls the same numbers on both).
 */
#ifndef CORRAL_MOUNT_API_H
#define CORRAL_MOUNT_API_H

#include <fcntl.h>
#include <sys/syscall.h>

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

#endif
