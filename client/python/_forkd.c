/* _forkd.c: forkd._forkd, the CPython extension over libforkd.
 *
 * One type, Connection: one struct forkd (one authenticated connection).
 * Methods map one to one onto libforkd calls and release the GIL around
 * every call that talks to forkd. The pure-Python package (forkd/) builds
 * Process, wait() and Executor on top of it and does the locking: like a
 * struct forkd, a Connection must not be used by two threads at once.
 *
 * Errors: a libforkd failure raises OSError(errno, message), which Python
 * turns into the matching subclass (ConnectionRefusedError,
 * PermissionError, TimeoutError, FileNotFoundError...); the message is
 * forkd's reason (forkd_errmsg()) when there is one, else forkd_strerror().
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <forkd.h>

typedef struct {
	PyObject_HEAD
	struct forkd	*c_forkd;
	int		 c_busy;	/* a call runs without the GIL */
	/* {thread ident: spawn()'s tuple} of each thread's last spawn, until
	 * take_started(): a KeyboardInterrupt raised as spawn() returns
	 * loses the tuple, not the child. */
	PyObject	*c_started;
} conn_object;

/* A libforkd call without the GIL. c_busy is only read and written with
 * the GIL held: while it is set, another thread calling a method gets
 * RuntimeError instead of a second call on the handle (a struct forkd is
 * not for two threads at once) or a close() freeing it under the call. */
#define CONN_BLOCKING_BEGIN(self)					\
	do {								\
		(self)->c_busy = 1;					\
		Py_BEGIN_ALLOW_THREADS
#define CONN_BLOCKING_END(self)						\
		Py_END_ALLOW_THREADS					\
		(self)->c_busy = 0;					\
	} while (0)

static PyTypeObject conn_type;

/* Raise OSError(-err, forkd's message) for a failed call on f (may be
 * NULL: no handle yet). Returns NULL for the caller to return. */
static PyObject *
conn_raise(struct forkd *f, int err)
{
	const char	*msg = NULL;
	PyObject	*args;

	if (f != NULL)
		msg = forkd_errmsg(f);
	if (msg == NULL || msg[0] == '\0')
		msg = forkd_strerror(err);
	args = Py_BuildValue("(is)", -err, msg);
	if (args != NULL) {
		PyErr_SetObject(PyExc_OSError, args);
		Py_DECREF(args);
	}
	return NULL;
}

/* Raise OSError(errno, message, path) for a failed forkd_connect_ex(), with
 * the step ("key", "socket", "connect", "handshake") as attribute step. */
static void
conn_raise_connect(const struct forkd_error *err)
{
	PyObject	*args, *exc, *step;

	if (err->path[0] != '\0')
		args = Py_BuildValue("(isO&)", -err->code, err->message,
		    PyUnicode_DecodeFSDefault, err->path);
	else
		args = Py_BuildValue("(is)", -err->code, err->message);
	if (args == NULL)
		return;
	exc = PyObject_Call(PyExc_OSError, args, NULL);
	Py_DECREF(args);
	if (exc == NULL)
		return;
	step = PyUnicode_FromString(forkd_step_name(err->step));
	if (step != NULL && PyObject_SetAttrString(exc, "step", step) == 0)
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	Py_XDECREF(step);
	Py_DECREF(exc);
}

/* The handle, or NULL with ValueError raised when it is closed. */
static struct forkd *
conn_handle(conn_object *self)
{
	if (self->c_forkd == NULL) {
		PyErr_SetString(PyExc_ValueError,
		    "operation on a closed forkd connection");
		return NULL;
	}
	if (self->c_busy) {
		PyErr_SetString(PyExc_RuntimeError, "the forkd connection is "
		    "in use by another thread (lock around calls)");
		return NULL;
	}
	return self->c_forkd;
}

/* Milliseconds from a Python timeout in seconds (None: infinite). */
static int
conn_timeout_ms(PyObject *obj, int *ret)
{
	double	s;

	if (obj == Py_None) {
		*ret = FORKD_INFINITE;
		return 0;
	}
	s = PyFloat_AsDouble(obj);
	if (s == -1.0 && PyErr_Occurred())
		return -1;
	if (isnan(s)) {
		PyErr_SetString(PyExc_ValueError, "timeout is NaN");
		return -1;
	}
	if (s < 0)
		s = 0;
	if (s * 1000.0 >= (double)INT_MAX)
		*ret = INT_MAX;
	else
		*ret = (int)(s * 1000.0 + 0.999);
	return 0;
}

