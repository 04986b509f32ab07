/*
 * conn.c — client connections on libevent bufferevents; see conn.h.
 *
 * Plain connections use a socket bufferevent, TLS ones an OpenSSL
 * bufferevent on the socket.  STARTTLS frees the plain bufferevent (on a
 * dup of the socket, so the descriptor survives) and builds the TLS one on
 * it: one bufferevent per connection at any time, which keeps idle memory
 * small.  Closing is always deferred to a zero-delay event so that a
 * session can call conn_close() from inside its own callbacks.
 */
#include "net/conn.h"
#include "net/iplimit.h"
#include "net/loop.h"
#include "net/tls.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

/* Input buffered per connection while its session is busy: bounded, small. */
#define READ_HIGH_WATERMARK (64 * 1024)
/* read_more(): one read's worth */
#define READ_MORE_CHUNK (32 * 1024)

/* The connections of this loop thread, for shutdown. */
static __thread struct conn *conns;
static size_t total_conns;   /* all loops; atomic */

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void batch_to_output(struct conn *c);

static void on_event(struct bufferevent *bev, short what, void *arg);
static void finish(struct conn *c, enum conn_end why);

static void sockaddr_to_str(const struct sockaddr_storage *ss, char *ip, size_t iplen, uint16_t *port)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], ip, (socklen_t)iplen);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, (socklen_t)iplen);
		*port = ntohs(s6->sin6_port);
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, (socklen_t)iplen);
		*port = ntohs(s4->sin_port);
	} else {
		snprintf(ip, iplen, "unknown");
		*port = 0;
	}
}

static void apply_timeouts(struct conn *c)
{
	if (!c->h->timeout_ms)
		return;
	struct timeval tv = { (time_t)(c->h->timeout_ms / 1000), (suseconds_t)(c->h->timeout_ms % 1000) * 1000 };
	bufferevent_set_timeouts(c->bev, &tv, &tv);
}

static bool make_bev(struct conn *c, int fd, bool tls)
{
	struct event_base *base = loop_base(c->loop);
	if (tls) {
		SSL *ssl = tls_new_ssl();
		if (!ssl)
			return false;
		c->bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
							BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev) {
			SSL_free(ssl);
			return false;
		}
		/* Clients often drop the TCP connection without close_notify; that is not an error here. */
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else {
		c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev)
			return false;
	}
	c->plain_fd = tls ? -1 : fd;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, READ_HIGH_WATERMARK);
	apply_timeouts(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return true;
}

static void link_conn(struct conn *c)
{
	c->next = conns;
	if (conns)
		conns->prev = c;
	conns = c;
	__atomic_add_fetch(&total_conns, 1, __ATOMIC_RELAXED);
}

static void unlink_conn(struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (conns == c)
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	__atomic_sub_fetch(&total_conns, 1, __ATOMIC_RELAXED);
}

void conn_accept(struct loop *loop, int fd, enum listen_role role, const struct conn_handler *h)
{
	struct conn *c = xcalloc(1, sizeof *c);
	c->loop = loop;
	c->h = h;
	c->role = role;
	random_id(c->id, 10);

	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		sockaddr_to_str(&ss, c->peer_ip, sizeof c->peer_ip, &c->peer_port);
	else
		strcpy(c->peer_ip, "unknown");
	sl = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		sockaddr_to_str(&ss, c->local_ip, sizeof c->local_ip, &c->local_port);

	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	evutil_make_socket_nonblocking(fd);

	if (!make_bev(c, fd, listen_role_implicit_tls(role))) {
		log_error("net", "session=%s msg=\"cannot set up connection\" ip=%s", c->id, c->peer_ip);
		close(fd);
		free(c);
		return;
	}
	link_conn(c);

	if (!iplimit_acquire(c->peer_ip, h->max_per_ip)) {
		log_warn("net", "session=%s msg=\"too many connections from one address\" ip=%s limit=%u proto=%s",
			 c->id, c->peer_ip, h->max_per_ip, h->name);
		if (h->busy_reply)
			conn_write(c, h->busy_reply, strlen(h->busy_reply));
		conn_close(c);
		return;
	}
	c->counted = true;
	log_info("net", "session=%s msg=connect proto=%s ip=%s port=%u local=%s:%u tls=%s",
		 c->id, listen_role_names[role], c->peer_ip, c->peer_port, c->local_ip,
		 c->local_port, listen_role_implicit_tls(role) ? "implicit" : "no");
	h->open(c);
}

