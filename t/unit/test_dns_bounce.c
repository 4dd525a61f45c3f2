/* test_dns_bounce.c - the pure parts of dns (MX order, null MX, --dns)
 * and bounce_compose (the RFC 3464 report, parsed back) */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bounce.h"
#include "dns.h"

/* ---- dns_mx_sort ------------------------------------------------------- */

/* set_mx - fill mx[i] */
static void set_mx(struct dns_mx *mx, unsigned pref, const char *name)
{
	mx->pref = pref;
	snprintf(mx->name, sizeof mx->name, "%s", name);
}

/* same_names - a and b hold the same names, in any order */
static int same_names(const struct dns_mx *a, const struct dns_mx *b, size_t n)
{
	int used[DNS_MX_MAX] = { 0 };
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++)
			if (!used[j] && strcmp(a[i].name, b[j].name) == 0 &&
			    a[i].pref == b[j].pref)
				break;
		if (j == n)
			return 0;
		used[j] = 1;
	}
	return 1;
}

Test(dns_mx, sorted_by_preference)
{
	struct dns_mx in[6], mx[6];
	unsigned seed;
	size_t i;

	set_mx(&in[0], 30, "c1.example");
	set_mx(&in[1], 10, "a1.example");
	set_mx(&in[2], 20, "b1.example");
	set_mx(&in[3], 10, "a2.example");
	set_mx(&in[4], 30, "c2.example");
	set_mx(&in[5], 5, "first.example");
	for (seed = 0; seed < 50; seed++) {
		memcpy(mx, in, sizeof mx);
		dns_mx_sort(mx, 6, seed);
		for (i = 1; i < 6; i++)
			cr_assert_leq(mx[i - 1].pref, mx[i].pref, "seed %u: pref %u before %u",
			              seed, mx[i - 1].pref, mx[i].pref);
		cr_assert(same_names(mx, in, 6), "seed %u: a record lost or changed", seed);
		cr_assert_str_eq(mx[0].name, "first.example");
		cr_assert_str_eq(mx[3].name, "b1.example");
	}
}

Test(dns_mx, preference_is_numeric_not_textual)
{
	struct dns_mx mx[3];

	set_mx(&mx[0], 100, "hundred");
	set_mx(&mx[1], 9, "nine");
	set_mx(&mx[2], 65535, "max");
	dns_mx_sort(mx, 3, 1);
	cr_assert_str_eq(mx[0].name, "nine");
	cr_assert_str_eq(mx[1].name, "hundred");
	cr_assert_str_eq(mx[2].name, "max");
}

Test(dns_mx, equal_preferences_shuffled_all_present)
{
	struct dns_mx in[8], mx[8];
	int first[8] = { 0 }, orders = 0;
	char prev[8 * 8] = "", cur[8 * 8];
	unsigned seed;
	size_t i;

	for (i = 0; i < 8; i++) {
		char name[16];

		snprintf(name, sizeof name, "mx%zu", i);
		set_mx(&in[i], 10, name);
	}
	for (seed = 0; seed < 400; seed++) {
		memcpy(mx, in, sizeof mx);
		dns_mx_sort(mx, 8, seed);
		cr_assert(same_names(mx, in, 8), "seed %u: not a permutation", seed);
		first[mx[0].name[2] - '0']++;
		for (i = 0; i < 8; i++)
			cur[i] = mx[i].name[2];
		cur[8] = '\0';
		if (strcmp(cur, prev) != 0)
			orders++;
		memcpy(prev, cur, sizeof prev);
	}
	/* 400 shuffles of 8: each comes first about 50 times */
	for (i = 0; i < 8; i++)
		cr_assert_gt(first[i], 10, "mx%zu first only %d times in 400", i, first[i]);
	cr_assert_gt(orders, 300, "only %d order changes in 400 seeds", orders);
}

