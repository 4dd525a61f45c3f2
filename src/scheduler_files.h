/* scheduler_files - the scheduler reading the queue: start-up and
 * periodic scans, inotify events.  Private to scheduler*.c; the
 * scheduler thread only. */
#ifndef MTA_SCHEDULER_FILES_H
#define MTA_SCHEDULER_FILES_H

#include "scheduler_priv.h"


/* sched_recover_mess - read mess/ at start-up: every message file there
 * becomes known (anything but a regular file with a queue ID goes to
 * bad/); 0, or -1 with errno when mess/ could not be read to its end */
int sched_recover_mess(struct sched *s);
/* sched_drop_jobless - remove a message without jobs (jobtab_each_msg) */
void sched_drop_jobless(void *arg, struct jt_msg *m);
/* sched_rescan - bring memory in line with the directories; 0, or -1
 * (logged) when rcpt/ or new/ could not be read: then no job is taken
 * for gone, and it is tried again within SCAN_RETRY seconds */
int sched_rescan(struct sched *s);
/* sched_read_events - drain inotify and act on what it says */
void sched_read_events(struct sched *s);

#endif
