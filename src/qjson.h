/* qjson - mta-queue --json: the queue as JSON Lines, one object per
 * message, for programs (mta-queue(1), JSON OUTPUT, is the stable
 * contract: fields are only ever added).
 *
 * Read like the listing (qlist.h): through the store, envelopes and job
 * files only, a snapshot of a queue that keeps moving; files that make
 * no sense are skipped with a warning.  Every string from a file goes
 * through json_put_string (json.h): the output always parses, whatever
 * an address or an error holds.
 *
 * Contract: used by one thread; borrows the qlist.
 */
#ifndef MTA_QJSON_H
#define MTA_QJSON_H

#include <stdio.h>

#include "qlist.h"
#include "qselect.h"

/* qjson_print - a JSON object per message that sel picks (with the
 * recipients it picks), one a line, on out; 0, or -1 with errno (a
 * directory could not be read, out of memory) */
int qjson_print(struct qlist *ql, FILE *out, const struct qselect *sel);

#endif
