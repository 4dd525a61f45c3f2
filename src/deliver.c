/* deliver.c - one delivery attempt; see deliver.h */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "deliver.h"
#include "log.h"
#include "monotonic.h"
#include "queue.h"

/* deliver_run - the attempt */
void deliver_run(struct delivery *d)
{
	struct envelope env;
	long long start, offset;
	const char *how;
	/* client-supplied addresses and texts, quoted for the log */
	char qrcpt[LOG_VALUE_MAX], qfrom[LOG_VALUE_MAX], qerr[LOG_LINE_MAX / 2];
	int fd;

	log_set_tag("d%lu", d->seq);
	start = monotonic_ms();    /* a wall clock set back makes no negative time */
	d->bad = d->unreachable = 0;
	d->uncounted = 0;
	d->arrival = 0;
	d->rcpt[0] = d->remote_mta[0] = d->diag[0] = d->tls[0] = '\0';
	/* A symbolic link in mess/ is no message of ours: never followed. */
	fd = queue_msg_open_read(d->q, QUEUE_MESS, d->id);
	if (fd < 0) {
		int e = errno;

		d->result = status_make(ST_TEMP, 3, 0, "Cannot open queue file mess/%s: %s",
		                        d->id, strerror(e));
		d->bad = e == ENOENT ? DELIVERY_BAD_JOB      /* a job without message */
		       : e == ELOOP ? DELIVERY_BAD_MESSAGE : 0;
		log_event("delivery-error", "id=%s n=%u error=%s", d->id, d->n,
		          log_quote(qerr, sizeof qerr, d->result.text));
		return;
	}
	envelope_init(&env);
	if (envelope_read(fd, &env, &offset) < 0 && errno != EINVAL) {
		int e = errno;

		/* EIO, ENOMEM: the file may well be good; try again later */
		d->result = status_make(ST_TEMP, 3, 0, "Cannot read queue file mess/%s: %s",
		                        d->id, strerror(e));
		log_event("delivery-error", "id=%s n=%u error=%s", d->id, d->n,
		          log_quote(qerr, sizeof qerr, d->result.text));
		envelope_free(&env);
		close(fd);
		return;
	}
	if (env.nrcpt == 0 || d->n >= env.nrcpt) {
		int message_bad = env.nrcpt == 0;

		d->result = status_make(ST_PERM, 3, 0, message_bad
		                        ? "Queue file mess/%s is damaged"
		                        : "Job names a recipient mess/%s does not have", d->id);
		d->bad = message_bad ? DELIVERY_BAD_MESSAGE : DELIVERY_BAD_JOB;
		log_event("delivery-error", "id=%s n=%u error=%s", d->id, d->n,
		          log_quote(qerr, sizeof qerr, d->result.text));
		envelope_free(&env);
		close(fd);
		return;
	}
	memcpy(d->rcpt, env.rcpt[d->n].text, sizeof d->rcpt);
	d->arrival = (long long)env.arrival;
	log_event("delivery-start", "id=%s rcpt=%s from=%s", d->id,
	          log_addr(qrcpt, sizeof qrcpt, d->rcpt),
	          log_addr(qfrom, sizeof qfrom, env.sender.text));
	if (d->transport < 0 || d->transport >= TRANSPORT_COUNT)
		d->transport = (int)transport_route(d->cfg, &env.rcpt[d->n], d->hop);
	how = transport_table[d->transport].name;
	transport_table[d->transport].deliver(d, &env, fd, offset);
	log_event(d->result.kind == ST_OK ? "delivered"
	          : d->result.kind == ST_TEMP ? "deferred" : "failed",
	          "id=%s rcpt=%s via=%s time=%ldms%s%s", d->id, qrcpt, how,
	          (long)(monotonic_ms() - start), d->result.kind == ST_OK ? "" : " error=",
	          d->result.kind == ST_OK ? "" :
	          log_quote(qerr, sizeof qerr, d->result.text));
	envelope_free(&env);
	close(fd);
}
