# search_progress_1.gp: written by `cnnbench report`; the data is in search_progress_1.dat (tab-separated, '?' = missing).
# Edit freely, then render with:  gnuplot -e "fmt='svg'" search_progress_1.gp   (or fmt='png')
if (!exists("fmt")) fmt = "svg"
if (fmt eq "png") {
  set terminal pngcairo size 1000,540 noenhanced font "sans,10" background rgb "white"
  set output "search_progress_1.png"
} else {
  set terminal svg size 1000,540 dynamic noenhanced font "sans,11" background rgb "white"
  set output "search_progress_1.svg"
}
set datafile separator "\t"
set datafile missing "?"
set encoding utf8
set grid ytics lc rgb "#dddddd"
set border lc rgb "#555555"
set bmargin 5
set label 999 "cnnbench 0.1.0 (6e6abdd60681) · AMD EPYC · 2 threads · vm" at screen 0.01, screen 0.015 left font ",8" tc rgb "#777777"
set title "Best test accuracy so far, per generation\ngenetic search over searches/fmnist.toml (seed 1) on fashion-mnist"
set xlabel "generation"
set ylabel "test accuracy (%)"
set xrange [-0.5:2.5]
set xtics 1
set key bottom right
plot "search_progress_1.dat" index 1 using 1:2 with points pt 7 ps 0.9 lc rgb "#9e9e9e" title "candidate", \
     "" index 0 using 1:2 with steps lw 2.5 lc rgb "#1f77b4" title "best so far", \
     "" index 0 using 1:2 with points pt 7 ps 1.2 lc rgb "#1f77b4" notitle
unset output
