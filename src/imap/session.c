/*
 * session.c — IMAP session lifecycle, command assembly, dispatch and the
 * response helpers every command file uses.
 *
 * imap_process() is the one place input is read.  It assembles a command:
 * a line; if the line ends in a literal header, the literal (after a "+"
 * continuation for a synchronising one) goes to litmem, or — an APPEND
 * message — to a spool file; then the next line, and so on until a line
 * without a literal.  Only then is the command parsed and run.  A command
 * that cannot be accepted (too long, literal too large) is still read to
 * its end, without keeping it, and refused as a whole, so the client and
 * the server never disagree about where the next command starts.  Where
 * that end cannot be found — a non-synchronising literal over its limit
 * or with an unreadable count — the refusal is BAD, BYE and close.
 * A synchronising literal over its limit gets its refusal instead of "+".
 *
 * A connection that goes away while a command is in flight (password
 * check, APPEND commit) leaves the session "orphaned" until it completes.
 */
#include "imap/session.h"
#include "imap/imap.h"
#include "imap/mutf7.h"
#include "imap/searchcmd.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "net/loop.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char busy_reply[] = "* BYE Too many connections from your address\r\n";

/* ---- output ---------------------------------------------------------------- */

void imap_write(struct imap_session *s, const void *p, size_t n)
{
	if (s->c)
		conn_write(s->c, p, n);
}

static void vline(struct imap_session *s, const char *prefix, const char *status, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static void vline(struct imap_session *s, const char *prefix, const char *status, const char *fmt, va_list ap)
{
	if (!s->c)
		return;
	struct buf b = BUF_INIT;
	buf_puts(&b, prefix);
	buf_putc(&b, ' ');
	if (status) {
		buf_puts(&b, status);
		buf_putc(&b, ' ');
	}
	buf_vprintf(&b, fmt, ap);
	if (status)
		log_debug("imap", "session=%s reply=%s", s->c->id, lq(b.data));
	buf_puts(&b, "\r\n");
	conn_write(s->c, b.data, b.len);
	buf_free(&b);
}

void imap_untagged(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(s, "*", NULL, fmt, ap);
	va_end(ap);
}

void imap_tagged(struct imap_session *s, const char *tag, const char *status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(s, tag, status, fmt, ap);
	va_end(ap);
}

void imap_bad(struct imap_session *s, const char *tag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(s, tag, "BAD", fmt, ap);
	va_end(ap);
	if (s->c && ++s->errors >= IMAP_MAX_ERRORS) {
		log_info("imap", "session=%s msg=\"too many errors\" ip=%s", s->c->id, s->c->peer_ip);
		imap_untagged(s, "BYE Too many invalid commands");
		imap_close(s);
	}
}

void imap_ok(struct imap_session *s, const struct imap_cmd *cmd, const char *fmt, ...)
{
	if (s->view) {
		/* RFC 9051 §7.5.1: no EXPUNGE while sequence numbers are in use. */
		bool expunges_ok = cmd->uid || (cmd->type != IMAP_CMD_FETCH && cmd->type != IMAP_CMD_STORE &&
						cmd->type != IMAP_CMD_SEARCH && cmd->type != IMAP_CMD_SORT &&
						cmd->type != IMAP_CMD_THREAD);
		imap_sync(s, expunges_ok);
	}
	imap_notify_push(s);    /* NOTIFY: other mailboxes' news before the tagged reply */
	va_list ap;
	va_start(ap, fmt);
	vline(s, cmd->tag, "OK", fmt, ap);
	va_end(ap);
}

void imap_store_error(struct imap_session *s, const char *tag, enum store_status st, const char *what)
{
	switch (st) {
	case STORE_OK:
		imap_tagged(s, tag, "OK", "%s", what);
		break;
	case STORE_NOTFOUND:
		imap_tagged(s, tag, "NO", "[NONEXISTENT] %s: no such mailbox", what);
		break;
	case STORE_EXISTS:
		imap_tagged(s, tag, "NO", "[ALREADYEXISTS] %s: mailbox already exists", what);
		break;
	case STORE_INVALID:
		imap_tagged(s, tag, "NO", "[CANNOT] %s: not allowed", what);
		break;
	case STORE_INUSE:
		imap_tagged(s, tag, "NO", "[INUSE] %s: mailbox has children", what);
		break;
	case STORE_QUOTA:
		imap_tagged(s, tag, "NO", "[OVERQUOTA] %s: quota exceeded", what);
		break;
	case STORE_IOERR:
		imap_tagged(s, tag, "NO", "[UNAVAILABLE] %s: temporary failure, try again", what);
		break;
	}
}

/* Quoted when it can be, a literal otherwise (CR, LF, NUL, 8-bit, or long). */
void imap_put_string(struct buf *b, const char *p, size_t n)
{
	bool quotable = n < 1024;
	for (size_t i = 0; i < n && quotable; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch == '\r' || ch == '\n' || ch == '\0' || ch >= 0x80)
			quotable = false;
	}
	if (!quotable) {
		buf_printf(b, "{%zu}\r\n", n);
		buf_append(b, p, n);
		return;
	}
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\')
			buf_putc(b, '\\');
		buf_putc(b, p[i]);
	}
	buf_putc(b, '"');
}

