"""What recording for ``chainrule view`` costs: an epoch of the default MLP (784-256-256-10, Adam,
batch 64, one thread) on Fashion-MNIST without callbacks, with the step and gradient-flow logs
(``RunRecorder``, flow every 50 steps) and with TensorBoard files as well (histograms every 50 steps).

Run ``python -m benchmarks.recording [--epochs N] [--repeats N]``; the configurations alternate, and
each line gives the epoch's seconds and the seconds spent inside the callbacks (their own clock, so a
busy machine blurs the first figure more than the second).
"""

import argparse
import statistics
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits


def _data():
    from chainrule.data import load_dataset
    split = load_dataset("fashion-mnist", seed=0)
    x = split.x_train.reshape(len(split.x_train), -1).astype(np.float32) / 255
    return x, split.y_train


def _epoch(x, y, epochs, kind, directory):
    from chainrule import nn, optim
    from chainrule.inspect.recorder import RunRecorder
    from chainrule.train import Trainer
    callbacks = []
    if kind != "none":
        callbacks.append(RunRecorder(directory, every=50))
    if kind == "recorder+tensorboard":
        from chainrule.inspect.tensorboard import TensorBoardCallback
        callbacks.append(TensorBoardCallback(f"{directory}/tensorboard", every=50))
    model = nn.MLP([784, 256, 256, 10], seed=0)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3), batch_size=64,
                      progress=False, callbacks=callbacks)
    started = time.perf_counter()
    trainer.fit((x, y), epochs=epochs)
    return time.perf_counter() - started, sum(callback.seconds for callback in callbacks), trainer.step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    x, y = _data()
    results = {}
    with threadpool_limits(1):
        for _ in range(args.repeats):
            for kind in ("none", "recorder", "recorder+tensorboard"):
                with tempfile.TemporaryDirectory() as directory:
                    total, inside, steps = _epoch(x, y, args.epochs, kind, directory)
                results.setdefault(kind, []).append((total, inside))
                print(f"{kind:22s} {total:7.2f} s for {steps} steps, {inside:6.3f} s in the callbacks "
                      f"({inside / total:.2%})", flush=True)
    base = statistics.median(total for total, _ in results["none"])
    for kind, runs in results.items():
        total = statistics.median(t for t, _ in runs)
        inside = statistics.median(i for _, i in runs)
        print(f"median {kind:22s} {total:7.2f} s ({total / base - 1:+.1%} against none), "
              f"{inside / total:.2%} inside the callbacks")


if __name__ == "__main__":
    main()
