/* dovecot-auth - drive dovecot_auth_check() (src/dovecot_auth.h) from a
 * test: t/98-dovecot-auth.t.
 *
 *   dovecot-auth [-n THREADS] [-r IP] [-s] SOCKET LOGIN
 *
 * The password comes from the environment (DOVECOT_AUTH_PASSWORD), as a
 * password should.  Prints the result (1, 0 or -1) and the error text;
 * with -n, THREADS threads call at the same moment (a barrier) and it
 * prints "accepted=A refused=R temp=T" and the first error seen.  Exit
 * status 0 when it ran, 2 on a usage error.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dovecot_auth.h"

static const char *sock, *login, *password, *ip;
static int secured;
static pthread_barrier_t start;

struct result {
	int ret;
	char err[256];
};

static void *one(void *arg)
{
	struct result *r = arg;

	pthread_barrier_wait(&start);
	r->ret = dovecot_auth_check(sock, login, password, ip, secured, r->err,
	                            sizeof r->err);
	return NULL;
}

int main(int argc, char **argv)
{
	int c, threads = 0, i, n[3] = { 0, 0, 0 };
	struct result *res;
	pthread_t *tid;
	const char *first = "";

	while ((c = getopt(argc, argv, "n:r:s")) != -1) {
		switch (c) {
		case 'n': threads = atoi(optarg); break;
		case 'r': ip = optarg; break;
		case 's': secured = 1; break;
		default: return 2;
		}
	}
	if (argc - optind != 2 || threads < 0 || threads > 1000) {
		fprintf(stderr, "usage: dovecot-auth [-n THREADS] [-r IP] [-s] "
		        "SOCKET LOGIN\n");
		return 2;
	}
	sock = argv[optind];
	login = argv[optind + 1];
	if ((password = getenv("DOVECOT_AUTH_PASSWORD")) == NULL)
		password = "";
	if (threads == 0) {
		char err[256];
		int r = dovecot_auth_check(sock, login, password, ip, secured, err,
		                           sizeof err);
		printf("%d %s\n", r, err);
		return 0;
	}
	res = calloc((size_t)threads, sizeof *res);
	tid = calloc((size_t)threads, sizeof *tid);
	if (res == NULL || tid == NULL)
		return 1;
	pthread_barrier_init(&start, NULL, (unsigned)threads);
	for (i = 0; i < threads; i++)
		if (pthread_create(&tid[i], NULL, one, &res[i]) != 0)
			return 1;
	for (i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		n[res[i].ret + 1]++;
		if (res[i].ret != 1 && *first == '\0')
			first = res[i].err;
	}
	printf("accepted=%d refused=%d temp=%d %s\n", n[2], n[1], n[0], first);
	pthread_barrier_destroy(&start);
	free(tid);
	free(res);
	return 0;
}
