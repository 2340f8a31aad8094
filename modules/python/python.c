/* python.c: the python module, an embedded CPython for forkd.
 *
 * init "path=DIR[:DIR...],import=MOD[,MOD...],allow=PATTERN[,PATTERN...],
 * gc_freeze=0|1" starts the interpreter once in forkd, imports the
 * preloads (set_forkserver_preload()'s job) and forkd's own Python package
 * where it is on the path, checks that no thread was left behind and
 * freezes the heap (gc.freeze()). Options are separated by ','; an item
 * without "KEY=" continues the list of the option before it
 * (import=numpy,json). The entries run in forked children:
 *
 *   python:call MODULE:QUALNAME [--main /abs/script.py] [OPTIONS] [-- ARGV]
 *	calls the target with (args, kwargs) unpickled from fd 3 and writes
 *	the pickled result to fd 4 (both optional); exit codes as
 *	multiprocessing's.
 *   python:main MODULE [ARGS...]
 *	runs MODULE as __main__, like python -m.
 *
 * The Python half is forkd_python.py, compiled into this file at build
 * time (python_boot.h) and run as module _forkd_python.
 *
 * Most of a call's cost in a child is copy-on-write: running Python
 * writes refcounts and interpreter state on some 500 pages of the warm
 * image, and it maps again, a fault per 16 pages, the code and constants
 * it reads from files (fork() copies no page table of a file mapping
 * never written). After preloading, init runs one call in a throwaway
 * child and records which pages it copied or mapped (python_probe()); the
 * optional export forkd_module_pool_warm() copies and maps those ahead,
 * for a forkd that calls it in idle pool children. Most of the rest is the exit: unmapping the image
 * in the child's last exit_mm(), before its exit can be reported. So an
 * entry, once its target has returned, leaves that to a helper that
 * shares the child's memory (python_exit_early()).
 *
 * The daemon's thread keeps the GIL from init on: forkd is single-threaded
 * and every child continues on that thread, so PyOS_AfterFork_Child() finds
 * its thread state current. Children are made by clone3() or by the zygote,
 * so no pthread_atfork() handler runs: each entry starts with
 * PyOS_AfterFork_Child(), which runs os.register_at_fork()'s child hooks.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define PYTHON_ON_VALGRIND()	RUNNING_ON_VALGRIND
#endif
#endif
#ifndef PYTHON_ON_VALGRIND
#define PYTHON_ON_VALGRIND()	0
#endif

#include "forkd_module.h"
#include "python_boot.h"

#ifndef FORKD_PYTHON_EXECUTABLE
#define FORKD_PYTHON_EXECUTABLE	"/usr/bin/python3"
#endif

#define PYTHON_OPT_ITEMS_MAX	1024	/* imports or patterns */
#define PYTHON_WARM_MAX		8192	/* page ranges the probe may report */
#define PYTHON_PROBE_MS		10000	/* the probe's deadline */
#define PYTHON_PROBE_ARGS	128	/* the probe's arguments, at most */
#define PYTHON_SCAN_VMA_MAX	((uintptr_t)1 << 30)	/* larger: skipped */
#define PYTHON_PAGEMAP_PRESENT	(UINT64_C(1) << 63)
#define PYTHON_PAGEMAP_EXCL	(UINT64_C(1) << 56)

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

extern char	**environ;

/* A growable list of strings. */
struct python_strv {
	char	**sv_items;
	size_t	  sv_n;
};

/* The parsed init options. */
struct python_opts {
	struct python_strv	 po_paths;	/* path= */
	struct python_strv	 po_imports;	/* import= */
	struct python_strv	 po_allow;	/* allow= */
	int			 po_allow_set;
	int			 po_freeze;	/* gc_freeze= (default 1) */
};

/* Which list an item without KEY= continues. */
enum python_list {
	PYTHON_LIST_NONE,
	PYTHON_LIST_IMPORT,
	PYTHON_LIST_ALLOW,
	PYTHON_LIST_MAX
};

static const char *const python_list_names[PYTHON_LIST_MAX] = {
	"none", "import", "allow"
};

