# curves_1.gp: written by `cnnbench report`; the data is in curves_1.dat (tab-separated, '?' = missing).
# Edit freely, then render with:  gnuplot -e "fmt='svg'" curves_1.gp   (or fmt='png')
if (!exists("fmt")) fmt = "svg"
if (fmt eq "png") {
  set terminal pngcairo size 1200,540 noenhanced font "sans,10" background rgb "white"
  set output "curves_1.png"
} else {
  set terminal svg size 1200,540 dynamic noenhanced font "sans,11" background rgb "white"
  set output "curves_1.svg"
}
set datafile separator "\t"
set datafile missing "?"
set encoding utf8
set grid ytics lc rgb "#dddddd"
set border lc rgb "#555555"
set bmargin 5
set label 999 "cnnbench 0.1.0 (6e6abdd60681) · AMD EPYC · 2 threads · vm" at screen 0.01, screen 0.015 left font ",8" tc rgb "#777777"
array T[10] = ["cpu-gemm allreduce x2 b64/dev 1 thr", "cpu-gemm tower x2 b64/dev 1 thr", "cpu-gemm independent x2 b64/dev 1 thr", "cpu-gemm allreduce x2 b64 global 1 thr", "cpu-gemm tower x2 b64 global 1 thr", "cpu-gemm param-avg x2 b64/dev 1 thr", "cpu-gemm single x1 b64 1 thr", "cpu-gemm allreduce x1 b64 1 thr", "cpu-gemm tower x1 b64 1 thr", "cpu-gemm param-avg x1 b64 1 thr"]
set multiplot layout 1,2 title "Learning curves against wall time (evaluation included): simple on fashion-mnist, batch 64"
set xlabel "wall time (s)"
set xrange [0:*]
set title "loss (solid: test, dashed: train)"
set ylabel "cross-entropy loss"
set key top right
plot for [i=1:10] "curves_1.dat" index (i-1) using 1:3 with linespoints lw 2 pt 7 lc i title T[i], \
     for [i=1:10] "curves_1.dat" index (i-1) using 1:2 with lines dt 2 lc i notitle
set title "test accuracy"
set ylabel "test accuracy (%)"
set yrange [0:100]
set key bottom right
plot for [i=1:10] "curves_1.dat" index (i-1) using 1:4 with linespoints lw 2 pt 7 lc i title T[i], \
     85 with lines dt 3 lc rgb "#444444" title "target 85%"
unset multiplot
unset output
