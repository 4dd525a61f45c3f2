/* smtp_client - the client side of one SMTP connection (RFC 5321),
 * blocking, with a deadline on every wait.
 *
 * What it does: connect (IPv4/IPv6 literal or name, each address in
 * turn), read the greeting, EHLO falling back to HELO (remembering
 * PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8), send one
 * transaction after another, RSET, QUIT.  A transaction is MAIL FROM
 * (with SIZE= when offered, BODY=8BITMIME when asked for and offered),
 * one RCPT TO per recipient, DATA, the message, and the final dot.  With
 * PIPELINING, MAIL, the RCPTs (in groups of SMTP_CLIENT_RCPT_GROUP) and
 * DATA go out together and their replies are read afterwards (RFC 2920);
 * a RSET owed by an earlier refused transaction rides in the same group.
 *
 * The message: from memory or read from a descriptor (its current offset
 * to EOF), with LF or CRLF line ends.  To a server that does not offer
 * 8BITMIME it goes downgraded to 7 bits when it has 8-bit octets
 * (mime8.h: a first pass reads it all, then the descriptor is put back
 * to its offset for the second).  On the wire every line ends in
 * CRLF, a bare CR counts as a line end too (so no bare CR or LF ever
 * leaves), a line longer than 998 octets is split (smtp_dot_encode), lines
 * starting with '.' are dot-stuffed, a missing last line
 * end is added, and CRLF.CRLF ends it.
 *
 * Time limits (struct smtp_timeouts, milliseconds): each wait for a reply
 * has one deadline for the whole reply; each block of message data
 * written has its own.  Defaults are RFC 5321 4.5.3.2: greeting 5 min,
 * MAIL 5 min, RCPT 5 min, DATA 2 min, data block 3 min, final dot 10 min;
 * EHLO/HELO, RSET and QUIT 5 min; connect 30 s (not in the RFC).
 *
 * Results: every call that talks to the server fills a struct smtp_result:
 * a struct status (ST_OK for 2xx/3xx, ST_TEMP for 4xx, a network failure,
 * a timeout or a malformed reply; ST_PERM for 5xx or a local refusal such
 * as an address with control characters or a message over the server's
 * SIZE) plus the server's reply as parsed (reply.code 0 when the server
 * said nothing) and the stage it happened at.  errno is meaningful after a
 * failure only when reply.code is 0.  A network failure, a timeout, a
 * malformed reply or a 421 makes the connection unusable: the socket is
 * closed and later calls fail at once until the next smtp_client_connect.
 *
 * Contract: one struct smtp_client per connection, used by one thread at
 * a time; no globals, no printing, no exit(), no signals (the stream's writes
 * use MSG_NOSIGNAL): safe to run many clients in many threads.  All its
 * socket I/O goes through c->io (stream.h).  The socket is
 * owned by the client (SOCK_CLOEXEC, non-blocking, TCP_NODELAY) and
 * closed by smtp_client_quit() or smtp_client_close().  Strings passed in
 * (struct smtp_tx and the rest) are borrowed for the duration of the call.
 */
#ifndef MTA_SMTP_CLIENT_H
#define MTA_SMTP_CLIENT_H

#include <stddef.h>

#include "smtp_reply.h"
#include "status.h"
#include "stream.h"

enum {
	SMTP_CLIENT_OUT_MAX = 32768,  /* output buffer: commands, data blocks */
	SMTP_CLIENT_IN_MAX = 4096,    /* input buffer */
	SMTP_CLIENT_RCPT_GROUP = 64,  /* RCPTs pipelined before reading */
	SMTP_CLIENT_ADDR_MAX = 254    /* longest address accepted (RFC 5321) */
};

/* what the server offered in its EHLO reply */
enum {
	SMTP_EXT_PIPELINING = 1 << 0,
	SMTP_EXT_SIZE = 1 << 1,
	SMTP_EXT_8BITMIME = 1 << 2,
	SMTP_EXT_ENHANCED = 1 << 3,
	SMTP_EXT_SMTPUTF8 = 1 << 4
};

