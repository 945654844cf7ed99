"""The GPU check, one script for a lent machine: chainrule on CuPy against the CPU and PyTorch CUDA.

Four parts, written to one JSON file (and a Markdown summary):

1. the spec table on the device: every case's value, VJP and JVP in float64 against the CPU's
   (:func:`chainrule.testing.check_on_device`);
2. kernels: the compiler's fused kernels of two training steps recorded on the CPU, rendered as CUDA
   (``chainrule/compile/cuda_backend.py``) and launched through CuPy on the same inputs, against the
   CPU kernels' outputs (``--parts kernels``);
3. losses: the MNIST-1D CNN (the vision benchmark's) and the GPT (nanoGPT's CPU baseline) trained the
   same steps from the same weights on the same batches, on the device and on the CPU, float32;
4. step timings against PyTorch CUDA eager on the same GPU, each framework in its own process, medians
   after warm-up with the device synchronised: the GPT step (nanoGPT's CPU baseline at batch 12 x 64,
   and batch 64 x 256 with 6 layers of 384), LeNet-5 at batch 512, MLP 784-1024-1024-10 at batch 4096.

Data: MNIST-1D and the Shakespeare characters come from ``--data``, a file written beforehand on a
machine that has them (``python -m benchmarks.gpu --prepare .gpu/data.npz``, which also downloads the
wheels of the pure-Python packages the GPU machine's image lacks), since a lent machine fetches
nothing; without it, random data of the same shapes (said in the results). The command for the GPU
machine is in docs/gpu.md.

On a machine without a GPU, ``--device fake`` runs every part on the fake device (chainrule only) to
check the script itself.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

MNIST1D_NET = "mnist1d-cnn"
GPT_SMALL = {"block_size": 64, "vocab_size": 65, "n_layer": 4, "n_head": 4, "n_embd": 128}
GPT_LARGE = {"block_size": 256, "vocab_size": 65, "n_layer": 6, "n_head": 6, "n_embd": 384}
TIMINGS = {  # name -> (description, goal: chainrule / PyTorch at most)
    "gpt-12x64": ("GPT step, nanoGPT CPU baseline, batch 12 x 64", 2.0),
    "gpt-64x256": ("GPT step, 6 layers, 384 dims, batch 64 x 256", 2.0),
    "lenet-512": ("LeNet-5 step, batch 512", 2.0),
    "mlp-4096": ("MLP 784-1024-1024-10 step, batch 4096", 1.2),
}


# -- data ------------------------------------------------------------------------------------------

WHEELS = ("graphviz",)
"""Pure-Python packages ``import chainrule`` needs that a lent GPU machine's image lacks: ``--prepare``
downloads their wheels beside the data, to be installed there with ``pip install --no-index``."""


def prepare(path):
    """Write MNIST-1D's training set and the Shakespeare slice's character ids to ``path``, and the wheels
    of :data:`WHEELS` to ``wheels/`` beside it (here, where the packages, the cache and PyPI are)."""
    from importlib.metadata import version
    from chainrule.data.datasets import _mnist1d_arrays
    from chainrule.train.lm import load_corpus
    x_train, y_train, _, _ = _mnist1d_arrays()
    train_ids, _, vocabulary = load_corpus("shakespeare")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp.npz")
    np.savez_compressed(temporary, mnist1d_x=np.asarray(x_train, "float32"), mnist1d_y=np.asarray(y_train),
                        text_ids=np.asarray(train_ids, "int64"), vocab_size=len(vocabulary))
    os.replace(temporary, path)
    for name in WHEELS:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d",
                        str(path.parent / "wheels"), f"{name}=={version(name)}"], check=True)
    return path


def load_data(path):
    """``(mnist1d_x, mnist1d_y, text_ids, source)``: the prepared file's, or random of the same shapes."""
    if path and Path(path).is_file():
        data = np.load(path)
        return data["mnist1d_x"], data["mnist1d_y"], data["text_ids"], f"prepared file {path}"
    rng = np.random.default_rng(0)
    return (rng.standard_normal((4000, 40)).astype("float32"), rng.integers(0, 10, 4000),
            rng.integers(0, 65, 200_000), "random data (no --data file)")


# -- the spec table --------------------------------------------------------------------------------

