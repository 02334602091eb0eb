// SPDX-License-Identifier: GPL-2.0
/*
 * mpi-alltoall: MPI_Alltoall of blocks of growing size; every rank checks
 * every byte it received from every rank.
 *
 *	mpi-alltoall [-i ITERS] [-m MAXBLOCK]
 *
 * Exit 0 when every byte arrived right, 1 when one did not.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static unsigned char pattern(size_t i, int from, int to, unsigned int it)
{
	return (unsigned char)(i * 37 + (i >> 12) + from * 53 + to * 11 +
			       it * 5 + 3);
}

int main(int argc, char **argv)
{
	size_t max = 1 << 20;
	unsigned int iters = 3;
	int rank, n, opt;
	long bad = 0, all_bad;
	unsigned char *s, *r;

	while ((opt = getopt(argc, argv, "i:m:")) != -1) {
		switch (opt) {
		case 'i': iters = strtoul(optarg, NULL, 0); break;
		case 'm': max = strtoull(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: mpi-alltoall [-i ITERS] [-m MAXBLOCK]\n");
			return 2;
		}
	}
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &n);
	s = malloc(max * n);
	r = malloc(max * n);
	if (!s || !r)
		MPI_Abort(MPI_COMM_WORLD, 2);
	for (size_t blk = 1024; blk <= max; blk *= 4) {
		for (unsigned int it = 0; it < iters; it++) {
			for (int to = 0; to < n; to++)
				for (size_t i = 0; i < blk; i++)
					s[to * blk + i] = pattern(i, rank, to, it);
			for (size_t i = 0; i < blk * n; i++)
				r[i] = 0;
			MPI_Alltoall(s, blk, MPI_BYTE, r, blk, MPI_BYTE,
				     MPI_COMM_WORLD);
			for (int from = 0; from < n; from++)
				for (size_t i = 0; i < blk; i++)
					if (r[from * blk + i] != pattern(i, from, rank, it)) {
						if (!bad)
							fprintf(stderr, "mpi-alltoall: rank %d block %zu from %d byte %zu wrong\n",
								rank, blk, from, i);
						bad++;
					}
		}
	}
	MPI_Allreduce(&bad, &all_bad, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
	if (rank == 0)
		printf("mpi-alltoall: %d ranks, blocks up to %zu: %s: %ld bad bytes\n",
		       n, max, all_bad ? "FAILED" : "every byte right", all_bad);
	free(s);
	free(r);
	MPI_Finalize();
	return all_bad ? 1 : 0;
}
