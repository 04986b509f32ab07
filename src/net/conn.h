/*
 * conn.h — one client connection: a bufferevent (plain or TLS), the
 * STARTTLS upgrade, line reading with limits, timeouts, per-IP limits and
 * a deferred close.  Protocols plug in through struct conn_handler and keep
 * their session in c->session; they never see sockets or SSL directly.
 *
 * Lifecycle: accept → handler->open (greeting) → read/tls_ready/drained
 * callbacks → conn_close() (flush, then) or EOF/error/timeout →
 * handler->closed (the session frees itself) → conn freed.  All callbacks
 * run on the connection's loop thread.
 */
#ifndef TERN_NET_CONN_H
#define TERN_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/config.h"

struct conn;
struct loop;
struct evbuffer;

enum conn_end {
	CONN_END_CLOSED,    /* we closed it (conn_close) */
	CONN_END_EOF,       /* client went away */
	CONN_END_ERROR,     /* socket or TLS error */
	CONN_END_TIMEOUT,   /* idle past the timeout */
	CONN_END_SHUTDOWN,  /* server stopping, forced */
};

struct conn_handler {
	const char *name;                   /* "smtp", ... for logs */
	void *ctx;                          /* the protocol's server object */
	unsigned max_per_ip;                /* 0 = unlimited */
	const char *busy_reply;             /* sent before closing when over max_per_ip */
	uint64_t timeout_ms;                /* idle timeout; 0 = none */
	void (*open)(struct conn *c);       /* set c->session, queue the greeting */
	void (*read)(struct conn *c);       /* input is available */
	void (*tls_ready)(struct conn *c);  /* handshake done (implicit TLS or after conn_starttls) */
	void (*drained)(struct conn *c);    /* output flushed, when asked with conn_notify_drained */
	void (*shutdown)(struct conn *c);   /* server stopping: finish or refuse, then conn_close */
	void (*timeout)(struct conn *c);    /* idle timeout: say goodbye, conn_close (NULL: just close) */
	void (*closed)(struct conn *c, enum conn_end why);  /* last call: free the session */
};

struct conn {
	struct loop *loop;
	struct bufferevent *bev;
	void *zctx;                 /* COMPRESS=DEFLATE streams, NULL when off */
	const struct conn_handler *h;
	void *session;
	enum listen_role role;
	char id[11];                /* session id, in every log line */
	char peer_ip[64];
	uint16_t peer_port;
	char local_ip[64];
	uint16_t local_port;
	int plain_fd;               /* the socket while no TLS layer sits on it, else -1 */
	struct evbuffer *batch;     /* replies made while handling a read, sent when it ends */
	bool reading;               /* inside the handler's read callback */
	bool tls;                   /* TLS handshake completed */
	bool closing;
	bool starttls_pending;
	bool notify_drained;
	bool discarding;            /* inside an overlong line */
	bool counted;               /* holds a per-IP slot */
	struct event *timer;
	void (*timer_fn)(struct conn *c);
	struct event *closer;
	struct conn *prev, *next;   /* the loop's connections */
};

/* Called by the listener for an accepted socket (on the loop's thread). */
void conn_accept(struct loop *loop, int fd, enum listen_role role, const struct conn_handler *h);

void conn_write(struct conn *c, const void *p, size_t n);
/* Flush what is queued, then close; no callbacks but closed() after this. */
void conn_close(struct conn *c);

struct evbuffer *conn_input(struct conn *c);

enum conn_line {
	CONN_LINE_NONE,     /* no complete line yet */
	CONN_LINE_OK,       /* line holds one line without its CRLF / LF */
	CONN_LINE_TOOLONG,  /* a line longer than max (incl. CRLF) arrived or is arriving; it is discarded */
};

/* Read one line of at most max octets including the line end.  CRLF or bare LF end a line. */
enum conn_line conn_read_line(struct conn *c, size_t max, struct buf *line);

/*
 * Upgrade to TLS once the output queued so far (the "220 ready" reply) has
 * been sent.  Input already buffered is discarded — it was sent in
 * plaintext before the handshake (STARTTLS injection).  tls_ready() follows.
 */
void conn_starttls(struct conn *c);
/*
 * Queue length octets of fd from offset (fd is duplicated; the caller keeps
 * its own).  false when the file cannot be queued.
 */
bool conn_write_file(struct conn *c, int fd, uint64_t offset, uint64_t length);
/*
 * COMPRESS=DEFLATE (RFC 4978): from now on both directions are raw
 * deflate streams.  Output queued before the call (the OK) goes out
 * uncompressed; input already received is inflated.  false when zlib cannot
 * be set up (nothing changed then).
 */
bool conn_compress(struct conn *c);
bool conn_compressed(const struct conn *c);
/* Call handler->drained once the output buffer is empty. */
void conn_notify_drained(struct conn *c);
/* Bytes queued for output and not yet sent. */
size_t conn_output_pending(struct conn *c);

/* One-shot timer per connection (replaces a pending one); ms 0 cancels. */
void conn_timer(struct conn *c, uint64_t ms, void (*fn)(struct conn *c));

/* After TLS is up: "TLSv1.3", "TLS_AES_256_GCM_SHA384", bits. */
const char *conn_tls_version(struct conn *c);
const char *conn_tls_cipher(struct conn *c);
int conn_tls_bits(struct conn *c);

/* Ask every connection of the calling loop to shut down (handler->shutdown). */
void conn_shutdown_all(void);
/* Force-close every connection of the calling loop. */
void conn_close_all(void);
/* Connections open on all loops (any thread). */
size_t conn_total(void);

#endif