/* Pages a python:call child writes first (see python_probe()). */
struct python_range {
	uintptr_t	pr_start;
	size_t		pr_pages;
	int		pr_write;	/* 0: a read-only file mapping's */
};

static PyObject		*python_boot;	/* the _forkd_python module */
static int		 python_restricted;	/* allow= is set */
static struct python_range *python_warm;	/* NULL: no probe result */
static size_t		 python_nwarm;
static size_t		 python_pagesz;

static int	python_child_run(const char *fn, int argc, char **argv);

/* Free a string list (NULL-safe). */
static void
python_strv_free(struct python_strv *sv)
{
	for (size_t i = 0; sv != NULL && i < sv->sv_n; i++)
		free(sv->sv_items[i]);
	if (sv != NULL) {
		free(sv->sv_items);
		sv->sv_items = NULL;
		sv->sv_n = 0;
	}
}

/* Append a copy of s[0..len); 0, -ENOMEM or -E2BIG. */
static int
python_strv_add(struct python_strv *sv, const char *s, size_t len)
{
	char	**grown, *copy;

	if (sv->sv_n >= PYTHON_OPT_ITEMS_MAX)
		return -E2BIG;
	if ((copy = strndup(s, len)) == NULL)
		return -ENOMEM;
	grown = reallocarray(sv->sv_items, sv->sv_n + 1, sizeof *grown);
	if (grown == NULL) {
		free(copy);
		return -ENOMEM;
	}
	sv->sv_items = grown;
	sv->sv_items[sv->sv_n++] = copy;
	return 0;
}

/* Free the parsed options. */
static void
python_opts_free(struct python_opts *o)
{
	python_strv_free(&o->po_paths);
	python_strv_free(&o->po_imports);
	python_strv_free(&o->po_allow);
}

/* Does the token p[0..len) start with "key="? */
static int
python_key_is(const char *p, size_t keylen, const char *key)
{
	return keylen == strlen(key) && strncmp(p, key, keylen) == 0;
}

/* Add the ':'-separated directories of val[0..vlen) to o->po_paths. */
static int
python_add_paths(struct python_opts *o, const char *val, size_t vlen)
{
	const char	*p = val, *end = val + vlen, *colon;
	int		 r;

	while (p <= end) {
		colon = memchr(p, ':', (size_t)(end - p));
		if (colon == NULL)
			colon = end;
		if (colon == p) {
			fputs("python: path=: empty directory name\n", stderr);
			return -EINVAL;
		}
		if ((r = python_strv_add(&o->po_paths, p,
		    (size_t)(colon - p))) != 0)
			return r;
		p = colon + 1;
	}
	return 0;
}

/* Parse "path=D1:D2,import=a,b,allow=p1,p2,gc_freeze=0". */
static int
python_parse_opts(const char *opts, struct python_opts *o)
{
	const char		*p, *end, *eq, *val;
	size_t			 keylen, vlen;
	enum python_list	 cur = PYTHON_LIST_NONE;
	struct python_strv	*list;
	int			 r;

	o->po_freeze = 1;
	for (p = opts; p != NULL && *p != '\0'; p = *end ? end + 1 : end) {
		end = p + strcspn(p, ",");
		if (end == p)
			continue;
		eq = memchr(p, '=', (size_t)(end - p));
		keylen = eq != NULL ? (size_t)(eq - p) : 0;
		val = eq != NULL ? eq + 1 : p;
		vlen = (size_t)(end - val);
		if (eq != NULL && python_key_is(p, keylen, "path")) {
			if ((r = python_add_paths(o, val, vlen)) != 0)
				return r;
			cur = PYTHON_LIST_NONE;
			continue;
		}
		if (eq != NULL && python_key_is(p, keylen, "gc_freeze")) {
			if (vlen != 1 || (val[0] != '0' && val[0] != '1')) {
				fprintf(stderr, "python: bad gc_freeze '%.*s': "
				    "want 0 or 1\n", (int)vlen, val);
				return -EINVAL;
			}
			o->po_freeze = val[0] == '1';
			cur = PYTHON_LIST_NONE;
			continue;
		}
		if (eq != NULL && python_key_is(p, keylen, "import"))
			cur = PYTHON_LIST_IMPORT;
		else if (eq != NULL && python_key_is(p, keylen, "allow")) {
			cur = PYTHON_LIST_ALLOW;
			o->po_allow_set = 1;
		} else if (cur == PYTHON_LIST_NONE || eq != NULL) {
			/* Module names and patterns have no '=': a token with
			 * one is a misspelt option, not a list item. */
			fprintf(stderr, "python: unknown option '%.*s' (known: "
			    "path=DIR[:DIR...], import=MOD[,MOD...], "
			    "allow=PATTERN[,PATTERN...], gc_freeze=0|1)\n",
			    (int)(end - p), p);
			return -EINVAL;
		} else {
			val = p;
			vlen = (size_t)(end - p);
		}
		list = cur == PYTHON_LIST_IMPORT ? &o->po_imports :
		    &o->po_allow;
		if (vlen == 0) {
			fprintf(stderr, "python: empty %s= item\n",
			    python_list_names[cur]);
			return -EINVAL;
		}
		if ((r = python_strv_add(list, val, vlen)) != 0) {
			fprintf(stderr, "python: %s= list: %s\n",
			    python_list_names[cur], strerror(-r));
			return r;
		}
	}
	if (o->po_allow_set && o->po_allow.sv_n == 0) {
		fputs("python: allow= needs at least one pattern\n", stderr);
		return -EINVAL;
	}
	return 0;
}

