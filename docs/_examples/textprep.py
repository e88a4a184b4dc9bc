"""Text preprocessing for a Pipeline: module-level functions, so that it pickles."""

import numpy as np

from sklearn_llmcluster.privacy.redaction import redact_pii


def normalise(texts):
    """Lower-case and collapse whitespace."""
    return np.array([" ".join(str(t).lower().split()) for t in np.ravel(texts)],
                    dtype=object)


def redact_texts(texts):
    """Replace phones, cards, e-mails ... by placeholders before anything else sees them."""
    return np.array([redact_pii(str(t)) for t in np.ravel(texts)], dtype=object)
