#!/usr/bin/env bash
# Re-measure BENCHMARKS §3, §4, §9, §2 on the quiet machine; raw files into docs/results/.
set -uo pipefail
cd /work/main
B=build/ci/cnnbench M=build/ci/cnnbench-micro R=docs/results
log() { echo "$(date -u +%H:%M:%S) $*" >> $R/remeasure-2026-12-07.log; }
log "start; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}; load $(cut -d' ' -f1-3 /proc/loadavg)"
for t in 1 2; do
  rm -f $R/backends-cpu-t$t.jsonl
  $B sweep --config sweeps/backends-cpu.toml --threads $t --name backends-cpu-t$t --out $R/backends-cpu-t$t.jsonl > /dev/null 2>&1; log "sweep t$t rc=$?"
done
for b in 64 256; do for t in 1 2; do
  /usr/bin/python3 bench/peers/pytorch_cnn.py --batch $b --steps 60 --warmup 10 --threads $t --test-limit 500 --out $R/torch-b$b-t$t.json > /dev/null 2>&1; log "torch b$b t$t rc=$?"
done; done
for b in 64 256; do
  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/peers/pytorch_cnn.py --batch $b --steps 60 --warmup 10 --threads 2 --test-limit 500 --out $R/torchp-b$b-t2.json > /dev/null 2>&1; log "torchp b$b rc=$?"
done
for bk in cpu-gemm cpu-onednn; do for b in 64 256; do
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $B train --backend $bk --threads 2 --batch $b --steps 60 --warmup 10 --test-limit 500 --out $R/unset-$bk-b$b.json > /dev/null 2>&1; log "unset $bk b$b rc=$?"
done; done
for t in 1 2; do
  $M --cnnb_threads=$t --benchmark_filter='^(conv_fwd/(cpu|onednn)|sgemm)/' --benchmark_min_time=0.1 --benchmark_out=$R/micro-conv-t$t.json --benchmark_out_format=json > /dev/null 2>&1; log "micro t$t rc=$?"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $M --cnnb_threads=$t --benchmark_filter='^(conv_fwd/cpu/im2col_gemm|sgemm)/' --benchmark_min_time=0.1 --benchmark_out=$R/micro-unset-t$t.json --benchmark_out_format=json > /dev/null 2>&1; log "micro unset t$t rc=$?"
done
rm -f $R/search-fmnist.jsonl
$B search --method genetic --space searches/fmnist.toml --dataset fashion-mnist --backend cpu-onednn --threads 2 --epochs 3 --population 6 --generations 3 --seed 1 --out $R/search-fmnist.jsonl > $R/search-fmnist.stdout 2>&1; log "search rc=$?"
log "end; load $(cut -d' ' -f1-3 /proc/loadavg)"
$B sweep --config sweeps/scaling-cpu.toml --out $R/scaling-cpu.jsonl > /dev/null 2>&1; log "scaling sweep rc=$?"
$B train --backend cpu-gemm --threads 1 --strategy single --batch 64 --steps 150 --warmup 10 --test-limit 500 --out $R/mpi-single.json > /dev/null 2>&1; log "mpi-single rc=$?"
for S in allreduce tower param-avg; do
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np 2 $B train --backend cpu-gemm --threads 1 --strategy $S --batch 128 --steps 150 --warmup 10 --test-limit 500 --out $R/mpi-$S.json > /dev/null 2>&1; log "mpi $S rc=$?"
done
$B train --model simple --dataset fashion-mnist --backend cpu-gemm --threads 1 --optimizer adam --lr 0.001 --batch 64 --epochs 10 --seed 42 --out $R/accuracy-cpu-gemm.json > $R/accuracy-cpu-gemm.stdout 2>&1; log "accuracy rc=$?"
$B train --model simple --dataset fashion-mnist --backend cpu-ref --batch 64 --epochs 1 --seed 42 --out $R/baseline-cpu-ref-epoch.json > /dev/null 2>&1; log "baseline epoch rc=$?"
log "end2; load $(cut -d' ' -f1-3 /proc/loadavg)"
#!/usr/bin/env bash
# Second part: the scaling sweep again (the first one's 1-replica rows had cv 8-19 %), then OMP wait policies (§7).
set -uo pipefail
cd /work/main
B=build/ci/cnnbench R=docs/results
log() { echo "$(date -u +%H:%M:%S) $*" >> $R/remeasure-2026-12-07.log; }
until grep -q "accuracy rc=" $R/remeasure-2026-12-07.log; do sleep 5; done
sleep 2; pkill -f measure.sh; pkill -f "backend cpu-ref --batch 64 --epochs 1"; rm -f $R/baseline-cpu-ref-epoch.json
log "baseline epoch skipped (stopped): the time went to a second scaling sweep"
mv $R/scaling-cpu.jsonl $R/scaling-cpu-run1.jsonl
$B sweep --config sweeps/scaling-cpu.toml --out $R/scaling-cpu.jsonl > /dev/null 2>&1; log "scaling sweep (run 2) rc=$?"
for p in passive active; do
  OMP_WAIT_POLICY=$p $B train --backend cpu-gemm --threads 2 --batch 64 --steps 30 --test-limit 100 --out $R/omp-$p.json > /dev/null 2>&1; log "omp $p rc=$?"
done
log "end3; load $(cut -d' ' -f1-3 /proc/loadavg)"
# Third part: the MPI runs of §5 again, 3 repetitions each (the first set, one run each, ran between the two scaling sweeps).
cd /work/main
B=build/ci/cnnbench R=docs/results
log() { echo "$(date -u +%H:%M:%S) $*" >> $R/remeasure-2026-12-07.log; }
for rep in 1 2 3; do
  $B train --backend cpu-gemm --threads 1 --strategy single --batch 64 --steps 150 --warmup 10 --test-limit 500 --out $R/mpi-single-r$rep.json > /dev/null 2>&1; log "mpi-single r$rep rc=$?"
  for S in allreduce tower param-avg; do
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np 2 $B train --backend cpu-gemm --threads 1 --strategy $S --batch 128 --steps 150 --warmup 10 --test-limit 500 --out $R/mpi-$S-r$rep.json > /dev/null 2>&1; log "mpi $S r$rep rc=$?"
  done
done
