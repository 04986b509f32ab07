/*
 * privs.h — the data directory's ownership and the switch to the
 * unprivileged user.
 *
 * Started as root with `user` configured, every tern command first makes
 * sure the data directory exists and belongs to that user, then drops to
 * it, so files created by `serve` and by the admin commands always have the
 * same owner.  Not root: nothing to switch, the directory is created as the
 * caller.
 */
#ifndef TERN_LIB_PRIVS_H
#define TERN_LIB_PRIVS_H

#include <stdbool.h>

#include "lib/config.h"

/* Create data_dir if missing and, as root, give it (and anything inside owned by someone else) to cfg->user. */
bool privs_prepare_data_dir(const struct config *cfg);
/* As root with cfg->user: switch to that user for good.  Not root: no-op.  false (logged) on failure. */
bool privs_drop(const struct config *cfg);
/* Whether the configured user exists (true when none is configured). */
bool privs_user_exists(const struct config *cfg);

#endif
