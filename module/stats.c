// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy: the module's counters (see stats.h).
 */
#include <linux/cpumask.h>

#include "stats.h"

DEFINE_PER_CPU(struct xpc_stats, xpc_stats);
struct xpc_pinned xpc_pinned;

/**
 * xpc_stat_read() - the value of a counter, summed over the CPUs
 * @s: the counter
 *
 * Return: the sum; additions under way on other CPUs may or may not be in
 * (and on a 32-bit machine a CPU's count may be read torn, as statistics).
 */
u64 xpc_stat_read(enum xpc_stat s)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(per_cpu(xpc_stats, cpu).v[s]);
	return sum;
}
