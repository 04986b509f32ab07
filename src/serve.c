/*
 * serve.c — `tern serve`.
 *
 * Start-up order matters for privilege separation: bind sockets and load
 * the TLS key as root, then drop to the configured user before any loop
 * reads network input.  Stop order matters for durability: stop accepting,
 * let sessions finish their messages (or refuse them cleanly), let the
 * store writer complete every pending commit, and only then stop the loops.
 */
#include "serve.h"
#include "auth/authpool.h"
#include "auth/throttle.h"
#include "lib/log.h"
#include "lib/privs.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "net/conn.h"
#include "net/listener.h"
#include "net/loop.h"
#include "net/tls.h"
#include "imap/imap.h"
#include "pop3/pop3.h"
#include "queue/queue.h"
#include "smtp/smtp.h"
#include "store/store.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SHUTDOWN_GRACE_MS 10000

struct server {
	struct config *cfg;
	struct event_base *base;
	struct loop **loops;
	size_t nloops;
	struct listeners *listeners;
	struct store_writer *writer;
	struct queue *queue;            /* outbound delivery */
	struct auth_pool *auth;
	struct smtp_server *smtp;
	struct pop3_server *pop3;
	struct imap_server *imap;
	uint64_t stop_started;
	bool stopping;
	struct event *stop_timer;
};

/* ---- auth lookups: one store handle per auth worker --------------------- */

static void *auth_thread_init(void *arg)
{
	const struct config *cfg = arg;
	return store_open(cfg->data_dir);
}

static void auth_thread_fini(void *tctx)
{
	struct store *s = tctx;
	store_close(&s);
}

static bool auth_lookup(void *tctx, const char *user, char **hash, int64_t *account_id, char canonical[320])
{
	struct store *s = tctx;
	if (!s)
		return false;
	char addr[320];
	if (snprintf(addr, sizeof addr, "%s", user) >= (int)sizeof addr)
		return false;
	char *at = strrchr(addr, '@');
	if (!at)
		return false;
	ascii_lower(at, strlen(at));
	struct store_account a;
	if (store_account_get(s, addr, &a) != STORE_OK)
		return false;
	*hash = a.password_hash;
	a.password_hash = NULL;
	*account_id = a.id;
	snprintf(canonical, 320, "%s", a.address);
	store_account_clear(&a);
	return true;
}

/* ---- systemd readiness --------------------------------------------------- */

static void notify_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return;
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	size_t len = strlen(path);
	if (len >= sizeof sa.sun_path)
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, state, strlen(state), 0, (struct sockaddr *)&sa,
	       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

/* ---- stopping ------------------------------------------------------------ */

static void shutdown_on_loop(void *arg)
{
	conn_shutdown_all();
}

static void close_all_on_loop(void *arg)
{
	conn_close_all();
}

static void stop_check(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	size_t open = conn_total();
	if (open == 0 || now_ms() - srv->stop_started > SHUTDOWN_GRACE_MS) {
		if (open)
			log_warn("main", "msg=\"closing connections that did not finish\" count=%zu", open);
		event_base_loopbreak(srv->base);
		return;
	}
	struct timeval tv = { 0, 50000 };
	evtimer_add(srv->stop_timer, &tv);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	if (srv->stopping) {
		log_warn("main", "msg=\"second stop signal, stopping now\"");
		srv->stop_started = 0;
		return;
	}
	srv->stopping = true;
	srv->stop_started = now_ms();
	log_info("main", "msg=stopping signal=%s", sig == SIGINT ? "INT" : "TERM");
	listeners_stop(srv->listeners);
	srv->listeners = NULL;
	for (size_t i = 0; i < srv->nloops; i++)
		loop_post(srv->loops[i], shutdown_on_loop, NULL);
	srv->stop_timer = evtimer_new(srv->base, stop_check, srv);
	struct timeval tv = { 0, 20000 };
	evtimer_add(srv->stop_timer, &tv);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	log_info("main", "msg=\"reload requested\"");
	if (srv->cfg->tls.cert)
		tls_reload();
}

/* ---- start --------------------------------------------------------------- */

/* Every connection is a descriptor: use all the hard limit allows (the soft default is often 1024). */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * One loop thread per core but one: the delivery writer (placing files,
 * syncing, committing) and the password pool need a core's worth between
 * them under load, and a loop that shares its core with them pays for it
 * in context switches (on 2 cores, 2 loops cost a third more CPU per
 * message than 1).
 */
static unsigned loop_count(const struct config *cfg)
{
	if (cfg->threads)
		return cfg->threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 1 ? (unsigned)(n - 1) : 1;
}

