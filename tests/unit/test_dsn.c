/*
 * test_dsn.c — delivery status notifications (src/queue/dsn.c): each test
 * writes a report into a temporary file and takes it apart with the small
 * checker below: every line CRLF and at most 998 octets, the top header,
 * the multipart/report boundary and its three parts, the fields of the
 * message/delivery-status part (per message, then per recipient), and the
 * original returned whole or as its header only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/date.h"
#include "queue/dsn.h"

#define NOW      1795000000             /* Sun, 18 Nov 2026 */
#define ARRIVAL  (NOW - 7200)
#define HOST     "mx.example.org"
#define PREFIX   "QUEUE-ENVELOPE-RECORDS\r\n"   /* what precedes the message in the spool file */

/* ---- a small checker for the reports -------------------------------------- */

struct field {
	char name[80];
	char *value;            /* unfolded: the CRLF of each fold removed */
};

struct fields {
	struct field f[96];
	size_t n;
};

struct part {
	struct fields h;
	const char *body;
	size_t len;
};

struct report {
	char *raw;
	size_t len;
	struct fields top;
	char boundary[128];
	struct part parts[8];
	size_t nparts;
	bool no_original;               /* set before parse_report: two parts, not three */
	struct fields groups[80];       /* of the message/delivery-status part */
	size_t ngroups;
};

static void fields_free(struct fields *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		free(fs->f[i].value);
	fs->n = 0;
}

static void report_free(struct report *rp)
{
	fields_free(&rp->top);
	for (size_t i = 0; i < rp->nparts; i++)
		fields_free(&rp->parts[i].h);
	for (size_t i = 0; i < rp->ngroups; i++)
		fields_free(&rp->groups[i]);
	free(rp->raw);
	memset(rp, 0, sizeof *rp);
}

/* Every line ends with CRLF (no bare CR or LF), none is longer than 998. */
static void check_lines(const char *s, size_t n)
{
	assert_true(n >= 2 && s[n - 2] == '\r' && s[n - 1] == '\n');
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			assert_true(i + 1 < n && s[i + 1] == '\n');
			i++;
			col = 0;
			continue;
		}
		assert_true(s[i] != '\n');
		col++;
		assert_true(col <= 998);
	}
}

/*
 * Fields from s[0..n) up to an empty line; returns the offset past that
 * line (n when there is none).  A line that is neither "name: value" nor a
 * continuation fails the test.
 */
static size_t parse_fields(const char *s, size_t n, struct fields *fs)
{
	size_t i = 0;
	fs->n = 0;
	while (i < n) {
		const char *eol = memmem(s + i, n - i, "\r\n", 2);
		assert_non_null(eol);
		size_t len = (size_t)(eol - (s + i));
		if (len == 0)
			return i + 2;
		if (s[i] == ' ' || s[i] == '\t') {
			assert_true(fs->n > 0);
			struct field *f = &fs->f[fs->n - 1];
			size_t old = strlen(f->value);
			f->value = realloc(f->value, old + len + 1);
			memcpy(f->value + old, s + i, len);
			f->value[old + len] = '\0';
		} else {
			const char *colon = memchr(s + i, ':', len);
			assert_non_null(colon);
			size_t nl = (size_t)(colon - (s + i));
			assert_true(nl > 0 && nl < sizeof fs->f[0].name);
			for (size_t k = 0; k < nl; k++)
				assert_true(s[i + k] > 0x20 && s[i + k] < 0x7f);
			assert_true(fs->n < ARRAY_LEN(fs->f));
			struct field *f = &fs->f[fs->n++];
			memcpy(f->name, s + i, nl);
			f->name[nl] = '\0';
			f->value = strndup(colon + 1, len - nl - 1);
		}
		i += len + 2;
	}
	return n;
}

static const char *field_get(const struct fields *fs, const char *name)
{
	for (size_t i = 0; i < fs->n; i++) {
		if (strcasecmp(fs->f[i].name, name) == 0) {
			const char *v = fs->f[i].value;
			while (*v == ' ' || *v == '\t')
				v++;
			return v;
		}
	}
	return NULL;
}

static size_t field_count(const struct fields *fs, const char *name)
{
	size_t c = 0;
	for (size_t i = 0; i < fs->n; i++)
		c += strcasecmp(fs->f[i].name, name) == 0;
	return c;
}

/* The field names of fs, in order, are exactly names (NULL-terminated). */
static void assert_field_names(const struct fields *fs, const char *const *names)
{
	size_t i = 0;
	for (; names[i]; i++) {
		assert_true(i < fs->n);
		assert_string_equal(fs->f[i].name, names[i]);
	}
	assert_int_equal(fs->n, i);
}

static void parse_report(struct report *rp)
{
	check_lines(rp->raw, rp->len);
	size_t off = parse_fields(rp->raw, rp->len, &rp->top);
	const char *ct = field_get(&rp->top, "Content-Type");
	assert_non_null(ct);
	assert_true(strncmp(ct, "multipart/report;", 17) == 0);
	assert_non_null(strstr(ct, "report-type=delivery-status"));
	const char *b = strstr(ct, "boundary=\"");
	assert_non_null(b);
	b += 10;
	const char *e = strchr(b, '"');
	assert_non_null(e);
	assert_true(e > b && (size_t)(e - b) <= 70);
	memcpy(rp->boundary, b, (size_t)(e - b));
	rp->boundary[e - b] = '\0';

	char delim[140];
	snprintf(delim, sizeof delim, "--%s", rp->boundary);
	size_t dl = strlen(delim);
	const char *part_start = NULL;
	bool closed = false;
	size_t i = off;
	rp->nparts = 0;
	while (i < rp->len) {
		const char *line = rp->raw + i;
		const char *eol = memmem(line, rp->len - i, "\r\n", 2);
		size_t len = (size_t)(eol - line);
		if (len >= dl && memcmp(line, delim, dl) == 0) {
			bool close = len == dl + 2 && memcmp(line + dl, "--", 2) == 0;
			assert_true(len == dl || close);
			assert_false(closed);
			if (part_start) {
				assert_true(rp->nparts < ARRAY_LEN(rp->parts));
				struct part *p = &rp->parts[rp->nparts++];
				size_t plen = (size_t)(line - part_start);
				size_t h = parse_fields(part_start, plen, &p->h);
				p->body = part_start + h;
				p->len = plen >= h + 2 ? plen - h - 2 : 0;
			}
			closed = close;
			part_start = close ? NULL : line + len + 2;
		} else if (rp->nparts < 2) {
			/* No generated line looks like a delimiter (the original may have such lines). */
			assert_false(len >= 2 && line[0] == '-' && line[1] == '-');
		}
		i += len + 2;
	}
	assert_true(closed);
	assert_int_equal(rp->nparts, rp->no_original ? 2 : 3);

	struct part *ds = &rp->parts[1];
	assert_string_equal(field_get(&ds->h, "Content-Type"), "message/delivery-status");
	size_t j = 0;
	rp->ngroups = 0;
	while (j < ds->len) {
		assert_true(rp->ngroups < ARRAY_LEN(rp->groups));
		j += parse_fields(ds->body + j, ds->len - j, &rp->groups[rp->ngroups++]);
	}
}

/* ---- running dsn_write --------------------------------------------------- */

