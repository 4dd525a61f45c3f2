/* authguard - failed logins per client address, across connections
 * (mta-smtpd(8), AUTHENTICATION): an address with AUTHGUARD_FAILURES
 * failed AUTH within AUTHGUARD_WINDOW seconds is refused AUTH for
 * AUTHGUARD_BLOCK seconds, whatever connection it comes back on.  An
 * IPv6 address counts as its /64 (a host has a whole /64 to pick
 * addresses from), an IPv4 address as itself.
 *
 * The table is bounded (AUTHGUARD_SLOTS addresses): when it is full the
 * address seen longest ago is forgotten, so a flood of addresses costs
 * memory never and only dilutes the memory of the oldest.  Entries
 * expire by themselves.  A success forgets nothing (one good account
 * must not reset the count of guesses at the others).
 *
 * Contract: one table per process, under its own mutex; any thread may
 * call these.  Times are monotonic seconds (the caller passes now, so
 * tests can step it).
 */
#ifndef MTA_AUTHGUARD_H
#define MTA_AUTHGUARD_H

enum {
	AUTHGUARD_SLOTS = 4096,
	AUTHGUARD_FAILURES = 10,
	AUTHGUARD_WINDOW = 900,
	AUTHGUARD_BLOCK = 900
};

/* authguard_blocked - seconds ip is still refused AUTH, 0 when not */
long long authguard_blocked(const char *ip, long long now);
/* authguard_failed - one more failure of ip; returns its failures in the
 * window, AUTHGUARD_FAILURES exactly when this one starts a block */
unsigned authguard_failed(const char *ip, long long now);
/* authguard_reset - forget everything (tests) */
void authguard_reset(void);

#endif
