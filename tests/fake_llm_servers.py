"""Fake LLM servers that speak each vendor's HTTP protocol over a real socket.

Each fake is a :class:`http.server.ThreadingHTTPServer` on ``127.0.0.1``
(port 0, so the OS picks a free one) serving in a thread. It checks requests
the way the real server does (auth headers, required fields, unknown
models), answers in the vendor's response shape, and records every request
it got in ``server.requests``.

The text of each answer comes from ``responder(messages, json_schema)``: a
fixed JSON answer by default, or :func:`scripted_responder`, which asks
:class:`sklearn_llmcluster.testing.ScriptedProvider` so a whole
``LLMClusterer.fit`` can run against a fake. ``server.push(...)`` queues
one-off answers (error statuses, bodies, headers, delays) for the next
generation requests.

Usage::

    with FakeOpenAI(api_key="sk-test") as server:
        provider = OpenAIProvider("gpt-4o-mini", server.url + "/v1", api_key="sk-test")
        provider.complete([{"role": "user", "content": "hi"}])
        assert server.requests[-1].body["model"] == "gpt-4o-mini"
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

DEFAULT_ANSWER = '{"label": "billing"}'

Responder = Callable[[list, "dict | None"], str]


def fixed_responder(text: str = DEFAULT_ANSWER) -> Responder:
    """A responder that always answers ``text``."""
    return lambda messages, schema: text


def scripted_responder() -> Responder:
    """A responder backed by one ScriptedProvider (valid answers to the library's prompts)."""
    from sklearn_llmcluster.testing import ScriptedProvider

    provider = ScriptedProvider()
    lock = threading.Lock()

    def respond(messages: list, schema: dict | None) -> str:
        with lock:
            return str(provider.complete(messages, json_schema=schema))

    return respond


def count_tokens(text: str) -> int:
    """The fakes' token count: one token per 4 characters, at least 1."""
    return max(1, len(text) // 4)


def block_text(content: Any) -> str:
    """A message's text, whether a string or Anthropic-style content blocks."""
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return "" if content is None else str(content)


class PrefixCache:
    """The part of a prompt a server finds in its prompt cache, as vendors count it.

    OpenAI (and OpenRouter for the models it routes there) caches
    automatically: a prompt of at least ``min_tokens`` (1,024) tokens reuses
    the longest prefix it shares with an earlier prompt, counted in steps of
    ``step`` (128) tokens. llama.cpp's server reuses the prefix shared with
    its slot's previous prompt when asked with ``cache_prompt``. Tokens are
    the fakes' (4 characters each).
    """

    def __init__(self, min_tokens: int = 1024, step: int = 128, last_only: bool = False):
        self.min_tokens = min_tokens
        self.step = step
        self.last_only = last_only
        self.prompts: list[str] = []
        self._lock = threading.Lock()

    def lookup(self, prompt: str) -> int:
        """Cached tokens of ``prompt``; remembers it for later prompts."""
        with self._lock:
            earlier = self.prompts[-1:] if self.last_only else self.prompts
            shared = max((_common_prefix(prompt, p) for p in earlier), default=0)
            self.prompts.append(prompt)
        tokens = shared // 4
        if tokens < self.min_tokens:
            return 0
        return tokens - tokens % self.step


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


@dataclass
class Recorded:
    """One request a fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""
    at: float = field(default_factory=time.monotonic)


@dataclass
class Scripted:
    """A one-off answer queued with :meth:`FakeServer.push`."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' Session expects
    fake: "FakeServer"

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = Recorded(method, self.path, {k.lower(): v for k, v in self.headers.items()},
                           body, raw)
        self.fake._record(request)
        status, payload, headers = self.fake._respond(request)
        if isinstance(payload, (dict, list)):
            data = json.dumps(payload).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(payload, bytes):
            data = payload
        else:
            data = (payload or "").encode()
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a read-timeout test)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that timed out closes the socket under the handler


class FakeServer:
    """Base class: serving, recording and scripting; subclasses speak a protocol.

    Parameters
    ----------
    responder : callable, optional
        ``responder(messages, json_schema) -> str`` gives each answer's text.
    delay : float, default=0.0
        Seconds every generation request waits before answering.
    """

    #: Paths (regular expressions) whose requests generate text; only they
    #: consume pushed answers and ``delay``.
    generation_paths: tuple[str, ...] = ()

    def __init__(self, responder: Responder | None = None, delay: float = 0.0) -> None:
        self.responder = responder or fixed_responder()
        self.delay = delay
        self.requests: list[Recorded] = []
        self._queue: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._httpd: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> "FakeServer":
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FakeServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting ---------------------------------------------------------
    def push(self, status: int, body: Any = None, headers: dict | None = None,
             delay: float = 0.0, times: int = 1) -> None:
        """Answer the next ``times`` generation requests with this instead."""
        with self._lock:
            for _ in range(times):
                self._queue.append(Scripted(status, body, dict(headers or {}), delay))

    def generation_requests(self) -> list[Recorded]:
        """The recorded requests to generation paths."""
        return [r for r in self.requests if self._is_generation(r.path)]

    # -- internals ---------------------------------------------------------
    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def _is_generation(self, path: str) -> bool:
        return any(re.fullmatch(p, path.split("?")[0]) for p in self.generation_paths)

    def _respond(self, request: Recorded) -> tuple[int, Any, dict]:
        if self._is_generation(request.path):
            with self._lock:
                scripted = self._queue.popleft() if self._queue else None
            if scripted is not None:
                time.sleep(scripted.delay)
                return scripted.status, scripted.body, dict(scripted.headers)
            if self.delay:
                time.sleep(self.delay)
        try:
            return self.route(request)
        except Exception as exc:  # a bug in a fake must show, not hang the client
            return 500, {"error": f"fake server error: {exc!r}"}, {}

    def route(self, request: Recorded) -> tuple[int, Any, dict]:
        raise NotImplementedError


# -- Ollama -------------------------------------------------------------------

def _embedding(text: str, dim: int = 8) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255.0 for b in digest[:dim]]


