"""The test run's own set-up warns about nothing: the warnings a run prints
are the code's, not the harness's."""

import warnings
from pathlib import Path

from django.conf import settings
from django.core.handlers.base import BaseHandler


def test_building_the_middleware_as_a_test_client_does_warns_about_nothing():
    # WhiteNoise warns "No directory at: <STATIC_ROOT>" when it is missing.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BaseHandler().load_middleware()

    assert Path(settings.STATIC_ROOT).is_dir()
