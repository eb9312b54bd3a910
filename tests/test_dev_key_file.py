"""The embedded stack's key file: written whole, kept private, refused when others can read it."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import pytest

from semsync import encryption
from semsync.encryption import dev_key
from semsync.errors import ConfigurationError


def test_processes_starting_together_all_read_the_one_whole_key(tmp_path):
    path = tmp_path / "home" / "secrets.key"
    with ProcessPoolExecutor(max_workers=2) as pool:
        keys = list(pool.map(dev_key, [path] * 16))
    assert len(set(keys)) == 1 and keys[0], keys
    assert path.read_text().strip() == keys[0]
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secrets.key"], "a temporary file was left behind"


def test_a_key_file_others_can_read_is_refused_in_one_line(tmp_path):
    path = tmp_path / "secrets.key"
    dev_key(path)
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match=r"readable by others \(mode 0644\); `chmod 600") as refused:
        dev_key(path)
    assert "\n" not in str(refused.value)


def test_an_empty_key_file_is_waited_for_then_refused_not_used(tmp_path, monkeypatch):
    monkeypatch.setattr(encryption, "KEY_FILE_WAIT_S", 0.1)
    path = tmp_path / "secrets.key"
    path.touch(mode=0o600)
    os.chmod(path, 0o600)
    with pytest.raises(ConfigurationError, match="the key file is empty"):
        dev_key(path)
