/* stats.c: sample sets and percentiles. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "util.h"

/* Append a sample. */
void
stats_add(struct stats *s, uint64_t v)
{
	if (s->st_n == s->st_cap) {
		size_t		 cap = s->st_cap ? s->st_cap * 2 : 256;
		uint64_t	*nv = realloc(s->st_v, cap * sizeof *nv);

		if (nv == NULL)
			util_die("out of memory for samples");
		s->st_v = nv;
		s->st_cap = cap;
	}
	s->st_v[s->st_n++] = v;
	s->st_sorted = 0;
}

/* Append every sample of another set. */
void
stats_merge(struct stats *s, const struct stats *from)
{
	for (size_t i = 0; i < from->st_n; i++)
		stats_add(s, from->st_v[i]);
}

/* Compare two samples for qsort(). */
static int
stats_cmp(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Sort once, before the first percentile. */
static void
stats_sort(struct stats *s)
{
	if (!s->st_sorted && s->st_n > 0)
		qsort(s->st_v, s->st_n, sizeof *s->st_v, stats_cmp);
	s->st_sorted = 1;
}

/* Nearest-rank percentile. */
double
stats_pct(struct stats *s, double p)
{
	size_t	rank;

	if (s->st_n == 0)
		return 0;
	stats_sort(s);
	rank = (size_t)ceil(p / 100.0 * (double)s->st_n);
	if (rank < 1)
		rank = 1;
	if (rank > s->st_n)
		rank = s->st_n;
	return (double)s->st_v[rank - 1];
}

/* Arithmetic mean. */
double
stats_mean(const struct stats *s)
{
	double	sum = 0;

	if (s->st_n == 0)
		return 0;
	for (size_t i = 0; i < s->st_n; i++)
		sum += (double)s->st_v[i];
	return sum / (double)s->st_n;
}

/* Smallest sample. */
double
stats_min(struct stats *s)
{
	return stats_pct(s, 0.0000001);
}

/* Largest sample. */
double
stats_max(struct stats *s)
{
	return stats_pct(s, 100);
}

/* Free the samples and empty the set. */
void
stats_free(struct stats *s)
{
	free(s->st_v);
	memset(s, 0, sizeof *s);
}
