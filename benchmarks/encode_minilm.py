"""Encoding 1,000 sentences with all-MiniLM-L6-v2: chainrule against sentence-transformers on one core.

Run ``python -m benchmarks.encode_minilm`` (under ``compute --both`` on a shared machine): each framework
runs in its own process with one BLAS/OpenMP thread, encodes the first 1,000 test sentences of the
``sentiment`` data set (batch 32) once to warm up and then ``--repeat`` times; the medians and their ratio
are printed.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time


def _measure(framework, count, repeat):
    from chainrule.data.text import sentiment_texts
    from chainrule.pretrained import model_directory, sentence_encoder
    texts = sentiment_texts()[2][:count]
    if framework == "chainrule":
        encoder = sentence_encoder("all-MiniLM-L6-v2")
        encode = lambda: encoder.encode(texts, batch_size=32)  # noqa: E731
    else:
        import torch
        from sentence_transformers import SentenceTransformer
        torch.set_num_threads(1)
        model = SentenceTransformer(str(model_directory("all-MiniLM-L6-v2")), device="cpu")
        encode = lambda: model.encode(texts, batch_size=32)  # noqa: E731
    encode()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        encode()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--framework", choices=("chainrule", "sentence-transformers"))
    args = parser.parse_args(argv)
    if args.framework:
        print(_measure(args.framework, args.count, args.repeat))
        return 0
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    medians = {}
    for framework in ("sentence-transformers", "chainrule"):
        out = subprocess.run([sys.executable, "-m", "benchmarks.encode_minilm", "--framework", framework,
                              "--count", str(args.count), "--repeat", str(args.repeat)],
                             env=env, capture_output=True, text=True, check=True).stdout
        medians[framework] = float(out.split()[-1])
        print(f"{framework}: {medians[framework]:.2f} s for {args.count} sentences (median of {args.repeat})")
    print(f"ratio chainrule / sentence-transformers: {medians['chainrule'] / medians['sentence-transformers']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
