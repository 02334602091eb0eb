// SPDX-License-Identifier: GPL-2.0
/* memfd_secret(2) and its file system, SECRETMEM_MAGIC, came in 5.14. */
#include <linux/magic.h>

unsigned long probe(void);
unsigned long probe(void)
{
	return SECRETMEM_MAGIC;
}
