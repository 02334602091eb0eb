// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy: the module's counters (see stats.h).
 */
#include "stats.h"

struct xpc_stats xpc_stats;
