"""The offline engine: discovers, names and judges clusters without an LLM."""

from __future__ import annotations

import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from sklearn_llmcluster import Cluster, Judge, LLMClusterer, LLMClusterWarning, Proposer
from sklearn_llmcluster.representation.offline import OfflineEngine, OfflineJudge, OfflineProposer

# Four intents, ten wordings each: two in English, two in Russian.
INTENTS = {
    "card_arrival": [
        "where is my new card", "my card has not arrived yet",
        "the card still has not been delivered", "when will my card arrive",
        "how long does card delivery take", "I am still waiting for my card",
        "card delivery is taking too long", "has my card been sent",
        "my new card never arrived", "can I track the delivery of my card"],
    "password": [
        "I forgot my password", "how do I reset my password",
        "password reset link does not work", "I need to change my password",
        "cannot log in, forgot the password", "reset password please",
        "my password is not accepted", "how to recover a forgotten password",
        "send me a password reset email", "the app says my password is wrong"],
    "block_card": [
        "заблокируйте мою карту", "карта украдена, срочно заблокируйте",
        "как заблокировать карту", "потерял карту, нужно заблокировать",
        "прошу заблокировать банковскую карту", "заблокировать карту через приложение",
        "у меня украли карту заблокируйте её", "срочная блокировка карты",
        "карту потеряла что делать блокировка", "хочу заблокировать карту"],
    "transfer": [
        "как перевести деньги другу", "перевод денег на другой счет",
        "не проходит перевод денег", "сколько стоит перевод в другой банк",
        "перевести деньги по номеру телефона", "перевод деньги не дошли",
        "как сделать перевод за границу", "лимит на перевод денег",
        "отменить перевод денег", "перевод на карту другого банка"],
}
TEXTS = [text for items in INTENTS.values() for text in items]
GOLD = [intent for intent, items in INTENTS.items() for _ in items]
# Words a readable name of each intent contains (any one of them).
NAME_WORDS = {"card_arrival": {"card", "arrived", "delivery", "arrive"},
              "password": {"password", "reset", "forgot"},
              "block_card": {"заблокировать", "заблокируйте", "блокировка", "карту"},
              "transfer": {"перевод", "денег", "деньги", "перевести"}}


def engine(**params) -> OfflineEngine:
    # Four broad intents in 40 texts: the default resolution (tuned on
    # thousands of texts and dozens of intents) would split them further.
    params.setdefault("random_state", 0)
    params.setdefault("resolution", 0.5)
    return OfflineEngine(**params)


def as_clusters(proposals) -> list[Cluster]:
    """What the registry makes of proposals: ids, and names as given."""
    return [Cluster(id=f"c{i + 1}", name=p.name, summary=p.summary, criteria=p.criteria)
            for i, p in enumerate(proposals)]


def intent_of(proposal) -> str:
    intents = {GOLD[m] for m in proposal.members}
    assert len(intents) == 1, f"{proposal.name!r} mixes {intents}"
    return intents.pop()


@pytest.fixture(scope="module")
def fitted():
    """An engine that has proposed clusters for TEXTS, and the clusters the registry made."""
    eng = engine()
    proposals = eng.propose(TEXTS, [])
    return eng, proposals, as_clusters(proposals)


def test_proposer_and_judge_speak_the_protocols():
    eng = OfflineEngine()
    assert isinstance(eng.proposer, OfflineProposer) and isinstance(eng.proposer, Proposer)
    assert isinstance(eng.judge, OfflineJudge) and isinstance(eng.judge, Judge)
    assert eng.proposer.engine is eng.judge.engine is eng


def test_propose_discovers_the_intents_without_being_told_how_many(fitted):
    _, proposals, _ = fitted
    assert len(proposals) == 4
    assert sorted(intent_of(p) for p in proposals) == sorted(INTENTS)
    assert sorted(m for p in proposals for m in p.members) == list(range(len(TEXTS)))


def test_default_resolution_keeps_intents_apart():
    proposals = OfflineEngine(random_state=0).propose(TEXTS, [])
    # Possibly finer than the four intents, but a cluster never mixes two.
    assert {intent_of(p) for p in proposals} == set(INTENTS)


