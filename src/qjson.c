/* qjson.c - the queue as JSON Lines; see qjson.h */
#include <errno.h>
#include <string.h>

#include "job.h"
#include "json.h"
#include "qjson.h"

/* put_recipient - the object of recipient n (address rcpt) with its job
 * j, or NULL for a message not yet scheduled; 0 when its job is gone
 * since the listing (nothing written), 1 written */
static int put_recipient(struct qlist *ql, FILE *out, unsigned n, const char *rcpt,
                         const struct queue_entry_job *j, int first)
{
	struct job_info info;
	const char *state = "unscheduled";

	memset(&info, 0, sizeof info);
	if (j != NULL) {
		switch (queue_job_read(qlist_queue(ql), j->name, &info, 1)) {
		case QUEUE_JOB_GONE:
			return 0;
		case QUEUE_JOB_READ:
			break;
		default:
			qlist_warn(ql, "rcpt/%s: job content unreadable", j->name);
			memset(&info, 0, sizeof info);
			break;
		}
		state = j->jn.due >= JOB_DUE_HELD ? "held"
		      : j->jn.due == JOB_DUE_BOUNCE ? "returning" : "queued";
	}
	fprintf(out, "%s{\"n\":%u,\"address\":", first ? "" : ",", n);
	json_put_string(out, rcpt);
	fprintf(out, ",\"state\":\"%s\",\"attempts\":%u,\"next_attempt\":", state,
	        info.attempts);
	if (j != NULL && !strcmp(state, "queued"))
		fprintf(out, "%lld", j->jn.due);
	else
		fputs("null", out);
	fputs(",\"first_failure\":", out);
	if (info.first)
		fprintf(out, "%lld", info.first);
	else
		fputs("null", out);
	fputs(",\"last_error\":", out);
	if (info.error[0])
		json_put_string(out, info.error);
	else
		fputs("null", out);
	fputs(",\"tls\":", out);
	if (info.tls[0])
		json_put_string(out, info.tls);
	else
		fputs("null", out);
	fputs(",\"warned\":", out);
	if (info.warned > 0)
		fprintf(out, "%lld", info.warned);
	else
		fputs("null", out);
	putc('}', out);
	return 1;
}

/* put_message - the line of listed message e, if sel picks it */
static void put_message(struct qlist *ql, FILE *out, const struct queue_listing *l,
                        const struct queue_entry *e, const struct qselect *sel)
{
	struct envelope env;
	long long size;
	size_t i;
	int first = 1;

	if (qlist_read_envelope(ql, e->where, e->id, &env, &size) != 0 ||
	    qselect_picked(sel, &env) == 0)
		goto done;
	fputs("{\"id\":", out);
	json_put_string(out, e->id);
	fprintf(out, ",\"scheduled\":%s,\"arrival\":%lld,\"size\":%lld,\"sender\":",
	        e->where == QUEUE_NEW ? "false" : "true", (long long)env.arrival, size);
	json_put_string(out, env.sender.text);
	fputs(",\"recipients\":[", out);
	if (e->where == QUEUE_NEW) {
		for (i = 0; i < env.nrcpt; i++)
			if (qselect_rcpt(sel, env.rcpt[i].text) &&
			    put_recipient(ql, out, (unsigned)i, env.rcpt[i].text, NULL, first))
				first = 0;
	}
	for (i = 0; e->where == QUEUE_MESS && i < e->njobs; i++) {
		const struct queue_entry_job *j = &l->jobs[e->job + i];
		const char *rcpt = j->jn.n < env.nrcpt ? env.rcpt[j->jn.n].text : NULL;

		if (rcpt == NULL) {
			qlist_warn(ql, "rcpt/%s: message %s has no recipient %u", j->name,
			           e->id, j->jn.n);
			continue;
		}
		if (qselect_rcpt(sel, rcpt) && put_recipient(ql, out, j->jn.n, rcpt, j, first))
			first = 0;
	}
	fputs("]}\n", out);
done:
	envelope_free(&env);
}

/* skipped - a name that is no queue ID or job name */
static void skipped(void *arg, enum queue_dir d, const char *name)
{
	qlist_warn(arg, "skipping %s/%s: not a queue name", queue_dir_name[d], name);
}

/* qjson_print - every message of the listing that sel picks */
int qjson_print(struct qlist *ql, FILE *out, const struct qselect *sel)
{
	struct queue_listing l;
	size_t i;
	int e;

	if (queue_list(qlist_queue(ql), &l, skipped, ql) < 0) {
		e = errno;
		queue_listing_free(&l);
		errno = e;
		return -1;
	}
	for (i = 0; i < l.nmsgs; i++)
		put_message(ql, out, &l, &l.msgs[i], sel);
	queue_listing_free(&l);
	return 0;
}
