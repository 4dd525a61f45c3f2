/* deliver.c - one delivery attempt; see deliver.h */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "deliver.h"
#include "local.h"
#include "log.h"
#include "policy.h"

/* elapsed_ms - milliseconds since t */
static long elapsed_ms(const struct timeval *t)
{
	struct timeval now;

	gettimeofday(&now, NULL);
	return (now.tv_sec - t->tv_sec) * 1000L + (now.tv_usec - t->tv_usec) / 1000L;
}

/* deliver_local - to a mailbox here */
static struct status deliver_local(const struct delivery *d,
                                   const struct mailbox *rcpt,
                                   const struct envelope *env, int fd,
                                   long long offset)
{
	const struct config *cfg = d->cfg;
	struct local_config lc = {
		cfg->mailroot, cfg->hostname, cfg->mbox, cfg->system_users
	};
	char name[ADDR_MAX];

	if (policy_mailbox_name(rcpt, name, sizeof name) < 0)
		return status_make(ST_PERM, 1, 3, "Bad mailbox name");
	return local_deliver(&lc, name, rcpt->text, env->sender.text, fd,
	                     (off_t)offset);
}

/* deliver_run - the attempt */
void deliver_run(struct delivery *d)
{
	struct envelope env;
	struct timeval start;
	long long offset;
	const char *how;
	int fd;

	log_set_tag("d%lu", d->seq);
	gettimeofday(&start, NULL);
	d->bad = d->busy = d->uncounted = 0;
	d->arrival = 0;
	d->dest[0] = d->rcpt[0] = d->remote_mta[0] = d->diag[0] = '\0';
	/* A symbolic link in mess/ is no message of ours: never followed. */
	fd = openat(d->mess_fd, d->id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		d->result = status_make(ST_TEMP, 3, 0, "Cannot open queue file mess/%s: %s",
		                        d->id, strerror(e));
		d->bad = e == ENOENT ? DELIVERY_BAD_JOB      /* a job without message */
		       : e == ELOOP ? DELIVERY_BAD_MESSAGE : 0;
		log_event("delivery-error", "id=%s n=%u error=\"%s\"", d->id, d->n,
		          d->result.text);
		return;
	}
	envelope_init(&env);
	if (envelope_read(fd, &env, &offset) < 0 || d->n >= env.nrcpt) {
		int message_bad = env.nrcpt == 0;

		d->result = status_make(ST_PERM, 3, 0, message_bad
		                        ? "Queue file mess/%s is damaged"
		                        : "Job names a recipient mess/%s does not have", d->id);
		d->bad = message_bad ? DELIVERY_BAD_MESSAGE : DELIVERY_BAD_JOB;
		log_event("delivery-error", "id=%s n=%u error=\"%s\"", d->id, d->n,
		          d->result.text);
		envelope_free(&env);
		close(fd);
		return;
	}
	memcpy(d->rcpt, env.rcpt[d->n].text, sizeof d->rcpt);
	d->arrival = (long long)env.arrival;
	log_event("delivery-start", "id=%s rcpt=<%s> from=<%s>", d->id, d->rcpt,
	          env.sender.text);
	if (policy_is_local(d->cfg, &env.rcpt[d->n])) {
		how = "local";
		d->result = deliver_local(d, &env.rcpt[d->n], &env, fd, offset);
	} else {
		struct remote_result rr;

		how = "remote";
		snprintf(d->dest, sizeof d->dest, "%s", addr_domain(&env.rcpt[d->n]));
		if (destlimit_acquire(d->dests, d->dest) < 0) {
			/* Not an attempt: the scheduler parks the job until a
			 * delivery to this domain finishes. */
			d->busy = 1;
			d->result = status_make(ST_TEMP, 4, 5, "Too many deliveries to %s at once",
			                        d->dest);
			log_event("delivery-busy", "id=%s rcpt=<%s> dest=%s", d->id, d->rcpt,
			          d->dest);
			envelope_free(&env);
			close(fd);
			return;
		}
		remote_deliver(d->remote, env.sender.text, &env.rcpt[d->n],
		               env.body_8bit, fd, (off_t)offset, &rr);
		destlimit_release(d->dests, d->dest);
		d->result = rr.st;
		d->uncounted = !rr.counted;
		memcpy(d->remote_mta, rr.remote_mta, sizeof d->remote_mta);
		memcpy(d->diag, rr.diag, sizeof d->diag);
	}
	log_event(d->result.kind == ST_OK ? "delivered"
	          : d->result.kind == ST_TEMP ? "deferred" : "failed",
	          "id=%s rcpt=<%s> via=%s time=%ldms%s%s%s", d->id, d->rcpt, how,
	          elapsed_ms(&start), d->result.kind == ST_OK ? "" : " error=\"",
	          d->result.kind == ST_OK ? "" : d->result.text,
	          d->result.kind == ST_OK ? "" : "\"");
	envelope_free(&env);
	close(fd);
}
