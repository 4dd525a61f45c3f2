/* test_resolve - address resolution (resolve.h): canonical form, aliases
 * (lists, recursion, self-reference, loops, depth), the built-in aliases
 * and --root-alias, subaddresses, virtual domains with their catch-all,
 * duplicates removed, refused targets, unknown and unreadable users,
 * ~/.forward; the tables parsed from text (addrtab.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "envelope.h"
#include "resolve.h"

static struct resolve_tables tabs;
static struct resolve_params params;
static char err[600];
static const char *known_users;     /* " alice bob " or NULL = anyone */
static const char *forwards;        /* "name=list text" or NULL */

static int is_local(void *ctx, const struct mailbox *mb)
{
	(void)ctx;
	return strcasecmp(addr_domain(mb), "here.test") == 0 ||
	       strcasecmp(addr_domain(mb), "localhost") == 0;
}

static struct status user_known(void *ctx, const char *name)
{
	char want[80];

	(void)ctx;
	if (strcmp(name, "broken") == 0)
		return status_make(ST_TEMP, 3, 0, "lookup failed");
	snprintf(want, sizeof want, " %s ", name);
	if (known_users == NULL || strstr(known_users, want) != NULL)
		return status_ok();
	return status_make(ST_PERM, 1, 1, "No such user here");
}

static struct status forward(void *ctx, const char *name, struct addrtab *list)
{
	size_t n = strlen(name);

