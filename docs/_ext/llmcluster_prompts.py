"""Sphinx directive that renders the library's real prompts at build time.

``.. llmcluster-prompt:: propose`` (or ``judge``, ``retry`` or ``merge``) runs
the library's own proposer, judge or consolidation merger, with :class:`sklearn_llmcluster.PromptBuilder`
and :class:`sklearn_llmcluster.LLMClient`, against a provider that records what
it receives, and shows every message and the JSON Schema exactly as they
were sent, so the page can never drift from the code. Options:

``:business-context:``
    Passed to ``PromptBuilder(business_context=...)``.
``:language:``
    Passed to ``PromptBuilder(language=...)``.
``:redacted:``
    Flag: show the messages after PII redaction, as a remote provider gets them.
``:no-schema:``
    Flag: leave out the JSON Schema.
``:target:``
    For ``merge``: the catalogue size asked for (``n_clusters`` in words).

The directive's content is the requests, one per line. The example clusters
are fixed below and shown inside the rendered messages; ``merge`` shows them
with a paraphrased duplicate of the first.
"""

from __future__ import annotations

import json

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

EXAMPLE_CLUSTERS = [
    {
        "id": "c1",
        "name": "Card blocked",
        "summary": "The customer's bank card is blocked or declined as blocked.",
        "criteria": "The request says a card is blocked, frozen or declined as blocked "
                    "and asks why or how to unblock it.",
        "examples": ["карту заблокировали после оплаты, что делать",
                     "my card got blocked at the supermarket"],
    },
    {
        "id": "c2",
        "name": "Cannot log in",
        "summary": "Login to the app or personal account fails.",
        "criteria": "Login fails: wrong-password errors, missing one-time codes, a locked "
                    "account. Not password resets the customer asks for.",
        "examples": ["не могу войти в личный кабинет", "login code never arrives"],
    },
]


#: A duplicate of "Card blocked" under another name, as real proposers make them.
DUPLICATE_CLUSTER = {
    "id": "c3",
    "name": "Frozen bank card",
    "summary": "The card was frozen by the bank.",
    "criteria": "The customer's card is frozen or stopped by the bank.",
    "examples": ["банк заморозил карту, как разморозить", "why is my card frozen"],
}


def _clusters(with_duplicate: bool = False):
    from sklearn_llmcluster import Cluster

    items = EXAMPLE_CLUSTERS + ([DUPLICATE_CLUSTER] if with_duplicate else [])
    return [Cluster(**c) for c in items]


class _Recorder:
    """A provider that records what it is sent and answers from a script."""

    name = "docs-example"
    model = ""
    is_remote = False

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[list[dict], dict | None]] = []

    def complete(self, messages, *, temperature=None, max_tokens=None, json_schema=None):
        self.sent.append((messages, json_schema))
        return self.answers.pop(0)


def _judge_answer(n: int) -> str:
    return json.dumps({"assignments": [{"i": i, "cluster_id": "none"} for i in range(n)]})


class PromptExample(SphinxDirective):
    required_arguments = 1
    has_content = True
    option_spec = {
        "business-context": directives.unchanged,
        "language": directives.unchanged,
        "redacted": directives.flag,
        "no-schema": directives.flag,
        "target": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        from sklearn_llmcluster import LLMClient, LLMJudge, LLMProposer, PromptBuilder
        from sklearn_llmcluster.llm import client as client_module
        from sklearn_llmcluster.discovery import judge as judge_module
        from sklearn_llmcluster.discovery import prompts as prompts_module
        from sklearn_llmcluster.discovery import consolidation as consolidation_module
        from sklearn_llmcluster.discovery import proposer as proposer_module
        from sklearn_llmcluster.privacy.redaction import redact_pii

        # Rebuild the page whenever the code that writes the prompts changes.
        for module in (prompts_module, client_module, judge_module, proposer_module,
                       consolidation_module):
            self.env.note_dependency(module.__file__)
        self.env.note_dependency(__file__)

        kind = self.arguments[0]
        texts = [line.strip() for line in self.content if line.strip()]
        builder = PromptBuilder(business_context=self.options.get("business-context"),
                                language=self.options.get("language"))
        clusters = _clusters()
        # The real judge and proposer, through the real client (which redacts
        # when asked, as it does for remote providers), talking to a recorder.
        redact = redact_pii if "redacted" in self.options else None
        if kind == "propose":
            provider = _Recorder(['{"clusters": []}'])
            client = LLMClient(provider, redact=redact)
            LLMProposer(client, builder, max_new_clusters=10).propose(texts, clusters)
        elif kind == "judge":
            provider = _Recorder([_judge_answer(len(texts))])
            client = LLMClient(provider, redact=redact)
            LLMJudge(client, builder).judge(texts, clusters)
        elif kind == "retry":
            # First an answer naming a cluster that does not exist, then a valid one.
            bad = json.dumps({"assignments": [{"i": 0, "cluster_id": "c9"}]})
            provider = _Recorder([bad, _judge_answer(1)])
            client = LLMClient(provider, max_retries=1, redact=redact)
            LLMJudge(client, builder).judge(texts[:1], clusters)
            (first, _), (second, _) = provider.sent
            # The retry repeats the request and appends the bad answer and a correction.
            result: list[nodes.Node] = []
            for message in second[len(first):]:
                result += self._message(message)
            return result
        elif kind == "merge":
            provider = _Recorder(['{"merges": []}'])
            client = LLMClient(provider, redact=redact)
            consolidation_module.LLMMerger(client, builder).merge(
                _clusters(with_duplicate=True), self.options.get("target"))
        else:
            raise self.error(f"unknown prompt kind {kind!r}: use propose, judge, retry or merge")
        (messages, schema), = provider.sent
        result = []
        for message in messages:
            result += self._message(message)
        if "no-schema" not in self.options:
            result.append(nodes.paragraph(
                text="JSON Schema the answer must follow (passed to the provider as "
                     "json_schema; providers send it as their structured-output option):"))
            result.append(self._block(json.dumps(schema, indent=2, ensure_ascii=False), "json"))
        return result

    def _message(self, message: dict) -> list[nodes.Node]:
        title = nodes.paragraph()
        title += nodes.strong(text=f"{message['role']} message")
        return [title, self._block(message["content"], "text")]

    @staticmethod
    def _block(text: str, language: str) -> nodes.literal_block:
        block = nodes.literal_block(text, text)
        block["language"] = language
        return block


def setup(app):
    app.add_directive("llmcluster-prompt", PromptExample)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
