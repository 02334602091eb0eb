// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy: the module's counters (see stats.h).
 */
#include <linux/cpumask.h>

#include "stats.h"

DEFINE_PER_CPU(struct xpc_stats, xpc_stats);
struct xpc_pinned xpc_pinned;

/**
 * xpc_stats_init() - ready the counters, before anything adds to them
 */
void xpc_stats_init(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		u64_stats_init(&per_cpu_ptr(&xpc_stats, cpu)->syncp);
}

/**
 * xpc_stat_read() - the value of a counter, summed over the CPUs
 * @s: the counter
 *
 * Return: the sum; additions under way on other CPUs may or may not be in,
 * but none is read torn.
 */
u64 xpc_stat_read(enum xpc_stat s)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu) {
		const struct xpc_stats *st = per_cpu_ptr(&xpc_stats, cpu);
		unsigned int start;
		u64 v;

		do {
			start = u64_stats_fetch_begin(&st->syncp);
			v = READ_ONCE(st->v[s]);
		} while (u64_stats_fetch_retry(&st->syncp, start));
		sum += v;
	}
	return sum;
}