static int temp_fd(void)
{
	char path[] = "/tmp/test_dsn_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

/* A spool file: PREFIX, then the message. */
static int orig_file(const char *msg, size_t n)
{
	int fd = temp_fd();
	assert_int_equal(write(fd, PREFIX, strlen(PREFIX)), (ssize_t)strlen(PREFIX));
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, msg + done, n - done);
		assert_true(w > 0);
		done += (size_t)w;
	}
	return fd;
}

static char *read_all(int fd, size_t *len)
{
	off_t size = lseek(fd, 0, SEEK_END);
	assert_true(size >= 0);
	char *p = malloc((size_t)size + 1);
	size_t done = 0;
	while (done < (size_t)size) {
		ssize_t n = pread(fd, p + done, (size_t)size - done, (off_t)done);
		assert_true(n > 0);
		done += (size_t)n;
	}
	p[size] = '\0';
	*len = (size_t)size;
	return p;
}

static void run(const struct dsn_report *r, const char *msg, size_t n, struct report *rp)
{
	memset(rp, 0, sizeof *rp);
	int in = orig_file(msg, n);
	int out = temp_fd();
	int64_t w = dsn_write(r, in, strlen(PREFIX), out);
	assert_true(w > 0);
	rp->raw = read_all(out, &rp->len);
	assert_int_equal((size_t)w, rp->len);
	close(in);
	close(out);
	parse_report(rp);
}

static const char small_msg[] =
	"Received: from client.example.com by mx.example.org\r\n"
	"From: Alice <alice@example.com>\r\n"
	"To: bob@example.net\r\n"
	"Subject: lunch\r\n"
	"  on Friday?\r\n"
	"\r\n"
	"Shall we?\r\n"
	"-- \r\n"
	"Alice\r\n";
static const char small_hdr[] =
	"Received: from client.example.com by mx.example.org\r\n"
	"From: Alice <alice@example.com>\r\n"
	"To: bob@example.net\r\n"
	"Subject: lunch\r\n"
	"  on Friday?\r\n";

static struct dsn_rcpt bob_failed(void)
{
	return (struct dsn_rcpt){
		.rcpt = "bob@example.net",
		.action = DSN_FAILED,
		.status = "5.1.1",
		.remote_mta = "mx.example.net",
		.diagnostic = "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown",
		.diagnostic_remote = true,
		.last_attempt = NOW - 60,
	};
}

static struct dsn_report report_for(const struct dsn_rcpt *rcpts, size_t n)
{
	return (struct dsn_report){
		.hostname = HOST,
		.to = "alice@example.com",
		.queue_id = "Q7K2MX9",
		.arrival = ARRIVAL,
		.now = NOW,
		.rcpts = rcpts,
		.nrcpts = n,
	};
}

static void assert_date(const char *v, int64_t want)
{
	assert_non_null(v);
	int64_t t;
	assert_true(mail_date_parse(v, strlen(v), &t));
	assert_int_equal(t, want);
}

static bool has_line_starting(const struct report *rp, const char *prefix)
{
	size_t pl = strlen(prefix);
	const char *p = rp->raw;
	while (p < rp->raw + rp->len) {
		if (strncasecmp(p, prefix, pl) == 0)
			return true;
		const char *eol = strstr(p, "\r\n");
		if (!eol)
			break;
		p = eol + 2;
	}
	return false;
}

static bool body_has(const struct part *p, const char *needle)
{
	return memmem(p->body, p->len, needle, strlen(needle)) != NULL;
}

/* In the text part with its wrapping undone ("CRLF" + indent taken as one space). */
static bool text_has(const struct part *p, const char *needle)
{
	char *t = malloc(p->len + 1);
	size_t n = 0;
	for (size_t i = 0; i < p->len; i++) {
		if (i + 6 <= p->len && memcmp(p->body + i, "\r\n    ", 6) == 0) {
			t[n++] = ' ';
			i += 5;
		} else {
			t[n++] = p->body[i];
		}
	}
	bool found = memmem(t, n, needle, strlen(needle)) != NULL;
	free(t);
	return found;
}

/* ---- tests --------------------------------------------------------------- */

static void test_failed_report(void **state)
{
	(void)state;
	struct dsn_rcpt rc = bob_failed();
	struct dsn_report r = report_for(&rc, 1);
	r.envid = "QQ314159";
	struct report rp;
	run(&r, small_msg, sizeof small_msg - 1, &rp);

	static const char *const top[] = { "From", "To", "Subject", "Date", "Message-ID",
		"Auto-Submitted", "MIME-Version", "Content-Type", NULL };
	assert_field_names(&rp.top, top);
	assert_string_equal(field_get(&rp.top, "From"), "Mail Delivery System <MAILER-DAEMON@" HOST ">");
	assert_string_equal(field_get(&rp.top, "To"), "<alice@example.com>");
	assert_string_equal(field_get(&rp.top, "Subject"), "Undelivered Mail Returned to Sender");
	assert_string_equal(field_get(&rp.top, "Auto-Submitted"), "auto-replied");
	assert_string_equal(field_get(&rp.top, "MIME-Version"), "1.0");
	assert_date(field_get(&rp.top, "Date"), NOW);
	const char *mid = field_get(&rp.top, "Message-ID");
	assert_true(mid[0] == '<' && mid[strlen(mid) - 1] == '>');
	assert_non_null(strstr(mid, "@" HOST ">"));
	assert_true(strlen(rp.boundary) >= 30);

	/* 1: for people */
	struct part *t = &rp.parts[0];
	assert_string_equal(field_get(&t->h, "Content-Type"), "text/plain; charset=us-ascii");
	assert_null(field_get(&t->h, "Content-Transfer-Encoding"));
	assert_true(body_has(t, "at host " HOST "."));
	assert_true(text_has(t, "<bob@example.net>: host mx.example.net said: 550 5.1.1"));
	assert_true(text_has(t, "User unknown"));
	assert_true(body_has(t, "Q7K2MX9"));

	/* 2: for programs */
	assert_int_equal(rp.ngroups, 2);
	static const char *const per_msg[] = { "Original-Envelope-Id", "Reporting-MTA", "Arrival-Date",
		"X-Tern-Queue-ID", NULL };
	assert_field_names(&rp.groups[0], per_msg);
	assert_string_equal(field_get(&rp.groups[0], "Original-Envelope-Id"), "QQ314159");
	assert_string_equal(field_get(&rp.groups[0], "Reporting-MTA"), "dns; " HOST);
	assert_string_equal(field_get(&rp.groups[0], "X-Tern-Queue-ID"), "Q7K2MX9");
	assert_date(field_get(&rp.groups[0], "Arrival-Date"), ARRIVAL);
	static const char *const per_rcpt[] = { "Final-Recipient", "Action", "Status", "Remote-MTA",
		"Diagnostic-Code", "Last-Attempt-Date", NULL };
	struct fields *g = &rp.groups[1];
	assert_field_names(g, per_rcpt);
	assert_string_equal(field_get(g, "Final-Recipient"), "rfc822;bob@example.net");
	assert_string_equal(field_get(g, "Action"), "failed");
	assert_string_equal(field_get(g, "Status"), "5.1.1");
	assert_string_equal(field_get(g, "Remote-MTA"), "dns; mx.example.net");
	assert_string_equal(field_get(g, "Diagnostic-Code"),
			    "smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown");
	assert_date(field_get(g, "Last-Attempt-Date"), NOW - 60);

	/* 3: the whole original, octet for octet */
	struct part *o = &rp.parts[2];
	assert_string_equal(field_get(&o->h, "Content-Type"), "message/rfc822");
	assert_string_equal(field_get(&o->h, "Content-Description"), "Undelivered Message");
	assert_null(field_get(&o->h, "Content-Transfer-Encoding"));
	assert_int_equal(o->len, sizeof small_msg - 1);
	assert_memory_equal(o->body, small_msg, o->len);
	report_free(&rp);
}

