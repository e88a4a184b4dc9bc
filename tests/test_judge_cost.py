"""Judging whose cost does not grow with the catalogue: shortlists, prompt caching, prices."""

from __future__ import annotations

import json
import pickle
import re

import numpy as np
import pytest
from fake_llm_servers import FakeAnthropic, FakeOpenAI, scripted_responder

from sklearn_llmcluster import LLMClusterer
from sklearn_llmcluster.discovery.prompts import PromptBuilder
from sklearn_llmcluster.discovery.shortlists import (
    ClusterIndex,
    Shortlister,
    ShortlistSettings,
)
from sklearn_llmcluster.llm.budget import PriceTable, estimate_cost, resolve_prices
from sklearn_llmcluster.llm.providers import (
    AnthropicProvider,
    OpenAICompatibleProvider,
    OpenAIProvider,
)
from sklearn_llmcluster.records import Cluster, LLMUsage
from sklearn_llmcluster.testing import OracleProvider

TOPICS = ("anchor bakery candle dragon eclipse falcon garnet harbor igloo jasmine kettle "
          "lantern meadow nectar orchid parrot quartz raven saddle tulip umbrella velvet "
          "walnut yacht zephyr almond breeze copper dolphin ember fossil glacier hazel "
          "ivory jungle kayak lemon marble nutmeg olive pepper quiver ribbon salmon "
          "thistle uranium violet willow xylophone yogurt zinnia acorn bison cactus "
          "daisy easel fjord goblet hammock").split()
FRAMES = ["{} does not work for me", "{} help needed please", "{} question from today",
          "{} is broken again", "{} settings need a change", "{} problem since monday",
          "{} will not load", "{} charged twice"]


def topic_texts(topics, frames):
    texts = [frame.format(t) for t in topics for frame in frames]
    gold = {frame.format(t): t for t in topics for frame in frames}
    return texts, gold


#: Texts whose gold label is not the topic word they contain.
OVERRIDES: dict[str, str] = {}
_TOPIC_RE = re.compile(r"\b(" + "|".join(TOPICS) + r")\b")


def topic_of(text: str) -> str | None:
    """Gold label: the topic word in the text (module-level, so models pickle)."""
    if text in OVERRIDES:
        return OVERRIDES[text]
    match = _TOPIC_RE.search(text)
    return match.group(1) if match else None


class Recording(OracleProvider):
    """The oracle, keeping every judge prompt's cluster ids."""

    def __init__(self, gold, **kwargs):
        super().__init__(gold, **kwargs)
        self.catalogues: list[list[str]] = []

    def complete(self, messages, **kwargs):
        if "assignments" in (kwargs.get("json_schema") or {}).get("properties", {}):
            user = messages[-1]["content"] if len(messages) == 2 else messages[1]["content"]
            block = re.search(r"<clusters>\n(.*?)\n</clusters>", user, re.S).group(1)
            self.catalogues.append([json.loads(line)["cluster_id"]
                                    for line in block.splitlines()])
        return super().complete(messages, **kwargs)


@pytest.fixture(scope="module")
def fitted():
    texts, _ = topic_texts(TOPICS, FRAMES[:6])
    provider = Recording(topic_of)
    model = LLMClusterer(provider, random_state=0, n_jobs=1).fit(texts)
    assert model.n_clusters_ == len(TOPICS)
    return model, provider, OVERRIDES


def test_a_big_catalogue_sends_each_batch_only_its_shortlist(fitted):
    model, provider, gold = fitted
    new, new_gold = topic_texts(TOPICS, FRAMES[6:])
    provider.catalogues.clear()
    labels = model.predict(new)
    names = np.array([c.name for c in model.clusters_])
    assert (names[labels] == [new_gold[t] for t in new]).mean() == 1.0
    shortlisted = [c for c in provider.catalogues if len(c) < model.n_clusters_]
    assert len(shortlisted) >= 4
    assert np.mean([len(c) for c in shortlisted]) < 0.75 * model.n_clusters_
    # Candidates go in registry order, so equal shortlists are equal bytes.
    order = {c.id: k for k, c in enumerate(model.clusters_)}
    assert all([order[i] for i in c] == sorted(order[i] for i in c) for c in shortlisted)


