/*
 * serve.h — `tern serve`: start-up, the running server, graceful stop.
 */
#ifndef TERN_SERVE_H
#define TERN_SERVE_H

#include "lib/config.h"

/* Runs until SIGTERM/SIGINT; returns the process exit code. */
int serve_main(struct config *cfg);

#endif