/* The original lost (its blob cannot be opened): the report goes without that part. */
static void test_without_original(void **state)
{
	(void)state;
	struct dsn_rcpt rc = bob_failed();
	struct dsn_report r = report_for(&rc, 1);
	int out = temp_fd();
	int64_t w = dsn_write(&r, -1, 0, out);
	assert_true(w > 0);
	struct report rp;
	memset(&rp, 0, sizeof rp);
	rp.raw = read_all(out, &rp.len);
	close(out);
	assert_int_equal((size_t)w, rp.len);
	rp.no_original = true;
	parse_report(&rp);
	assert_int_equal(rp.nparts, 2);
	assert_true(body_has(&rp.parts[0], "could not be read back"));
	assert_string_equal(field_get(&rp.groups[1], "Action"), "failed");
	assert_non_null(strstr(rp.raw, "\r\n--"));
	char closing[sizeof rp.boundary + 8];
	snprintf(closing, sizeof closing, "--%s--\r\n", rp.boundary);
	assert_non_null(strstr(rp.raw, closing));
	report_free(&rp);
}

static void test_ret_hdrs(void **state)
{
	(void)state;
	struct dsn_rcpt rc = bob_failed();
	struct dsn_report r = report_for(&rc, 1);
	static const char *const rets[] = { "HDRS", "hdrs" };
	for (size_t i = 0; i < ARRAY_LEN(rets); i++) {
		r.ret = rets[i];
		struct report rp;
		run(&r, small_msg, sizeof small_msg - 1, &rp);
		struct part *o = &rp.parts[2];
		assert_string_equal(field_get(&o->h, "Content-Type"), "text/rfc822-headers");
		assert_string_equal(field_get(&o->h, "Content-Description"), "Undelivered Message Headers");
		assert_int_equal(o->len, sizeof small_hdr - 1);
		assert_memory_equal(o->body, small_hdr, o->len);
		assert_true(body_has(&rp.parts[0], "The header of your message is attached"));
		report_free(&rp);
	}
	r.ret = "FULL";
	struct report rp;
	run(&r, small_msg, sizeof small_msg - 1, &rp);
	assert_string_equal(field_get(&rp.parts[2].h, "Content-Type"), "message/rfc822");
	assert_true(body_has(&rp.parts[0], "Your message is attached"));
	report_free(&rp);
}

static void test_delayed(void **state)
{
	(void)state;
	struct dsn_rcpt rc = {
		.rcpt = "carol@example.net",
		.action = DSN_DELAYED,
		.status = "4.4.1",
		.remote_mta = "mx2.example.net",
		.diagnostic = "connect to mx2.example.net: Connection timed out",
		.diagnostic_remote = false,
		.last_attempt = NOW - 10,
		.will_retry_until = ARRIVAL + 5 * 86400,
	};
	struct dsn_report r = report_for(&rc, 1);
	r.ret = "FULL";                 /* a warning still carries only the header */
	struct report rp;
	run(&r, small_msg, sizeof small_msg - 1, &rp);
	assert_string_equal(field_get(&rp.top, "Subject"), "Delayed Mail (still being retried)");
	assert_true(body_has(&rp.parts[0], "WARNING ONLY"));
	assert_true(text_has(&rp.parts[0], "<carol@example.net>: connect to mx2.example.net"));
	struct fields *g = &rp.groups[1];
	static const char *const per_rcpt[] = { "Final-Recipient", "Action", "Status", "Remote-MTA",
		"Diagnostic-Code", "Last-Attempt-Date", "Will-Retry-Until", NULL };
	assert_field_names(g, per_rcpt);
	assert_string_equal(field_get(g, "Action"), "delayed");
	assert_string_equal(field_get(g, "Status"), "4.4.1");
	assert_string_equal(field_get(g, "Diagnostic-Code"),
			    "X-tern; connect to mx2.example.net: Connection timed out");
	assert_date(field_get(g, "Will-Retry-Until"), ARRIVAL + 5 * 86400);
	struct part *o = &rp.parts[2];
	assert_string_equal(field_get(&o->h, "Content-Type"), "text/rfc822-headers");
	assert_int_equal(o->len, sizeof small_hdr - 1);
	assert_memory_equal(o->body, small_hdr, o->len);
	report_free(&rp);
}

static char *make_msg(size_t total, size_t *hdr_len)
{
	static const char h[] = "From: a@example.com\r\nSubject: big\r\n\r\n";
	char *m = malloc(total);
	memcpy(m, h, sizeof h - 1);
	for (size_t i = sizeof h - 1; i < total; i++)
		m[i] = (i % 60 == 58) ? '\r' : (i % 60 == 59) ? '\n' : (char)('a' + i % 26);
	*hdr_len = sizeof h - 1 - 2;
	return m;
}

static void test_size_limit(void **state)
{
	(void)state;
	struct dsn_rcpt rc = bob_failed();
	struct dsn_report r = report_for(&rc, 1);
	size_t hl;
	for (int over = 0; over <= 1; over++) {
		size_t n = DSN_FULL_MAX + (size_t)over;
		char *m = make_msg(n, &hl);
		m[n - 2] = '\r';
		m[n - 1] = '\n';
		struct report rp;
		run(&r, m, n, &rp);
		struct part *o = &rp.parts[2];
		if (!over) {
			assert_string_equal(field_get(&o->h, "Content-Type"), "message/rfc822");
			assert_int_equal(o->len, n);
			assert_memory_equal(o->body, m, n);
		} else {
			assert_string_equal(field_get(&o->h, "Content-Type"), "text/rfc822-headers");
			assert_int_equal(o->len, hl);
			assert_memory_equal(o->body, m, hl);
		}
		report_free(&rp);
		free(m);
	}

	/* A big original: only its header is read. */
	size_t n = 3 * 1024 * 1024;
	char *m = make_msg(n, &hl);
	struct report rp;
	run(&r, m, n, &rp);
	assert_string_equal(field_get(&rp.parts[2].h, "Content-Type"), "text/rfc822-headers");
	assert_int_equal(rp.parts[2].len, hl);
	assert_true(rp.len < 8192);
	report_free(&rp);
	free(m);
}

/* A header section with no end in sight is cut at 1 MiB, after a whole line. */
static void test_header_cap(void **state)
{
	(void)state;
	size_t n = 1536 * 1024;
	char *m = malloc(n);
	for (size_t i = 0; i < n; i += 64) {
		memcpy(m + i, "X-Filler: ", 10);
		memset(m + i + 10, 'f', 52);
		memcpy(m + i + 62, "\r\n", 2);
	}
	struct dsn_rcpt rc = bob_failed();
	struct dsn_report r = report_for(&rc, 1);
	r.ret = "HDRS";
	struct report rp;
	run(&r, m, n, &rp);
	struct part *o = &rp.parts[2];
	assert_string_equal(field_get(&o->h, "Content-Type"), "text/rfc822-headers");
	assert_int_equal(o->len, 1024 * 1024);
	assert_memory_equal(o->body, m, o->len);
	report_free(&rp);
	free(m);
}

