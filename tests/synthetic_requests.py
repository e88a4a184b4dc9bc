"""Generated requests whose intent is their first word, for scale and fast-path tests.

``ScriptedProvider`` reads the first word of four or more letters as the
intent, and each intent has its own vocabulary, so a TF-IDF classifier can
learn them too. Deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np

VOCABULARY = {
    "card": ["blocked", "stolen", "declined", "expired", "pin", "contactless", "chip", "atm"],
    "login": ["password", "code", "app", "browser", "locked", "session", "biometric", "otp"],
    "refund": ["money", "back", "returned", "cancelled", "order", "purchase", "merchant", "days"],
    "transfer": ["iban", "recipient", "abroad", "pending", "swift", "sepa", "account", "sent"],
    "delivery": ["courier", "parcel", "address", "late", "tracking", "shipment", "box", "post"],
    "tariff": ["plan", "price", "monthly", "roaming", "minutes", "gigabytes", "upgrade", "fee"],
}


def intent_requests(n_per_intent: int, intents=None, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n_per_intent`` unique texts per intent and their intents, shuffled."""
    rng = np.random.RandomState(seed)
    intents = list(intents or VOCABULARY)
    texts, labels = [], []
    for intent in intents:
        words = VOCABULARY[intent]
        for k in range(n_per_intent):
            picked = rng.choice(words, size=rng.randint(2, 5), replace=False)
            texts.append(f"{intent} {' '.join(picked)} ref {seed}-{k}")
            labels.append(intent)
    order = rng.permutation(len(texts))
    return [texts[i] for i in order], [labels[i] for i in order]
