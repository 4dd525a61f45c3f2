/* deliver - one delivery attempt of one or more recipients of one queued
 * message: the body of a delivery thread.
 *
 * Reads queue/mess/ID (the envelope, then the message) once, picks the
 * recipients numbered in d->r[], and delivers through the transport the
 * scheduler chose (transport.h; d->transport, or when the scheduler could
 * not read the envelope, the one transport_route() gives).
 *
 * The seam of grouped delivery: a delivery carries an array of
 * recipients (struct delivery_rcpt), all of one message, one transport
 * and one next hop, each with a result of its own.  A transport that
 * groups (transport_table[].group > 1) gets them all in one call and
 * fills every entry (SMTP: one transaction with several RCPTs); the
 * others always get exactly one.  Several recipients of a delivery share
 * its round facts (uncounted, unreachable: one round over one next hop);
 * each has its own status, reply, server and TLS, which the scheduler
 * applies to that recipient's job alone.
 *
 * The scheduler has taken the slots of its limits before it started the
 * thread (destlimit.h: one delivery is one slot, however many recipients
 * it carries); the attempt itself never waits for one.  It never touches
 * job files or the scheduler's memory: the results go back in struct
 * delivery for the scheduler to apply.
 *
 * Contract: struct delivery is made by delivery_new, filled by the
 * scheduler, handed to exactly one thread, handed back through the
 * completion callback and freed by delivery_free; the config is borrowed
 * (read-only, shared).
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

/* how a recipient was found unusable (quarantine) */
enum delivery_bad { DELIVERY_SOUND, DELIVERY_BAD_JOB, DELIVERY_BAD_MESSAGE };

/* one recipient of a delivery, and what came of it */
struct delivery_rcpt {
	unsigned n;                /* recipient number */
	void *job;                 /* the scheduler's job, opaque here */
	/* results */
	struct status result;
	enum delivery_bad bad;
	char rcpt[ADDR_MAX];       /* the recipient, for the log and bounces */
	char remote_mta[DNS_NAME_MAX]; /* the server that answered last, or "" */
	char diag[SMTP_REPLY_TEXT_MAX]; /* its reply, or "" */
	char tls[JOB_TLS_MAX];     /* its TLS (remote_result.tls), or "" */
	unsigned notify;           /* its NOTIFY= (dsn.h bits), and */
	int dsn_passed;            /* the server that took it offered DSN */
	int warned_now;            /* in the group's delay warning just sent
	                            * (sched_warn_group) */
};

struct delivery {
	const struct config *cfg;  /* a reference, put by the scheduler */
	const struct remote_ctx *remote;
	struct remote_ctx own_remote; /* remote's settings from cfg */
	int transport;             /* enum transport_id; -1: route here */
	int slotted;               /* the scheduler counts it in its limits */
	const struct queue *q;     /* the queue store, borrowed */
	char id[ENVELOPE_ID_MAX];
	int in_new;                /* the message was in new/ at dispatch (its
	                            * first attempt): looked for there first */
	unsigned long seq;         /* delivery number, for the log tag dN */
	void *owner;               /* the scheduler, opaque here */
	/* results of the round, shared by its recipients */
	enum { UNCOUNTED_DNS = 1, UNCOUNTED_DEAD_HOP } uncounted; /* a round
	                            * that reached no verdict, and why */
	int unreachable;           /* no server of its next hop answered */
	long long arrival;         /* when the message arrived, epoch seconds */
	char hop[TRANSPORT_HOP_MAX]; /* its next hop (transport.h) */
	struct delivery *next;     /* completion queue link */
	size_t nrcpt;              /* recipients in r[], at least 1 */
	size_t ntry;               /* deliver_run: the first ntry of r[] go to
	                            * the transport (the rest were settled
	                            * before it: no such recipient) */
	size_t cap;                /* room in r[] */
	struct delivery_rcpt r[];  /* in recipient order */
};

/* delivery_new - a zeroed delivery with room for cap recipients (nrcpt
 * 1), or NULL */
struct delivery *delivery_new(size_t cap);
/* delivery_grow - d with room for cap recipients (d may move: set
 * d->remote after it), or NULL when out of memory (d unchanged) */
struct delivery *delivery_grow(struct delivery *d, size_t cap);
/* delivery_free - free it (NULL: nothing) */
void delivery_free(struct delivery *d);
/* deliver_run - make the attempt; fills every d->r[i]'s result, bad and
 * rcpt, and the round's facts */
void deliver_run(struct delivery *d);

#endif
