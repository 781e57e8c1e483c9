#!/usr/bin/python3
"""PyTorch CPU run of cnnbench's `simple` model on Fashion-MNIST, timed the way cnnbench times a step.

A reference point for cnnbench's CPU backends: same model, initialisation rule, optimizer, batch,
step timing and statistics, written as a JSON record shaped like cnnbench's run record
(schema "cnnbench.peer/1"). Run it with /usr/bin/python3: Debian's python3-torch lives in
/usr/lib/python3/dist-packages, which other interpreters (pyenv) do not see.
"""

import argparse
import gzip
import json
import os
import platform
import re
import resource
import socket
import sys
import tempfile
import time
from datetime import datetime, timezone

import numpy as np

SCHEMA = "cnnbench.peer/1"
MODEL_SPEC = "conv3x3x32,relu,maxpool2,conv3x3x64,relu,maxpool2,fc128,relu,fc10"
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
# The variables that change which BLAS/OpenMP code runs; cnnbench records the same first four.
ENV_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                 "MKL_NUM_THREADS", "DNNL_MAX_CPU_ISA")


class InputError(Exception):
    """Bad input: reported as one message and exit code 2, as cnnbench does."""


def read_idx(path, expected_dims):
    """Reads a gzip'd IDX file of unsigned bytes into a numpy array."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError(f"cannot read dataset file {path}: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise InputError(f"{path}: not an IDX file of unsigned bytes (magic {raw[:4].hex()}, expected 000008xx)")
    ndim = raw[3]
    if ndim != expected_dims:
        raise InputError(f"{path}: {ndim} dimensions, expected {expected_dims}")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(dims)):
        raise InputError(f"{path}: {len(body)} data bytes, expected {int(np.prod(dims))} for dimensions {dims}")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def load_fashion_mnist(root):
    def pair(prefix):
        x = read_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz"), 3)
        y = read_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz"), 1)
        if len(x) != len(y):
            raise InputError(f"{root}: {len(x)} {prefix} images but {len(y)} labels")
        return x, y

    return pair("train"), pair("t10k")


def percentile(values, q):
    # Linear interpolation between closest ranks: the rule of cnnbench's stats.cpp (and numpy's default).
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def ms_stats(seconds):
    if not seconds:
        return None
    ms = [s * 1e3 for s in seconds]
    return {"median": percentile(ms, 50), "p10": percentile(ms, 10), "p90": percentile(ms, 90),
            "min": min(ms), "max": max(ms)}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def torch_blas_info(torch):
    """BLAS_INFO of torch's build configuration ("generic" on Debian: whatever libblas.so.3 resolves to)."""
    m = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    return m.group(1) if m else None


def loaded_libraries():
    """The BLAS, oneDNN and OpenMP libraries this process actually mapped, resolved through symlinks."""
    found = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                if re.search(r"lib(open)?blas|liblapack|libdnnl|libgomp|libiomp|libmkl", os.path.basename(path)):
                    found.add(os.path.realpath(path))
    except OSError:
        pass
    return sorted(found)


def environment(torch, threads):
    u = os.uname()
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "os": f"{u.sysname} {u.release} {u.machine}",
        "hostname": socket.gethostname(),
        "python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        "torch_version": torch.__version__,
        "torch_threads": threads,
        "torch_interop_threads": torch.get_num_interop_threads(),
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_average": list(os.getloadavg()),
        "libraries": {
            "torch": torch.__version__,
            "numpy": np.__version__,
            "blas": torch_blas_info(torch),
            "loaded": loaded_libraries(),
            "mkldnn": bool(torch.backends.mkldnn.is_available()),
            "openmp": bool(torch.backends.openmp.is_available()),
            "parallel_info": torch.__config__.parallel_info().strip().splitlines(),
        },
        "variables": {name: os.environ.get(name, "(unset)") for name in ENV_VARIABLES},
    }


