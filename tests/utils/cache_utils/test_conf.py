"""utils.cache_utils.conf: RESEE_CACHE merged with its defaults and validated once, checked at
start-up, and read afresh after a settings change."""

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from utils.cache_utils import conf
from utils.cache_utils.conf import DEFAULTS, cache_settings


def with_cache(**overrides):
    return override_settings(RESEE_CACHE={**settings.RESEE_CACHE, **overrides})


def test_a_setting_left_out_takes_its_default_and_a_partial_ttl_keeps_the_other_defaults():
    with override_settings(RESEE_CACHE={"TTL": {"today": 60}}):
        assert cache_settings.LOCK_TTL_MS == DEFAULTS["LOCK_TTL_MS"]
        assert cache_settings.TTL == {**DEFAULTS["TTL"], "today": 60}


def test_a_change_of_the_settings_is_read_at_once():
    with with_cache(STALE_SECONDS=7):
        assert cache_settings.STALE_SECONDS == 7
    assert cache_settings.STALE_SECONDS == settings.RESEE_CACHE.get("STALE_SECONDS", DEFAULTS["STALE_SECONDS"])


def test_the_settings_are_merged_once_not_per_read(monkeypatch):
    _ = cache_settings.ENABLED
    calls = []
    real_load = conf._load
    monkeypatch.setattr(conf, "_load", lambda: calls.append(1) or real_load())
    for _ in range(10):
        _ = cache_settings.TTL, cache_settings.ENABLED
    assert calls == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"LOCK_TTL_MS": 0}, "LOCK_TTL_MS.*positive integer"),
        ({"STALE_SECONDS": -1}, "STALE_SECONDS.*>= 0"),
        ({"TTL": {"today": "1h"}}, "TTL.*positive integers"),
    ],
)
def test_a_bad_value_names_the_setting_at_the_first_read_and_in_the_system_check(overrides, message):
    with with_cache(**overrides):
        with pytest.raises(ImproperlyConfigured, match=message):
            _ = cache_settings.ENABLED
        with pytest.raises(SystemCheckError, match="resee.E001"):
            call_command("check")