void imap_put_mailbox(struct imap_session *s, struct buf *b, const char *utf8name)
{
	size_t n = strlen(utf8name);
	if (s->utf8) {
		/* UTF8=ACCEPT: quoted strings may carry UTF-8 (RFC 6855 §3). */
		bool quotable = n < 1024;
		for (size_t i = 0; i < n && quotable; i++)
			if (utf8name[i] == '\r' || utf8name[i] == '\n' || utf8name[i] == '\0')
				quotable = false;
		if (!quotable) {
			imap_put_string(b, utf8name, n);
			return;
		}
		buf_putc(b, '"');
		for (size_t i = 0; i < n; i++) {
			if (utf8name[i] == '"' || utf8name[i] == '\\')
				buf_putc(b, '\\');
			buf_putc(b, utf8name[i]);
		}
		buf_putc(b, '"');
		return;
	}
	struct buf enc = BUF_INIT;
	imap_utf8_to_mutf7(utf8name, n, &enc);
	imap_put_string(b, enc.data ? enc.data : "", enc.len);
	buf_free(&enc);
}

bool imap_mailbox_arg(struct imap_session *s, const struct imap_cmd *cmd, const struct imap_str *arg,
		      struct buf *out)
{
	buf_reset(out);
	size_t n = arg->n;
	const char *p = arg->p ? arg->p : "";
	/* A trailing hierarchy separator names the same mailbox (RFC 9051 §6.3.4). */
	while (n > 1 && p[n - 1] == '/')
		n--;
	bool ok;
	if (s->utf8) {
		ok = utf8_valid(p, n);
		if (ok)
			buf_append(out, p, n);
	} else {
		ok = imap_mutf7_to_utf8(p, n, out);
	}
	if (memchr(p, '\0', n)) {
		buf_free(out);
		imap_bad(s, cmd->tag, "Invalid mailbox name");
		return false;
	}
	if (!ok || n == 0) {
		/*
		 * Well-formed IMAP, just no name a mailbox can have (bad modified
		 * UTF-7, empty): NO like any mailbox that does not exist, not BAD.
		 */
		buf_free(out);
		imap_tagged(s, cmd->tag, "NO", "[CANNOT] Invalid mailbox name");
		return false;
	}
	if (out->len == 5 && ascii_iprefix(out->data, 5, "INBOX")) {
		buf_reset(out);
		buf_puts(out, "INBOX");
	} else if (out->len > 6 && ascii_iprefix(out->data, 6, "INBOX/")) {
		memcpy(out->data, "INBOX", 5);
	}
	return true;
}