/* ---- COMPRESS=DEFLATE --------------------------------------------------------------
 *
 * A layer inside the connection rather than a filter bufferevent, so the
 * socket's own output buffer stays the one that "drained" and
 * conn_output_pending talk about.  Output is deflated as it is written
 * (flushed per write: IMAP is interactive); input is inflated lazily,
 * when the protocol asks for it, and at most ZIN_MAX ahead, so a small
 * compressed request cannot expand into unbounded memory.
 *
 * A file segment (a message part, conn_write_file) cannot be handed to
 * the socket as it is: it goes into a queue, with whatever is written
 * after it, and is read and deflated ZOUT_STEP at a time as the socket
 * takes the output — never whole into memory.
 */
#define Z_CHUNK 16384
#define ZIN_MAX (256 * 1024)
#define ZOUT_STEP (64 * 1024)   /* deflated per turn while the queue drains */

struct zlayer {
	z_stream in, out;
	struct evbuffer *plain;     /* inflated input not yet read by the protocol */
	struct evbuffer *queue;     /* output waiting behind a file segment, not yet deflated */
	bool owed;                  /* the last inflate filled its output: it may hold more */
	bool broken;
};

static void zlayer_free(struct conn *c)
{
	struct zlayer *z = c->zctx;
	if (!z)
		return;
	inflateEnd(&z->in);
	deflateEnd(&z->out);
	evbuffer_free(z->plain);
	evbuffer_free(z->queue);
	free(z);
	c->zctx = NULL;
}

/* The stream is unusable either way: nothing more can be read or sent in order, so the connection ends. */
static void zlayer_break(struct conn *c)
{
	struct zlayer *z = c->zctx;
	z->broken = true;
	evbuffer_drain(z->queue, evbuffer_get_length(z->queue));
	evbuffer_drain(bufferevent_get_input(c->bev), evbuffer_get_length(bufferevent_get_input(c->bev)));
	conn_close(c);
}

static void deflate_write(struct conn *c, const void *p, size_t n)
{
	struct zlayer *z = c->zctx;
	if (z->broken)
		return;
	struct evbuffer *dst = bufferevent_get_output(c->bev);
	z->out.next_in = (Bytef *)(uintptr_t)p;
	z->out.avail_in = (uInt)n;
	do {
		struct evbuffer_iovec v;
		if (evbuffer_reserve_space(dst, Z_CHUNK, &v, 1) < 1) {
			zlayer_break(c);
			return;
		}
		uInt room = (uInt)(v.iov_len < Z_CHUNK ? v.iov_len : Z_CHUNK);
		z->out.next_out = v.iov_base;
		z->out.avail_out = room;
		int rc = deflate(&z->out, Z_SYNC_FLUSH);
		v.iov_len = room - z->out.avail_out;
		evbuffer_commit_space(dst, &v, 1);
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			zlayer_break(c);
			return;
		}
	} while (z->out.avail_out == 0 || z->out.avail_in > 0);
}

