/* test_addrtab - the table parsers (addrtab.h): every syntax case of the
 * aliases, virtual, users and list formats, errors with their file and
 * line, duplicates, and ":include:" files read by addrtab_load. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addrtab.h"

static char err[600];

/* parse - text in format fmt, finished; the return of the two */
static int parse(struct addrtab *t, enum addrtab_format fmt, const char *text)
{
	addrtab_init(t);
	err[0] = '\0';
	if (addrtab_parse(t, fmt, "tab", text, strlen(text), err, sizeof err) < 0)
		return -1;
	return addrtab_finish(t, err, sizeof err);
}

/* bad - the text is refused with this message */
static void bad(enum addrtab_format fmt, const char *text, const char *want)
{
	struct addrtab t;

	cr_assert_eq(parse(&t, fmt, text), -1, "accepted: %s", text);
	cr_assert(strstr(err, want) != NULL, "'%s' for '%s', want '%s'", err, text, want);
	addrtab_free(&t);
}

Test(addrtab, aliases_list_continuation_comments)
{
	struct addrtab t;
	const struct addrtab_entry *e;

	cr_assert_eq(parse(&t, ADDRTAB_ALIASES,
	    "# a comment\n"
	    "\n"
	    "Team: alice, Bob@Example.ORG,\n"
	    "   carol\n"
	    "  # a comment inside\n"
	    "\tdave\r\n"
	    "\"quoted\": \\me, \"|/bin/cat -n\", /var/log/x\n"
	    "list: :include:/nonexistent/f\n"
	    "q: \"a b\"@example.org , c\n"), 0, "%s", err);
	cr_assert_eq(t.n, 4);
	e = addrtab_find(&t, "q");
	cr_assert_eq(e->nt, 2);
	cr_assert_str_eq(e->t[0].text, "\"a b\"@example.org");
	e = addrtab_find(&t, "TEAM");
	cr_assert_not_null(e);
	cr_assert_eq(e->line, 3);
	cr_assert_eq(e->nt, 4);
	cr_assert_str_eq(e->t[0].text, "alice");
	cr_assert_str_eq(e->t[1].text, "Bob@Example.ORG");
	cr_assert_str_eq(e->t[2].text, "carol");
	cr_assert_str_eq(e->t[3].text, "dave");
	cr_assert_eq(e->t[3].line, 3);
	e = addrtab_find(&t, "quoted");
	cr_assert_not_null(e);
	cr_assert_eq(e->nt, 3);
	cr_assert_eq(e->t[0].kind, ADDRTAB_MAILBOX);
	cr_assert_str_eq(e->t[0].text, "me");
	cr_assert_eq(e->t[1].kind, ADDRTAB_PIPE);
	cr_assert_str_eq(e->t[1].text, "|/bin/cat -n");
	cr_assert_eq(e->t[2].kind, ADDRTAB_FILE);
	e = addrtab_find(&t, "list");
	cr_assert_eq(e->t[0].kind, ADDRTAB_INCLUDE);
	cr_assert_str_eq(e->t[0].text, "/nonexistent/f");
	cr_assert_null(addrtab_find(&t, "nobody"));
	addrtab_free(&t);
}

Test(addrtab, aliases_errors_name_the_line)
{
	bad(ADDRTAB_ALIASES, "a: b\nno colon here\n", "tab:2: no ':'");
	bad(ADDRTAB_ALIASES, "a: b\n\nc:\n", "tab:3: no target for 'c'");
	bad(ADDRTAB_ALIASES, " a: b\n", "tab:1: a continuation line");
	bad(ADDRTAB_ALIASES, "a: b\nb: c\na: d\n", "tab:3: 'a' given again (first at tab:1)");
	bad(ADDRTAB_ALIASES, "a b: c\n", "tab:1: a blank inside the name");
	bad(ADDRTAB_ALIASES, "a: b c\n", "tab:1: a blank inside target 'b c'");
	bad(ADDRTAB_ALIASES, "a: \"b\n", "tab:1: unterminated quote");
	bad(ADDRTAB_ALIASES, "a: x@\n", "tab:1: bad address 'x@'");
	bad(ADDRTAB_ALIASES, "a: x@-bad-\n", "tab:1: bad address");
	bad(ADDRTAB_ALIASES, "a@b: c\n", "tab:1: bad name 'a@b'");
	bad(ADDRTAB_ALIASES, "a: :include:relative\n", "tab:1: :include: needs an absolute path");
	bad(ADDRTAB_ALIASES, "a: \\\n", "tab:1: bad mailbox name");
	{
		struct addrtab t;
		char nul[] = "a: b\nc: d\0e\n";

		addrtab_init(&t);
		cr_assert_eq(addrtab_parse(&t, ADDRTAB_ALIASES, "tab", nul, sizeof nul - 1,
		                           err, sizeof err), -1);
		cr_assert(strstr(err, "tab:2: a NUL byte") != NULL, "%s", err);
		addrtab_free(&t);
	}
}

