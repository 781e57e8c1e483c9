# breakdown_1.gp: written by `cnnbench report`; the data is in breakdown_1.dat (tab-separated, '?' = missing).
# Edit freely, then render with:  gnuplot -e "fmt='svg'" breakdown_1.gp   (or fmt='png')
if (!exists("fmt")) fmt = "svg"
if (fmt eq "png") {
  set terminal pngcairo size 1840,600 noenhanced font "sans,10" background rgb "white"
  set output "breakdown_1.png"
} else {
  set terminal svg size 1840,600 dynamic noenhanced font "sans,11" background rgb "white"
  set output "breakdown_1.svg"
}
set datafile separator "\t"
set datafile missing "?"
set encoding utf8
set grid ytics lc rgb "#dddddd"
set border lc rgb "#555555"
set bmargin 5
set label 999 "cnnbench 0.1.0 (6e6abdd60681) · AMD EPYC · 2 threads · vm" at screen 0.01, screen 0.015 left font ",8" tc rgb "#777777"
set title "Step-time breakdown (median ms per phase, stacked)\nsimple on fashion-mnist, batch 64"
set style data histograms
set style histogram rowstacked
set style fill solid 0.9 border lc rgb "#333333"
set boxwidth 0.7
set ylabel "ms per step"
set yrange [0:*]
set xtics rotate by -30 left nomirror noenhanced
set bmargin 10
set key outside right top vertical
plot "breakdown_1.dat" using 2:xtic(1) title "data wait" lc rgb "#8c564b", \
     "" using 3 title "H2D copy" lc rgb "#e377c2", \
     "" using 4 title "forward" lc rgb "#1f77b4", \
     "" using 5 title "backward" lc rgb "#ff7f0e", \
     "" using 6 title "loss/accuracy" lc rgb "#bcbd22", \
     "" using 7 title "numerics check" lc rgb "#7f7f7f", \
     "" using 8 title "exchange" lc rgb "#d62728", \
     "" using 9 title "update" lc rgb "#2ca02c"
unset output
