# projection_1.gp: written by `cnnbench report`; the data is in projection_1.dat (tab-separated, '?' = missing).
# Edit freely, then render with:  gnuplot -e "fmt='svg'" projection_1.gp   (or fmt='png')
if (!exists("fmt")) fmt = "svg"
if (fmt eq "png") {
  set terminal pngcairo size 1200,560 noenhanced font "sans,10" background rgb "white"
  set output "projection_1.png"
} else {
  set terminal svg size 1200,560 dynamic noenhanced font "sans,11" background rgb "white"
  set output "projection_1.svg"
}
set datafile separator "\t"
set datafile missing "?"
set encoding utf8
set grid ytics lc rgb "#dddddd"
set border lc rgb "#555555"
set bmargin 5
set label 999 "cnnbench 0.1.0 (6e6abdd60681) · AMD EPYC · 2 threads · vm" at screen 0.01, screen 0.015 left font ",8" tc rgb "#777777"
array L[6] = ["InfiniBand HDR (200 Gb/s)", "PCIe 4.0 x16", "InfiniBand NDR (400 Gb/s)", "PCIe 5.0 x16", "NVLink 3 (A100)", "NVLink 4 (H100)"]
set multiplot layout 1,2 title "Projected efficiency of pytorch-cpu single x1 b64 (900.1 kB of gradients per step, compute 43.047 ms/step)"
set logscale x 2
set xrange [1:64]
set xtics (1,2,4,8,16,32,64)
set yrange [0:105]
set xlabel "devices N"
set ylabel "efficiency (%)"
set key bottom left font ",9"
set title "weak scaling (batch 64 per device)"
plot for [i=1:6] "projection_1.dat" index 0 using 1:(column(i+1)) with lines lw 2 title L[i]
set title "strong scaling (global batch 64 split N ways)"
plot for [i=1:6] "projection_1.dat" index 0 using 1:(column(i+7)) with lines lw 2 title L[i]
unset multiplot
unset output
