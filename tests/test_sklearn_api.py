"""scikit-learn's own API checks.

The real estimator takes raw text, so scikit-learn runs only its cloneability
check on it. A test-only subclass that renders numeric rows as words lets the
full set of checks run against the real fit/predict code paths.
"""

from __future__ import annotations

from sklearn.base import is_clusterer
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import validate_data

from sklearn_llmcluster import LLMClusterer
from sklearn_llmcluster.testing import ScriptedProvider


def sign_topic(text: str) -> str:
    """The scripted intent of a numeric row: the sign of its first feature."""
    return text.split()[0]


class NumericAsTextClusterer(LLMClusterer):
    """Renders each numeric row as words, so scikit-learn's checks can feed it arrays."""

    def _texts_from_input(self, X, reset):
        X = validate_data(self, X, reset=reset)
        return [" ".join(("plus" if v >= 0 else "minus") + f"{j} {round(v, 1)}"
                         for j, v in enumerate(row)) for row in X]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array = False
        tags.input_tags.two_d_array = True
        tags.input_tags.string = False
        tags.non_deterministic = False
        return tags


# No expected failures: with the scripted "meaning" of a row being the sign of
# its first feature, even check_clustering (ARI > 0.4 on make_blobs) passes.
@parametrize_with_checks(
    [
        LLMClusterer(provider=ScriptedProvider(), random_state=0),
        NumericAsTextClusterer(provider=ScriptedProvider(topic=sign_topic), random_state=0,
                               n_jobs=1),
        NumericAsTextClusterer(provider=ScriptedProvider(topic=sign_topic), random_state=0,
                               n_jobs=4, batch_size=3),
    ],
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_is_a_clusterer_with_string_input_tags():
    model = LLMClusterer()
    assert is_clusterer(model)
    tags = model.__sklearn_tags__()
    assert tags.estimator_type == "clusterer"
    assert tags.input_tags.string and tags.input_tags.one_d_array
    assert not tags.input_tags.two_d_array