enum smtp_stage {
	SMTP_STAGE_NONE = 0,
	SMTP_STAGE_CONNECT,
	SMTP_STAGE_GREETING,
	SMTP_STAGE_HELLO,
	SMTP_STAGE_MAIL,
	SMTP_STAGE_RCPT,
	SMTP_STAGE_DATA,      /* the DATA command */
	SMTP_STAGE_DOT,       /* the message and the final dot */
	SMTP_STAGE_RSET,
	SMTP_STAGE_QUIT
};

struct smtp_timeouts {          /* milliseconds, > 0 */
	int connect, greeting, hello, mail, rcpt, data, block, dot, other;
};

struct smtp_result {
	struct status st;         /* what it means */
	enum smtp_stage stage;    /* where it happened */
	struct smtp_reply reply;  /* what the server said; code 0: nothing */
};

struct smtp_tx {
	const char *sender;          /* no brackets; "" is the null sender */
	const char *const *rcpt;     /* nrcpt recipients, no brackets */
	size_t nrcpt;
	const char *data;            /* the message in memory, len bytes; */
	size_t len;                  /* or NULL: read it from fd */
	int fd;
	unsigned long long size;     /* SIZE= estimate; 0: len, or fstat(fd) */
	int body_8bit;               /* send BODY=8BITMIME when offered */
};

/* RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with its CRLF */
enum { SMTP_LINE_MAX = 998 };

/* dot-stuffing and line-end state of one message being sent */
struct smtp_dot {
	int bol;                     /* at the start of a line */
	int cr;                      /* the last byte was a CR */
	size_t col;                  /* octets of the current line on the wire */
	int split;                   /* split lines over SMTP_LINE_MAX; 0: not */
};

/* the room smtp_dot_encode needs for n input bytes: two octets each
 * (CRLF for a line end, a stuffed dot) plus, when splitting, the three
 * of CRLF SP at most once per SMTP_LINE_MAX - 1 input bytes */
#define SMTP_DOT_OUT_MAX(n) \
	(2 * (size_t)(n) + 3 * ((size_t)(n) / (SMTP_LINE_MAX - 1) + 1))

struct smtp_client {
	struct stream io;            /* io.fd -1 when not connected */
	int esmtp;                   /* EHLO was accepted */
	unsigned ext;                /* SMTP_EXT_* from EHLO */
	unsigned long long size_max; /* SIZE limit, 0: none announced */
	int need_rset;               /* a refused transaction is still open */
	long long opened_ms;         /* monotonic: connected (or initialised) */
	struct smtp_timeouts to;
	char peer[96];               /* "192.0.2.1:25" or "[2001:db8::1]:25" */
	struct smtp_reply_parser parser;
	size_t in_pos, in_len;
	size_t out_len;
	char in[SMTP_CLIENT_IN_MAX];
	char out[SMTP_CLIENT_OUT_MAX];
};

/* smtp_timeouts_default - the RFC 5321 4.5.3.2 values */
void smtp_timeouts_default(struct smtp_timeouts *to);
/* smtp_timeouts_all - every limit set to ms */
void smtp_timeouts_all(struct smtp_timeouts *to, int ms);

/* smtp_client_init - an unconnected client; to NULL: the defaults */
void smtp_client_init(struct smtp_client *c, const struct smtp_timeouts *to);

struct addrinfo;

/* smtp_resolve - the addresses of host (a name or an address literal,
 * with or without brackets) and port (number or service name) for a TCP
 * connection; 0 with *ai (the caller frees it with freeaddrinfo), or -1
 * with errno and *why saying why (ST_PERM when the name does not exist) */
int smtp_resolve(const char *host, const char *port, struct addrinfo **ai,
                 struct status *why);

/* smtp_client_connect - connect to host (name or address literal, with
 * or without brackets) and port (number or service name), trying each
 * address; returns 0, or -1 with res saying why (the last failure) */
int smtp_client_connect(struct smtp_client *c, const char *host,
                        const char *port, struct smtp_result *res);
/* smtp_client_greeting - read the greeting: 0 for a 220, else -1 (and
 * the connection is closed, after a QUIT when the server is still there) */
int smtp_client_greeting(struct smtp_client *c, struct smtp_result *res);
/* smtp_client_hello - EHLO name, HELO name when the server refuses EHLO
 * with a 5xx; 0 when one was accepted, else -1 */
int smtp_client_hello(struct smtp_client *c, const char *name,
                      struct smtp_result *res);
