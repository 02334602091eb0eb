// SPDX-License-Identifier: GPL-2.0
/* Linux 6.8 dropped the count argument of eventfd_signal(). */
#include <linux/eventfd.h>

void probe(struct eventfd_ctx *ctx);
void probe(struct eventfd_ctx *ctx)
{
	eventfd_signal(ctx);
}