Test(dns_mx, shuffle_stays_within_its_preference)
{
	struct dns_mx mx[6];
	unsigned seed;
	size_t i;

	for (seed = 0; seed < 100; seed++) {
		set_mx(&mx[0], 20, "b1");
		set_mx(&mx[1], 10, "a1");
		set_mx(&mx[2], 20, "b2");
		set_mx(&mx[3], 10, "a2");
		set_mx(&mx[4], 20, "b3");
		set_mx(&mx[5], 10, "a3");
		dns_mx_sort(mx, 6, seed);
		for (i = 0; i < 3; i++)
			cr_assert_eq(mx[i].name[0], 'a', "seed %u: %s at %zu", seed, mx[i].name, i);
		for (i = 3; i < 6; i++)
			cr_assert_eq(mx[i].name[0], 'b', "seed %u: %s at %zu", seed, mx[i].name, i);
	}
}

Test(dns_mx, deterministic_per_seed)
{
	struct dns_mx in[10], a[10], b[10];
	unsigned seed;
	size_t i;

	for (i = 0; i < 10; i++) {
		char name[16];

		snprintf(name, sizeof name, "h%zu", i);
		set_mx(&in[i], (unsigned)(i % 3) * 10, name);
	}
	for (seed = 0; seed < 50; seed++) {
		memcpy(a, in, sizeof a);
		memcpy(b, in, sizeof b);
		dns_mx_sort(a, 10, seed);
		dns_mx_sort(b, 10, seed);
		for (i = 0; i < 10; i++)
			cr_assert_str_eq(a[i].name, b[i].name, "seed %u differs at %zu", seed, i);
	}
}

Test(dns_mx, empty_and_single)
{
	struct dns_mx mx[1];

	dns_mx_sort(mx, 0, 7);          /* nothing to do, nothing touched */
	set_mx(&mx[0], 10, "only.example");
	dns_mx_sort(mx, 1, 7);
	cr_assert_str_eq(mx[0].name, "only.example");
	cr_assert_eq(mx[0].pref, 10);
}

/* ---- dns_mx_is_null ------------------------------------------------------ */

Test(dns_mx, null_mx)
{
	struct dns_mx mx[2];

	set_mx(&mx[0], 0, "");           /* "." as dns_mx() stores it */
	cr_assert(dns_mx_is_null(mx, 1), "a lone \".\" is the null MX");
	mx[0].pref = 10;
	cr_assert(dns_mx_is_null(mx, 1), "whatever its preference");
	cr_assert_not(dns_mx_is_null(mx, 0), "no records is not a null MX");
	set_mx(&mx[0], 10, "mx.example");
	cr_assert_not(dns_mx_is_null(mx, 1), "a real MX");
	set_mx(&mx[0], 0, "");
	set_mx(&mx[1], 10, "mx.example");
	cr_assert_not(dns_mx_is_null(mx, 2),
	              "\".\" beside a real MX is not a null MX (RFC 7505 3)");
}

/* ---- dns_config_parse ---------------------------------------------------- */

Test(dns_config, parse)
{
	struct dns_config c;

	cr_assert_eq(dns_config_parse(&c, NULL), 0);
	cr_assert_eq(c.use_server, 0, "NULL: resolv.conf");
	cr_assert_gt(c.timeout_s, 0);
	cr_assert_eq(dns_config_parse(&c, "127.0.0.1:5353"), 0);
	cr_assert_eq(c.use_server, 1);
	cr_assert_eq(ntohs(c.server.sin_port), 5353);
	cr_assert_eq(ntohl(c.server.sin_addr.s_addr), 0x7f000001u);
	cr_assert_eq(dns_config_parse(&c, "127.0.0.2"), 0);
	cr_assert_eq(ntohs(c.server.sin_port), 53, "default port 53");
	cr_assert_eq(dns_config_parse(&c, "[::1]:53"), -1, "IPv6 refused (IPv4 only)");
	cr_assert_eq(dns_config_parse(&c, "dns.example"), -1, "a name is not an address");
	cr_assert_eq(dns_config_parse(&c, "127.0.0.1:x"), -1);
}

