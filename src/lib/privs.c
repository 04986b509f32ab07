/* privs.c — see privs.h. */
#include "lib/privs.h"
#include "lib/log.h"

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static uid_t want_uid;
static gid_t want_gid;

static bool lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwnam_r(name, &pw, buf, sizeof buf, &res) != 0 || !res)
		return false;
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return true;
}

bool privs_user_exists(const struct config *cfg)
{
	uid_t u;
	gid_t g;
	return !cfg->user || lookup_user(cfg->user, &u, &g);
}

static int fix_owner(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (st->st_uid != want_uid || st->st_gid != want_gid) {
		if (lchown(path, want_uid, want_gid) != 0)
			log_warn("main", "msg=\"cannot change owner\" path=%s error=%s", lq(path), lq(strerror(errno)));
	}
	return 0;
}

static bool mkdir_p(const char *dir)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
		return false;
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
				return false;
			*p = '/';
		}
	}
	return mkdir(tmp, 0750) == 0 || errno == EEXIST;
}

bool privs_prepare_data_dir(const struct config *cfg)
{
	if (!mkdir_p(cfg->data_dir)) {
		log_error("main", "msg=\"cannot create data directory\" path=%s error=%s",
			  lq(cfg->data_dir), lq(strerror(errno)));
		return false;
	}
	if (geteuid() != 0 || !cfg->user)
		return true;
	if (!lookup_user(cfg->user, &want_uid, &want_gid)) {
		log_error("main", "msg=\"no such user\" user=%s", lq(cfg->user));
		return false;
	}
	struct stat st;
	if (stat(cfg->data_dir, &st) != 0)
		return false;
	char index[4096];
	snprintf(index, sizeof index, "%s/index.db", cfg->data_dir);
	struct stat ist;
	bool index_wrong = stat(index, &ist) == 0 && (ist.st_uid != want_uid || ist.st_gid != want_gid);
	if (st.st_uid != want_uid || st.st_gid != want_gid || index_wrong) {
		/* Something (a command run before `user` was set, a copy) left files of another owner. */
		nftw(cfg->data_dir, fix_owner, 32, FTW_PHYS);
	}
	return true;
}

bool privs_drop(const struct config *cfg)
{
	if (geteuid() != 0 || !cfg->user)
		return true;
	uid_t uid;
	gid_t gid;
	if (!lookup_user(cfg->user, &uid, &gid)) {
		log_error("main", "msg=\"no such user\" user=%s", lq(cfg->user));
		return false;
	}
	if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
		log_error("main", "msg=\"cannot switch user\" user=%s error=%s", lq(cfg->user), lq(strerror(errno)));
		return false;
	}
	if (setuid(0) == 0) {  /* must be impossible now */
		log_error("main", "msg=\"privileges could be regained\"");
		return false;
	}
	return true;
}
