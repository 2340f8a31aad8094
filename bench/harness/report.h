/* report.h: machine information, the printed table, the goals of issue 17
 * (and issue 4's memory target) with PASS/MISS, and the JSON file. */
#ifndef HARNESS_REPORT_H
#define HARNESS_REPORT_H

#include <stdio.h>

#include "harness.h"

/* Fill the machine fields of res (CPU, kernel, memory, THP). */
void	report_machine(struct h_results *res);
/* The load average now, "1m 5m 15m", into buf. */
void	report_loadavg(char *buf, size_t len);
/* The machine line(s) printed before anything is measured. */
void	report_header(FILE *, const struct h_results *res);
/* The result tables and the targets. */
void	report_print(FILE *, struct h_results *res);
/* Write everything as JSON to path: 0 or -errno. */
int	report_json(const char *path, struct h_results *res);

#endif
