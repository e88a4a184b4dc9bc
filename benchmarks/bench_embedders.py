"""Speed and memory of the embedders: how long embedding N short requests takes.

Each embedder runs in a fresh process (so its peak RSS is its own) on the same
texts: every Russian request of the benchmark data (MInDS-14, MASSIVE) and of
the bundled Russian demo, then BANKING77 and CLINC150 until ``--n`` unique
texts are reached. Reported: the time to load the model (the first one-text
call), the time to embed all the texts in one ``transform`` call (chunks
through joblib, sequential unless ``--n-jobs`` says otherwise), texts per
second, and the process's peak RSS. The CPU time of the embedding is shown
too: on a shared machine the wall time grows with the other processes' load,
while the CPU time is about what an idle core would take.

Usage::

    python benchmarks/bench_embedders.py                       # the default (None), 20,000 texts
    python benchmarks/bench_embedders.py --embedders default,tfidf --n 5000

The data are read at run time from ``--data-dir`` (default: the
``SKLEARN_LLMCLUSTER_DATA`` environment variable, else ``../shared/data``
beside the repository); they are never copied into the project.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def default_data_dir() -> Path:
    return Path(os.environ.get("SKLEARN_LLMCLUSTER_DATA", REPO.parent / "shared" / "data"))


def load_texts(data_dir: Path, n: int) -> list[str]:
    import pandas as pd

    from sklearn_llmcluster.datasets import load_demo

    parts = [pd.read_csv(data_dir / "ru_minds14.csv")["text"],
             pd.read_csv(data_dir / "ru_massive.csv")["text"],
             load_demo("ru")["text"],
             pd.read_csv(data_dir / "banking77.csv")["text"],
             pd.read_csv(data_dir / "clinc150.csv")["text"]]
    seen: dict[str, None] = {}
    for part in parts:
        for text in part.astype(str):
            seen.setdefault(text, None)
            if len(seen) == n:
                return list(seen)
    raise SystemExit(f"the data hold only {len(seen)} unique texts; pass --n {len(seen)}")


def measure(spec: str, texts: list[str], n_jobs: int | None, chunk_size: int | None) -> dict:
    """Run in the child process: load, embed, time, peak RSS."""
    from joblib import parallel_config

    from sklearn_llmcluster.representation import resolve_embedder

    start = time.perf_counter()
    embedder = resolve_embedder(None if spec == "default" else spec, random_state=0)
    if chunk_size:
        embedder.chunk_size = chunk_size
    if embedder.requires_fit:
        embedder.fit(texts)
    embedder.transform([texts[0]])
    load = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    with parallel_config(n_jobs=n_jobs):
        vectors = embedder.transform(texts)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
    return {"embedder": spec, "resolved": repr(embedder), "n": len(texts),
            "dim": int(vectors.shape[1]), "load_s": load, "embed_s": seconds, "cpu_s": cpu,
            "texts_per_s": len(texts) / seconds, "peak_rss_mib": rss}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--n", type=int, default=20_000, help="texts to embed (default 20,000)")
    parser.add_argument("--embedders", default="default",
                        help="comma-separated specs: default (embedder=None), "
                             "use-multilingual, tfidf (default: default)")
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="joblib workers for the chunks (default: joblib's, i.e. 1)")
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process's embedder
    args = parser.parse_args(argv)

    if args.one:
        texts = load_texts(args.data_dir, args.n)
        print(json.dumps(measure(args.one, texts, args.n_jobs, args.chunk_size)))
        return 0

    print(f"{args.n:,} texts, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{platform.machine()}, load average before: {os.getloadavg()[0]:.1f}")
    print("| embedder | resolved | texts | dim | load (s) | embed, wall (s) | embed, CPU (s) "
          "| texts/s (wall) | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for spec in args.embedders.split(","):
        command = [sys.executable, __file__, "--one", spec, "--n", str(args.n),
                   "--data-dir", str(args.data_dir)]
        if args.n_jobs is not None:
            command += ["--n-jobs", str(args.n_jobs)]
        if args.chunk_size:
            command += ["--chunk-size", str(args.chunk_size)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{spec}: {done.stderr.strip()[-2000:]}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"| {r['embedder']} | `{r['resolved']}` | {r['n']:,} | {r['dim']} | "
              f"{r['load_s']:.1f} | {r['embed_s']:.1f} | {r['cpu_s']:.1f} | "
              f"{r['texts_per_s']:,.0f} | "
              f"{r['peak_rss_mib']:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
