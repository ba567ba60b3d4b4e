"""utils.conf: the RESEE settings block, its defaults and the checks of its values."""

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from utils.conf import leech_lapses


def test_a_card_is_a_leech_at_eight_lapses_by_default():
    with override_settings(RESEE={key: value for key, value in settings.RESEE.items() if key != "LEECH_LAPSES"}):
        assert leech_lapses() == 8


@pytest.mark.parametrize("value", [0, -1, 2.5, "8", True, None])
def test_a_misconfigured_leech_threshold_is_reported_by_name(value):
    with override_settings(RESEE={**settings.RESEE, "LEECH_LAPSES": value}):
        with pytest.raises(ImproperlyConfigured, match="LEECH_LAPSES"):
            leech_lapses()
