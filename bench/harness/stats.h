/* stats.h: growable sample sets of nanosecond figures and their order
 * statistics (median, p99 by the nearest-rank method). */
#ifndef HARNESS_STATS_H
#define HARNESS_STATS_H

#include <stddef.h>
#include <stdint.h>

struct stats {
	uint64_t	*st_v;
	size_t		 st_n;
	size_t		 st_cap;
	int		 st_sorted;
};

void	stats_add(struct stats *, uint64_t v);
void	stats_merge(struct stats *, const struct stats *from);
/* The p-th percentile (0 < p <= 100), nearest rank; 0 when empty. */
double	stats_pct(struct stats *, double p);
double	stats_mean(const struct stats *);
double	stats_min(struct stats *);
double	stats_max(struct stats *);
void	stats_free(struct stats *);

#endif
