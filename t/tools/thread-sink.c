/* thread-sink - an SMTP server with a thread per connection that does
 * the least a server built as mta-smtpd is (one thread per client,
 * blocking reads and writes) must do per message, for t/bench/ceiling.sh
 * to set beside smtp-sink (one process, one event loop over every
 * connection) and beside mta-smtpd itself.
 *
 *   thread-sink [-k QUEUE [-m MAILDIR]] ADDR PORT [THREADS]
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
 * PIPELINING does.
 *
 * Without -k it keeps nothing.  With -k, each message (its lines as
 * received, dots and all; a message over 64 KiB or a line over 4 KiB
 * ends the process) is made durable before its
 * 250 and nothing more: created in QUEUE/tmp, written in one write(),
 * renamed into QUEUE/new, fsynced, closed: what mta-smtpd does where it
 * leaves new/ to ext4's journal (fsync, not fdatasync: it waits for the
 * commit that carries the rename, src/fs_journal.h).  No envelope, no
 * log, no fsync of new/.  With -m too, once the 250 is sent,
 * the same thread delivers it: the same steps into MAILDIR/tmp and
 * MAILDIR/new, then the queue file unlinked; the next command is read
 * only after that.  That is the file-system work of end to end into a
 * Maildir, with none of a scheduler's (and with each session waiting for
 * both commits, where a server that delivers apart lets more share one).
 * The directories are made if missing.  A failed call ends the process
 * (exit 1, the call on stderr): a figure from a server that lost a
 * message would mean nothing.
 *
 * Runs until killed; exits 1 if it cannot listen. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

enum { LINE_MAX_LEN = 4096, MESSAGE_MAX = 64 * 1024 };

/* With -k: QUEUE's tmp/ and new/; with -m: MAILDIR's tmp/ and new/
 * (each -1 when not asked for) */
static int queue_tmp = -1, queue_new = -1, mbox_tmp = -1, mbox_new = -1;

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

/* fail - a failed call on name: say so and end the process (_exit:
 * several threads may fail at once, and exit() is not for that) */
static void fail(const char *what, const char *name)
{
	fprintf(stderr, "thread-sink: %s %s: %m\n", what, name);
	_exit(1);
}

/* keep - make msg durable as name: created in tmp, written, renamed into
 * new, fsynced, closed */
static void keep(int tmp, int new, const char *name, const char *msg, size_t len)
{
	int fd = openat(tmp, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		fail("create", name);
	errno = EIO;                /* for a short write */
	if (write(fd, msg, len) != (ssize_t)len)
		fail("write", name);
	if (renameat(tmp, name, new, name) < 0)
		fail("rename", name);
	if (fsync(fd) < 0)
		fail("fsync", name);
	if (close(fd) < 0)
		fail("close", name);
}

/* open_dir - DIR/sub, made (with DIR) if missing, opened as a directory */
static int open_dir(const char *dir, const char *sub)
{
	char path[4096];
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		fail("mkdir", dir);
	snprintf(path, sizeof path, "%s/%s", dir, sub);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		fail("mkdir", path);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		fail("open", path);
	return fd;
}

/* next_name - a name no other message of this process has */
static void next_name(char *name, size_t size)
{
	static unsigned long counter;

	snprintf(name, size, "%ld.%lu", (long)getpid(),
	         __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
}

/* serve - one connection, start to end */
static void serve(int fd)
{
	int in_data = 0, quit = 0;
	char in[LINE_MAX_LEN], out[LINE_MAX_LEN * 2], name[64];
	static __thread char msg[MESSAGE_MAX];
	size_t have = 0, olen = 0, mlen = 0;

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
			if (!in_data) {
				reply(out, &olen, command(line, &in_data, &quit));
				mlen = 0;
			} else if (strcmp(line, ".") == 0) {
				in_data = 0;
				if (queue_new < 0) {
					reply(out, &olen, "250 ok: kept nothing\r\n");
				} else {
					next_name(name, sizeof name);
					keep(queue_tmp, queue_new, name, msg, mlen);
					reply(out, &olen, "250 ok: kept\r\n");
				}
				if (mbox_new >= 0) {
					/* delivered after the 250, before the next read */
					if (send_all(fd, out, olen) < 0)
						goto done;
					olen = 0;
					keep(mbox_tmp, mbox_new, name, msg, mlen);
					if (unlinkat(queue_new, name, 0) < 0)
						fail("unlink", name);
				}
			} else if (queue_new >= 0) {
				size_t n = strlen(line);

				if (mlen + n + 2 > sizeof msg) {
					errno = EFBIG;
					fail("message over 64 KiB", "");
				}
				memcpy(msg + mlen, line, n);
				memcpy(msg + mlen + n, "\r\n", 2);
				mlen += n + 2;
			}
			line = eol + 1;
		}
		/* what is left is a line's start; a line longer than the
		 * buffer is dropped (the sink checks nothing), but not from
		 * a message it keeps: kept short, it would be counted whole */
		have -= (size_t)(line - in);
		memmove(in, line, have);
		if (have == sizeof in) {
			if (in_data && queue_new >= 0) {
				errno = EFBIG;
				fail("a line over 4 KiB in a message", "");
			}
			have = 0;
		}
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
	int lfd, one = 1, threads = 64, t, opt;
	const char *queue = NULL, *maildir = NULL;

	while ((opt = getopt(argc, argv, "k:m:")) != -1) {
		if (opt == 'k')
			queue = optarg;
		else if (opt == 'm')
			maildir = optarg;
		else
			goto usage;
	}
	argc -= optind - 1;
	argv += optind - 1;
	if ((argc != 3 && argc != 4) || (maildir != NULL && queue == NULL)) {
usage:
		fprintf(stderr, "usage: thread-sink [-k QUEUE [-m MAILDIR]] ADDR PORT [THREADS]\n");
		return 2;
	}
	if (queue != NULL) {
		queue_tmp = open_dir(queue, "tmp");
		queue_new = open_dir(queue, "new");
	}
	if (maildir != NULL) {
		mbox_tmp = open_dir(maildir, "tmp");
		mbox_new = open_dir(maildir, "new");
		close(open_dir(maildir, "cur"));
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
