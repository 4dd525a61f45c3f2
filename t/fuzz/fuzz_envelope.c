/* fuzz_envelope.c - libFuzzer harness for envelope.c (the head of every
 * queue file).
 *
 * Input: one parameter octet (the seed of the prefix lengths tried), then
 * the contents of a queue message file, as is: a damaged or hostile queue
 * is what it stands for.
 * Checked, from envelope.h and mta-queue(5):
 *   - envelope_read() on a file holding the input agrees with
 *     envelope_parse() on the input: both fail (errno EINVAL), or both
 *     give the same envelope and the message offset;
 *   - on success the envelope ends at the input's first empty line (the
 *     offset is just past it); every field is NUL-terminated within its
 *     array and holds no NUL, CR or LF; there is at least one recipient;
 *     each mailbox's at is its last '@' (0 when none), literal says
 *     whether a '[' follows it;
 *   - the envelope alone (input up to the offset) parses the same; a
 *     truncated one (the same cut short, the final empty line first) does
 *     not parse;
 *   - envelope_format() of it is the input up to the offset, but for the
 *     arrival line written canonically and the head: always version 4
 *     and its seal line reserved (zeros; versions 1 to 3, without a
 *     seal, are read as well), and parses back to the same envelope (a
 *     queue file rewritten keeps its meaning);
 *   - envelope_add_rcpt() of its recipients keeps each address once, the
 *     local part compared exactly and the domain without ASCII case.
 * Failed parses must not leak (LeakSanitizer).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "envelope.h"
#include "oracle.h"
#include "seal.h"

enum { PARAMS = 1 };

/* file_fd - one memory file for every run, holding p[0..n) */
static int file_fd(const char *p, size_t n)
{
	static int fd = -1;

	if (fd < 0 && (fd = memfd_create("envelope", MFD_CLOEXEC)) < 0)
		oracle_fail("memfd_create: %s", strerror(errno));
	if (ftruncate(fd, 0) != 0 ||
	    (n > 0 && pwrite(fd, p, n, 0) != (ssize_t)n))
		oracle_fail("writing the memory file: %s", strerror(errno));
	return fd;
}

/* same_mailbox - identical parses */
static int same_mailbox(const struct mailbox *a, const struct mailbox *b)
{
	return strcmp(a->text, b->text) == 0 && a->at == b->at &&
	       a->literal == b->literal;
}

/* same_envelope - identical envelopes */
static int same_envelope(const struct envelope *a, const struct envelope *b)
{
	size_t i;

	if (strcmp(a->id, b->id) != 0 || a->arrival != b->arrival ||
	    strcmp(a->client, b->client) != 0 || strcmp(a->helo, b->helo) != 0 ||
	    !same_mailbox(&a->sender, &b->sender) || a->nrcpt != b->nrcpt ||
	    a->body_8bit != b->body_8bit || a->ret != b->ret ||
	    strcmp(a->envid, b->envid) != 0)
		return 0;
	for (i = 0; i < a->nrcpt; i++) {
		const char *ao = a->dsn[i].orcpt, *bo = b->dsn[i].orcpt;

		if (!same_mailbox(&a->rcpt[i], &b->rcpt[i]) ||
		    strcmp(envelope_orcpt(a, i), envelope_orcpt(b, i)) != 0 ||
		    a->dsn[i].notify != b->dsn[i].notify ||
		    (ao == NULL) != (bo == NULL) || (ao && strcmp(ao, bo) != 0))
			return 0;
	}
	return 1;
}

/* check_text - a field: NUL-terminated within size, no CR or LF */
static void check_text(const char *what, const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n == size)
		oracle_fail("%s is not NUL-terminated", what);
	if (memchr(s, '\r', n) || memchr(s, '\n', n))
		oracle_fail("%s holds a line end", what);
}

/* check_mailbox - text, and at / literal from the text */
static void check_mailbox(const char *what, const struct mailbox *mb)
{
	const char *at;
	size_t n;

	check_text(what, mb->text, sizeof mb->text);
	n = strlen(mb->text);
	at = memrchr(mb->text, '@', n);
	if (mb->at != (at ? (size_t)(at - mb->text) : 0))
		oracle_fail("%s: at %zu for \"%s\"", what, mb->at, mb->text);
	if (mb->literal != (at != NULL && at[1] == '['))
		oracle_fail("%s: literal %d for \"%s\"", what, mb->literal,
		            mb->text);
}