Test(addrtab, virtual_lines)
{
	struct addrtab t;
	const struct addrtab_entry *e;

	cr_assert_eq(parse(&t, ADDRTAB_VIRTUAL,
	    "alice@example.net   alice@example.net\n"
	    "info@Example.NET alice@example.net, bob  carol@example.org\n"
	    "  dave\n"
	    "@example.org catchall\n"), 0, "%s", err);
	cr_assert_eq(t.n, 3);
	e = addrtab_find(&t, "info@example.net");
	cr_assert_not_null(e);
	cr_assert_eq(e->nt, 4);
	cr_assert_str_eq(e->t[1].text, "bob");
	cr_assert_str_eq(e->t[3].text, "dave");
	e = addrtab_find(&t, "@EXAMPLE.ORG");
	cr_assert_not_null(e);
	cr_assert_str_eq(e->t[0].text, "catchall");
	addrtab_free(&t);
	bad(ADDRTAB_VIRTUAL, "a@b.c d\nbare e\n", "tab:2: bad key 'bare'");
	bad(ADDRTAB_VIRTUAL, "a@b.c\n", "tab:1: no target for 'a@b.c'");
	bad(ADDRTAB_VIRTUAL, "@-x- y\n", "tab:1: bad key");
	bad(ADDRTAB_VIRTUAL, "a@b.c :include:/x\n", "tab:1: :include: is for the aliases file only");
	bad(ADDRTAB_VIRTUAL, "a@b.c d\nA@B.C e\n", "tab:2: 'a@b.c' given again");
}

Test(addrtab, users_and_lists)
{
	struct addrtab t;

	cr_assert_eq(parse(&t, ADDRTAB_USERS, "alice\n# x\nBob\n"), 0, "%s", err);
	cr_assert_eq(t.n, 2);
	cr_assert_not_null(addrtab_find(&t, "bob"));
	addrtab_free(&t);
	bad(ADDRTAB_USERS, "alice bob\n", "tab:1: one name per line");
	cr_assert_eq(parse(&t, ADDRTAB_LIST, "a, b@c.d\n  e\nf g\n"), 0, "%s", err);
	cr_assert_eq(t.nlist, 5);
	cr_assert_str_eq(t.list[4].text, "g");
	cr_assert_eq(t.list[4].line, 3);
	addrtab_free(&t);
}

/* write_file - path gets text */
static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

Test(addrtab, load_reads_includes)
{
	char dir[] = "/tmp/mta-addrtab.XXXXXX", a[128], i1[128], i2[128], text[512];
	struct addrtab t;
	const struct addrtab_entry *e;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(a, sizeof a, "%s/aliases", dir);
	snprintf(i1, sizeof i1, "%s/one", dir);
	snprintf(i2, sizeof i2, "%s/two", dir);
	snprintf(text, sizeof text, "staff: first, :include:%s, last\n", i1);
	write_file(a, text);
	snprintf(text, sizeof text, "# members\nx, y\n:include:%s\n", i2);
	write_file(i1, text);
	write_file(i2, "z@example.org\n");
	addrtab_init(&t);
	cr_assert_eq(addrtab_load(&t, ADDRTAB_ALIASES, a, err, sizeof err), 0, "%s", err);
	e = addrtab_find(&t, "staff");
	cr_assert_not_null(e);
	cr_assert_eq(e->nt, 5);
	cr_assert_str_eq(e->t[0].text, "first");
	cr_assert_str_eq(e->t[1].text, "x");
	cr_assert_str_eq(e->t[2].text, "y");
	cr_assert_str_eq(e->t[3].text, "z@example.org");
	cr_assert_str_eq(e->t[3].file, i2);
	cr_assert_str_eq(e->t[4].text, "last");
	addrtab_free(&t);

	/* an include of itself: nested too deep, not for ever */
	snprintf(text, sizeof text, ":include:%s\n", i2);
	write_file(i2, text);
	addrtab_init(&t);
	cr_assert_eq(addrtab_load(&t, ADDRTAB_ALIASES, a, err, sizeof err), -1);
	cr_assert(strstr(err, "nested more than") != NULL, "%s", err);
	addrtab_free(&t);
	/* a missing include: the file named */
	unlink(i2);
	addrtab_init(&t);
	cr_assert_eq(addrtab_load(&t, ADDRTAB_ALIASES, a, err, sizeof err), -1);
	cr_assert(strstr(err, i2) != NULL && strstr(err, "No such file") != NULL, "%s", err);
	addrtab_free(&t);
	unlink(i1);
	unlink(a);
	rmdir(dir);
}