/* An exit event as a tuple: (pid, name, exitcode, utime_us, stime_us,
 * maxrss_kb, timed_out, oom_killed). */
static PyObject *
conn_exit_tuple(const struct forkd_exit *ex)
{
	return Py_BuildValue("(isiKKKii)", (int)ex->pid, ex->name,
	    ex->exitcode, (unsigned long long)ex->rusage.utime_us,
	    (unsigned long long)ex->rusage.stime_us,
	    (unsigned long long)ex->rusage.maxrss_kb, ex->timed_out,
	    ex->oom_killed);
}

/* Connection(socket=None, key=None): connect and authenticate. */
static int
conn_init(conn_object *self, PyObject *args, PyObject *kwds)
{
	static char	*kwlist[] = { "socket", "key", "key_bytes", NULL };
	PyObject	*sock_obj = Py_None, *key_obj = Py_None;
	PyObject	*sock_b = NULL, *key_b = NULL;
	Py_buffer	 keybuf = { 0 };
	const char	*sock = NULL, *keyfile = NULL;
	struct forkd	*f = NULL;
	struct forkd_error err = { 0 };
	int		 r, rc = -1;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOy*", kwlist,
	    &sock_obj, &key_obj, &keybuf))
		return -1;
	if (self->c_forkd != NULL) {
		PyErr_SetString(PyExc_RuntimeError, "already connected");
		goto out;
	}
	if (sock_obj != Py_None) {
		if (!PyUnicode_FSConverter(sock_obj, &sock_b))
			goto out;
		sock = PyBytes_AS_STRING(sock_b);
	}
	if (key_obj != Py_None) {
		if (!PyUnicode_FSConverter(key_obj, &key_b))
			goto out;
		keyfile = PyBytes_AS_STRING(key_b);
	}
	Py_BEGIN_ALLOW_THREADS
	if (keybuf.buf != NULL)
		r = forkd_connect_key(&f, sock, keybuf.buf,
		    (size_t)keybuf.len);
	else if ((r = forkd_key_check(keyfile, FORKD_KEY_CHECK_MODE,
	    &err)) == 0)
		/* The modes forkd refuses for its key, as forkctl does: a
		 * key others can read is anyone's. */
		r = forkd_connect_ex(&f, sock, keyfile, &err);
	Py_END_ALLOW_THREADS
	if (r < 0) {
		if (keybuf.buf == NULL && err.code < 0)
			conn_raise_connect(&err);
		else
			conn_raise(NULL, r);
		goto out;
	}
	self->c_forkd = f;
	rc = 0;
out:
	if (keybuf.buf != NULL)
		PyBuffer_Release(&keybuf);
	Py_XDECREF(sock_b);
	Py_XDECREF(key_b);
	return rc;
}

/* Close the handle (forkd then ends this connection's daemon children). */
static void
conn_do_close(conn_object *self)
{
	struct forkd *f = self->c_forkd;

	self->c_forkd = NULL;
	if (f != NULL) {
		Py_BEGIN_ALLOW_THREADS
		forkd_close(f);
		Py_END_ALLOW_THREADS
	}
}