const char *imap_message_map(struct imap_session *s, const struct store_message_data *m, int *fd, size_t *len)
{
	*len = 0;
	if (*fd < 0 && store_blob_open(imap_store(s), m->blob_id, fd) != STORE_OK)
		return NULL;
	struct stat sb;
	if (fstat(*fd, &sb) != 0 || (uint64_t)sb.st_size != m->size) {
		log_error("imap", "session=%s msg=\"message file does not match the index\" uid=%u",
			  s->c ? s->c->id : "-", m->uid);
		return NULL;
	}
	if (m->size == 0)
		return "";
	void *p = mmap(NULL, (size_t)m->size, PROT_READ, MAP_SHARED, *fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	*len = (size_t)m->size;
	return p;
}

/* ---- lifecycle --------------------------------------------------------------- */

void imap_close(struct imap_session *s)
{
	s->logout = true;
	if (s->c)
		conn_close(s->c);
}

struct store *imap_store(struct imap_session *s)
{
	return s->srv->stores[loop_index(s->loop)];
}

static void literal_reset(struct imap_session *s)
{
	if (s->lit_fd >= 0)
		close(s->lit_fd);
	s->lit_fd = -1;
	if (s->lit_path) {
		unlink(s->lit_path);
		XFREE(&s->lit_path);
	}
	for (size_t i = 0; i < s->nlits; i++) {
		if (s->lits[i].fd >= 0)
			close(s->lits[i].fd);
		if (s->lits[i].path) {
			unlink(s->lits[i].path);
			free((char *)s->lits[i].path);
		}
	}
	s->nlits = 0;
	s->lit_remaining = 0;
	s->lit_spool = false;
}

static void command_reset(struct imap_session *s)
{
	literal_reset(s);
	buf_reset(&s->cmd);
	buf_reset(&s->litmem);
	s->fail = NULL;
	s->fail_no = false;
	s->fail_tag[0] = '\0';
	s->in = IN_LINE;
	/* Large commands should not pin their buffers for the life of an idle connection. */
	if (s->cmd.cap > 16384)
		buf_free(&s->cmd);
	if (s->litmem.cap > 16384)
		buf_free(&s->litmem);
	if (s->line.cap > 16384)
		buf_free(&s->line);
}

static void session_free(struct imap_session *s)
{
	if (s->job) {
		s->job->free(s->job);
		s->job = NULL;
	}
	if (s->cmd_parsed) {
		imap_cmd_free(s->cmd_parsed);
		XFREE(&s->cmd_parsed);
	}
	imap_search_ctx_free_all(s);
	imap_notify_free(s);
	imap_view_free(s);
	imap_auth_cleanup(s);
	imap_append_cleanup(s);
	command_reset(s);
	if (s->wake)
		event_free(s->wake);
	buf_free(&s->line);
	buf_free(&s->cmd);
	buf_free(&s->litmem);
	free(s->lits);
	free(s->lit_offs);
	free(s);
}

static bool session_in_flight(const struct imap_session *s)
{
	return s->busy == IBUSY_AUTH || s->busy == IBUSY_APPEND;
}

struct post_ctx {
	struct imap_session *s;
	void (*fn)(struct imap_session *s);
};

static void run_posted(void *arg)
{
	struct post_ctx *p = arg;
	struct imap_session *s = p->s;
	void (*fn)(struct imap_session *) = p->fn;
	free(p);
	fn(s);
	if (s->orphan && !session_in_flight(s))
		session_free(s);
}

void imap_post(struct imap_session *s, void (*fn)(struct imap_session *s))
{
	struct post_ctx *p = xmalloc(sizeof *p);
	p->s = s;
	p->fn = fn;
	loop_post(s->loop, run_posted, p);
}

void imap_job_start(struct imap_session *s, struct imap_job *j)
{
	j->s = s;
	s->job = j;
	s->busy = IBUSY_OUTPUT;
	j->step(j);
}

void imap_job_done(struct imap_session *s)
{
	struct imap_job *j = s->job;
	s->job = NULL;
	if (s->busy == IBUSY_OUTPUT)
		s->busy = IBUSY_NONE;
	if (j)
		j->free(j);
}

/* ---- dispatch ---------------------------------------------------------------- */

static bool state_allows(struct imap_session *s, const struct imap_cmd *cmd)
{
	switch (cmd->type) {
	case IMAP_CMD_CAPABILITY:
	case IMAP_CMD_NOOP:
	case IMAP_CMD_LOGOUT:
	case IMAP_CMD_ID:
		return true;
	case IMAP_CMD_STARTTLS:
	case IMAP_CMD_AUTHENTICATE:
	case IMAP_CMD_LOGIN:
		if (s->state != IST_NOTAUTH) {
			imap_bad(s, cmd->tag, "Already authenticated");
			return false;
		}
		return true;
	case IMAP_CMD_CHECK:
	case IMAP_CMD_CLOSE:
	case IMAP_CMD_UNSELECT:
	case IMAP_CMD_EXPUNGE:
	case IMAP_CMD_SEARCH:
	case IMAP_CMD_SORT:
	case IMAP_CMD_THREAD:
	case IMAP_CMD_CANCELUPDATE:
	case IMAP_CMD_FETCH:
	case IMAP_CMD_STORE:
	case IMAP_CMD_COPY:
	case IMAP_CMD_MOVE:
		if (s->state != IST_SELECTED) {
			imap_bad(s, cmd->tag, "No mailbox selected");
			return false;
		}
		return true;
	default:
		if (s->state == IST_NOTAUTH) {
			imap_bad(s, cmd->tag, "Log in first");
			return false;
		}
		return true;
	}
}

static void cmd_noop(struct imap_session *s, struct imap_cmd *cmd)
{
	imap_ok(s, cmd, "%s completed", cmd->type == IMAP_CMD_CHECK ? "CHECK" : "NOOP");
}

static void cmd_logout(struct imap_session *s, struct imap_cmd *cmd)
{
	imap_untagged(s, "BYE Logging out");
	imap_tagged(s, cmd->tag, "OK", "LOGOUT completed");
	s->state = IST_LOGOUT;
	imap_close(s);
}

static void run(struct imap_session *s, struct imap_cmd *cmd)
{
	if (!state_allows(s, cmd))
		return;
	/* Search contexts live as long as the selection (RFC 5267 §4.1). */
	if (cmd->type == IMAP_CMD_SELECT || cmd->type == IMAP_CMD_EXAMINE || cmd->type == IMAP_CMD_CLOSE ||
	    cmd->type == IMAP_CMD_UNSELECT)
		imap_search_ctx_free_all(s);
	switch (cmd->type) {
	case IMAP_CMD_CAPABILITY: imap_cmd_capability(s, cmd); break;
	case IMAP_CMD_NOOP:
	case IMAP_CMD_CHECK: cmd_noop(s, cmd); break;
	case IMAP_CMD_LOGOUT: cmd_logout(s, cmd); break;
	case IMAP_CMD_STARTTLS: imap_cmd_starttls(s, cmd); break;
	case IMAP_CMD_AUTHENTICATE: imap_cmd_authenticate(s, cmd); break;
	case IMAP_CMD_LOGIN: imap_cmd_login(s, cmd); break;
	case IMAP_CMD_ENABLE: imap_cmd_enable(s, cmd); break;
	case IMAP_CMD_ID: imap_cmd_id(s, cmd); break;
	case IMAP_CMD_SELECT:
	case IMAP_CMD_EXAMINE: imap_cmd_select(s, cmd); break;
	case IMAP_CMD_CREATE: imap_cmd_create(s, cmd); break;
	case IMAP_CMD_DELETE: imap_cmd_delete(s, cmd); break;
	case IMAP_CMD_RENAME: imap_cmd_rename(s, cmd); break;
	case IMAP_CMD_SUBSCRIBE:
	case IMAP_CMD_UNSUBSCRIBE: imap_cmd_subscribe(s, cmd); break;
	case IMAP_CMD_LIST:
	case IMAP_CMD_LSUB: imap_cmd_list(s, cmd); break;
	case IMAP_CMD_NAMESPACE: imap_cmd_namespace(s, cmd); break;
	case IMAP_CMD_STATUS: imap_cmd_status(s, cmd); break;
	case IMAP_CMD_APPEND: imap_cmd_append(s, cmd); break;
	case IMAP_CMD_IDLE: imap_cmd_idle(s, cmd); break;
	case IMAP_CMD_CLOSE:
	case IMAP_CMD_UNSELECT: imap_cmd_close(s, cmd); break;
	case IMAP_CMD_EXPUNGE: imap_cmd_expunge(s, cmd); break;
	case IMAP_CMD_SEARCH: imap_cmd_search(s, cmd); break;
	case IMAP_CMD_SORT: imap_cmd_sort(s, cmd); break;
	case IMAP_CMD_THREAD: imap_cmd_thread(s, cmd); break;
	case IMAP_CMD_CANCELUPDATE: imap_cmd_cancelupdate(s, cmd); break;
	case IMAP_CMD_GENURLAUTH: imap_cmd_genurlauth(s, cmd); break;
	case IMAP_CMD_RESETKEY: imap_cmd_resetkey(s, cmd); break;
	case IMAP_CMD_URLFETCH: imap_cmd_urlfetch(s, cmd); break;
	case IMAP_CMD_NOTIFY: imap_cmd_notify(s, cmd); break;
	case IMAP_CMD_FETCH: imap_cmd_fetch(s, cmd); break;
	case IMAP_CMD_STORE: imap_cmd_store(s, cmd); break;
	case IMAP_CMD_COPY:
	case IMAP_CMD_MOVE: imap_cmd_copy(s, cmd); break;
	case IMAP_CMD_COMPRESS: imap_cmd_compress(s, cmd); break;
	case IMAP_CMD_GETQUOTA:
	case IMAP_CMD_GETQUOTAROOT:
	case IMAP_CMD_SETQUOTA: imap_cmd_quota(s, cmd); break;
	}
}

/* The assembled command is complete: parse and run it (or refuse it). */
static void command_complete(struct imap_session *s)
{
	if (s->fail) {
		char tag[IMAP_TAG_MAX + 1];
		memcpy(tag, s->fail_tag, sizeof tag);
		const char *why = s->fail;
		bool no = s->fail_no;
		command_reset(s);
		if (no)
			imap_tagged(s, tag, "NO", "%s", why);
		else
			imap_bad(s, tag, "%s", why);
		return;
	}
	/* Point in-memory literals at their (now stable) bytes. */
	for (size_t i = 0; i < s->nlits; i++)
		if (s->lits[i].fd < 0)
			s->lits[i].data = s->litmem.data + s->lit_offs[i];

	struct imap_cmd *cmd = xcalloc(1, sizeof *cmd);
	const char *err = NULL;
	enum imap_parse_result r = imap_parse(s->cmd.data, s->cmd.len, s->lits, s->nlits, s->utf8, cmd, &err);
	/* Never a LOGIN line in the log, not even a malformed one: it may hold a password. */
	if (r == IMAP_PARSE_OK && cmd->type != IMAP_CMD_LOGIN && cmd->type != IMAP_CMD_AUTHENTICATE)
		log_debug("imap", "session=%s command=%s", s->c ? s->c->id : "-",
			  lq(s->cmd.len > 200 ? "(long)" : s->cmd.data));
	if (r != IMAP_PARSE_OK) {
		char tag[IMAP_TAG_MAX + 1];
		if (cmd->tag[0])
			memcpy(tag, cmd->tag, sizeof tag);
		else
			imap_parse_tag(s->cmd.data, s->cmd.len, tag);
		imap_cmd_free(cmd);
		free(cmd);
		command_reset(s);
		if (r == IMAP_PARSE_BADCHARSET || r == IMAP_PARSE_NO)
			imap_tagged(s, tag, "NO", "%s", err ? err : "[BADCHARSET] Unsupported charset");
		else
			imap_bad(s, tag, "%s", err ? err : "Syntax error");
		return;
	}
	/* append.c takes a spooled literal's fd and file out of s->lits, so the reset below keeps them. */
	s->cmd_parsed = cmd;
	run(s, cmd);
	/* A command that lives on (APPEND, a FETCH job) took cmd and set cmd_parsed to NULL. */
	if (s->cmd_parsed == cmd) {
		imap_cmd_free(cmd);
		XFREE(&s->cmd_parsed);
	}
	command_reset(s);
}

static void fail_command(struct imap_session *s, bool no, const char *why)
{
	if (!s->fail) {
		s->fail = why;
		s->fail_no = no;
		imap_parse_tag(s->cmd.data, s->cmd.len, s->fail_tag);
	}
}

int imap_spool_create(struct imap_session *s, char **out)
{
	char path[4096];
	char id[17];
	random_id(id, 16);
	snprintf(path, sizeof path, "%s/%u/imap-%s", store_spool_dir(imap_store(s)), loop_index(s->loop), id);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_error("imap", "session=%s msg=\"cannot create spool file\" path=%s err=%s", s->c ? s->c->id : "-",
			  lq(path), lq(strerror(errno)));
		return -1;
	}
	*out = xstrdup(path);
	return fd;
}