/* Numeric libraries start a thread pool per CPU at import unless told
 * otherwise; forkd must stay single-threaded. The user's values win. */
static void
python_limit_threads(void)
{
	static const char *const vars[] = {
		"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"
	};

	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		(void)setenv(vars[i], "1", 0);
}

/* forkd dlopen()s modules RTLD_LOCAL, which hides libpython's symbols
 * from extension modules (numpy's .so files do not link libpython):
 * reopen libpython RTLD_GLOBAL. */
static int
python_promote_libpython(void)
{
	Dl_info	 info;
	void	*h;

	if (dladdr((void *)Py_InitializeFromConfig, &info) == 0 ||
	    info.dli_fname == NULL) {
		fputs("python: cannot find libpython's path (dladdr)\n",
		    stderr);
		return -ENOENT;
	}
	h = dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
	if (h == NULL) {
		fprintf(stderr, "python: cannot make %s global: %s\n",
		    info.dli_fname, dlerror());
		return -ENOENT;
	}
	/* The handle is kept: libpython stays loaded as long as forkd. */
	return 0;
}

/* Report a failed PyStatus on stderr; -EINVAL. */
static int
python_status_fail(PyStatus st, const char *what)
{
	fprintf(stderr, "python: %s: %s%s%s\n", what,
	    st.func != NULL ? st.func : "",
	    st.func != NULL ? ": " : "",
	    st.err_msg != NULL ? st.err_msg : "failed");
	return -EINVAL;
}

/* Start the interpreter: no signal handlers (forkd owns signals), no
 * locale coercion (it would change the environment of every child), and
 * forkd's C stdio left as it is (PYTHONUNBUFFERED would unbuffer it). */
static int
python_start(void)
{
	PyPreConfig	pre;
	PyConfig	config;
	PyStatus	st;

	PyPreConfig_InitPythonConfig(&pre);
	pre.coerce_c_locale = 0;
	pre.coerce_c_locale_warn = 0;
	st = Py_PreInitialize(&pre);
	if (PyStatus_Exception(st))
		return python_status_fail(st, "pre-initialization");

	PyConfig_InitPythonConfig(&config);
	config.install_signal_handlers = 0;
	config.configure_c_stdio = 0;
	config.parse_argv = 0;
#if PY_VERSION_HEX >= 0x030B0000
	config.safe_path = 1;
#endif
	/* sys.executable: a real interpreter, for subprocess and spawn. */
	st = PyConfig_SetBytesString(&config, &config.executable,
	    FORKD_PYTHON_EXECUTABLE);
	if (PyStatus_Exception(st))
		goto fail;
	st = PyConfig_SetBytesString(&config, &config.program_name,
	    FORKD_PYTHON_EXECUTABLE);
	if (PyStatus_Exception(st))
		goto fail;
	st = Py_InitializeFromConfig(&config);
	if (PyStatus_Exception(st))
		goto fail;
	PyConfig_Clear(&config);
	return 0;
fail:
	PyConfig_Clear(&config);
	return python_status_fail(st, "cannot start the interpreter");
}

