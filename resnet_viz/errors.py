"""One pattern for every error a student can cause: a code naming what is wrong, and params for its message.

A bad upload (:class:`resnet_viz.imaging.images.ImageError`), pretrained weights that cannot be had
(:class:`resnet_viz.models.weights.WeightsError`) and an unusable checkpoint
(:class:`resnet_viz.models.weights.CheckpointError`) are all a :class:`UserError`. ``str(err)`` is the English
message (for logs, the CLI and tests); the page shows ``err.message(t)``: the i18n template
``f"{err.I18N_PREFIX}{err.code}"`` filled with ``err.params``. Every code in a subclass's ``CODES`` has that
template in every language (tests/test_errors.py checks it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from resnet_viz.formatting import fmt_code

if TYPE_CHECKING:
    from resnet_viz.i18n import Translator


class UserError(ValueError):
    """Something wrong with what the user gave or asked for, named by ``code``; ``params`` fill its message."""

    #: The i18n key of a code is ``I18N_PREFIX + code`` (e.g. ``"images.error_"`` + ``"truncated"``).
    I18N_PREFIX: ClassVar[str] = ""
    #: Every code this class can carry.
    CODES: ClassVar[tuple[str, ...]] = ()
    #: The params that come from outside (a key name inside an uploaded file): shown as code spans nothing inside
    #: can end (formatting.fmt_code), a tuple of them as a list of such spans, so no markup in them renders.
    OUTSIDE: ClassVar[tuple[str, ...]] = ()

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params

    @property
    def i18n_key(self) -> str:
        """The key of the localized message, e.g. ``images.error_truncated``."""
        return f"{self.I18N_PREFIX}{self.code}"

    def message(self, t: Translator) -> str:
        """The localized message: ``t(self.i18n_key, **self.params)``, with the :attr:`OUTSIDE` params quoted."""
        params = dict(self.params)
        for name in self.OUTSIDE:
            value = params.get(name)
            if isinstance(value, tuple):
                params[name] = t("common.list_sep").join(fmt_code(v) for v in value) if value else "–"
            elif value is not None:
                params[name] = fmt_code(str(value))
        return t(self.i18n_key, **params)

    def detached(self) -> UserError:
        """The same error without its traceback and chained exceptions, safe to keep in session state: a kept
        traceback would hold the frames that raised it (and their locals, e.g. a 200 MB upload).

        The copy is made without calling the subclass's ``__init__`` (whose signature it may have changed) and
        without passing ``params`` as keywords: a param may share a name with ``__init__``'s own arguments
        (a RoomError's ``code`` is the room's code, beside the error's own ``code``)."""
        copy = type(self).__new__(type(self))
        BaseException.__init__(
            copy, *self.args
        )  # str(copy) == str(self); no __traceback__, __cause__, __context__
        for name, value in vars(self).items():
            setattr(copy, name, value)
        copy.params = dict(self.params)  # its own dict: a later change to one does not reach the other
        return copy
