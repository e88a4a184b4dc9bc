"""Quality, speed and memory of the offline engine (no LLM), per representation.

The engine runs inside the estimator, ``LLMClusterer(provider="offline",
embedder=...)``, and is **not told the number of clusters** (``n_clusters=None``).
Each run is a fresh process, so its peak RSS is its own. Data sets:

- BANKING77 test split (``split == "test"``, 3,080 texts, 77 intents);
- CLINC150 in-scope texts of all splits (``label != "oos"``, 22,500 texts, 150 intents);
- MInDS-14 ru-RU (70 texts, 14 intents) and MASSIVE ru-RU (299 texts, 60 intents);
- the bundled Russian demo (``load_demo("ru")``, 529 texts, 19 intents);
- ``export``: a 50,000-row export made by sampling BANKING77 test and the demo
  with repetition and light noise (case, punctuation, a phone number, a typo).

Scores: Hungarian-matched accuracy (unassigned rows count as wrong), NMI, ARI
(see :mod:`sklearn_llmcluster.metrics`), clusters found against the true
number, wall time, texts per second and the run's peak RSS. The baseline
(TF-IDF + SVD + KMeans, given the true number of clusters) is optional.

Usage::

    python benchmarks/bench_offline.py                         # all sets, both embedders
    python benchmarks/bench_offline.py --datasets demo,ru_minds14 --embedders tfidf
    python benchmarks/bench_offline.py --datasets export       # the 50,000-row export
    python benchmarks/bench_offline.py --novelty               # partial_fit on unseen intents

The data are read at run time from ``--data-dir`` (default: the
``SKLEARN_LLMCLUSTER_DATA`` environment variable, else ``../shared/data``
beside the repository); they are never copied into the project.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sklearn_llmcluster import LLMClusterer  # noqa: E402
from sklearn_llmcluster.metrics import clustering_scores  # noqa: E402

DATASETS = {
    # name: (file, row filter, description); file None: built in code
    "banking77": ("banking77.csv", lambda d: d[d["split"] == "test"], "BANKING77 test"),
    "clinc150": ("clinc150.csv", lambda d: d[d["label"] != "oos"], "CLINC150 in-scope"),
    "ru_minds14": ("ru_minds14.csv", lambda d: d, "MInDS-14 ru-RU"),
    "ru_massive": ("ru_massive.csv", lambda d: d, "MASSIVE ru-RU"),
    "demo": (None, None, "bundled demo ru"),
    "export": (None, None, "50,000-row export (BANKING77 test + demo, noisy repeats)"),
}
EMBEDDERS = ("tfidf", "use-multilingual")


def default_data_dir() -> Path:
    env = os.environ.get("SKLEARN_LLMCLUSTER_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def _noisy(text: str, rng: np.random.Generator) -> str:
    """A light variation of a request, as repeats in a real export look."""
    roll = rng.random()
    if roll < 0.2:
        text = text.lower()
    elif roll < 0.3:
        text = text.capitalize()
    if rng.random() < 0.2:
        text += rng.choice(["!", "?", "...", " ??"])
    if rng.random() < 0.1:
        text += f" +7 9{rng.integers(10, 99)} {rng.integers(100, 999)}-{rng.integers(10, 99)}-" \
                f"{rng.integers(10, 99)}"
    if rng.random() < 0.1 and len(text) > 8:
        i = int(rng.integers(1, len(text) - 1))
        text = text[:i] + text[i + 1:]  # a dropped letter
    return text


def load(data_dir: Path, name: str, n_export: int = 50_000) -> tuple[list[str], np.ndarray]:
    if name == "demo":
        from sklearn_llmcluster.datasets import load_demo

        data = load_demo("ru")
        return data["text"].tolist(), data["label"].to_numpy()
    if name == "export":
        bank_texts, bank_labels = load(data_dir, "banking77")
        demo_texts, demo_labels = load(data_dir, "demo")
        texts = np.array(bank_texts + demo_texts, dtype=object)
        labels = np.array([f"b:{x}" for x in bank_labels] + [f"d:{x}" for x in demo_labels])
        rng = np.random.default_rng(0)
        picked = rng.integers(0, len(texts), n_export)
        return [_noisy(str(t), rng) for t in texts[picked]], labels[picked]
    file, keep, _ = DATASETS[name]
    path = data_dir / file
    if not path.exists():
        raise SystemExit(f"{path} not found; pass --data-dir or set SKLEARN_LLMCLUSTER_DATA")
    data = keep(pd.read_csv(path))
    return data["text"].astype(str).tolist(), data["label"].to_numpy()


def kmeans_baseline(texts: list[str], n_clusters: int, random_state: int) -> np.ndarray:
    """The reference baseline of the data README, given the true number of clusters."""
    words = TfidfVectorizer(ngram_range=(1, 2)).fit_transform(texts)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit_transform(texts)
    features = sp.hstack([words, chars]).tocsr()
    n_components = min(200, features.shape[0] - 1)  # the small Russian sets have < 200 texts
    reduced = normalize(TruncatedSVD(n_components, random_state=random_state)
                        .fit_transform(features))
    return KMeans(n_clusters, n_init=5, random_state=random_state).fit_predict(reduced)


def _run(data_dir: Path, name: str, method: str, random_state: int,
         n_jobs: int) -> tuple[np.ndarray, float, float, list[str]]:
    """One run in this (fresh) process: labels, seconds, peak RSS in MB, top names."""
    texts, labels = load(data_dir, name)
    start = time.perf_counter()
    names: list[str] = []
    if method == "kmeans":
        predicted = kmeans_baseline(texts, len(np.unique(labels)), random_state)
    else:
        model = LLMClusterer(provider="offline", embedder=method, random_state=random_state,
                             n_jobs=n_jobs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(texts)
        predicted = model.labels_
        names = [c.name for c in model.get_clusters()[:10]]
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return predicted, seconds, peak, names


def novelty(data_dir: Path, thresholds: list[float], random_state: int, n_jobs: int,
            embedder: str) -> None:
    """Does ``partial_fit`` keep new intents apart from the clusters of old ones?

    BANKING77: 60 intents (drawn with ``random_state``) are "old": the engine
    is fitted on 4,000 of their training texts. Then ``partial_fit`` gets the
    whole test split (old and 17 new intents). A new-intent text should start
    or join a new cluster, an old-intent text should go to an old cluster.
    """
    from sklearn_llmcluster.representation.offline import OfflineEngine

    data = pd.read_csv(data_dir / "banking77.csv")
    intents = sorted(data["label"].unique())
    np.random.default_rng(random_state).shuffle(intents)
    old = set(intents[:60])
    train = data[(data["split"] == "train") & data["label"].isin(old)].sample(
        4000, random_state=random_state)
    test = data[data["split"] == "test"]
    is_new = ~test["label"].isin(old).to_numpy()
    print("| judge threshold | new-intent texts into old clusters | into new clusters | "
          "old-intent texts into old clusters | ACC | NMI | ARI | clusters (old) |")
    print("|---|---|---|---|---|---|---|---|")
    for threshold in thresholds:
        engine = OfflineEngine(embedder=embedder, random_state=random_state, threshold=threshold)
        model = LLMClusterer(proposer=engine.proposer, judge=engine.judge,
                             proposal_size=10**9, random_state=random_state, n_jobs=n_jobs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(train["text"].tolist())
            n_old = model.n_clusters_
            model.partial_fit(test["text"].tolist())
        labels = model.labels_
        to_old = (labels >= 0) & (labels < n_old)
        scores = clustering_scores(test["label"].to_numpy(), labels)
        print(f"| {threshold:.2f} | {to_old[is_new].mean():.0%} | "
              f"{(labels >= n_old)[is_new].mean():.0%} | {to_old[~is_new].mean():.0%} | "
              f"{scores['accuracy']:.3f} | {scores['nmi']:.3f} | {scores['ari']:.3f} | "
              f"{model.n_clusters_} ({n_old}) |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(),
                        help="folder with banking77.csv, clinc150.csv, ru_minds14.csv and "
                             "ru_massive.csv "
                             "(default: $SKLEARN_LLMCLUSTER_DATA or ../shared/data)")
    parser.add_argument("--datasets", default="ru_minds14,demo,banking77,clinc150",
                        help=f"comma-separated, from {', '.join(DATASETS)} "
                             "(default: the four of issue 10's targets)")
    parser.add_argument("--embedders", default=",".join(EMBEDDERS),
                        help=f"comma-separated, from {', '.join(EMBEDDERS)} (default: both)")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2, help="judge threads (default: 2)")
    parser.add_argument("--baseline", action="store_true",
                        help="also run TF-IDF + SVD + KMeans given the true number of clusters")
    parser.add_argument("--names", action="store_true", help="print the 10 largest clusters' names")
    parser.add_argument("--novelty", action="store_true",
                        help="instead: how partial_fit treats intents the fit never saw "
                             "(BANKING77, judge thresholds 0.35, 0.5, 0.6)")
    args = parser.parse_args(argv)
    embedders = [e.strip() for e in args.embedders.split(",") if e.strip()]
    if args.novelty:
        for embedder in embedders:
            print(f"embedder={embedder}")
            novelty(args.data_dir, [0.35, 0.5, 0.6], args.random_state, args.n_jobs, embedder)
        return 0
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    for name in names:
        if name not in DATASETS:
            parser.error(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, random_state={args.random_state}")
    print("| data | method | k given | clusters (true) | ACC | NMI | ARI | coverage | wall | "
          "texts/s | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    context = get_context("spawn")
    for name in names:
        _, labels = load(args.data_dir, name)
        n_true = len(np.unique(labels))
        methods = (["kmeans"] if args.baseline else []) + embedders
        for method in methods:
            # A fresh process per run: its peak RSS is this run's alone.
            with ProcessPoolExecutor(1, mp_context=context) as pool:
                predicted, seconds, peak, top = pool.submit(
                    _run, args.data_dir, name, method, args.random_state, args.n_jobs).result()
            scores = clustering_scores(labels, predicted)
            label = ("TF-IDF + SVD + KMeans" if method == "kmeans"
                     else f"offline engine, embedder={method!r}")
            print(f"| {DATASETS[name][2]} ({len(labels):,}) | {label} | "
                  f"{'yes' if method == 'kmeans' else 'no'} | {scores['n_clusters']} ({n_true}) | "
                  f"{scores['accuracy']:.3f} | {scores['nmi']:.3f} | {scores['ari']:.3f} | "
                  f"{scores['coverage']:.1%} | {seconds:.0f} s | {len(labels) / seconds:,.0f} | "
                  f"{peak:,.0f} MB |", flush=True)
            if args.names and top:
                print("  top names: " + " · ".join(top), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