def build_model(torch):
    nn = torch.nn

    class Simple(nn.Module):
        # Names match cnnbench's parameter names (conv1.weight, fc1.weight, ...).
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3)
            self.conv2 = nn.Conv2d(32, 64, 3)
            self.fc1 = nn.Linear(64 * 5 * 5, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            f = torch.nn.functional
            x = f.max_pool2d(f.relu(self.conv1(x)), 2)
            x = f.max_pool2d(f.relu(self.conv2(x)), 2)
            x = torch.flatten(x, 1)
            return self.fc2(f.relu(self.fc1(x)))

    return Simple()


def evaluate(torch, model, loss_fn, x_u8, y, limit, batch):
    n = len(x_u8) if limit == 0 else min(limit, len(x_u8))
    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, n, batch):
            xb = x_u8[start:min(start + batch, n)].float().div_(255.0)
            yb = y[start:min(start + batch, n)]
            out = model(xb)
            loss_sum += float(loss_fn(out, yb)) * len(yb)
            correct += int((out.argmax(1) == yb).sum())
    model.train()
    return loss_sum / n, correct / n


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--epochs", type=int, default=1, help="epochs (default 1)")
    p.add_argument("--steps", type=int, default=0, help="steps per epoch, 0 = a full pass (last partial batch dropped)")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads; 0 = all cores (default)")
    p.add_argument("--warmup", type=int, default=5, help="steps excluded from the step-time statistics (default 5)")
    p.add_argument("--seed", type=int, default=42, help="seed of initialisation and data order (default 42)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--test-limit", type=int, default=0, help="evaluate on the first N test images only (0 = all)")
    p.add_argument("--data", default=DEFAULT_DATA, help=f"Fashion-MNIST directory (default {DEFAULT_DATA})")
    p.add_argument("--out", help="write the run record (JSON) to this file")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines on stderr")
    a = p.parse_args(argv)
    checks = [("--batch", a.batch > 0, "a positive integer"), ("--epochs", a.epochs > 0, "a positive integer"),
              ("--steps", a.steps >= 0, "0 (a full epoch) or positive"), ("--threads", a.threads >= 0, ">= 0"),
              ("--warmup", a.warmup >= 0, ">= 0"), ("--lr", a.lr > 0, "a positive number"),
              ("--test-limit", a.test_limit >= 0, ">= 0")]
    for flag, ok, expected in checks:
        if not ok:
            raise InputError(f"{flag} must be {expected}, got {getattr(a, flag[2:].replace('-', '_'))}")
    if a.out:
        d = os.path.dirname(os.path.abspath(a.out))
        if not os.path.isdir(d) or not os.access(d, os.W_OK):
            raise InputError(f"--out {a.out}: directory {d} does not exist or is not writable")
    return a