def test_shortlist_recall_on_a_synthetic_catalogue(fitted):
    model, _, _ = fitted
    new, new_gold = topic_texts(TOPICS, FRAMES[6:])
    shortlister = model._shortlister()
    batches, catalogues, _ = shortlister.plan(new, model.clusters_, model.batch_size)
    hits = [new_gold[new[i]] in {c.name for c in catalogue}
            for batch, catalogue in zip(batches, catalogues) for i in batch]
    assert len(hits) == len(new) and np.mean(hits) >= 0.95
    assert np.mean([len(c) for c in catalogues]) < 0.75 * len(TOPICS)


def test_a_small_catalogue_is_listed_whole():
    texts, _ = topic_texts(TOPICS[:12], FRAMES[:6])
    provider = Recording(topic_of)
    model = LLMClusterer(provider, random_state=0, n_jobs=1).fit(texts)
    provider.catalogues.clear()
    model.predict(topic_texts(TOPICS[:12], FRAMES[6:])[0])
    assert provider.catalogues and all(len(c) == 12 for c in provider.catalogues)
    assert model.llm_usage_.shortlisted_judge_calls == 0


def test_shortlist_false_lists_every_cluster(fitted):
    model, provider, _ = fitted
    provider.catalogues.clear()
    model.set_params(shortlist=False).predict(topic_texts(TOPICS, FRAMES[6:])[0][:40])
    assert all(len(c) == model.n_clusters_ for c in provider.catalogues)
    model.set_params(shortlist=True)


def test_a_none_from_a_shortlist_gets_one_look_at_every_cluster(fitted):
    model, provider, gold = fitted
    text = f"my {TOPICS[0]} does not work"  # gold: another cluster, not like its words
    gold[text] = TOPICS[-1]
    for recheck, expected in ((False, -1), (True, model.registry_.index_of(
            next(c.id for c in model.clusters_ if c.name == TOPICS[-1])))):
        provider.catalogues.clear()
        model.set_params(shortlist=ShortlistSettings(recheck_none=recheck, recheck_k=None,
                                                     k_min=1, k_max=1))
        label = model.predict([text] * 1 + topic_texts(TOPICS[:25], FRAMES[6:7])[0])[0]
        assert label == expected
    assert any(len(c) == model.n_clusters_ for c in provider.catalogues)
    model.set_params(shortlist=True)


def test_the_second_look_lists_each_texts_most_similar_clusters_not_all(fitted):
    model, provider, gold = fitted
    text = f"my {TOPICS[0]} does not work"
    gold[text] = TOPICS[-1]
    provider.catalogues.clear()
    model.set_params(shortlist=ShortlistSettings(k_min=1, k_max=1, recheck_none=True,
                                                 recheck_k=10))
    model.predict([text])
    first, second = provider.catalogues  # one text: the shortlist, then the wider list
    assert len(first) == 1 and len(second) == 10 and set(first) <= set(second)
    model.set_params(shortlist=True)


def test_the_index_survives_partial_fit_and_pickling(fitted):
    model, _, _ = fitted
    index = model.shortlist_index_
    assert isinstance(index, ClusterIndex) and len(index) == model.n_clusters_
    counts = dict(index.counts)
    copy = pickle.loads(pickle.dumps(model))
    embedder = copy.shortlist_index_.embedder
    copy.partial_fit(topic_texts(TOPICS[:3], FRAMES[6:])[0])
    grown = copy.shortlist_index_
    assert grown.embedder is embedder  # the same vector space, so centroids add up
    assert sum(grown.counts.values()) == sum(counts.values()) + 3 * len(FRAMES[6:])


def test_clusters_loaded_from_json_are_shortlisted_by_name_and_examples():
    clusters = [Cluster(id=f"c{k}", name=t, criteria=f"The request is about {t}.",
                        examples=[f.format(t) for f in FRAMES[:3]])
                for k, t in enumerate(TOPICS)]
    texts, gold = topic_texts(TOPICS, FRAMES[6:])
    shortlister = Shortlister(ShortlistSettings())
    shortlister.prepare(texts, clusters)
    _, catalogues, candidates = shortlister.plan(texts, clusters, 30)
    assert np.mean([gold[t] == clusters[c[0]].name for t, c in zip(texts, candidates)]) > 0.9