/* Inflate what has arrived, up to ZIN_MAX of plain input waiting. */
static void inflate_pending(struct conn *c)
{
	struct zlayer *z = c->zctx;
	struct evbuffer *src = bufferevent_get_input(c->bev);
	while (!z->broken && evbuffer_get_length(z->plain) < ZIN_MAX) {
		struct evbuffer_iovec in = { 0 }, out;
		/* Inflate can owe output for input it has already taken (a long match): ask with none. */
		if (!evbuffer_get_length(src) && !z->owed)
			break;
		if (evbuffer_get_length(src) && evbuffer_peek(src, -1, NULL, &in, 1) < 1)
			break;
		if (evbuffer_reserve_space(z->plain, Z_CHUNK, &out, 1) < 1)
			break;
		uInt room = (uInt)(out.iov_len < Z_CHUNK ? out.iov_len : Z_CHUNK);
		z->in.next_in = in.iov_base;
		z->in.avail_in = (uInt)in.iov_len;
		z->in.next_out = out.iov_base;
		z->in.avail_out = room;
		int rc = inflate(&z->in, Z_SYNC_FLUSH);
		size_t used = in.iov_len - z->in.avail_in;
		out.iov_len = room - z->in.avail_out;
		z->owed = z->in.avail_out == 0;
		evbuffer_commit_space(z->plain, &out, 1);
		evbuffer_drain(src, used);
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			/* Garbage or a finished stream: nothing more can be read on this connection. */
			log_info("net", "session=%s msg=\"compressed input invalid\" ip=%s", c->id, c->peer_ip);
			zlayer_break(c);
			break;
		}
		if (used == 0 && out.iov_len == 0) {
			z->owed = false;
			break;
		}
	}
}

bool conn_compressed(const struct conn *c)
{
	return c->zctx != NULL;
}

bool conn_compress(struct conn *c)
{
	if (!c->bev || c->zctx)
		return false;
	batch_to_output(c);     /* the reply that accepted COMPRESS goes out uncompressed */
	struct zlayer *z = xcalloc(1, sizeof *z);
	/*
	 * Raw deflate both ways (RFC 4978 §4).  Inflate takes any window the
	 * client chose; our deflate uses a small window and little memory, so
	 * a compressed idle connection stays cheap.
	 */
	if (inflateInit2(&z->in, -15) != Z_OK) {
		free(z);
		return false;
	}
	if (deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -11, 3, Z_DEFAULT_STRATEGY) != Z_OK) {
		inflateEnd(&z->in);
		free(z);
		return false;
	}
	z->plain = evbuffer_new();
	z->queue = evbuffer_new();
	c->zctx = z;
	return true;
}

/* Deflate from the queue until the socket has ZOUT_STEP to send or the queue is empty. */
static void zqueue_pump(struct conn *c)
{
	struct zlayer *z = c->zctx;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char chunk[Z_CHUNK];
	while (!z->broken && evbuffer_get_length(z->queue) && evbuffer_get_length(out) < ZOUT_STEP) {
		int n = evbuffer_remove(z->queue, chunk, sizeof chunk);
		if (n <= 0) {
			/* An unreadable file segment: nothing after it can be sent in order. */
			log_error("net", "session=%s msg=\"cannot read queued output\"", c->id);
			zlayer_break(c);
			break;
		}
		deflate_write(c, chunk, (size_t)n);
	}
}

/*
 * Replies to a client that reads them find the output empty: send them
 * at once instead of through the bufferevent, which would arm the write
 * event, wait for the next loop turn and disarm it again (two epoll_ctl
 * and a wake-up per reply).  Replies made while a read is being handled
 * are gathered first (c->batch), so a pipelined burst still costs one
 * send.  What the socket does not take, and every error, is left to the
 * bufferevent, which reports it the usual way.
 */
static void write_plain(struct conn *c, const void *p, size_t n)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	if (c->plain_fd >= 0 && evbuffer_get_length(out) == 0) {
		ssize_t w = send(c->plain_fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0) {
			p = (const char *)p + w;
			n -= (size_t)w;
		}
	}
	if (n)
		bufferevent_write(c->bev, p, n);
}

/* Whatever the batch holds goes behind what is queued already, without a send. */
static void batch_to_output(struct conn *c)
{
	if (c->batch && c->bev && evbuffer_get_length(c->batch))
		evbuffer_add_buffer(bufferevent_get_output(c->bev), c->batch);
}



/* End of a read: send the gathered replies, then what an empty output allows (on_write). */
static void batch_flush(struct conn *c)
{
	size_t n = c->batch ? evbuffer_get_length(c->batch) : 0;
	if (!n || !c->bev)
		return;
	write_plain(c, evbuffer_pullup(c->batch, (ev_ssize_t)n), n);
	evbuffer_drain(c->batch, n);
	if (conn_output_pending(c) == 0)
		on_write(c->bev, c);
}