static bool spool_open(struct imap_session *s)
{
	s->lit_fd = imap_spool_create(s, &s->lit_path);
	return s->lit_fd >= 0;
}

/*
 * A non-synchronising literal over the limit (or with a count past 64
 * bits, or unreadable): its octets are on their way whatever we answer,
 * and reading (say) 4 GiB to find where the next command starts is out of
 * the question — nor may they be taken for commands.  RFC 7888 §4 lets
 * the server refuse with BAD and close.  So: at once, before a single
 * octet of it.  size is UINT64_MAX for a count past 64 bits, and 0 with
 * limit 0 for an unreadable one.
 */
static void literal_refuse_and_close(struct imap_session *s, uint64_t size, uint64_t limit)
{
	char tag[IMAP_TAG_MAX + 1];
	imap_parse_tag(s->cmd.data, s->cmd.len, tag);
	if (!limit)
		log_info("imap", "session=%s msg=\"unreadable non-synchronising literal, closing\" ip=%s",
			 s->c->id, s->c->peer_ip);
	else
		log_info("imap", "session=%s msg=\"non-synchronising literal over the limit, closing\" ip=%s "
			 "size=%llu limit=%llu", s->c->id, s->c->peer_ip, (unsigned long long)size,
			 (unsigned long long)limit);
	command_reset(s);
	if (!limit)
		imap_bad(s, tag, "Invalid literal");
	else if (size == UINT64_MAX)
		imap_bad(s, tag, "[TOOBIG] Literal over the limit of %llu", (unsigned long long)limit);
	else
		imap_bad(s, tag, "[TOOBIG] Literal of %llu octets over the limit of %llu", (unsigned long long)size,
			 (unsigned long long)limit);
	if (s->c && !s->logout) {  /* imap_bad may have closed it already (too many errors) */
		imap_untagged(s, "BYE %s, closing", limit ? "Literal too large" : "Invalid literal");
		imap_close(s);
	}
}

