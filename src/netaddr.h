/* netaddr - socket addresses as text: "ADDR:PORT", IP text, CIDR blocks.
 *
 * Contract: pure functions on caller buffers; thread-safe (inet_pton and
 * inet_ntop only).  Knows nothing of mail.
 */
#ifndef MTA_NETADDR_H
#define MTA_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

enum { NETADDR_TEXT_MAX = 64 };  /* IPv6 text, brackets, port, NUL */

struct cidr {
	int family;                /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned bits;
};

/* netaddr_parse - "1.2.3.4:25", "[::1]:25", or with default_port when
 * the ":PORT" is missing (pass 0 to require it).  Numeric only. */
int netaddr_parse(const char *text, unsigned default_port,
                  struct sockaddr_storage *ss, socklen_t *len);
/* netaddr_ip - the IP of sa as text ("192.0.2.1", "2001:db8::1"); an
 * IPv4-mapped IPv6 address is written as IPv4 */
void netaddr_ip(const struct sockaddr *sa, char *buf, size_t len);
/* netaddr_text - "IP:PORT" or "[IP]:PORT" */
void netaddr_text(const struct sockaddr *sa, char *buf, size_t len);
/* netaddr_unliteral - the address inside a host text that may be an
 * address literal: "[192.0.2.1]" -> "192.0.2.1", "[IPv6:2001:db8::1]" ->
 * "2001:db8::1" (the tag in any case, with or without the brackets),
 * anything else as it is.  Returns
 * where the address starts in s; *n gets its length (s[0..len) is the
 * text, which need not be NUL-terminated) */
const char *netaddr_unliteral(const char *s, size_t len, size_t *n);
/* cidr_parse - "127.0.0.0/8", "::1/128", or a bare address (all bits) */
int cidr_parse(const char *text, struct cidr *c);
/* cidr_match - is sa inside c?  IPv4-mapped IPv6 matches IPv4 blocks */
int cidr_match(const struct cidr *c, const struct sockaddr *sa);

#endif
