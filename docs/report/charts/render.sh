#!/bin/sh
# Renders every chart of this report again (after editing a .gp file, say).
set -e
cd "$(dirname "$0")"
for gp in *.gp; do
  gnuplot -e "fmt='svg'" "$gp"
  gnuplot -e "fmt='png'" "$gp"
done
