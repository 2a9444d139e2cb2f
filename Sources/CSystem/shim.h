// Shim for the Linux calls Swift's Glibc module does not declare; Sources/Spool/Support/
// System.swift wraps them. glibc declares these only under _GNU_SOURCE, and defining that
// here would give fd_set and other types definitions that differ from the Glibc module's,
// which Swift refuses: so the headers are included as the Glibc module includes them, and
// the few prototypes are declared as glibc declares them.
// Needs glibc 2.34 or later (posix_spawn_file_actions_addclosefrom_np); Debian 12 has 2.36.
#ifndef SPOOLRUN_CSYSTEM_SHIM_H
#define SPOOLRUN_CSYSTEM_SHIM_H
#include <linux/memfd.h>
#include <malloc.h>
#include <spawn.h>

extern int syncfs(int fd);
extern int memfd_create(const char *name, unsigned int flags);
extern int pipe2(int fds[2], int flags);
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

#endif
