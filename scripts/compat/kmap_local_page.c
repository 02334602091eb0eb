// SPDX-License-Identifier: GPL-2.0
/* kmap_local_page() and kunmap_local() came in 5.11. */
#include <linux/highmem.h>

void probe(struct page *page);
void probe(struct page *page)
{
	kunmap_local(kmap_local_page(page));
}