def test_names_are_phrases_of_central_requests_and_descriptions_quote_members(fitted):
    _, proposals, _ = fitted
    for p in proposals:
        # A phrase from the requests themselves, in their language, not a keyword list.
        words = set(p.name.lower().split())
        assert " / " not in p.name and 2 <= len(words) <= 6, p.name
        assert words & NAME_WORDS[intent_of(p)], p.name
        assert p.name[0].isupper() and p.name[-1] not in ".,!?", p.name
        assert any(p.name.lower() in TEXTS[m].lower() for m in p.members), p.name
        assert p.summary and p.criteria
        assert any(TEXTS[m] in p.criteria for m in p.members)
    russian = [p for p in proposals if intent_of(p) in ("block_card", "transfer")]
    assert all("Обращения" in p.summary for p in russian)
    assert all(_has_cyrillic(p.name) for p in russian)
    assert all(p.summary.startswith("Requests") for p in proposals if p not in russian)


def test_proposals_come_biggest_first_and_respect_the_cap():
    texts = TEXTS + INTENTS["password"][:5]  # duplicates count towards size
    proposals = engine(max_new_clusters=2).propose(texts, [])
    assert len(proposals) == 2
    assert intent_of_indices(proposals[0].members, texts) == "password"
    assert len(proposals[0].members) >= len(proposals[1].members)


def intent_of_indices(members, texts) -> str:
    return {GOLD[TEXTS.index(texts[m])] for m in members}.pop()


def test_a_capped_caller_gets_the_left_over_clusters_next_time():
    eng = engine(max_new_clusters=2)
    first = eng.propose(TEXTS, [])
    covered = {m for p in first for m in p.members}
    rest = [t for i, t in enumerate(TEXTS) if i not in covered]
    second = eng.propose(rest, as_clusters(first))
    assert len(second) == 2
    found = {intent_of(p) for p in first}
    found |= {GOLD[TEXTS.index(rest[m])] for p in second for m in p.members}
    assert found == set(INTENTS)
    assert {p.name for p in first}.isdisjoint(p.name for p in second)


def test_names_never_repeat_existing_clusters(fitted):
    _, proposals, clusters = fitted
    again = engine().propose(TEXTS, clusters)
    old = {c.name.casefold() for c in clusters}
    assert len(again) == len(proposals)
    assert all(p.name.casefold() not in old for p in again)


def test_judge_assigns_new_wordings_to_the_right_cluster(fitted):
    eng, proposals, clusters = fitted
    by_intent = {intent_of(p): c.id for p, c in zip(proposals, clusters)}
    answers = eng.judge.judge(["my card did not arrive", "reset my password",
                               "заблокируйте карту срочно", "перевод денег другу"], clusters)
    assert answers == [by_intent["card_arrival"], by_intent["password"],
                       by_intent["block_card"], by_intent["transfer"]]


def test_judge_returns_none_when_nothing_is_similar_enough(fitted):
    eng, _, clusters = fitted
    assert eng.judge.judge(["xyzzy qwerty"], clusters) == [None]
    strict = pickle.loads(pickle.dumps(eng))
    strict.threshold = 0.999
    assert strict.judge.judge(["my card did not arrive"], clusters) == [None]
    assert eng.judge.judge(["my card did not arrive"], []) == [None]
    assert eng.judge.judge([], clusters) == []


def test_judging_a_subset_or_a_shuffle_changes_no_answer(fitted):
    eng, _, clusters = fitted
    probe = TEXTS + ["my card did not arrive", "xyzzy", "перевод денег другу"]
    full = eng.judge.judge(probe, clusters)
    order = np.random.RandomState(0).permutation(len(probe))
    shuffled = eng.judge.judge([probe[i] for i in order], clusters)
    assert [shuffled[list(order).index(i)] for i in range(len(probe))] == full
    for start in range(0, len(probe), 7):
        assert eng.judge.judge(probe[start:start + 7], clusters) == full[start:start + 7]
    # Nor does the order of the clusters offered.
    assert eng.judge.judge(probe, clusters[::-1]) == full


def test_same_random_state_same_clusters():
    a = [(p.name, p.members) for p in engine(random_state=3).propose(TEXTS, [])]
    b = [(p.name, p.members) for p in engine(random_state=3).propose(TEXTS[::-1], [])]
    n = len(TEXTS) - 1
    assert a == [(name, sorted(n - m for m in members)) for name, members in b]


def test_pickle_round_trip_gives_the_same_judgements(fitted):
    eng, _, clusters = fitted
    probe = TEXTS + ["my card did not arrive", "xyzzy"]
    proposer, judge = pickle.loads(pickle.dumps((eng.proposer, eng.judge)))
    assert proposer.engine is judge.engine  # still one shared engine
    assert judge.judge(probe, clusters) == eng.judge.judge(probe, clusters)


