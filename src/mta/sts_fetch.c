/*
 * sts_fetch.c — the HTTPS GET of an MTA-STS policy (RFC 8461 §3.3):
 * libcurl's multi-socket interface driven by a libevent loop, no thread
 * and nothing blocking.
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: one
 * persistent event per socket, kept as the socket's curl_multi_assign
 * pointer) and when to wake it (CURLMOPT_TIMERFUNCTION: one timer); each
 * event hands control back with curl_multi_socket_action(), after which
 * finished transfers are collected (fetcher_collect) and their callbacks
 * run, outside any libcurl function.
 *
 * Name resolution is ours: sts.c resolves mta-sts.<domain> with tern's
 * resolver and the addresses reach libcurl through CURLOPT_RESOLVE; a
 * resolver-start callback that refuses guarantees libcurl never falls back
 * to the system's resolver.  Every other choice of RFC 8461 §3.3 is an
 * option here: HTTPS only, certificate and host name verified, no
 * redirects (a 3xx is an answer that is not 200), no proxy from the
 * environment, bounded time and size.
 */
#include "mta/sts_int.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/xalloc.h"

struct sts_sock {
	struct sts_sock *prev, *next;
	struct sts_fetcher *f;
	struct event *ev;
	curl_socket_t fd;
};

struct sts_fetcher {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct sts_sock *socks;
	struct sts_fetch *fetches;
};

struct sts_fetch {
	struct sts_fetch *prev, *next;
	struct sts_fetcher *f;
	CURL *easy;
	struct curl_slist *resolve;
	sts_fetch_cb cb;
	void *arg;
	struct buf body;
	bool too_big;
	char url[320];
	char error[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static bool curl_ready;

static void curl_init_once(void)
{
	curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* ---- the libevent side of libcurl -------------------------------------- */

static void fetcher_collect(struct sts_fetcher *f);

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	struct sts_sock *sk = arg;
	struct sts_fetcher *f = sk->f;
	int flags = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	int running;
	curl_multi_socket_action(f->multi, fd, flags, &running);
	fetcher_collect(f);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sts_fetcher *f = arg;
	int running;
	curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	fetcher_collect(f);
}

static void sock_free(struct sts_sock *sk)
{
	struct sts_fetcher *f = sk->f;
	if (sk->prev)
		sk->prev->next = sk->next;
	else
		f->socks = sk->next;
	if (sk->next)
		sk->next->prev = sk->prev;
	event_free(sk->ev);
	free(sk);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what libcurl wants, or stop. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct sts_fetcher *f = userp;
	struct sts_sock *sk = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (sk) {
			curl_multi_assign(f->multi, fd, NULL);
			sock_free(sk);
		}
		return 0;
	}
	short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (!sk) {
		sk = xcalloc(1, sizeof *sk);
		sk->f = f;
		sk->fd = fd;
		sk->ev = event_new(f->base, fd, kind, on_socket_event, sk);
		if (!sk->ev) {
			free(sk);
			return -1;
		}
		sk->next = f->socks;
		if (f->socks)
			f->socks->prev = sk;
		f->socks = sk;
		curl_multi_assign(f->multi, fd, sk);
	} else {
		event_del(sk->ev);
		event_assign(sk->ev, f->base, fd, kind, on_socket_event, sk);
	}
	return event_add(sk->ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: wake libcurl in timeout_ms (-1: never). */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct sts_fetcher *f = userp;
	if (timeout_ms < 0) {
		evtimer_del(f->timer);
		return 0;
	}
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	return evtimer_add(f->timer, &tv) == 0 ? 0 : -1;
}

/* CURLOPT_RESOLVER_START_FUNCTION: only our CURLOPT_RESOLVE addresses are used. */
static int on_resolver_start(void *resolver_state, void *reserved, void *userdata)
{
	return 1;
}

struct sts_fetcher *sts_fetcher_new(struct event_base *base)
{
	pthread_once(&curl_once, curl_init_once);
	if (!curl_ready) {
		log_error("mta", "msg=\"mta-sts: libcurl does not initialise\"");
		return NULL;
	}
	struct sts_fetcher *f = xcalloc(1, sizeof *f);
	f->base = base;
	f->multi = curl_multi_init();
	f->timer = evtimer_new(base, on_timer, f);
	if (!f->multi || !f->timer) {
		log_error("mta", "msg=\"mta-sts: cannot set up libcurl\"");
		sts_fetcher_free(&f);
		return NULL;
	}
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	return f;
}

static void fetch_unlink_free(struct sts_fetch *x)
{
	struct sts_fetcher *f = x->f;
	if (x->prev)
		x->prev->next = x->next;
	else
		f->fetches = x->next;
	if (x->next)
		x->next->prev = x->prev;
	if (x->easy) {
		curl_multi_remove_handle(f->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->resolve);
	buf_free(&x->body);
	free(x);
}

void sts_fetcher_free(struct sts_fetcher **fp)
{
	struct sts_fetcher *f = *fp;
	if (!f)
		return;
	while (f->fetches)
		fetch_unlink_free(f->fetches);
	if (f->multi)
		curl_multi_cleanup(f->multi);   /* may still call on_curl_socket / on_curl_timer */
	while (f->socks)
		sock_free(f->socks);
	if (f->timer)
		event_free(f->timer);
	free(f);
	*fp = NULL;
}

/* ---- one transfer -------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sts_fetch *x = arg;
	size_t n = size * nmemb;
	if (n > STS_POLICY_MAX || x->body.len + n > STS_POLICY_MAX) {
		x->too_big = true;
		return 0;   /* CURLE_WRITE_ERROR */
	}
	buf_append(&x->body, ptr, n);
	return n;
}

/* "text/plain", any case, parameters (charset) allowed. */
static bool media_type_plain(const char *ct)
{
	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	size_t n = strcspn(ct, ";");
	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return n == 10 && strncasecmp(ct, "text/plain", 10) == 0;
}

/* A finished transfer: judge the response and call back. */
static void fetch_done(struct sts_fetch *x, CURLcode res)
{
	char why[CURL_ERROR_SIZE + 64];
	bool ok = false;
	long code = 0;
	char *ct = NULL;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
	if (x->too_big || res == CURLE_FILESIZE_EXCEEDED) {
		snprintf(why, sizeof why, "the policy is larger than %d octets", STS_POLICY_MAX);
	} else if (res != CURLE_OK) {
		snprintf(why, sizeof why, "%s", x->error[0] ? x->error : curl_easy_strerror(res));
	} else if (code != 200) {
		snprintf(why, sizeof why, "HTTP status %ld%s", code,
			 code >= 300 && code < 400 ? " (redirects are not followed)" : "");
	} else if (!media_type_plain(ct)) {
		snprintf(why, sizeof why, "media type %.100s, not text/plain", ct ? ct : "missing");
	} else {
		ok = true;
		why[0] = '\0';
	}
	/* Copy out what the callback needs: it may start another fetch. */
	sts_fetch_cb cb = x->cb;
	void *arg = x->arg;
	struct buf body = x->body;
	x->body = (struct buf)BUF_INIT;
	fetch_unlink_free(x);
	cb(ok, ok ? buf_cstr(&body) : NULL, ok ? body.len : 0, why, arg);
	buf_free(&body);
}

static void fetcher_collect(struct sts_fetcher *f)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(f->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		char *priv = NULL;
		CURLcode res = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		if (priv)
			fetch_done((struct sts_fetch *)(void *)priv, res);
	}
}

