/* options - mta-smtpd's option table: one table drives getopt_long, the
 * usage text, the configuration file and the defaults (mta-smtpd(8),
 * OPTIONS and CONFIGURATION FILE).
 *
 * Contract: options_load() builds a new snapshot (config.h): the table's
 * defaults, then the file named by --config (one "name value" line per
 * setting, long option names, '#' starts a comment line), then the
 * command line, which wins: a repeatable option given on the command
 * line replaces the file's list instead of adding to it.  Every value
 * goes through the same parser from either source.  Errors: NULL, and a
 * message in err ("FILE:LINE: ..." for the file).  Called from the main
 * thread only (getopt_long has global state); the usage text may be read
 * from any thread.
 */
#ifndef MTA_OPTIONS_H
#define MTA_OPTIONS_H

#include <stddef.h>

#include "config.h"

enum options_action {
	OPTIONS_RUN,       /* run the daemon with the snapshot */
	OPTIONS_VERSION    /* --version: print it, exit 0 (no snapshot) */
};

/* options_load - a new snapshot from argv (and its --config file); NULL
 * with err set on any error, also for OPTIONS_VERSION */
struct config *options_load(int argc, char **argv, enum options_action *action,
                            char *err, size_t errlen);
/* options_usage - the usage text, generated from the table */
const char *options_usage(void);
/* options_restart_only - does option `name` need a restart to change? */
int options_restart_only(const char *name);
/* options_keep_restart_only - copy into cfg, from running, the settings
 * of every option that needs a restart (--listen, --smtps, --submission,
 * --queue,
 * --user, --hold) where they differ; their names, space-separated in table
 * order, into changed ("" when none); 0, or -1 when out of memory */
int options_keep_restart_only(struct config *cfg, const struct config *running,
                              char *changed, size_t changedlen);

#endif