# -- prompt caching on the fake vendor servers ---------------------------------------

def test_judge_prompts_put_the_stable_prefix_first():
    clusters = [Cluster(id="c1", name="card", criteria="Card problems.")]
    one = PromptBuilder().judge_messages(["a"], clusters)
    two = PromptBuilder().judge_messages(["b", "c"], clusters)
    assert one[0] == two[0]
    prefix = one[1]["cache_prefix"]
    assert prefix == two[1]["cache_prefix"] and one[1]["content"].startswith(prefix)
    assert "<clusters>" in prefix and '"text"' not in prefix


def many_clusters_fit(provider, texts):
    """Fit, then partial_fit on the same texts: judge calls that all list the same clusters."""
    model = LLMClusterer(provider, random_state=0, n_jobs=1, shortlist=False, batch_size=8)
    return model.fit(texts).partial_fit(texts)


def test_anthropic_gets_cache_control_and_cached_tokens_are_counted():
    texts, _ = topic_texts(TOPICS[:8], FRAMES[:6])
    with FakeAnthropic(api_key="k", responder=scripted_responder()) as server:
        server.min_cache_tokens = 100
        provider = AnthropicProvider("claude-haiku-4-5", server.url, api_key="k",
                                     backoff=0.001)
        model = many_clusters_fit(provider, texts)
        bodies = [r.body for r in server.generation_requests()]
    assert all(b["system"][0]["cache_control"] == {"type": "ephemeral"} for b in bodies)
    marked = [b for b in bodies if isinstance(b["messages"][0]["content"], list)]
    assert marked, "a repeated cluster list is marked for caching"
    first = marked[0]["messages"][0]["content"]
    assert first[0]["cache_control"] == {"type": "ephemeral"} and "</requests>" in first[1]["text"]
    usage = model.llm_usage_
    assert 0 < usage.cached_prompt_tokens < usage.prompt_tokens


def test_openai_cached_tokens_reach_llm_usage_and_the_price():
    texts, _ = topic_texts(TOPICS[:8], FRAMES[:6])
    with FakeOpenAI(api_key="k", responder=scripted_responder()) as server:
        server.prompt_cache.min_tokens, server.prompt_cache.step = 100, 16
        provider = OpenAIProvider("gpt-4o-mini", server.url + "/v1", api_key="k",
                                  backoff=0.001)
        model = many_clusters_fit(provider, texts)
        bodies = [r.body for r in server.generation_requests()]
    assert all("cache_prompt" not in b for b in bodies)  # OpenAI rejects unknown fields
    usage = model.llm_usage_
    assert 0 < usage.cached_prompt_tokens < usage.prompt_tokens
    prices = resolve_prices((1.0, 2.0), vendor="openai")
    assert prices.cached_prompt == 0.5
    plain = PriceTable(1.0, 2.0).cost_of(usage)
    assert prices.cost_of(usage) == pytest.approx(plain - usage.cached_prompt_tokens * 0.5 / 1e6)


def test_llamacpp_server_is_asked_for_cache_prompt_once_recognised():
    texts, _ = topic_texts(TOPICS[:8], FRAMES[:6])
    with FakeOpenAI(api_key=None, llamacpp=True, responder=scripted_responder()) as server:
        provider = OpenAICompatibleProvider("qwen", server.url + "/v1", backoff=0.001)
        model = many_clusters_fit(provider, texts)
        bodies = [r.body for r in server.generation_requests()]
    assert "cache_prompt" not in bodies[0]
    assert all(b.get("cache_prompt") is True for b in bodies[1:])
    assert model.llm_usage_.cached_prompt_tokens > 0