static void
conn_dealloc(conn_object *self)
{
	conn_do_close(self);
	Py_CLEAR(self->c_started);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
conn_close(conn_object *self, PyObject *unused)
{
	if (self->c_busy) {
		PyErr_SetString(PyExc_RuntimeError, "the forkd connection is "
		    "in use by another thread (lock around calls)");
		return NULL;
	}
	conn_do_close(self);
	Py_RETURN_NONE;
}

static PyObject *
conn_closed(conn_object *self, void *closure)
{
	return PyBool_FromLong(self->c_forkd == NULL);
}

static PyObject *
conn_fileno(conn_object *self, PyObject *unused)
{
	/* Only reads the fd: allowed while another thread is in a call. */
	if (self->c_forkd == NULL) {
		PyErr_SetString(PyExc_ValueError,
		    "operation on a closed forkd connection");
		return NULL;
	}
	return PyLong_FromLong(forkd_fd(self->c_forkd));
}

/* Run fn(f), a libforkd call with no other argument, without the GIL;
 * 0 and its result in *ret, or -1 with the Python exception raised. */
static int
conn_call_noargs(conn_object *self, int (*fn)(struct forkd *), int *ret)
{
	struct forkd	*f = conn_handle(self);
	int		 r;

	if (f == NULL)
		return -1;
	CONN_BLOCKING_BEGIN(self);
	r = fn(f);
	CONN_BLOCKING_END(self);
	if (r < 0) {
		conn_raise(f, r);
		return -1;
	}
	*ret = r;
	return 0;
}

static PyObject *
conn_ping(conn_object *self, PyObject *unused)
{
	int	r;

	if (conn_call_noargs(self, forkd_ping, &r) < 0)
		return NULL;
	Py_RETURN_NONE;
}

/* Spawn-time storage converted from Python objects; freed by
 * spawn_args_free(). */
struct spawn_args {
	PyObject		*bytes;		/* list of bytes kept alive */
	const char		**argv;
	const char		**env;
	int			*fds;
	int			*fd_targets;
	int			*cpus;
	gid_t			*groups;
	struct forkd_rlimit	*rlimits;
};

static void
spawn_args_free(struct spawn_args *a)
{
	Py_XDECREF(a->bytes);
	PyMem_Free(a->argv);
	PyMem_Free(a->env);
	PyMem_Free(a->fds);
	PyMem_Free(a->fd_targets);
	PyMem_Free(a->cpus);
	PyMem_Free(a->groups);
	PyMem_Free(a->rlimits);
}

/* A str/bytes/path argument as a C string owned by a->bytes. */
static const char *
spawn_cstr(struct spawn_args *a, PyObject *obj)
{
	PyObject *b = NULL;

	if (!PyUnicode_FSConverter(obj, &b))
		return NULL;
	if (PyList_Append(a->bytes, b) < 0) {
		Py_DECREF(b);
		return NULL;
	}
	Py_DECREF(b);
	return PyBytes_AS_STRING(b);
}

/* seq_obj as a fast sequence (TypeError what if it is none) in *ret_seq,
 * its length in *ret_n, and a zeroed array of n + 1 entries of size
 * bytes (PyMem_Free); NULL with the exception raised. */
static void *
spawn_seq_array(PyObject *seq_obj, const char *what, size_t size,
    PyObject **ret_seq, Py_ssize_t *ret_n)
{
	PyObject	*seq;
	void		*v;

	seq = PySequence_Fast(seq_obj, what);
	if (seq == NULL)
		return NULL;
	*ret_n = PySequence_Fast_GET_SIZE(seq);
	v = PyMem_Calloc((size_t)*ret_n + 1, size);
	if (v == NULL) {
		Py_DECREF(seq);
		PyErr_NoMemory();
		return NULL;
	}
	*ret_seq = seq;
	return v;
}

/* A sequence of strings as a NULL-terminated array. */
static const char **
spawn_strv(struct spawn_args *a, PyObject *seq_obj, const char *what)
{
	PyObject	*seq;
	const char	**v;
	Py_ssize_t	 n;

	if ((v = spawn_seq_array(seq_obj, what, sizeof *v, &seq, &n)) == NULL)
		return NULL;
	for (Py_ssize_t i = 0; i < n; i++) {
		v[i] = spawn_cstr(a, PySequence_Fast_GET_ITEM(seq, i));
		if (v[i] == NULL) {
			PyMem_Free(v);
			Py_DECREF(seq);
			return NULL;
		}
	}
	Py_DECREF(seq);
	return v;
}

/* A sequence of ints as an int array of *ret_n entries. */
static int *
spawn_intv(PyObject *seq_obj, const char *what, size_t *ret_n)
{
	PyObject	*seq;
	int		*v;
	Py_ssize_t	 n;

	if ((v = spawn_seq_array(seq_obj, what, sizeof *v, &seq, &n)) == NULL)
		return NULL;
	for (Py_ssize_t i = 0; i < n; i++) {
		long x = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));

		if (x == -1 && PyErr_Occurred()) {
			PyMem_Free(v);
			Py_DECREF(seq);
			return NULL;
		}
		if (x < INT_MIN || x > INT_MAX) {
			PyErr_Format(PyExc_OverflowError, "%s: %ld out of range",
			    what, x);
			PyMem_Free(v);
			Py_DECREF(seq);
			return NULL;
		}
		v[i] = (int)x;
	}
	Py_DECREF(seq);
	*ret_n = (size_t)n;
	return v;
}

