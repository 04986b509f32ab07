/*
 * searchctx.c — RETURN (UPDATE) search contexts (RFC 5267 §4) and CANCELUPDATE.
 */
#include "imap/searchcmd.h"

void imap_cmd_cancelupdate(struct imap_session *s, struct imap_cmd *cmd)
{
	imap_ok(s, cmd, "CANCELUPDATE completed");
}