void conn_write(struct conn *c, const void *p, size_t n)
{
	if (!c->bev || c->closing)
		return;
	struct zlayer *z = c->zctx;
	if (z && evbuffer_get_length(z->queue))
		evbuffer_add(z->queue, p, n);       /* keeps its place behind a file segment */
	else if (z)
		deflate_write(c, p, n);
	else if (c->reading && c->plain_fd >= 0)
		evbuffer_add(c->batch ? c->batch : (c->batch = evbuffer_new()), p, n);
	else
		write_plain(c, p, n);
}

struct evbuffer *conn_input(struct conn *c)
{
	if (c->zctx) {
		inflate_pending(c);
		return ((struct zlayer *)c->zctx)->plain;
	}
	return bufferevent_get_input(c->bev);
}

bool conn_write_file(struct conn *c, int fd, uint64_t offset, uint64_t length)
{
	if (!c->bev || c->closing)
		return true;
	if (length == 0)
		return true;
	batch_to_output(c);     /* the reply line before the file */
	int copy = dup(fd);
	if (copy < 0)
		return false;
	if (c->zctx) {
		/* Compressed: queued, mapped rather than sent with sendfile, deflated as the socket drains. */
		struct evbuffer_file_segment *seg = evbuffer_file_segment_new(
			copy, (ev_off_t)offset, (ev_off_t)length, EVBUF_FS_CLOSE_ON_FREE | EVBUF_FS_DISABLE_SENDFILE);
		if (!seg) {
			close(copy);
			return false;
		}
		struct zlayer *z = c->zctx;
		int rc = evbuffer_add_file_segment(z->queue, seg, 0, (ev_off_t)length);
		evbuffer_file_segment_free(seg);    /* the queue holds its own reference */
		if (rc != 0)
			return false;
		zqueue_pump(c);
		return true;
	}
	/*
	 * A file segment is read (or mapped) only as the socket takes it, so a
	 * large message part never sits whole in this process's memory.
	 */
	if (evbuffer_add_file(bufferevent_get_output(c->bev), copy, (ev_off_t)offset, (ev_off_t)length) != 0) {
		close(copy);
		return false;
	}
	return true;
}

size_t conn_output_pending(struct conn *c)
{
	if (!c->bev)
		return 0;
	size_t n = evbuffer_get_length(bufferevent_get_output(c->bev));
	if (c->zctx)
		n += evbuffer_get_length(((struct zlayer *)c->zctx)->queue);
	if (c->batch)
		n += evbuffer_get_length(c->batch);
	return n;
}

static void closer_fired(evutil_socket_t fd, short what, void *arg)
{
	finish(arg, CONN_END_CLOSED);
}

static void schedule_close(struct conn *c)
{
	if (!c->closer)
		c->closer = evtimer_new(loop_base(c->loop), closer_fired, c);
	struct timeval zero = { 0, 0 };
	evtimer_add(c->closer, &zero);
}

void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	conn_timer(c, 0, NULL);
	if (c->bev)
		bufferevent_disable(c->bev, EV_READ);
	if (conn_output_pending(c) == 0)
		schedule_close(c);
	/* else on_write finishes once the output is flushed */
}

enum conn_line conn_read_line(struct conn *c, size_t max, struct buf *line)
{
	for (;;) {
		/* Each pass: with COMPRESS, what was drained makes room for more to be inflated. */
		struct evbuffer *in = conn_input(c);
		size_t eol_len = 0;
		struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (c->discarding) {
			if (p.pos < 0) {
				size_t had = evbuffer_get_length(in);
				evbuffer_drain(in, had);
				if (had)
					continue;
				return CONN_LINE_NONE;
			}
			evbuffer_drain(in, (size_t)p.pos + eol_len);
			c->discarding = false;
			continue;
		}
		if (p.pos < 0) {
			if (evbuffer_get_length(in) >= max) {
				/* Not complete yet but already too long: refuse now, drop the rest as it comes. */
				evbuffer_drain(in, evbuffer_get_length(in));
				c->discarding = true;
				return CONN_LINE_TOOLONG;
			}
			return CONN_LINE_NONE;
		}
		size_t len = (size_t)p.pos;
		if (len + eol_len > max) {
			evbuffer_drain(in, len + eol_len);
			return CONN_LINE_TOOLONG;
		}
		buf_reset(line);
		buf_reserve(line, len);
		evbuffer_remove(in, line->data, len);
		line->len = len;
		evbuffer_drain(in, eol_len);
		if (line->len && line->data[line->len - 1] == '\r')
			line->len--;
		line->data[line->len] = '\0';
		return CONN_LINE_OK;
	}
}