/* rlimits: a sequence of (resource, soft, hard); -1 or None: infinity. */
static int
spawn_rlimits(struct spawn_args *a, PyObject *seq_obj, size_t *ret_n)
{
	PyObject	*seq;
	Py_ssize_t	 n;

	if ((a->rlimits = spawn_seq_array(seq_obj, "rlimits must be a "
	    "sequence", sizeof *a->rlimits, &seq, &n)) == NULL)
		return -1;
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject	*soft, *hard;
		int		 res;

		if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i),
		    "iOO;rlimits items are (resource, soft, hard)", &res,
		    &soft, &hard)) {
			Py_DECREF(seq);
			return -1;
		}
		a->rlimits[i].resource = res;
		a->rlimits[i].soft = FORKD_RLIM_INFINITY;
		a->rlimits[i].hard = FORKD_RLIM_INFINITY;
		if (soft != Py_None) {
			long long x = PyLong_AsLongLong(soft);

			if (x == -1 && PyErr_Occurred()) {
				Py_DECREF(seq);
				return -1;
			}
			if (x >= 0)
				a->rlimits[i].soft = (uint64_t)x;
		}
		if (hard != Py_None) {
			long long x = PyLong_AsLongLong(hard);

			if (x == -1 && PyErr_Occurred()) {
				Py_DECREF(seq);
				return -1;
			}
			if (x >= 0)
				a->rlimits[i].hard = (uint64_t)x;
		}
	}
	Py_DECREF(seq);
	*ret_n = (size_t)n;
	return 0;
}

/* spawn(target, argv, **options) -> (pid, name, pidfd, cgroup). The keyword
 * options are those of struct forkd_spawn_opts; fds is a sequence of
 * (fd, target_fd) pairs. */
