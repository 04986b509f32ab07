/*
 * compress.c — COMPRESS=DEFLATE (RFC 4978).  The tagged OK goes out
 * uncompressed; from the next octet on both directions are raw deflate
 * (the zlib layer lives in net/conn.c).
 */
#include "imap/session.h"
#include "lib/log.h"
#include "lib/util.h"

void imap_cmd_compress(struct imap_session *s, struct imap_cmd *cmd)
{
	if (conn_compressed(s->c)) {
		imap_tagged(s, cmd->tag, "NO", "[COMPRESSIONACTIVE] DEFLATE is already active");
		return;
	}
	if (cmd->arg.n != 7 || !ascii_iprefix(cmd->arg.p, cmd->arg.n, "DEFLATE")) {
		imap_bad(s, cmd->tag, "Unknown compression mechanism");
		return;
	}
	imap_tagged(s, cmd->tag, "OK", "DEFLATE active");
	if (!conn_compress(s->c)) {
		log_error("imap", "session=%s msg=\"cannot start compression\"", s->c->id);
		imap_untagged(s, "BYE Internal error");
		imap_close(s);
		return;
	}
	log_debug("imap", "session=%s msg=\"compression on\"", s->c->id);
}
