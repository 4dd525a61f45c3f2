/* mime8 - downgrade a message with 8-bit octets to 7 bits for a server
 * that does not offer 8BITMIME (RFC 6152 section 3, RFC 2045, RFC 2046).
 *
 * Two passes over the same bytes, as the decision for a MIME part must be
 * made before its header goes out, and the header comes before the body:
 *   1. mime8_scan() reads the message and marks every leaf part (the
 *      message itself when it is not multipart) whose body holds an octet
 *      over 127; mime8_scan_end() says whether anything must change.
 *   2. mime8_convert() reads the same bytes again and writes the 7-bit
 *      form through out().
 * The conversion, part by part (entities are counted in the order their
 * headers start, identically in both passes):
 *   - a marked leaf part whose transfer encoding is none, 7bit, 8bit or
 *     binary: its body is encoded quoted-printable (lines of at most 76
 *     octets, trailing white space and every octet outside 33..126 but
 *     space and tab encoded, "=" as =3D, a bare CR as =0D) and its
 *     Content-Transfer-Encoding field is replaced by
 *     "Content-Transfer-Encoding: quoted-printable" at the end of its
 *     header.  A message (the top level, or one inside message/rfc822)
 *     without MIME-Version gets "MIME-Version: 1.0"; a part without
 *     Content-Type gets "Content-Type: text/plain; charset=unknown-8bit"
 *     (RFC 1428), as its 8-bit text is in no known character set.
 *   - an unmarked part, or a multipart or message/rfc822 one, labelled
 *     8bit or binary: relabelled 7bit (its content is 7-bit now).
 *   - multipart bodies are followed by their boundaries (nested up to
 *     MIME8_DEPTH); a message/rfc822 body is a message of its own, parsed
 *     the same way; in multipart/digest a part without Content-Type is
 *     message/rfc822 (RFC 2046 5.1.5).
 * What cannot be downgraded is sent as it is, as Postfix does: 8-bit
 * octets in a header (RFC 2047 encoding would need to know the character
 * set and the field's syntax), in a part already labelled base64 or
 * quoted-printable (or an unknown encoding), in the preamble or epilogue
 * of a multipart, and in a header over MIME8_HEADER_MAX octets, whose part
 * is then passed through unparsed.
 * Line ends in: LF or CRLF.  Out: lines end as they came in, except in
 * encoded bodies (LF); the SMTP client makes every line end CRLF.
 *
 * Contract: sans I/O (feed bytes, get bytes through out()); one struct
 * per message, used by one thread; out() is called synchronously during
 * the calls and its ctx is borrowed.  Out of memory sets m->oom, after
 * which input is ignored and the output is incomplete: the caller must
 * give up the message.  mime8_free() releases the marks and the buffer.
 */
#ifndef MTA_MIME8_H
#define MTA_MIME8_H

#include <stddef.h>

enum {
	MIME8_LINE = 1000,            /* line start looked at for boundaries */
	MIME8_HEADER_MAX = 65536,     /* one part's header, parsed */
	MIME8_DEPTH = 32,             /* nested multiparts followed */
	MIME8_BOUNDARY_MAX = 70       /* RFC 2046 5.1.1 */
};

typedef void (*mime8_out)(void *ctx, const char *p, size_t n);

struct mime8 {
	int converting;               /* the second pass */
	int need;                     /* the scan found something to change */
	int oom;                      /* out of memory: the scan is void */
	unsigned char *marks;         /* per entity: a leaf with 8-bit body */
	size_t nmarks, cap;
	/* the parser, restarted for each pass */
	int in_header;
	int top;                      /* the entity is a message (no parent part) */
	int digest;                   /* parts default to message/rfc822 */
	int body;                     /* BODY_* for the current body */
	size_t entity;                /* index of the current entity + 1 */
	size_t depth;
	char bound[MIME8_DEPTH][MIME8_BOUNDARY_MAX + 1];
	int bound_digest[MIME8_DEPTH];
	char line[MIME8_LINE];
	size_t llen;
	int midline;                  /* line[] continues a longer line */
	char *hdr;
	size_t hlen, hcap;
	int hdr_skip;                 /* header too long: passed through */
	/* the quoted-printable encoder */
	size_t col;
	int pending;                  /* SP or HT not yet written, or -1 */
	mime8_out out;
	void *ctx;
};

/* mime8_init - ready for the scan */
void mime8_init(struct mime8 *m);
/* mime8_scan - the first pass over in[0..n) */
void mime8_scan(struct mime8 *m, const char *in, size_t n);
/* mime8_scan_end - the message is over: 1 when the conversion changes
 * anything, 0 when the message can go as it is, -1 out of memory */
int mime8_scan_end(struct mime8 *m);
/* mime8_convert_start - ready for the second pass, output to out(ctx) */
void mime8_convert_start(struct mime8 *m, mime8_out out, void *ctx);
/* mime8_convert - the same bytes again, in pieces of any size */
void mime8_convert(struct mime8 *m, const char *in, size_t n);
/* mime8_convert_end - the rest of the output */
void mime8_convert_end(struct mime8 *m);
/* mime8_free - release the memory */
void mime8_free(struct mime8 *m);

#endif
