/* addrtab - the address tables an administrator writes, parsed into
 * sorted lookups (mta-aliases(5)): the aliases file (--aliases), the
 * virtual file (--virtual), the list of mailboxes (--local-users), and the
 * address lists of ":include:" files and ~/.forward.
 *
 * Lines: a line that starts with a blank continues the logical line
 * above; empty lines and lines whose first non-blank is '#' are skipped
 * (also inside a continued line); a NUL byte is an error.
 *   aliases   "name: target, target ..."  name a local part (any case:
 *             kept in lower case); targets separated by commas; a target
 *             may be "double quoted"
 *   virtual   "user@domain target[, target ...]" or "@domain target ..."
 *             (a catch-all); targets separated by commas and/or blanks
 *   users     one mailbox name per line
 *   list      targets separated by commas, blanks or lines (":include:"
 *             files, ~/.forward)
 * Targets: "name" (a local name), "user@domain" (any address),
 * "\name" (that local mailbox, not looked up again), ":include:/PATH"
 * (aliases only: the targets listed in PATH, read at load); "|command"
 * and "/file" are kept as refused targets (ADDRTAB_PIPE, ADDRTAB_FILE):
 * mta never runs programs nor writes where a table says, and the caller
 * logs and reports them.  A key given twice, a key or target that is no
 * valid address, a line without targets: errors "FILE:LINE: ...".
 *
 * Contract: addrtab_parse works on text in memory only; addrtab_load
 * reads the file and its ":include:" files (at most ADDRTAB_INCLUDE_DEPTH
 * deep).  A table owns all its strings; addrtab_free releases them.  A
 * finished table is read-only and may be read by any thread.
 */
#ifndef MTA_ADDRTAB_H
#define MTA_ADDRTAB_H

#include <stddef.h>

enum addrtab_format { ADDRTAB_ALIASES, ADDRTAB_VIRTUAL, ADDRTAB_USERS, ADDRTAB_LIST };
enum addrtab_kind {
	ADDRTAB_ADDR,        /* a local name or an address: looked up again */
	ADDRTAB_MAILBOX,     /* "\name": that mailbox itself */
	ADDRTAB_INCLUDE,     /* ":include:PATH" before addrtab_load reads it */
	ADDRTAB_PIPE,        /* "|command": refused */
	ADDRTAB_FILE         /* "/file": refused */
};
enum { ADDRTAB_INCLUDE_DEPTH = 5, ADDRTAB_LINE_MAX = 64 * 1024,
       ADDRTAB_FILE_MAX = 64 << 20 };

struct addrtab_target {
	enum addrtab_kind kind;
	char *text;          /* as written, unquoted (local names in lower case) */
	const char *file;    /* where it was written (the table's own copy) */
	unsigned line;
};

struct addrtab_entry {
	char *key;           /* lower case: "name", "user@domain", "@domain" */
	struct addrtab_target *t;
	size_t nt;
	const char *file;
	unsigned line;
};

struct addrtab {
	struct addrtab_entry *e;   /* sorted by key after addrtab_finish */
	size_t n, cap;
	struct addrtab_target *list;  /* ADDRTAB_LIST: the targets */
	size_t nlist, listcap;
	char **files;        /* every file name an entry points to */
	size_t nfiles;
};

/* addrtab_init - an empty table */
void addrtab_init(struct addrtab *t);
/* addrtab_free - release everything; the table is empty again */
void addrtab_free(struct addrtab *t);
/* addrtab_parse - add the entries of text[0..n) in format fmt, named
 * file in messages; 0, or -1 with err "FILE:LINE: why" (ENOMEM: "out of
 * memory") */
int addrtab_parse(struct addrtab *t, enum addrtab_format fmt, const char *file,
                  const char *text, size_t n, char *err, size_t errlen);
/* addrtab_finish - sort the entries and refuse a key given twice; 0 or
 * -1 with err */
int addrtab_finish(struct addrtab *t, char *err, size_t errlen);
/* addrtab_load - read path in format fmt (and, for aliases, replace each
 * ":include:" target by the targets its file lists), then finish; 0, or
 * -1 with err ("PATH: strerror" when a file cannot be read) */
int addrtab_load(struct addrtab *t, enum addrtab_format fmt, const char *path,
                 char *err, size_t errlen);
/* addrtab_find - the entry for key (compared without case), or NULL */
const struct addrtab_entry *addrtab_find(const struct addrtab *t, const char *key);
/* addrtab_kind_text - "pipe", "file" ... for messages */
const char *addrtab_kind_text(enum addrtab_kind k);

#endif
