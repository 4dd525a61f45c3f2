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
#include "sysuser.h"

/* elapsed_ms - milliseconds since t */
static long elapsed_ms(const struct timeval *t)
{
	struct timeval now;

	gettimeofday(&now, NULL);
	return (now.tv_sec - t->tv_sec) * 1000L + (now.tv_usec - t->tv_usec) / 1000L;
}

/* local_share - how many deliveries may run into one local mailbox at
 * once: DELIVER_MBOX_SHARE for an mbox (its appends take turns under its
 * lock anyway, and a program that keeps it locked holds each of them for
 * --mbox-lock-wait), --max-per-dest for a Maildir; never more than half
 * of --max-deliveries, and at least one */
static unsigned local_share(const struct config *cfg)
{
	unsigned n = cfg->mbox ? DELIVER_MBOX_SHARE : cfg->max_per_dest;
	unsigned half = cfg->max_deliveries / 2;

	if (half < 1)
		half = 1;
	return n < half ? n : half;
}

/* deliver_local - to a mailbox here, in one of its slots; sets d->busy
 * (nothing attempted) when they are all taken */
static struct status deliver_local(struct delivery *d,
                                   const struct mailbox *rcpt,
                                   const struct envelope *env, int fd,
                                   long long offset)
{
	const struct config *cfg = d->cfg;
	struct local_config lc = {
		cfg->mailroot, cfg->hostname, cfg->mbox, cfg->system_users,
		cfg->mbox_lock_wait
	};
	struct status st;
	char name[ADDR_MAX];
	int n;

	if (policy_mailbox_name(rcpt, name, sizeof name) < 0)
		return status_make(ST_PERM, 1, 3, "Bad mailbox name");
	/* The slot is the mailbox's: postmaster shares root's. */
	n = snprintf(d->dest, sizeof d->dest, "%s%s", DELIVER_LOCAL_KEY,
	             cfg->system_users ? sysuser_account(name) : name);
	if (n < 0 || (size_t)n >= sizeof d->dest) {  /* local parts are <= 64 */
		d->dest[0] = '\0';
		return status_make(ST_PERM, 1, 3, "Bad mailbox name");
	}
	if (destlimit_acquire_upto(d->dests, d->dest, local_share(cfg)) < 0) {
		d->busy = 1;
		return status_make(ST_TEMP, 4, 5, "Too many deliveries to mailbox "
		                   "%s at once", name);
	}
	st = local_deliver(&lc, name, rcpt->text, env->sender.text, fd,
	                   (off_t)offset);
	destlimit_release(d->dests, d->dest);
	return st;
}

/* deliver_run - the attempt */
void deliver_run(struct delivery *d)
{
	struct envelope env;
	struct timeval start;
	long long offset;
	const char *how;
	/* client-supplied addresses and texts, quoted for the log */
	char qrcpt[LOG_VALUE_MAX], qfrom[LOG_VALUE_MAX], qerr[LOG_LINE_MAX / 2];
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
		log_event("delivery-error", "id=%s n=%u error=%s", d->id, d->n,
		          log_quote(qerr, sizeof qerr, d->result.text));
		return;
	}
	envelope_init(&env);
	if (envelope_read(fd, &env, &offset) < 0 || d->n >= env.nrcpt) {
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
	if (policy_is_local(d->cfg, &env.rcpt[d->n])) {
		how = "local";
		d->result = deliver_local(d, &env.rcpt[d->n], &env, fd, offset);
	} else {
		struct remote_result rr;

		how = "remote";
		snprintf(d->dest, sizeof d->dest, "%s", addr_domain(&env.rcpt[d->n]));
		if (destlimit_acquire_upto(d->dests, d->dest, d->cfg->max_per_dest) < 0) {
			d->busy = 1;
			d->result = status_make(ST_TEMP, 4, 5, "Too many deliveries to %s at once",
			                        d->dest);
		} else {
			remote_deliver(d->remote, env.sender.text, &env.rcpt[d->n],
			               env.body_8bit, fd, (off_t)offset, &rr);
			destlimit_release(d->dests, d->dest);
			d->result = rr.st;
			d->uncounted = !rr.counted;
			memcpy(d->remote_mta, rr.remote_mta, sizeof d->remote_mta);
			memcpy(d->diag, rr.diag, sizeof d->diag);
		}
	}
	if (d->busy) {
		/* Not an attempt: the scheduler parks the job until a delivery
		 * to this destination finishes. */
		log_event("delivery-busy", "id=%s rcpt=%s dest=%s", d->id, qrcpt,
		          log_quote(qerr, sizeof qerr, d->dest));
		envelope_free(&env);
		close(fd);
		return;
	}
	log_event(d->result.kind == ST_OK ? "delivered"
	          : d->result.kind == ST_TEMP ? "deferred" : "failed",
	          "id=%s rcpt=%s via=%s time=%ldms%s%s", d->id, qrcpt, how,
	          elapsed_ms(&start), d->result.kind == ST_OK ? "" : " error=",
	          d->result.kind == ST_OK ? "" :
	          log_quote(qerr, sizeof qerr, d->result.text));
	envelope_free(&env);
	close(fd);
}