/* same_address - the dedup rule of envelope.h, modelled */
static int same_address(const struct mailbox *a, const struct mailbox *b)
{
	size_t i, la = strlen(a->text), lb = strlen(b->text);

	if (a->at != b->at || la != lb || memcmp(a->text, b->text, a->at) != 0)
		return 0;
	for (i = a->at; i < la; i++) {
		char x = a->text[i], y = b->text[i];

		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return 1;
}

/* check_dedup - add every recipient of env to a new envelope */
static void check_dedup(const struct envelope *env)
{
	struct envelope d;
	size_t i, k;
	int want, got;

	envelope_init(&d);
	for (i = 0; i < env->nrcpt; i++) {
		want = 1;
		for (k = 0; k < i && want; k++)
			if (same_address(&env->rcpt[k], &env->rcpt[i]))
				want = 0;
		got = envelope_add_rcpt(&d, &env->rcpt[i]);
		if (got != want)
			oracle_fail("envelope_add_rcpt of recipient %zu gave %d", i, got);
		if (got == 1 && !same_mailbox(&d.rcpt[d.nrcpt - 1], &env->rcpt[i]))
			oracle_fail("envelope_add_rcpt changed recipient %zu", i);
	}
	envelope_free(&d);
	if (d.nrcpt != 0 || d.rcpt != NULL)
		oracle_fail("envelope_free left recipients");
}

/* check_format - the text form of env against the input in[0..used) */
static void check_format(const struct envelope *env, const char *in,
                         size_t used)
{
	struct envelope back;
	char *text, num[32], seal0[SEAL_LINE_LEN + 1];
	const char *a, *ae;
	size_t len, used2, k, from, to, idlen;

	if (envelope_format(env, &text, &len) != 0)
		oracle_fail("envelope_format failed");
	if (strlen(text) != len)
		oracle_fail("envelope_format: length %zu, text %zu", len,
		            strlen(text));
	/* Always version 4, its seal reserved (the second line, zeros: the
	 * writer fills it in); then the input from its id line on (past its
	 * own seal line when it is of version 4; its version line is the
	 * first, "mta-envelope N": 15 octets, as the parse found it), its
	 * arrival line (the one after the id) written as %lld. */
	seal_format(seal0, 0, 0);
	to = 15 + SEAL_LINE_LEN;
	if (len < to || memcmp(text, "mta-envelope 4\n", 15) != 0 ||
	    memcmp(text + 15, seal0, SEAL_LINE_LEN) != 0)
		oracle_fail("envelope_format: not version 4 with its seal reserved");
	from = 15 + (in[13] == '4' ? SEAL_LINE_LEN : 0);
	a = (const char *)memchr(in + from, '\n', used - from) + 1;
	ae = memchr(a, '\n', used - (size_t)(a - in));
	idlen = (size_t)(a - in) - from;
	k = (size_t)snprintf(num, sizeof num, "arrival %lld",
	                     (long long)env->arrival);
	if (len != to + idlen + k + (used - (size_t)(ae - in)) ||
	    memcmp(text + to, in + from, idlen) != 0 ||
	    memcmp(text + to + idlen, num, k) != 0 ||
	    memcmp(text + to + idlen + k, ae, used - (size_t)(ae - in)) != 0)
		oracle_fail("envelope_format differs from the parsed text");
	if (envelope_parse(text, len, &back, &used2) != 0 || used2 != len ||
	    !same_envelope(env, &back))
		oracle_fail("envelope_format does not parse back");
	envelope_free(&back);
	free(text);
}

/* LLVMFuzzerTestOneInput - one queue file */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope env, file, again;
	const char *in = (const char *)data + PARAMS;
	const char *empty;
	long long off = -1;
	size_t n, used = 0, used2, i, cut;
	struct rng rng;
	int r, fr;

	if (size < PARAMS)
		return 0;
	n = size - PARAMS;
	rng_seed(&rng, data, 1);

	r = envelope_parse(in, n, &env, &used);
	errno = 0;
	fr = envelope_read(file_fd(in, n), &file, &off);
	if (fr != r || (fr < 0 && errno != EINVAL))
		oracle_fail("envelope_read gave %d (errno %d), envelope_parse %d",
		            fr, errno, r);
	if (r < 0)
		return 0;
	if ((long long)used != off || !same_envelope(&env, &file))
		oracle_fail("envelope_read and envelope_parse disagree");
	envelope_free(&file);

	/* the envelope ends at the first empty line */
	empty = memmem(in, n, "\n\n", 2);
	if (used < 2 || used > n || empty == NULL ||
	    (size_t)(empty - in) + 2 != used)
		oracle_fail("the envelope ends at %zu, not at the empty line", used);
	check_text("id", env.id, sizeof env.id);
	check_text("client", env.client, sizeof env.client);
	check_text("helo", env.helo, sizeof env.helo);
	if (env.id[0] == '\0' || env.nrcpt == 0)
		oracle_fail("no id or no recipient");
	check_mailbox("sender", &env.sender);
	for (i = 0; i < env.nrcpt; i++) {
		check_mailbox("rcpt", &env.rcpt[i]);
		if (env.rcpt[i].text[0] == '\0')
			oracle_fail("an empty recipient");
	}

	/* the envelope alone; cut short */
	if (envelope_parse(in, used, &again, &used2) != 0 || used2 != used ||
	    !same_envelope(&env, &again))
		oracle_fail("the envelope alone parses differently");
	envelope_free(&again);
	for (i = 0; i < 4; i++) {
		cut = i == 0 ? used - 1 : rng_below(&rng, (uint32_t)used);
		if (envelope_parse(in, cut, &again, &used2) == 0)
			oracle_fail("the envelope cut to %zu of %zu parses", cut, used);
	}

	check_format(&env, in, used);
	check_dedup(&env);
	envelope_free(&env);
	return 0;
}
