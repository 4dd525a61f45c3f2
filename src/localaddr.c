/* localaddr.c - our own listening addresses; see localaddr.h */
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "localaddr.h"

/* plain - sa as a family and raw address bytes (IPv4-mapped IPv6 as
 * IPv4); 0, or -1 for another family */
static int plain(const struct sockaddr *sa, int *family, unsigned char addr[16],
                 unsigned *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		*family = AF_INET;
		memcpy(addr, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		*port = ntohs(in6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			*family = AF_INET;
			memcpy(addr, in6->sin6_addr.s6_addr + 12, 4);
		} else {
			*family = AF_INET6;
			memcpy(addr, &in6->sin6_addr, 16);
		}
		return 0;
	}
	return -1;
}

/* host_has - is fam/addr an address of this host: loopback, or one of ifs */
static int host_has(const struct sockaddr *const *ifs, size_t nifs, int fam,
                    const unsigned char *addr)
{
	static const unsigned char v6_loopback[16] = { [15] = 1 };
	size_t alen = fam == AF_INET ? 4 : 16, i;

	if (fam == AF_INET && addr[0] == 127)
		return 1;             /* the whole 127/8 is local on Linux */
	if (fam == AF_INET6 && memcmp(addr, v6_loopback, 16) == 0)
		return 1;
	for (i = 0; i < nifs; i++) {
		unsigned char ia[16];
		unsigned ip;
		int ifam;

		if (ifs[i] != NULL && plain(ifs[i], &ifam, ia, &ip) == 0 &&
		    ifam == fam && memcmp(ia, addr, alen) == 0)
			return 1;
	}
	return 0;
}

/* localaddr_match - one of the listeners? */
int localaddr_match(const struct listen_addr *l, size_t nl,
                    const struct sockaddr *const *ifs, size_t nifs,
                    const struct sockaddr *sa, unsigned port)
{
	static const unsigned char any[16];
	unsigned char addr[16], laddr[16];
	unsigned lport, ignored;
	int fam, lfam;
	size_t i;

	if (plain(sa, &fam, addr, &ignored) < 0)
		return 0;
	for (i = 0; i < nl; i++) {
		if (plain((const struct sockaddr *)&l[i].ss, &lfam, laddr, &lport) < 0 ||
		    lport != port || lfam != fam)
			continue;
		if (memcmp(laddr, addr, fam == AF_INET ? 4 : 16) == 0)
			return 1;
		if (memcmp(laddr, any, fam == AF_INET ? 4 : 16) == 0 &&
		    host_has(ifs, nifs, fam, addr))
			return 1;
	}
	return 0;
}

/* localaddr_is_self - against the interfaces of the moment: addresses
 * come and go (DHCP, VPNs), so they are read for each question */
int localaddr_is_self(const struct config *cfg, const struct sockaddr *sa,
                      unsigned port)
{
	enum { IFS_MAX = 256 };
	const struct sockaddr **ifs;
	struct ifaddrs *all = NULL, *ifa;
	size_t n = 0;
	int r;

	if (localaddr_match(cfg->listen, cfg->nlisten, NULL, 0, sa, port))
		return 1;
	if ((ifs = calloc(IFS_MAX, sizeof *ifs)) == NULL)
		return 0;
	if (getifaddrs(&all) == 0)
		for (ifa = all; ifa != NULL && n < IFS_MAX; ifa = ifa->ifa_next)
			if (ifa->ifa_addr != NULL)
				ifs[n++] = ifa->ifa_addr;
	r = localaddr_match(cfg->listen, cfg->nlisten, ifs, n, sa, port);
	if (all != NULL)
		freeifaddrs(all);
	free(ifs);
	return r;
}