static PyObject *
conn_spawn(conn_object *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "target", "argv", "env", "env_replace",
	    "cwd", "name", "daemon", "stdin", "stdout", "stderr", "fds",
	    "want_pidfd", "timeout_ms", "kill_grace_ms", "rlimits", "umask",
	    "nice", "cpus", "pgroup", "uid", "gid", "groups", "no_new_privs",
	    "drop_caps", "cgroup", "memory_max", "pids_max", "cpu_quota_us",
	    "cpu_period_us", "namespaces", NULL };
	struct forkd		*f = conn_handle(self);
	struct forkd_spawn_opts	 o;
	struct forkd_spawned	 sp;
	struct spawn_args	 a = { 0 };
	PyObject		*target, *argv_obj = Py_None, *env = Py_None;
	PyObject		*tid = NULL;
	PyObject		*cwd = Py_None, *name = Py_None, *fds = Py_None;
	PyObject		*rlimits = Py_None, *nice = Py_None;
	PyObject		*cpus = Py_None, *uid = Py_None, *gid = Py_None;
	PyObject		*groups = Py_None, *ret = NULL;
	unsigned long long	 memory_max = 0;
	unsigned int		 timeout_ms = 0, kill_grace_ms = 0;
	unsigned int		 pids_max = 0, quota = 0, period = 0;
	unsigned int		 namespaces = 0;
	int			 env_replace = 0, daemon = 0, want_pidfd = 1;
	int			 in_fd = -1, out_fd = -1, err_fd = -1;
	int			 umask_v = -1, pgroup = 0, nnp = 0, caps = 0;
	int			 cgroup = 0, r;

	if (f == NULL)
		return NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kwds,
	    "O|O$OpOOpiiiOpIIOiOOiOOOppiKIIII", kwlist, &target, &argv_obj,
	    &env, &env_replace, &cwd, &name, &daemon, &in_fd, &out_fd,
	    &err_fd, &fds, &want_pidfd, &timeout_ms, &kill_grace_ms,
	    &rlimits, &umask_v, &nice, &cpus, &pgroup, &uid, &gid, &groups,
	    &nnp, &caps, &cgroup, &memory_max, &pids_max, &quota, &period,
	    &namespaces))
		return NULL;

	forkd_spawn_opts_init(&o);
	if ((a.bytes = PyList_New(0)) == NULL)
		goto out;
	if ((o.target = spawn_cstr(&a, target)) == NULL)
		goto out;
	if (argv_obj != Py_None) {
		if ((a.argv = spawn_strv(&a, argv_obj,
		    "argv must be a sequence of strings")) == NULL)
			goto out;
		o.argv = a.argv;
	}
	if (env != Py_None) {
		if ((a.env = spawn_strv(&a, env,
		    "env must be a sequence of 'K=V' strings")) == NULL)
			goto out;
		o.env = a.env;
	}
	o.env_replace = env_replace;
	if (cwd != Py_None && (o.cwd = spawn_cstr(&a, cwd)) == NULL)
		goto out;
	if (name != Py_None && (o.name = spawn_cstr(&a, name)) == NULL)
		goto out;
	o.daemon = daemon;
	o.stdin_fd = in_fd;
	o.stdout_fd = out_fd;
	o.stderr_fd = err_fd;
	if (fds != Py_None) {
		PyObject	*seq;
		Py_ssize_t	 n;

		seq = PySequence_Fast(fds, "fds must be (fd, target) pairs");
		if (seq == NULL)
			goto out;
		n = PySequence_Fast_GET_SIZE(seq);
		a.fds = PyMem_Calloc((size_t)n + 1, sizeof *a.fds);
		a.fd_targets = PyMem_Calloc((size_t)n + 1,
		    sizeof *a.fd_targets);
		if (a.fds == NULL || a.fd_targets == NULL) {
			Py_DECREF(seq);
			PyErr_NoMemory();
			goto out;
		}
		for (Py_ssize_t i = 0; i < n; i++) {
			if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i),
			    "ii;fds items are (fd, target_fd)", &a.fds[i],
			    &a.fd_targets[i])) {
				Py_DECREF(seq);
				goto out;
			}
		}
		Py_DECREF(seq);
		o.fds = a.fds;
		o.fd_targets = a.fd_targets;
		o.n_fds = (size_t)n;
	}
	o.want_pidfd = want_pidfd;
	o.timeout_ms = timeout_ms;
	o.kill_grace_ms = kill_grace_ms;
	if (rlimits != Py_None) {
		if (spawn_rlimits(&a, rlimits, &o.n_rlimits) < 0)
			goto out;
		o.rlimits = a.rlimits;
	}
	o.umask = umask_v;
	if (nice != Py_None) {
		o.nice_set = 1;
		o.nice = (int)PyLong_AsLong(nice);
		if (o.nice == -1 && PyErr_Occurred())
			goto out;
	}
	if (cpus != Py_None) {
		if ((a.cpus = spawn_intv(cpus, "cpus must be a sequence of "
		    "ints", &o.n_cpus)) == NULL)
			goto out;
		o.cpus = a.cpus;
	}
	o.pgroup = pgroup;
	if (uid != Py_None || gid != Py_None || groups != Py_None) {
		if (uid == Py_None || gid == Py_None) {
			PyErr_SetString(PyExc_ValueError,
			    "uid and gid go together");
			goto out;
		}
		o.identity_set = 1;
		o.uid = (uid_t)PyLong_AsUnsignedLong(uid);
		o.gid = (gid_t)PyLong_AsUnsignedLong(gid);
		if (PyErr_Occurred())
			goto out;
		if (groups != Py_None) {
			int	*g;
			size_t	 n = 0;

			if ((g = spawn_intv(groups, "groups must be a "
			    "sequence of ints", &n)) == NULL)
				goto out;
			a.groups = PyMem_Calloc(n + 1, sizeof *a.groups);
			if (a.groups == NULL) {
				PyMem_Free(g);
				PyErr_NoMemory();
				goto out;
			}
			for (size_t i = 0; i < n; i++)
				a.groups[i] = (gid_t)g[i];
			PyMem_Free(g);
			o.groups = a.groups;
			o.n_groups = n;
		}
	}
	o.no_new_privs = nnp;
	o.drop_caps = caps;
	o.cgroup = cgroup;
	o.memory_max = memory_max;
	o.pids_max = pids_max;
	o.cpu_quota_us = quota;
	o.cpu_period_us = period;
	o.namespaces = namespaces;

	if ((tid = PyLong_FromUnsignedLong(PyThread_get_thread_ident())) ==
	    NULL || (self->c_started == NULL &&
	    (self->c_started = PyDict_New()) == NULL) ||
	    (PyDict_DelItem(self->c_started, tid) < 0 &&
	    !PyErr_ExceptionMatches(PyExc_KeyError)))
		goto out;
	PyErr_Clear();
	CONN_BLOCKING_BEGIN(self);
	r = forkd_spawn_ex(f, &o, &sp);
	CONN_BLOCKING_END(self);
	if (r < 0) {
		conn_raise(f, r);
		goto out;
	}
	ret = Py_BuildValue("(isis)", (int)sp.pid, sp.name, sp.pidfd,
	    sp.cgroup);
	if (ret == NULL && sp.pidfd >= 0)
		close(sp.pidfd);
	/* Kept for take_started(); without room for it, only that is lost. */
	if (ret != NULL && PyDict_SetItem(self->c_started, tid, ret) < 0)
		PyErr_Clear();
out:
	Py_XDECREF(tid);
	spawn_args_free(&a);
	return ret;
}

