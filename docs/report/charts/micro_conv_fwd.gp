# micro_conv_fwd.gp: written by `cnnbench report`; the data is in micro_conv_fwd.dat (tab-separated, '?' = missing).
# Edit freely, then render with:  gnuplot -e "fmt='svg'" micro_conv_fwd.gp   (or fmt='png')
if (!exists("fmt")) fmt = "svg"
if (fmt eq "png") {
  set terminal pngcairo size 800,560 noenhanced font "sans,10" background rgb "white"
  set output "micro_conv_fwd.png"
} else {
  set terminal svg size 800,560 dynamic noenhanced font "sans,11" background rgb "white"
  set output "micro_conv_fwd.svg"
}
set datafile separator "\t"
set datafile missing "?"
set encoding utf8
set grid ytics lc rgb "#dddddd"
set border lc rgb "#555555"
set bmargin 5
set label 999 "cnnbench 0.1.0 (6e6abdd60681) · AMD EPYC · 2 threads · vm" at screen 0.01, screen 0.015 left font ",8" tc rgb "#777777"
set title "conv_fwd: GFLOP/s per kernel variant (higher is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border lc rgb "#333333"
set logscale y
set yrange [0.616584:846.916]
set ylabel "GFLOP/s (log scale)"
set xtics rotate by -30 left nomirror noenhanced
set bmargin 10
set key outside right top vertical noenhanced
plot for [i=2:4] "micro_conv_fwd.dat" using i:xtic(1) title columnheader(i)
unset output
