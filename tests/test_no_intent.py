"""Greetings, thanks, noise and table footers go to their own no-intent clusters."""

from __future__ import annotations

import json

import pytest

from sklearn_llmcluster import LLMClusterer, load_clusters
from sklearn_llmcluster.discovery.no_intent import data_language, no_intent_category
from sklearn_llmcluster.testing import ScriptedProvider


@pytest.mark.parametrize("text, category", [
    ("Спасибо!", "thanks"), ("спасибо большое за помощь", "thanks"),
    ("Thank you so much", "thanks"),
    ("Алло?", "greeting"), ("алё", "greeting"), ("Добрый день!", "greeting"),
    ("Hello, anyone there?", "greeting"), ("???", "unclear"), ("👍", "unclear"),
    ("...", "unclear"), ("ок", "unclear"), ("test", "unclear"),
    ("Итого обращений: 532", "footer"), ("ВСЕГО: 1 204", "footer"), ("Total: 12", "footer"),
    # Requests with an intent are never caught, whatever greeting they carry.
    ("спасибо, а где моя карта?", None), ("Здравствуйте, заблокировали карту", None),
    ("hello my card is blocked", None), ("итого списали лишние 500 рублей", None),
    ("", None), ("   ", None),
])
def test_rules(text, category):
    assert no_intent_category(text) == category


def test_language_of_the_names():
    assert data_language(["карта заблокирована", "hello"]) == "ru"
    assert data_language(["card blocked", "привет"]) == "en"
    assert data_language(["card blocked"], "Russian") == "ru"


TEXTS = ["карта заблокирована", "карта не приходит", "карта украдена", "Спасибо!",
         "спасибо большое", "Алло?", "Добрый день", "???", "👍", "Итого обращений: 532",
         "перевод не дошёл", "перевод завис", "перевод отменён"]


def test_no_intent_texts_get_their_own_clusters_never_topic_ones(tmp_path):
    model = LLMClusterer(ScriptedProvider(), random_state=0, min_cluster_size=1).fit(TEXTS)
    kinds = {c.name: c.kind for c in model.get_clusters()}
    assert kinds == {"карта": "topic", "перевод": "topic", "Благодарность": "no_intent",
                     "Приветствие": "no_intent", "Неясное обращение": "no_intent",
                     "Служебная строка таблицы": "no_intent"}
    named = {text: model.clusters_[label].name for text, label in zip(TEXTS, model.labels_)}
    assert named["Спасибо!"] == named["спасибо большое"] == "Благодарность"
    assert named["Алло?"] == named["Добрый день"] == "Приветствие"
    assert named["???"] == named["👍"] == "Неясное обращение"
    assert named["Итого обращений: 532"] == "Служебная строка таблицы"
    assert {named[t] for t in TEXTS if t.startswith(("карта", "перевод"))} == {"карта", "перевод"}
    # The kind goes into the clusters file and back.
    model.save_clusters(tmp_path / "clusters.json")
    data = json.loads((tmp_path / "clusters.json").read_text(encoding="utf-8"))
    assert {c["name"]: c["kind"] for c in data["clusters"]} == kinds
    assert {c.name: c.kind for c in load_clusters(tmp_path / "clusters.json")} == kinds
    # predict and partial_fit use the same clusters; nothing new is made for them.
    thanks = model.registry_.find_by_name("Благодарность").id
    assert model.clusters_[model.predict(["Благодарю!"])[0]].id == thanks
    n = len(model.clusters_)
    model.partial_fit(["спасибо", "Hello"])
    assert len(model.clusters_) == n
    assert [model.clusters_[k].name for k in model.labels_] == ["Благодарность", "Приветствие"]


def test_english_data_gets_english_names():
    model = LLMClusterer(ScriptedProvider(), random_state=0).fit(
        ["card blocked", "card lost", "thanks!", "hi", "?"])
    assert {c.name for c in model.get_clusters() if c.kind == "no_intent"} == {
        "Thanks", "Greeting", "Unclear request"}


