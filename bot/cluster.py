"""The ``--ray ADDRESS|auto`` option: which Ray cluster builds and searches sharded indexes.

Ray is an optional extra (``pip install 'sentence-bot[cluster]'``); without ``--ray`` nothing
here imports it. The cluster chosen by a command is kept for the process, so every index it
opens (``bot ask``, ``bot chat``, ``bot check``) is searched by one actor per shard.
"""

from __future__ import annotations

from typing import Any

import click

_active: Any = None


def ray_option(command):
    """``--ray ADDRESS|auto`` for a command; connecting happens when the command runs."""
    def connect(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is not None:
            use_cluster(value)
        return value

    return click.option(
        "--ray", "ray_address", metavar="ADDRESS|auto", default=None, expose_value=False,
        callback=connect, is_eager=False,
        help="Build/search sharded indexes on a Ray cluster (auto: $RAY_ADDRESS or a new "
             "local one); needs the 'cluster' extra.")(command)


def use_cluster(address: str) -> Any:
    """Connect to the Ray cluster at ``address`` for the rest of this process."""
    global _active
    from index.cluster import Cluster

    _active = Cluster.connect(address)
    return _active


def active_cluster() -> Any:
    """The cluster chosen with ``--ray``, or None (search in this process)."""
    return _active