static void test_injection(void **state)
{
	(void)state;
	struct dsn_rcpt rc = {
		.rcpt = "victim@example.net\r\nBcc: other@example.com",
		.orcpt = "rfc822;a@example.net\r\nX-Injected: 4",
		.action = DSN_FAILED,
		.status = "5.7.1\r\nX-Injected: 8",
		.remote_mta = "mx.example.net\r\nX-Injected: 3",
		.diagnostic = "550 no\r\nX-Injected: 1\r\n\r\n--=_tern_x\r\nContent-Type: text/html\r\n\r\n<b>",
		.diagnostic_remote = true,
	};
	struct dsn_report r = report_for(&rc, 1);
	r.to = "sender@example.com>\r\nX-Injected: 7";
	r.envid = "ENV\r\nX-Injected: 2";
	r.queue_id = "Q1\r\nX-Injected: 6";
	r.hostname = "host.example\r\nX-Injected: 5";
	struct report rp;
	run(&r, small_msg, sizeof small_msg - 1, &rp);

	assert_false(has_line_starting(&rp, "X-Injected"));
	assert_false(has_line_starting(&rp, "Bcc"));
	assert_false(has_line_starting(&rp, "Content-Type: text/html"));
	assert_false(has_line_starting(&rp, "<b>"));
	assert_int_equal(rp.top.n, 8);
	assert_int_equal(field_count(&rp.top, "To"), 1);
	assert_string_equal(field_get(&rp.top, "To"), "<sender@example.com>??X-Injected: 7>");
	assert_string_equal(field_get(&rp.top, "From"),
			    "Mail Delivery System <MAILER-DAEMON@host.example??X-Injected:?5>");

	assert_int_equal(rp.ngroups, 2);
	assert_string_equal(field_get(&rp.groups[0], "Original-Envelope-Id"), "ENV X-Injected: 2");
	assert_string_equal(field_get(&rp.groups[0], "X-Tern-Queue-ID"), "Q1??X-Injected:?6");
	struct fields *g = &rp.groups[1];
	static const char *const per_rcpt[] = { "Original-Recipient", "Final-Recipient", "Action",
		"Status", "Remote-MTA", "Diagnostic-Code", NULL };
	assert_field_names(g, per_rcpt);
	assert_string_equal(field_get(g, "Original-Recipient"), "rfc822;a@example.net??X-Injected: 4");
	assert_string_equal(field_get(g, "Final-Recipient"), "rfc822;victim@example.net??Bcc: other@example.com");
	assert_string_equal(field_get(g, "Status"), "5.0.0");
	assert_string_equal(field_get(g, "Remote-MTA"), "dns; mx.example.net??X-Injected:?3");
	assert_string_equal(field_get(g, "Diagnostic-Code"),
			    "smtp; 550 no X-Injected: 1 --=_tern_x Content-Type: text/html <b>");
	/* The original is untouched and intact. */
	assert_int_equal(rp.parts[2].len, sizeof small_msg - 1);
	report_free(&rp);
}

static void test_empty_original(void **state)
{
	(void)state;
	struct dsn_rcpt rc = bob_failed();
	struct dsn_report r = report_for(&rc, 1);
	for (int hdrs = 0; hdrs <= 1; hdrs++) {
		r.ret = hdrs ? "HDRS" : NULL;
		struct report rp;
		run(&r, "", 0, &rp);
		assert_string_equal(field_get(&rp.parts[2].h, "Content-Type"),
				    hdrs ? "text/rfc822-headers" : "message/rfc822");
		assert_int_equal(rp.parts[2].len, 0);
		report_free(&rp);
	}
}

static void test_no_final_crlf(void **state)
{
	(void)state;
	static const char m[] = "Subject: x\r\n\r\nlast line";
	struct dsn_rcpt rc = bob_failed();
	struct dsn_report r = report_for(&rc, 1);
	struct report rp;
	run(&r, m, sizeof m - 1, &rp);
	assert_int_equal(rp.parts[2].len, sizeof m - 1 + 2);
	assert_memory_equal(rp.parts[2].body, "Subject: x\r\n\r\nlast line\r\n", rp.parts[2].len);
	report_free(&rp);

	/* only a header, cut mid-line, headers wanted */
	r.ret = "HDRS";
	run(&r, "Subject: x", 10, &rp);
	assert_int_equal(rp.parts[2].len, 12);
	assert_memory_equal(rp.parts[2].body, "Subject: x\r\n", 12);
	report_free(&rp);
}

static void test_bare_line_ends(void **state)
{
	(void)state;
	static const char m[] = "Subject: a\nFrom: b\r\rX: c\r\n\nbody1\rbody2\n\nbody3\r\r\nend\r";
	static const char want[] = "Subject: a\r\nFrom: b\r\n\r\nX: c\r\n\r\nbody1\r\nbody2\r\n\r\n"
				   "body3\r\n\r\nend\r\n";
	struct dsn_rcpt rc = bob_failed();
	struct dsn_report r = report_for(&rc, 1);
	struct report rp;
	run(&r, m, sizeof m - 1, &rp);
	assert_int_equal(rp.parts[2].len, sizeof want - 1);
	assert_memory_equal(rp.parts[2].body, want, sizeof want - 1);
	report_free(&rp);

	/* the header section ends at the first empty line, however it is spelled */
	static const char *const ends[][2] = {
		{ "A: 1\nB: 2\n\nbody\n", "A: 1\r\nB: 2\r\n" },
		{ "A: 1\r\nB: 2\r\r\nbody\n", "A: 1\r\nB: 2\r\n" },
		{ "A: 1\rB: 2\r\rbody\n", "A: 1\r\nB: 2\r\n" },
		{ "\r\nbody\r\n", "" },
		{ "\nbody\r\n", "" },
	};
	r.ret = "HDRS";
	for (size_t i = 0; i < ARRAY_LEN(ends); i++) {
		run(&r, ends[i][0], strlen(ends[i][0]), &rp);
		assert_int_equal(rp.parts[2].len, strlen(ends[i][1]));
		assert_memory_equal(rp.parts[2].body, ends[i][1], rp.parts[2].len);
		report_free(&rp);
	}
}

