/* listener.c — see listener.h. */
#include "net/listener.h"
#include "net/loop.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct accept_ctx {
	struct loop *loop;
	struct socket_info *si;
	struct evconnlistener *evl;
	struct event *pause;            /* re-enables accepting after an accept error */
};

struct socket_info {
	int fd;
	enum listen_role role;
	const struct conn_handler *h;
};

struct listeners {
	struct socket_info *socks;
	size_t n;
	struct loop **loops;
	size_t nloops;
	struct evconnlistener **evls;  /* nloops * n */
	struct accept_ctx *ctxs;       /* nloops * n */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t stopped;
};


static int bind_one(const struct listen_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, a->host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->port);
		sl = sizeof *s4;
	} else if (inet_pton(AF_INET6, a->host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		sl = sizeof *s6;
	} else {
		errno = EINVAL;
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)  /* [::] must not take 0.0.0.0's port too */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 1024) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

struct listeners *listeners_bind(const struct config *cfg, unsigned role_mask)
{
	struct listeners *ls = xcalloc(1, sizeof *ls);
	pthread_mutex_init(&ls->lock, NULL);
	pthread_cond_init(&ls->cond, NULL);
	for (int r = 0; r < ROLE_COUNT; r++) {
		if (!(role_mask & (1u << r)))
			continue;
		for (size_t i = 0; i < cfg->listen[r].n; i++) {
			const struct listen_addr *a = &cfg->listen[r].addrs[i];
			int fd = bind_one(a);
			if (fd < 0) {
				log_error("net", "msg=\"cannot listen\" proto=%s addr=%s port=%u error=%s",
					  listen_role_names[r], a->host, a->port, lq(strerror(errno)));
				ls->loops = NULL;
				listeners_stop(ls);
				return NULL;
			}
			ls->socks = xrealloc(ls->socks, (ls->n + 1) * sizeof *ls->socks);
			ls->socks[ls->n++] = (struct socket_info){ fd, (enum listen_role)r, NULL };
			log_info("net", "msg=listening proto=%s addr=%s port=%u", listen_role_names[r], a->host, a->port);
		}
	}
	return ls;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct accept_ctx *ctx = arg;
	conn_accept(ctx->loop, (int)fd, ctx->si->role, ctx->si->h);
}

static void resume_accepting(evutil_socket_t fd, short what, void *arg)
{
	struct accept_ctx *ctx = arg;
	if (ctx->evl)
		evconnlistener_enable(ctx->evl);
}

/*
 * Out of descriptors (EMFILE, ENFILE) or memory, the pending connection
 * stays in the backlog and the socket stays readable: accepting again at
 * once would spin.  Pause this listener briefly instead, and say so once
 * per pause.
 */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct accept_ctx *ctx = arg;
	int e = EVUTIL_SOCKET_ERROR();
	log_warn("net", "msg=\"accept failed, pausing this listener for 200ms\" error=%s",
		 lq(evutil_socket_error_to_string(e)));
	evconnlistener_disable(l);
	if (!ctx->pause)
		ctx->pause = evtimer_new(evconnlistener_get_base(l), resume_accepting, ctx);
	struct timeval tv = { 0, 200000 };
	evtimer_add(ctx->pause, &tv);
}

struct start_arg {
	struct listeners *ls;
	size_t loop_i;
};

static void start_on_loop(void *arg)
{
	struct start_arg *sa = arg;
	struct listeners *ls = sa->ls;
	struct loop *loop = ls->loops[sa->loop_i];
	for (size_t i = 0; i < ls->n; i++) {
		if (!ls->socks[i].h)
			continue;
		struct accept_ctx *ctx = &ls->ctxs[sa->loop_i * ls->n + i];
		ctx->loop = loop;
		ctx->si = &ls->socks[i];
		/*
		 * Backlog 0: the socket listens already, with 1024.  (-1 meant
		 * "a reasonable default" to libevent, which called listen()
		 * again with 128: 200 clients connecting at once overflowed it,
		 * and each dropped SYN cost its client a second.)
		 */
		struct evconnlistener *evl = evconnlistener_new(loop_base(loop), on_accept, ctx,
								LEV_OPT_REUSEABLE, 0, ls->socks[i].fd);
		if (!evl) {
			log_error("net", "msg=\"cannot accept on socket\"");
			continue;
		}
		evconnlistener_set_error_cb(evl, on_accept_error);
		ctx->evl = evl;
		ls->evls[sa->loop_i * ls->n + i] = evl;
	}
	free(sa);
}

void listeners_start(struct listeners *ls, struct loop **loops, size_t nloops,
		     const struct conn_handler *const handlers[ROLE_COUNT])
{
	ls->loops = loops;
	ls->nloops = nloops;
	ls->evls = xcalloc(nloops * (ls->n ? ls->n : 1), sizeof *ls->evls);
	ls->ctxs = xcalloc(nloops * (ls->n ? ls->n : 1), sizeof *ls->ctxs);
	for (size_t i = 0; i < ls->n; i++)
		ls->socks[i].h = handlers[ls->socks[i].role];
	for (size_t li = 0; li < nloops; li++) {
		struct start_arg *sa = xmalloc(sizeof *sa);
		sa->ls = ls;
		sa->loop_i = li;
		loop_post(loops[li], start_on_loop, sa);
	}
}

static void stop_on_loop(void *arg)
{
	struct start_arg *sa = arg;
	struct listeners *ls = sa->ls;
	for (size_t i = 0; i < ls->n; i++) {
		struct evconnlistener **evl = &ls->evls[sa->loop_i * ls->n + i];
		struct accept_ctx *ctx = &ls->ctxs[sa->loop_i * ls->n + i];
		if (ctx->pause) {
			event_free(ctx->pause);
			ctx->pause = NULL;
		}
		ctx->evl = NULL;
		if (*evl) {
			evconnlistener_free(*evl);
			*evl = NULL;
		}
	}
	pthread_mutex_lock(&ls->lock);
	ls->stopped++;
	pthread_cond_signal(&ls->cond);
	pthread_mutex_unlock(&ls->lock);
	free(sa);
}

void listeners_stop(struct listeners *ls)
{
	if (!ls)
		return;
	if (ls->loops) {
		for (size_t li = 0; li < ls->nloops; li++) {
			struct start_arg *sa = xmalloc(sizeof *sa);
			sa->ls = ls;
			sa->loop_i = li;
			loop_post(ls->loops[li], stop_on_loop, sa);
		}
		pthread_mutex_lock(&ls->lock);
		while (ls->stopped < ls->nloops)
			pthread_cond_wait(&ls->cond, &ls->lock);
		pthread_mutex_unlock(&ls->lock);
	}
	for (size_t i = 0; i < ls->n; i++)
		close(ls->socks[i].fd);
	free(ls->socks);
	free(ls->evls);
	free(ls->ctxs);
	pthread_mutex_destroy(&ls->lock);
	pthread_cond_destroy(&ls->cond);
	free(ls);
}

size_t listeners_count(const struct listeners *ls)
{
	return ls->n;
}
