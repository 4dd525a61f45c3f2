/* seal - the verifiable end of a queue file (mta-queue(5), MESSAGE
 * FILES): the line "seal SIZE CRC" near its head, filled in when the file
 * is complete, gives the file's size in bytes and the CRC-32C of every
 * byte after the seal line.  A file whose data a power cut lost (empty,
 * cut short, zeroed or stale blocks) while its name survived fails the
 * check; such a file was never acknowledged (its writer answers 250 only
 * after fdatasync), so it is quarantined, never delivered or bounced.
 *
 * Format of the line: "seal " SIZE " " CRC "\n", SIZE 16 decimal digits
 * and CRC 8 lower-case hex digits, both zero-padded: a fixed width, so
 * that the writer can reserve it before it knows the values and fill it
 * in place.  SIZE 0 is the reservation: never valid.
 *
 * Contract: pure functions of their arguments (seal_verify reads the
 * descriptor with pread only); thread-safe. */
#ifndef MTA_SEAL_H
#define MTA_SEAL_H

#include <stddef.h>
#include <stdint.h>

enum { SEAL_LINE_LEN = 31 };   /* with its LF */

/* seal_crc - CRC-32C of p[0..n) continuing crc (0 to start): by the
 * CPU's crc32 instruction where it has one (x86-64 with SSE4.2, checked
 * at run time), else by table; the same values either way */
uint32_t seal_crc(uint32_t crc, const void *p, size_t n);
/* seal_crc_table - the same by table alone, whatever the CPU: what a CPU
 * without the instruction runs (the tests compare both with a reference) */
uint32_t seal_crc_table(uint32_t crc, const void *p, size_t n);
/* seal_format - the seal line of size and crc into out (NUL-terminated,
 * SEAL_LINE_LEN bytes before the NUL) */
void seal_format(char out[SEAL_LINE_LEN + 1], unsigned long long size, uint32_t crc);
/* seal_parse - the values of a seal line line[0..n) without its LF:
 * 0, or -1 when it is not one */
int seal_parse(const char *line, size_t n, unsigned long long *size, uint32_t *crc);
/* seal_verify - does the file fd hold size bytes, those from offset from
 * on having the CRC crc?  0 yes; -1 with EINVAL when not (EIO and the
 * like when it cannot be read) */
int seal_verify(int fd, long long from, unsigned long long size, uint32_t crc);

#endif
