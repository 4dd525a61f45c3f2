/* dns.c - MX and address lookups with the reentrant resolver; see dns.h */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dns.h"
#include "netaddr.h"

/* A DNS message over TCP is at most 65535 bytes.  res_nquery() returns the
 * answer's full length even when it did not fit the buffer, so a smaller
 * buffer would need the length clamped and would lose records; this one
 * always fits.  On the heap: delivery threads have small stacks. */
enum { ANSWER_MAX = 65536 };

/* dns_config_parse - the --dns option */
int dns_config_parse(struct dns_config *cfg, const char *text)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(cfg, 0, sizeof *cfg);
	cfg->timeout_s = 3;
	if (text == NULL)
		return 0;
	if (netaddr_parse(text, 53, &ss, &len) < 0 || ss.ss_family != AF_INET)
		return -1;
	memcpy(&cfg->server, &ss, sizeof cfg->server);
	cfg->use_server = 1;
	return 0;
}

/* ask - one question; the answer length, or -1 with *res set */
static int ask(const struct dns_config *cfg, const char *name, int type,
               unsigned char *answer, int len, enum dns_result *res)
{
	struct __res_state st;
	int n;

	memset(&st, 0, sizeof st);
	if (res_ninit(&st) < 0) {
		*res = DNS_TEMP;
		return -1;
	}
	if (cfg->use_server) {
		st.nscount = 1;
		st.nsaddr_list[0] = cfg->server;
	}
	st.retrans = cfg->timeout_s;
	st.retry = 2;
	/* Mail domains are absolute: no search list, no default domain. */
	st.options &= ~(unsigned long)(RES_DEFNAMES | RES_DNSRCH);
	n = res_nquery(&st, name, ns_c_in, type, answer, len);
	if (n > len)
		n = len;            /* truncated: parse only what is there */
	if (n < 0) {
		switch (st.res_h_errno) {
		case HOST_NOT_FOUND: *res = DNS_NXDOMAIN; break;
		case NO_DATA:        *res = DNS_NODATA; break;
		default:             *res = DNS_TEMP; break;
		}
	}
	res_nclose(&st);
	return n;
}

/* query - one question, its answer parsed into msg: the answer (msg
 * points into it; the caller frees it), or NULL with *res set */
static unsigned char *query(const struct dns_config *cfg, const char *name,
                            int type, ns_msg *msg, enum dns_result *res)
{
	unsigned char *answer = malloc(ANSWER_MAX);
	int len;

	*res = DNS_TEMP;
	if (answer == NULL)
		return NULL;
	len = ask(cfg, name, type, answer, ANSWER_MAX, res);
	if (len < 0 || ns_initparse(answer, len, msg) < 0) {
		if (len >= 0)
			*res = DNS_TEMP;
		free(answer);
		return NULL;
	}
	return answer;
}

/* dns_mx_keep - at the end while there is room, then over the least
 * preferred one kept if rec is better (answers are in no order: the best
 * max must survive), else dropped */
void dns_mx_keep(struct dns_mx *mx, size_t max, size_t *n,
                 const struct dns_mx *rec)
{
	size_t i, worst = 0;

	if (*n < max) {
		mx[(*n)++] = *rec;
		return;
	}
	for (i = 1; i < max; i++)
		if (mx[i].pref > mx[worst].pref)
			worst = i;
	if (max > 0 && rec->pref < mx[worst].pref)
		mx[worst] = *rec;
}

/* dns_mx - MX records */
enum dns_result dns_mx(const struct dns_config *cfg, const char *domain,
                       struct dns_mx *mx, size_t max, size_t *n)
{
	unsigned char *answer;
	enum dns_result res;
	ns_msg msg;
	int i, count;

	*n = 0;
	if ((answer = query(cfg, domain, ns_t_mx, &msg, &res)) == NULL)
		return res;
	count = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < count; i++) {
		struct dns_mx rec;
		const unsigned char *rd;
		ns_rr rr;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			break;
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3)
			continue;         /* a CNAME on the way, say */
		rd = ns_rr_rdata(rr);
		rec.pref = ns_get16(rd);
		if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), rd + 2,
		                       rec.name, sizeof rec.name) < 0)
			break;
		if (strcmp(rec.name, ".") == 0)
			rec.name[0] = '\0';
		dns_mx_keep(mx, max, n, &rec);
	}
	free(answer);
	if (i < count) {
		*n = 0;               /* a damaged answer: trust none of it */
		return DNS_TEMP;
	}
	if (*n == 0)
		return DNS_NODATA;
	dns_mx_order(mx, *n);
	return DNS_OK;
}

/* each_record - ask name for type and give each answer record of that
 * type to visit(rr, arg) until it returns nonzero; DNS_OK (records or
 * none), or why not (a damaged answer: DNS_TEMP) */
static enum dns_result each_record(const struct dns_config *cfg,
                                   const char *name, int type,
                                   int (*visit)(const ns_rr *rr, void *arg),
                                   void *arg)
{
	unsigned char *answer;
	enum dns_result res;
	ns_msg msg;
	int i, count;

	if ((answer = query(cfg, name, type, &msg, &res)) == NULL)
		return res;
	count = ns_msg_count(msg, ns_s_an);
	res = DNS_OK;
	for (i = 0; i < count; i++) {
		ns_rr rr;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
			res = DNS_TEMP;
			break;
		}
		if ((int)ns_rr_type(rr) == type && visit(&rr, arg))
			break;
	}
	free(answer);
	return res;
}