/* Lines over 998 are broken: in the header as continuations, in the body plainly. */
static void test_long_lines(void **state)
{
	(void)state;
	struct buf m = BUF_INIT;
	buf_puts(&m, "X-Long: ");
	for (int i = 0; i < 2500; i++)
		buf_putc(&m, 'h');
	buf_puts(&m, "\r\nSubject: s\r\n\r\n");
	for (int i = 0; i < 3000; i++)
		buf_putc(&m, 'b');
	buf_puts(&m, "\r\n");
	struct dsn_rcpt rc = bob_failed();
	struct dsn_report r = report_for(&rc, 1);
	struct report rp;
	run(&r, m.data, m.len, &rp);
	struct part *o = &rp.parts[2];
	/* The header is still one field followed by Subject. */
	struct fields fs;
	size_t h = parse_fields(o->body, o->len, &fs);
	assert_int_equal(fs.n, 2);
	assert_string_equal(fs.f[1].name, "Subject");
	size_t hs = 0;
	for (const char *p = fs.f[0].value; *p; p++)
		hs += *p == 'h';
	assert_int_equal(hs, 2500);
	fields_free(&fs);
	/* The body: the same octets, in lines of at most 998. */
	size_t bs = 0;
	for (size_t i = h; i < o->len; i++) {
		assert_true(o->body[i] == 'b' || o->body[i] == '\r' || o->body[i] == '\n');
		bs += o->body[i] == 'b';
	}
	assert_int_equal(bs, 3000);
	assert_memory_equal(o->body + h, "bbbb", 4);
	assert_memory_equal(o->body + h + 998, "\r\nbbbb", 6);
	report_free(&rp);
	buf_free(&m);
}

static void test_mixed_actions(void **state)
{
	(void)state;
	struct dsn_rcpt rcpts[4] = {
		{ .rcpt = "dave@example.net", .orcpt = "rfc822;team@example.net", .action = DSN_DELIVERED,
		  .status = "2.0.0", .remote_mta = "mx.example.net", .diagnostic = "250 2.0.0 Ok: queued as 4XyZ",
		  .diagnostic_remote = true, .last_attempt = NOW - 5 },
		bob_failed(),
		{ .rcpt = "erin@example.com", .action = DSN_DELAYED, .status = "4.2.2",
		  .remote_mta = "mx.example.com", .diagnostic = "452 4.2.2 Mailbox full",
		  .diagnostic_remote = true, .last_attempt = NOW - 3, .will_retry_until = NOW + 86400 },
		{ .rcpt = "frank@example.org", .action = DSN_RELAYED, .status = "2.0.0",
		  .remote_mta = "old.example.org" },
	};
	struct dsn_report r = report_for(rcpts, 4);
	struct report rp;
	run(&r, small_msg, sizeof small_msg - 1, &rp);
	assert_string_equal(field_get(&rp.top, "Subject"), "Undelivered Mail Returned to Sender");
	assert_string_equal(field_get(&rp.parts[2].h, "Content-Type"), "message/rfc822");
	assert_int_equal(rp.ngroups, 5);
	static const char *const actions[] = { "delivered", "failed", "delayed", "relayed" };
	static const char *const finals[] = { "rfc822;dave@example.net", "rfc822;bob@example.net",
		"rfc822;erin@example.com", "rfc822;frank@example.org" };
	for (size_t i = 0; i < 4; i++) {
		struct fields *g = &rp.groups[i + 1];
		assert_string_equal(field_get(g, "Final-Recipient"), finals[i]);
		assert_string_equal(field_get(g, "Action"), actions[i]);
		assert_int_equal(field_count(g, "Will-Retry-Until"), i == 2);
		assert_int_equal(field_count(g, "Original-Recipient"), i == 0);
		assert_int_equal(field_count(g, "Diagnostic-Code"), i != 3);
		assert_int_equal(field_count(g, "Last-Attempt-Date"), i != 3);
	}
	assert_string_equal(field_get(&rp.groups[1], "Original-Recipient"), "rfc822;team@example.net");
	assert_string_equal(field_get(&rp.groups[4], "Status"), "2.0.0");

	struct part *t = &rp.parts[0];
	assert_true(body_has(t, "Could not be delivered:\r\n\r\n<bob@example.net>: host mx.example.net said:"));
	assert_true(body_has(t, "Delayed, delivery is still being tried:\r\n\r\n<erin@example.com>: host"));
	assert_true(text_has(t, "Delivered:\r\n\r\n<dave@example.net> (expanded from <team@example.net>):"
			     " delivered to host mx.example.net: 250 2.0.0 Ok: queued as 4XyZ"));
	assert_true(text_has(t, "<frank@example.org>: relayed to host old.example.org"));
	assert_false(text_has(t, "<bob@example.net> (expanded"));
	/* failures first, whatever the order of the recipients */
	assert_true(memmem(t->body, t->len, "<bob@", 5) < memmem(t->body, t->len, "<dave@", 6));
	report_free(&rp);

	/* delayed and delivered, nothing failed: a warning, with the header only */
	struct dsn_report r2 = report_for(rcpts + 2, 2);
	run(&r2, small_msg, sizeof small_msg - 1, &rp);
	assert_string_equal(field_get(&rp.top, "Subject"), "Delayed Mail (still being retried)");
	assert_string_equal(field_get(&rp.parts[2].h, "Content-Type"), "text/rfc822-headers");
	report_free(&rp);
}

static void test_success(void **state)
{
	(void)state;
	struct dsn_rcpt rc = { .rcpt = "dave@example.net", .action = DSN_DELIVERED, .status = "bogus" };
	struct dsn_report r = report_for(&rc, 1);
	struct report rp;
	run(&r, small_msg, sizeof small_msg - 1, &rp);
	assert_string_equal(field_get(&rp.top, "Subject"), "Successful Mail Delivery Report");
	struct fields *g = &rp.groups[1];
	static const char *const per_rcpt[] = { "Final-Recipient", "Action", "Status", NULL };
	assert_field_names(g, per_rcpt);
	assert_string_equal(field_get(g, "Status"), "2.0.0");
	/* A success report quotes only the header (RFC 3461 §4.3). */
	assert_string_equal(field_get(&rp.parts[2].h, "Content-Description"), "Message Headers");
	assert_true(body_has(&rp.parts[0], "<dave@example.net>: delivered\r\n"));
	report_free(&rp);
}

static void test_diagnostic_folding(void **state)
{
	(void)state;
	struct buf d = BUF_INIT;
	buf_puts(&d, "550-5.7.1");
	for (int i = 0; i < 120; i++)
		buf_printf(&d, "%sword%03d", i % 10 == 9 ? "\r\n550-5.7.1 " : "  ", i);
	struct dsn_rcpt rc = bob_failed();
	rc.diagnostic = d.data;
	struct dsn_report r = report_for(&rc, 1);
	struct report rp;
	run(&r, small_msg, sizeof small_msg - 1, &rp);

	/* Unfolded, the value is the reply on one line with single spaces. */
	struct buf want = BUF_INIT;
	buf_puts(&want, "smtp; 550-5.7.1");
	for (int i = 0; i < 120; i++)
		buf_printf(&want, "%sword%03d", i % 10 == 9 ? " 550-5.7.1 " : " ", i);
	assert_string_equal(field_get(&rp.groups[1], "Diagnostic-Code"), want.data);
	/* Folded under 78 columns, continuation lines starting with a space. */
	const char *p = memmem(rp.parts[1].body, rp.parts[1].len, "Diagnostic-Code:", 16);
	int lines = 0;
	for (;;) {
		const char *eol = strstr(p, "\r\n");
		assert_true(eol - p <= 78);
		lines++;
		p = eol + 2;
		if (*p != ' ')
			break;
	}
	assert_true(lines > 10);
	/* The text part wraps too, with indented continuation lines. */
	assert_true(body_has(&rp.parts[0], "\r\n    "));
	buf_free(&want);
	report_free(&rp);

	/* An endless reply is cut; a long token is kept whole up to 900 octets. */
	buf_reset(&d);
	for (int i = 0; i < 1500; i++)
		buf_putc(&d, 'T');
	for (int i = 0; i < 2000; i++)
		buf_puts(&d, " x");
	rc.diagnostic = d.data;
	run(&r, small_msg, sizeof small_msg - 1, &rp);
	const char *v = field_get(&rp.groups[1], "Diagnostic-Code");
	assert_true(strlen(v) <= strlen("smtp; ") + 2000 + 2);
	assert_string_equal(v + strlen(v) - 3, "...");
	size_t run_len = 0, max_run = 0;
	for (const char *q = v; *q; q++) {
		run_len = *q == 'T' ? run_len + 1 : 0;
		max_run = run_len > max_run ? run_len : max_run;
	}
	assert_int_equal(max_run, 900);
	report_free(&rp);
	buf_free(&d);
}

