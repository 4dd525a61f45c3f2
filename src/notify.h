/* notify - tell the service manager how the daemon is doing: systemd's
 * notification protocol (sd_notify(3)), spoken directly so that no
 * libsystemd is needed: one datagram such as "READY=1" to the AF_UNIX
 * socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract
 * namespace).  Without $NOTIFY_SOCKET (not started by systemd, or a unit
 * of Type=simple) every call does nothing.
 *
 * Contract: notify_init() reads the environment once, before threads
 * start, and unsets NOTIFY_SOCKET so that no child inherits it;
 * notify_send() may then be called from any thread (one sendto() per
 * message, no shared state written).  Failures are ignored: the
 * manager's own time limits deal with a daemon that never says READY.
 */
#ifndef MTA_NOTIFY_H
#define MTA_NOTIFY_H

/* notify_init - remember $NOTIFY_SOCKET (and unset it) */
void notify_init(void);
/* notify_send - one state message ("READY=1", "RELOADING=1",
 * "STOPPING=1", "STATUS=..."); 1 sent, 0 no manager listening, -1 error */
int notify_send(const char *state);

#endif
