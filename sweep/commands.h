/* sweep/commands.h: dlcm-sweep's subcommands that live outside sweep/main.c: status, show,
 * cancel and tag (sweep/manage.c). Each returns the process exit code (sweep/args.h). */
#ifndef DLCM_SWEEP_COMMANDS_H
#define DLCM_SWEEP_COMMANDS_H

#include <sqlite3.h>
#include <stdint.h>

#include "sweep/args.h"

int sweep_cmd_status(const Args *a);
int sweep_cmd_show(const Args *a);
int sweep_cmd_cancel(const Args *a);
int sweep_cmd_tag(const Args *a);

/* The sweep a command works on: --sweep NAME (a misspelled one gets the closest names), else the
 * only one in the database (several: they are listed). 0, or the exit code to return. */
int sweep_pick(sqlite3 *db, const Args *a, char *name, int namelen, int64_t *sweep_id);

/* The last meaningful line of a trainer's stderr tail (blank lines and the scheduler's own lines
 * skipped), into buf ("" when none). */
void sweep_stderr_message(const char *tail, char *buf, size_t n);

#endif