/* ---- bounce_compose ----------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

/* collect - bounce_compose's out(): append to a struct buf */
static void collect(void *ctx, const char *p, size_t len)
{
	struct buf *b = ctx;

	if (b->len + len + 1 > b->cap) {
		b->cap = (b->len + len + 1) * 2;
		b->p = realloc(b->p, b->cap);
		cr_assert_not_null(b->p);
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
}

/* message_file - a temp file holding prefix then msg; returns the fd */
static int message_file(const char *prefix, const char *msg, size_t msglen)
{
	char path[] = "/tmp/test_bounce.XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(write(fd, prefix, strlen(prefix)), (ssize_t)strlen(prefix));
	cr_assert_eq(write(fd, msg, msglen), (ssize_t)msglen);
	return fd;
}

/* sample_env - the envelope of the bounced message */
static void sample_env(struct envelope *env)
{
	envelope_init(env);
	snprintf(env->id, sizeof env->id, "660ED52886B890");
	env->arrival = 1795422268;
	cr_assert_eq(mailbox_from_text(&env->sender, "alice@example.org",
	                               strlen("alice@example.org")), 0);
}

/* header_value - the value of the first "name: " line in [p, end) */
static char *header_value(const char *p, const char *end, const char *name)
{
	size_t n = strlen(name);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			nl = end;
		if ((size_t)(nl - p) > n + 1 && strncasecmp(p, name, n) == 0 &&
		    p[n] == ':' && p[n + 1] == ' ')
			return strndup(p + n + 2, (size_t)(nl - p - (ptrdiff_t)n - 2));
		p = nl + 1;
	}
	return NULL;
}

/* count - occurrences of needle in [p, end) */
static int count(const char *p, const char *end, const char *needle)
{
	int c = 0;
	size_t n = strlen(needle);

	while ((p = memmem(p, (size_t)(end - p), needle, n)) != NULL) {
		c++;
		p += n;
	}
	return c;
}

struct report {
	char boundary[256];
	const char *part[3], *part_end[3];   /* each part: its header and body */
};

/* parse_report - split a composed report at its boundary; fails the test
 * when the structure is wrong */
static void parse_report(const struct buf *b, struct report *r)
{
	const char *end = b->p + b->len, *hend, *p;
	char delim[300], *ct, *q;
	int i;

	cr_assert_null(memchr(b->p, '\r', b->len), "LF line ends, as stored");
	cr_assert_null(memchr(b->p, '\0', b->len), "no NUL");
	hend = strstr(b->p, "\n\n");
	cr_assert_not_null(hend, "a header and a body");
	ct = header_value(b->p, hend, "Content-Type");
	cr_assert_not_null(ct);
	cr_assert(strncmp(ct, "multipart/report; report-type=delivery-status;", 46) == 0,
	          "Content-Type: %s", ct);
	free(ct);
	p = strstr(b->p, "boundary=\"");
	cr_assert(p != NULL && p < hend, "a boundary parameter in the header");
	p += strlen("boundary=\"");
	q = strchr(p, '"');
	cr_assert_not_null(q);
	cr_assert_lt((size_t)(q - p), sizeof r->boundary);
	memcpy(r->boundary, p, (size_t)(q - p));
	r->boundary[q - p] = '\0';
	cr_assert_gt(strlen(r->boundary), 0);
	cr_assert_leq(strlen(r->boundary), 70, "RFC 2046: at most 70 characters");

	snprintf(delim, sizeof delim, "\n--%s\n", r->boundary);
	cr_assert_eq(count(b->p, end, delim), 3, "three parts");
	snprintf(delim, sizeof delim, "\n--%s--\n", r->boundary);
	cr_assert_eq(count(b->p, end, delim), 1, "one closing delimiter");
	cr_assert(b->len >= strlen(delim) &&
	          memcmp(end - strlen(delim), delim, strlen(delim)) == 0,
	          "the closing delimiter ends it");
	snprintf(delim, sizeof delim, "\n--%s", r->boundary);
	p = hend + 1;
	for (i = 0; i < 3; i++) {
		p = memmem(p, (size_t)(end - p), delim, strlen(delim));
		cr_assert_not_null(p);
		p += strlen(delim) + 1;
		r->part[i] = p;
		r->part_end[i] = memmem(p, (size_t)(end - p), delim, strlen(delim));
		cr_assert_not_null(r->part_end[i]);
	}
}

/* part_type - a part's Content-Type, checked */
static void part_type(const struct report *r, int i, const char *want)
{
	const char *hend = memmem(r->part[i], (size_t)(r->part_end[i] - r->part[i]),
	                          "\n\n", 2);
	char *ct;

	cr_assert_not_null(hend, "part %d has a header", i + 1);
	ct = header_value(r->part[i], hend, "Content-Type");
	cr_assert_not_null(ct, "part %d has a Content-Type", i + 1);
	cr_assert(strncmp(ct, want, strlen(want)) == 0, "part %d: %s, want %s", i + 1,
	          ct, want);
	free(ct);
}

