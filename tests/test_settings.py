"""The RESNET_VIZ_* knobs: defaults, each one parsed, bad values falling back with a warning, unknown names named."""

from __future__ import annotations

import logging
import os

import pytest

from resnet_viz import settings
from resnet_viz.imaging import batching, store


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No RESNET_VIZ_* variable from the machine running the tests, and nothing parsed before (a warning is logged
    when an environment is first parsed)."""
    for name in list(os.environ):
        if name.upper().startswith(settings.PREFIX):
            monkeypatch.delenv(name)
    settings._parse.cache_clear()
    return monkeypatch


def test_defaults_without_any_variable() -> None:
    s = settings.current()
    assert s == settings.DEFAULTS == settings.Settings()
    assert (s.device, s.offline, s.capture_mb, s.batch_ms, s.max_batch) == ("", False, 256, 5.0, 8)
    assert s.capture_bytes == 256 * 2**20
    # the modules whose defaults these are take them from here
    assert store.DEFAULT_MAX_MB == 256 and store.CaptureStore().max_bytes == 256 * 2**20
    assert (batching.DEFAULT_WINDOW_MS, batching.DEFAULT_MAX_BATCH) == (5.0, 8)


def test_every_knob_has_a_field_and_its_own_name() -> None:
    fields = {name for name in settings.Settings.__dataclass_fields__}
    assert {attr for attr, _ in settings.KNOBS.values()} == fields
    assert all(env == settings.PREFIX + attr.upper() for env, (attr, _) in settings.KNOBS.items())


@pytest.mark.parametrize(
    ("name", "text", "attr", "value"),
    [
        ("RESNET_VIZ_DEVICE", " CUDA ", "device", "cuda"),
        ("RESNET_VIZ_DEVICE", "cpu", "device", "cpu"),
        ("RESNET_VIZ_DEVICE", "tpu", "device", "tpu"),  # kept: select_device warns and uses the CPU
        ("RESNET_VIZ_OFFLINE", "1", "offline", True),
        ("RESNET_VIZ_OFFLINE", " yes", "offline", True),
        ("RESNET_VIZ_OFFLINE", "0", "offline", False),
        ("RESNET_VIZ_OFFLINE", "", "offline", False),
        ("RESNET_VIZ_OFFLINE", "False", "offline", False),
        ("RESNET_VIZ_CAPTURE_MB", "64", "capture_mb", 64.0),
        ("RESNET_VIZ_CAPTURE_MB", "0.5", "capture_mb", 0.5),
        ("RESNET_VIZ_CAPTURE_MB", "0", "capture_mb", 0.0),
        ("RESNET_VIZ_BATCH_MS", "0", "batch_ms", 0.0),
        ("RESNET_VIZ_BATCH_MS", "12.5", "batch_ms", 12.5),
        ("RESNET_VIZ_MAX_BATCH", "1", "max_batch", 1),
        ("RESNET_VIZ_MAX_BATCH", "16", "max_batch", 16),
        ("RESNET_VIZ_MAX_BATCH", "4.0", "max_batch", 4),
        ("RESNET_VIZ_ROOMS", "", "rooms", "sqlite"),
        ("RESNET_VIZ_ROOMS", " SQLite ", "rooms", "sqlite"),
        ("RESNET_VIZ_ROOMS", "redis://10.0.0.5:6379/2", "rooms", "redis://10.0.0.5:6379/2"),
        ("RESNET_VIZ_ROOMS", " rediss://cache:6380/0 ", "rooms", "rediss://cache:6380/0"),
        ("RESNET_VIZ_DATA_DIR", "/srv/resnet-viz ", "data_dir", "/srv/resnet-viz"),
        ("RESNET_VIZ_ROOM_IDLE_MIN", "45", "room_idle_min", 45.0),
        ("RESNET_VIZ_ROOM_IDLE_MIN", "0.5", "room_idle_min", 0.5),
        ("RESNET_VIZ_ROOM_STUDENTS", "40", "room_students", 40),
        ("RESNET_VIZ_MAX_ROOMS", "1", "max_rooms", 1),
    ],
)
def test_each_knob_is_parsed(
    clean_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, name, text, attr, value
) -> None:
    clean_env.setenv(name, text)
    with caplog.at_level(logging.WARNING, logger="resnet_viz.settings"):
        got = settings.current()
    assert getattr(got, attr) == value and type(getattr(got, attr)) is type(value)
    assert caplog.records == []


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("RESNET_VIZ_OFFLINE", "maybe"),
        ("RESNET_VIZ_CAPTURE_MB", "lots"),
        ("RESNET_VIZ_CAPTURE_MB", "-5"),
        ("RESNET_VIZ_CAPTURE_MB", "inf"),
        ("RESNET_VIZ_BATCH_MS", "nan"),
        ("RESNET_VIZ_BATCH_MS", "-1"),
        ("RESNET_VIZ_MAX_BATCH", "0"),
        ("RESNET_VIZ_MAX_BATCH", "2.5"),
        ("RESNET_VIZ_MAX_BATCH", "eight"),
        ("RESNET_VIZ_ROOMS", "postgres://db/rooms"),
        ("RESNET_VIZ_ROOMS", "redis"),
        ("RESNET_VIZ_ROOM_IDLE_MIN", "0"),
        ("RESNET_VIZ_ROOM_IDLE_MIN", "-10"),
        ("RESNET_VIZ_ROOM_IDLE_MIN", "forever"),
        ("RESNET_VIZ_ROOM_STUDENTS", "0"),
        ("RESNET_VIZ_ROOM_STUDENTS", "30.5"),
        ("RESNET_VIZ_MAX_ROOMS", "-1"),
    ],
)
def test_a_bad_value_falls_back_to_the_default_with_a_warning(
    clean_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, name: str, text: str
) -> None:
    clean_env.setenv(name, text)
    clean_env.setenv("RESNET_VIZ_BATCH_MS" if name != "RESNET_VIZ_BATCH_MS" else "RESNET_VIZ_MAX_BATCH", "3")
    with caplog.at_level(logging.WARNING, logger="resnet_viz.settings"):
        got = settings.current()
    attr = settings.KNOBS[name][0]
    assert getattr(got, attr) == getattr(settings.DEFAULTS, attr)
    assert (got.batch_ms, got.max_batch) != (
        settings.DEFAULTS.batch_ms,
        settings.DEFAULTS.max_batch,
    )  # others kept
    (record,) = caplog.records
    assert (
        name in record.getMessage() and repr(text) in record.getMessage() and "default" in record.getMessage()
    )


def test_a_later_value_applies_and_a_bad_one_warns_once(
    clean_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clean_env.setenv("RESNET_VIZ_MAX_BATCH", "2")
    assert settings.current().max_batch == 2
    clean_env.setenv("RESNET_VIZ_MAX_BATCH", "3")
    assert settings.current().max_batch == 3
    clean_env.setenv("RESNET_VIZ_MAX_BATCH", "-3")
    with caplog.at_level(logging.WARNING, logger="resnet_viz.settings"):
        assert settings.current().max_batch == settings.current().max_batch == 8
    assert len(caplog.records) == 1  # parsed once for this environment, not at every call


def test_an_unknown_name_is_warned_with_the_closest_known_one(
    clean_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("RESNET_VIZ_MAXBATCH", "RESNET_VIZ_DEVISE", "resnet_viz_offline", "RESNET_VIZ_SHINY"):
        clean_env.setenv(name, "1")
    for name in ("RESNET_VIZ_DEVICE", "RESNET_VIZ_CHROMIUM", "RESNET_VIZ_UPDATE_GOLDEN"):  # known: not warned
        clean_env.setenv(name, "1")
    with caplog.at_level(logging.WARNING, logger="resnet_viz.settings"):
        unknown = settings.warn_unknown()
    assert unknown == ["RESNET_VIZ_DEVISE", "RESNET_VIZ_MAXBATCH", "RESNET_VIZ_SHINY", "resnet_viz_offline"]
    messages = {r.getMessage().split()[0]: r.getMessage() for r in caplog.records}
    assert set(messages) == set(unknown)
    assert "did you mean RESNET_VIZ_MAX_BATCH?" in messages["RESNET_VIZ_MAXBATCH"]
    assert "did you mean RESNET_VIZ_DEVICE?" in messages["RESNET_VIZ_DEVISE"]
    assert "did you mean RESNET_VIZ_OFFLINE?" in messages["resnet_viz_offline"]
    assert "did you mean" not in messages["RESNET_VIZ_SHINY"]


def test_nothing_unknown_nothing_logged(
    clean_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clean_env.setenv("RESNET_VIZ_OFFLINE", "1")
    with caplog.at_level(logging.WARNING, logger="resnet_viz.settings"):
        assert settings.warn_unknown() == []
    assert caplog.records == []


def test_the_room_knobs_defaults() -> None:
    s = settings.current()
    assert (s.rooms, s.data_dir, s.room_idle_min, s.room_students, s.max_rooms) == (
        "sqlite",
        "",
        180,
        200,
        500,
    )


def test_the_data_dir_is_per_user_unless_set(clean_env: pytest.MonkeyPatch, tmp_path) -> None:
    clean_env.setenv("HOME", str(tmp_path / "home"))
    clean_env.delenv("XDG_DATA_HOME", raising=False)
    assert settings.data_dir() == str(tmp_path / "home" / ".local" / "share" / "resnet-viz")
    clean_env.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert settings.data_dir() == str(tmp_path / "xdg" / "resnet-viz")
    clean_env.setenv("XDG_DATA_HOME", "relative/path")  # the XDG spec: a relative path is ignored
    assert settings.data_dir() == str(tmp_path / "home" / ".local" / "share" / "resnet-viz")
    clean_env.setenv("RESNET_VIZ_DATA_DIR", "~/rooms")
    assert settings.data_dir() == str(tmp_path / "home" / "rooms")
