/* envelope - who a queued message is from and for, and its text form.
 *
 * The envelope is the head of every message file in the queue
 * (mta-queue(5)): text lines "key value", then an empty line, then the
 * message.  Keys, in this order:
 *   mta-envelope V          format version: 4, written always since
 *                           the seal; 3 when there is a ret, envid,
 *                           notify or dsn-orcpt line, else 2 when there
 *                           is an orcpt line, else 1 (files of older
 *                           versions, unsealed); all are read, and 1 or
 *                           2 with any of those lines too
 *   seal SIZE CRC           version 4 only, and required there, the
 *                           second line (seal.h): the file's size and the
 *                           CRC-32C of all after this line, filled in by
 *                           its writer once the file is whole
 *   id ID                   queue ID
 *   arrival SECONDS         epoch seconds when DATA began
 *   client IP               the client's address ("local" for bounces)
 *   helo NAME               the client's HELO/EHLO argument
 *   sender ADDR             the envelope sender; empty for the null sender
 *   body 8BITMIME           only when MAIL had BODY=8BITMIME (RFC 6152);
 *                           without it the body type was not declared
 *   ret FULL|HDRS           only when MAIL had RET= (RFC 3461 4.3)
 *   envid XTEXT             only when MAIL had ENVID= (RFC 3461 4.4), as
 *                           the client wrote it
 *   rcpt ADDR               one line per recipient, recipient N is the
 *                           N-th rcpt line counting from 0
 *   orcpt ADDR              optional, right after a rcpt line: the address
 *                           the client gave at RCPT, when aliases, a
 *                           virtual table or a subaddress made that
 *                           recipient of it (resolve.h); files without
 *                           it (older ones) read as before
 *   dsn-orcpt TYPE;XTEXT    optional, after the rcpt line and its orcpt:
 *                           RCPT's ORCPT= (RFC 3461 4.2) as written
 *   notify WORDS            optional, last of a recipient's lines: RCPT's
 *                           NOTIFY=, written NEVER or as a list of SUCCESS,
 *                           FAILURE, DELAY in this order (dsn.h)
 * Values never hold CR or LF (the session refuses them), so a line is
 * always one field.
 *
 * Contract: an envelope owns its recipient arrays; envelope_free() releases
 * them.  Not shared between threads.
 */
#ifndef MTA_ENVELOPE_H
#define MTA_ENVELOPE_H

#include <stddef.h>
#include <time.h>

#include "addr.h"
#include "dsn.h"
#include "seal.h"

enum { ENVELOPE_ID_MAX = 32, ENVELOPE_HELO_MAX = 256, ENVELOPE_CLIENT_MAX = 64 };

/* the DSN parameters of one recipient's RCPT */
struct envelope_dsn {
	unsigned notify;           /* DSN_NEVER... bits, 0 = not given */
	char *orcpt;               /* ORCPT= "type;xtext" (malloc'ed), or NULL */
};

struct envelope {
	char id[ENVELOPE_ID_MAX];
	time_t arrival;
	char client[ENVELOPE_CLIENT_MAX];
	char helo[ENVELOPE_HELO_MAX];
	struct mailbox sender;
	int body_8bit;             /* MAIL had BODY=8BITMIME */
	int ret;                   /* MAIL's RET=: DSN_RET_* */
	char envid[DSN_ENVID_MAX]; /* MAIL's ENVID= (xtext), "" = none */
	struct mailbox *rcpt;
	char **orcpt;              /* per recipient: its RCPT address, or NULL
	                            * when the same (malloc'ed strings) */
	struct envelope_dsn *dsn;  /* per recipient: RCPT's DSN parameters */
	size_t nrcpt, rcpt_cap;
	int sealed;                /* version 4: the seal below is to be met */
	unsigned long long seal_size;
	unsigned seal_crc;
};

/* where a version 4 file's seal line is (after "mta-envelope 4\n"), and
 * where what it covers begins */
enum { ENVELOPE_SEAL_AT = 15, ENVELOPE_SEAL_END = ENVELOPE_SEAL_AT + SEAL_LINE_LEN };

/* envelope_init - an empty envelope */
void envelope_init(struct envelope *env);
/* envelope_free - release the recipients; the envelope is empty again */
void envelope_free(struct envelope *env);
/* envelope_truncate - forget the recipients from n on (none if n is
 * nrcpt or more): what a refused RCPT had added */
void envelope_truncate(struct envelope *env, size_t n);
/* envelope_add_rcpt - append a recipient; returns 1 if added, 0 if the
 * same address (domain compared without case) is already there, -1 when
 * out of memory */
int envelope_add_rcpt(struct envelope *env, const struct mailbox *rcpt);
/* envelope_add_final - append a final recipient reached from the RCPT
 * address orcpt (NULL or the same: none recorded); as
 * envelope_add_rcpt, a recipient already there is not added again */
int envelope_add_final(struct envelope *env, const struct mailbox *rcpt,
                       const char *orcpt);
/* envelope_set_dsn - give recipients [from, env->nrcpt) the DSN
 * parameters notify and orcpt (NULL: none; copied); 0, or -1 (ENOMEM) */
int envelope_set_dsn(struct envelope *env, size_t from, unsigned notify,
                     const char *orcpt);
/* envelope_orcpt - recipient n's RCPT address (its own when none was
 * recorded) */
const char *envelope_orcpt(const struct envelope *env, size_t n);
/* envelope_has_dsn - does env hold any DSN parameter (ret, envid,
 * notify, dsn-orcpt)? */
int envelope_has_dsn(const struct envelope *env);
/* envelope_format - the text form (version 4, its seal line a
 * reservation of SIZE 0 for the writer to fill in at ENVELOPE_SEAL_AT:
 * seal_format), ending with the empty line, into a malloc'ed,
 * NUL-terminated buffer *out of length *len (the NUL not counted);
 * returns 0 or -1 (ENOMEM) */
int envelope_format(const struct envelope *env, char **out, size_t *len);
/* envelope_parse - read the text form from buf[0..n); on success fills
 * env and sets *used to the offset of the message (just past the empty
 * line); returns 0, or -1: errno EINVAL when the text is not a complete
 * valid envelope, ENOMEM when out of memory (the text may be good) */
int envelope_parse(const char *buf, size_t n, struct envelope *env,
                   size_t *used);
/* envelope_read - parse the envelope at the start of the open message
 * file fd (read with pread, so fd's offset is untouched); *offset = where
 * the message begins.  0, or -1: errno EINVAL for a bad or truncated
 * envelope (only then is the file damaged), or the read or allocation
 * error (ENOMEM, EIO: temporary) */
int envelope_read(int fd, struct envelope *env, long long *offset);
/* envelope_verify - is the sealed file fd (env read from it) whole: its
 * size and CRC as its seal says (seal_verify)?  An unsealed file (version
 * 1 to 3, written before the seal) passes.  0; -1 with EINVAL when it is
 * not whole (data lost to a power cut before its writer's fdatasync: it
 * was never acknowledged), another errno when it cannot be read */
int envelope_verify(int fd, const struct envelope *env);
/* mailbox_from_text - fill mb from stored text "local@domain" (no
 * brackets); the last '@' splits.  Returns 0, or -1 when too long. */
int mailbox_from_text(struct mailbox *mb, const char *text, size_t n);

#endif