/* take_started(): this thread's last spawn()'s tuple, once, or None. */
static PyObject *
conn_take_started(conn_object *self, PyObject *unused)
{
	PyObject	*tid, *t;

	if (self->c_started == NULL)
		Py_RETURN_NONE;
	if ((tid = PyLong_FromUnsignedLong(PyThread_get_thread_ident())) ==
	    NULL)
		return NULL;
	t = PyDict_GetItemWithError(self->c_started, tid);
	if (t == NULL) {
		Py_DECREF(tid);
		if (PyErr_Occurred())
			return NULL;
		Py_RETURN_NONE;
	}
	Py_INCREF(t);
	if (PyDict_DelItem(self->c_started, tid) < 0) {
		Py_DECREF(t);
		t = NULL;
	}
	Py_DECREF(tid);
	return t;
}

/* signal(pid, sig) */
static PyObject *
conn_signal(conn_object *self, PyObject *args)
{
	struct forkd	*f = conn_handle(self);
	int		 pid, sig, r;

	if (f == NULL || !PyArg_ParseTuple(args, "ii", &pid, &sig))
		return NULL;
	CONN_BLOCKING_BEGIN(self);
	r = forkd_signal(f, (pid_t)pid, NULL, sig);
	CONN_BLOCKING_END(self);
	if (r < 0)
		return conn_raise(f, r);
	Py_RETURN_NONE;
}

/* wait(pid, timeout=None) -> exit tuple; TimeoutError when time ran out. */
static PyObject *
conn_wait(conn_object *self, PyObject *args)
{
	struct forkd		*f = conn_handle(self);
	struct forkd_exit	 ex;
	PyObject		*tobj = Py_None;
	int			 pid, ms, r;

	if (f == NULL || !PyArg_ParseTuple(args, "i|O", &pid, &tobj) ||
	    conn_timeout_ms(tobj, &ms) < 0)
		return NULL;
	CONN_BLOCKING_BEGIN(self);
	r = forkd_wait(f, (pid_t)pid, NULL, ms, &ex);
	CONN_BLOCKING_END(self);
	if (r < 0)
		return conn_raise(f, r);
	return conn_exit_tuple(&ex);
}

/* wait_any(pids, timeout=None) -> exit tuple of the first to end. */
static PyObject *
conn_wait_any(conn_object *self, PyObject *args)
{
	struct forkd		*f = conn_handle(self);
	struct forkd_exit	 ex;
	PyObject		*pids_obj, *tobj = Py_None;
	pid_t			*pids;
	int			*v;
	size_t			 n = 0;
	int			 ms, r;

	if (f == NULL || !PyArg_ParseTuple(args, "O|O", &pids_obj, &tobj) ||
	    conn_timeout_ms(tobj, &ms) < 0)
		return NULL;
	if ((v = spawn_intv(pids_obj, "pids must be a sequence of ints",
	    &n)) == NULL)
		return NULL;
	pids = PyMem_Calloc(n + 1, sizeof *pids);
	if (pids == NULL) {
		PyMem_Free(v);
		return PyErr_NoMemory();
	}
	for (size_t i = 0; i < n; i++)
		pids[i] = (pid_t)v[i];
	PyMem_Free(v);
	CONN_BLOCKING_BEGIN(self);
	r = forkd_wait_any(f, pids, n, ms, &ex);
	CONN_BLOCKING_END(self);
	PyMem_Free(pids);
	if (r < 0)
		return conn_raise(f, r);
	return conn_exit_tuple(&ex);
}

/* process(): read what is available without blocking; returns how many
 * exit events were queued. */
static PyObject *
conn_process(conn_object *self, PyObject *unused)
{
	int	r;

	if (conn_call_noargs(self, forkd_process, &r) < 0)
		return NULL;
	return PyLong_FromLong(r);
}

/* next_exit() -> exit tuple, or None when none is queued. */
static PyObject *
conn_next_exit(conn_object *self, PyObject *unused)
{
	struct forkd		*f = conn_handle(self);
	struct forkd_exit	 ex;
	int			 r;

	if (f == NULL)
		return NULL;
	r = forkd_next_exit(f, &ex);
	if (r == -EAGAIN)
		Py_RETURN_NONE;
	if (r < 0)
		return conn_raise(f, r);
	return conn_exit_tuple(&ex);
}

/* list() -> [(pid, name, target, daemon, owner_uid, started_unix_ms,
 * owned), ...] */
