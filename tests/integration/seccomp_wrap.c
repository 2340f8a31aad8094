/* seccomp_wrap.c: run a program under a seccomp filter like the one
 * systemd installs for forkd.service, without systemd (no LD_PRELOAD).
 *
 *   seccomp_wrap clone3 PROG [ARGS...]
 *	clone3() fails with ENOSYS, as under any RestrictNamespaces= of
 *	systemd >= 251 (seccomp cannot read clone3's flags, so systemd
 *	makes it look missing).
 *   seccomp_wrap unit PROG [ARGS...]
 *	That, plus what else of forkd.service a filter can approximate:
 *	RestrictNamespaces=yes (unshare() and clone() with a CLONE_NEW*
 *	flag, and setns(), fail with EPERM) and SystemCallFilter=~@privileged
 *	(its system calls fail with EPERM, SystemCallErrorNumber=EPERM).
 *	As root, before the filter, also PrivateNetwork= and PrivateMounts=
 *	(new network and mount namespaces, / a slave) and
 *	CapabilityBoundingSet= (every capability dropped, bounding set
 *	emptied: uid 0 without capabilities stands in for User=forkd).
 *	Not approximated: the @system-service allow-list (forkd's calls are
 *	all in it; a deny-list cannot express it), the file system and
 *	device sandbox (ProtectSystem=, PrivateDevices=, ...), User= itself.
 *
 * With SECCOMP_WRAP_MODE (clone3 or unit) and SECCOMP_WRAP_EXEC (PROG) in
 * the environment, every argument goes to PROG: the integration harness
 * then starts it as it would start forkd.
 *
 * Sets no_new_privs (needed for an unprivileged filter; the unit has
 * NoNewPrivileges=yes too) and execs PROG. x86_64 only (the syscall
 * numbers); elsewhere it exits 77 (skip). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP	0x02000000
#endif
#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | \
	CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP)

#define RET_ERRNO(e)	(SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))
#define LOAD_NR		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, \
	offsetof(struct seccomp_data, nr))
#define LOAD_ARG0_LO	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, \
	offsetof(struct seccomp_data, args[0]))

#if defined(__x86_64__)
/* systemd-analyze syscall-filter @privileged (systemd 252), the calls that
 * exist on x86_64. */
static const int privileged[] = {
	SYS_chown, SYS_fchown, SYS_fchownat, SYS_lchown,	/* @chown */
	SYS_adjtimex, SYS_clock_adjtime, SYS_clock_settime,
	SYS_settimeofday,					/* @clock */
	SYS_delete_module, SYS_finit_module, SYS_init_module,	/* @module */
	SYS_ioperm, SYS_iopl,					/* @raw-io */
	SYS_kexec_file_load, SYS_kexec_load, SYS_reboot,	/* @reboot */
	SYS_swapoff, SYS_swapon,				/* @swap */
	SYS__sysctl, SYS_acct, SYS_bpf, SYS_capset, SYS_chroot,
	SYS_fanotify_init, SYS_fanotify_mark, SYS_nfsservctl,
	SYS_open_by_handle_at, SYS_pivot_root, SYS_quotactl,
	SYS_setdomainname, SYS_setfsuid, SYS_setgroups, SYS_sethostname,
	SYS_setresuid, SYS_setreuid, SYS_setuid, SYS_vhangup,
};
#define NPRIV	(sizeof privileged / sizeof privileged[0])
#endif

#if defined(__x86_64__)
/* As root: PrivateNetwork=, PrivateMounts=, CapabilityBoundingSet=. */
static int
sandbox_root(void)
{
	struct __user_cap_header_struct	hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct	data[_LINUX_CAPABILITY_U32S_3];

	if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) {
		fprintf(stderr, "seccomp_wrap: namespaces: %s\n",
		    strerror(errno));
		return -1;
	}
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 &&
		    errno == EINVAL)
			break;
	memset(data, 0, sizeof data);
	if (syscall(SYS_capset, &hdr, data) != 0) {
		fprintf(stderr, "seccomp_wrap: capset: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}
#endif

int
main(int argc, char **argv)
{
#if defined(__x86_64__)
	struct sock_filter	f[16 + 2 * NPRIV];
	struct sock_fprog	prog;
	size_t			n = 0;
	const char		*mode, *exe;
	char			**args;
	int			unit;

	if ((mode = getenv("SECCOMP_WRAP_MODE")) != NULL &&
	    (exe = getenv("SECCOMP_WRAP_EXEC")) != NULL) {
		args = argv;
		args[0] = (char *)exe;
	} else if (argc >= 3) {
		mode = argv[1];
		exe = argv[2];
		args = argv + 2;
	} else
		mode = exe = "";
	if (strcmp(mode, "clone3") != 0 && strcmp(mode, "unit") != 0) {
		fprintf(stderr, "usage: seccomp_wrap clone3|unit PROG "
		    "[ARGS...]\n");
		return 2;
	}
	unit = strcmp(mode, "unit") == 0;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    RET_ERRNO(ENOSYS));
	f[n++] = (struct sock_filter)LOAD_NR;
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    SYS_clone3, 0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    RET_ERRNO(ENOSYS));
	if (unit) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
		    BPF_K, SYS_setns, 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		    RET_ERRNO(EPERM));
		for (size_t i = 0; i < NPRIV; i++) {
			f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP |
			    BPF_JEQ | BPF_K, (unsigned)privileged[i], 0, 1);
			f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
			    RET_ERRNO(EPERM));
		}
		/* unshare(flags) and clone(flags, ...): a namespace flag in
		 * the low word of the first argument is refused. */
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
		    BPF_K, SYS_unshare, 1, 0);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
		    BPF_K, SYS_clone, 0, 3);
		f[n++] = (struct sock_filter)LOAD_ARG0_LO;
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET |
		    BPF_K, NS_FLAGS, 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		    RET_ERRNO(EPERM));
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ALLOW);
	/* 77: skipped (a container that refuses namespaces). */
	if (unit && geteuid() == 0 && sandbox_root() != 0)
		return 77;
	prog.len = (unsigned short)n;
	prog.filter = f;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		fprintf(stderr, "seccomp_wrap: cannot install the filter: %s\n",
		    strerror(errno));
		return 1;
	}
	execv(exe, args);
	fprintf(stderr, "seccomp_wrap: %s: %s\n", exe, strerror(errno));
	return 127;
#else
	(void)argc;
	(void)argv;
	fprintf(stderr, "seccomp_wrap: x86_64 only: skipped\n");
	return 77;
#endif
}