def test_concurrent_judge_calls_agree_with_sequential_ones():
    eng = engine()
    clusters = as_clusters(eng.propose(TEXTS, []))
    # Clusters the engine has never seen make the first calls build centroids concurrently.
    clusters += [Cluster(id="x1", name="Exchange rates", summary="Currency exchange rates",
                         examples=["what is the exchange rate", "курс обмена валют"])]
    probe = TEXTS + ["курс доллара", "exchange rate today", "my card did not arrive"]
    batches = [probe[i:i + 3] for i in range(0, len(probe), 3)]
    sequential = [pickle.loads(pickle.dumps(eng)).judge.judge(b, clusters) for b in batches]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda b: eng.judge.judge(b, clusters), batches * 4))
    assert parallel == sequential * 4


def test_judge_builds_a_centroid_for_a_cluster_it_never_proposed(fitted):
    eng, _, clusters = fitted
    foreign = Cluster(id="llm7", name="Курс валют",
                      summary="Вопросы о курсе обмена валют",
                      criteria="Клиент спрашивает, по какому курсу меняют валюту",
                      examples=["какой курс доллара", "курс евро сегодня", "по какому курсу обмен"])
    answers = eng.judge.judge(["курс доллара сегодня", "where is my new card"],
                              clusters + [foreign])
    assert answers[0] == "llm7"
    assert answers[1] != "llm7"


def test_a_fresh_engine_judges_clusters_loaded_from_a_file():
    loaded = [Cluster(id="c1", name="Card delivery", summary="Card has not arrived",
                      examples=INTENTS["card_arrival"][:5]),
              Cluster(id="c2", name="Password reset", summary="Forgotten passwords",
                      examples=INTENTS["password"][:5])]
    eng = OfflineEngine(random_state=0)
    assert eng.judge.judge(["my new card never arrived", "reset password please"],
                           loaded) == ["c1", "c2"]


def test_a_proposal_is_recognised_by_name_under_any_id(fitted):
    eng, proposals, _ = fitted
    # The registry may give a proposal any id, and keeps a merged cluster's id;
    # only the normalised name ties it to the proposal.
    renamed = [Cluster(id=f"z{i}", name=f"  {p.name.upper()} ") for i, p in enumerate(proposals)]
    answers = eng.judge.judge([TEXTS[p.members[0]] for p in proposals], renamed)
    assert answers == [c.id for c in renamed]


def test_invalid_parameters_are_refused():
    with pytest.raises(ValueError, match="min_cluster_size"):
        OfflineEngine(min_cluster_size=0)
    with pytest.raises(ValueError, match="threshold"):
        OfflineEngine(threshold=2.0)
    with pytest.raises(ValueError, match="max_new_clusters"):
        OfflineEngine(max_new_clusters=0)
    with pytest.raises(ValueError, match="resolution"):
        OfflineEngine(resolution=0)


def test_too_few_texts_give_no_proposal_and_no_error():
    eng = engine()
    assert eng.propose([], []) == []
    assert eng.propose(["just one text"], []) == []
    assert eng.propose(["a b", "a b"], []) == []  # one distinct text


