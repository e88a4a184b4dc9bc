"""Quality of the offline engine (no LLM) against k-means, on BANKING77, CLINC150 and Russian sets.

The offline engine is not told how many clusters there are; the baseline
(TF-IDF word 1-2-grams + char_wb 3-5-grams, TruncatedSVD(200), L2-normalised,
KMeans with n_init=5) is given the true number. Both run on the same texts:

- BANKING77 test split (``split == "test"``, 3,080 texts, 77 intents);
- CLINC150 in-scope texts of all splits (``label != "oos"``, 22,500 texts, 150 intents);
- two small Russian sets: MInDS-14 ru-RU (70 texts, 14 intents) and MASSIVE ru-RU
  (299 texts, 60 intents, 5 per intent).

The engine runs inside the estimator, ``LLMClusterer(provider="offline")``,
in two settings: the estimator's defaults (the proposer sees 200 sampled
unassigned texts per round, at most 10 new clusters per round, 30 rounds),
and with every unassigned text shown to the proposer (``proposal_size`` = all).

Scores: Hungarian-matched accuracy (unassigned rows count as wrong), NMI, ARI
(see :mod:`sklearn_llmcluster.metrics`), clusters found, coverage and wall time.

Usage::

    python benchmarks/bench_offline.py                      # all four data sets
    python benchmarks/bench_offline.py --datasets banking77 --settings all-texts
    python benchmarks/bench_offline.py --repeats 5              # spread over random_state 0-4

The data are read at run time from ``--data-dir`` (default: the
``SKLEARN_LLMCLUSTER_DATA`` environment variable, else ``../shared/data``
beside the repository); they are never copied into the project.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
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
    # name: (file, row filter, description)
    "banking77": ("banking77.csv", lambda d: d[d["split"] == "test"], "BANKING77 test"),
    "clinc150": ("clinc150.csv", lambda d: d[d["label"] != "oos"], "CLINC150 in-scope"),
    "ru_minds14": ("ru_minds14.csv", lambda d: d, "MInDS-14 ru-RU"),
    "ru_massive": ("ru_massive.csv", lambda d: d, "MASSIVE ru-RU"),
}

# How the estimator is configured in each setting (beyond provider="offline").
SETTINGS = {
    "defaults": {},
    "all-texts": {"proposal_size": None},  # None: filled in with the number of texts
}


def default_data_dir() -> Path:
    env = os.environ.get("SKLEARN_LLMCLUSTER_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def load(data_dir: Path, name: str) -> tuple[list[str], np.ndarray]:
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


def offline_engine(texts: list[str], setting: str, random_state: int,
                   n_jobs: int) -> np.ndarray:
    params = dict(SETTINGS[setting])
    if params.get("proposal_size", 0) is None:
        params["proposal_size"] = len(texts)
    model = LLMClusterer(provider="offline", random_state=random_state, n_jobs=n_jobs, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(texts)
    return model.labels_


def novelty(data_dir: Path, thresholds: list[float], random_state: int, n_jobs: int) -> None:
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
        engine = OfflineEngine(random_state=random_state, threshold=threshold)
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


def row(data: str, method: str, k_given: str, runs: list[dict], seconds: list[float]) -> str:
    """One table row; several runs show as mean ± standard deviation."""
    def cell(key: str, fmt: str) -> str:
        values = np.array([r[key] for r in runs], dtype=float)
        text = format(values.mean(), fmt)
        return text if len(values) == 1 else f"{text} ± {format(values.std(), fmt)}"

    clusters = sorted({r["n_clusters"] for r in runs})
    found = str(clusters[0]) if len(clusters) == 1 else f"{clusters[0]}–{clusters[-1]}"
    return (f"| {data} | {method} | {k_given} | {found} | {cell('accuracy', '.3f')} | "
            f"{cell('nmi', '.3f')} | {cell('ari', '.3f')} | {cell('coverage', '.1%')} | "
            f"{np.mean(seconds):.0f} s |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(),
                        help="folder with banking77.csv, clinc150.csv, ru_minds14.csv and "
                             "ru_massive.csv "
                             "(default: $SKLEARN_LLMCLUSTER_DATA or ../shared/data)")
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help=f"comma-separated, from {', '.join(DATASETS)} (default: all)")
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help=f"estimator settings, from {', '.join(SETTINGS)} (default: all)")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs of each method with random_state, random_state + 1, ...; "
                             "ACC/NMI/ARI are then shown as mean ± standard deviation")
    parser.add_argument("--n-jobs", type=int, default=2, help="judge threads (default: 2)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the k-means baseline")
    parser.add_argument("--novelty", action="store_true",
                        help="instead: how partial_fit treats intents the fit never saw "
                             "(BANKING77, judge thresholds 0.35, 0.45, 0.55)")
    args = parser.parse_args(argv)
    if args.novelty:
        novelty(args.data_dir, [0.35, 0.45, 0.55], args.random_state, args.n_jobs)
        return 0

    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    for name in names:
        if name not in DATASETS:
            parser.error(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    for setting in settings:
        if setting not in SETTINGS:
            parser.error(f"unknown setting {setting!r}; choose from {', '.join(SETTINGS)}")

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, random_state={args.random_state}, "
          f"repeats={args.repeats}")
    print("| data | method | k given | clusters | ACC | NMI | ARI | coverage | time |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        texts, labels = load(args.data_dir, name)
        title = f"{DATASETS[name][2]} ({len(texts):,})"
        n_true = len(np.unique(labels))
        seeds = range(args.random_state, args.random_state + max(args.repeats, 1))
        methods = [] if args.no_baseline else [
            ("TF-IDF + SVD + KMeans (baseline)", f"yes ({n_true})",
             lambda seed: kmeans_baseline(texts, n_true, seed))]
        methods += [(f"offline engine, {setting}", "no",
                     lambda seed, setting=setting: offline_engine(texts, setting, seed,
                                                                  args.n_jobs))
                    for setting in settings]
        for method, k_given, run in methods:
            runs, seconds = [], []
            for seed in seeds:
                start = time.perf_counter()
                predicted = run(seed)
                seconds.append(time.perf_counter() - start)
                runs.append(clustering_scores(labels, predicted))
            print(row(title, method, k_given, runs, seconds), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
