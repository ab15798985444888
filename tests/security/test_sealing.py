"""Secrets at rest: signing secrets and Payload API keys are stored sealed; `reel secrets rotate` re-seals."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from reel_host.records.models import CallbackSettings
from reel_host.sealing import PREFIX, Sealer, SealingError, new_key
from sqlalchemy import text

from tests.security.conftest import ADMIN_KEY
from tests.utils.stack import make_stack


def test_sealer__first_key_seals_every_key_opens():
    old, new = new_key(), new_key()
    sealed_old = Sealer([old]).seal("whsec_abc")
    both = Sealer([new, old])
    assert both.open(sealed_old) == "whsec_abc"
    resealed = both.reseal(sealed_old)
    assert Sealer([new]).open(resealed) == "whsec_abc"
    with pytest.raises(SealingError):
        Sealer([new]).open(sealed_old)
    assert both.open("legacy-plain") == "legacy-plain"  # stored before sealing: read as is
    assert both.reseal("legacy-plain").startswith(PREFIX)


def test_stored_secrets__sealed_and_rotated(tmp_path):
    first = new_key()
    env = {"REEL_ADMIN_KEY": ADMIN_KEY, "REEL_SEALING_KEYS": first}
    payload_key = "payload-api-key-" + "q" * 20
    with make_stack("embedded", tmp_path, env) as s, httpx.Client(
        base_url=s.url + "/api/v1", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as admin:
        r = admin.put("/admin/projects/default/callbacks/payload",
                      json={"base_url": "https://cms.example.com", "api_key": payload_key})
        assert r.status_code == 200, r.text
        secret = admin.get("/admin/projects/default/callbacks").json()["signing"]["secret"]
        assert secret.startswith("whsec_")

        def raw_row() -> tuple[str, str, str | None]:
            with s.runtime.engine.connect() as conn:
                return conn.execute(text("SELECT signing_secret, payload_api_key, previous_secret "
                                         "FROM callback_settings WHERE project_id = 'default'")).one()

        stored_secret, stored_key, _ = raw_row()
        assert stored_secret.startswith(PREFIX) and secret not in stored_secret
        assert stored_key.startswith(PREFIX) and payload_key not in stored_key
        db_file = (tmp_path / "home" / "reel.db").read_bytes()
        assert secret.encode() not in db_file and payload_key.encode() not in db_file

        # a row written before sealing existed is read as is, and sealed by rotate
        with s.runtime.sessions() as session:
            session.get(CallbackSettings, "default").previous_secret = "whsec_legacyplain"
            session.commit()

        second = new_key()
        cli_env = {**os.environ, **s.env, "REEL_SEALING_KEYS": f"{second},{first}"}
        out = subprocess.run([sys.executable, "-m", "reel_host.cli.main", "secrets", "rotate"], env=cli_env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "1 project" in out.stdout, out.stderr
        resealed_secret, resealed_key, previous = raw_row()
        only_new = Sealer([second])
        assert only_new.open(resealed_secret) == secret
        assert only_new.open(resealed_key) == payload_key
        assert only_new.open(previous) == "whsec_legacyplain"

        # once rotated, the old key can go: a process with only the new key opens everything
        bad = subprocess.run([sys.executable, "-m", "reel_host.cli.main", "secrets", "rotate"],
                             env={**cli_env, "REEL_SEALING_KEYS": new_key()}, capture_output=True, text=True,
                             timeout=60)
        assert bad.returncode == 1 and "REEL_SEALING_KEYS" in bad.stderr