/* Run forkd_python.py as module _forkd_python (registered in sys.modules). */
static int
python_load_boot(void)
{
	PyObject	*code = NULL, *mod = NULL;

	code = Py_CompileString(python_boot_src, "forkd_python.py",
	    Py_file_input);
	if (code == NULL)
		goto fail;
	mod = PyImport_ExecCodeModule("_forkd_python", code);
	if (mod == NULL)
		goto fail;
	Py_DECREF(code);
	python_boot = mod;
	return 0;
fail:
	PyErr_Print();
	fputs("python: cannot load the module's Python half\n", stderr);
	Py_XDECREF(code);
	return -EINVAL;
}

/* A new Python list of str from a string list; NULL with an exception. */
static PyObject *
python_strv_to_list(const struct python_strv *sv)
{
	PyObject	*l, *s;

	if ((l = PyList_New((Py_ssize_t)sv->sv_n)) == NULL)
		return NULL;
	for (size_t i = 0; i < sv->sv_n; i++) {
		s = PyUnicode_DecodeFSDefault(sv->sv_items[i]);
		if (s == NULL) {
			Py_DECREF(l);
			return NULL;
		}
		PyList_SET_ITEM(l, (Py_ssize_t)i, s);
	}
	return l;
}

/* Call _forkd_python.preload(paths, imports, allow, freeze): 0,
 * -EDEADLK when a preload left a thread running, or -ECANCELED when an
 * option or a preload failed (the reason is on stderr either way). */
static int
python_preload(const struct python_opts *o)
{
	PyObject	*paths = NULL, *imports = NULL, *allow = NULL, *res;
	long		 v = -1;

	paths = python_strv_to_list(&o->po_paths);
	imports = python_strv_to_list(&o->po_imports);
	if (o->po_allow_set)
		allow = python_strv_to_list(&o->po_allow);
	else
		allow = Py_NewRef(Py_None);
	if (paths == NULL || imports == NULL || allow == NULL)
		goto out;
	res = PyObject_CallMethod(python_boot, "preload", "OOOi", paths,
	    imports, allow, o->po_freeze);
	if (res != NULL) {
		v = PyLong_AsLong(res);
		Py_DECREF(res);
	}
out:
	if (PyErr_Occurred()) {
		PyErr_Print();
		v = -1;
	}
	Py_XDECREF(paths);
	Py_XDECREF(imports);
	Py_XDECREF(allow);
	if (v == 0)
		return 0;
	return v == 2 ? -EDEADLK : -ECANCELED;
}

/* Append page addr to ranges r[*n], merging with the last range when
 * adjacent; 0, or -E2BIG when full. */
static int
python_range_add(struct python_range *r, size_t *n, uintptr_t addr,
    int write)
{
	struct python_range	*last = *n > 0 ? &r[*n - 1] : NULL;

	if (last != NULL && last->pr_write == write &&
	    last->pr_start + last->pr_pages * python_pagesz == addr) {
		last->pr_pages++;
		return 0;
	}
	if (*n >= PYTHON_WARM_MAX)
		return -E2BIG;
	r[*n].pr_start = addr;
	r[*n].pr_pages = 1;
	r[*n].pr_write = write;
	(*n)++;
	return 0;
}

/* In the probe child: the pages of private writable mappings that this
 * process has made its own (present and exclusive: copied on write, or
 * new), and the pages of read-only file mappings (code, constants) that
 * it mapped (present: fork() copies no page table of a mapping never
 * written, so each was a fault of the probe's, or of the fault-around
 * that maps 16 pages at a time), as ranges in r; returns the count. */
