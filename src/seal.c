/* seal.c - the queue file's seal: CRC-32C, the seal line, the check; see
 * seal.h */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seal.h"

/* the table of the reflected Castagnoli polynomial, made once */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* table_init - the 256 entries */
static void table_init(void)
{
	uint32_t i, k, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
}

#if defined(__x86_64__)
/* crc_hw - the same CRC by SSE4.2's crc32 instruction (its polynomial is
 * Castagnoli's, reflected, without the inversions): 8 bytes a step,
 * several times the table's speed; used when the CPU has it (crc_init) */
__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t c, const unsigned char *s, size_t n)
{
	uint64_t c64 = c, w;

	for (; n > 0 && ((uintptr_t)s & 7) != 0; n--)
		c64 = __builtin_ia32_crc32qi((uint32_t)c64, *s++);
	for (; n >= 8; n -= 8, s += 8) {
		memcpy(&w, s, 8);
		c64 = __builtin_ia32_crc32di(c64, w);
	}
	for (; n > 0; n--)
		c64 = __builtin_ia32_crc32qi((uint32_t)c64, *s++);
	return (uint32_t)c64;
}
#endif

static int use_hw;              /* set once by crc_init */

/* crc_init - the table, and whether the CPU computes the CRC itself */
static void crc_init(void)
{
	table_init();
#if defined(__x86_64__)
	__builtin_cpu_init();
	use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

/* seal_crc_table - CRC-32C by table, whatever the CPU */
uint32_t seal_crc_table(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t c = ~crc;

	pthread_once(&crc_once, crc_init);
	while (n--)
		c = crc_table[(c ^ *s++) & 0xff] ^ (c >> 8);
	return ~c;
}

/* seal_crc - CRC-32C: by the CPU where it can (crc_hw), else by table */
uint32_t seal_crc(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&crc_once, crc_init);
#if defined(__x86_64__)
	if (use_hw)
		return ~crc_hw(~crc, p, n);
#endif
	return seal_crc_table(crc, p, n);
}

/* seal_format - "seal SIZE CRC\n" */
void seal_format(char out[SEAL_LINE_LEN + 1], unsigned long long size, uint32_t crc)
{
	snprintf(out, SEAL_LINE_LEN + 1, "seal %016llu %08x\n",
	         size % 10000000000000000ull, (unsigned)crc);
}

/* seal_parse - the exact form seal_format writes, nothing else */
int seal_parse(const char *line, size_t n, unsigned long long *size, uint32_t *crc)
{
	unsigned long long v = 0;
	uint32_t c = 0;
	size_t i;

	if (n != SEAL_LINE_LEN - 1 || memcmp(line, "seal ", 5) != 0 || line[21] != ' ')
		return -1;
	for (i = 5; i < 21; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(line[i] - '0');
	}
	for (i = 22; i < 30; i++) {
		char h = line[i];

		if (h >= '0' && h <= '9')
			c = c << 4 | (uint32_t)(h - '0');
		else if (h >= 'a' && h <= 'f')
			c = c << 4 | (uint32_t)(h - 'a' + 10);
		else
			return -1;
	}
	*size = v;
	*crc = c;
	return 0;
}

/* seal_verify - size first (cheap), then the CRC of the bytes after the
 * seal up to size, and nothing after them */
int seal_verify(int fd, long long from, unsigned long long size, uint32_t crc)
{
	char buf[65536];
	unsigned long long off = (unsigned long long)from;
	uint32_t c = 0;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	if (size == 0 || (unsigned long long)st.st_size != size || off > size) {
		errno = EINVAL;
		return -1;
	}
	while (off < size) {
		size_t want = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
		ssize_t r = pread(fd, buf, want, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;              /* shorter than its size now */
		c = seal_crc(c, buf, (size_t)r);
		off += (size_t)r;
	}
	if (off != size || c != crc) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}
