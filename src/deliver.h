/* deliver - one delivery attempt of one recipient of one queued message:
 * the body of a delivery thread.
 *
 * Reads queue/mess/ID (the envelope, then the message), picks recipient
 * N, and delivers: local recipients through local.h, others through
 * remote.h.  Each attempt first takes a slot of its destination
 * (destlimit.h): a remote domain has --max-per-dest; a local mailbox
 * DELIVER_MBOX_SHARE with --mbox, --max-per-dest for a Maildir, and never
 * more than half of --max-deliveries (at least one), so that a mailbox
 * another program keeps locked cannot hold up the others.  Without a
 * slot nothing is attempted: d->busy, and the scheduler parks the job
 * until a delivery to that destination finishes.  It never
 * touches job files or the scheduler's memory: the result goes back in
 * struct delivery for the scheduler to apply.
 *
 * Contract: struct delivery is filled by the scheduler, handed to exactly
 * one thread, and handed back through the completion callback; the config
 * is borrowed (read-only, shared).
 */
#ifndef MTA_DELIVER_H
#define MTA_DELIVER_H

#include "config.h"
#include "destlimit.h"
#include "envelope.h"
#include "remote.h"
#include "status.h"

enum { DELIVER_MBOX_SHARE = 2 };   /* deliveries into one mbox at once */
/* slot keys of local mailboxes: no domain starts so (an address literal
 * starts with '[') */
#define DELIVER_LOCAL_KEY "local:"

struct delivery {
	const struct config *cfg;  /* a reference, put by the scheduler */
	const struct remote_ctx *remote;
	struct remote_ctx own_remote; /* remote's settings from cfg */
	struct destlimit *dests;   /* per-domain slots, shared */
	int mess_fd;               /* queue/mess, borrowed */
	char id[ENVELOPE_ID_MAX];
	unsigned n;                /* recipient number */
	unsigned long seq;         /* delivery number, for the log tag dN */
	void *job;                 /* the scheduler's job, opaque here */
	void *owner;               /* the scheduler, opaque here */
	/* results */
	struct status result;
	enum { DELIVERY_BAD_JOB = 1, DELIVERY_BAD_MESSAGE } bad;  /* quarantine */
	int busy;                  /* no slot for its dest: not attempted */
	int uncounted;             /* a round that reached no verdict (DNS) */
	long long arrival;         /* when the message arrived, epoch seconds */
	char dest[DNS_NAME_MAX];   /* its slot: the domain of a remote attempt,
	                            * DELIVER_LOCAL_KEY NAME for a mailbox, or
	                            * "" (none taken) */
	char rcpt[ADDR_MAX];       /* the recipient, for the log and bounces */
	char remote_mta[DNS_NAME_MAX]; /* the server that answered last, or "" */
	char diag[SMTP_REPLY_TEXT_MAX]; /* its reply, or "" */
	struct delivery *next;     /* completion queue link */
};

/* deliver_run - make the attempt; fills d->result, d->bad and d->rcpt */
void deliver_run(struct delivery *d);

#endif
