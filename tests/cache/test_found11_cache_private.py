"""The response cache holds model replies and tool results, as the run directory's files do,
but its folder was made with the umask's mode (0755 mostly): every user of the machine could
read what the models answered. A cache folder agnoctl makes is now its user's alone; one that
exists keeps the mode its owner gave it."""

from __future__ import annotations

import stat
from pathlib import Path

from agnoctl.cache import ResponseCache
from agnoctl.providers.base import ModelReply


def test_a_cache_folder_agnoctl_makes_is_private(tmp_path: Path) -> None:
    directory = tmp_path / ".agnoctl" / "cache"
    with ResponseCache(directory) as cache:
        cache.put("k", ModelReply(text="a reply"))
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_a_folder_that_exists_keeps_its_mode(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir(mode=0o750)
    directory.chmod(0o750)
    with ResponseCache(directory) as cache:
        cache.put("k", ModelReply(text="a reply"))
    assert stat.S_IMODE(directory.stat().st_mode) == 0o750
