"""One error pattern: ImageError, WeightsError and CheckpointError are UserErrors whose every code has its
localized message in every language, shown through one ``message(t)``."""

from __future__ import annotations

import string

import pytest

from resnet_viz.classroom import RoomError
from resnet_viz.errors import UserError
from resnet_viz.i18n import LANGUAGES, catalogue, translator
from resnet_viz.imaging.images import ERROR_CODES, ImageError, load_image
from resnet_viz.models.weights import CheckpointError, WeightsError, load_checkpoint, pretrained_weights

KINDS = (ImageError, WeightsError, CheckpointError, RoomError)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_every_code_has_its_message_in_every_language(kind):
    assert issubclass(kind, UserError) and issubclass(kind, ValueError)
    assert kind.CODES and kind.I18N_PREFIX.endswith("_")
    for lang in LANGUAGES:
        for code in kind.CODES:
            key = kind.I18N_PREFIX + code
            assert key in catalogue(lang), (lang, key)


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_the_errors_raised_fill_their_message_exactly():
    raised = []
    for call in (
        lambda: load_image(b""),
        lambda: load_image(b"not an image"),
        lambda: pretrained_weights("resnet20"),
        lambda: load_checkpoint(b"", "resnet20"),
        lambda: load_checkpoint(b"garbage!!", "resnet20"),
    ):
        with pytest.raises(UserError) as err:
            call()
        raised.append(err.value)
    for err in raised:
        assert err.code in type(err).CODES
        for lang in LANGUAGES:
            t = translator(lang)
            assert _fields(catalogue(lang)[err.i18n_key]) == set(err.params), err.i18n_key
            assert err.message(t) == t(err.i18n_key, **err.params) and "⟦" not in err.message(t)
    assert ImageError.CODES == ERROR_CODES


def test_a_detached_error_is_the_same_error_without_its_traceback():
    with pytest.raises(ImageError) as raised:
        load_image(b"")
    err = raised.value
    kept = err.detached()
    assert err.__traceback__ is not None
    assert type(kept) is ImageError and kept.code == "empty" and str(kept) == str(err)
    assert kept.params == err.params and kept.unexpected is False
    assert kept.__traceback__ is None and kept.__context__ is None
    w = WeightsError("offline", "no network", arch="resnet50", path="/tmp/x").detached()
    assert isinstance(w, WeightsError) and w.i18n_key == "feature_maps.weights_error_offline"
    assert w.message(translator("en")).startswith("No internet connection")


def test_a_detached_room_error_keeps_the_rooms_code_beside_its_own():
    """A RoomError's ``code`` param is the room's code, a name ``UserError.__init__`` also takes (the error's
    kind): detaching must not pass params as keywords."""
    try:
        raise RoomError.about("not_teacher", "K7QX2M", "not the teacher of room K7QX2M")
    except RoomError as err:
        raised = err
    kept = raised.detached()
    assert type(kept) is RoomError and kept.code == "not_teacher" and kept.params == {"code": "K7QX2M"}
    assert str(kept) == str(raised) and kept.__traceback__ is None and raised.__traceback__ is not None
    assert kept.params is not raised.params
    assert kept.message(translator("zh")) == raised.message(translator("zh"))


def test_key_names_from_a_file_are_quoted_so_no_markup_renders() -> None:
    """A checkpoint's key named like a Markdown image must show as text in the error, not load an image."""
    from resnet_viz.i18n import translator
    from resnet_viz.models.weights import CheckpointError

    err = CheckpointError(
        "keys", "x", arch="resnet18", n_missing=1, n_unexpected=1,
        missing=("fc.weight",), unexpected=("![i](//host/p.png)",),
    )  # fmt: skip
    text = err.message(translator("en"))
    assert "`![i](//host/p.png)`" in text and "`fc.weight`" in text
    shape = CheckpointError("shape", "x", arch="resnet18", key="[x](//e.co)", got="(1,)", expected="(2,)")
    assert "`[x](//e.co)`" in shape.message(translator("zh"))
    assert "–" in CheckpointError(
        "keys", "x", arch="a", n_missing=0, n_unexpected=1, missing=(), unexpected=("k",)
    ).message(translator("en"))
