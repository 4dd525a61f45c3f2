/* send_priv.h - what the two modes of mta-send (send_inject.c,
 * send_gun.c) share from send.c.  Not for other modules: the interface
 * is send.h, and its contract holds here too (main thread only).
 *
 * Every string returned is malloc'ed and the caller's to free; NULL is
 * out of memory.
 */
#ifndef MTA_SEND_PRIV_H
#define MTA_SEND_PRIV_H

#include "msghdr.h"

/* send_qualify - addr as it goes on the wire: brackets off,
 * "@hostname" added to a bare local name */
char *send_qualify(const char *addr, const char *hostname);
/* send_default_sender - the invoking user at hostname (like sendmail) */
char *send_default_sender(const char *hostname);
/* send_qualify_list - every address of l qualified, as a NULL-ended
 * array (send_free_list releases it) */
char **send_qualify_list(const struct addrlist *l, const char *hostname);
/* send_free_list - release a NULL-ended array of strings; NULL is none */
void send_free_list(char **v);
/* send_say_dropped - name on stderr every address in d that cannot be
 * sent (its control characters turned to '?' in place); where says
 * where it was found */
void send_say_dropped(const struct addrlist *d, const char *where);

#endif