/* What the command's spooled literals (MULTIAPPEND messages, CATENATE parts) add up to so far. */
static uint64_t spooled_octets(const struct imap_session *s)
{
	uint64_t n = 0;
	for (size_t i = 0; i < s->nlits; i++)
		if (s->lits[i].fd >= 0)
			n += s->lits[i].len;
	return n;
}

/* A line of the command has arrived (without its line end). */
static void command_line(struct imap_session *s, const char *line, size_t len)
{
	if (s->cmd.len + len + 2 > IMAP_COMMAND_MAX)
		fail_command(s, false, "Command too long");
	if (!s->fail) {
		buf_append(&s->cmd, line, len);
		buf_puts(&s->cmd, "\r\n");
	}

	uint64_t size;
	bool nonsync, binary, bad;
	bool header = imap_parse_literal_header(line, len, &size, &nonsync, &binary, &bad);
	/* A count past 64 bits is over every limit: refused below like any literal too large. */
	bool huge = !header && bad && size == UINT64_MAX;
	if (!header && !huge) {
		if (bad && nonsync) {
			/* An unreadable count with octets on their way: no telling where they end. */
			literal_refuse_and_close(s, 0, 0);
			return;
		}
		if (bad) {
			/* An unreadable literal count: nothing sensible can follow on this line. */
			fail_command(s, false, "Invalid literal");
		}
		command_complete(s);
		return;
	}
	/* Before login only LOGIN's strings are due: small, and never spooled to disk. */
	bool authed = s->state != IST_NOTAUTH;
	bool message = authed && !s->fail && imap_parse_literal_is_message(s->cmd.data, s->cmd.len - 2);
	uint64_t limit = message ? s->srv->cfg->smtp.max_message_size
				 : authed ? IMAP_LITERAL_MAX : IMAP_PRELOGIN_LITERAL_MAX;
	if (size > limit && nonsync) {
		literal_refuse_and_close(s, size, limit);
		return;
	}
	if (s->nlits >= IMAP_MAX_LITERALS)
		fail_command(s, message, message ? "[LIMIT] Too many messages in one APPEND" : "Too many literals");
	if (message && size <= limit && spooled_octets(s) + size > imap_append_total_limit(limit))
		fail_command(s, true, "[LIMIT] Too many octets in one APPEND");
	if (size > limit) {
		log_info("imap", "session=%s msg=\"literal over the limit, refused\" ip=%s size=%llu limit=%llu",
			 s->c->id, s->c->peer_ip, (unsigned long long)size, (unsigned long long)limit);
		fail_command(s, message, message ? "[TOOBIG] Message too large" : "[TOOBIG] Literal too large");
	} else if (!message && s->cmd.len + s->litmem.len + size > IMAP_COMMAND_MAX) {
		fail_command(s, false, "Command too long");
	}

	if (s->fail && !nonsync) {
		/* The client waits for "+": refuse now, it sends nothing more of this command. */
		command_complete(s);
		return;
	}
	s->lit_remaining = size;
	s->lit_spool = false;
	if (!s->fail) {
		if (!s->lits) {
			s->lits = xcalloc(IMAP_MAX_LITERALS, sizeof *s->lits);
			s->lit_offs = xcalloc(IMAP_MAX_LITERALS, sizeof *s->lit_offs);
		}
		struct imap_literal *l = &s->lits[s->nlits];
		memset(l, 0, sizeof *l);
		l->fd = -1;
		l->len = (size_t)size;
		l->binary = binary;
		s->lit_offs[s->nlits] = s->litmem.len;
		if (message) {
			if (!spool_open(s)) {
				fail_command(s, true, "[UNAVAILABLE] Temporary failure, try again");
				if (!nonsync) {
					command_complete(s);
					return;
				}
			} else {
				s->lit_spool = true;
			}
		}
		if (!s->fail)
			s->nlits++;
	}
	if (!nonsync)
		imap_write(s, "+ Ready for literal data\r\n", 26);
	s->in = IN_LITERAL;
}

