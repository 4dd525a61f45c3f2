/* route_auth - the credentials files of --route ... auth=FILE: read into
 * the snapshot's routes (config.h: auth_user, auth_pass) when a snapshot
 * is made, at start and at SIGHUP, so a broken or exposed file stops the
 * start (exit 1, the file named) or keeps the running snapshot.
 *
 * The file (mta-smtpd(8), ROUTES): lines "user NAME" and "password
 * SECRET" (the rest of the line after one space, spaces included; a CR
 * before the line end is dropped), blank lines and lines starting with #
 * ignored, each key once, both needed; NAME at most 255 octets, SECRET
 * 512, printable (no control characters).  It must be a regular file
 * (not a link), owned by the user the daemon runs as (--user, else the
 * one starting it), readable by nobody else: no group or other
 * permission bits (0600 or 0400).
 *
 * Contract: called on a snapshot not yet published (no other thread sees
 * it), in the main thread; no globals.  Messages never hold the
 * password; what was read of it is wiped from the stack.
 */
#ifndef MTA_ROUTE_AUTH_H
#define MTA_ROUTE_AUTH_H

#include <stddef.h>

struct config;

/* route_auth_load - read the credentials of every route with auth= of
 * cfg; 0, or -1 with err saying which file and what is wrong */
int route_auth_load(struct config *cfg, char *err, size_t errlen);

#endif