def test_estimator_runs_on_the_offline_engine():
    model = LLMClusterer(provider="offline", random_state=0, proposal_size=len(TEXTS),
                         n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit "offline" warns about nothing
        model.fit(TEXTS)
    assert model.provider_ == "offline"
    assert model.coverage_ == 1.0
    assert adjusted_rand_score(GOLD, model.labels_) > 0.5
    assert (model.predict(["my card did not arrive"]) >= 0).all()


def _with_boilerplate(i: int, text: str) -> str:
    """Every other text wrapped in greetings, thanks and a phone or card number of its own."""
    if i % 2:
        return text
    if any("а" <= ch <= "я" for ch in text):
        return (f"Здравствуйте! {text}. Буду благодарна за ответ, "
                f"8 916 {100 + i:03d}-{10 + i:02d}-{20 + i:02d}")
    return f"Hello, good morning! {text}. Kind regards, +44 7911 {123_000 + 7919 * i}"


def test_greetings_and_personal_data_do_not_make_texts_alike():
    # Half of every intent shares the same wrapper; clusters must follow the
    # requests, not the wrapper, and names must not be made of it.
    texts = [_with_boilerplate(i, t) for i, t in enumerate(TEXTS)]
    proposals = engine().propose(texts, [])
    assert {intent_of(p) for p in proposals} == set(INTENTS)
    names = " ".join(p.name for p in proposals).lower()
    for word in ("hello", "morning", "здравствуйте", "благодарна", "regards", "7911", "916"):
        assert word not in names


def test_features_leave_out_numbers_placeholders_and_function_words():
    from sklearn_llmcluster.representation.tfidf import _preprocess, _preprocess_words

    chars = _preprocess("Карта 4111 1111 1111 1111 заблокирована, звоните <PHONE>, Ёлка")
    assert not any(ch.isdigit() for ch in chars)
    assert "phone" not in chars and "елка" in chars and "карта" in chars
    words = _preprocess_words("Здравствуйте, у меня не работает карта")
    assert words.replace(",", " ").split() == ["работает", "карта"]


def test_texts_with_no_features_are_claimed_by_no_cluster():
    # Digits only, or words no other text shares (from 100 texts on, n-grams
    # seen once are not features): nothing to group them by.
    texts = TEXTS + [t + "!" for t in TEXTS] + [t.upper() for t in TEXTS]
    junk = ["12345", "89161234567", "NA", "=SUM(A1:A2)"]
    proposals = engine().propose(texts + junk, [])
    members = {m for p in proposals for m in p.members}
    assert not members & set(range(len(texts), len(texts) + len(junk)))
    assert len(members) == len(texts)


def test_a_saved_engine_keeps_no_introspection_data_and_single_precision_components():
    eng = engine(embedder="tfidf")
    eng.propose(TEXTS * 3 + [t.upper() for t in TEXTS], [])
    space = pickle.loads(pickle.dumps(eng)).embedder_.space_
    assert all(getattr(v, "stop_words_", None) is None for v in space.vectorizers)
    assert space.svd.components_.dtype == np.float32


def test_too_few_texts_for_the_offline_engine_warn_with_the_fix():
    texts = ["card blocked", "my card is blocked", "cannot log in", "login fails"]
    with pytest.warns(LLMClusterWarning, match=r"found no group of at least 3 .* 4 \(4 distinct\)"):
        model = LLMClusterer(provider="offline", random_state=0).fit(texts)
    assert (model.labels_ == -1).all()


def test_repeated_requests_count_by_their_rows():
    # Contact-centre data is full of exact repeats; the estimator sends each
    # distinct text once, with how many rows it stands for.
    texts = (["карта заблокирована"] * 20 + ["не могу войти в приложение"] * 20
             + ["верните деньги за заказ"] * 20)
    model = LLMClusterer(provider="offline", random_state=0).fit(texts)
    assert model.n_clusters_ == 3 and model.coverage_ == 1.0
    assert len(set(model.labels_[[0, 20, 40]])) == 3
    assert sorted(c.size for c in model.clusters_) == [20, 20, 20]


def test_counts_reach_only_proposers_that_ask_for_them():
    from sklearn_llmcluster.testing import ScriptedProvider

    seen = {}

    class Counting:
        uses_counts = True

        def propose(self, texts, clusters, counts=None):
            seen["counts"] = dict(zip(texts, counts))
            return []

    class Plain:
        def propose(self, texts, clusters):
            seen["plain"] = list(texts)
            return []

    judge = OfflineEngine(random_state=0).judge
    texts = ["a b"] * 3 + ["c d"]
    for proposer in (Counting(), Plain()):
        LLMClusterer(proposer=proposer, judge=judge, random_state=0,
                     provider=ScriptedProvider()).fit(texts)
    assert seen["counts"] == {"a b": 3, "c d": 1} and sorted(seen["plain"]) == ["a b", "c d"]


def test_a_few_dozen_texts_still_make_clusters_at_the_default_resolution():
    # Resolution 3.0 suits thousands of texts; on 16 it cut every community
    # below min_cluster_size, and the engine proposed nothing.
    texts = [f"card blocked, call +7 912 345-67-{10 + i:02d}" for i in range(8)] + \
            [f"login fails, mail ivan{i}.petrov@mail.ru" for i in range(8)]
    proposals = OfflineEngine(random_state=0).propose(texts, [])
    assert sorted(sorted(p.members) for p in proposals) == [list(range(8)), list(range(8, 16))]


def test_an_offline_proposer_passed_by_hand_also_sees_every_text():
    seen = []

    class Watching(OfflineProposer):
        def propose(self, texts, clusters, counts=None):
            seen.append(len(texts))
            return super().propose(texts, clusters, counts)

    texts = [f"{t} {i}" for i in range(3) for t in TEXTS]  # 120 texts > proposal_size
    eng = engine()
    LLMClusterer(proposer=Watching(eng), judge=eng.judge, random_state=0,
                 proposal_size=50).fit(texts)
    assert seen[0] == len(texts)


def _has_cyrillic(text: str) -> bool:
    return any("а" <= ch.lower() <= "я" for ch in text)


# -- names an analyst reads ------------------------------------------------------------

SMS = ["Доброго времени суток! Не приходит СМС с кодом", "Здравствуйте, не приходит смс с кодом",
       "не приходит смс с кодом подтверждения, спасибо", "Не приходит СМС с кодом на телефон",
       "смс с кодом не приходит уже час", "Добрый день. Не приходит СМС с кодом для входа"]
BLOCKED = ["Здравствуйте! Заблокирована карта", "заблокирована карта, что делать?",
           "Заблокирована карта. С уважением, Васильева Наталья",
           "почему заблокирована карта 4276 1234 5678 9012", "Заблокирована карта, позвоните "
           "мне +7 916 123-45-67", "Доброго времени суток, у меня заблокирована карта",
           # A name with no signature before it: redact_pii finds it (natasha or rules).
           "Заблокирована карта. Васильева Наталья",
           "Меня зовут Васильева Наталья, заблокирована карта"]


def test_names_leave_out_greetings_thanks_and_personal_data():
    proposals = OfflineEngine(random_state=0, n_clusters=2).propose(SMS + BLOCKED, [])
    names = sorted(p.name for p in proposals)
    assert [n.lower() for n in names] == ["заблокирована карта", "не приходит смс с кодом"]
    text = " ".join(p.name + p.summary + p.criteria for p in proposals).lower()
    for leaked in ("4276", "916", "123-45-67", "васильева", "наталья"):
        assert leaked not in text
    assert not any(g in n.lower() for n in names for g in ("доброго", "здравствуйте", "спасибо"))


def test_names_are_unique_within_the_model():
    # Three clusters whose best phrase is the same text: each gets its own name.
    eng = OfflineEngine(random_state=0, n_clusters=2)
    first = eng.propose(SMS + BLOCKED, [])
    existing = as_clusters(first)
    again = eng.propose([t + " ?" for t in SMS + BLOCKED], existing)
    keys = [p.name.lower() for p in first + again]
    assert len(keys) == len(set(keys))


# -- granularity ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_texts():
    from sklearn_llmcluster.datasets import load_demo

    return load_demo("ru")["text"].tolist()


@pytest.mark.parametrize("target", [8, 25])
def test_an_int_n_clusters_gives_that_many_clusters(demo_texts, target):
    proposals = OfflineEngine(embedder="tfidf", random_state=0, n_clusters=target).propose(
        demo_texts, [])
    assert len(proposals) == target


def test_a_range_of_n_clusters_is_honoured_and_caps_later_searches(demo_texts):
    eng = OfflineEngine(embedder="tfidf", random_state=0, n_clusters=(10, 14))
    proposals = eng.propose(demo_texts, [])
    assert 10 <= len(proposals) <= 14
    clusters = as_clusters(proposals)
    # A later search (partial_fit's new texts) may not go past the maximum.
    filler = [Cluster(id=f"x{i}", name=f"x{i}") for i in range(14 - len(clusters))]
    with pytest.warns(LLMClusterWarning, match=r"allows at most 14 clusters.*Raise the maximum"):
        assert eng.propose(demo_texts[:200], clusters + filler) == []


def test_n_clusters_is_validated_naming_the_accepted_forms():
    for bad in (0, -3, 2.5, "30", (5,), (9, 3), (0, 4), True):
        with pytest.raises(ValueError, match=r"None .*positive int .*\(min, max\)"):
            OfflineEngine(n_clusters=bad)
        with pytest.raises(ValueError, match=r"None .*positive int .*\(min, max\)"):
            LLMClusterer(provider="offline", n_clusters=bad).fit(TEXTS)


def test_the_estimator_passes_n_clusters_and_its_embedder_to_the_engine(demo_texts):
    from sklearn.base import clone

    model = LLMClusterer(provider="offline", embedder="tfidf", n_clusters=12, random_state=0)
    assert clone(model).get_params()["n_clusters"] == 12
    model.fit(demo_texts)
    # n_clusters counts topic clusters; greetings and thanks get no-intent ones besides.
    assert sum(c.kind == "topic" for c in model.get_clusters()) == 12
    assert model.proposer_.engine.embedder_ is model.embedder_
    model.set_params(n_clusters=(3, 20))
    model.predict(demo_texts[:5])
    assert model.proposer_.engine.n_clusters == (3, 20)


def test_too_many_clusters_asked_for_warns_with_the_fix():
    with pytest.warns(LLMClusterWarning, match=r"fewer than n_clusters=30.*Lower n_clusters"):
        proposals = engine(embedder="tfidf", n_clusters=30).propose(TEXTS, [])
    assert 1 <= len(proposals) < 30


def test_max_fit_texts_warns_when_texts_are_not_learnt():
    eng = engine(embedder="tfidf", max_fit_texts=20)
    with pytest.warns(LLMClusterWarning, match=r"max_fit_texts=20 .*Raise max_fit_texts"):
        eng.propose(TEXTS, [])


def test_max_rounds_stopping_discovery_with_texts_left_warns():
    from sklearn_llmcluster.testing import OracleProvider

    gold = dict(zip(TEXTS, GOLD))
    model = LLMClusterer(provider=OracleProvider(gold), max_new_clusters=1, max_rounds=1,
                         proposal_size=40, random_state=0)
    with pytest.warns(LLMClusterWarning, match=r"max_rounds=1 .*Raise max_rounds"):
        model.fit(TEXTS)
    assert (model.labels_ == -1).any()


# -- the community search and the packaged model --------------------------------------


def test_scikit_network_louvain_output_is_pinned_on_a_tiny_graph():
    # Two 4-cliques joined by one weak edge, and a triangle: an upgrade of
    # scikit-network that changed this partition would fail here.
    from sklearn_llmcluster.representation.offline import _louvain
    import scipy.sparse as sp

    edges = [(a, b, 1.0) for group in ([0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10])
             for i, a in enumerate(group) for b in group[i + 1:]] + [(3, 4, 0.1), (7, 8, 0.1)]
    rows, cols, vals = zip(*edges)
    graph = sp.coo_matrix((vals, (rows, cols)), shape=(11, 11)).tocsr()
    graph = (graph + graph.T).tocsr()
    assert _louvain(graph, 1.0).tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
    assert _louvain(graph, 0.01).tolist() == [0] * 11


def test_without_scikit_network_the_builtin_louvain_runs_with_a_warning(monkeypatch):
    import sys

    from sklearn_llmcluster.representation import offline

    monkeypatch.setitem(sys.modules, "sknetwork", None)
    monkeypatch.setitem(sys.modules, "sknetwork.clustering", None)
    monkeypatch.setattr(offline, "_FALLBACK_WARNED", False)
    with pytest.warns(LLMClusterWarning, match=r"sklearn-llmcluster\[offline\]"):
        proposals = engine(embedder="tfidf").propose(TEXTS, [])
    assert {intent_of(p) for p in proposals} == set(INTENTS)


def test_the_packaged_model_pickles_without_its_weights_and_judges_the_same():
    eng = OfflineEngine(embedder="use-multilingual", random_state=0, n_clusters=4)
    proposals = eng.propose(TEXTS, [])
    assert {intent_of(p) for p in proposals} == set(INTENTS)
    blob = pickle.dumps(eng)
    assert len(blob) < 2_000_000  # the model's weights are 33 MB
    clusters = as_clusters(proposals)
    probe = ["my card did not come", "перевести деньги маме", "reset my password"]
    assert pickle.loads(blob).assign(probe, clusters) == eng.assign(probe, clusters)


def test_new_texts_in_partial_fit_join_old_clusters_or_make_new_ones():
    old = [t for t, g in zip(TEXTS, GOLD) if g != "transfer"]
    new = [t for t, g in zip(TEXTS, GOLD) if g == "transfer"]
    model = LLMClusterer(provider="offline", random_state=0, embedder="use-multilingual")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LLMClusterWarning)
        model.fit(old)
        n_old = model.n_clusters_
        model.partial_fit(["where is my card, it never arrived"] + new)
    labels = model.labels_
    assert 0 <= labels[0] < n_old  # a known intent: an old cluster
    assert (labels[1:] >= n_old).mean() >= 0.8  # a new intent: new clusters
