"""One settings object, read from ``PROMPTSIM_*`` variables: typed, defaulted, and a bad value
is one error naming the variable."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from service_helpers import ROOT

from sim.service.settings import Settings, SettingsError, describe, env_name


def test_every_field_reads_its_variable_with_its_type():
    """Each field is read from ``PROMPTSIM_<NAME>``; unset and empty take the default."""
    values = {"db": "x.sqlite3", "admin_key": "k", "max_body_bytes": "10",
              "max_batch_events": "3", "pg_pool_size": "2", "device_cache": "0"}
    env = {env_name(k): v for k, v in values.items()}
    got = Settings.from_env(env)
    for f in dataclasses.fields(Settings):
        if f.name in values:
            assert str(getattr(got, f.name)) == values[f.name], f.name
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"PROMPTSIM_MAX_BODY_BYTES": ""}) == Settings()
    assert [v for v, _, _ in describe()] == [env_name(f.name) for f in dataclasses.fields(Settings)]


@pytest.mark.parametrize(("var", "raw", "message"), [
    ("PROMPTSIM_MAX_BODY_BYTES", "1MB", "PROMPTSIM_MAX_BODY_BYTES: '1MB' is not an integer"),
    ("PROMPTSIM_PG_POOL_SIZE", "0",
     "PROMPTSIM_PG_POOL_SIZE: 0 is too small; allowed: an integer >= 1"),
])
def test_a_bad_value_names_the_variable(var, raw, message):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({var: raw})
    assert str(err.value) == message


def test_serve_with_a_bad_variable_is_one_line_and_exit_2(tmp_path):
    """``promptsim serve`` refuses to start on a bad setting: one line, exit code 2."""
    r = subprocess.run([sys.executable, "-m", "sim", "serve", "--db", str(tmp_path / "x.db")],
                       cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "PROMPTSIM_MAX_BATCH_EVENTS": "lots"})
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "promptsim serve: error: PROMPTSIM_MAX_BATCH_EVENTS: 'lots' is not an integer"]
