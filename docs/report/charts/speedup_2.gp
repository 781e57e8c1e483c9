# speedup_2.gp: written by `cnnbench report`; the data is in speedup_2.dat (tab-separated, '?' = missing).
# Edit freely, then render with:  gnuplot -e "fmt='svg'" speedup_2.gp   (or fmt='png')
if (!exists("fmt")) fmt = "svg"
if (fmt eq "png") {
  set terminal pngcairo size 800,600 noenhanced font "sans,10" background rgb "white"
  set output "speedup_2.png"
} else {
  set terminal svg size 800,600 dynamic noenhanced font "sans,11" background rgb "white"
  set output "speedup_2.svg"
}
set datafile separator "\t"
set datafile missing "?"
set encoding utf8
set grid ytics lc rgb "#dddddd"
set border lc rgb "#555555"
set bmargin 5
set label 999 "cnnbench 0.1.0 (6e6abdd60681) · AMD EPYC · 2 threads · vm" at screen 0.01, screen 0.015 left font ",8" tc rgb "#777777"
set title "Speedup over the sequential CPU baseline\nsimple on fashion-mnist, batch 256\n(cpu-ref single = 1 = 62.8 images/s; higher is better)"
set ylabel "speedup vs cpu-ref (log scale)"
set logscale y
set yrange [0.5:362.467]
set xrange [0.3:3.7]
set format y "%gx"
set style fill solid 0.85 border lc rgb "#333333"
set boxwidth 0.7
set xtics rotate by -30 left nomirror noenhanced
set bmargin 10
unset key
plot "speedup_2.dat" using 1:3:4:xtic(2) with boxes lc rgb variable, \
     "" using 1:3:(sprintf("%.2fx", $3)) with labels offset 0,0.8 font ",9", \
     1 with lines dt 2 lc rgb "#444444"
unset output