class FakeOllama(FakeServer):
    """Ollama's native API: ``/api/chat``, ``/api/tags``, ``/api/embed``.

    Parameters
    ----------
    models : iterable of str
        Pulled models, as ``name:tag``.
    thinking_models : iterable of str, optional
        Models that accept ``think``; the others answer 400 to it, as Ollama
        does. Defaults to all ``models``.
    report_prompt_tokens : bool, default=True
        ``False`` leaves ``prompt_eval_count`` out (Ollama omits it when the
        prompt was cached).
    """

    generation_paths = (r"/api/chat",)

    def __init__(self, models=("qwen3:30b",), thinking_models=None,
                 report_prompt_tokens: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.models = list(models)
        self.thinking_models = set(self.models if thinking_models is None else thinking_models)
        self.report_prompt_tokens = report_prompt_tokens

    def _known(self, model: str | None) -> bool:
        return bool(model) and (model in self.models or f"{model}:latest" in self.models)

    def route(self, request: Recorded):
        if request.method == "GET" and request.path == "/api/tags":
            return 200, {"models": [
                {"name": m, "model": m, "modified_at": "2025-01-01T00:00:00Z", "size": 1,
                 "digest": "0" * 64, "details": {"format": "gguf", "family": "qwen3"}}
                for m in self.models]}, {}
        body = request.body if isinstance(request.body, dict) else {}
        if request.method == "POST" and request.path == "/api/embed":
            if not self._known(body.get("model")):
                return 404, {"error": f"model '{body.get('model')}' not found"}, {}
            inputs = body.get("input")
            inputs = [inputs] if isinstance(inputs, str) else inputs
            return 200, {"model": body["model"],
                         "embeddings": [_embedding(t) for t in inputs]}, {}
        if request.method == "POST" and request.path == "/api/chat":
            return self._chat(body)
        return 404, "404 page not found", {"Content-Type": "text/plain"}

    def _chat(self, body: dict):
        model = body.get("model")
        if not model:
            return 400, {"error": "model is required"}, {}
        if not self._known(model):
            return 404, {"error": f"model '{model}' not found"}, {}
        if "think" in body and model not in self.thinking_models:
            return 400, {"error": f'"{model}" does not support thinking'}, {}
        messages = body.get("messages") or []
        schema = body.get("format") if isinstance(body.get("format"), dict) else None
        answer = self.responder(messages, schema)
        prompt_tokens = count_tokens("".join(m.get("content", "") for m in messages))
        if body.get("stream", True):
            # Ollama streams NDJSON unless told "stream": false.
            lines = [
                {"model": model, "message": {"role": "assistant", "content": answer},
                 "done": False},
                {"model": model, "message": {"role": "assistant", "content": ""},
                 "done": True, "done_reason": "stop", "eval_count": count_tokens(answer)},
            ]
            text = "\n".join(json.dumps(line) for line in lines) + "\n"
            return 200, text, {"Content-Type": "application/x-ndjson"}
        reply = {
            "model": model, "created_at": "2025-01-01T00:00:00.000000Z",
            "message": {"role": "assistant", "content": answer},
            "done_reason": "stop", "done": True, "total_duration": 2254970291,
            "load_duration": 574751416, "prompt_eval_duration": 1502000000,
            "eval_count": count_tokens(answer), "eval_duration": 175000000,
        }
        if self.report_prompt_tokens:
            reply["prompt_eval_count"] = prompt_tokens
        return 200, reply, {}


# -- OpenAI and compatible servers ------------------------------------------------

_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")


class FakeOpenAI(FakeServer):
    """OpenAI's Chat Completions and Embeddings under ``prefix`` (``/v1``).

    Parameters
    ----------
    api_key : str or None
        Bearer token required; ``None`` accepts requests without auth
        (vLLM or llama.cpp without ``--api-key``).
    models : iterable of str, optional
        Known models; any model is accepted when omitted.
    prefix : str, default="/v1"
        Path prefix of the API.

    json_schema_format : bool, default=True
        ``False`` behaves like llama-cpp-python's server: only
        ``{"type": "json_object", "schema": ...}`` is read, and a
        ``json_schema`` response format gets a 500.

    Notes
    -----
    Like OpenAI, reasoning models (``o1``, ``o3``, ``gpt-5`` ...) reject
    ``max_tokens`` and any temperature but 1 with an ``unsupported_parameter``
    or ``unsupported_value`` 400.
    """

    def __init__(self, api_key: str | None = "sk-test-key", models=None, prefix: str = "/v1",
                 json_schema_format: bool = True, llamacpp: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.llamacpp = llamacpp
        # OpenAI caches long prompts on its own; llama.cpp's server reuses
        # its slot's last prompt when asked with cache_prompt.
        self.prompt_cache = PrefixCache(min_tokens=1, step=1, last_only=True) if llamacpp \
            else PrefixCache()
        self.api_key = api_key
        self.json_schema_format = json_schema_format
        self.models = None if models is None else list(models)
        self.prefix = prefix
        self.generation_paths = (re.escape(prefix + "/chat/completions"),)

    def error(self, status: int, message: str, type_: str, code: Any = None,
              param: str | None = None) -> tuple[int, Any, dict]:
        return status, {"error": {"message": message, "type": type_, "param": param,
                                  "code": code}}, {}

    def _auth(self, request: Recorded):
        if self.api_key is None:
            return None
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            given = request.headers.get("authorization", "").removeprefix("Bearer ")
            masked = (given[:3] + "*" * 4 + given[-4:]) if given else ""
            return self.error(401, f"Incorrect API key provided: {masked}. You can find your "
                              "API key at https://platform.openai.com/account/api-keys.",
                              "invalid_request_error", "invalid_api_key")
        return None

    def _model_error(self, model: str | None):
        if self.models is not None and model not in self.models:
            return self.error(404, f"The model `{model}` does not exist or you do not have "
                              "access to it.", "invalid_request_error", "model_not_found")
        return None

    def route(self, request: Recorded):
        denied = self._auth(request)
        if denied:
            return denied
        body = request.body if isinstance(request.body, dict) else {}
        if request.method == "POST" and request.path == self.prefix + "/embeddings":
            missing = self._model_error(body.get("model"))
            if missing:
                return missing
            inputs = body.get("input")
            inputs = [inputs] if isinstance(inputs, str) else inputs
            return 200, {"object": "list", "model": body.get("model"), "data": [
                {"object": "embedding", "index": i, "embedding": _embedding(t)}
                for i, t in reversed(list(enumerate(inputs)))],
                "usage": {"prompt_tokens": 1, "total_tokens": 1}}, {}
        if request.method == "POST" and request.path == self.prefix + "/chat/completions":
            return self._chat(body)
        return self.error(404, f"Invalid URL ({request.method} {request.path})",
                          "invalid_request_error")

    def _schema(self, body: dict) -> dict | None:
        fmt = body.get("response_format")
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            return (fmt.get("json_schema") or {}).get("schema")
        if isinstance(fmt, dict) and fmt.get("type") == "json_object":
            return fmt.get("schema")
        return None

    def _chat(self, body: dict):
        model = body.get("model")
        missing = self._model_error(model)
        if missing:
            return missing
        if not body.get("messages"):
            return self.error(400, "Missing required parameter: 'messages'.",
                              "invalid_request_error", "missing_required_parameter", "messages")
        fmt = body.get("response_format") or {}
        if not self.json_schema_format and fmt.get("type") not in (None, "text", "json_object"):
            # llama-cpp-python's server: pydantic rejects the type, under a 500.
            return self.error(500, "1 validation error:\n  {'type': 'literal_error', 'loc': "
                              "('body', 'response_format', 'type'), 'msg': \"Input should be "
                              "'text' or 'json_object'\", 'input': 'json_schema'}",
                              "internal_server_error")
        if str(model).startswith(_REASONING_PREFIXES):
            if "max_tokens" in body:
                return self.error(400, "Unsupported parameter: 'max_tokens' is not supported "
                                  "with this model. Use 'max_completion_tokens' instead.",
                                  "invalid_request_error", "unsupported_parameter", "max_tokens")
            if body.get("temperature", 1) != 1:
                return self.error(400, "Unsupported value: 'temperature' does not support "
                                  f"{body['temperature']} with this model. Only the default "
                                  "(1) value is supported.", "invalid_request_error",
                                  "unsupported_value", "temperature")
        answer = self.responder(body["messages"], self._schema(body))
        prompt = "".join(m.get("content", "") for m in body["messages"])
        prompt_tokens = count_tokens(prompt)
        completion_tokens = count_tokens(answer)
        if self.llamacpp and not body.get("cache_prompt"):
            cached = 0
            self.prompt_cache.lookup(prompt)  # the slot holds this prompt now
        else:
            cached = self.prompt_cache.lookup(prompt)
        reply = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
            "created": 1700000000, "model": f"{model}-2024-08-06",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer,
                                                 "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens,
                      "prompt_tokens_details": {"cached_tokens": cached},
                      "completion_tokens_details": {"reasoning_tokens": 0}},
        }
        if self.llamacpp:
            # llama.cpp's server: no details block in older versions, the
            # reused prompt in timings.cache_n.
            del reply["usage"]["prompt_tokens_details"]
            del reply["usage"]["completion_tokens_details"]
            reply["timings"] = {"cache_n": cached, "prompt_n": prompt_tokens - cached,
                                "predicted_n": completion_tokens, "prompt_ms": 1.0,
                                "predicted_ms": 1.0}
        return 200, reply, {}


