"""config/gunicorn.py as gunicorn loads it: the app writes the access line, so gunicorn's logger never builds one."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from gunicorn.config import Config
from gunicorn.glogging import Logger


def _gunicorn_config() -> Config:
    config = Config()
    source = Path(settings.BASE_DIR) / "config" / "gunicorn.py"
    namespace: dict[str, object] = {"__file__": str(source)}
    exec(compile(source.read_text(), str(source), "exec"), namespace)  # noqa: S102 - our own config file, as gunicorn reads it
    for name, value in namespace.items():
        if name in config.settings:
            config.set(name, value)
    return config


def test_gunicorns_logger_builds_no_access_line() -> None:
    def atoms(*args: object) -> dict[str, str]:
        raise AssertionError("gunicorn built an access line")

    config = _gunicorn_config()
    assert config.accesslog is None
    # Called on a stand-in for the logger instance: constructing one would apply logconfig_dict to this process.
    stand_in = SimpleNamespace(cfg=config, atoms=atoms, atoms_wrapper_class=dict)
    config.logger_class.access(stand_in, resp=None, req=None, environ={}, request_time=None)
    with pytest.raises(AssertionError):  # what gunicorn's own Logger does with the same settings
        Logger.access(stand_in, resp=None, req=None, environ={}, request_time=None)