static PyObject *
conn_list(conn_object *self, PyObject *unused)
{
	struct forkd		*f = conn_handle(self);
	struct forkd_child	*c = NULL;
	PyObject		*list;
	size_t			 n = 0;
	int			 r;

	if (f == NULL)
		return NULL;
	CONN_BLOCKING_BEGIN(self);
	r = forkd_list(f, &c, &n);
	CONN_BLOCKING_END(self);
	if (r < 0)
		return conn_raise(f, r);
	if ((list = PyList_New((Py_ssize_t)n)) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		PyObject *t = Py_BuildValue("(issiIKi)", (int)c[i].pid,
		    c[i].name, c[i].target, c[i].daemon,
		    (unsigned int)c[i].owner_uid,
		    (unsigned long long)c[i].started_unix_ms, c[i].owned);

		if (t == NULL) {
			Py_CLEAR(list);
			goto out;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, t);
	}
out:
	free(c);
	return list;
}

/* status() -> dict of the daemon's status. */
static PyObject *
conn_status(conn_object *self, PyObject *unused)
{
	struct forkd		*f = conn_handle(self);
	struct forkd_status	*st = NULL;
	PyObject		*mods, *d = NULL;
	int			 r;

	if (f == NULL)
		return NULL;
	CONN_BLOCKING_BEGIN(self);
	r = forkd_status(f, &st);
	CONN_BLOCKING_END(self);
	if (r < 0)
		return conn_raise(f, r);
	if ((mods = PyList_New(0)) == NULL)
		goto out;
	for (size_t i = 0; i < st->n_modules; i++) {
		struct forkd_module_desc	*m = &st->modules[i];
		PyObject			*ents, *md;

		if ((ents = PyList_New(0)) == NULL)
			goto out;
		for (size_t j = 0; j < m->n_entries; j++) {
			PyObject *s = PyUnicode_DecodeFSDefault(m->entries[j]);

			if (s == NULL || PyList_Append(ents, s) < 0) {
				Py_XDECREF(s);
				Py_DECREF(ents);
				goto out;
			}
			Py_DECREF(s);
		}
		md = Py_BuildValue("{s:z,s:z,s:z,s:N}", "name", m->name,
		    "path", m->path, "description", m->description,
		    "entries", ents);
		if (md == NULL || PyList_Append(mods, md) < 0) {
			Py_XDECREF(md);
			goto out;
		}
		Py_DECREF(md);
	}
	d = Py_BuildValue("{s:s,s:i,s:K,s:I,s:I,s:K,s:K,s:K,s:K,s:K,s:I,"
	    "s:K,s:O}", "version", st->version, "pid", (int)st->pid,
	    "uptime_ms", (unsigned long long)st->uptime_ms, "children",
	    st->children, "connections", st->connections, "spawned_total",
	    (unsigned long long)st->spawned_total, "spawn_failures",
	    (unsigned long long)st->spawn_failures, "exited_total",
	    (unsigned long long)st->exited_total, "auth_failures",
	    (unsigned long long)st->auth_failures, "protocol_errors",
	    (unsigned long long)st->protocol_errors, "pool_idle",
	    st->pool_idle, "pool_spawns",
	    (unsigned long long)st->pool_spawns, "modules", mods);
out:
	Py_XDECREF(mods);
	forkd_status_free(st);
	return d;
}

static PyObject *
conn_enter(conn_object *self, PyObject *unused)
{
	return Py_NewRef(self);
}

static PyObject *
conn_exit(conn_object *self, PyObject *args)
{
	PyObject *r = conn_close(self, NULL);

	if (r == NULL)
		return NULL;
	Py_DECREF(r);
	Py_RETURN_FALSE;
}