#define SETOPT(opt, val) ok = ok && curl_easy_setopt(x->easy, opt, val) == CURLE_OK

struct sts_fetch *sts_fetch_start(struct sts_fetcher *f, const struct sts_fetch_params *p,
				  sts_fetch_cb cb, void *arg)
{
	if (p->naddrs == 0 || p->naddrs > STS_ADDR_MAX || strlen(p->host) > 253)
		return NULL;
	struct sts_fetch *x = xcalloc(1, sizeof *x);
	x->f = f;
	x->cb = cb;
	x->arg = arg;
	x->next = f->fetches;
	if (f->fetches)
		f->fetches->prev = x;
	f->fetches = x;

	if (p->port == 443)
		snprintf(x->url, sizeof x->url, "https://%s/.well-known/mta-sts.txt", p->host);
	else
		snprintf(x->url, sizeof x->url, "https://%s:%u/.well-known/mta-sts.txt", p->host, p->port);
	/* "host:port:addr,[v6addr],..." */
	struct buf r = BUF_INIT;
	buf_printf(&r, "%s:%u:", p->host, p->port);
	for (size_t i = 0; i < p->naddrs; i++) {
		bool v6 = strchr(p->addrs[i], ':') != NULL;
		buf_printf(&r, "%s%s%s%s", i ? "," : "", v6 ? "[" : "", p->addrs[i], v6 ? "]" : "");
	}
	x->resolve = curl_slist_append(NULL, buf_cstr(&r));
	buf_free(&r);

	x->easy = curl_easy_init();
	bool ok = x->easy && x->resolve;
	SETOPT(CURLOPT_PRIVATE, x);
	SETOPT(CURLOPT_URL, x->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(CURLOPT_PROTOCOLS_STR, "https");
#else
	SETOPT(CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	SETOPT(CURLOPT_RESOLVE, x->resolve);
	SETOPT(CURLOPT_RESOLVER_START_FUNCTION, on_resolver_start);
	SETOPT(CURLOPT_PROXY, "");
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (p->ca_file) {
		SETOPT(CURLOPT_CAINFO, p->ca_file);
		SETOPT(CURLOPT_CAPATH, (char *)NULL);     /* the file alone, not the system's directory too */
	}
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)STS_CONNECT_TIMEOUT_MS);
	SETOPT(CURLOPT_TIMEOUT_MS, (long)STS_FETCH_TIMEOUT_MS);
	SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)STS_POLICY_MAX);
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_WRITEDATA, x);
	SETOPT(CURLOPT_ERRORBUFFER, x->error);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_FORBID_REUSE, 1L);
	SETOPT(CURLOPT_USERAGENT, "tern (MTA-STS)");
	if (!ok || curl_multi_add_handle(f->multi, x->easy) != CURLM_OK) {
		log_warn("mta", "msg=\"mta-sts: cannot set up the fetch\" url=%s", lq(x->url));
		fetch_unlink_free(x);
		return NULL;
	}
	return x;
}

void sts_fetch_cancel(struct sts_fetch *x)
{
	if (x)
		fetch_unlink_free(x);
}
