"""Consolidation: duplicate proposals are merged with lineage; n_clusters sets the count."""

from __future__ import annotations

import json
import re
import threading
import warnings
from collections import Counter, defaultdict

import joblib
import numpy as np
import pytest

from sklearn_llmcluster import LLMClusterer, Proposal, load_clusters
from sklearn_llmcluster.discovery.consolidation import LLMMerger, MergeDecision
from sklearn_llmcluster.discovery.prompts import PromptBuilder
from sklearn_llmcluster.exceptions import LLMClusterWarning, ProviderUnavailableError
from sklearn_llmcluster.llm.client import LLMClient, collect_usage
from sklearn_llmcluster.records import Cluster, LLMUsage
from sklearn_llmcluster.taxonomy.registry import ClusterRegistry
from sklearn_llmcluster.testing import OracleProvider, ScriptedProvider, _unit_hash

from synthetic_requests import intent_requests

INTENTS = ["card", "login", "refund", "transfer"]


class ParaphrasingProposer:
    """Proposes one cluster per gold intent with half its members, ignoring the clusters
    it is shown; an intent proposed before comes back under a paraphrase, as real LLMs do."""

    def __init__(self, gold):
        self.gold = gold
        self.proposed: Counter = Counter()

    def propose(self, texts, clusters):
        groups = defaultdict(list)
        for i, text in enumerate(texts):
            groups[self.gold[text]].append(i)
        proposals = []
        for label, members in sorted(groups.items()):
            again = self.proposed[label]
            self.proposed[label] += 1
            name = label if not again else f"{label.title()} problems, take {again + 1}"
            proposals.append(Proposal(name, summary=f"About {label}.",
                                      criteria=f"The request is about {label}.",
                                      members=members[: (len(members) + 1) // 2]))
        return proposals


class NoneJudge:
    """A judge that finds no cluster for any text: every uncovered text is proposed again."""

    def judge(self, texts, clusters):
        return [None] * len(texts)


class ForgetfulJudge:
    """Answers "none" the first time it sees a text (so the proposer sees it again and
    re-proposes its intent under a paraphrase), then the cluster named after its intent."""

    def __init__(self, gold):
        self.gold = gold
        self.seen = set()

    def judge(self, texts, clusters):
        by_name = {c.name: c.id for c in clusters}
        answers = []
        for text in texts:
            answers.append(by_name.get(self.gold[text]) if text in self.seen else None)
            self.seen.add(text)
        return answers


def _data(n=24, seed=0):
    texts, labels = intent_requests(n, intents=INTENTS, seed=seed)
    return texts, labels, dict(zip(texts, labels))


def _purity(model, labels):
    """Intents per live cluster, and clusters per intent, of the labelled texts."""
    by_cluster, by_intent = defaultdict(set), defaultdict(set)
    for label, intent in zip(model.labels_, labels):
        if label >= 0:
            by_cluster[label].add(intent)
            by_intent[intent].add(label)
    return by_cluster, by_intent


def test_a_paraphrased_re_proposal_is_merged_into_the_first_cluster_without_an_llm():
    # Without an LLM the judge decides: members of the paraphrased cluster are
    # judged against all clusters, and most of them go to the first one.
    texts, labels, gold = _data()
    proposer = ParaphrasingProposer(gold)
    model = LLMClusterer(proposer=proposer, judge=ForgetfulJudge(gold), proposal_size=40,
                         random_state=0, min_cluster_size=1).fit(texts)
    assert max(proposer.proposed.values()) > 1  # the proposer did repeat itself
    by_cluster, by_intent = _purity(model, labels)
    assert all(len(v) == 1 for v in by_cluster.values())
    assert all(len(v) == 1 for v in by_intent.values()), by_intent  # one cluster per intent
    assert model.n_clusters_ == len(INTENTS)
    merged = [c for c in model.clusters_ if c.status == "merged"]
    assert merged and all(model.registry_.resolve(c.id).name in INTENTS for c in merged)
    assert all(c.merged_into for c in merged)
    # Labels never point at a tombstone.
    assert all(model.clusters_[k].is_live for k in set(model.labels_) - {-1})


def test_a_judge_that_keeps_the_clusters_apart_merges_nothing():
    texts, labels, gold = _data()
    model = LLMClusterer(proposer=ParaphrasingProposer(gold), judge=NoneJudge(),
                         proposal_size=40, random_state=0, min_cluster_size=1).fit(texts)
    assert not [c for c in model.clusters_ if c.status == "merged"]


def test_without_consolidation_the_same_run_keeps_duplicates(monkeypatch):
    # What the test above guards against: the engine with no consolidator.
    from sklearn_llmcluster import estimator

    monkeypatch.setattr(estimator.LLMClusterer, "_consolidator", lambda self: None)
    texts, labels, gold = _data()
    model = LLMClusterer(proposer=ParaphrasingProposer(gold), judge=ForgetfulJudge(gold),
                         proposal_size=40, random_state=0, min_cluster_size=1).fit(texts)
    _, by_intent = _purity(model, labels)
    assert any(len(v) > 1 for v in by_intent.values())


class ParaphrasingLLM(OracleProvider):
    """The oracle, but as a proposer it ignores the existing clusters and names an
    intent proposed before with a paraphrase, and as a judge it misses half the texts,
    so duplicates reach the registry and consolidation must merge them."""

    def __init__(self, gold, *, fail_merges=False, bad_merges=False):
        super().__init__(gold)
        self.fail_merges = fail_merges
        self.bad_merges = bad_merges
        self.merge_calls = 0
        self.times = Counter()

    def complete(self, messages, *, temperature=None, max_tokens=None, json_schema=None):
        properties = (json_schema or {}).get("properties", {})
        if "merges" in properties:
            self.merge_calls += 1
            if self.fail_merges:
                raise ProviderUnavailableError("merge calls fail", provider="test")
            if self.bad_merges:
                ids = properties["merges"]["items"]["properties"]["into"]["enum"]
                return json.dumps({"merges": [
                    {"into": ids[0], "ids": [ids[0], "c999"], "name": "x", "summary": "",
                     "criteria": ""}]})
        if "clusters" in properties:
            user = re.sub(r"<clusters>\n.*?\n</clusters>", "<clusters>\n(none yet)\n</clusters>",
                          messages[1]["content"], flags=re.DOTALL)
            answer = json.loads(super().complete([messages[0], {"role": "user", "content": user}],
                                                 json_schema=json_schema))
            for item in answer["clusters"]:
                label = item["name"]
                if self.times[label]:
                    item["name"] = f"Questions about {label} #{self.times[label]}"
                self.times[label] += 1
            return json.dumps(answer)
        answer = super().complete(messages, json_schema=json_schema)
        if "assignments" in properties:
            parsed = json.loads(answer)
            for item in parsed["assignments"]:
                if _unit_hash("miss", item["i"], len(parsed["assignments"])) < 0.5:
                    item["cluster_id"] = "none"
            answer = json.dumps(parsed)
        return answer


def test_llm_merge_calls_merge_paraphrased_duplicates_and_keep_lineage(tmp_path):
    texts, labels, gold = _data()
    llm = ParaphrasingLLM(gold)
    model = LLMClusterer(llm, proposal_size=20, random_state=0, min_cluster_size=1,
                         n_jobs=2).fit(texts)
    assert llm.merge_calls >= 1
    by_cluster, by_intent = _purity(model, labels)
    assert all(len(v) == 1 for v in by_cluster.values())
    assert all(len(v) == 1 for v in by_intent.values()), by_intent
    assert sorted(c.name for c in model.get_clusters()) == sorted(INTENTS)
    merged = [c for c in model.clusters_ if c.status == "merged"]
    assert merged
    # Lineage through joblib and the clusters file, and a later partial_fit.
    joblib.dump(model, tmp_path / "m.joblib")
    model.save_clusters(tmp_path / "clusters.json")
    saved = {c.id: c for c in load_clusters(tmp_path / "clusters.json")}
    assert all(saved[c.id].merged_into == c.merged_into for c in merged)
    again = joblib.load(tmp_path / "m.joblib")
    more, more_labels, _ = _data(8, seed=1)
    again.partial_fit(more)
    assert again.n_clusters_ == len(INTENTS)
    assert all(again.clusters_[k].is_live for k in set(again.labels_) - {-1})
    for label, intent in zip(again.labels_, more_labels):
        assert label < 0 or again.clusters_[label].name == intent


def test_a_failed_merge_call_merges_nothing_and_loses_no_text():
    texts, labels, gold = _data()
    failing = ParaphrasingLLM(gold, fail_merges=True)
    kept = LLMClusterer(failing, proposal_size=20, random_state=0,
                        min_cluster_size=1, n_jobs=2)
    with pytest.warns(LLMClusterWarning, match="failed"):
        kept.fit(texts)
    assert failing.merge_calls >= 1
    assert not [c for c in kept.clusters_ if c.status == "merged"]
    # Every text that the run with working merges labels is labelled here too.
    good = LLMClusterer(ParaphrasingLLM(gold), proposal_size=20, random_state=0,
                        min_cluster_size=1, n_jobs=2).fit(texts)
    assert (kept.labels_ >= 0).sum() >= (good.labels_ >= 0).sum()
    assert len(kept.labels_) == len(texts)


def test_a_merge_answer_with_unknown_ids_or_a_self_merge_is_ignored_and_noted():
    texts, labels, gold = _data()
    llm = ParaphrasingLLM(gold, bad_merges=True)
    model = LLMClusterer(llm, proposal_size=20, random_state=0, min_cluster_size=1,
                         max_retries=0, n_jobs=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(texts)
    assert llm.merge_calls >= 1
    assert not [c for c in model.clusters_ if c.status == "merged"]
    assert any("merge answer partly invalid" in str(w.message) for w in caught)


class _Canned:
    """A provider that answers every call with one fixed text."""

    def __init__(self, answer):
        self.answer = answer

    def complete(self, messages, *, temperature=None, max_tokens=None, json_schema=None):
        return self.answer


def _clusters():
    return [Cluster(id=f"c{k}", name=name, criteria=f"about {name}", examples=[name])
            for k, name in enumerate(["card", "card problem", "refund"], start=1)]


@pytest.mark.parametrize("merges, note", [
    ([{"into": "c1", "ids": ["c1"]}], "merged with itself"),
    ([{"into": "c1", "ids": ["c9"]}], "unknown cluster_id 'c9'"),
    ([{"into": "c7", "ids": ["c2"]}], "merge into unknown cluster_id 'c7'"),
])
def test_merger_drops_bad_decisions_and_notes_them(merges, note):
    client = LLMClient(_Canned(json.dumps({"merges": merges})), max_retries=0)
    with collect_usage() as usage:
        decisions = LLMMerger(client).merge(_clusters())
    assert decisions == []
    assert any(note in n for n in usage.notes), usage.notes


def test_merger_reads_a_good_answer():
    answer = {"merges": [{"into": "c1", "ids": ["c2"], "name": "Card issue",
                          "summary": "Card.", "criteria": "About a card."}]}
    client = LLMClient(_Canned(json.dumps(answer)), max_retries=0)
    assert LLMMerger(client).merge(_clusters()) == [
        MergeDecision("c1", ["c2"], "Card issue", "Card.", "About a card.")]


def test_merge_prompt_carries_clusters_as_data_and_the_target():
    prompts = PromptBuilder()
    messages = prompts.merge_messages(_clusters(), target="about 2 clusters in all; it has 3")
    assert "about 2 clusters in all" in messages[0]["content"]
    assert '"cluster_id": "c2"' in messages[1]["content"]
    assert "<clusters>" in messages[1]["content"]
    schema = prompts.merge_schema(["c1", "c2", "c3"])
    assert list(schema["properties"]) == ["merges"]
    assert "about 5 clusters in all" in prompts.propose_messages(
        ["x"], [], 10, target="about 5 clusters in all")[0]["content"]


# -- granularity -------------------------------------------------------------------
def _oracle_fit(n_clusters, n=12):
    texts, labels = intent_requests(n, seed=3)  # six intents
    gold = dict(zip(texts, labels))
    return LLMClusterer(OracleProvider(gold), n_clusters=n_clusters, random_state=0,
                        min_cluster_size=1, n_jobs=2).fit(texts), labels


@pytest.mark.parametrize("n_clusters, low, high", [
    (None, 6, 6), (4, 4, 4), ((2, 3), 2, 3), (10, 6, 6), ((5, 9), 6, 6), (1, 1, 1),
])
def test_n_clusters_on_the_llm_path(n_clusters, low, high):
    model, labels = _oracle_fit(n_clusters)
    assert low <= model.n_clusters_ <= high
    assert (model.labels_ >= 0).all()
    assert all(model.clusters_[k].is_live for k in set(model.labels_))
    # Merging only joins whole intents: no intent is split over two clusters.
    _, by_intent = _purity(model, labels)
    assert all(len(v) == 1 for v in by_intent.values())


def test_the_proposer_is_told_the_target():
    texts, labels = intent_requests(6, seed=3)
    seen = []

    class Recording(OracleProvider):
        def complete(self, messages, **kwargs):
            seen.append(messages[0]["content"])
            return super().complete(messages, **kwargs)

    LLMClusterer(Recording(dict(zip(texts, labels))), n_clusters=(3, 5),
                 random_state=0).fit(texts)
    assert any("between 3 and 5 clusters in all" in s for s in seen)


@pytest.mark.parametrize("value", [0, -3, 2.5, "30", (5,), (9, 3), (1, 2, 3), True, (0, 4),
                                   [3, "x"]])
def test_invalid_n_clusters_names_the_accepted_forms(value):
    model = LLMClusterer(proposer=ParaphrasingProposer({}), judge=NoneJudge(),
                         n_clusters=value)
    with pytest.raises(ValueError, match=r"n_clusters must be None .*a positive int"
                                         r".*\(min, max\) pair"):
        model.fit(["a text"])


def test_n_clusters_survives_clone_and_get_params():
    from sklearn.base import clone

    model = LLMClusterer(n_clusters=(60, 90))
    assert clone(model).get_params()["n_clusters"] == (60, 90)


def test_reduce_merges_smaller_into_larger_and_never_mixes_kinds():
    from sklearn_llmcluster.discovery.consolidation import Consolidator

    registry = ClusterRegistry(min_cluster_size=1)
    for name in ("card blocked", "card lost", "refund", "hello"):
        registry.add(Proposal(name, kind="no_intent" if name == "hello" else "topic"))
    registry.record([0, 0, 1, 2, 3], ["card blocked", "card blocked 2", "card lost",
                                      "refund", "hello"])
    vectors = {"c1": [1, 0], "c2": [0.9, 0.1], "c3": [0, 1], "c4": [0.95, 0.05]}

    def vectors_of(clusters):
        rows = np.array([vectors[c.id] for c in clusters], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    merged = Consolidator(None).reduce_to(registry, 2, vectors_of, None, LLMUsage(),
                                          describe_target="about 2")
    assert merged == {"c2": "c1"}
    assert [c.id for c in registry.live] == ["c1", "c3", "c4"]


def test_a_locked_cluster_is_never_merged_automatically():
    from sklearn_llmcluster.discovery.consolidation import Consolidator

    registry = ClusterRegistry(min_cluster_size=1)
    for name in ("card blocked", "card lost", "refund"):
        registry.add(Proposal(name))
    registry.record([0, 1, 2], ["card blocked", "card lost", "refund"])
    registry.get("c2").locked = True  # the closest pair is c1-c2
    vectors = {"c1": [1, 0], "c2": [0.99, 0.01], "c3": [0.6, 0.8]}

    def vectors_of(clusters):
        rows = np.array([vectors[c.id] for c in clusters], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    usage = LLMUsage()
    consolidator = Consolidator(None)
    assert consolidator.reduce_to(registry, 2, vectors_of, None, usage,
                                  describe_target="about 2") == {"c3": "c1"}
    assert registry.get("c2").is_live and not registry.get("c2").merged_into
    # Down to one unlocked cluster: nothing more to merge, and no endless loop.
    assert consolidator.reduce_to(registry, 1, vectors_of, None, usage,
                                  describe_target="about 1") == {}
    # A decision naming a locked cluster (an LLM's answer) is ignored and noted.
    assert consolidator.apply(registry, [MergeDecision(into="c1", ids=["c2"])], usage) == {}
    assert registry.get("c2").is_live and any("locked" in n for n in usage.notes)


def test_max_rounds_that_stops_discovery_early_warns_with_the_fix():
    texts, labels = intent_requests(10, seed=3)  # six intents
    gold = dict(zip(texts, labels))
    model = LLMClusterer(OracleProvider(gold), max_new_clusters=1, max_rounds=2,
                         random_state=0)
    with pytest.warns(LLMClusterWarning, match=r"max_rounds=2 .* still unassigned.*Raise "
                                               r"max_rounds"):
        model.fit(texts)
    assert model.n_clusters_ == 2 and (model.labels_ == -1).sum() == 40
    with warnings.catch_warnings():
        warnings.simplefilter("error", LLMClusterWarning)
        LLMClusterer(OracleProvider(gold), max_new_clusters=1, max_rounds=None,
                     random_state=0).fit(texts)


# -- parallel discovery --------------------------------------------------------------
class TimedProposer:
    """The oracle proposer with latency, recording when each call starts and what it sees."""

    def __init__(self, gold, latency=0.05):
        from sklearn_llmcluster.testing import OracleProposer

        self.inner = OracleProposer(gold, latency=latency)
        self.gold = gold
        self.starts, self.seen = [], []

    def propose(self, texts, clusters):
        import time

        self.starts.append(time.perf_counter())
        self.seen.append({self.gold[t] for t in texts})
        return self.inner.propose(texts, clusters)


def _waves(starts, gap):
    """Calls that started within ``gap`` of a wave's first call ran at once."""
    waves, first = 0, None
    for start in sorted(starts):
        if first is None or start - first > gap:
            waves, first = waves + 1, start
    return waves


@pytest.mark.parametrize("n_jobs", [1, 8])
def test_parallel_rounds_cut_the_sequential_proposal_calls(n_jobs):
    from sklearn_llmcluster.testing import OracleJudge

    texts, labels = intent_requests(40, seed=5)  # 6 intents x 40
    gold = dict(zip(texts, labels))
    proposer = TimedProposer(gold)
    model = LLMClusterer(proposer=proposer, judge=OracleJudge(gold), proposal_size=20,
                         max_new_clusters=2, n_jobs=n_jobs, random_state=0).fit(texts)
    assert (model.labels_ >= 0).all() and model.n_clusters_ == 6
    waves = _waves(proposer.starts, 0.04)
    if n_jobs == 1:
        # The same calls (samples do not depend on n_jobs), one after another.
        assert waves == len(proposer.starts) > 2
    else:
        # A first call alone (a wrong key stops the run after one call), then
        # the rest of its round at once, then perhaps one round for what is left.
        assert waves <= 3 and len(proposer.starts) >= 2 * waves
        # Samples come from groups of similar texts: a call sees few intents.
        assert np.mean([len(s) for s in proposer.seen[:8]]) < 6


def test_parallel_rounds_replay_from_the_cache(tmp_path):
    texts, labels = intent_requests(30, seed=6)
    gold = dict(zip(texts, labels))
    cache = tmp_path / "cache.sqlite"
    first = LLMClusterer(OracleProvider(gold), proposal_size=20, n_jobs=4, random_state=0,
                         cache=cache).fit(texts)
    again = LLMClusterer(OracleProvider(gold), proposal_size=20, n_jobs=4, random_state=0,
                         cache=cache).fit(texts)
    assert again.llm_usage_.calls == 0 and again.llm_usage_.cache_hits > 0
    assert (first.labels_ == again.labels_).all()


# -- a proposal that names a no-intent cluster again -------------------------------------

def _registry_with(*specs):
    registry = ClusterRegistry(min_cluster_size=1)
    for name, kind in specs:
        registry.add(Proposal(name, kind=kind))
    return registry


def test_a_topic_cluster_that_is_a_no_intent_one_joins_it_under_its_name():
    from sklearn_llmcluster.discovery.consolidation import Consolidator

    registry = _registry_with(("Thanks", "no_intent"), ("thank you messages", "topic"),
                              ("Greeting", "no_intent"), ("card", "topic"))
    usage = LLMUsage()
    merged = Consolidator(None).apply(registry, [
        # The LLM names the topic cluster the survivor: the no-intent one survives.
        MergeDecision(into="c2", ids=["c1"], name="Thank-you messages"),
        # Two no-intent clusters (one per rule) stay apart; the topic one still joins.
        MergeDecision(into="c3", ids=["c1", "c4"]),
    ], usage)
    assert merged == {"c2": "c1", "c4": "c3"}
    thanks = registry.get("c1")
    assert thanks.kind == "no_intent" and thanks.name == "Thanks" and thanks.is_live
    assert registry.get("c3").is_live and registry.get("c3").kind == "no_intent"
    assert "no-intent clusters are not merged with each other" in usage.notes


# -- merges overlap the next round, a second opinion, the last look ----------------------

class _MergeWaitsForAJudge(ScriptedProvider):
    """A merge call that returns only once a judge call has started meanwhile (or 20 s)."""

    def __init__(self):
        super().__init__()
        self.merge_calls = 0
        self.merging = threading.Event()
        self.judged_meanwhile = threading.Event()

    def complete(self, messages, *, json_schema=None, **kwargs):
        properties = (json_schema or {}).get("properties", {})
        if "assignments" in properties and self.merging.is_set():
            self.judged_meanwhile.set()
        if "merges" in properties:
            self.merge_calls += 1
            self.merging.set()
            self.judged_meanwhile.wait(timeout=20)
            self.merging.clear()
        return super().complete(messages, json_schema=json_schema, **kwargs)


def test_merge_calls_run_while_the_next_round_or_the_sweep_judges():
    texts = [f"{topic} {word}" for topic in ("card", "login", "refund", "loan", "transfer", "pin")
             for word in ("blocked", "lost", "stolen", "late")]
    texts += ["cards blocked", "cards lost", "cards stolen"]  # round 2 merges; round 3 judges
    llm = _MergeWaitsForAJudge()
    model = LLMClusterer(llm, random_state=0, max_new_clusters=1, proposal_size=4,
                         n_jobs=4).fit(texts)
    assert llm.merge_calls >= 1 and llm.judged_meanwhile.is_set()
    assert len(model.labels_) == len(texts)


class _SlowFirstProposal(ScriptedProvider):
    """Proposal calls: the first waits (up to 20 s) for another one to start."""

    def __init__(self):
        super().__init__()
        self.proposals = 0
        self.another_started = threading.Event()
        self._lock = threading.Lock()

    def complete(self, messages, *, json_schema=None, **kwargs):
        if "clusters" in (json_schema or {}).get("properties", {}):
            with self._lock:
                self.proposals += 1
                first = self.proposals == 1
            if first:
                self.another_started.wait(timeout=20)
            else:
                self.another_started.set()
        return super().complete(messages, json_schema=json_schema, **kwargs)


def test_a_first_proposal_call_still_running_lets_the_others_start():
    texts = [f"{topic} {i}" for topic in ("card", "login", "refund", "loan") for i in range(10)]
    llm = _SlowFirstProposal()
    LLMClusterer(llm, random_state=0, proposal_size=10, n_jobs=4).fit(texts)
    assert llm.proposals >= 2 and llm.another_started.is_set()


def test_a_first_proposal_call_that_fails_at_once_stops_the_run_alone():
    from sklearn_llmcluster.exceptions import AuthenticationError

    class WrongKey(ScriptedProvider):
        def complete(self, messages, **kwargs):
            self.calls = getattr(self, "calls", 0) + 1
            raise AuthenticationError("invalid api key", provider="test")

    llm = WrongKey()
    texts = [f"{topic} {i}" for topic in ("card", "login", "refund", "loan") for i in range(10)]
    with pytest.raises(AuthenticationError):
        LLMClusterer(llm, random_state=0, proposal_size=10, n_jobs=4).fit(texts)
    assert llm.calls == 1


class _ForgetfulMerger(ParaphrasingLLM):
    """The paraphrasing oracle, whose merge answers keep every duplicate apart and whose
    judge misses a text only the first time it sees it."""

    def __init__(self, gold):
        super().__init__(gold)
        self.seen = set()

    def complete(self, messages, *, temperature=None, max_tokens=None, json_schema=None):
        properties = (json_schema or {}).get("properties", {})
        if "merges" in properties:
            self.merge_calls += 1
            return json.dumps({"merges": []})
        if "assignments" in properties:
            answer = json.loads(OracleProvider.complete(self, messages, json_schema=json_schema))
            texts = {item["i"]: item["text"] for item in
                     map(json.loads, re.findall(r'^\{"i": .*\}$', messages[-1]["content"], re.M))}
            for item in answer["assignments"]:
                if texts[item["i"]] not in self.seen:
                    item["cluster_id"] = "none"
            self.seen.update(texts.values())
            return json.dumps(answer)
        return super().complete(messages, json_schema=json_schema)


def test_a_duplicate_the_merger_kept_apart_gets_a_second_opinion_from_the_judge():
    texts, labels, gold = _data()
    llm = _ForgetfulMerger(gold)
    model = LLMClusterer(llm, proposal_size=20, random_state=0, min_cluster_size=1,
                         n_jobs=2).fit(texts)
    assert llm.merge_calls >= 1
    # Re-proposals of an intent with a cluster from an earlier round were merged
    # into it all the same, on the judge's word.
    merged = [c for c in model.clusters_ if c.status == "merged"]
    assert merged and all(c.name.startswith("Questions about") for c in merged)
    by_cluster, by_intent = _purity(model, labels)
    assert all(len(v) == 1 for v in by_cluster.values())


def test_the_last_look_finds_the_cluster_a_shortlist_missed():
    from sklearn_llmcluster.discovery.shortlists import ShortlistSettings

    topics = [f"{a}{b}" for a in ("alpha", "bravo", "delta", "omega", "sigma")
              for b in ("port", "line", "desk", "card", "bank")]
    texts = [f"{topic} question number {i}" for topic in topics for i in range(6)]
    labels = [topic for topic in topics for _ in range(6)]
    odd = "please help me with the thing i asked about"
    gold = dict(zip(texts, labels))
    gold[odd] = labels[0]  # nothing in its words says which
    model = LLMClusterer(OracleProvider(gold), random_state=0, proposal_size=400, n_jobs=2,
                         shortlist=ShortlistSettings(k_min=1, k_max=1, recheck_none=False),
                         ).fit(texts + [odd])
    assert model.n_clusters_ > 20  # shortlisted
    assert model.clusters_[model.labels_[-1]].name == labels[0]
    assert (model.labels_ >= 0).all()


def test_no_proposal_call_for_fewer_requests_than_a_cluster_needs():
    from sklearn_llmcluster.testing import OracleJudge, OracleProposer

    texts, labels = intent_requests(20, seed=4)
    gold = dict(zip(texts, labels))
    gold["one odd request"] = "odd"
    proposals = []

    class Counting(OracleProposer):
        def propose(self, texts, clusters):
            proposals.append(len(texts))
            return super().propose(texts, clusters)

    def fit(size):
        proposals.clear()
        # At the cap of 6 clusters a call, the odd request waits for a later round.
        model = LLMClusterer(proposer=Counting(gold), judge=OracleJudge(gold),
                             max_new_clusters=len(set(labels)), min_cluster_size=size,
                             random_state=0)
        return model.fit(texts + ["one odd request"]), len(proposals)

    loose, calls_loose = fit(1)
    strict, calls_strict = fit(2)
    assert "odd" in {c.name for c in loose.get_clusters()}
    assert calls_strict < calls_loose and strict.labels_[-1] == -1


_IN_A_POOL = '''
import multiprocessing, threading, time
from sklearn_llmcluster import LLMClusterer
from sklearn_llmcluster.testing import ScriptedProvider


class Concurrency(ScriptedProvider):
    def __init__(self):
        super().__init__()
        self.running = self.most = 0
        self.lock = threading.Lock()

    def complete(self, messages, *, json_schema=None, **kwargs):
        if "clusters" in (json_schema or {}).get("properties", {}):  # proposal calls
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
            time.sleep(0.7)
            with self.lock:
                self.running -= 1
        return super().complete(messages, json_schema=json_schema, **kwargs)


def fit():
    llm = Concurrency()
    texts = [f"{topic} {i}" for topic in ("card", "login", "refund", "loan") for i in range(10)]
    LLMClusterer(llm, random_state=0, proposal_size=10, n_jobs=4).fit(texts)
    return llm.most, multiprocessing.current_process().daemon


if __name__ == "__main__":
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        print(*pool.apply(fit))
'''


def test_llm_calls_run_at_once_inside_a_daemonic_worker_process(tmp_path):
    # joblib.effective_n_jobs says 1 in a multiprocessing pool or Celery worker;
    # the LLM calls are threads and must not wait for each other there.
    import subprocess
    import sys

    script = tmp_path / "in_a_pool.py"
    script.write_text(_IN_A_POOL, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    most, daemon = done.stdout.split()
    assert daemon == "True" and int(most) >= 3  # 4 samples, n_jobs=4
