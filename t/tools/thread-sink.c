/* thread-sink - an SMTP server that answers and keeps nothing, with a
 * thread per connection: the least a server built as mta-smtpd is (one
 * thread per client, blocking reads and writes) does per message, for
 * t/bench/ceiling.sh to set beside smtp-sink (one process, one event
 * loop over every connection).
 *
 *   thread-sink ADDR PORT [THREADS]
 *
 * Listens on ADDR:PORT (IPv4, backlog 1000) with THREADS threads (64),
 * each taking a connection with its own blocking accept4() and serving
 * it to the end before it takes the next: no hand-over from an acceptor,
 * no thread started per connection, the cheapest way to give each client
 * a thread while it is connected.  A connection gets a 220 greeting, then every complete
 * line answered as it comes (EHLO with PIPELINING, 354 for DATA, 221 for
 * QUIT and the close, 250 for anything else); in the message it looks
 * only for the lone dot that ends it, answered 250.  The replies to all
 * the lines of one read go out in one write, as a server honouring
 * PIPELINING does.  Runs until killed; exits 1 if it cannot listen. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { LINE_MAX_LEN = 4096 };

static const char GREETING[] = "220 sink.bench.example ESMTP\r\n";
static const char EHLO_REPLY[] = "250-sink.bench.example\r\n250-PIPELINING\r\n"
                                 "250-8BITMIME\r\n250 SIZE 0\r\n";

/* reply - append s to out (size LINE_MAX_LEN * 2), sent by the caller
 * after each read; a reply that would not fit is dropped (a client
 * pipelining hundreds of commands in one read: smtp-source sends a few) */
static void reply(char *out, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len + n <= LINE_MAX_LEN * 2) {
		memcpy(out + *len, s, n);
		*len += n;
	}
}

/* send_all - write all of p, or give up on the connection */
static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* command - the reply to one command line (its CRLF cut off) */
static const char *command(const char *line, int *in_data, int *quit)
{
	if (strncasecmp(line, "EHLO", 4) == 0)
		return EHLO_REPLY;
	if (strncasecmp(line, "DATA", 4) == 0) {
		*in_data = 1;
		return "354 go ahead\r\n";
	}
	if (strncasecmp(line, "QUIT", 4) == 0) {
		*quit = 1;
		return "221 bye\r\n";
	}
	return "250 ok\r\n";
}

/* serve - one connection, start to end */
static void serve(int fd)
{
	int in_data = 0, quit = 0;
	char in[LINE_MAX_LEN], out[LINE_MAX_LEN * 2];
	size_t have = 0, olen = 0;

	if (send_all(fd, GREETING, sizeof GREETING - 1) < 0)
		goto done;
	while (!quit) {
		ssize_t r = recv(fd, in + have, sizeof in - have, 0);
		char *line = in, *eol;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		while (!quit && (eol = memchr(line, '\n', have - (size_t)(line - in))) != NULL) {
			*eol = '\0';
			if (eol > line && eol[-1] == '\r')
				eol[-1] = '\0';
			if (!in_data)
				reply(out, &olen, command(line, &in_data, &quit));
			else if (strcmp(line, ".") == 0) {
				in_data = 0;
				reply(out, &olen, "250 ok: kept nothing\r\n");
			}
			line = eol + 1;
		}
		/* what is left is a line's start; a line longer than the
		 * buffer is dropped (the sink checks nothing) */
		have -= (size_t)(line - in);
		memmove(in, line, have);
		if (have == sizeof in)
			have = 0;
		if (olen > 0 && send_all(fd, out, olen) < 0)
			break;
		olen = 0;
	}
done:
	close(fd);
}

/* worker - take connections from the shared listener, one at a time */
static void *worker(void *arg)
{
	int lfd = (int)(long)arg;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0)
			serve(fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	pthread_attr_t attr;
	int lfd, one = 1, threads = 64, t;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: thread-sink ADDR PORT [THREADS]\n");
		return 2;
	}
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "thread-sink: not an IPv4 address: %s\n", argv[1]);
		return 2;
	}
	if (argc == 4 && (threads = atoi(argv[3])) <= 0) {
		fprintf(stderr, "thread-sink: not a number of threads: %s\n", argv[3]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1000) < 0) {
		perror("thread-sink: listen");
		return 1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (t = 0; t < threads; t++) {
		pthread_t tid;

		if ((errno = pthread_create(&tid, &attr, worker, (void *)(long)lfd)) != 0) {
			perror("thread-sink: pthread_create");
			return 1;
		}
	}
	for (;;)
		pause();
}
