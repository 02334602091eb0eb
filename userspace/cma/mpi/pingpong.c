// SPDX-License-Identifier: GPL-2.0
/*
 * mpi-pingpong: ranks 0 and 1 bounce messages of growing size; rank 1
 * checks every byte it received, rank 0 every byte of the echo. Prints one line per size, as CSV when
 * asked: the median and the best round trip, and the bandwidths they give
 * (2 * size bytes per round trip). The best is the figure least disturbed
 * by other load on the machine, the median the typical one.
 *
 *	mpi-pingpong [-c] [-i ITERS] [-m MAXSIZE] [-s MINSIZE]
 *
 * Exit 0 when every byte arrived right, 1 when one did not.
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char pattern(size_t i, unsigned int size_log, unsigned int it,
			     int from)
{
	return (unsigned char)(i * 131 + (i >> 11) * 7 + size_log * 17 +
			       it * 29 + from * 101 + 1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void fill(unsigned char *b, size_t n, unsigned int sl, unsigned int it,
		 int from)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pattern(i, sl, it, from);
}

static long check(const unsigned char *b, size_t n, unsigned int sl,
		  unsigned int it, int from)
{
	long bad = 0;

	for (size_t i = 0; i < n; i++)
		if (b[i] != pattern(i, sl, it, from)) {
			if (!bad)
				fprintf(stderr, "mpi-pingpong: size %zu iter %u: byte %zu is 0x%02x, expected 0x%02x\n",
					n, it, i, b[i], pattern(i, sl, it, from));
			bad++;
		}
	return bad;
}

int main(int argc, char **argv)
{
	size_t min = 1, max = 4 << 20;
	unsigned int iters = 20;
	int csv = 0, rank, nranks, opt;
	long bad = 0, all_bad;
	unsigned char *buf, *echo;
	double *rt;

	while ((opt = getopt(argc, argv, "ci:m:s:")) != -1) {
		switch (opt) {
		case 'c': csv = 1; break;
		case 'i': iters = strtoul(optarg, NULL, 0); break;
		case 'm': max = strtoull(optarg, NULL, 0); break;
		case 's': min = strtoull(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: mpi-pingpong [-c] [-i ITERS] [-m MAX] [-s MIN]\n");
			return 2;
		}
	}
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	if (nranks < 2) {
		fprintf(stderr, "mpi-pingpong: needs 2 ranks\n");
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	buf = malloc(max);
	echo = malloc(max);
	rt = calloc(iters + 1, sizeof(*rt));
	if (!buf || !echo || !rt || !iters)
		MPI_Abort(MPI_COMM_WORLD, 2);
	if (rank == 0 && csv)
		printf("bytes,iters,usec_median,usec_best,MBps_median,MBps_best\n");
	for (size_t size = min; size <= max && rank < 2; size *= 2) {
		unsigned int sl = __builtin_ctzll(size);

		for (unsigned int it = 0; it <= iters; it++) {
			/*
			 * Rank 1 echoes the message at once and checks it
			 * afterwards; rank 0 checks the echo. Checking and
			 * filling stay out of the timed round trip; the
			 * barrier keeps rank 1's check out of the next one.
			 * Iteration 0 warms up (registration, first touch).
			 */
			MPI_Barrier(MPI_COMM_WORLD);
			if (rank == 0) {
				double t0;

				fill(buf, size, sl, it, 0);
				memset(echo, 0, size);
				t0 = MPI_Wtime();
				MPI_Send(buf, size, MPI_BYTE, 1, it, MPI_COMM_WORLD);
				MPI_Recv(echo, size, MPI_BYTE, 1, it, MPI_COMM_WORLD,
					 MPI_STATUS_IGNORE);
				if (it)
					rt[it - 1] = MPI_Wtime() - t0;
				bad += check(echo, size, sl, it, 0);
			} else {
				memset(buf, 0, size);
				MPI_Recv(buf, size, MPI_BYTE, 0, it, MPI_COMM_WORLD,
					 MPI_STATUS_IGNORE);
				MPI_Send(buf, size, MPI_BYTE, 0, it, MPI_COMM_WORLD);
				bad += check(buf, size, sl, it, 0);
			}
		}
		if (rank == 0) {
			double med, best;

			qsort(rt, iters, sizeof(*rt), cmp_double);
			med = rt[iters / 2] * 1e6;
			best = rt[0] * 1e6;
			if (med <= 0)
				med = 1e-3;
			if (best <= 0)
				best = 1e-3;
			if (csv)
				printf("%zu,%u,%.2f,%.2f,%.1f,%.1f\n", size, iters,
				       med, best, 2.0 * size / med, 2.0 * size / best);
			else
				printf("%10zu bytes %10.2f us/roundtrip (best %10.2f) %9.1f MB/s (best %9.1f)\n",
				       size, med, best, 2.0 * size / med,
				       2.0 * size / best);
			fflush(stdout);
		}
	}
	MPI_Allreduce(&bad, &all_bad, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
	if (rank == 0)
		printf("mpi-pingpong: %s: %ld bad bytes\n",
		       all_bad ? "FAILED" : "every byte right", all_bad);
	free(buf);
	free(echo);
	free(rt);
	MPI_Finalize();
	return all_bad ? 1 : 0;
}
