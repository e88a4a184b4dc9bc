"""Fidelity of a saved taxonomy, and what categories and edits cost, on BANKING77.

For each engine (the offline engine; the oracle LLM that knows the gold
labels and answers the library's own prompts through the real LLM client,
also with 10% judge errors; and the realistic simulated LLM):

- ``load=predict``: share of texts whose label from
  ``LLMClusterer(...).load_clusters(save_clusters(model))`` followed by
  ``predict`` equals the saved model's ``predict`` (the guarantee: 100%);
- ``labels_=predict``: share of the fit's texts whose ``predict`` label
  equals ``labels_`` (see the LLMClusterer notes);
- ``pinned``: the same after pinning every differing text with ``move_texts``;
- clusters, categories, the clusters.json size, and the time of fit, save,
  load and predict.

Usage::

    python benchmarks/bench_taxonomy.py                  # BANKING77 test split (3,080 texts)
    python benchmarks/bench_taxonomy.py --limit 1000     # a quicker subsample

The data are read at run time from ``--data-dir`` (default: the
``SKLEARN_LLMCLUSTER_DATA`` environment variable, else ``../shared/data``
beside the repository); they are never copied into the project.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sklearn_llmcluster import LLMClusterer, save_clusters
from sklearn_llmcluster.testing import OracleProvider, SimulatedLLM

ROOT = Path(__file__).resolve().parents[1]


def _run(name: str, make, texts: list[str]) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model = make().fit(texts)
        fit_s = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "clusters.json"
            start = time.perf_counter()
            save_clusters(model, path)
            save_s = time.perf_counter() - start
            size_kb = path.stat().st_size / 1024
            start = time.perf_counter()
            loaded = make().load_clusters(path)
            load_s = time.perf_counter() - start
        start = time.perf_counter()
        predicted = model.predict(texts)
        predict_s = time.perf_counter() - start
        reloaded = loaded.predict(texts)
        differing = np.flatnonzero(predicted != model.labels_)
        for i in differing:
            if model.labels_[i] >= 0:
                model.move_texts([texts[i]], model.clusters_[model.labels_[i]].id)
        pinned = float((model.predict(texts)[model.labels_ >= 0]
                        == model.labels_[model.labels_ >= 0]).mean())
    return {"engine": name, "texts": len(texts), "clusters": model.n_clusters_,
            "categories": len(model.categories_),
            "load=predict": f"{(reloaded == predicted).mean():.1%}",
            "labels_=predict": f"{1 - len(differing) / len(texts):.1%}",
            "pinned (labelled rows)": f"{pinned:.1%}",
            "clusters.json KiB": round(size_kb), "fit s": round(fit_s, 1),
            "save s": round(save_s, 2), "load s": round(load_s, 2),
            "predict s": round(predict_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get(
        "SKLEARN_LLMCLUSTER_DATA", ROOT.parent / "shared" / "data"))
    parser.add_argument("--limit", type=int, help="first N texts of the test split")
    args = parser.parse_args()
    frame = pd.read_csv(Path(args.data_dir) / "banking77.csv")
    frame = frame[frame["split"] == "test"]
    if args.limit:
        frame = frame.iloc[:args.limit]
    texts, labels = frame["text"].tolist(), frame["label"].tolist()
    gold = dict(zip(texts, labels))
    rows = [
        _run("offline", lambda: LLMClusterer(provider="offline", random_state=0), texts),
        _run("oracle LLM", lambda: LLMClusterer(provider=OracleProvider(gold), random_state=0),
             texts),
        _run("oracle LLM, 10% judge errors", lambda: LLMClusterer(
            provider=OracleProvider(gold, error_rate=0.1), random_state=0), texts),
        _run("simulated LLM, realistic", lambda: LLMClusterer(
            provider=SimulatedLLM(gold, level="realistic"), random_state=0), texts),
    ]
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