/* part_body - a part's body as a new string */
static char *part_body(const struct report *r, int i)
{
	const char *hend = memmem(r->part[i], (size_t)(r->part_end[i] - r->part[i]),
	                          "\n\n", 2);

	cr_assert_not_null(hend);
	return strndup(hend + 2, (size_t)(r->part_end[i] - hend - 2));
}

static const char sample_msg[] =
	"Received: from client.test ([127.0.0.1])\n"
	"\tby mx.test.example (mta) with ESMTP id 660ED52886B890;\n"
	"\tMon, 23 Nov 2026 08:00:00 +0000\n"
	"From: Alice <alice@example.org>\n"
	"Subject: the original\n"
	"Message-ID: <orig@example.org>\n"
	"\n"
	"The body must not be in the report.\n"
	"--660EE00000000A/mx.test.example\n";

Test(bounce, compose_structure)
{
	struct bounce_rcpt r[3];
	struct envelope env;
	struct report rep;
	struct buf b = { 0 };
	const char *hend;
	char *v, *ds, *text, *hdrs;
	int fd, nblocks = 0;

	sample_env(&env);
	fd = message_file("mta-envelope 1\nid 660ED52886B890\n\n", sample_msg,
	                  strlen(sample_msg));
	r[0] = (struct bounce_rcpt){ "bob@example.net", { ST_PERM, 1, 1, "mx said: 550" },
	                             "mx.example.net", "550 5.1.1 <bob@example.net>: no such user" , BOUNCE_FAILED, 0 };
	r[1] = (struct bounce_rcpt){ "carol@example.com", { ST_TEMP, 4, 1, "connect: refused" },
	                             "", "" , BOUNCE_FAILED, 0 };
	r[2] = (struct bounce_rcpt){ "dave@[192.0.2.7]", { ST_PERM, 1, 10, "null MX" },
	                             NULL, NULL , BOUNCE_FAILED, 0 };
	bounce_compose("mx.test.example", "660EE00000000A", &env, fd,
	               (off_t)strlen("mta-envelope 1\nid 660ED52886B890\n\n"), r, 3,
	               1795422300, collect, &b);
	close(fd);
	cr_assert_not_null(b.p);

	/* the header */
	hend = strstr(b.p, "\n\n");
	cr_assert_not_null(hend);
	v = header_value(b.p, hend, "From");
	cr_assert_not_null(v);
	cr_assert_not_null(strstr(v, "<MAILER-DAEMON@mx.test.example>"), "From: %s", v);
	free(v);
	v = header_value(b.p, hend, "To");
	cr_assert_str_eq(v, "<alice@example.org>");
	free(v);
	v = header_value(b.p, hend, "Auto-Submitted");
	cr_assert_str_eq(v, "auto-replied");
	free(v);
	v = header_value(b.p, hend, "MIME-Version");
	cr_assert_str_eq(v, "1.0");
	free(v);
	v = header_value(b.p, hend, "Message-ID");
	cr_assert_str_eq(v, "<660EE00000000A@mx.test.example>");
	free(v);
	v = header_value(b.p, hend, "Date");
	cr_assert_not_null(v);
	cr_assert_not_null(strstr(v, "2026"), "Date: %s", v);
	free(v);
	v = header_value(b.p, hend, "Subject");
	cr_assert_not_null(v);
	free(v);

	/* the original's body holds this report's delimiter line: copied by
	 * mistake, it would make a fourth part */
	parse_report(&b, &rep);
	part_type(&rep, 0, "text/plain");
	part_type(&rep, 1, "message/delivery-status");
	part_type(&rep, 2, "text/rfc822-headers");

	/* 1: for people */
	text = part_body(&rep, 0);
	cr_assert_not_null(strstr(text, "<bob@example.net>: mx said: 550"));
	cr_assert_not_null(strstr(text, "<carol@example.com>: connect: refused"));
	cr_assert_not_null(strstr(text, "<dave@[192.0.2.7]>: null MX"));
	cr_assert_not_null(strstr(text, "660ED52886B890"), "names the queue ID");
	free(text);

	/* 2: per-message block, then one block per recipient */
	ds = part_body(&rep, 1);
	{
		char *p = ds, *next, *blocks[8];

		while (*p == '\n')
			p++;
		while (p && *p && nblocks < 8) {
			next = strstr(p, "\n\n");
			if (next) {
				*next = '\0';
				next += 2;
				while (*next == '\n')
					next++;
			}
			blocks[nblocks++] = p;
			p = next;
		}
		cr_assert_eq(nblocks, 4, "a per-message block and 3 per-recipient blocks");
		cr_assert_not_null(strstr(blocks[0], "Reporting-MTA: dns; mx.test.example"));
		cr_assert_not_null(strstr(blocks[0], "Arrival-Date: "));
		cr_assert_null(strstr(blocks[0], "Final-Recipient:"));

		cr_assert_not_null(strstr(blocks[1], "Final-Recipient: rfc822; bob@example.net\n"));
		cr_assert_not_null(strstr(blocks[1], "Action: failed\n"));
		cr_assert_not_null(strstr(blocks[1], "Status: 5.1.1\n"));
		cr_assert_not_null(strstr(blocks[1], "Remote-MTA: dns; mx.example.net\n"));
		cr_assert_not_null(strstr(blocks[1],
		        "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: no such user"));

		cr_assert_not_null(strstr(blocks[2], "Final-Recipient: rfc822; carol@example.com\n"));
		cr_assert_not_null(strstr(blocks[2], "Action: failed\n"));
		cr_assert_not_null(strstr(blocks[2], "Status: 4.4.1\n"),
		                   "a temporary failure out of attempts keeps class 4");
		cr_assert_null(strstr(blocks[2], "Remote-MTA:"), "no server: no Remote-MTA");
		cr_assert_null(strstr(blocks[2], "Diagnostic-Code:"), "no reply: no Diagnostic-Code");

		cr_assert_not_null(strstr(blocks[3], "Final-Recipient: rfc822; dave@[192.0.2.7]\n"));
		cr_assert_not_null(strstr(blocks[3], "Status: 5.1.10\n"));
		cr_assert_null(strstr(blocks[3], "Remote-MTA:"));
		cr_assert_null(strstr(blocks[3], "Diagnostic-Code:"));
	}
	free(ds);

	/* 3: the original header, exactly, and nothing of the body */
	hdrs = part_body(&rep, 2);
	{
		size_t hl = (size_t)(strstr(sample_msg, "\n\n") - sample_msg) + 1;

		cr_assert(strncmp(hdrs, sample_msg, hl) == 0, "the header copied: %s", hdrs);
		cr_assert_null(strstr(hdrs, "The body"), "no body in the headers part");
	}
	free(hdrs);
	free(b.p);
	envelope_free(&env);
}

