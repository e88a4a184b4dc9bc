"""The tolerant JSON parser: finds the answer, or raises its one documented error."""

from __future__ import annotations

import json
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_llmcluster.exceptions import ResponseParseError
from sklearn_llmcluster.llm.parsing import _strip_reasoning, parse_json_response


@pytest.mark.parametrize("raw", [
    '{"a": 1}',
    '```json\n{"a": 1}\n```',
    '```\n{"a": 1}```',
    'Sure! Here is the JSON:\n{"a": 1}\nHope this helps.',
    '<think>maybe {"a": 2}? no</think>{"a": 1}',
    '<think>\nlong reasoning with { braces\n</think>\n\n```json\n{"a": 1}\n```',
    '[1, 2] and then {"a": 1}',
])
def test_finds_the_object_in_noisy_answers(raw):
    assert parse_json_response(raw) == {"a": 1}


def test_expect_list_and_any():
    assert parse_json_response("x [1, 2]", expect=list) == [1, 2]
    assert parse_json_response("x {\"a\": [1]}", expect=None) == {"a": [1]}


@pytest.mark.parametrize("raw", ["", "   ", "no json here", '{"a": 1', "```json\n{\n```",
                                 "<think>{\"a\": 1}</think>", "[" * 100_000, None, 12])
def test_unusable_answers_raise_response_parse_error(raw):
    with pytest.raises(ResponseParseError):
        parse_json_response(raw)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises_a_foreign_error(raw):
    try:
        parse_json_response(raw)
    except ResponseParseError:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values, st.text(max_size=20), st.text(max_size=20))
def test_any_json_object_is_found_between_prose(value, before, after):
    obj = {"value": value}
    raw = before.replace("{", "(").replace("[", "(") + json.dumps(obj) + after
    assert parse_json_response(raw) == obj


@settings(max_examples=200, deadline=None)
@given(json_values, st.integers(min_value=0, max_value=200), st.text(max_size=5))
def test_near_valid_json_never_raises_a_foreign_error(value, cut, junk):
    raw = json.dumps({"v": value})
    broken = raw[:cut] + junk + raw[cut + 1:]
    try:
        parse_json_response(broken)
    except ResponseParseError:
        pass


_OLD_THINK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)

think_soup = st.lists(st.sampled_from(
    ["<think>", "</think>", "<THINKING>", "</thinking>", "<reasoning>", "</Reasoning>",
     '{"a": 1}', "[2]", "x", " ", "\n", "{", ">"]), max_size=30).map("".join)


@settings(max_examples=300, deadline=None)
@given(think_soup)
def test_reasoning_removal_matches_the_regex_it_replaced(text):
    # Same result as the lazy regex on inputs small enough for the regex.
    assert _strip_reasoning(text) == _OLD_THINK.sub("", text)


@pytest.mark.parametrize("hostile", [
    "<think>" * 20_000,
    "<think>x" * 15_000 + '{"a": 1}',
    "<reasoning><think>" * 10_000 + "</think>",
])
def test_a_hostile_answer_full_of_open_reasoning_tags_parses_in_linear_time(hostile):
    # The lazy regex took 35 s on the first of these; a stalled judge call
    # holds a worker and the run for as long.
    start = time.perf_counter()
    try:
        parse_json_response(hostile)
    except ResponseParseError:
        pass
    assert time.perf_counter() - start < 1.0
