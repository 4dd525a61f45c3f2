/* msgsrc - messages read from files: mbox files, Maildirs, single files
 * (what is in the header: msghdr.h).
 *
 * Sources (msgsrc_open decides by looking):
 *   Maildir  a directory with cur/ or new/: every file in new/, then cur/,
 *            in name order (names starting with '.' skipped);
 *   mbox     a file whose first line starts with "From ": a message starts
 *            at each "From " line that follows an empty line (or begins the
 *            file); the From_ line and the empty line before the next one
 *            are not part of the message; ">From ", ">>From "... lose one
 *            '>' (mboxrd; this also undoes mboxo quoting);
 *   message  any other file: one message, the whole file.
 * The message text is handed over as stored, LF or CRLF line ends alike.
 *
 * Contract: a msgsrc is used by one thread (the main one; it uses stdio
 * and readdir).  msg.data is malloc'ed and owned by the struct msg until
 * msg_free().  Functions return 0 (or 1) on success, -1 with errno on
 * failure.
 */
#ifndef MTA_MSGSRC_H
#define MTA_MSGSRC_H

#include <stddef.h>

enum msgsrc_kind { MSGSRC_MESSAGE, MSGSRC_MBOX, MSGSRC_MAILDIR };

struct msg {
	char *data;        /* the message, malloc'ed */
	size_t len;
};

struct msgsrc;

/* msgsrc_open - start reading path; *out gets the source */
int msgsrc_open(const char *path, struct msgsrc **out);
/* msgsrc_next - the next message into *m: 1, 0 at the end, -1 on error */
int msgsrc_next(struct msgsrc *ms, struct msg *m);
/* msgsrc_kind - what kind of source ms is */
enum msgsrc_kind msgsrc_kind(const struct msgsrc *ms);
/* msgsrc_where - where the last message came from (a file name, or
 * "mbox message N"), for error messages; valid until the next call */
const char *msgsrc_where(const struct msgsrc *ms);
/* msgsrc_close - release ms (NULL is fine) */
void msgsrc_close(struct msgsrc *ms);

/* msg_free - release m's text */
void msg_free(struct msg *m);

#endif
