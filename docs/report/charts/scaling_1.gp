# scaling_1.gp: written by `cnnbench report`; the data is in scaling_1.dat (tab-separated, '?' = missing).
# Edit freely, then render with:  gnuplot -e "fmt='svg'" scaling_1.gp   (or fmt='png')
if (!exists("fmt")) fmt = "svg"
if (fmt eq "png") {
  set terminal pngcairo size 1200,540 noenhanced font "sans,10" background rgb "white"
  set output "scaling_1.png"
} else {
  set terminal svg size 1200,540 dynamic noenhanced font "sans,11" background rgb "white"
  set output "scaling_1.svg"
}
set datafile separator "\t"
set datafile missing "?"
set encoding utf8
set grid ytics lc rgb "#dddddd"
set border lc rgb "#555555"
set bmargin 5
set label 999 "cnnbench 0.1.0 (6e6abdd60681) · AMD EPYC · 2 threads · vm" at screen 0.01, screen 0.015 left font ",8" tc rgb "#777777"
set multiplot layout 1,2 title "Strong scaling (global batch 64): cpu-gemm, simple on fashion-mnist"
set logscale x 2
set xrange [0.8:2.5]
set xtics (1,2)
set xlabel "devices N"
set key top left
set title "throughput"
set ylabel "images/s"
set yrange [0:*]
plot 2547.62 * x with lines dt 2 lw 1.5 lc rgb "#888888" title "ideal N·X(1)", \
     "scaling_1.dat" using 1:2 with linespoints lw 2 pt 7 title "allreduce", \
     "scaling_1.dat" using 1:4 with linespoints lw 2 pt 7 title "tower", \
     "scaling_1.dat" using 1:6 with linespoints lw 2 pt 7 title "param-avg", \
     "scaling_1.dat" using 1:8 with linespoints lw 2 pt 7 title "independent"
set title "scaling efficiency E(N) = X(N) / (N·X(1))"
set ylabel "efficiency (%)"
set yrange [0:120]
set key bottom left
plot 100 with lines dt 2 lw 1.5 lc rgb "#888888" title "ideal", \
     "scaling_1.dat" using 1:3 with linespoints lw 2 pt 7 title "allreduce", \
     "scaling_1.dat" using 1:5 with linespoints lw 2 pt 7 title "tower", \
     "scaling_1.dat" using 1:7 with linespoints lw 2 pt 7 title "param-avg", \
     "scaling_1.dat" using 1:9 with linespoints lw 2 pt 7 title "independent"
unset multiplot
unset output