	(void)ctx;
	if (forwards == NULL || strncmp(forwards, name, n) != 0 || forwards[n] != '=')
		return status_ok();
	if (addrtab_parse(list, ADDRTAB_LIST, "~/.forward", forwards + n + 1,
	                  strlen(forwards + n + 1), err, sizeof err) < 0)
		return status_make(ST_PERM, 3, 0, "%s", err);
	return status_ok();
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* setup - tables from text (NULL = none) */
static void setup(const char *aliases, const char *virt)
{
	memset(&tabs, 0, sizeof tabs);
	addrtab_init(&tabs.aliases);
	addrtab_init(&tabs.virt);
	addrtab_init(&tabs.users);
	known_users = NULL;
	forwards = NULL;
	if (aliases) {
		cr_assert_eq(addrtab_parse(&tabs.aliases, ADDRTAB_ALIASES, "aliases", aliases,
		                           strlen(aliases), err, sizeof err), 0, "%s", err);
		cr_assert_eq(addrtab_finish(&tabs.aliases, err, sizeof err), 0, "%s", err);
	}
	if (virt) {
		size_t i;

		cr_assert_eq(addrtab_parse(&tabs.virt, ADDRTAB_VIRTUAL, "virtual", virt,
		                           strlen(virt), err, sizeof err), 0, "%s", err);
		cr_assert_eq(addrtab_finish(&tabs.virt, err, sizeof err), 0, "%s", err);
		tabs.vdomains = calloc(tabs.virt.n, sizeof *tabs.vdomains);
		for (i = 0; i < tabs.virt.n; i++) {
			const char *d = strrchr(tabs.virt.e[i].key, '@') + 1;
			size_t k;

			for (k = 0; k < tabs.nvdomains && strcmp(tabs.vdomains[k], d); k++)
				;
			if (k == tabs.nvdomains)
				tabs.vdomains[tabs.nvdomains++] = strdup(d);
		}
		qsort(tabs.vdomains, tabs.nvdomains, sizeof *tabs.vdomains, cmp_str);
	}
	params = (struct resolve_params){ &tabs, NULL, is_local, user_known, forward,
	                                  "here.test", '+', NULL };
}

static void teardown(void)
{
	size_t i;

	addrtab_free(&tabs.aliases);
	addrtab_free(&tabs.virt);
	for (i = 0; i < tabs.nvdomains; i++)
		free(tabs.vdomains[i]);
	free(tabs.vdomains);
}

/* got - resolve addr; the final addresses, space-separated, kind-marked
 * (L local, V virtual, R remote), or "ST x.y.z" when refused */
static const char *got(const char *addr)
{
	static char out[2048];
	struct resolve_result r;
	struct mailbox mb;
	size_t i, n = 0;

	cr_assert_eq(mailbox_from_text(&mb, addr, strlen(addr)), 0);
	if (resolve(&params, &mb, &r).kind != ST_OK) {
		snprintf(out, sizeof out, "%s %d.%u.%u", r.st.kind == ST_TEMP ? "TEMP" : "PERM",
		         r.st.kind == ST_TEMP ? 4 : 5, r.st.subject, r.st.detail);
	} else {
		out[0] = '\0';
		for (i = 0; i < r.n; i++)
			n += (size_t)snprintf(out + n, sizeof out - n, "%s%c:%s", i ? " " : "",
			                      "LVR"[r.t[i].kind], r.t[i].addr.text);
	}
	cr_assert(r.why != NULL && r.whylen > 0, "no explanation");
	resolve_result_free(&r);
	return out;
}

TestSuite(resolve, .fini = teardown);

Test(resolve, no_tables_plain_mailboxes)
{
	setup(NULL, NULL);
	params.tables = NULL;
	cr_assert_str_eq(got("Alice@HERE.test"), "L:alice@here.test");
	cr_assert_str_eq(got("alice@localhost"), "L:alice@here.test");
	cr_assert_str_eq(got("bob+tag@localhost"), "L:bob@here.test");
	cr_assert_str_eq(got("+tag@localhost"), "L:+tag@here.test");
	cr_assert_str_eq(got("Who@Remote.Example"), "R:Who@remote.example");
	/* the built-in aliases */
	cr_assert_str_eq(got("postmaster"), "L:root@here.test");
	cr_assert_str_eq(got("PostMaster@localhost"), "L:root@here.test");
	cr_assert_str_eq(got("abuse@here.test"), "L:root@here.test");
	cr_assert_str_eq(got("mailer-daemon@here.test"), "L:root@here.test");
	params.root_alias = "admin@remote.example";
	cr_assert_str_eq(got("abuse@here.test"), "R:admin@remote.example");
	cr_assert_str_eq(got("root@here.test"), "R:admin@remote.example");
	params.delimiter = '\0';
	cr_assert_str_eq(got("bob+tag@localhost"), "L:bob+tag@here.test");
}

Test(resolve, aliases_lists_recursion_duplicates)
{
	setup("team: alice, bob, friends\n"
	      "friends: carol@remote.example, alice, dave\n"
	      "dave: \\dave, dave@elsewhere.example\n"
	      "bob: bob\n"
	      "postmaster: alice\n"
	      "bob+list: team\n", NULL);
	cr_assert_str_eq(got("team@here.test"),
	                 "L:alice@here.test L:bob@here.test R:carol@remote.example "
	                 "L:dave@here.test R:dave@elsewhere.example");
	cr_assert_str_eq(got("postmaster"), "L:alice@here.test");
	cr_assert_str_eq(got("abuse@localhost"), "L:root@here.test");
	/* a table entry for the whole subaddress wins over the base name */
	cr_assert_str_eq(got("bob+list@here.test"),
	                 "L:alice@here.test L:bob@here.test R:carol@remote.example "
	                 "L:dave@here.test R:dave@elsewhere.example");
	cr_assert_str_eq(got("bob+other@here.test"), "L:bob@here.test");
	cr_assert_str_eq(got("team+x@here.test"),
	                 "L:alice@here.test L:bob@here.test R:carol@remote.example "
	                 "L:dave@here.test R:dave@elsewhere.example");
}

Test(resolve, loops_and_depth)
{
	setup("a: b\nb: c\nc: a\n"
	      "x: y, alice\ny: x\n"
	      "d0: d1\nd1: d2\nd2: d3\nd3: d4\nd4: d5\nd5: d6\nd6: d7\nd7: d8\n"
	      "d8: d9\nd9: d10\nd10: d11\nd11: d12\nd12: d13\nd13: d14\nd14: d15\n"
	      "d15: d16\nd16: d17\nd17: d18\nd18: d19\nd19: d20\nd20: d21\nd21: end\n"
	      "e0: d5\n", NULL);
	cr_assert_str_eq(got("a@here.test"), "PERM 5.4.6");
	/* the loop's branch is dropped, the rest delivered */
	cr_assert_str_eq(got("x@here.test"), "L:alice@here.test");
	cr_assert_str_eq(got("d0@here.test"), "PERM 5.4.6");
	cr_assert_str_eq(got("e0@here.test"), "L:end@here.test");
}

Test(resolve, refused_unknown_and_temporary)
{
	setup("prog: \"|/usr/bin/procmail\"\n"
	      "mixed: /var/mail/file, alice\n"
	      "typo: alcie, alice\n"
	      "flaky: broken, alice\n", NULL);
	known_users = " alice root ";
	cr_assert_str_eq(got("prog@here.test"), "PERM 5.7.1");
	cr_assert_str_eq(got("mixed@here.test"), "L:alice@here.test");
	cr_assert_str_eq(got("alcie@here.test"), "PERM 5.1.1");
	cr_assert_str_eq(got("typo@here.test"), "L:alice@here.test");
	cr_assert_str_eq(got("broken@here.test"), "TEMP 4.3.0");
	/* one member that cannot be looked up: the whole recipient waits */
	cr_assert_str_eq(got("flaky@here.test"), "TEMP 4.3.0");
	cr_assert_str_eq(got("postmaster@here.test"), "L:root@here.test");
	cr_assert_str_eq(got("nobody@remote.example"), "R:nobody@remote.example");
}

Test(resolve, virtual_domains_and_catch_all)
{
	setup("staff: alice\n",
	      "alice@one.example alice@one.example\n"
	      "info@one.example alice@one.example, bob@two.example, staff\n"
	      "sales@one.example info@one.example\n"
	      "bob@two.example bob@two.example\n"
	      "@two.example bob@two.example\n"
	      "@three.example carol\n"
	      "loop@one.example loop2@one.example\n"
	      "loop2@one.example loop@one.example\n");
	cr_assert_str_eq(got("Alice@One.Example"), "V:alice@one.example");
	cr_assert_str_eq(got("alice+tag@one.example"), "V:alice@one.example");
	cr_assert_str_eq(got("info@one.example"),
	                 "V:alice@one.example V:bob@two.example L:alice@here.test");
	cr_assert_str_eq(got("sales@one.example"),
	                 "V:alice@one.example V:bob@two.example L:alice@here.test");
	cr_assert_str_eq(got("nobody@one.example"), "PERM 5.1.1");
	cr_assert_str_eq(got("anything@two.example"), "V:bob@two.example");
	cr_assert_str_eq(got("x@three.example"), "L:carol@here.test");
	cr_assert_str_eq(got("loop@one.example"), "PERM 5.4.6");
	/* an alias to a virtual address, and local names stay local */
	cr_assert_str_eq(got("staff@here.test"), "L:alice@here.test");
}

Test(resolve, forward_files)
{
	setup("list: alice, bob\n", NULL);
	forwards = "bob=\\bob, bob@elsewhere.example, \"|/bin/prog\"";
	cr_assert_str_eq(got("bob@here.test"), "L:bob@here.test R:bob@elsewhere.example");
	cr_assert_str_eq(got("list@here.test"),
	                 "L:alice@here.test L:bob@here.test R:bob@elsewhere.example");
	forwards = "bob=carol";
	cr_assert_str_eq(got("bob@here.test"), "L:carol@here.test");
}

/* many - a .forward for "many" of n distinct remote addresses, each
 * listed twice */
static char *many(size_t n)
{
	size_t i, len = 0, cap = 16 + 2 * n * 32;
	char *text = malloc(cap);

	cr_assert_not_null(text);
	len += (size_t)snprintf(text, cap, "many=");
	for (i = 0; i < 2 * n; i++)
		len += (size_t)snprintf(text + len, cap - len, "%sr%zu@far.example",
		                        i ? ", " : "", i % n);
	return text;
}

Test(resolve, final_targets_bounded)
{
	struct resolve_result r;
	struct mailbox mb;
	char *text;

	setup("list: alice\n", NULL);
	mailbox_from_text(&mb, "many@here.test", 14);
	/* as many as allowed (duplicates count once): all of them */
	forwards = text = many(RESOLVE_FINAL_MAX);
	cr_assert_eq(resolve(&params, &mb, &r).kind, ST_OK);
	cr_assert_eq(r.n, RESOLVE_FINAL_MAX);
	resolve_result_free(&r);
	free(text);
	/* one more: refused whole, never cut short */
	forwards = text = many(RESOLVE_FINAL_MAX + 1);
	cr_assert_str_eq(got("many@here.test"), "PERM 5.5.3");
	free(text);
	forwards = NULL;
}

Test(resolve, quoted_local_parts_stay_addresses)
{
	setup(NULL, "@one.example \"a b\"@two.example\n@two.example \"a b\"@two.example\n");
	cr_assert_str_eq(got("\"B> Via=X\"@here.test"), "L:\"b> via=x\"@here.test");
	cr_assert_str_eq(got("\"q\\\"x\"@here.test"), "L:\"q\\\"x\"@here.test");
	cr_assert_str_eq(got("x@one.example"), "V:\"a b\"@two.example");
	cr_assert_str_eq(got("\"plain\"@here.test"), "L:plain@here.test");
}