static size_t
python_probe_scan(struct python_range *r)
{
	FILE		*maps;
	char		*line = NULL;
	size_t		 cap = 0, n = 0;
	uint64_t	 ent[512];
	int		 pm;

	if ((maps = fopen("/proc/self/maps", "re")) == NULL)
		return 0;
	if ((pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) < 0) {
		fclose(maps);
		return 0;
	}
	while (getline(&line, &cap, maps) > 0) {
		unsigned long	 lo, hi;
		char		 perms[5];

		/* A mapping of more than 1 GiB is reserved address space
		 * (a sanitizer's shadow memory: terabytes), whose page map
		 * would take minutes to read: skipped. */
		int		 write;

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) != 3 ||
		    hi - lo > PYTHON_SCAN_VMA_MAX)
			continue;
		if (strcmp(perms, "rw-p") == 0)
			write = 1;
		else if ((strcmp(perms, "r-xp") == 0 ||
		    strcmp(perms, "r--p") == 0) && strchr(line, '/') != NULL)
			write = 0;
		else
			continue;
		for (uintptr_t a = lo; a < hi; ) {
			size_t	 k = (hi - a) / python_pagesz;
			ssize_t	 got;

			if (k > sizeof ent / sizeof ent[0])
				k = sizeof ent / sizeof ent[0];
			got = pread(pm, ent, k * sizeof ent[0],
			    (off_t)(a / python_pagesz * sizeof ent[0]));
			if (got <= 0)
				break;
			k = (size_t)got / sizeof ent[0];
			for (size_t i = 0; i < k; i++, a += python_pagesz) {
				uint64_t e = ent[i];

				if (!(e & PYTHON_PAGEMAP_PRESENT) ||
				    (write && !(e & PYTHON_PAGEMAP_EXCL)))
					continue;
				if (python_range_add(r, &n, a, write) != 0)
					goto out;
			}
		}
	}
out:
	free(line);
	fclose(maps);
	close(pm);
	return n;
}

static int	python_client_environ(int, char **);

/* The probe child: run one python:call as a child of a pool would, on
 * /dev/null and private pipes, then report the pages it touched on out. */
static __attribute__((noreturn)) void
python_probe_child(int out)
{
	static struct python_range	 r[PYTHON_WARM_MAX];
	PyObject			*res, *list;
	char				*argv[PYTHON_PROBE_ARGS + 2];
	const char			*args, *a;
	Py_ssize_t			 alen, argc;
	int				 p[2], null, me;
	size_t				 n;

	/* Above the fds that get dup2()ed below. */
	if ((out = fcntl(out, F_DUPFD_CLOEXEC, 10)) < 0)
		_exit(1);
	res = PyObject_CallMethod(python_boot, "probe_prepare", NULL);
	if (res == NULL || !PyArg_ParseTuple(res, "O!y#", &PyList_Type, &list,
	    &args, &alen) || (argc = PyList_GET_SIZE(list)) < 1 ||
	    argc > PYTHON_PROBE_ARGS)
		_exit(1);
	argv[0] = "python:call";
	for (Py_ssize_t i = 0; i < argc; i++) {
		if ((a = PyUnicode_AsUTF8(PyList_GET_ITEM(list, i))) == NULL ||
		    (argv[i + 1] = strdup(a)) == NULL)
			_exit(1);
	}
	argv[argc + 1] = NULL;
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 ||
	    pipe2(p, O_CLOEXEC) != 0 ||
	    write(p[1], args, (size_t)alen) != alen)
		_exit(1);
	close(p[1]);
	/* fd 5: a pidfd of the parent, as forkd's package passes its own. */
	me = (int)syscall(SYS_pidfd_open, getppid(), 0);
	if (dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
	    dup2(p[0], 3) < 0 || dup2(null, 4) < 0 ||
	    (me >= 0 && dup2(me, 5) < 0))
		_exit(1);
	Py_DECREF(res);
	(void)python_child_run("child_call",
	    python_client_environ((int)argc + 1, argv), argv);
	n = python_probe_scan(r);
	if (n > 0 && write(out, r, n * sizeof r[0]) !=
	    (ssize_t)(n * sizeof r[0]))
		_exit(1);
	_exit(0);
}

