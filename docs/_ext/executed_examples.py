"""``.. run-example::``: run a code block at build time and show what it printed.

For examples whose output depends on the data and the engine (cluster names of
the offline engine on the demo data, say), writing the output into the page
by hand would go stale. This directive runs its content when the page is
read, and renders the code followed by the real output. An exception fails
the build (``sphinx-build -W``), so the example always runs.

The blocks of one page share a namespace, in order, and run in a scratch
folder (files they write go there). The environment is cleared of LLM
settings first, as for the doctests, so no example can reach a server.
Warnings raised by the code are shown with the output.

With the ``:command:`` flag the content is one ``llmcluster ...`` command
line instead: it runs in-process through ``sklearn_llmcluster.cli.main``
and is shown as a console session (a non-zero exit code fails the build).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shlex
import tempfile
import traceback
import warnings

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

_LLM_PREFIXES = ("OLLAMA_", "OPENAI_", "OPENROUTER_", "ANTHROPIC_", "TRITON_", "LLAMACPP_")
_LLM_NAMES = ("DEFAULT_LLM_PROVIDER", "DEFAULT_MODEL")


@contextlib.contextmanager
def _no_llm_environment():
    saved = {k: v for k, v in os.environ.items()
             if k.startswith(_LLM_PREFIXES) or k in _LLM_NAMES}
    for name in saved:
        del os.environ[name]
    # Nothing listens on port 9: the Ollama probe fails at once, even on a
    # machine that runs Ollama, so the offline engine is what resolves.
    os.environ["OLLAMA_API_URL"] = "http://127.0.0.1:9"
    try:
        yield
    finally:
        del os.environ["OLLAMA_API_URL"]
        os.environ.update(saved)


class RunExample(SphinxDirective):
    has_content = True
    option_spec = {"command": directives.flag}

    def run(self) -> list[nodes.Node]:
        code = "\n".join(self.content)
        command = "command" in self.options
        if command:
            argv = shlex.split(code)
            if argv[:1] != ["llmcluster"]:
                raise self.error("a :command: example must be one 'llmcluster ...' line")
            code = ("from sklearn_llmcluster.cli import main as _cli_main\n"
                    f"_exit_code = _cli_main({argv[1:]!r})\n"
                    "assert _exit_code == 0, f'exit code {_exit_code}'")
        state = self.env.temp_data.setdefault("run_example", {})
        namespace = state.setdefault("namespace", {"__name__": "__main__"})
        folder = state.setdefault("folder", tempfile.mkdtemp(prefix="llmcluster-example-"))

        output = io.StringIO()
        cwd = os.getcwd()
        # Progress messages belong to the example's output (the CLI shows
        # them), never to the build log.
        library_logger = logging.getLogger("sklearn_llmcluster")
        propagate = library_logger.propagate
        library_logger.propagate = False
        try:
            with _no_llm_environment(), warnings.catch_warnings(record=True) as caught, \
                    contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                warnings.simplefilter("always")
                os.chdir(folder)
                exec(compile(code, f"<{self.env.docname} example>", "exec"), namespace)
        except Exception:
            raise self.error(f"the example failed:\n{traceback.format_exc()}") from None
        finally:
            os.chdir(cwd)
            library_logger.propagate = propagate
            _close_figures()

        text = output.getvalue().rstrip("\n")
        shown = [f"{w.category.__name__}: {' '.join(str(w.message).split())}"
                 for w in caught if not issubclass(w.category, DeprecationWarning)]
        if shown:
            text = "\n".join([text, *shown]) if text else "\n".join(shown)

        if command:
            shown_text = f"$ {' '.join(self.content).strip()}\n{text}".rstrip()
            block = nodes.literal_block(shown_text, shown_text)
            block["language"] = "console"
            return [block]
        source = nodes.literal_block(code, code)
        source["language"] = "python"
        result: list[nodes.Node] = [source]
        if text:
            out = nodes.literal_block(text, text)
            out["language"] = "text"
            out["classes"].append("example-output")
            result.append(out)
        return result


def _close_figures() -> None:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return
    plt.close("all")


def setup(app):
    app.add_directive("run-example", RunExample)
    # Reading runs the examples; do it in one process, in order.
    return {"version": "1.0", "parallel_read_safe": False, "parallel_write_safe": True}