/* the addresses add_addr collects */
struct addr_list {
	struct sockaddr_storage *addrs;
	size_t max, *n;
};

/* add_addr - one A or AAAA record; nonzero when the list is full */
static int add_addr(const ns_rr *rr, void *arg)
{
	struct addr_list *l = arg;
	struct sockaddr_storage *ss = &l->addrs[*l->n];

	memset(ss, 0, sizeof *ss);
	if (ns_rr_type(*rr) == ns_t_a && ns_rr_rdlen(*rr) == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, ns_rr_rdata(*rr), 4);
		(*l->n)++;
	} else if (ns_rr_type(*rr) == ns_t_aaaa && ns_rr_rdlen(*rr) == 16) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, ns_rr_rdata(*rr), 16);
		(*l->n)++;
	}
	return *l->n >= l->max;
}

/* add_addrs - append the A or AAAA records of name */
static enum dns_result add_addrs(const struct dns_config *cfg, const char *name,
                                 int type, struct sockaddr_storage *addrs,
                                 size_t max, size_t *n)
{
	struct addr_list l = { addrs, max, n };

	if (*n >= max)
		return DNS_OK;
	return each_record(cfg, name, type, add_addr, &l);
}

/* dns_addrs - A then AAAA */
enum dns_result dns_addrs(const struct dns_config *cfg, const char *name,
                          struct sockaddr_storage *addrs, size_t max,
                          size_t *n)
{
	enum dns_result a, aaaa;

	*n = 0;
	a = add_addrs(cfg, name, ns_t_a, addrs, max, n);
	if (a == DNS_NXDOMAIN)
		return a;
	aaaa = add_addrs(cfg, name, ns_t_aaaa, addrs, max, n);
	if (*n > 0)
		return DNS_OK;
	if (a == DNS_TEMP || aaaa == DNS_TEMP)
		return DNS_TEMP;
	return aaaa == DNS_NXDOMAIN ? DNS_NXDOMAIN : DNS_NODATA;
}

/* txt_join - one TXT record's character-strings, joined, into out */
static void txt_join(const unsigned char *rd, size_t len, char *out)
{
	size_t i = 0, used = 0;

	while (i < len) {
		size_t n = rd[i++];

		if (n > len - i)
			n = len - i;
		if (n > DNS_TXT_MAX - 1 - used)
			n = DNS_TXT_MAX - 1 - used;
		memcpy(out + used, rd + i, n);
		used += n;
		i += rd[i - 1];
	}
	out[used] = '\0';
}

/* the records add_txt collects */
struct txt_list {
	char (*txt)[DNS_TXT_MAX];
	size_t max, *n;
};

/* add_txt - one TXT record; nonzero when the list is full */
static int add_txt(const ns_rr *rr, void *arg)
{
	struct txt_list *l = arg;

	txt_join(ns_rr_rdata(*rr), ns_rr_rdlen(*rr), l->txt[(*l->n)++]);
	return *l->n >= l->max;
}

/* dns_txt - TXT records */
enum dns_result dns_txt(const struct dns_config *cfg, const char *name,
                        char (*txt)[DNS_TXT_MAX], size_t max, size_t *n)
{
	struct txt_list l = { txt, max, n };
	enum dns_result r;

	*n = 0;
	if (max == 0)
		return DNS_NODATA;
	r = each_record(cfg, name, ns_t_txt, add_txt, &l);
	if (r != DNS_OK)
		*n = 0;                 /* a damaged answer: trust none of it */
	return r != DNS_OK ? r : *n > 0 ? DNS_OK : DNS_NODATA;
}

/* by_pref - qsort order */
static int by_pref(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

/* dns_mx_order - sorted with a seed that varies */
void dns_mx_order(struct dns_mx *mx, size_t n)
{
	struct timespec now;   /* any varying seed spreads the load */

	clock_gettime(CLOCK_MONOTONIC, &now);
	dns_mx_sort(mx, n, (unsigned)now.tv_nsec);
}

/* dns_mx_sort - preference order, shuffling equal preferences */
void dns_mx_sort(struct dns_mx *mx, size_t n, unsigned seed)
{
	size_t i, start;

	qsort(mx, n, sizeof *mx, by_pref);
	for (start = 0; start < n; start = i) {
		for (i = start + 1; i < n && mx[i].pref == mx[start].pref; i++)
			;
		/* Fisher-Yates over [start, i) */
		for (size_t k = i - 1; k > start; k--) {
			size_t r = start + (size_t)rand_r(&seed) % (k - start + 1);
			struct dns_mx t = mx[k];

			mx[k] = mx[r];
			mx[r] = t;
		}
	}
}

/* dns_mx_is_null - exactly one MX, and it is "." */
int dns_mx_is_null(const struct dns_mx *mx, size_t n)
{
	return n == 1 && mx[0].name[0] == '\0';
}
