/* resolve - where mail for one recipient address goes: RCPT address ->
 * canonical form -> aliases and virtual domains (and ~/.forward) -> the
 * final local mailboxes and remote addresses (mta-aliases(5)).
 *
 *   - canonical form: the domain in lower case; in a local or virtual
 *     domain the local part too; "bob+tag" (with the delimiter '+') is
 *     looked up whole first, then as "bob" (the tag dropped);
 *   - a virtual domain (one named by a key of the virtual table) is
 *     served by that table alone: "user@domain", then "@domain" (the
 *     catch-all); an address there with no entry is unknown (5.1.1).  A
 *     target equal to the address itself is its own mailbox
 *     (MAILROOT/DOMAIN/USER/); a bare name is a local name;
 *   - a local domain (params->is_local, or no domain: "postmaster"): the
 *     aliases table, then the built-in aliases when the table has no
 *     such name (postmaster, abuse, mailer-daemon -> root; root -> the
 *     root alias when one is given), then ~/.forward (params->forward),
 *     else the mailbox of that name, when params->user_known accepts it.
 *     A target naming the alias itself, or "\name", is that mailbox;
 *   - any other domain: a remote address, final.
 * Targets are expanded again (the aliases of an alias); an address met
 * again on its own path is a loop (that branch is dropped and reported),
 * one met again elsewhere is a duplicate (one copy), and no chain may be
 * deeper than RESOLVE_DEPTH_MAX.  Pipe and file targets are dropped and
 * reported.  The result keeps what it could deliver; it is refused only
 * when nothing is left: 5.1.1 no such user, 5.7.1 only refused targets,
 * 5.4.6 only loops; or when it has more than RESOLVE_FINAL_MAX final
 * targets: 5.5.3.  Any temporary failure (a lookup that failed) makes
 * the whole result temporary (4.3.0): a recipient is never cut short.
 * Local mailboxes are named NAME@HOME_DOMAIN (params->home_domain, the
 * first of --domains), so one mailbox has one name whatever local domain
 * it was reached through.
 *
 * Contract: resolve() does no I/O itself (only through the params'
 * callbacks) and reads its tables only; thread-safe when the callbacks
 * are.  A result owns its arrays until resolve_result_free().  Tables are
 * built by resolve_tables_load() (which reads the files), read-only
 * afterwards, and freed by resolve_tables_free().
 */
#ifndef MTA_RESOLVE_H
#define MTA_RESOLVE_H

#include <stddef.h>

#include "addr.h"
#include "addrtab.h"
#include "status.h"

/* RESOLVE_FINAL_MAX: distinct final targets of one recipient; more
 * refuse it whole (5.5.3), before the rest is even looked at: a list of
 * 10^5 addresses would otherwise cost 10^10 comparisons per RCPT */
enum { RESOLVE_DEPTH_MAX = 20, RESOLVE_SEEN_MAX = 10000, RESOLVE_FINAL_MAX = 1000 };

struct resolve_tables {
	struct addrtab aliases, virt, users;
	int have_aliases, have_virtual, have_users;
	char **vdomains;             /* the virtual domains, sorted */
	size_t nvdomains;
};

/* resolve_tables_load - read the tables named (NULL = none); each target
 * refused (a pipe, a file) is passed to warn as "FILE:LINE: ..." (warn
 * may be NULL).  0, or -1 with err "FILE:LINE: ..." or "FILE: why" */
int resolve_tables_load(struct resolve_tables **out, const char *aliases,
                        const char *virt, const char *users,
                        void (*warn)(void *ctx, const char *text), void *ctx,
                        char *err, size_t errlen);
/* resolve_tables_free - NULL is ignored */
void resolve_tables_free(struct resolve_tables *t);
/* resolve_is_virtual - is domain (any case) a virtual domain? */
int resolve_is_virtual(const struct resolve_tables *t, const char *domain);
/* resolve_user_listed - is name (any case) in the users table? */
int resolve_user_listed(const struct resolve_tables *t, const char *name);

struct resolve_params {
	const struct resolve_tables *tables;   /* NULL = no tables */
	void *ctx;                             /* passed to the callbacks */
	/* is mb's domain one of ours (not a virtual one)? */
	int (*is_local)(void *ctx, const struct mailbox *mb);
	/* may mailbox name receive mail?  ST_OK, ST_PERM (no such
	 * mailbox), ST_TEMP (cannot tell now); NULL = every name may */
	struct status (*user_known)(void *ctx, const char *name);
	/* the targets of name's ~/.forward into list (ADDRTAB_LIST); ST_OK
	 * with list->nlist 0 when it has none; NULL = no forwarding */
	struct status (*forward)(void *ctx, const char *name, struct addrtab *list);
	const char *home_domain;               /* of local mailboxes */
	char delimiter;                        /* 0 = no subaddresses */
	const char *root_alias;                /* NULL = root is a mailbox */
};

enum resolve_kind { RESOLVE_LOCAL, RESOLVE_VIRTUAL, RESOLVE_REMOTE };

struct resolve_target {
	enum resolve_kind kind;
	struct mailbox addr;       /* LOCAL: NAME@HOME_DOMAIN, VIRTUAL:
	                            * USER@DOMAIN, REMOTE: as written */
};

struct resolve_result {
	struct status st;          /* ST_OK: n >= 1 targets */
	struct resolve_target *t;
	size_t n, cap;
	char *why;                 /* how it resolved, lines for people */
	size_t whylen, whycap;
	unsigned dropped;          /* targets refused, looping or unknown */
};

/* resolve - resolve rcpt into r (initialized here; free it with
 * resolve_result_free in every case); returns r->st */
struct status resolve(const struct resolve_params *p, const struct mailbox *rcpt,
                      struct resolve_result *r);
/* resolve_result_free - release r's arrays */
void resolve_result_free(struct resolve_result *r);

#endif