static void test_utf8(void **state)
{
	(void)state;
	struct dsn_rcpt rcpts[2] = {
		{ .rcpt = "j\xc3\xb6rg@b\xc3\xbc" "cher.example", .action = DSN_FAILED, .status = "5.1.1",
		  .diagnostic = "550 unknown \xc3\xb6 user", .diagnostic_remote = true },
		{ .rcpt = "bad\xff\xfe@example.net", .action = DSN_FAILED, .status = "5.1.1" },
	};
	struct dsn_report r = report_for(rcpts, 2);
	r.to = "\xe7\x94\xa8\xe6\x88\xb7@example.com";
	static const char m[] = "Subject: =?utf-8?q?x?=\r\nX-Raw: caf\xc3\xa9\r\n\r\nna\xc3\xafve\r\n";
	struct report rp;
	run(&r, m, sizeof m - 1, &rp);
	assert_string_equal(field_get(&rp.top, "Content-Transfer-Encoding"), "8bit");
	assert_string_equal(field_get(&rp.top, "To"), "<\xe7\x94\xa8\xe6\x88\xb7@example.com>");
	struct part *t = &rp.parts[0];
	assert_string_equal(field_get(&t->h, "Content-Type"), "text/plain; charset=utf-8");
	assert_string_equal(field_get(&t->h, "Content-Transfer-Encoding"), "8bit");
	assert_true(text_has(t, "<j\xc3\xb6rg@b\xc3\xbc" "cher.example>: the remote server said: 550 unknown ? user"));
	assert_true(text_has(t, "<bad??@example.net>: delivery failed (status 5.1.1)"));
	/* The delivery-status part is 7-bit. */
	for (size_t i = 0; i < rp.parts[1].len; i++)
		assert_true((unsigned char)rp.parts[1].body[i] < 0x80);
	assert_string_equal(field_get(&rp.groups[1], "Final-Recipient"), "utf-8;j\\x{F6}rg@b\\x{FC}cher.example");
	assert_string_equal(field_get(&rp.groups[1], "Diagnostic-Code"), "smtp; 550 unknown ? user");
	assert_string_equal(field_get(&rp.groups[2], "Final-Recipient"), "rfc822;bad??@example.net");
	/* An 8-bit original is declared so. */
	assert_string_equal(field_get(&rp.parts[2].h, "Content-Transfer-Encoding"), "8bit");
	assert_memory_equal(rp.parts[2].body, m, sizeof m - 1);
	report_free(&rp);

	/* ASCII addresses, 8-bit original: only the top and part 3 are 8bit. */
	struct dsn_rcpt rc = bob_failed();
	struct dsn_report r2 = report_for(&rc, 1);
	run(&r2, m, sizeof m - 1, &rp);
	assert_string_equal(field_get(&rp.top, "Content-Transfer-Encoding"), "8bit");
	assert_string_equal(field_get(&rp.parts[0].h, "Content-Type"), "text/plain; charset=us-ascii");
	assert_string_equal(field_get(&rp.parts[2].h, "Content-Transfer-Encoding"), "8bit");
	report_free(&rp);
	/* ... and with the header only, its 8-bit octets are what counts. */
	r2.ret = "HDRS";
	static const char m2[] = "Subject: plain\r\n\r\nna\xc3\xafve\r\n";
	run(&r2, m2, sizeof m2 - 1, &rp);
	assert_null(field_get(&rp.top, "Content-Transfer-Encoding"));
	assert_null(field_get(&rp.parts[2].h, "Content-Transfer-Encoding"));
	report_free(&rp);
}

static void test_orcpt_forms(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{ "rfc822;alias@example.org", "rfc822;alias@example.org" },
		{ "RFC822;X@Example.ORG", "rfc822;X@Example.ORG" },
		{ "bare@example.org", "rfc822;bare@example.org" },
		{ "utf-8;j\\x{F6}rg@example.org", "utf-8;j\\x{F6}rg@example.org" },
		{ "utf-8;j\xc3\xb6rg@example.org", "utf-8;j\\x{F6}rg@example.org" },
		{ "rfc822;j\xc3\xb6rg@example.org", "utf-8;j\\x{F6}rg@example.org" },
		{ "utf-8;a+b=c d\\e@x", "utf-8;a\\x{2B}b\\x{3D}c\\x{20}d\\x{5C}e@x" },
		{ "utf-8;\xf0\x9f\x98\x80@x", "utf-8;\\x{1F600}@x" },
		{ "utf-8;\xe4\xb8\xad@x\x01", "utf-8;\\x{4E2D}@x?" },
		{ "rfc822;a\xff@b", "rfc822;a?@b" },
		{ "utf-8;a\\x{0A}\\x{7F}\\x{41}b\\x{}\\x{110000}@x", "utf-8;a??\\x{41}b\\x{5C}x{}\\x{5C}x{110000}@x" },
		{ "rfc822;\"a b\"@example.org", "rfc822;\"a b\"@example.org" },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct dsn_rcpt rc = bob_failed();
		rc.orcpt = cases[i][0];
		struct dsn_report r = report_for(&rc, 1);
		struct report rp;
		run(&r, small_msg, sizeof small_msg - 1, &rp);
		assert_string_equal(field_get(&rp.groups[1], "Original-Recipient"), cases[i][1]);
		report_free(&rp);
	}
	/* For people: an escaped utf-8 ORCPT decoded; the same address (any case) not repeated. */
	static const char *const shown[][3] = {
		{ "utf-8;j\\x{F6}rg@example.org", "j\xc3\xb6rg@example.org", "<j\xc3\xb6rg@example.org>: host" },
		{ "rfc822;BOB@example.NET", "bob@example.net", "<bob@example.net>: host" },
		{ "utf-8;j\\x{F6}rg@example.org", "jorg@example.org",
		  "<jorg@example.org> (expanded from <j\xc3\xb6rg@example.org>): host" },
		{ "utf-8;a\\x{0A}b@x", "ab@x", "<ab@x> (expanded from <a?b@x>): host" },
	};
	for (size_t i = 0; i < ARRAY_LEN(shown); i++) {
		struct dsn_rcpt rc = bob_failed();
		rc.orcpt = shown[i][0];
		rc.rcpt = shown[i][1];
		struct dsn_report r = report_for(&rc, 1);
		struct report rp;
		run(&r, small_msg, sizeof small_msg - 1, &rp);
		assert_true(text_has(&rp.parts[0], shown[i][2]));
		report_free(&rp);
	}

	/* none: no field */
	static const char *const none[] = { NULL, "" };
	for (size_t i = 0; i < ARRAY_LEN(none); i++) {
		struct dsn_rcpt rc = bob_failed();
		rc.orcpt = none[i];
		struct dsn_report r = report_for(&rc, 1);
		struct report rp;
		run(&r, small_msg, sizeof small_msg - 1, &rp);
		assert_int_equal(field_count(&rp.groups[1], "Original-Recipient"), 0);
		report_free(&rp);
	}
	/* a very long address is cut, the line stays short */
	struct buf a = BUF_INIT;
	buf_puts(&a, "utf-8;");
	for (int i = 0; i < 400; i++)
		buf_puts(&a, "\xc3\xb6");
	struct dsn_rcpt rc = bob_failed();
	rc.orcpt = a.data;
	rc.rcpt = a.data + 6;
	struct dsn_report r = report_for(&rc, 1);
	struct report rp;
	run(&r, small_msg, sizeof small_msg - 1, &rp);
	const char *v = field_get(&rp.groups[1], "Original-Recipient");
	assert_true(strlen(v) <= 6 + 512);
	assert_string_equal(v + strlen(v) - 6, "\\x{F6}");
	assert_true(strlen(field_get(&rp.groups[1], "Final-Recipient")) <= 6 + 512);
	report_free(&rp);
	buf_free(&a);
}