def test_the_llm_proposer_can_answer_no_intent_clusters():
    class NoIntentLLM(ScriptedProvider):
        def complete(self, messages, *, json_schema=None, **kwargs):
            answer = json.loads(super().complete(messages, json_schema=json_schema, **kwargs))
            for item in answer.get("clusters", []):
                item["kind"] = "no_intent" if item["name"] == "please" else "topic"
            return json.dumps(answer)

    model = LLMClusterer(NoIntentLLM(), random_state=0).fit(
        ["please", "please", "card blocked", "card lost"])
    assert {c.name: c.kind for c in model.get_clusters()} == {"please": "no_intent",
                                                              "card": "topic"}


def test_the_propose_prompt_asks_for_no_intent_clusters():
    from sklearn_llmcluster.discovery.prompts import PromptBuilder

    prompts = PromptBuilder()
    assert '"no_intent"' in prompts.propose_messages(["x"], [], 5)[0]["content"]
    kind = prompts.propose_schema(5)["properties"]["clusters"]["items"]["properties"]["kind"]
    assert kind["enum"] == ["topic", "no_intent"]


def test_a_renamed_no_intent_cluster_still_takes_its_requests():
    texts = ["спасибо", "спасибо большое", "благодарю", "карта заблокирована",
             "заблокировали карту", "карту заблокировали вчера"] * 3
    model = LLMClusterer(provider=ScriptedProvider(), random_state=0).fit(texts)
    thanks = next(c for c in model.get_clusters() if c.kind == "no_intent")
    label = model.registry_.index_of(thanks.id)
    model.rename_cluster(thanks.id, "Слова благодарности")
    assert model.predict(["спасибо", "большое спасибо"]).tolist() == [label, label]


def test_the_judge_sees_no_intent_clusters_marked_with_the_rules_examples():
    # Offered to the judge ("cheers mate" is thanks the rules miss), marked
    # as holding no request, and showing only what the rules put there: a
    # request the judge put there by mistake never becomes an example.
    class Recording(ScriptedProvider):
        def __init__(self):
            super().__init__()
            self.judge_prompts = []

        def complete(self, messages, *, json_schema=None, **kwargs):
            if "assignments" in (json_schema or {}).get("properties", {}):
                self.judge_prompts.append("\n".join(m["content"] for m in messages))
            return super().complete(messages, json_schema=json_schema, **kwargs)

    llm = Recording()
    model = LLMClusterer(llm, random_state=0).fit(TEXTS)
    thanks = model.registry_.find_by_name("Благодарность")
    assert thanks.examples == ["Спасибо!", "спасибо большое"]
    model.partial_fit(["спасибо огромное", "Благодарность за помощь"])
    assert thanks.examples == ["Спасибо!", "спасибо большое", "спасибо огромное"]
    line = next(line for p in llm.judge_prompts for line in p.splitlines()
                if '"Благодарность"' in line)
    assert '"kind": "no_intent"' in line
    assert not any('"kind": "no_intent"' in line for p in llm.judge_prompts
                   for line in p.splitlines() if '"карта"' in line)


def test_assignments_say_the_kind_of_each_requests_cluster():
    from sklearn_llmcluster.io.assignments import ASSIGNMENT_COLUMNS, assignments_frame

    model = LLMClusterer(ScriptedProvider(), random_state=0).fit(TEXTS + ["zz"])
    frame = assignments_frame([f"r{i}" for i in range(len(TEXTS) + 1)], TEXTS + ["zz"],
                              model.labels_, model.clusters_)
    assert list(frame.columns) == ASSIGNMENT_COLUMNS
    kind = dict(zip(frame["text"], frame["kind"]))
    assert kind["Спасибо!"] == kind["???"] == kind["Итого обращений: 532"] == "no_intent"
    assert kind["карта заблокирована"] == kind["перевод завис"] == "topic"
    assert kind["zz"] is None and frame["status"].iloc[-1] == "unassigned"
