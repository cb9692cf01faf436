/* engine/train/exit_codes.h: the exit codes of dlcm-train, in one place: the trainer returns them
 * and the sweep's scheduler reads them (a bad-input exit is not retried, a divergence is kept). */
#ifndef DLCM_ENGINE_TRAIN_EXIT_CODES_H
#define DLCM_ENGINE_TRAIN_EXIT_CODES_H

#include "cli/cli.h" /* the codes every program shares */

enum {
    TRAIN_EXIT_DONE = CLI_EXIT_OK,             /* trained to the last step (or stopped at --stop-at-step) */
    TRAIN_EXIT_ERROR = CLI_EXIT_FAILURE,       /* a runtime failure: I/O, database, backend; status 'failed' */
    TRAIN_EXIT_BAD_INPUT = CLI_EXIT_BAD_INPUT, /* bad config, flags, data or checkpoint: nothing was trained */
    TRAIN_EXIT_DIVERGED = 3,                   /* loss NaN/inf or above the initial loss; status 'diverged' */
    TRAIN_EXIT_BUSY = 75,                      /* another trainer holds the run directory: nothing done
                                                  (EX_TEMPFAIL, what the launcher gives a locked directory) */
    TRAIN_EXIT_SIGINT = 130,                   /* interrupted: checkpoint written, status 'queued' (resumable) */
    TRAIN_EXIT_SIGTERM = 143
};

#endif
