/* pyfs.h: the Python multiprocessing forkserver anchor. pyfs_worker.py runs
 * under python3 with its state module preloaded in the forkserver; each
 * command makes it time one start+join (or time to first byte) in-process
 * and answer with the nanoseconds, so its runs interleave with forkd's. */
#ifndef HARNESS_PYFS_H
#define HARNESS_PYFS_H

#include <stdint.h>
#include <sys/types.h>

struct pyfs {
	pid_t		py_pid;
	int		py_in;		/* commands to the worker */
	int		py_out;		/* its answers */
	unsigned long	py_mb;
	char		py_version[32];	/* Python's, from its "ready" line */
	char		py_buf[256];
	size_t		py_len;
};

/* Start python script (pyfs_worker.py) with mb MiB preloaded; pyfs_ready()
 * waits for its forkserver: 0, or -errno with a reason in err when Python
 * or its forkserver is unusable (the worker is then stopped). */
void	pyfs_launch(struct pyfs *, const char *python, const char *script,
	    unsigned long mb);
int	pyfs_ready(struct pyfs *, char *err, size_t errlen);
/* "ttfi" or "cycle": the nanoseconds measured by the worker. */
uint64_t pyfs_measure(struct pyfs *, const char *cmd);
void	pyfs_stop(struct pyfs *);

#endif
