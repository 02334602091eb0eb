# SPDX-License-Identifier: GPL-2.0
#
# Plot the CSV of xpcopy-bench: GB/s against bytes per call, log-log, one
# line per method and direction (write solid, read dashed, one colour per
# method), and, when the CSV has round trips, a second PNG of their latency.
#
#	gnuplot -e "csv='bench.csv'; out='bench.png'" plot.gp
#
# Variables: csv (input, default bench.csv), out (default: csv with .png),
# lat (latency PNG, default: out with -latency.png), title (default: csv).
# Needs awk. Uses the pngcairo terminal when there is one, else png.

if (!exists("csv")) csv = "bench.csv"
if (!exists("out")) out = (strstrt(csv, ".csv") == strlen(csv) - 3 ? csv[1:strlen(csv) - 4] : csv) . ".png"
if (!exists("lat")) lat = out[1:strlen(out) - 4] . "-latency.png"
if (!exists("title")) title = csv

# Methods in the order of the CSV, and whether there are round trips.
methods = system(sprintf("awk -F, 'NR > 1 && !seen[$1]++ { printf \"%%s \", $1 }' '%s'", csv))
nrtt = int(system(sprintf("awk -F, 'NR > 1 && $2 == \"roundtrip\"' '%s' | wc -l", csv)))
if (words(methods) == 0) { print "plot.gp: no data in " . csv; exit status 1 }

rows(m, d) = sprintf("< awk -F, '$1 == \"%s\" && $2 == \"%s\"' '%s'", m, d, csv)
dir(j) = word("write read", j)
# One colour per method: as many as xpcopy-bench has methods (14), and more.
colors = "#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf #000000 #aec7e8 #ffbb78 #98df8a #ff9896 #c5b0d5"
col(i) = word(colors, (i - 1) % words(colors) + 1)

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
	set terminal pngcairo size 1280,800 noenhanced font ",11"
} else {
	set terminal png size 1280,800 noenhanced
}
set datafile separator ","
set key outside right top
set grid xtics ytics mxtics mytics
set logscale x 2
set logscale y 10
set offsets graph 0.03, graph 0.03, 0, 0
set xtics ("64" 64, "256" 256, "1K" 1024, "4K" 4096, "16K" 16384, \
	"64K" 65536, "256K" 262144, "1M" 1048576, "4M" 4194304, \
	"16M" 16777216, "64M" 67108864, "256M" 268435456, "1G" 1073741824)
set xlabel "bytes per call"
set ylabel "GB/s (from the median time per call)"
set title title . ": throughput"
set output out
plot for [i = 1:words(methods)] for [j = 1:2] rows(word(methods, i), dir(j)) \
	using 3:9 smooth unique with linespoints lc rgb col(i) dt j pt (j == 1 ? 7 : 6) \
	title word(methods, i) . " " . dir(j)
set output
print "plot.gp: wrote " . out

if (nrtt > 0) {
	set ylabel "microseconds per round trip (write, then read back; median)"
	set title title . ": round-trip latency"
	set output lat
	plot for [i = 1:words(methods)] rows(word(methods, i), "roundtrip") \
		using 3:11 smooth unique with linespoints lc rgb col(i) pt 7 \
		title word(methods, i)
	set output
	print "plot.gp: wrote " . lat
}
