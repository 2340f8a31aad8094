/* cgroup.c: per-spawn cgroup v2 directories under forkd's cgroup root.
 *
 * The root comes from [forkd] cgroup_root: "auto" is forkd's own cgroup
 * (the 0:: line of /proc/self/cgroup under the cgroup2 mount), an absolute
 * path names one under the mount, "none" turns cgroup spawns off. Under
 * the no-internal-processes rule a cgroup that holds processes cannot
 * enable controllers for its children, so in auto mode forkd moves itself
 * into <root>/forkd (a leaf) first, when it is not the hierarchy root and
 * a controller is there to enable. Nothing here ends the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "cgroup.h"
#include "clock.h"
#include "closer.h"
#include "log.h"
#include "server.h"

/* Retries of a removal kept busy by a descendant: 50 ms doubling up to
 * 5 s, CGROUP_RMDIR_TRIES in all (about a minute), then given up. */
#define CGROUP_RMDIR_TRIES	16
#define CGROUP_RMDIR_MAX_MS	5000

static const char *const cgroup_ctrl_names[CGROUP_CTRL_MAX] = {
	[CGROUP_CTRL_MEMORY] = "memory",
	[CGROUP_CTRL_PIDS] = "pids",
	[CGROUP_CTRL_CPU] = "cpu",
};

/* A directory whose removal failed with EBUSY. */
struct cgroup_pending {
	struct cgroup_pending	*p_next;
	unsigned int		 p_tries;
	uint64_t		 p_due_ms;
	char			 p_path[];
};

static struct {
	int			 enabled;
	char			 mount[PATH_MAX];	/* cgroup2 mount point */
	char			 root[PATH_MAX];	/* absolute */
	char			 root_rel[PATH_MAX];	/* from the mount; "" at it */
	char			 why[256];		/* why not enabled */
	uint64_t		 seq;
	struct cgroup_pending	*pending;
	unsigned int		 n_pending;
	struct event		*retry_ev;
} cg;

/* Remember why cgroups are off (vsnprintf: truncation is fine here). */
static void __attribute__((format(printf, 1, 2)))
cgroup_why(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cg.why, sizeof cg.why, fmt, ap);
	va_end(ap);
}

const char *
cgroup_controller_name(enum cgroup_controller c)
{
	return c < CGROUP_CTRL_MAX ? cgroup_ctrl_names[c] : "?";
}

/* Read a small file into buf (NUL-terminated). Bytes or -errno. */
static ssize_t
cgroup_read(const char *path, char *buf, size_t cap)
{
	ssize_t	n, got = 0;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	while ((size_t)got < cap - 1) {
		n = read(fd, buf + got, cap - 1 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		got += n;
	}
	buf[got] = '\0';
	close(fd);
	return got;
}

/* Write a string to a cgroup file in one write(). 0 or -errno. */
static int
cgroup_write(const char *path, const char *s)
{
	size_t	len = strlen(s);
	ssize_t	n;
	int	fd, err = 0;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	do {
		n = write(fd, s, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

/* Is word (space-separated) in list? */
static int
cgroup_has_word(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; *p != '\0';) {
		size_t n;

		p += strspn(p, " \n");
		n = strcspn(p, " \n");
		if (n == wl && strncmp(p, word, wl) == 0)
			return 1;
		p += n;
	}
	return 0;
}

/* Controllers (bits) listed in dir/file. -errno on a read error. */
static int
cgroup_controllers(const char *dir, const char *file)
{
	char	path[PATH_MAX], buf[512];
	ssize_t	r;
	int	bits = 0;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >=
	    sizeof path)
		return -ENAMETOOLONG;
	if ((r = cgroup_read(path, buf, sizeof buf)) < 0)
		return (int)r;
	for (int c = 0; c < CGROUP_CTRL_MAX; c++)
		if (cgroup_has_word(buf, cgroup_ctrl_names[c]))
			bits |= 1 << c;
	return bits;
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void
cgroup_unescape(char *s)
{
	char *d = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
			    (s[3] - '0'));
			s += 3;
		} else
			*d++ = *s;
	}
	*d = '\0';
}

/* Find the cgroup2 mount: its mount point and the cgroup path it shows
 * (its "root" field, "/" unless a bind mount of a subtree). */
