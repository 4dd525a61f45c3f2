/* main_passwd.c - mta-passwd: read a password without echo and print
 * its yescrypt hash, for a --users line (mta-passwd(1)).
 *
 * On a terminal it asks twice and the two must agree; otherwise it reads
 * one line from standard input (scripts, tests).  The salt comes from
 * getrandom(2).  Exit 0 with the hash on standard output, 1 on error.
 */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <termios.h>
#include <unistd.h>

#include "version.h"

enum { PASS_MAX = 1024 };

/* read_line - one line of fd into buf (no newline); -1 at EOF before any
 * octet, or a line too long or with a NUL */
static int read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;

	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (n == 0)
				return -1;
			break;
		}
		if (c == '\n')
			break;
		if (c == '\0' || n + 1 >= size)
			return -1;
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return 0;
}

/* ask - prompt on the terminal, read with echo off, restore it */
static int ask(const char *prompt, char *buf, size_t size)
{
	struct termios old, quiet;
	int rc;

	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(0, &old) < 0)
		return -1;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (tcsetattr(0, TCSAFLUSH, &quiet) < 0)
		return -1;
	rc = read_line(0, buf, size);
	tcsetattr(0, TCSAFLUSH, &old);
	fputc('\n', stderr);
	return rc;
}

int main(int argc, char **argv)
{
	static char pass[PASS_MAX], again[PASS_MAX];
	char salt[CRYPT_GENSALT_OUTPUT_SIZE], rnd[32];
	struct crypt_data *cd;
	const char *hash;

	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("mta-passwd %s\n", MTA_VERSION);
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr, "usage: mta-passwd  (the password is read from the "
		        "terminal, or one line from standard input)\n");
		return 1;
	}
	if (isatty(0)) {
		if (ask("Password: ", pass, sizeof pass) < 0 ||
		    ask("Again: ", again, sizeof again) < 0) {
			fprintf(stderr, "mta-passwd: no password read\n");
			return 1;
		}
		if (strcmp(pass, again) != 0) {
			fprintf(stderr, "mta-passwd: the passwords differ\n");
			return 1;
		}
	} else if (read_line(0, pass, sizeof pass) < 0) {
		fprintf(stderr, "mta-passwd: no password on standard input (one line, "
		        "at most %d octets, no NUL)\n", PASS_MAX - 1);
		return 1;
	}
	if (pass[0] == '\0') {
		fprintf(stderr, "mta-passwd: empty password\n");
		return 1;
	}
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		fprintf(stderr, "mta-passwd: getrandom: %s\n", strerror(errno));
		return 1;
	}
	if (crypt_gensalt_rn("$y$", 0, rnd, (int)sizeof rnd, salt, (int)sizeof salt) == NULL) {
		fprintf(stderr, "mta-passwd: no yescrypt salt: %s\n", strerror(errno));
		return 1;
	}
	if ((cd = calloc(1, sizeof *cd)) == NULL) {
		fprintf(stderr, "mta-passwd: out of memory\n");
		return 1;
	}
	hash = crypt_rn(pass, salt, cd, (int)sizeof *cd);
	explicit_bzero(pass, sizeof pass);
	explicit_bzero(again, sizeof again);
	if (hash == NULL || hash[0] == '*') {
		fprintf(stderr, "mta-passwd: crypt failed: %s\n", strerror(errno));
		return 1;
	}
	printf("%s\n", hash);
	free(cd);
	return fflush(stdout) == 0 ? 0 : 1;
}
