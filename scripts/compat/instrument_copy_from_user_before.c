// SPDX-License-Identifier: GPL-2.0
/*
 * instrument_copy_from_user_before() and _after() replaced
 * instrument_copy_from_user() in 6.1 (KMSAN).
 */
#include <linux/instrumented.h>

void probe(void *to, const void __user *from, unsigned long n);
void probe(void *to, const void __user *from, unsigned long n)
{
	instrument_copy_from_user_before(to, from, n);
	instrument_copy_from_user_after(to, from, n, 0);
}