static int
cgroup_find_mount(char *mnt, size_t mntlen, char *mroot, size_t mrootlen)
{
	char	*line = NULL;
	size_t	 cap = 0;
	FILE	*f;
	int	 found = 0;

	if ((f = fopen("/proc/self/mountinfo", "re")) == NULL)
		return -errno;
	while (!found && getline(&line, &cap, f) > 0) {
		char *sep = strstr(line, " - "), *field[5], *save = NULL, *p;
		int i;

		if (sep == NULL || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		*sep = '\0';
		for (i = 0, p = line; i < 5; i++, p = NULL)
			if ((field[i] = strtok_r(p, " ", &save)) == NULL)
				break;
		if (i < 5)
			continue;
		cgroup_unescape(field[3]);
		cgroup_unescape(field[4]);
		if (strlen(field[4]) >= mntlen || strlen(field[3]) >= mrootlen)
			continue;
		strcpy(mnt, field[4]);
		strcpy(mroot, field[3]);
		found = 1;
	}
	free(line);
	fclose(f);
	return found ? 0 : -ENOENT;
}

/* forkd's own cgroup path from the 0:: line of /proc/self/cgroup. */
static int
cgroup_self(char *out, size_t outlen)
{
	char	buf[4096], *p, *nl;

	if (cgroup_read("/proc/self/cgroup", buf, sizeof buf) < 0)
		return -errno;
	for (p = buf; p != NULL && *p != '\0'; p = nl != NULL ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (strncmp(p, "0::", 3) == 0) {
			if (strlen(p + 3) >= outlen || p[3] != '/')
				return -EINVAL;
			strcpy(out, p + 3);
			return 0;
		}
	}
	return -ENOENT;
}

/* Auto mode, not at the hierarchy root: put forkd into <root>/forkd so
 * that the root may enable controllers for its children. */
static int
cgroup_move_to_leaf(void)
{
	char	path[PATH_MAX], pid[32];
	int	r;

	if ((size_t)snprintf(path, sizeof path, "%s/forkd", cg.root) >=
	    sizeof path)
		return -ENAMETOOLONG;
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return -errno;
	strcat(path, "/cgroup.procs");
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	if ((r = cgroup_write(path, pid)) != 0)
		return r;
	/* forkd-closer (closer.c) goes along: the root must be empty. */
	if (closer_pid() > 0) {
		snprintf(pid, sizeof pid, "%d", (int)closer_pid());
		(void)cgroup_write(path, pid);
	}
	log_info("cgroup: moved forkd into %s/forkd", cg.root_rel[0] ?
	    cg.root_rel : "");
	return 0;
}

/* Enable the available controllers among memory, pids and cpu for the
 * root's children; each on its own, so one refusal does not stop the rest. */
static void
cgroup_enable_controllers(int at_hierarchy_root, int auto_mode)
{
	char	path[PATH_MAX], word[16];
	int	avail, on, r;

	avail = cgroup_controllers(cg.root, "cgroup.controllers");
	on = cgroup_controllers(cg.root, "cgroup.subtree_control");
	if (avail < 0 || on < 0) {
		log_warnx("cgroup: cannot read the controllers of %s",
		    cg.root);
		return;
	}
	if ((avail & ~on) == 0)
		return;
	if (auto_mode && !at_hierarchy_root &&
	    (r = cgroup_move_to_leaf()) != 0) {
		log_warnx("cgroup: cannot move forkd into a leaf of %s: %s; "
		    "limits are not available", cg.root, strerror(-r));
		return;
	}
	if ((size_t)snprintf(path, sizeof path, "%s/cgroup.subtree_control",
	    cg.root) >= sizeof path)
		return;
	for (int c = 0; c < CGROUP_CTRL_MAX; c++) {
		if (!(avail & (1 << c)) || (on & (1 << c)))
			continue;
		snprintf(word, sizeof word, "+%s", cgroup_ctrl_names[c]);
		if ((r = cgroup_write(path, word)) != 0)
			log_warnx("cgroup: cannot enable the %s controller in "
			    "%s: %s", cgroup_ctrl_names[c], cg.root,
			    strerror(-r));
	}
}

/* Resolve the root; see the top of the file. */
void
cgroup_init(const char *setting)
{
	char		mroot[PATH_MAX], self[PATH_MAX], limits[32];
	const char	*rel;
	struct stat	st;
	int		r, auto_mode, at_top;
	size_t		ml, mrl;

	memset(&cg, 0, sizeof cg);
	if (setting != NULL && strcmp(setting, "none") == 0) {
		cgroup_why("cgroup_root is none");
		return;
	}
	auto_mode = setting == NULL || strcmp(setting, "auto") == 0;
	if ((r = cgroup_find_mount(cg.mount, sizeof cg.mount, mroot,
	    sizeof mroot)) != 0) {
		cgroup_why("no cgroup2 file system is "
		    "mounted");
		log_info("cgroup: %s; cgroup spawns are refused", cg.why);
		return;
	}
	ml = strlen(cg.mount);
	while (ml > 1 && cg.mount[ml - 1] == '/')
		cg.mount[--ml] = '\0';
	if (auto_mode) {
		if ((r = cgroup_self(self, sizeof self)) != 0) {
			cgroup_why("cannot find forkd's "
			    "cgroup in /proc/self/cgroup: %s", strerror(-r));
			log_warnx("cgroup: %s", cg.why);
			return;
		}
		/* A bind mount of a subtree shows paths below its root. */
		mrl = strcmp(mroot, "/") == 0 ? 0 : strlen(mroot);
		if (mrl > 0 && (strncmp(self, mroot, mrl) != 0 ||
		    (self[mrl] != '/' && self[mrl] != '\0'))) {
			cgroup_why("forkd's cgroup %s is "
			    "not under the cgroup2 mount %s", self, cg.mount);
			log_warnx("cgroup: %s", cg.why);
			return;
		}
		rel = self + mrl;
		if (strcmp(rel, "/") == 0)
			rel = "";
		if ((size_t)snprintf(cg.root, sizeof cg.root, "%s%s",
		    cg.mount, rel) >= sizeof cg.root) {
			cgroup_why("cgroup path too long");
			return;
		}
	} else {
		ml = strlen(cg.mount);
		if (setting[0] != '/' || strncmp(setting, cg.mount, ml) != 0 ||
		    (setting[ml] != '/' && setting[ml] != '\0') ||
		    strstr(setting, "/../") != NULL ||
		    strlen(setting) >= sizeof cg.root) {
			cgroup_why("cgroup_root %s is not "
			    "under the cgroup2 mount %s", setting, cg.mount);
			log_warnx("cgroup: %s", cg.why);
			return;
		}
		strcpy(cg.root, setting);
		for (size_t l = strlen(cg.root); l > ml && cg.root[l - 1] == '/';)
			cg.root[--l] = '\0';
	}
	snprintf(cg.root_rel, sizeof cg.root_rel, "%s", cg.root + ml);
	if (stat(cg.root, &st) != 0 || !S_ISDIR(st.st_mode)) {
		cgroup_why("cgroup root %s: %s", cg.root,
		    strerror(errno ? errno : ENOTDIR));
		log_warnx("cgroup: %s", cg.why);
		return;
	}
	at_top = cg.root_rel[0] == '\0';
	cgroup_enable_controllers(at_top, auto_mode);
	cg.enabled = 1;
	r = cgroup_controllers(cg.root, "cgroup.subtree_control");
	limits[0] = '\0';
	for (int c = 0; c < CGROUP_CTRL_MAX; c++)
		if (r > 0 && (r & (1 << c))) {
			strcat(limits, limits[0] ? " " : "");
			strcat(limits, cgroup_ctrl_names[c]);
		}
	log_info("cgroup: per-spawn cgroups under %s (limits: %s)", cg.root,
	    limits[0] ? limits : "none");
}

/* Can a spawn with these limits get a cgroup? */
int
cgroup_check(const struct cgroup_limits *l, char *errbuf, size_t errlen)
{
	int want = 0, on;

	if (!cg.enabled) {
		snprintf(errbuf, errlen, "cgroups are not available: %s",
		    cg.why[0] ? cg.why : "not set up");
		return -EOPNOTSUPP;
	}
	if (l->cl_memory_max > 0)
		want |= 1 << CGROUP_CTRL_MEMORY;
	if (l->cl_pids_max > 0)
		want |= 1 << CGROUP_CTRL_PIDS;
	if (l->cl_cpu_quota_us > 0)
		want |= 1 << CGROUP_CTRL_CPU;
	if (want == 0)
		return 0;
	/* Read now: the delegation may have changed since start. */
	on = cgroup_controllers(cg.root, "cgroup.subtree_control");
	for (int c = 0; c < CGROUP_CTRL_MAX; c++) {
		if (!(want & (1 << c)) || (on > 0 && (on & (1 << c))))
			continue;
		snprintf(errbuf, errlen, "no delegated %s controller: it is not "
		    "enabled in %s/cgroup.subtree_control",
		    cgroup_ctrl_names[c], cg.root);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Write one limit file of a new cgroup; message on failure. */
static int
cgroup_limit(const char *dir, const char *file, const char *value,
    char *errbuf, size_t errlen)
{
	char	path[PATH_MAX];
	int	r;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >=
	    sizeof path)
		r = -ENAMETOOLONG;
	else
		r = cgroup_write(path, value);
	if (r != 0)
		snprintf(errbuf, errlen, "cgroup %s = %s: %s", file, value,
		    strerror(-r));
	return r;
}

/* Free a unit without touching its directory. */
static void
cgroup_unit_free(struct cgroup_unit *u)
{
	if (u->cu_dirfd >= 0)
		close(u->cu_dirfd);
	free(u->cu_path);
	free(u->cu_rel);
	free(u);
}

/* Make <root>/forkd-<seq> with its limits. */
int
cgroup_create(const struct cgroup_limits *l, struct cgroup_unit **ret,
    char *errbuf, size_t errlen)
{
	struct cgroup_unit	*u;
	char			 path[PATH_MAX], val[64];
	int			 r = 0, tries;

	if ((r = cgroup_check(l, errbuf, errlen)) != 0)
		return r;
	/* A directory left by an earlier forkd may hold the next name. */
	for (tries = 0; tries < 64; tries++) {
		if ((size_t)snprintf(path, sizeof path, "%s/forkd-%" PRIu64,
		    cg.root, ++cg.seq) >= sizeof path) {
			snprintf(errbuf, errlen, "cgroup path too long");
			return -ENAMETOOLONG;
		}
		if (mkdir(path, 0755) == 0)
			break;
		if (errno != EEXIST) {
			r = -errno;
			snprintf(errbuf, errlen, "cannot make cgroup %s: %s",
			    path, strerror(-r));
			return r;
		}
	}
	if (tries == 64) {
		snprintf(errbuf, errlen, "cannot make a cgroup in %s: every "
		    "name taken", cg.root);
		return -EEXIST;
	}
	if ((u = calloc(1, sizeof *u)) == NULL) {
		rmdir(path);
		snprintf(errbuf, errlen, "out of memory");
		return -ENOMEM;
	}
	u->cu_dirfd = -1;
	u->cu_path = strdup(path);
	u->cu_rel = strdup(path + strlen(cg.mount));
	if (u->cu_path == NULL || u->cu_rel == NULL) {
		r = -ENOMEM;
		snprintf(errbuf, errlen, "out of memory");
		goto fail;
	}
	if (l->cl_memory_max > 0) {
		snprintf(val, sizeof val, "%" PRIu64, l->cl_memory_max);
		if ((r = cgroup_limit(path, "memory.max", val, errbuf,
		    errlen)) != 0)
			goto fail;
	}
	if (l->cl_pids_max > 0) {
		snprintf(val, sizeof val, "%" PRIu32, l->cl_pids_max);
		if ((r = cgroup_limit(path, "pids.max", val, errbuf,
		    errlen)) != 0)
			goto fail;
	}
	if (l->cl_cpu_quota_us > 0) {
		snprintf(val, sizeof val, "%" PRIu32 " %" PRIu32,
		    l->cl_cpu_quota_us, l->cl_cpu_period_us > 0 ?
		    l->cl_cpu_period_us : 100000);
		if ((r = cgroup_limit(path, "cpu.max", val, errbuf,
		    errlen)) != 0)
			goto fail;
	}
	if ((u->cu_dirfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = -errno;
		snprintf(errbuf, errlen, "cannot open cgroup %s: %s", path,
		    strerror(-r));
		goto fail;
	}
	*ret = u;
	return 0;
fail:
	rmdir(path);
	cgroup_unit_free(u);
	return r;
}

/* The unit's cgroup.procs, for a child that joins by itself. */
int
cgroup_procs_open(const struct cgroup_unit *u)
{
	char	path[PATH_MAX];
	int	fd;

	snprintf(path, sizeof path, "%s/cgroup.procs", u->cu_path);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	return fd;
}

/* memory.events "oom_kill N" with N > 0? */
int
cgroup_oom_killed(const struct cgroup_unit *u)
{
	char	path[PATH_MAX], buf[1024], *p;

	if (u == NULL)
		return 0;
	snprintf(path, sizeof path, "%s/memory.events", u->cu_path);
	if (cgroup_read(path, buf, sizeof buf) <= 0)
		return 0;
	for (p = buf; p != NULL; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, "oom_kill ", 9) == 0)
			return strtoull(p + 9, NULL, 10) > 0;
	return 0;
}

static void	cgroup_retry_cb(evutil_socket_t, short, void *);

/* Arm the retry timer for the earliest pending removal. */
static void
cgroup_retry_arm(void)
{
	struct cgroup_pending	*p;
	uint64_t		 due = UINT64_MAX, now = clock_mono_ms();
	struct timeval		 tv;

	if (cg.pending == NULL || server_evbase() == NULL)
		return;
	if (cg.retry_ev == NULL &&
	    (cg.retry_ev = evtimer_new(server_evbase(), cgroup_retry_cb,
	    NULL)) == NULL)
		return;
	for (p = cg.pending; p != NULL; p = p->p_next)
		if (p->p_due_ms < due)
			due = p->p_due_ms;
	due = due > now ? due - now : 0;
	tv = clock_tv(due);
	evtimer_add(cg.retry_ev, &tv);
}

/* Queue path for another removal attempt. */
static void
cgroup_pend(const char *path)
{
	struct cgroup_pending *p;

	if ((p = calloc(1, sizeof *p + strlen(path) + 1)) == NULL) {
		log_warnx("cgroup: out of memory; %s is left behind", path);
		return;
	}
	strcpy(p->p_path, path);
	p->p_tries = 1;
	p->p_due_ms = clock_mono_ms() + 50;
	p->p_next = cg.pending;
	cg.pending = p;
	cg.n_pending++;
	cgroup_retry_arm();
}

/* Retry due removals; drop those done or out of tries. */
static void
cgroup_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cgroup_pending	**pp = &cg.pending, *p;
	uint64_t		  now = clock_mono_ms(), ms;

	while ((p = *pp) != NULL) {
		int err;

		if (p->p_due_ms > now) {
			pp = &p->p_next;
			continue;
		}
		err = rmdir(p->p_path) == 0 ? 0 : errno;
		if (err == EBUSY && ++p->p_tries < CGROUP_RMDIR_TRIES) {
			ms = 50ULL << (p->p_tries < 8 ? p->p_tries : 8);
			p->p_due_ms = now + (ms < CGROUP_RMDIR_MAX_MS ? ms :
			    CGROUP_RMDIR_MAX_MS);
			pp = &p->p_next;
			continue;
		}
		if (err == EBUSY)
			log_warnx("cgroup: %s still busy after %u tries, left "
			    "behind", p->p_path, p->p_tries);
		else if (err != 0 && err != ENOENT)
			log_warnx("cgroup: rmdir %s: %s", p->p_path,
			    strerror(err));
		*pp = p->p_next;
		cg.n_pending--;
		free(p);
	}
	cgroup_retry_arm();
}

/* Remove a unit's directory (later if busy) and free it. */
void
cgroup_release(struct cgroup_unit *u)
{
	if (u == NULL)
		return;
	if (u->cu_dirfd >= 0) {
		close(u->cu_dirfd);
		u->cu_dirfd = -1;
	}
	if (rmdir(u->cu_path) != 0) {
		if (errno == EBUSY)
			cgroup_pend(u->cu_path);
		else if (errno != ENOENT)
			log_warn("cgroup: rmdir %s", u->cu_path);
	}
	cgroup_unit_free(u);
}

unsigned int
cgroup_pending(void)
{
	return cg.n_pending;
}

/* Last attempt at what is pending; free everything. */
void
cgroup_shutdown(void)
{
	struct cgroup_pending *p;

	while ((p = cg.pending) != NULL) {
		cg.pending = p->p_next;
		if (rmdir(p->p_path) != 0 && errno != ENOENT)
			log_info("cgroup: %s left behind (%s)", p->p_path,
			    strerror(errno));
		free(p);
	}
	cg.n_pending = 0;
	if (cg.retry_ev != NULL)
		event_free(cg.retry_ev);
	cg.retry_ev = NULL;
}