static void test_unique_ids(void **state)
{
	(void)state;
	struct dsn_rcpt rc = bob_failed();
	struct dsn_report r = report_for(&rc, 1);
	r.now = 0;                              /* now */
	struct report a, b;
	int64_t before = (int64_t)time(NULL);
	run(&r, small_msg, sizeof small_msg - 1, &a);
	run(&r, small_msg, sizeof small_msg - 1, &b);
	assert_string_not_equal(a.boundary, b.boundary);
	assert_string_not_equal(field_get(&a.top, "Message-ID"), field_get(&b.top, "Message-ID"));
	int64_t t;
	const char *d = field_get(&a.top, "Date");
	assert_true(mail_date_parse(d, strlen(d), &t));
	assert_true(t >= before && t <= before + 5);
	report_free(&a);
	report_free(&b);
}

static void test_io_errors(void **state)
{
	(void)state;
	struct dsn_rcpt rc = bob_failed();
	struct dsn_report r = report_for(&rc, 1);
	int in = orig_file(small_msg, sizeof small_msg - 1);
	off_t off = (off_t)strlen(PREFIX);

	/* out_fd open read-only */
	char path[] = "/tmp/test_dsn_ro_XXXXXX";
	int tmp = mkstemp(path);
	assert_true(tmp >= 0);
	close(tmp);
	int ro = open(path, O_RDONLY);
	assert_true(ro >= 0);
	errno = 0;
	assert_int_equal(dsn_write(&r, in, (uint64_t)off, ro), -1);
	assert_int_equal(errno, EBADF);
	close(ro);
	unlink(path);

	/* out_fd closed */
	int closed = temp_fd();
	close(closed);
	errno = 0;
	assert_int_equal(dsn_write(&r, in, (uint64_t)off, closed), -1);
	assert_int_equal(errno, EBADF);

	/* a full disk, after the first buffer */
	int full = open("/dev/full", O_WRONLY);
	if (full >= 0) {
		errno = 0;
		assert_int_equal(dsn_write(&r, in, (uint64_t)off, full), -1);
		assert_int_equal(errno, ENOSPC);
		close(full);
	}

	/* the original unreadable: nothing written */
	int out = temp_fd();
	int bad = temp_fd();
	close(bad);
	errno = 0;
	assert_int_equal(dsn_write(&r, bad, (uint64_t)off, out), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(lseek(out, 0, SEEK_END), 0);

	/* no recipients */
	struct dsn_report none = report_for(&rc, 0);
	errno = 0;
	assert_int_equal(dsn_write(&none, in, (uint64_t)off, out), -1);
	assert_int_equal(errno, EINVAL);
	close(out);
	close(in);
}

/* ---- a boundary that occurs in the original ------------------------------ */

/*
 * The random octets behind random_id() come from OpenSSL's RAND_bytes
 * (lib/util.c); this definition stands in for OpenSSL's, so that a test can
 * make every boundary the same and put that boundary into the original.
 */
static bool rand_zero;
static unsigned rand_calls;
int RAND_bytes(unsigned char *buf, int num);
int RAND_bytes(unsigned char *buf, int num)
{
	rand_calls++;
	if (rand_zero) {
		memset(buf, 0, (size_t)num);
		return 1;
	}
	size_t done = 0;
	while (done < (size_t)num) {
		ssize_t n = getrandom(buf + done, (size_t)num - done, 0);
		if (n > 0)
			done += (size_t)n;
	}
	return 1;
}

/* Switch, and use up what random_id() had taken before (until it takes more). */
static void random_all_zero(bool on)
{
	rand_zero = on;
	unsigned before = rand_calls;
	char id[2];
	while (rand_calls == before)
		random_id(id, 1);
}

/* -1/EIO and nothing written when every boundary tried occurs in the original. */
static void assert_collides(const struct dsn_report *r, const char *msg, size_t n)
{
	int in = orig_file(msg, n);
	int out = temp_fd();
	errno = 0;
	assert_int_equal(dsn_write(r, in, strlen(PREFIX), out), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(lseek(out, 0, SEEK_END), 0);
	close(in);
	close(out);
}

static void test_boundary_in_original(void **state)
{
	(void)state;
	struct dsn_rcpt rc = bob_failed();
	struct dsn_report r = report_for(&rc, 1);
	struct report rp;
	random_all_zero(true);
	run(&r, small_msg, sizeof small_msg - 1, &rp);
	char b[128];
	strcpy(b, rp.boundary);
	report_free(&rp);

	struct buf body = BUF_INIT, across = BUF_INIT, hdr = BUF_INIT, after_hdr = BUF_INIT;
	buf_printf(&body, "Subject: x\r\n\r\nquoted:\r\n--%s\r\n", b);
	/* straddling the first read: chunks start at the message's offset 0, 8192, ... */
	buf_puts(&across, "Subject: y\r\n\r\n");
	while (across.len < 8192 - 10)
		buf_puts(&across, across.len + 40 < 8192 - 10 ? "filler filler filler filler filler fil\r\n" : "f");
	buf_printf(&across, "%s\r\nend\r\n", b);
	buf_printf(&hdr, "X-Quoted: %s\r\n\r\nbody\r\n", b);
	buf_printf(&after_hdr, "Subject: z\r\n\r\n%s\r\n", b);

	assert_collides(&r, body.data, body.len);
	assert_collides(&r, across.data, across.len);
	assert_collides(&r, hdr.data, hdr.len);
	r.ret = "HDRS";
	assert_collides(&r, hdr.data, hdr.len);
	/* Only what is included counts: with the header only, the body may have it. */
	run(&r, after_hdr.data, after_hdr.len, &rp);
	assert_string_equal(rp.boundary, b);
	assert_memory_equal(rp.parts[2].body, "Subject: z\r\n", rp.parts[2].len);
	report_free(&rp);
	r.ret = NULL;

	/* With real randomness, the next boundary is another, and the original goes whole. */
	random_all_zero(false);
	run(&r, across.data, across.len, &rp);
	assert_string_not_equal(rp.boundary, b);
	assert_int_equal(rp.parts[2].len, across.len);
	assert_memory_equal(rp.parts[2].body, across.data, across.len);
	report_free(&rp);
	buf_free(&body);
	buf_free(&across);
	buf_free(&hdr);
	buf_free(&after_hdr);
}

/* ---- random input: the structure holds whatever the bytes -------------- */

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

/* A string of 0..max bytes, biased towards what breaks formats. */
static char *rnd_string(size_t max)
{
	static const char risky[] = "\r\n\t -:;<>\"\\=+@.\x7f\x01\xc3\xb6\xff\xe2\x82\xac";
	size_t n = rnd() % (max + 1);
	char *s = malloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		uint32_t k = rnd() % 4;
		s[i] = k == 0 ? (char)('a' + rnd() % 26) : k == 1 ? (char)(1 + rnd() % 255)
							  : risky[rnd() % (sizeof risky - 1)];
	}
	s[n] = '\0';
	return s;
}

/* Each CR, LF or CRLF as CRLF, a last line terminated: what the report carries. */
static void normalize(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' || s[i] == '\n') {
			buf_puts(out, "\r\n");
			if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
				i++;
		} else {
			buf_putc(out, s[i]);
		}
	}
	if (n > 0 && s[n - 1] != '\r' && s[n - 1] != '\n')
		buf_puts(out, "\r\n");
}

