"""``python -m sklearn_llmcluster.cli``: the same as the ``llmcluster`` command."""

from . import main

raise SystemExit(main())