def test_cache_prompt_setting_is_validated_and_can_be_forced():
    with pytest.raises(ValueError, match="cache_prompt"):
        OpenAICompatibleProvider("m", "http://127.0.0.1:1/v1", cache_prompt="yes")
    with FakeOpenAI(api_key=None) as server:
        provider = OpenAICompatibleProvider("m", server.url + "/v1", cache_prompt=True)
        provider.complete([{"role": "user", "content": "hi"}])
        assert server.generation_requests()[-1].body["cache_prompt"] is True


def test_price_tables_are_values_users_pass():
    usage = LLMUsage(prompt_tokens=2_000_000, completion_tokens=1_000_000,
                     cached_prompt_tokens=1_000_000)
    assert PriceTable(1.0, 4.0, 0.1).cost_of(usage) == pytest.approx(1.0 + 0.1 + 4.0)
    assert resolve_prices({"prompt": 1, "completion": 4, "cached_prompt": 0.1}) == \
        PriceTable(1.0, 4.0, 0.1)
    assert resolve_prices((1, 4, 0.1)) == PriceTable(1.0, 4.0, 0.1)
    assert resolve_prices((1, 4), vendor="anthropic").cached_prompt == pytest.approx(0.1)
    assert resolve_prices((1, 4)).cached_prompt is None
    with pytest.raises(ValueError, match="prices"):
        resolve_prices((1, 4, 0.1, 9))


def test_the_estimate_follows_shortlists():
    texts, _ = topic_texts(TOPICS, FRAMES)
    clusters = [Cluster(id=f"c{k}", name=f"topic {k}", criteria="About this topic.",
                        examples=["an example request"] * 3) for k in range(300)]
    full = estimate_cost(texts, clusters=clusters, propose=False)
    short = estimate_cost(texts, clusters=clusters, propose=False,
                          shortlist=ShortlistSettings())
    assert short.prompt_tokens < full.prompt_tokens / 3
    with pytest.raises(ValueError, match="shortlist"):
        LLMClusterer(shortlist="yes").estimate_cost(texts)


def test_the_estimate_prices_the_second_look_and_the_merge_calls():
    texts, _ = topic_texts(TOPICS, FRAMES)
    clusters = [Cluster(id=f"c{k}", name=f"topic {k}", criteria="About this topic.",
                        examples=["an example request"] * 3) for k in range(300)]
    settings = ShortlistSettings(recheck_none=True)
    shares = [estimate_cost(texts, clusters=clusters, propose=False, shortlist=settings,
                            recheck_share=share) for share in (0.0, 0.01, 0.1)]
    assert shares[0].prompt_tokens < shares[1].prompt_tokens < shares[2].prompt_tokens
    # The second look lists a text's recheck_k nearest clusters, not all 300.
    wide = estimate_cost(texts, clusters=clusters, propose=False, recheck_share=0.1,
                         shortlist=ShortlistSettings(recheck_none=True, recheck_k=None))
    assert wide.prompt_tokens > shares[2].prompt_tokens
    # A fit's estimate counts the consolidation calls of its rounds.
    fresh = estimate_cost(texts, n_clusters=60)
    assert fresh.merge_calls >= 1 and fresh.calls == \
        fresh.judge_calls + fresh.propose_calls + fresh.merge_calls
    assert f"{fresh.merge_calls} merge" in str(fresh)


def test_the_second_look_is_on_by_default_with_tfidf_only():
    from sklearn_llmcluster.discovery.shortlists import Shortlister
    from sklearn_llmcluster.representation.embedders import (TfidfEmbedder,
                                                             UseMultilingualEmbedder)

    auto = ShortlistSettings()
    assert auto.recheck_none is None
    assert Shortlister(auto, embedder=TfidfEmbedder()).rechecks()
    assert not Shortlister(auto, embedder=UseMultilingualEmbedder()).rechecks()
    assert Shortlister(auto).rechecks()  # TF-IDF will be fitted on the texts
    forced = ShortlistSettings(recheck_none=True)
    assert Shortlister(forced, embedder=UseMultilingualEmbedder()).rechecks()
    assert not Shortlister(ShortlistSettings(recheck_none=False), embedder=TfidfEmbedder()
                           ).rechecks()
