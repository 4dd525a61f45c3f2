/* localaddr - is an address and port one of this daemon's own listeners?
 * (RFC 5321 5.1: an MX that points back to the host itself must not be
 * connected to, or the mail loops through our own queue.)
 *
 * A listener on a specific address matches that address and port.  A
 * wildcard listener (0.0.0.0 or ::) matches its port on every address of
 * that family the host has: the loopback network (127.0.0.0/8, ::1) and
 * every interface address.  IPv6 listeners are V6ONLY (server.c), so an
 * IPv4 address never matches "::", and an IPv4-mapped IPv6 address is
 * compared as the IPv4 address it carries.
 *
 * Contract: localaddr_match is pure (caller buffers only); localaddr_is_self
 * reads the interface list (getifaddrs) when a wildcard listener needs it.
 * Both are thread-safe.
 */
#ifndef MTA_LOCALADDR_H
#define MTA_LOCALADDR_H

#include <stddef.h>
#include <sys/socket.h>

#include "config.h"

/* localaddr_match - does sa:port reach one of the nl listeners, given the
 * host's interface addresses ifs[0..nifs)?  1 or 0 */
int localaddr_match(const struct listen_addr *l, size_t nl,
                    const struct sockaddr *const *ifs, size_t nifs,
                    const struct sockaddr *sa, unsigned port);
/* localaddr_is_self - the same against cfg's listeners and the interface
 * addresses the host has now; 1 or 0 (0 also when they cannot be read
 * and no specific listener matched) */
int localaddr_is_self(const struct config *cfg, const struct sockaddr *sa,
                      unsigned port);

#endif
