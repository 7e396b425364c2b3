"""Which datasets are training data and which are evaluation data: the one definition.

The leakage rules (DA503/DA504), the HTML report, ``merge`` and ``scan`` all ask this module, so a
dataset never is "training" in one place and "evaluation" in another.

A dataset's role is decided in this order:

1. ``--eval-datasets`` given (``"DIS-VD+DIS-TE1"``, ``"DIS-VD,DIS-TE1"`` or a list): the named
   datasets are evaluation and **every other dataset is training**, whatever its name says. So with
   ``--eval-datasets hard``, ``DIS-TE1`` is training: the option is the user's complete answer, and
   mixing it with name guesses would make the leakage check depend on two sources at once. A name
   matches exactly, or by its last ``/`` component (``DIS5K/DIS-TE1`` matches ``DIS-TE1``). An empty
   option (``""``, ``" , "``, an empty list) counts as not given.
2. Otherwise the name's tokens decide. The name is case-folded and cut at every character that is not
   a letter or digit (``DIS-TE1`` -> ``dis``, ``te1``); a token is a vocabulary word optionally
   followed by digits (``TE1``, ``val2017``):

   - training: ``tr``, ``train``, ``training``, ``trainset``;
   - evaluation: ``te``, ``test``, ``testing``, ``testset``, ``vd``, ``val``, ``valid``,
     ``validation``, ``dev``, ``eval``, ``evaluation``.

   A token must be the whole word: ``street`` or ``trainval`` carry no role.
3. A name with tokens of both kinds (``train-test``, ``tr-te``) or of neither (``hard``, ``easy``,
   ``extra``) has no role (None): guessing would either invent leakage or hide it. Such datasets take
   no part in DA503/DA504 (their duplicates are plain DA501/DA502) and the report shows no split; name
   them with ``--eval-datasets`` to decide.

Validation sets (``VD``, ``val``, ``dev``) count as evaluation: a picture shared between training and
validation inflates the validation score that picks checkpoints and hyper-parameters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

#: A dataset's role; None (no role) is returned where neither applies.
Role = Literal["train", "eval"]
TRAIN: Role = "train"
EVAL: Role = "eval"

#: Words that mark a training dataset (each may be followed by digits).
TRAIN_TOKENS: tuple[str, ...] = ("tr", "train", "training", "trainset")
#: Words that mark an evaluation (test or validation) dataset (each may be followed by digits).
EVAL_TOKENS: tuple[str, ...] = (
    "te", "test", "testing", "testset", "vd", "val", "valid", "validation", "dev", "eval", "evaluation",
)

_TRAIN_TOKEN = re.compile(rf"^({'|'.join(TRAIN_TOKENS)})\d*$")
_EVAL_TOKEN = re.compile(rf"^({'|'.join(EVAL_TOKENS)})\d*$")
_SEPARATORS = re.compile(r"[+,]")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def parse_eval_datasets(spec: str | Iterable[str] | None) -> frozenset[str] | None:
    """The ``--eval-datasets`` option as a set of dataset names; None when not given or empty.

    Accepts ``"DIS-VD+DIS-TE1"`` (BiRefNet's spelling), ``"DIS-VD,DIS-TE1"``, or a list of such
    strings; blanks around names are dropped.
    """
    if spec is None:
        return None
    parts = [spec] if isinstance(spec, str) else list(spec)
    names = frozenset(name.strip() for part in parts for name in _SEPARATORS.split(part) if name.strip())
    return names or None


def role_from_name(name: str) -> Role | None:
    """The role a dataset's name alone gives it (step 2 and 3 of the module doc)."""
    tokens = [token for token in _NOT_ALNUM.split(name.casefold()) if token]
    train = any(_TRAIN_TOKEN.match(token) for token in tokens)
    evaluation = any(_EVAL_TOKEN.match(token) for token in tokens)
    if train == evaluation:  # neither, or both: no honest guess
        return None
    return TRAIN if train else EVAL


def dataset_role(name: str, eval_datasets: str | Iterable[str] | None = None) -> Role | None:
    """``"train"``, ``"eval"`` or None (no role) for the dataset ``name``.

    ``eval_datasets`` is the ``--eval-datasets`` option, raw (``"DIS-VD+DIS-TE1"``) or parsed (a set
    or list of names); when it names any dataset it decides alone (see the module doc).
    """
    wanted = parse_eval_datasets(eval_datasets)
    if wanted is None:
        return role_from_name(name)
    return EVAL if name in wanted or name.rsplit("/", 1)[-1] in wanted else TRAIN


__all__ = [
    "EVAL", "EVAL_TOKENS", "TRAIN", "TRAIN_TOKENS", "Role", "dataset_role", "parse_eval_datasets", "role_from_name",
]