static void do_starttls(struct conn *c)
{
	c->starttls_pending = false;
	int fd = (int)bufferevent_getfd(c->bev);
	int nfd = dup(fd);
	if (nfd < 0) {
		log_error("net", "session=%s msg=\"dup failed\" error=%s", c->id, lq(strerror(errno)));
		finish(c, CONN_END_ERROR);
		return;
	}
	bufferevent_free(c->bev);   /* closes fd; nfd stays; unread plaintext is dropped with it */
	c->bev = NULL;
	if (!make_bev(c, nfd, true)) {
		log_error("net", "session=%s msg=\"cannot start TLS\"", c->id);
		close(nfd);
		finish(c, CONN_END_ERROR);
	}
}

void conn_starttls(struct conn *c)
{
	c->starttls_pending = true;
	/* Nothing read from now on may be acted on: it predates the handshake. */
	bufferevent_disable(c->bev, EV_READ);
	evbuffer_drain(bufferevent_get_input(c->bev), evbuffer_get_length(bufferevent_get_input(c->bev)));
	if (conn_output_pending(c) == 0)
		do_starttls(c);
}

void conn_notify_drained(struct conn *c)
{
	c->notify_drained = true;
	if (conn_output_pending(c) == 0) {
		c->notify_drained = false;
		if (c->h->drained)
			c->h->drained(c);
	}
}

static void timer_fired(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	void (*fn)(struct conn *) = c->timer_fn;
	c->timer_fn = NULL;
	if (fn && !c->closing)
		fn(c);
}

void conn_timer(struct conn *c, uint64_t ms, void (*fn)(struct conn *c))
{
	if (c->timer)
		evtimer_del(c->timer);
	c->timer_fn = fn;
	if (!fn)
		return;
	if (!c->timer)
		c->timer = evtimer_new(loop_base(c->loop), timer_fired, c);
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	evtimer_add(c->timer, &tv);
}

static SSL *conn_ssl(struct conn *c)
{
	return c->tls && c->bev ? bufferevent_openssl_get_ssl(c->bev) : NULL;
}

const char *conn_tls_version(struct conn *c)
{
	SSL *ssl = conn_ssl(c);
	return ssl ? SSL_get_version(ssl) : "";
}

const char *conn_tls_cipher(struct conn *c)
{
	SSL *ssl = conn_ssl(c);
	return ssl ? SSL_get_cipher_name(ssl) : "";
}

int conn_tls_bits(struct conn *c)
{
	SSL *ssl = conn_ssl(c);
	return ssl ? SSL_get_cipher_bits(ssl, NULL) : 0;
}

/*
 * libevent 2.1 reads at most 4096 octets per readiness event (its
 * EVBUFFER_MAX_READ, settable only from 2.2 on): a 1 MiB message took 256
 * wakeups, reads and handler calls.  On a plain socket, take what else
 * has arrived, in bigger reads, up to the same watermark libevent keeps.
 * End of file and errors are left in the socket for libevent's next read
 * to report as it always does.
 */
