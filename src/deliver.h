/* deliver - one delivery attempt of one recipient of one queued message:
 * the body of a delivery thread.
 *
 * Reads queue/mess/ID (the envelope, then the message), picks recipient
 * N, and delivers through the transport the scheduler chose
 * (transport.h; d->transport, or when the scheduler could not read the
 * envelope, the one transport_route() gives).  The scheduler has taken
 * the slots of its limits before it started the thread (destlimit.h);
 * the attempt itself never waits for one.  It never touches job files or
 * the scheduler's memory: the result goes back in struct delivery for the
 * scheduler to apply.
 *
 * Contract: struct delivery is filled by the scheduler, handed to exactly
 * one thread, and handed back through the completion callback; the config
 * is borrowed (read-only, shared).
 */
#ifndef MTA_DELIVER_H
#define MTA_DELIVER_H

#include "config.h"
#include "envelope.h"
#include "job.h"
#include "remote.h"
#include "status.h"
#include "transport.h"

struct queue;

struct delivery {
	const struct config *cfg;  /* a reference, put by the scheduler */
	const struct remote_ctx *remote;
	struct remote_ctx own_remote; /* remote's settings from cfg */
	int transport;             /* enum transport_id; -1: route here */
	int slotted;               /* the scheduler counts it in its limits */
	const struct queue *q;     /* the queue store, borrowed */
	char id[ENVELOPE_ID_MAX];
	unsigned n;                /* recipient number */
	unsigned long seq;         /* delivery number, for the log tag dN */
	void *job;                 /* the scheduler's job, opaque here */
	void *owner;               /* the scheduler, opaque here */
	/* results */
	struct status result;
	enum { DELIVERY_BAD_JOB = 1, DELIVERY_BAD_MESSAGE } bad;  /* quarantine */
	enum { UNCOUNTED_DNS = 1, UNCOUNTED_DEAD_HOP } uncounted; /* a round
	                            * that reached no verdict, and why */
	int unreachable;           /* no server of its next hop answered */
	long long arrival;         /* when the message arrived, epoch seconds */
	char hop[TRANSPORT_HOP_MAX]; /* its next hop (transport.h) */
	char rcpt[ADDR_MAX];       /* the recipient, for the log and bounces */
	char remote_mta[DNS_NAME_MAX]; /* the server that answered last, or "" */
	char diag[SMTP_REPLY_TEXT_MAX]; /* its reply, or "" */
	char tls[JOB_TLS_MAX];     /* its TLS (remote_result.tls), or "" */
	unsigned notify;           /* the recipient's NOTIFY= (dsn.h), and */
	int dsn_passed;            /* the server that took it offered DSN */
	struct delivery *next;     /* completion queue link */
};

/* deliver_run - make the attempt; fills d->result, d->bad and d->rcpt */
void deliver_run(struct delivery *d);

#endif