Test(bounce, long_header_over_several_reads)
{
	struct bounce_rcpt r = { "bob@example.net", { ST_PERM, 1, 1, "no" }, "", "", BOUNCE_FAILED, 0 };
	struct envelope env;
	struct report rep;
	struct buf b = { 0 };
	char *msg, *hdrs;
	size_t len = 0, i;
	int fd;

	/* ~12 KB of header: pread in 4 KB pieces must find the empty line */
	msg = malloc(20000);
	cr_assert_not_null(msg);
	for (i = 0; i < 200; i++)
		len += (size_t)sprintf(msg + len, "X-Filler-%03zu: %s\n", i,
		                       "fffffffffffffffffffffffffffffffffffffffffffff");
	len += (size_t)sprintf(msg + len, "\nbody line\n");
	sample_env(&env);
	fd = message_file("", msg, len);
	bounce_compose("mx.test.example", "660EE00000000B", &env, fd, 0, &r, 1,
	               1795422300, collect, &b);
	close(fd);
	parse_report(&b, &rep);
	hdrs = part_body(&rep, 2);
	cr_assert(strstr(hdrs, "X-Filler-000: ") == hdrs);
	cr_assert_not_null(strstr(hdrs, "X-Filler-199: "));
	cr_assert_null(strstr(hdrs, "body line"));
	free(hdrs);
	free(b.p);
	free(msg);
	envelope_free(&env);
}