static void read_more(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	for (;;) {
		size_t have = evbuffer_get_length(in);
		if (have >= READ_HIGH_WATERMARK)
			return;
		size_t want = READ_HIGH_WATERMARK - have;
		if (want > READ_MORE_CHUNK)
			want = READ_MORE_CHUNK;
		struct evbuffer_iovec v[2];
		int nv = evbuffer_reserve_space(in, (ev_ssize_t)want, v, 2);
		if (nv <= 0)
			return;
		struct iovec iov[2];
		size_t room = 0;
		for (int i = 0; i < nv; i++) {
			iov[i].iov_base = v[i].iov_base;
			iov[i].iov_len = v[i].iov_len;
			room += v[i].iov_len;
		}
		ssize_t r = readv(c->plain_fd, iov, nv);
		if (r <= 0) {
			evbuffer_commit_space(in, v, 0);
			return;
		}
		size_t left = (size_t)r;
		int used = 0;
		for (; used < nv && left; used++) {
			if (v[used].iov_len > left)
				v[used].iov_len = left;
			left -= v[used].iov_len;
		}
		evbuffer_commit_space(in, v, used);
		if ((size_t)r < room)
			return;     /* the socket is empty for now */
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->closing || c->starttls_pending) {
		evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	/* Less than libevent's 4096 means it took all there was: no read to waste. */
	if (c->plain_fd >= 0 && evbuffer_get_length(bufferevent_get_input(bev)) >= 4096)
		read_more(c);
	c->reading = true;
	c->h->read(c);
	c->reading = false;
	batch_flush(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->zctx)
		zqueue_pump(c);
	if (conn_output_pending(c) != 0)
		return;
	if (c->closing) {
		schedule_close(c);
		return;
	}
	if (c->starttls_pending) {
		do_starttls(c);
		return;
	}
	if (c->notify_drained) {
		c->notify_drained = false;
		if (c->h->drained)
			c->h->drained(c);
	}
}

static void log_tls_errors(struct conn *c)
{
	unsigned long e;
	while ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
		char msg[256];
		ERR_error_string_n(e, msg, sizeof msg);
		log_info("net", "session=%s msg=\"TLS error\" ip=%s error=%s", c->id, c->peer_ip, lq(msg));
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (what & BEV_EVENT_CONNECTED) {
		c->tls = true;
		log_info("net", "session=%s msg=\"TLS established\" version=%s cipher=%s",
			 c->id, conn_tls_version(c), conn_tls_cipher(c));
		if (!c->closing && c->h->tls_ready)
			c->h->tls_ready(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (!c->closing && c->h->timeout) {
			log_info("net", "session=%s msg=\"idle timeout\" ip=%s", c->id, c->peer_ip);
			c->h->timeout(c);
			if (c->closing) {
				/* Reading stays off; the goodbye still needs the write side. */
				bufferevent_enable(c->bev, EV_WRITE);
				return;
			}
		}
		finish(c, CONN_END_TIMEOUT);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		log_tls_errors(c);
		finish(c, c->closing ? CONN_END_CLOSED : CONN_END_ERROR);
		return;
	}
	if (what & BEV_EVENT_EOF)
		finish(c, c->closing ? CONN_END_CLOSED : CONN_END_EOF);
}

static const char *end_names[] = { "closed", "eof", "error", "timeout", "shutdown" };

static void finish(struct conn *c, enum conn_end why)
{
	if (c->timer) {
		event_free(c->timer);
		c->timer = NULL;
	}
	if (c->closer) {
		event_free(c->closer);
		c->closer = NULL;
	}
	c->closing = true;
	c->h->closed(c, why);
	log_info("net", "session=%s msg=disconnect ip=%s reason=%s", c->id, c->peer_ip, end_names[why]);
	zlayer_free(c);
	if (c->batch)
		evbuffer_free(c->batch);
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->counted)
		iplimit_release(c->peer_ip);
	unlink_conn(c);
	free(c);
}

void conn_shutdown_all(void)
{
	struct conn *c = conns;
	while (c) {
		struct conn *next = c->next;
		if (!c->closing && c->h->shutdown)
			c->h->shutdown(c);
		else if (!c->closing)
			conn_close(c);
		c = next;
	}
}

void conn_close_all(void)
{
	while (conns)
		finish(conns, CONN_END_SHUTDOWN);
}


size_t conn_total(void)
{
	return __atomic_load_n(&total_conns, __ATOMIC_RELAXED);
}
