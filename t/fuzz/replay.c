/* replay - a main() for the harnesses of t/fuzz/ without libFuzzer: runs
 * every input file given (a directory: each file in it, in name order)
 * once through LLVMFuzzerTestOneInput.  Built by the plain compiler
 * (make fuzz-replay, $(O)/replay/replay_NAME), so t/60-fuzz.t replays the
 * committed corpus, the regression inputs with it, where clang is
 * missing, and under the sanitizer builds of make asan and make tsan.
 *
 * Each input is copied into a buffer of exactly its size, as libFuzzer
 * does, so a read past the end is caught by AddressSanitizer.  The name
 * of an input goes to stderr before it runs: an oracle failure aborts,
 * and the last name printed is the input that did it.  Exit 0 after the
 * last input, 2 on an unreadable file. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oracle.h"

static unsigned long replayed;

/* replay_file - read path whole and run it; -1 when it cannot be read */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL)
		return -1;
	for (;;) {
		if (len == cap) {
			unsigned char *p;

			cap = cap ? cap * 2 : 4096;
			p = realloc(buf, cap);
			if (p == NULL) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return -1;
			}
			buf = p;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return -1;
	}
	fclose(f);
	/* exactly len bytes, at the end of their own allocation */
	unsigned char *in = malloc(len ? len : 1);
	if (in == NULL) {
		free(buf);
		errno = ENOMEM;
		return -1;
	}
	if (len)
		memcpy(in, buf, len);
	free(buf);
	fprintf(stderr, "input %s (%zu bytes)\n", path, len);
	(void)LLVMFuzzerTestOneInput(in, len);
	free(in);
	replayed++;
	return 0;
}

/* by_name - scandir order */
static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* replay_dir - every regular file of dir, in name order */
static int replay_dir(const char *dir)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, by_name), rc = 0;

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		if (ents[i]->d_name[0] != '.' && rc == 0 &&
		    (size_t)snprintf(path, sizeof path, "%s/%s", dir,
		                     ents[i]->d_name) < sizeof path &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    replay_file(path) < 0) {
			fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
			rc = -1;
		}
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct stat st;
		int rc;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			rc = replay_dir(argv[i]);
		else
			rc = replay_file(argv[i]);
		if (rc < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 2;
		}
	}
	printf("replayed %lu inputs\n", replayed);
	return 0;
}