static void test_random_inputs(void **state)
{
	(void)state;
	static const char *const allowed[] = { "Original-Recipient", "Final-Recipient", "Action", "Status",
		"Remote-MTA", "Diagnostic-Code", "Last-Attempt-Date", "Will-Retry-Until" };
	for (int iter = 0; iter < 300; iter++) {
		struct dsn_rcpt rcpts[3];
		char *strs[3][4];
		size_t nr = 1 + rnd() % 3;
		for (size_t i = 0; i < nr; i++) {
			for (int k = 0; k < 4; k++)
				strs[i][k] = rnd_string(k == 2 ? 3000 : 300);
			rcpts[i] = (struct dsn_rcpt){
				.rcpt = strs[i][0], .orcpt = strs[i][1], .diagnostic = strs[i][2],
				.remote_mta = strs[i][3], .status = "5.1.1",
				.action = (enum dsn_action)(rnd() % 4), .diagnostic_remote = rnd() % 2,
				.last_attempt = rnd() % 2 ? NOW : 0, .will_retry_until = NOW + 3600,
			};
		}
		char *envid = rnd_string(150), *to = rnd_string(100);
		struct dsn_report r = report_for(rcpts, nr);
		r.envid = envid;
		r.to = to;
		r.ret = rnd() % 3 == 0 ? "HDRS" : NULL;
		/* an original of short lines in any line-end spelling, 8-bit and NULs included */
		size_t on = rnd() % 3000;
		char *orig = malloc(on + 1);
		size_t col = 0;
		for (size_t i = 0; i < on; i++) {
			uint32_t k = rnd() % 16;
			orig[i] = k == 0 ? '\r' : k == 1 ? '\n' : k == 2 ? (char)(rnd() % 256) : (char)('a' + k);
			col = orig[i] == '\r' || orig[i] == '\n' ? 0 : col + 1;
			if (col > 900) {
				orig[i] = '\n';
				col = 0;
			}
		}
		struct report rp;
		run(&r, orig, on, &rp);
		assert_true(rp.top.n == 8 || rp.top.n == 9);
		assert_int_equal(rp.ngroups, nr + 1);
		for (size_t i = 1; i < rp.ngroups; i++) {
			struct fields *g = &rp.groups[i];
			assert_int_equal(field_count(g, "Final-Recipient"), 1);
			assert_int_equal(field_count(g, "Action"), 1);
			assert_int_equal(field_count(g, "Status"), 1);
			for (size_t f = 0; f < g->n; f++) {
				bool ok = false;
				for (size_t a = 0; a < ARRAY_LEN(allowed); a++)
					ok |= strcmp(g->f[f].name, allowed[a]) == 0;
				assert_true(ok);
			}
		}
		for (size_t i = 0; i < rp.parts[1].len; i++)
			assert_true((unsigned char)rp.parts[1].body[i] < 0x80);
		if (strcmp(field_get(&rp.parts[2].h, "Content-Type"), "message/rfc822") == 0) {
			struct buf want = BUF_INIT;
			normalize(&want, orig, on);
			assert_int_equal(rp.parts[2].len, want.len);
			assert_memory_equal(rp.parts[2].body, want.data, want.len);
			buf_free(&want);
		}
		report_free(&rp);
		free(orig);
		free(envid);
		free(to);
		for (size_t i = 0; i < nr; i++)
			for (int k = 0; k < 4; k++)
				free(strs[i][k]);
	}
}

/* ---- partial writes and EINTR: a slow reader behind a small pipe -------- */

struct reader {
	int fd;
	struct buf got;
};

static void *slow_reader(void *arg)
{
	struct reader *rd = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	char chunk[700];
	for (;;) {
		ssize_t n = read(rd->fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_append(&rd->got, chunk, (size_t)n);
		usleep(50);
	}
	return NULL;
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void test_partial_writes(void **state)
{
	(void)state;
	size_t hl;
	char *m = make_msg(60000, &hl);
	struct dsn_rcpt rc = bob_failed();
	struct dsn_report r = report_for(&rc, 1);
	int in = orig_file(m, 60000);

	int p[2];
	assert_int_equal(pipe(p), 0);
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	struct reader rd = { .fd = p[0] };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, slow_reader, &rd), 0);

	struct sigaction sa = { .sa_handler = on_alarm };      /* no SA_RESTART: writes see EINTR */
	struct sigaction old;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	struct itimerval it = { .it_interval = { 0, 500 }, .it_value = { 0, 500 } };
	setitimer(ITIMER_REAL, &it, NULL);

	int64_t w = dsn_write(&r, in, strlen(PREFIX), p[1]);
	int err = errno;

	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	close(p[1]);
	pthread_join(th, NULL);
	close(p[0]);
	close(in);

	if (w < 0)
		fail_msg("dsn_write: %s", strerror(err));
	assert_int_equal((size_t)w, rd.got.len);
	struct report rp = { .raw = rd.got.data, .len = rd.got.len };
	parse_report(&rp);
	assert_int_equal(rp.parts[2].len, 60000);
	assert_memory_equal(rp.parts[2].body, m, 60000);
	report_free(&rp);          /* frees rd.got's memory */
	free(m);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failed_report),
		cmocka_unit_test(test_without_original),
		cmocka_unit_test(test_ret_hdrs),
		cmocka_unit_test(test_delayed),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_header_cap),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_empty_original),
		cmocka_unit_test(test_no_final_crlf),
		cmocka_unit_test(test_bare_line_ends),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_mixed_actions),
		cmocka_unit_test(test_success),
		cmocka_unit_test(test_diagnostic_folding),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_orcpt_forms),
		cmocka_unit_test(test_unique_ids),
		cmocka_unit_test(test_boundary_in_original),
		cmocka_unit_test(test_random_inputs),
		cmocka_unit_test(test_io_errors),
		cmocka_unit_test(test_partial_writes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
