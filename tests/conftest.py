"""Shared fixtures: texts with a known structure and a scripted LLM."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sklearn_llmcluster.testing import ScriptedProvider

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("SKLEARN_LLMCLUSTER_DATA", ROOT.parent / "shared" / "data"))

# Requests whose first long word is their intent, as ScriptedProvider reads them.
INTENTS = {
    "card": ["card blocked after payment", "card stolen yesterday", "card not arriving",
             "card declined in shop", "card pin forgotten"],
    "login": ["login fails with error", "login page is blank", "login code never arrives",
              "login blocked after attempts"],
    "refund": ["refund for cancelled order", "refund still not received", "refund request twice"],
    "доставка": ["доставка задерживается третий день", "доставка не пришла",
                 "доставка курьером отменена"],
}


@pytest.fixture
def intent_texts() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for intent, items in INTENTS.items():
        for text in items:
            texts.append(text)
            labels.append(intent)
    return texts, labels


@pytest.fixture
def scripted() -> ScriptedProvider:
    return ScriptedProvider()


@pytest.fixture(autouse=True)
def _no_llm_environment(monkeypatch):
    """Tests never pick up a developer's LLM configuration or .env file."""
    for name in list(os.environ):
        if name.startswith(("OLLAMA_", "OPENAI_", "OPENROUTER_", "ANTHROPIC_", "TRITON_",
                            "LLM_", "LLAMACPP_", "DEFAULT_")):
            monkeypatch.delenv(name, raising=False)
    # A developer's running Ollama must not answer the default provider probe.
    monkeypatch.setenv("OLLAMA_API_URL", "http://127.0.0.1:9")


@pytest.fixture
def one_proposal_a_round(monkeypatch):
    """One proposal call per round, as before parallel rounds: for tests that need a
    long sequence of calls (a judge call after a proposal, a run that dies mid-way)."""
    from sklearn_llmcluster.discovery import engine

    monkeypatch.setattr(engine, "PARALLEL_PROPOSALS", 1)