/* Literal octets: returns false when more input is needed. */
static bool literal_consume(struct imap_session *s)
{
	while (s->lit_remaining) {
		struct evbuffer *in = conn_input(s->c);   /* again each time: with COMPRESS it inflates more */
		size_t avail = evbuffer_get_length(in);
		if (!avail)
			return false;
		size_t take = avail < s->lit_remaining ? avail : (size_t)s->lit_remaining;
		if (take > 65536)
			take = 65536;
		if (s->fail) {
			evbuffer_drain(in, take);
		} else if (s->lit_spool) {
			unsigned char *p = evbuffer_pullup(in, (ssize_t)take);
			size_t done = 0;
			while (done < take) {
				ssize_t w = write(s->lit_fd, p + done, take - done);
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0) {
					log_error("imap", "session=%s msg=\"spool write failed\" err=%s", s->c->id,
						  lq(strerror(errno)));
					fail_command(s, true, "[UNAVAILABLE] Temporary failure, try again");
					break;
				}
				done += (size_t)w;
			}
			evbuffer_drain(in, take);
		} else {
			size_t at = s->litmem.len;
			buf_reserve(&s->litmem, take);
			evbuffer_remove(in, s->litmem.data + at, take);
			s->litmem.len = at + take;
			s->litmem.data[s->litmem.len] = '\0';
		}
		s->lit_remaining -= take;
	}
	if (s->lit_spool && !s->fail) {
		struct imap_literal *l = &s->lits[s->nlits - 1];
		l->fd = s->lit_fd;
		l->path = s->lit_path;
		s->lit_fd = -1;
		s->lit_path = NULL;
	} else if (s->lit_spool) {
		literal_reset(s);
	}
	s->lit_spool = false;
	s->in = IN_LINE;
	return true;
}