/* smtp_client_open - connect, greeting and hello in one; 0 or -1 */
int smtp_client_open(struct smtp_client *c, const char *host,
                     const char *port, const char *helo,
                     struct smtp_result *res);

/* smtp_client_send - one transaction.  rcpt_res (tx->nrcpt entries) gets
 * each recipient's outcome: its RCPT reply when refused there, else the
 * final reply after the dot (or the failure that ended the transaction).
 * Returns 0 when the server accepted the message for at least one
 * recipient; -1 otherwise, res saying why (MAIL refused, every recipient
 * refused (a 4xx among them makes it ST_TEMP), DATA or the message refused,
 * the connection lost...).  After -1 the connection is either closed or
 * ready for the next transaction (a RSET is sent first when needed). */
int smtp_client_send(struct smtp_client *c, const struct smtp_tx *tx,
                     struct smtp_result *rcpt_res, struct smtp_result *res);
/* smtp_client_rset - RSET now; 0 on a 250, else -1 */
int smtp_client_rset(struct smtp_client *c, struct smtp_result *res);
/* smtp_client_quit - QUIT, wait (bounded) for the 221, close; returns 0
 * when the 221 came, -1 otherwise; the client is closed either way */
int smtp_client_quit(struct smtp_client *c, struct smtp_result *res);
/* smtp_client_close - close the connection without a word */
void smtp_client_close(struct smtp_client *c);
/* smtp_client_connected - true while the connection is usable */
int smtp_client_connected(const struct smtp_client *c);

/* smtp_parse_hostport - split "host:port", "[v6addr]:port", "host" or
 * "[v6addr]" into host (brackets removed) and port (default_port when
 * none); returns 0, or -1 (EINVAL) for bad syntax or buffers too small */
int smtp_parse_hostport(const char *s, const char *default_port, char *host,
                        size_t hostlen, char *port, size_t portlen);

/* smtp_stage_name - "MAIL FROM", "RCPT TO", "end of data", ... */
const char *smtp_stage_name(enum smtp_stage stage);

/* smtp_text_ok - may s (at most max octets) go into a command line?
 * printable ASCII without angle brackets */
int smtp_text_ok(const char *s, size_t max);

/* smtp_rcpt_ok - may r go into RCPT TO?  not empty, at most
 * SMTP_CLIENT_ADDR_MAX octets that smtp_text_ok allows */
int smtp_rcpt_ok(const char *r);

/* smtp_helo_ok - may name go into EHLO/HELO?  not empty, at most 255
 * octets of printable ASCII without spaces or angle brackets */
int smtp_helo_ok(const char *name);

/* smtp_ehlo_parse - the extensions (SMTP_EXT_*) an EHLO reply offers, and
 * the SIZE limit it announces (0: none) */
void smtp_ehlo_parse(const struct smtp_reply *r, unsigned *ext,
                     unsigned long long *size_max);

/* smtp_reply_status - what a server reply means: ST_OK for 2xx/3xx,
 * ST_TEMP for 4xx, ST_PERM for 5xx; text "code [x.y.z ]text" */
struct status smtp_reply_status(const struct smtp_reply *r);

/* smtp_result_from_reply - fill res from a server reply at stage */
void smtp_result_from_reply(struct smtp_result *res, enum smtp_stage stage,
                            const struct smtp_reply *r);

/* smtp_dot_init - a message is about to start; lines are not split
 * unless d->split is set afterwards */
void smtp_dot_init(struct smtp_dot *d);
/* smtp_dot_encode - wire form of in[0..n) into out, which must hold 2*n
 * bytes (SMTP_DOT_OUT_MAX(n) when d->split is set); returns the bytes
 * written.  With split, a line that would grow past SMTP_LINE_MAX octets
 * on the wire (a stuffed dot counts) is split: CRLF SP goes in before the
 * octet that would exceed it, and the rest continues on a line of its
 * own that starts with a space (in the header a folded continuation of
 * the same field, in the body a line that can never be a lone dot). */
size_t smtp_dot_encode(struct smtp_dot *d, const char *in, size_t n,
                       char *out);
/* smtp_dot_finish - the end of the message: a line end when the last line
 * had none, then ".\r\n", into out (room for 5); returns the bytes */
size_t smtp_dot_finish(struct smtp_dot *d, char *out);

#endif