/* Find, once, the pages a python:call child touches first, by running
 * one in a throwaway child: forkd_module_pool_warm() touches them in each
 * idle pool child, so a spawn does not pay those copy-on-write faults.
 * Best effort: without a result the pool children are not warmed. */
static void
python_probe(void)
{
	struct python_range	*r;
	struct pollfd		 pfd;
	struct timespec		 t0, t1;
	size_t			 got = 0, cap = PYTHON_WARM_MAX * sizeof *r;
	ssize_t			 k;
	pid_t			 pid, w;
	int			 p[2], st = 0, ms;

	python_pagesz = (size_t)sysconf(_SC_PAGESIZE);
	/* mmap(), not malloc(): the ranges live as long as forkd, and an
	 * ASan build's leak check runs after forkd has dlclose()d us. */
	r = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return;
	if (pipe2(p, O_CLOEXEC) != 0) {
		munmap(r, cap);
		return;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == 0) {
		close(p[0]);
		python_probe_child(p[1]);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		munmap(r, cap);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = PYTHON_PROBE_MS - (int)((t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (ms <= 0 || poll(&pfd, 1, ms) <= 0) {
			if (errno == EINTR && ms > 0)
				continue;
			kill(pid, SIGKILL);
			got = 0;
			break;
		}
		k = read(p[0], (char *)r + got, cap - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
		if (got == cap)
			break;
	}
	close(p[0]);
	while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (w != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
	    got % sizeof *r != 0 || got == 0) {
		fputs("python: the page probe failed: pool children are not "
		    "pre-warmed (spawns still work, slower)\n", stderr);
		munmap(r, cap);
		return;
	}
	python_warm = r;
	python_nwarm = got / sizeof *r;
}

/* Called by forkd in each idle pool child before it waits for a request
 * (an optional module symbol): copy now the pages python:call writes
 * first, so the spawn that takes this child does not copy them one fault
 * at a time. Errors are ignored (a range that no longer exists, a kernel
 * without MADV_POPULATE_WRITE, before 5.14). */
FORKD_MODULE_EXPORT void	forkd_module_pool_warm(void);

void
forkd_module_pool_warm(void)
{
	for (size_t i = 0; i < python_nwarm; i++)
		(void)madvise((void *)python_warm[i].pr_start,
		    python_warm[i].pr_pages * python_pagesz,
		    python_warm[i].pr_write ? MADV_POPULATE_WRITE :
		    MADV_POPULATE_READ);
}

/* Start the interpreter and preload; any failure stops forkd's start-up
 * (a preload that fails silently makes every child slow or wrong). */
static int
python_init(const char *opts)
{
	struct python_opts	o = { 0 };
	int			r;

	if (python_boot != NULL) {
		fputs("python: loaded twice\n", stderr);
		return -EEXIST;
	}
	if ((r = python_parse_opts(opts, &o)) != 0)
		goto out;
	python_limit_threads();
	if ((r = python_promote_libpython()) != 0)
		goto out;
	if ((r = python_start()) != 0)
		goto out;
	if ((r = python_load_boot()) != 0)
		goto out;
	/* On failure the traceback or the reason is on stderr already. */
	python_restricted = o.po_allow_set;
	if ((r = python_preload(&o)) == 0)
		python_probe();
out:
	python_opts_free(&o);
	fflush(stderr);
	return r;
}

/* In a child: re-initialise the interpreter and call
 * _forkd_python.FN(argv, environ); the result is the exit code. */
static int
python_child_run(const char *fn, int argc, char **argv)
{
	PyObject	*av = NULL, *env = NULL, *res, *b;
	size_t		 n = 0;
	long		 code = 1;

	PyOS_AfterFork_Child();
	if ((av = PyList_New(argc)) == NULL)
		goto out;
	for (int i = 0; i < argc; i++) {
		if ((b = PyBytes_FromString(argv[i])) == NULL)
			goto out;
		PyList_SET_ITEM(av, i, b);
	}
	while (environ != NULL && environ[n] != NULL)
		n++;
	if ((env = PyList_New((Py_ssize_t)n)) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if ((b = PyBytes_FromString(environ[i])) == NULL)
			goto out;
		PyList_SET_ITEM(env, (Py_ssize_t)i, b);
	}
	res = PyObject_CallMethod(python_boot, fn, "OO", av, env);
	if (res != NULL) {
		code = PyLong_AsLong(res);
		Py_DECREF(res);
	}
out:
	if (PyErr_Occurred()) {
		PyErr_Print();
		code = 1;
	}
	Py_XDECREF(av);
	Py_XDECREF(env);
	fflush(stdout);
	fflush(stderr);
	return (int)(code & 0xff);
}

/* Under valgrind? It ends the process at a clone() it does not know
 * (CLONE_VM without CLONE_THREAD). */
static int
python_on_valgrind(void)
{
	const char *pre = getenv("LD_PRELOAD");

	return PYTHON_ON_VALGRIND() || (pre != NULL &&
	    strstr(pre, "vgpreload") != NULL);
}

/* The helper that outlives a child by the time its address space takes
 * to go: its stack, and the child it belongs to. */
static char	python_reaper_stack[16384] __attribute__((aligned(64)));
static pid_t	python_reaper_parent;

/* The helper: once its parent (the child) is gone, be killed, and so
 * release the address space last. Raw system calls only, on its own
 * stack, every signal blocked but the death signal: it never runs code
 * of the child's again, and touches no state of libc's (only errno, on a
 * failed call, which the exiting child no longer reads). It first closes
 * its copies of the child's fds, so that a client reading the child's
 * stdout sees the end when the child ends, not when the unmapping does. */
__attribute__((no_sanitize("address", "undefined")))
static int
python_reaper_main(void *arg)
{
	uint64_t all = ~UINT64_C(0);

	(void)arg;
	(void)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL,
	    sizeof all);
	(void)syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (syscall(SYS_getppid) != python_reaper_parent)
		(void)syscall(SYS_exit, 0);
	/* After the death signal is set: a close() that blocks (FUSE) ends
	 * with the child too. */
	(void)syscall(SYS_close_range, 0U, ~0U, 0U);
	for (;;)
		(void)syscall(SYS_pause);
	return 0;
}

/* The end of an entry, its code done and stdio flushed: exit without
 * tearing the warm image down first.
 *
 * The last exit of an image with the interpreter and numpy in it unmaps
 * some 250 mappings and 4,000 pages: about 1.6 ms of the child's CPU on
 * the bench's 2-vCPU VM, and the child's exit status reaches forkd (and
 * join()) only after it. So the child clones a helper that shares its
 * memory (CLONE_VM) and then exits: its own exit_mm() is not the last,
 * the exit is reported at once, and the helper, killed by the child's
 * death (PR_SET_PDEATHSIG), unmaps everything after it.
 * - The helper is made here, after the set-up: it has the child's
 *   credentials, limits, cgroup, namespaces and seccomp filter, so no
 *   privilege the target lacks. It exists only once the target's code
 *   has returned, so the target never sees it (an os.wait() of its own).
 * - It is the child's child, so once the child is gone it is re-parented
 *   (to PID 1 or the nearest subreaper), which reaps it. Not forkd's
 *   (CLONE_PARENT): it would then be, for the time the unmapping takes,
 *   a child of forkd's after the child's exit was reported, where
 *   forkd's own children are the ones it spawned.
 * - Where it cannot be made (a pids limit, a seccomp filter, valgrind,
 *   which runs no clone() it does not know), the child exits as before.
 * - The child's reported rusage no longer counts the unmapping. */
static void
python_exit_early(void)
{
	if (python_on_valgrind())
		return;
	python_reaper_parent = getpid();
	(void)clone(python_reaper_main, python_reaper_stack +
	    sizeof python_reaper_stack, CLONE_VM | SIGCHLD, NULL);
}

/* Is NAME=... (s) named in env[0..n)? */
static int
python_env_named(char **env, size_t n, const char *s)
{
	size_t	len = strcspn(s, "=");

	for (size_t i = 0; i < n; i++)
		if (strncmp(env[i], s, len) == 0 && env[i][len] == '=')
			return 1;
	return 0;
}

/* python:call TARGET --environ N NAME=VALUE...: the client's environment
 * (forkd's package sends its os.environ, as a multiprocessing child has
 * its parent's), set over the child's in one new array before Python
 * reads it into os.environ. A setenv() per variable copies the array and
 * allocates each time: some 5 us apiece in a fresh child, 0.2 ms for a
 * shell's environment. The strings stay where they are, in argv, which
 * lives as long as the child; the block leaves argv (Python need not
 * decode it). Returns the new argc. Not under allow= (there the module's
 * options alone say what the child is). Anything malformed is left
 * alone here: child_call() refuses it (exit 2). */
static int
python_client_environ(int argc, char **argv)
{
	char		**env, **nenv, *end;
	size_t		  n, have = 0, k = 0;
	long		  count;

	if (python_restricted || argc < 4 || strcmp(argv[2], "--environ") != 0 ||
	    argv[3][0] < '0' || argv[3][0] > '9')
		return argc;
	errno = 0;
	count = strtol(argv[3], &end, 10);
	if (*end != '\0' || errno != 0 || count < 1 || count > argc - 4)
		return argc;
	n = (size_t)count;
	env = argv + 4;
	for (size_t i = 0; i < n; i++)
		if (env[i][0] == '=' || strchr(env[i], '=') == NULL)
			return argc;
	while (environ != NULL && environ[have] != NULL)
		have++;
	if ((nenv = calloc(have + n + 1, sizeof *nenv)) == NULL)
		return argc;
	for (size_t i = 0; i < have; i++)
		if (!python_env_named(env, n, environ[i]))
			nenv[k++] = environ[i];
	for (size_t i = 0; i < n; i++)
		if (!python_env_named(env + i + 1, n - i - 1, env[i]))
			nenv[k++] = env[i];	/* the last of a name wins */
	nenv[k] = NULL;
	environ = nenv;
	/* Python need not see them again: argv loses the block (its
	 * pointers move down; the strings stay for environ). */
	memmove(argv + 2, argv + 4 + n, (size_t)(argc - 4 - (int)n) *
	    sizeof *argv);
	argv[argc - 2 - (int)n] = NULL;
	return argc - 2 - (int)n;
}

/* Entry python:call MODULE:QUALNAME [--environ N NAME=VALUE...] [OPTIONS]
 * [-- ARGV...]. */
static int
python_call(int argc, char **argv)
{
	int code;

	argc = python_client_environ(argc, argv);
	code = python_child_run("child_call", argc, argv);

	python_exit_early();
	return code;
}

/* Entry python:main MODULE [ARGS...]. */
static int
python_main(int argc, char **argv)
{
	int code = python_child_run("child_main", argc, argv);

	python_exit_early();
	return code;
}

static const struct forkd_module_entry python_entries[] = {
	{ "call", python_call, "MODULE:QUALNAME [--environ N NAME=VALUE...] "
	    "[--main SCRIPT] [OPTIONS] [-- ARGV...]: call it with pickled "
	    "(args, kwargs) from fd 3, the pickled result to fd 4; OPTIONS set "
	    "multiprocessing's current_process() and sys.path, ARGV sys.argv" },
	{ "main", python_main, "MODULE [ARGS...]: run MODULE as __main__ "
	    "(python -m)" },
	{ NULL, NULL, NULL }
};

/* With allow= set, this module limits what its entries run: forkd then
 * checks a request's environment as under allow_targets (PYTHON*, LD_*
 * and the like refused unless allow_env names them), or a client could
 * undo those limits through the environment of the child or of the
 * programs an allowed target runs. */
FORKD_MODULE_EXPORT int	forkd_module_restricted(void);

int
forkd_module_restricted(void)
{
	return python_restricted;
}

FORKD_MODULE_EXPORT const struct forkd_module forkd_module_info = {
	.abi_version = FORKD_MODULE_ABI_VERSION,
	.name = "python",
	.description = "embedded CPython: preloaded imports, module:function "
	    "targets",
	.init = python_init,
	.entries = python_entries,
};