void imap_process(struct imap_session *s)
{
	while (s->c && !s->logout) {
		if (s->busy == IBUSY_OUTPUT) {
			if (conn_output_pending(s->c) > IMAP_OUTPUT_MAX) {
				conn_notify_drained(s->c);
				return;
			}
			s->job->step(s->job);
			continue;
		}
		if (s->busy != IBUSY_NONE && s->busy != IBUSY_IDLE && s->busy != IBUSY_SASL)
			return;
		if (conn_output_pending(s->c) > IMAP_OUTPUT_MAX) {
			conn_notify_drained(s->c);
			return;
		}
		/* NOTIFY: news that came while a command was in progress, now that none is */
		if (s->busy == IBUSY_NONE && s->in == IN_LINE && s->cmd.len == 0 && imap_notify_pending(s))
			imap_notify_wake(s);
		if (s->shutting_down && s->busy == IBUSY_NONE && s->in == IN_LINE && s->cmd.len == 0) {
			imap_untagged(s, "BYE Server shutting down");
			imap_close(s);
			return;
		}
		if (s->in == IN_LITERAL) {
			if (!literal_consume(s))
				return;
			continue;
		}
		enum conn_line r = conn_read_line(s->c, IMAP_LINE_MAX, &s->line);
		if (r == CONN_LINE_NONE)
			return;
		if (r == CONN_LINE_TOOLONG) {
			if (s->busy == IBUSY_SASL) {
				imap_auth_line(s, NULL, 0);
				continue;
			}
			if (s->busy == IBUSY_IDLE) {
				imap_idle_line(s, NULL, 0);
				continue;
			}
			command_reset(s);
			imap_bad(s, "*", "Command line too long");
			continue;
		}
		if (s->busy == IBUSY_SASL) {
			imap_auth_line(s, s->line.data, s->line.len);
			continue;
		}
		if (s->busy == IBUSY_IDLE) {
			imap_idle_line(s, s->line.data, s->line.len);
			continue;
		}
		command_line(s, s->line.data, s->line.len);
	}
}

/* ---- conn_handler callbacks -------------------------------------------------- */

/*
 * Before login a deadline counts from connect and nothing the client does
 * moves it: a NOOP every 59 s, a stalled AUTHENTICATE exchange or a
 * trickle of failed LOGINs would otherwise hold a connection slot for as
 * long as the client likes.
 */
void imap_preauth_timer(struct imap_session *s)
{
	uint64_t now = now_ms();
	conn_timer(s->c, s->login_deadline > now ? s->login_deadline - now : 0, imap_preauth_timeout);
}

void imap_preauth_timeout(struct conn *c)
{
	struct imap_session *s = c->session;
	/* A client stalling in an AUTHENTICATE exchange is as idle as one saying nothing. */
	if (s->state != IST_NOTAUTH || (s->busy != IBUSY_NONE && s->busy != IBUSY_SASL))
		return;
	log_info("imap", "session=%s msg=\"login timeout\" ip=%s timeout_ms=%llu", c->id, c->peer_ip,
		 (unsigned long long)s->srv->preauth_timeout_ms);
	imap_untagged(s, "BYE Autologout; no login in time");
	imap_close(s);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	imap_idle_wake(arg);
}

