/* readall - the whole of a descriptor or a file into one malloc'ed,
 * NUL-terminated buffer, for the table and message readers that parse a
 * file as one string.
 *
 * Contract: thread-safe, no state; the caller frees the buffer.  The
 * terminating NUL is not counted in *n (a file may itself hold NULs).
 * A limit keeps a runaway file from taking all memory: past it, NULL
 * with errno EFBIG, and nothing is kept. */
#ifndef MTA_READALL_H
#define MTA_READALL_H

#include <stddef.h>

/* readall_fd - the rest of fd (read until EOF, EINTR retried), its
 * length in *n; NULL with errno (EFBIG when there are more than max
 * bytes; a read's or malloc's error otherwise).  fd stays open. */
char *readall_fd(int fd, size_t max, size_t *n);
/* readall_path - the same for the file at path (opened O_CLOEXEC,
 * closed again); NULL with errno, open's among them */
char *readall_path(const char *path, size_t max, size_t *n);

#endif
