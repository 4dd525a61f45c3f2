/* netaddr.c - socket address text and CIDR matching; see netaddr.h */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "netaddr.h"

/* parse_port - decimal 1..65535; 0 on error */
static unsigned parse_port(const char *p)
{
	char *end;
	unsigned long v;

	if (*p < '0' || *p > '9')
		return 0;
	errno = 0;
	v = strtoul(p, &end, 10);
	if (*end || errno || v == 0 || v > 65535)
		return 0;
	return (unsigned)v;
}

/* netaddr_parse - "ADDR:PORT" into a sockaddr */
int netaddr_parse(const char *text, unsigned default_port,
                  struct sockaddr_storage *ss, socklen_t *len)
{
	char host[NETADDR_TEXT_MAX];
	const char *port_text = NULL, *end;
	unsigned port = default_port;
	size_t n;

	memset(ss, 0, sizeof *ss);
	if (text[0] == '[') {
		end = strchr(text, ']');
		if (end == NULL)
			return -1;
		n = (size_t)(end - text - 1);
		if (end[1] == ':')
			port_text = end + 2;
		else if (end[1] != '\0')
			return -1;
		text++;
	} else {
		end = strrchr(text, ':');
		if (end && strchr(text, ':') != end)
			end = NULL;          /* a bare IPv6 address: no port */
		n = end ? (size_t)(end - text) : strlen(text);
		if (end)
			port_text = end + 1;
	}
	if (n == 0 || n >= sizeof host)
		return -1;
	memcpy(host, text, n);
	host[n] = '\0';
	if (port_text && (port = parse_port(port_text)) == 0)
		return -1;
	if (port == 0)
		return -1;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)port);
		*len = sizeof *sin;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)port);
		*len = sizeof *sin6;
		return 0;
	}
	return -1;
}

/* v4mapped - the IPv4 address inside an IPv4-mapped IPv6 one, or NULL */
static const unsigned char *v4mapped(const struct sockaddr_in6 *sin6)
{
	static const unsigned char prefix[12] = {0,0,0,0,0,0,0,0,0,0,0xff,0xff};

	if (memcmp(sin6->sin6_addr.s6_addr, prefix, 12) == 0)
		return sin6->sin6_addr.s6_addr + 12;
	return NULL;
}

/* netaddr_ip - the IP as text */
void netaddr_ip(const struct sockaddr *sa, char *buf, size_t len)
{
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		          buf, (socklen_t)len);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		const unsigned char *v4 = v4mapped(sin6);

		if (v4)
			inet_ntop(AF_INET, v4, buf, (socklen_t)len);
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, buf, (socklen_t)len);
	} else {
		snprintf(buf, len, "unknown");
	}
}

/* netaddr_unliteral - brackets and the IPv6: tag off */
const char *netaddr_unliteral(const char *s, size_t len, size_t *n)
{
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	/* no host name has a colon: the tag is never part of a name */
	if (len >= 5 && strncasecmp(s, "IPv6:", 5) == 0) {
		s += 5;
		len -= 5;
	}
	*n = len;
	return s;
}

/* netaddr_text - "IP:PORT" or "[IP]:PORT" */
void netaddr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[NETADDR_TEXT_MAX];
	unsigned port = 0;

	netaddr_ip(sa, ip, sizeof ip);
	if (sa->sa_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	else if (sa->sa_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	if (strchr(ip, ':'))
		snprintf(buf, len, "[%s]:%u", ip, port);
	else
		snprintf(buf, len, "%s:%u", ip, port);
}

/* cidr_parse - "ADDR/BITS" or a bare address */
int cidr_parse(const char *text, struct cidr *c)
{
	char host[NETADDR_TEXT_MAX];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	unsigned max;

	if (n == 0 || n >= sizeof host)
		return -1;
	memcpy(host, text, n);
	host[n] = '\0';
	memset(c, 0, sizeof *c);
	if (inet_pton(AF_INET, host, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	c->bits = max;
	if (slash) {
		char *end;
		unsigned long v;

		if (slash[1] < '0' || slash[1] > '9')
			return -1;
		v = strtoul(slash + 1, &end, 10);
		if (*end || v > max)
			return -1;
		c->bits = (unsigned)v;
	}
	return 0;
}

/* prefix_equal - do a and b agree in their first bits bits? */
static int prefix_equal(const unsigned char *a, const unsigned char *b,
                        unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[whole] ^ b[whole]) & (0xff << (8 - rest))) == 0;
}

/* cidr_match - is sa inside c? */
int cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	const unsigned char *ip = NULL;
	int family = sa->sa_family;

	if (family == AF_INET) {
		ip = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		ip = v4mapped(sin6);
		if (ip)
			family = AF_INET;
		else
			ip = sin6->sin6_addr.s6_addr;
	}
	if (ip == NULL || family != c->family)
		return 0;
	return prefix_equal(ip, c->addr, c->bits);
}