static void greet(struct imap_session *s)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "* OK [");
	imap_capability_line(s, &b);
	buf_printf(&b, "] %s IMAP4rev2 tern ready\r\n", s->srv->cfg->hostname);
	imap_write(s, b.data, b.len);
	buf_free(&b);
}

static void on_open(struct conn *c)
{
	struct imap_server *srv = c->h->ctx;
	struct imap_session *s = xcalloc(1, sizeof *s);
	s->srv = srv;
	s->c = c;
	s->loop = c->loop;
	s->lit_fd = -1;
	s->wake = event_new(loop_base(c->loop), -1, 0, on_wake, s);
	c->session = s;
	s->login_deadline = now_ms() + s->srv->preauth_timeout_ms;
	imap_preauth_timer(s);
	if (c->role != ROLE_IMAPS)
		greet(s);
}

static void on_read(struct conn *c)
{
	imap_process(c->session);
}

static void on_drained(struct conn *c)
{
	imap_idle_wake(c->session);     /* news held back while an IDLE client was not reading */
	imap_process(c->session);
}

static void on_tls_ready(struct conn *c)
{
	struct imap_session *s = c->session;
	if (c->role == ROLE_IMAPS)
		greet(s);
	imap_process(s);
}

static void on_shutdown(struct conn *c)
{
	struct imap_session *s = c->session;
	s->shutting_down = true;
	if (s->busy == IBUSY_IDLE) {
		imap_untagged(s, "BYE Server shutting down");
		imap_close(s);
		return;
	}
	if (s->busy != IBUSY_NONE || s->in != IN_LINE || s->cmd.len)
		return;  /* the command in progress finishes; imap_process says goodbye */
	imap_untagged(s, "BYE Server shutting down");
	imap_close(s);
}

static void on_timeout(struct conn *c)
{
	struct imap_session *s = c->session;
	imap_untagged(s, "BYE Autologout; idle for too long");
	imap_close(s);
}

static void on_closed(struct conn *c, enum conn_end why)
{
	(void)why;
	struct imap_session *s = c->session;
	if (!s)
		return;
	c->session = NULL;
	log_info("imap", "session=%s msg=\"session end\" user=%s", c->id, lq(s->user[0] ? s->user : "-"));
	s->c = NULL;
	/* Stop notifications first: after this nothing activates wake. */
	imap_notify_free(s);
	imap_view_free(s);
	if (session_in_flight(s)) {
		s->orphan = true;
		return;
	}
	session_free(s);
}

/* ---- the server ---------------------------------------------------------------- */

struct imap_server *imap_server_new(const struct config *cfg, struct store_writer *writer,
				    struct auth_pool *auth, size_t nloops)
{
	struct imap_server *srv = xcalloc(1, sizeof *srv);
	srv->cfg = cfg;
	srv->writer = writer;
	srv->auth = auth;
	srv->nstores = nloops;
	srv->stores = store_open_per_loop(cfg->data_dir, nloops);
	if (!srv->stores) {
		imap_server_free(&srv);
		return NULL;
	}
	static const char *const names[2] = { "imap", "imaps" };
	for (int i = 0; i < 2; i++) {
		struct conn_handler *h = &srv->handlers[i];
		h->name = names[i];
		h->ctx = srv;
		/* The config's one per-address limit (it counts every protocol's connections). */
		h->max_per_ip = cfg->smtp.max_connections_per_ip;
		h->busy_reply = busy_reply;
		h->timeout_ms = IMAP_IDLE_TIMEOUT_MS;
		h->open = on_open;
		h->read = on_read;
		h->tls_ready = on_tls_ready;
		h->drained = on_drained;
		h->shutdown = on_shutdown;
		h->timeout = on_timeout;
		h->closed = on_closed;
	}
	srv->preauth_timeout_ms = IMAP_PREAUTH_TIMEOUT_MS;
	return srv;
}

void imap_server_set_timeouts(struct imap_server *srv, uint64_t preauth_ms, uint64_t idle_ms)
{
	srv->preauth_timeout_ms = preauth_ms;
	for (size_t i = 0; i < ARRAY_LEN(srv->handlers); i++)
		srv->handlers[i].timeout_ms = idle_ms;
}

const struct conn_handler *imap_handler(struct imap_server *srv, enum listen_role role)
{
	switch (role) {
	case ROLE_IMAP: return &srv->handlers[0];
	case ROLE_IMAPS: return &srv->handlers[1];
	default: return NULL;
	}
}

void imap_server_free(struct imap_server **psrv)
{
	struct imap_server *srv = *psrv;
	if (!srv)
		return;
	store_close_per_loop(&srv->stores, srv->nstores);
	free(srv);
	*psrv = NULL;
}
