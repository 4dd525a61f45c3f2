/* authdb - the logins of the submission service (--users FILE,
 * mta-smtpd(8), AUTHENTICATION): who may authenticate with which
 * password, and which envelope senders each login may use.
 *
 * The file: one login a line, "login:hash[:sender,...]"; '#' starts a
 * comment line, blank lines are skipped.  login is any run of printable
 * ASCII without ':' or white space, unique in the file; hash is what
 * crypt(3) (libcrypt) verifies: yescrypt "$y$", sha512-crypt "$6$",
 * bcrypt "$2b$" and the other "$id$" methods; a hash starting with '!'
 * or '*' is a locked login (never accepted).  mta-passwd(1) writes
 * hashes.  Each sender is an address user@domain or "@domain" (any
 * address of that domain).
 *
 * Senders: a login may use as envelope sender its own login when the
 * login is an address, and what its line lists; the null sender is the
 * caller's to allow.  Addresses and domains compare without regard to
 * ASCII case.  Logins compare exactly.
 *
 * Contract: a loaded db is immutable and may be read by any number of
 * threads at once (a configuration snapshot holds it, config.h).
 * authdb_verify hashes with crypt_rn() and a crypt_data of its own per
 * call: no lock, no shared state, so logins are verified in parallel.
 * An unknown login costs one hash too (the first line's), so timing
 * does not tell which logins exist.
 */
#ifndef MTA_AUTHDB_H
#define MTA_AUTHDB_H

#include <stddef.h>

#include "addr.h"

struct authdb;

enum authdb_result {
	AUTHDB_OK,      /* the password is the login's */
	AUTHDB_BAD,     /* unknown login, wrong password or a locked login */
	AUTHDB_TEMP     /* cannot tell now (out of memory) */
};

/* authdb_load - read the file path into a new db; 0, or -1 with err set
 * ("PATH:LINE: why", or why the file cannot be read) */
int authdb_load(struct authdb **db, const char *path, char *err, size_t errlen);
/* authdb_parse - the same from text[0..len); name is the file name for
 * the errors */
int authdb_parse(struct authdb **db, const char *name, const char *text,
                 size_t len, char *err, size_t errlen);
/* authdb_free - release db; NULL is ignored */
void authdb_free(struct authdb *db);
/* authdb_count - the number of logins */
size_t authdb_count(const struct authdb *db);
/* authdb_verify - is password the password of login? */
enum authdb_result authdb_verify(const struct authdb *db, const char *login,
                                 const char *password);
/* authdb_sender_ok - may login use sender (not the null sender) as
 * envelope sender?  db may be NULL (logins from another source): then
 * only the login itself, when it is an address */
int authdb_sender_ok(const struct authdb *db, const char *login,
                     const struct mailbox *sender);

#endif
