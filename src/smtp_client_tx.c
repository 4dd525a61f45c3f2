/* smtp_client_tx.c - the transaction half of the blocking client: the
 * engine's transaction, and the message pushed into it; see smtp_client.h
 *
 * The message is read from memory or from the descriptor and pushed into
 * the engine, which dot-encodes it into its output buffer; whenever that
 * buffer is full it is written out (each write within the block limit).
 * Without 8BITMIME an 8-bit message goes through mime8 first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mime8.h"
#include "smtp_client.h"
#include "smtp_client_priv.h"

/* the message on its way out: pushed into the engine, whose output is
 * written whenever it has no room for more */
struct wire {
	struct smtp_client *c;
	int failed;                 /* the connection is gone (reported) */
};

/* wire_out - message bytes (straight from the queue file, or from the
 * downgrade) to the server */
static void wire_out(void *ctx, const char *p, size_t n)
{
	struct wire *w = ctx;

	while (n > 0 && !w->failed) {
		size_t k = smtp_dialog_body_room(&w->c->d);

		if (k == 0) {
			if (!smtp_dialog_wants_body(&w->c->d) || smtpc_flush(w->c) < 0)
				w->failed = 1;
			continue;
		}
		if (k > n)
			k = n;
		smtp_dialog_body(&w->c->d, p, k);
		p += k;
		n -= k;
	}
}

/* source - the next piece of the message: 0 (*n == 0 at the end), or -1
 * with errno */
static int source(const struct smtp_tx *tx, size_t *off, char *buf,
                  size_t len, const char **p, size_t *n)
{
	ssize_t r;

	if (tx->data) {
		*p = tx->data + *off;
		*n = tx->len - *off > len ? len : tx->len - *off;
		*off += *n;
		return 0;
	}
	while ((r = read(tx->fd, buf, len)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return -1;
	*p = buf;
	*n = (size_t)r;
	return 0;
}

/* downgrade_scan - the first pass of mime8 over the whole message, then
 * back to its start; 1 when it must be converted, 0 when not, -1 with
 * errno */
static int downgrade_scan(const struct smtp_tx *tx, struct mime8 *m, char *buf,
                          size_t len)
{
	off_t start = tx->data ? 0 : lseek(tx->fd, 0, SEEK_CUR);
	size_t off = 0, n;
	const char *p;
	int r;

	if (start < 0)
		return -1;
	do {
		if (source(tx, &off, buf, len, &p, &n) < 0)
			return -1;
		mime8_scan(m, p, n);
	} while (n > 0);
	if ((r = mime8_scan_end(m)) < 0) {
		errno = ENOMEM;
		return -1;
	}
	if (!tx->data && lseek(tx->fd, start, SEEK_SET) < 0)
		return -1;
	return r;
}

/* send_message - the message itself and the final dot, pushed into the
 * engine; 0, or -1 when the connection is gone (reported).  To a server
 * without 8BITMIME an 8-bit message goes downgraded (mime8.h). */
static int send_message(struct smtp_client *c, const struct smtp_tx *tx)
{
	enum { CHUNK = 8192 };
	struct wire w = { c, 0 };
	struct mime8 *m = NULL;
	char buf[CHUNK];
	size_t off = 0;
	int e = 0;

	if (!(c->d.ext & SMTP_EXT_8BITMIME)) {
		int r = -1;

		if ((m = malloc(sizeof *m)) != NULL) {
			mime8_init(m);
			r = downgrade_scan(tx, m, buf, sizeof buf);
		}
		e = m == NULL ? ENOMEM : errno;
		if (r < 0)
			goto local_error;
		if (r == 0) {
			mime8_free(m);
			free(m);
			m = NULL;
		} else {
			mime8_convert_start(m, wire_out, &w);
		}
	}
	for (;;) {
		const char *p;
		size_t n;

		if (source(tx, &off, buf, sizeof buf, &p, &n) < 0) {
			e = errno;
			goto local_error;
		}
		if (n == 0)
			break;
		if (m)
			mime8_convert(m, p, n);
		else
			wire_out(&w, p, n);
		if (m && m->oom) {
			e = ENOMEM;
			goto local_error;
		}
		if (w.failed)
			goto fail;
	}
	if (m) {
		mime8_convert_end(m);
		mime8_free(m);
		free(m);
		m = NULL;
		if (w.failed)
			return -1;
	}
	smtp_dialog_body_end(&c->d);
	return 0;
local_error:
	/* DATA was accepted and no dot will follow: the connection is lost */
	smtp_dialog_lost(&c->d, e, 0);
	smtp_client_close(c);
fail:
	if (m) {
		mime8_free(m);
		free(m);
	}
	return -1;
}

/* tx_size - the SIZE= estimate */
static unsigned long long tx_size(const struct smtp_tx *tx)
{
	struct stat st;
	off_t pos;

	if (tx->size)
		return tx->size;
	if (tx->data)
		return tx->len;
	if (fstat(tx->fd, &st) == 0 && S_ISREG(st.st_mode)) {
		pos = lseek(tx->fd, 0, SEEK_CUR);
		if (pos >= 0 && pos <= st.st_size)
			return (unsigned long long)(st.st_size - pos);
	}
	return 0;
}

/* tx_over - the transaction has been reported */
static int tx_over(const struct smtp_client *c)
{
	return c->tx_over;
}

/* smtp_client_send - one transaction; see smtp_client.h */
int smtp_client_send(struct smtp_client *c, const struct smtp_tx *tx,
                     struct smtp_result *rres, struct smtp_result *res)
{
	struct smtp_tx t = *tx;

	t.size = tx_size(tx);
	t.long_lines = 0;
	smtpc_expect(c, rres, res);
	if (!smtp_client_connected(c))
		c->d.state = SD_CLOSED;
	if (smtp_dialog_send(&c->d, &t) < 0) {
		errno = !smtp_client_connected(c) ? ENOTCONN :
		        res->st.subject == 3 ? EFBIG : EINVAL;
		return -1;
	}
	while (!c->tx_over) {
		if (smtpc_drive(c, tx_over) < 0 && !c->tx_over)
			break;           /* cannot happen: a loss is reported */
		if (smtp_dialog_wants_body(&c->d) && send_message(c, &t) < 0)
			continue;        /* the loss was reported */
	}
	if (smtp_client_connected(c) && c->d.state == SD_CLOSED)
		smtp_client_close(c);
	if (res->st.kind == ST_OK)
		return 0;
	if (res->reply.code != 0 || errno == 0)
		errno = EPROTO;
	return -1;
}