Test(bounce, huge_header_is_cut_and_report_stays_whole)
{
	struct bounce_rcpt r = { "bob@example.net", { ST_PERM, 1, 1, "no" }, "", "", BOUNCE_FAILED, 0 };
	struct envelope env;
	struct report rep;
	struct buf b = { 0 };
	char *msg;
	size_t len = 0;
	int fd;

	msg = malloc(300000);
	cr_assert_not_null(msg);
	while (len < 200000)
		len += (size_t)sprintf(msg + len, "X-Long: %0100d\n", 0);
	len += (size_t)sprintf(msg + len, "\nbody\n");
	sample_env(&env);
	fd = message_file("", msg, len);
	bounce_compose("mx.test.example", "660EE00000000C", &env, fd, 0, &r, 1,
	               1795422300, collect, &b);
	close(fd);
	cr_assert_lt(b.len, 100000, "the copy is bounded (%zu bytes)", b.len);
	parse_report(&b, &rep);       /* still three parts and a closing line */
	free(b.p);
	free(msg);
	envelope_free(&env);
}

Test(bounce, header_only_message_without_final_newline)
{
	static const char msg[] = "Subject: no body\nFrom: a@example.org";
	struct bounce_rcpt r = { "bob@example.net", { ST_PERM, 1, 1, "no" }, "", "", BOUNCE_FAILED, 0 };
	struct envelope env;
	struct report rep;
	struct buf b = { 0 };
	char *hdrs;
	int fd;

	sample_env(&env);
	fd = message_file("", msg, strlen(msg));
	bounce_compose("mx.test.example", "660EE00000000D", &env, fd, 0, &r, 1,
	               1795422300, collect, &b);
	close(fd);
	parse_report(&b, &rep);
	hdrs = part_body(&rep, 2);
	cr_assert(strncmp(hdrs, "Subject: no body\nFrom: a@example.org\n",
	                  strlen("Subject: no body\nFrom: a@example.org\n")) == 0,
	          "got: %s", hdrs);
	free(hdrs);
	free(b.p);
	envelope_free(&env);
}

Test(bounce, never_for_the_null_sender)
{
	struct bounce_rcpt r = { "bob@example.net", { ST_PERM, 1, 1, "no" }, "", "", BOUNCE_FAILED, 0 };
	struct envelope env;
	struct status st;

	envelope_init(&env);
	snprintf(env.id, sizeof env.id, "660ED52886B890");
	errno = 0;
	/* refused before the queue is touched: none is needed */
	cr_assert_eq(bounce_send(NULL, "mx.test.example", &env, -1, 0, &r, 1, &st), -1);
	cr_assert_eq(errno, EINVAL);
	envelope_free(&env);
}

Test(bounce, boundary_fits_rfc2046_with_a_long_hostname)
{
	struct bounce_rcpt r = { "bob@example.net", { ST_PERM, 1, 1, "no" }, "", "", BOUNCE_FAILED, 0 };
	char host[128];
	struct envelope env;
	struct report rep;
	struct buf b = { 0 };
	int fd;

	memset(host, 'h', 100);
	strcpy(host + 100, ".example");
	sample_env(&env);
	fd = message_file("", sample_msg, strlen(sample_msg));
	bounce_compose(host, "660EE00000000E", &env, fd, 0, &r, 1, 1795422300,
	               collect, &b);
	close(fd);
	parse_report(&b, &rep);       /* asserts 1..70 characters */
	cr_assert(strncmp(rep.boundary, "660EE00000000E/", 15) == 0,
	          "the unique part is kept: %s", rep.boundary);
	free(b.p);
	envelope_free(&env);
}