class FakeOpenRouter(FakeOpenAI):
    """OpenRouter: the OpenAI shape under ``/api/v1``, its own error bodies."""

    def __init__(self, api_key: str | None = "sk-or-test-key", models=None, **kwargs: Any):
        super().__init__(api_key=api_key, models=models, prefix="/api/v1", **kwargs)

    def error(self, status, message, type_=None, code=None, param=None):
        return status, {"error": {"code": status, "message": message}}, {}

    def _model_error(self, model):
        if self.models is not None and model not in self.models:
            return status_body(400, {"error": {"message": f"{model} is not a valid model ID",
                                               "code": 400}, "user_id": "user_test"})
        return None

    def _chat(self, body: dict):
        status, reply, headers = super()._chat(body)
        if status == 200:
            reply["provider"] = "OpenAI"
            reply["choices"][0]["native_finish_reason"] = "stop"
            reply["usage"]["cost"] = 0.00012
        return status, reply, headers


def status_body(status: int, body: Any, headers: dict | None = None):
    return status, body, dict(headers or {})


# -- Anthropic ----------------------------------------------------------------------

class FakeAnthropic(FakeServer):
    """Anthropic's Messages API, ``POST /v1/messages``.

    Parameters
    ----------
    api_key : str
        Required in ``x-api-key``.
    models : iterable of str, optional
        Known models; any is accepted when omitted.
    structured_models : iterable of str, optional
        Models that accept ``output_config.format``; others answer 400 to it.
        Defaults to Claude 4.5 names.
    """

    generation_paths = (r"/v1/messages",)

    def __init__(self, api_key: str = "sk-ant-test-key", models=None,
                 structured_models=("claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-5"),
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key
        self.models = None if models is None else list(models)
        self.structured_models = set(structured_models)
        #: Prefixes written to the prompt cache by a cache_control breakpoint.
        self.cached_prefixes: set[str] = set()
        #: Anthropic caches nothing shorter than this (1,024 tokens on most models).
        self.min_cache_tokens = 1024

    @staticmethod
    def error(status: int, type_: str, message: str):
        return status, {"type": "error", "error": {"type": type_, "message": message},
                        "request_id": "req_011CTest"}, {"request-id": "req_011CTest"}

    def route(self, request: Recorded):
        if request.path != "/v1/messages" or request.method != "POST":
            return self.error(404, "not_found_error", "Not Found")
        if request.headers.get("x-api-key") != self.api_key:
            return self.error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return self.error(400, "invalid_request_error",
                              "anthropic-version: header is required")
        body = request.body if isinstance(request.body, dict) else {}
        model = body.get("model")
        if self.models is not None and model not in self.models:
            return self.error(404, "not_found_error", f"model: {model}")
        if "max_tokens" not in body:
            return self.error(400, "invalid_request_error", "max_tokens: Field required")
        messages = body.get("messages") or []
        for i, m in enumerate(messages):
            if m.get("role") not in ("user", "assistant"):
                return self.error(400, "invalid_request_error",
                                  f"messages.{i}.role: Input should be 'user' or 'assistant'")
        fmt = (body.get("output_config") or {}).get("format")
        if fmt is not None and model not in self.structured_models:
            return self.error(400, "invalid_request_error",
                              f"output_config.format: structured outputs are not supported "
                              f"for model {model}")
        schema = fmt.get("schema") if isinstance(fmt, dict) else None
        tool = None
        choice = body.get("tool_choice") or {}
        if choice.get("type") == "tool":
            tool = next((t for t in body.get("tools") or [] if t.get("name") == choice["name"]),
                        None)
            if tool is None:
                return self.error(400, "invalid_request_error",
                                  "tool_choice: tool not found in tools")
            schema = tool.get("input_schema")
        blocks = _anthropic_blocks(body)
        if sum(1 for b in blocks if b.get("cache_control")) > 4:
            return self.error(400, "invalid_request_error",
                              "A maximum of 4 blocks with cache_control may be provided.")
        chat = ([{"role": "system", "content": block_text(body["system"])}]
                if body.get("system") else [])
        chat += [{"role": m["role"], "content": block_text(m.get("content"))} for m in messages]
        answer = self.responder(chat, schema)
        read, written = self._cache(blocks)
        if tool is not None:
            content = [{"type": "tool_use", "id": "toolu_01Test", "name": tool["name"],
                        "input": json.loads(answer)}]
            stop_reason = "tool_use"
        else:
            content = [{"type": "text", "text": answer}]
            stop_reason = "end_turn"
        prompt = "".join(str(m.get("content", "")) for m in chat)
        return 200, {
            "id": "msg_01Test", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
            "usage": {"input_tokens": max(count_tokens(prompt) - read - written, 0),
                      "output_tokens": count_tokens(answer),
                      "cache_creation_input_tokens": written, "cache_read_input_tokens": read},
        }, {}

    def _cache(self, blocks: list[dict]) -> tuple[int, int]:
        """(tokens read, tokens written) for the prompt's cache breakpoints.

        As the API does: the prefix up to the last breakpoint found cached is
        read, and the prefix up to the last breakpoint is written when longer.
        """
        text, read_upto, last = "", "", ""
        with self._lock:
            for block in blocks:
                text += block.get("text", "")
                if block.get("cache_control") and count_tokens(text) >= self.min_cache_tokens:
                    last = text
                    if text in self.cached_prefixes:
                        read_upto = text
            if last:
                self.cached_prefixes.add(last)
        read = count_tokens(read_upto) if read_upto else 0
        written = count_tokens(last) - read if last and last != read_upto else 0
        return read, written


def _anthropic_blocks(body: dict) -> list[dict]:
    """Every text block of a Messages request in prompt order (system first)."""
    def blocks(content: Any) -> list[dict]:
        if isinstance(content, list):
            return [b for b in content if isinstance(b, dict)]
        return [{"type": "text", "text": str(content)}] if content else []

    out = blocks(body.get("system"))
    for m in body.get("messages") or []:
        out += blocks(m.get("content"))
    return out


# -- Triton -------------------------------------------------------------------------

_CHATML_RE = re.compile(r"<\|im_start\|>(\w+)\n(.*?)<\|im_end\|>", re.DOTALL)


def chatml_to_messages(prompt: str) -> list[dict]:
    """Turn a ChatML prompt back into chat messages (what a tokenizer template undoes)."""
    return [{"role": role, "content": content} for role, content in _CHATML_RE.findall(prompt)]


class FakeTriton(FakeServer):
    """Triton's generate extension and health endpoints.

    Parameters
    ----------
    models : dict of str to {"tensorrtllm", "vllm"}
        Loaded models and the backend each one runs on (which decides the
        request layout it reads).
    ready : bool, default=True
        What ``/v2/health/ready`` says.
    """

    generation_paths = (r"/v2/models/[^/]+(/versions/\d+)?/generate",)

    def __init__(self, models=None, ready: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.models = dict(models or {"ensemble": "tensorrtllm"})
        self.ready = ready

    @staticmethod
    def _unknown(model: str):
        return 400, {"error": f"Request for unknown model: '{model}' is not found"}, {}

    def route(self, request: Recorded):
        path = request.path
        if path == "/v2/health/ready":
            return (200 if self.ready else 400), b"", {}
        match = re.fullmatch(r"/v2/models/([^/]+)(?:/versions/\d+)?/(ready|generate)", path)
        if not match:
            return 404, {"error": "Not Found"}, {}
        model, action = match.groups()
        if model not in self.models:
            return self._unknown(model)
        if action == "ready":
            return 200, b"", {}
        body = request.body if isinstance(request.body, dict) else {}
        prompt = body.get("text_input")
        if not isinstance(prompt, str):
            return 400, {"error": "expected 'text_input' input"}, {}
        messages = chatml_to_messages(prompt) or [{"role": "user", "content": prompt}]
        if self.models[model] == "vllm":
            return self._vllm(model, prompt, messages, body)
        schema = None
        if body.get("guided_decoding_guide_type") == "json_schema":
            schema = json.loads(body["guided_decoding_guide"])
        answer = self.responder(messages, schema)
        return 200, {"context_logits": 0.0, "cum_log_probs": 0.0, "generation_logits": 0.0,
                     "model_name": model, "model_version": "1", "output_log_probs": [0.0],
                     "sequence_end": False, "sequence_id": 0, "sequence_start": False,
                     "text_output": answer}, {}

    def _vllm(self, model: str, prompt: str, messages: list, body: dict):
        params = body.get("parameters") or {}
        schema = None
        if "structured_outputs" in params:
            schema = json.loads(params["structured_outputs"]).get("json")
        answer = self.responder(messages, schema)
        max_tokens = int(params.get("max_tokens", 16))  # vLLM SamplingParams default
        finish = "stop"
        if count_tokens(answer) > max_tokens:
            answer, finish = answer[: max_tokens * 4], "length"
        text = answer if body.get("exclude_input_in_output") else prompt + answer
        reply: dict[str, Any] = {"model_name": model, "model_version": "1", "text_output": text}
        if body.get("return_num_input_tokens"):
            reply["num_input_tokens"] = count_tokens(prompt)
        if body.get("return_num_output_tokens"):
            reply["num_output_tokens"] = count_tokens(answer)
        if body.get("return_finish_reason"):
            reply["finish_reason"] = [finish]
        return 200, reply, {}