static PyMethodDef conn_methods[] = {
	{ "close", (PyCFunction)conn_close, METH_NOARGS,
	  "close()\n--\n\nClose the connection; forkd then ends the daemon "
	  "children spawned on it." },
	{ "fileno", (PyCFunction)conn_fileno, METH_NOARGS,
	  "fileno()\n--\n\nThe connection's socket (readable: frames "
	  "arrived; call process())." },
	{ "ping", (PyCFunction)conn_ping, METH_NOARGS,
	  "ping()\n--\n\nRound trip to forkd." },
	{ "spawn", (PyCFunction)(void (*)(void))conn_spawn,
	  METH_VARARGS | METH_KEYWORDS,
	  "spawn(target, argv=None, **options)\n--\n\nStart a child; "
	  "returns (pid, name, pidfd, cgroup). The options are those of "
	  "struct forkd_spawn_opts; fds is a sequence of (fd, child_fd)." },
	{ "take_started", (PyCFunction)conn_take_started, METH_NOARGS,
	  "take_started()\n--\n\nThis thread's last spawn()'s tuple, once "
	  "(None after that): a caller interrupted as spawn() returned finds "
	  "its child here." },
	{ "signal", (PyCFunction)conn_signal, METH_VARARGS,
	  "signal(pid, sig)\n--\n\nSend sig to a child of this uid." },
	{ "wait", (PyCFunction)conn_wait, METH_VARARGS,
	  "wait(pid, timeout=None)\n--\n\nWait for a child to end; returns "
	  "(pid, name, exitcode, utime_us, stime_us, maxrss_kb, timed_out, "
	  "oom_killed)." },
	{ "wait_any", (PyCFunction)conn_wait_any, METH_VARARGS,
	  "wait_any(pids, timeout=None)\n--\n\nWait for the first of pids "
	  "to end; returns its exit tuple." },
	{ "process", (PyCFunction)conn_process, METH_NOARGS,
	  "process()\n--\n\nRead frames available now; returns how many "
	  "exit events were queued." },
	{ "next_exit", (PyCFunction)conn_next_exit, METH_NOARGS,
	  "next_exit()\n--\n\nThe oldest queued exit event, or None." },
	{ "list", (PyCFunction)conn_list, METH_NOARGS,
	  "list()\n--\n\nLive children: (pid, name, target, daemon, uid, "
	  "started_unix_ms, owned) tuples." },
	{ "status", (PyCFunction)conn_status, METH_NOARGS,
	  "status()\n--\n\nforkd's status as a dict." },
	{ "__enter__", (PyCFunction)conn_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)conn_exit, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL }
};

static PyGetSetDef conn_getset[] = {
	{ "closed", (getter)conn_closed, NULL,
	  "True once close() was called.", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject conn_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "forkd._forkd.Connection",
	.tp_basicsize = sizeof(conn_object),
	.tp_dealloc = (destructor)conn_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Connection(socket=None, key=None, key_bytes=None)\n--\n\n"
	    "One authenticated connection to forkd (a struct forkd). socket "
	    "and key (a key file) default to $FORKD_SOCKET and "
	    "$FORKD_KEY_FILE, then to libforkd's defaults; key_bytes gives "
	    "the key itself. Not for use by two threads at once.",
	.tp_methods = conn_methods,
	.tp_getset = conn_getset,
	.tp_init = (initproc)conn_init,
	.tp_new = PyType_GenericNew,
};

static struct PyModuleDef forkd_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "forkd._forkd",
	.m_doc = "Low-level bindings of libforkd, the forkd client library. "
	    "Use the forkd package instead.",
	.m_size = -1,
};

PyMODINIT_FUNC PyInit__forkd(void);

/* The module's entry point: Connection and libforkd's constants. */
PyMODINIT_FUNC
PyInit__forkd(void)
{
	PyObject *m;

	if (PyType_Ready(&conn_type) < 0)
		return NULL;
	if ((m = PyModule_Create(&forkd_module)) == NULL)
		return NULL;
	if (PyModule_AddObjectRef(m, "Connection",
	    (PyObject *)&conn_type) < 0 ||
	    PyModule_AddStringConstant(m, "LIB_VERSION",
	    FORKD_LIB_VERSION) < 0 ||
	    PyModule_AddStringConstant(m, "DEFAULT_SOCKET",
	    FORKD_DEFAULT_SOCKET) < 0 ||
	    PyModule_AddStringConstant(m, "DEFAULT_KEY_FILE",
	    FORKD_DEFAULT_KEY_FILE) < 0 ||
	    PyModule_AddIntConstant(m, "NS_PID", FORKD_NS_PID) < 0 ||
	    PyModule_AddIntConstant(m, "NS_MOUNT", FORKD_NS_MOUNT) < 0 ||
	    PyModule_AddIntConstant(m, "NS_NET", FORKD_NS_NET) < 0 ||
	    PyModule_AddIntConstant(m, "NS_IPC", FORKD_NS_IPC) < 0 ||
	    PyModule_AddIntConstant(m, "NS_UTS", FORKD_NS_UTS) < 0 ||
	    PyModule_AddIntConstant(m, "NS_USER", FORKD_NS_USER) < 0 ||
	    PyModule_AddIntConstant(m, "PGROUP_SESSION",
	    FORKD_PGROUP_SESSION) < 0 ||
	    PyModule_AddIntConstant(m, "PGROUP_GROUP",
	    FORKD_PGROUP_GROUP) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