def write_atomically(path, record):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".peer-", suffix=".json")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; give it an ordinary file's mode
        with os.fdopen(fd, "w") as f:
            json.dump(record, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def run(a):
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(a.data)
    if x_train.shape[1:] != (28, 28):
        raise InputError(f"{a.data}: images are {x_train.shape[1:]}, expected 28x28")
    full_steps = len(x_train) // a.batch
    if full_steps == 0:
        raise InputError(f"--batch {a.batch} is larger than the training set ({len(x_train)} images)")

    import torch  # after the checks: importing torch takes seconds

    threads = a.threads if a.threads > 0 else (os.cpu_count() or 1)
    torch.set_num_threads(threads)
    torch.manual_seed(a.seed)
    model = build_model(torch)  # nn.Conv2d / nn.Linear default initialisation, from the seed
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    loss_fn = torch.nn.CrossEntropyLoss(reduction="mean")

    # Images stay uint8 (N,1,28,28) in memory and are scaled to [0, 1] when a batch is built, as in cnnbench.
    xtr = torch.from_numpy(x_train.copy()).unsqueeze(1)
    ytr = torch.from_numpy(y_train.astype(np.int64))
    xte = torch.from_numpy(x_test.copy()).unsqueeze(1)
    yte = torch.from_numpy(y_test.astype(np.int64))

    steps = min(a.steps, full_steps) if a.steps > 0 else full_steps
    step_seconds, epochs = [], []
    train_seconds = 0.0
    t_start = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        # A seeded order per epoch (not cnnbench's generator, so not the same batches).
        order = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(a.seed * 1000003 + epoch))
        loss_sum, correct, images, epoch_seconds = 0.0, 0, 0, 0.0
        for s in range(steps):
            t0 = time.perf_counter()
            idx = order[s * a.batch:(s + 1) * a.batch]
            xb = xtr[idx].float().div_(255.0)
            yb = ytr[idx]
            out = model(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            # .item() waits for the step's result, so the step is over when the clock is read.
            step_loss = loss.item()
            dt = time.perf_counter() - t0
            step_seconds.append(dt)
            epoch_seconds += dt
            loss_sum += step_loss
            correct += int((out.detach().argmax(1) == yb).sum())
            images += len(yb)
            if not np.isfinite(loss_sum):
                raise RuntimeError(f"training diverged at epoch {epoch} step {s + 1}: the loss is {loss_sum}")
        t_eval = time.perf_counter()
        test_loss, test_acc = evaluate(torch, model, loss_fn, xte, yte, a.test_limit, 1000)
        e = {"epoch": epoch, "steps": steps, "train_loss": loss_sum / steps, "train_accuracy": correct / images,
             "test_loss": test_loss, "test_accuracy": test_acc, "full_epoch": steps == full_steps,
             "seconds": epoch_seconds, "eval_seconds": time.perf_counter() - t_eval,
             "images_per_second": steps * a.batch / epoch_seconds,
             "wall_seconds": time.perf_counter() - t_start}
        epochs.append(e)
        train_seconds += epoch_seconds
        if not a.quiet:
            print(f"epoch {epoch}/{a.epochs}: {steps} steps, loss {e['train_loss']:.4f}, train acc "
                  f"{100 * e['train_accuracy']:.2f}%, test acc {100 * test_acc:.2f}%, {epoch_seconds:.1f}s, "
                  f"{e['images_per_second']:.1f} img/s", file=sys.stderr)

    # Warm-up steps are those at the start of the whole run; with too few steps all are kept (as cnnbench).
    skip = a.warmup if len(step_seconds) > a.warmup else 0
    measured = step_seconds[skip:]
    measured_time = sum(measured)
    params = sum(p.numel() for p in model.parameters())
    record = {
        "schema": SCHEMA,
        "status": "ok",
        "config": {
            "model": "simple", "model_spec": MODEL_SPEC, "dataset": "fashion-mnist", "backend": "pytorch-cpu",
            "strategy": "single", "devices": "cpu:1", "replicas": 1, "threads": torch.get_num_threads(),
            "batch": a.batch, "epochs": a.epochs, "steps_per_epoch": steps, "seed": a.seed,
            "warmup_steps": a.warmup,
            "optimizer": {"kind": "adam", "lr": a.lr, "momentum": 0.0, "weight_decay": 0.0,
                          "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
        },
        "dataset": {"name": "fashion-mnist", "source": os.path.abspath(a.data), "shape": [1, 28, 28],
                    "classes": 10, "train": len(x_train), "test": len(x_test)},
        "model": {"params": params,
                  "parameters": {n: list(p.shape) for n, p in model.named_parameters()}},
        "epochs": epochs,
        "timing": {
            "steps_measured": len(measured),
            "warmup_steps_excluded": skip,
            "step_ms": ms_stats(measured),
            "images_per_second": len(measured) * a.batch / measured_time if measured_time > 0 else 0.0,
            "train_seconds": train_seconds,
        },
        "final": {"test_accuracy": epochs[-1]["test_accuracy"], "test_loss": epochs[-1]["test_loss"],
                  "train_loss": epochs[-1]["train_loss"]},
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "environment": environment(torch, torch.get_num_threads()),
    }
    return record


def main(argv):
    try:
        a = parse_args(argv)
        record = run(a)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t = record["timing"]
    print(f"pytorch-cpu simple batch {a.batch} threads {record['config']['threads']}: "
          f"{t['images_per_second']:.1f} img/s, step median {t['step_ms']['median']:.2f} ms "
          f"(p10 {t['step_ms']['p10']:.2f}, p90 {t['step_ms']['p90']:.2f}) over {t['steps_measured']} steps; "
          f"test acc {100 * record['final']['test_accuracy']:.2f}%")
    if a.out:
        write_atomically(a.out, record)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