Test(bounce, original_recipient_of_an_alias)
{
	static const char msg[] = "Subject: to a list\n\nbody\n";
	struct bounce_rcpt r = { "dave@elsewhere.example", { ST_PERM, 1, 1, "no" }, "", "", BOUNCE_FAILED, 0 };
	struct envelope env;
	struct mailbox mb;
	struct report rep;
	struct buf b = { 0 };
	char *ds, *text;
	int fd;

	sample_env(&env);
	cr_assert_eq(mailbox_from_text(&mb, "dave@elsewhere.example", 22), 0);
	cr_assert_eq(envelope_add_final(&env, &mb, "team@test.example"), 1);
	fd = message_file("", msg, strlen(msg));
	bounce_compose("mx.test.example", "660EE00000000F", &env, fd, 0, &r, 1,
	               1795422300, collect, &b);
	close(fd);
	parse_report(&b, &rep);
	ds = part_body(&rep, 1);
	cr_assert_not_null(strstr(ds, "\nOriginal-Recipient: rfc822; team@test.example\n"
	                              "Final-Recipient: rfc822; dave@elsewhere.example\n"), "%s", ds);
	text = part_body(&rep, 0);
	cr_assert_not_null(strstr(text, "<dave@elsewhere.example> (sent to <team@test.example>): no"),
	                   "%s", text);
	free(ds);
	free(text);
	free(b.p);
	envelope_free(&env);
}

/* a delay warning: Action delayed, Will-Retry-Until, the last reply; the
 * RFC 3461 requests of the envelope: ENVID as Original-Envelope-Id and
 * ORCPT as Original-Recipient (decoded), header only whatever RET */
Test(bounce, delay_warning_with_dsn_requests)
{
	static const char msg[] = "Subject: slow\n\nbody slow\n";
	struct bounce_rcpt r = { "bob@example.net", { ST_TEMP, 3, 0, "try later" },
	                         "mx.example.net", "451 4.3.0 try later",
	                         BOUNCE_DELAYED, 1795440000 };
	struct mailbox rcpt;
	struct envelope env;
	struct report rep;
	struct buf b = { 0 };
	char *ds, *head;
	int fd;

	sample_env(&env);
	env.ret = DSN_RET_FULL;
	snprintf(env.envid, sizeof env.envid, "e+2B1");
	mailbox_from_text(&rcpt, "bob@example.net", 15);
	cr_assert_eq(envelope_add_rcpt(&env, &rcpt), 1);
	cr_assert_eq(envelope_set_dsn(&env, 0, DSN_DELAY, "rfc822;Bob+2Bx@example.net"), 0);
	fd = message_file("", msg, strlen(msg));
	bounce_compose("mx.test.example", "660EE00000000F", &env, fd, 0, &r, 1,
	               1795422300, collect, &b);
	close(fd);
	parse_report(&b, &rep);
	part_type(&rep, 2, "text/rfc822-headers");   /* RET=FULL: failures only */
	head = strndup(b.p, (size_t)(strstr(b.p, "\n\n") - b.p));
	cr_assert(strstr(head, "Subject: Delayed mail") != NULL, "%s", head);
	ds = part_body(&rep, 1);
	cr_assert(strstr(ds, "Original-Envelope-Id: e+1\n") != NULL, "%s", ds);
	cr_assert(strstr(ds, "Original-Recipient: rfc822; Bob+x@example.net\n"), "%s", ds);
	cr_assert(strstr(ds, "Action: delayed\nStatus: 4.3.0\n") != NULL, "%s", ds);
	cr_assert(strstr(ds, "Diagnostic-Code: smtp; 451 4.3.0 try later\n"), "%s", ds);
	cr_assert(strstr(ds, "Will-Retry-Until: ") != NULL, "%s", ds);
	free(ds);
	free(head);
	free(b.p);
	/* a failure under RET=FULL: the whole message */
	b = (struct buf){ 0 };
	r.action = BOUNCE_FAILED;
	fd = message_file("", msg, strlen(msg));
	bounce_compose("mx.test.example", "660EE000000010", &env, fd, 0, &r, 1,
	               1795422300, collect, &b);
	close(fd);
	parse_report(&b, &rep);
	part_type(&rep, 2, "message/rfc822");
	ds = part_body(&rep, 2);
	cr_assert_str_eq(ds, msg);
	free(ds);
	free(b.p);
	/* NOTIFY=DELAY: no failure report, a delay report */
	cr_assert_not(bounce_wanted(&env, "bob@example.net", BOUNCE_FAILED));
	cr_assert(bounce_wanted(&env, "bob@example.net", BOUNCE_DELAYED));
	cr_assert_not(bounce_wanted(&env, "bob@example.net", BOUNCE_DELIVERED));
	envelope_free(&env);
}