def spec_table(device, rtol, atol):
    """Every spec case on ``device``: ``{"passed": [...], "host_constants": [...], "failed": {case: why}}``."""
    from chainrule.errors import DeviceError
    from chainrule.testing import check_on_device
    from tests.core.domains import sample
    from tests.core.test_spec_table import CASES
    from tests.devices.test_spec_on_device import HOST_CONSTANTS
    passed, host, failed = [], [], {}
    for name, i, fn, domains in CASES:
        case = f"{name}-{i}"
        rng = np.random.default_rng(i)
        args = tuple(sample(kind, shape, rng) for kind, shape in domains)
        try:
            check_on_device(fn, args, device, rtol=rtol, atol=atol)
            passed.append(case)
        except DeviceError as error:
            if case in HOST_CONSTANTS and "two devices" in str(error):  # the spec's own NumPy constant
                host.append(case)
            else:
                failed[case] = f"DeviceError: {str(error).splitlines()[0][:300]}"
        except Exception as error:  # noqa: BLE001  (every failure is reported, none stops the table)
            failed[case] = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
    return {"cases": len(CASES), "passed": passed, "host_constants": host, "failed": failed}


# -- losses: the device against the CPU ------------------------------------------------------------

def _cnn_losses(device, x, y, steps, batch):
    import chainrule as cr
    import chainrule.nn.functional as F
    from benchmarks.vision import _network
    cr.manual_seed(0)
    model = _network(cr.nn, MNIST1D_NET).to(device)
    optimizer = cr.optim.Adam(model.parameters(), lr=1e-3)
    order = np.random.default_rng(0).permutation(len(x))
    losses = []
    for step in range(steps):
        rows = order[(step * batch) % (len(x) - batch):][:batch]
        inputs = cr.tensor(x[rows][:, None, :], device=device)
        loss = F.cross_entropy(model(inputs), cr.tensor(y[rows], device=device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _gpt_losses(device, ids, steps, batch):
    import chainrule as cr
    from benchmarks.gpt import _chainrule_model
    config = dict(GPT_SMALL, vocab_size=int(ids.max()) + 1)
    model = _chainrule_model(config).to(device)
    optimizer = cr.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    rng = np.random.default_rng(0)
    context = config["block_size"]
    losses = []
    for _ in range(steps):
        starts = rng.integers(0, len(ids) - context - 1, batch)
        x = np.stack([ids[s:s + context] for s in starts])
        y = np.stack([ids[s + 1:s + 1 + context] for s in starts])
        _, loss = model(cr.tensor(x, device=device), cr.tensor(y, device=device))
        optimizer.zero_grad()
        loss.backward()
        cr.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    return losses


def compare_losses(device, data, steps):
    """The two trainings on ``device`` and on the CPU: losses, and how far apart they end."""
    x, y, ids, _ = data
    results = {}
    for name, run in (("mnist1d-cnn", lambda d: _cnn_losses(d, x, y, steps, 100)),
                      ("gpt", lambda d: _gpt_losses(d, ids, steps, 12))):
        start = time.perf_counter()
        on_device = run(device)
        device_s = time.perf_counter() - start
        start = time.perf_counter()
        on_cpu = run("cpu")
        cpu_s = time.perf_counter() - start
        gap = np.abs(np.array(on_device) - np.array(on_cpu))
        results[name] = {"steps": steps, "device_losses": on_device, "cpu_losses": on_cpu,
                         "max_abs_difference": float(gap.max()),
                         "max_relative_difference": float((gap / np.abs(on_cpu)).max()),
                         "final": [on_device[-1], on_cpu[-1]], "device_s": device_s, "cpu_s": cpu_s}
    return results


# -- the compiler's fused kernels on the GPU ------------------------------------------------------

def _recorded_programs():
    """Compiled training steps recorded on the CPU, whose fused kernels the GPU runs: an MLP with tanh and
    GELU under Adam, and the GPT of nanoGPT's CPU baseline (batch 2) under AdamW."""
    import chainrule as cr
    import chainrule.nn.functional as F
    from benchmarks.gpt import _chainrule_model
    rng = np.random.default_rng(0)
    cr.manual_seed(0)
    mlp = cr.nn.Sequential(cr.nn.Linear(64, 256), cr.nn.Tanh(), cr.nn.Linear(256, 256), cr.nn.GELU(),
                           cr.nn.Linear(256, 10))
    mlp_optimizer = cr.optim.Adam(mlp.parameters(), lr=1e-3)

    def mlp_step(x, y):
        mlp_optimizer.zero_grad()
        loss = F.cross_entropy(mlp(x), y)
        loss.backward()
        mlp_optimizer.step()
        return loss
    gpt = _chainrule_model(GPT_SMALL)
    gpt_optimizer = cr.optim.AdamW(gpt.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)

    def gpt_step(x, y):
        gpt_optimizer.zero_grad()
        _, loss = gpt(x, y)
        loss.backward()
        gpt_optimizer.step()
        return loss
    mlp_args = (rng.standard_normal((512, 64)).astype("float32"), rng.integers(0, 10, 512))
    ids = rng.integers(0, GPT_SMALL["vocab_size"], (2, GPT_SMALL["block_size"] + 1))
    gpt_args = (ids[:, :-1], ids[:, 1:])
    programs = {}
    for name, step, args in (("mlp", mlp_step, mlp_args), ("gpt", gpt_step, gpt_args)):
        compiled = cr.compile(step)
        compiled(*args)
        programs[name] = compiled.program(*args)
    return programs


def fused_kernels(device):
    """Every fused kernel of :func:`_recorded_programs` rendered for CUDA
    (``chainrule/compile/cuda_backend.py``), launched through CuPy's RawKernel on the CPU kernel's inputs
    copied to the GPU: its largest difference from the CPU kernel, in float32 spacings of
    the largest output, and the median time of a launch. A program recorded on the GPU is not built yet: these are the CPU's."""
    if device != "cuda":
        return {"skipped": f"the kernels need CuPy and a GPU (not the {device} device)"}
    import cupy
    from chainrule.compile import c_backend, cuda_backend
    if c_backend.unavailable() is not None:  # the CPU's kernels are recorded first
        return {"skipped": f"no CPU kernels to render: {c_backend.unavailable()}"}
    results = {}
    for program_name, program in _recorded_programs().items():
        for op in (op for op in program.ops if op.kernel is not None):
            kernel = op.kernel
            key = f"{program_name}/{kernel.name}"
            try:
                want = op.fn(*kernel.inputs)
                want = list(want) if isinstance(want, tuple) else [want]
                run = cuda_backend.launcher(kernel)
                inputs = [cupy.asarray(a) for a in kernel.inputs]
                got = run(*inputs)
                got = list(got) if isinstance(got, tuple) else [got]
                # in float32 spacings of the largest output: the two loops round in different places
                spacing = [np.spacing(np.max(np.abs(w[np.isfinite(w)]), initial=1.0)) for w in want]
                ulps = max(float(np.nanmax(np.abs(cupy.asnumpy(g) - w)) / s) if w.size else 0.0
                           for g, w, s in zip(got, want, spacing))
                nan_agree = all(bool((np.isnan(cupy.asnumpy(g)) == np.isnan(w)).all()) for g, w in zip(got, want))
                times = []
                for _ in range(20):
                    cupy.cuda.Device().synchronize()
                    start = time.perf_counter()
                    run(*inputs)
                    cupy.cuda.Device().synchronize()
                    times.append(time.perf_counter() - start)
                results[key] = {"operations": [m.name for m in kernel.members], "shape": list(kernel.shape),
                                "max_ulps": ulps, "nan_agree": nan_agree, "median_s": statistics.median(times)}
            except Exception as error:  # noqa: BLE001  (every kernel is reported, none stops the part)
                results[key] = {"operations": [m.name for m in kernel.members],
                                "error": f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"}
    return results


# -- step timings, one framework per process -------------------------------------------------------

def _synchronizer(framework, device):
    if framework == "torch":
        import torch
        return torch.cuda.synchronize
    if device == "cuda":
        import cupy
        return cupy.cuda.Device().synchronize
    return lambda: None


def _step(framework, name, device):
    """One training step of workload ``name``, written once against PyTorch's names, which chainrule
    shares: ``lib`` is ``torch`` or ``chainrule``."""
    if framework == "torch":
        import torch as lib
        lib.manual_seed(0)
    else:
        import chainrule as lib
    rng = np.random.default_rng(0)
    if name.startswith("gpt"):
        from benchmarks import gpt
        config, batch = (GPT_SMALL, 12) if name == "gpt-12x64" else (GPT_LARGE, 64)
        model = (gpt._torch_model if framework == "torch" else gpt._chainrule_model)(config).to(device)
        optimizer = lib.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
        shape = (batch, config["block_size"])
        x = lib.tensor(rng.integers(0, config["vocab_size"], shape), device=device)
        y = lib.tensor(rng.integers(0, config["vocab_size"], shape), device=device)
        objective, clip = lambda: model(x, y)[1], 1.0
    else:
        if name == "lenet-512":
            from benchmarks.vision import _network
            model = _network(lib.nn, "lenet5")
            x = rng.standard_normal((512, 1, 28, 28)).astype("float32")
        else:
            nn = lib.nn
            model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                                  nn.Linear(1024, 10))
            x = rng.standard_normal((4096, 784)).astype("float32")
        model.to(device)
        optimizer = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, labels = lib.tensor(x, device=device), lib.tensor(rng.integers(0, 10, len(x)), device=device)
        objective, clip = lambda: lib.nn.functional.cross_entropy(model(x), labels), None

    def step():
        loss = objective()
        optimizer.zero_grad()
        loss.backward()
        if clip is not None:
            lib.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        return loss
    return step


def time_one(framework, name, device, repeats, warmup):
    """Seconds per step of workload ``name`` (medians and quartiles of ``repeats`` single steps, each
    ending with the device synchronised), in this process."""
    step = _step(framework, name, device)
    synchronize = _synchronizer(framework, device)
    for _ in range(warmup):
        step()
    synchronize()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        synchronize()
        samples.append(time.perf_counter() - start)
    quartiles = statistics.quantiles(samples, n=4)
    return {"median_s": statistics.median(samples), "q1_s": quartiles[0], "q3_s": quartiles[2],
            "repeats": repeats, "loss": float(step().item())}


def timings(device, frameworks, repeats, warmup, names=tuple(TIMINGS)):
    """The workloads ``names`` of :data:`TIMINGS` for each framework, each in its own process."""
    results = {}
    for name in names:
        results[name] = {}
        for framework in frameworks:
            command = [sys.executable, "-m", "benchmarks.gpu", "--time-one", framework, name, "--device", device,
                       "--repeats", str(repeats), "--warmup", str(warmup)]
            done = subprocess.run(command, capture_output=True, text=True, timeout=300)
            if done.returncode:
                results[name][framework] = {"error": (done.stderr or done.stdout)[-600:]}
            else:
                results[name][framework] = json.loads(done.stdout.strip().splitlines()[-1])
        both = results[name]
        if all("median_s" in both.get(f, {}) for f in ("chainrule", "torch")):
            both["ratio"] = both["chainrule"]["median_s"] / both["torch"]["median_s"]
    return results


# -- the report -------------------------------------------------------------------------------------

def markdown(run):
    """The results as the tables docs/gpu.md quotes."""
    lines = [f"GPU check: `{run['command']}` on {run['device_name']} ({run['when']})", ""]
    spec = run.get("spec")
    if spec:
        lines += [f"Spec table on the device (float64 against the CPU): {len(spec['passed'])} of {spec['cases']} "
                  f"cases equal; {len(spec['host_constants'])} mix in a NumPy constant of their spec (a "
                  f"DeviceError, as designed); {len(spec['failed'])} fail: "
                  + (", ".join(sorted(spec["failed"])) or "none"), ""]
    losses = run.get("losses")
    if losses:
        lines += ["| training | steps | final loss, device | final loss, CPU | largest difference (relative) |",
                  "|---|---|---|---|---|"]
        for name, result in losses.items():
            lines.append(f"| {name} | {result['steps']} | {result['final'][0]:.6f} | {result['final'][1]:.6f} | "
                         f"{result['max_abs_difference']:.2e} ({result['max_relative_difference']:.2e}) |")
        lines.append("")
    kernels = run.get("kernels")
    if kernels and "skipped" not in kernels:
        failed = sorted(k for k, r in kernels.items() if "error" in r or not r["nan_agree"] or r["max_ulps"] > 8)
        worst = max((r["max_ulps"] for r in kernels.values() if "max_ulps" in r), default=float("nan"))
        lines += [f"Fused kernels rendered for CUDA, launched by CuPy on the inputs of the CPU's: {len(kernels)} "
                  f"kernels, largest difference from the CPU kernel {worst:.1f} float32 spacings; failing "
                  f"(an error, NaN elsewhere, or over 8 spacings): " + (", ".join(failed) or "none"), ""]
    times = run.get("timings")
    if times:
        lines += ["| step | chainrule | PyTorch CUDA eager | chainrule / PyTorch | goal |", "|---|---|---|---|---|"]
        for name, result in times.items():
            cells = [f"{result[f]['median_s'] * 1e3:.2f} ms" if "median_s" in result.get(f, {}) else
                     "error" if f in result else "not run" for f in ("chainrule", "torch")]
            ratio = f"{result['ratio']:.2f}x" if "ratio" in result else "—"
            lines.append(f"| {TIMINGS[name][0]} | {cells[0]} | {cells[1]} | {ratio} | <= {TIMINGS[name][1]}x |")
    return "\n".join(lines) + "\n"


def _write(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _device_name(device):
    if device != "cuda":
        return f"the {device} device (no GPU)"
    import cupy
    properties = cupy.cuda.runtime.getDeviceProperties(0)
    return f"{properties['name'].decode()} (CuPy {cupy.__version__})"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, or fake to check this script without a GPU")
    parser.add_argument("--data", default=".gpu/data.npz", help="the prepared MNIST-1D and Shakespeare file")
    parser.add_argument("--prepare", metavar="PATH", help="write the data file here and stop")
    parser.add_argument("--steps", type=int, default=300, help="training steps compared with the CPU")
    parser.add_argument("--repeats", type=int, default=20, help="timed steps per workload")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--parts", default="spec,kernels,losses,timings", help="which parts, comma-separated")
    parser.add_argument("--timings", default=",".join(TIMINGS), help="which step timings, comma-separated")
    parser.add_argument("--out", default="benchmarks/results/gpu.json", help="the results file (JSON)")
    parser.add_argument("--markdown", help="also write the summary tables here")
    parser.add_argument("--time-one", nargs=2, metavar=("FRAMEWORK", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if args.device == "fake":
        from chainrule import fake_device
        fake_device.enable()
    if args.time_one:
        print(json.dumps(time_one(*args.time_one, args.device, args.repeats, args.warmup)))
        return
    if args.prepare:
        print(f"wrote {prepare(args.prepare)}")
        return
    import chainrule as cr
    cr.device(args.device)  # the clear error now, when there is no GPU
    parts = set(args.parts.split(","))
    run = {"command": " ".join(["python -m benchmarks.gpu", *(argv if argv is not None else sys.argv[1:])]),
           "device_name": _device_name(args.device), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}

    def save():
        _write(args.out, json.dumps(run, indent=1))
        if args.markdown:
            _write(args.markdown, markdown(run))
    if "spec" in parts:
        tolerances = (0, 0) if args.device == "fake" else (1e-6, 1e-9)
        run["spec"] = spec_table(args.device, *tolerances)
        save()
        print(f"spec: {len(run['spec']['passed'])}/{run['spec']['cases']} equal, failed: {run['spec']['failed']}",
              flush=True)
    if "kernels" in parts:
        run["kernels"] = fused_kernels(args.device)
        save()
        print(f"kernels: {run['kernels']}", flush=True)
    if "losses" in parts:
        data = load_data(args.data)
        run["data"] = data[3]
        run["losses"] = compare_losses(args.device, data, args.steps)
        save()
        for name, result in run["losses"].items():
            print(f"{name}: final {result['final']}, largest difference {result['max_abs_difference']:.3g}",
                  flush=True)
    if "timings" in parts:
        frameworks = ("chainrule",) if args.device == "fake" else ("chainrule", "torch")
        run["timings"] = timings(args.device, frameworks, args.repeats, args.warmup, args.timings.split(","))
        save()
    print(markdown(run))


if __name__ == "__main__":
    main()