int serve_main(struct config *cfg)
{
	struct server srv;
	memset(&srv, 0, sizeof srv);
	srv.cfg = cfg;
	int rc = 1;

	raise_fd_limit();
	/*
	 * glibc gives memory back to the kernel whenever the top of a heap is
	 * free past 128 KiB: for SQLite's statement journals that meant a
	 * madvise per delivery.  Trim only past 8 MiB.  Setting that also
	 * fixes glibc's mmap threshold at 128 KiB (no more dynamic raising),
	 * and the outbound client's 128 KiB body buffers were then an mmap and
	 * a munmap each, with a TLB shootdown on every core: most of a 1 MiB
	 * delivery's CPU.  Serve blocks up to 4 MiB from the heaps.
	 */
	mallopt(M_TRIM_THRESHOLD, 8 << 20);
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	if (geteuid() == 0 && !cfg->user) {
		log_error("main", "msg=\"refusing to serve as root: set 'user' in the config\" config=%s", lq(cfg->path));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Stop signals wait until the main loop can handle them (a SIGTERM
	 * during start-up then stops cleanly instead of killing us), and the
	 * threads started meanwhile inherit the mask, so only the main thread
	 * ever receives them.
	 */
	sigset_t stop_signals, old_mask;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
	loop_global_init();
	if (!privs_prepare_data_dir(cfg))
		return 1;
	if (cfg->tls.cert && !tls_init(cfg->tls.cert, cfg->tls.key))
		return 1;
	srv.listeners = listeners_bind(cfg, ~0u);    /* every protocol is served */
	if (!srv.listeners)
		goto out;
	if (!privs_drop(cfg))
		goto out;

	struct store *st = store_open(cfg->data_dir);
	if (!st)
		goto out;
	store_recover(st);
	store_close(&st);

	if (!cfg->postmaster)
		log_warn("main", "msg=\"no postmaster configured: postmaster@ a local domain reaches only an account or alias of that name\"");
	srv.writer = store_writer_start(cfg->data_dir);
	if (!srv.writer)
		goto out;
	auth_throttle_configure(cfg->auth.failure_delay_ms, cfg->auth.max_failure_delay_ms);
	struct auth_lookup lookup = { auth_thread_init, auth_thread_fini, auth_lookup, cfg };
	srv.auth = auth_pool_start(2, &lookup);
	auth_pool_cache(srv.auth, cfg->auth.cache_ttl_ms);

	srv.queue = queue_start(cfg, srv.writer);
	if (!srv.queue)
		goto out;

	srv.nloops = loop_count(cfg);
	srv.loops = loops_create(srv.nloops);
	srv.smtp = smtp_server_new(cfg, srv.writer, srv.auth, srv.nloops);
	if (!srv.smtp)
		goto out;
	srv.pop3 = pop3_server_new(cfg, srv.writer, srv.auth, srv.nloops);
	if (!srv.pop3)
		goto out;
	srv.imap = imap_server_new(cfg, srv.writer, srv.auth, srv.nloops);
	if (!srv.imap)
		goto out;

	/* Each protocol claims its own roles (NULL for the others). */
	const struct conn_handler *handlers[ROLE_COUNT] = { 0 };
	for (int r = 0; r < ROLE_COUNT; r++) {
		handlers[r] = smtp_handler(srv.smtp, (enum listen_role)r);
		if (!handlers[r])
			handlers[r] = pop3_handler(srv.pop3, (enum listen_role)r);
		if (!handlers[r])
			handlers[r] = imap_handler(srv.imap, (enum listen_role)r);
	}

	srv.base = event_base_new();
	struct event *ev_term = evsignal_new(srv.base, SIGTERM, on_stop_signal, &srv);
	struct event *ev_int = evsignal_new(srv.base, SIGINT, on_stop_signal, &srv);
	struct event *ev_hup = evsignal_new(srv.base, SIGHUP, on_hup, &srv);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	evsignal_add(ev_hup, NULL);

	listeners_start(srv.listeners, srv.loops, srv.nloops, handlers);
	loops_run(srv.loops, srv.nloops);
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	log_info("main", "msg=ready version=%s listeners=%zu threads=%zu user=%s data_dir=%s",
		 TERN_VERSION, listeners_count(srv.listeners), srv.nloops,
		 lq(cfg->user ? cfg->user : "-"), lq(cfg->data_dir));
	notify_systemd("READY=1");

	event_base_dispatch(srv.base);

	notify_systemd("STOPPING=1");
	for (size_t i = 0; i < srv.nloops; i++)
		loop_post(srv.loops[i], close_all_on_loop, NULL);
	/* Outbound connections end first: no new deliveries come from them. */
	queue_quiesce(srv.queue);
	/* Commits and password checks still in flight complete and report to their (running) loops. */
	store_writer_stop(&srv.writer);
	queue_free(&srv.queue);
	auth_pool_stop(&srv.auth);
	loops_stop(srv.loops, srv.nloops);
	srv.loops = NULL;
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	if (srv.stop_timer)
		event_free(srv.stop_timer);
	log_info("main", "msg=stopped");
	rc = 0;
out:
	if (srv.listeners)
		listeners_stop(srv.listeners);
	if (srv.loops)
		loops_stop(srv.loops, srv.nloops);
	smtp_server_free(&srv.smtp);
	pop3_server_free(&srv.pop3);
	imap_server_free(&srv.imap);
	if (srv.auth)
		auth_pool_stop(&srv.auth);
	queue_quiesce(srv.queue);
	if (srv.writer)
		store_writer_stop(&srv.writer);
	queue_free(&srv.queue);
	if (srv.base)
		event_base_free(srv.base);
	tls_shutdown();
	return rc;
}
