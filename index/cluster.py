"""Sharded indexes on a Ray cluster: shard builds as Ray tasks, one searcher actor per shard.

- **Builds**: each shard is one task (:func:`index.sharded_indexer.build_shard`) on any node;
  a worker process loads the encoder once and keeps it for the next shards it builds. A task
  lost with its node is run again elsewhere (Ray's retries); the version is published by the
  caller only once every shard is done, so a lost node never publishes half an index.
- **Search**: one actor per shard holds that shard (:class:`ShardSearcher`), spread over the
  nodes; a question goes to all of them and their pools are merged here. An actor that dies is
  restarted by Ray and the call retried; a call that still fails, or gets no answer within
  ``BOT_RAY_TIMEOUT`` seconds (default 120), is a one-line :class:`ShardUnavailable` error,
  never a hang.

Every node reads and writes the index directory itself: it must be on storage all nodes mount
at the same path (NFS, a cluster file system). Ray is imported only here, only when used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Sequence

from index.embed.encoders import Encoder, EncoderSpec, load_encoder
from index.environment import seconds
from index.errors import BadInput, EngineError
from index.progress import ProgressCallback
from index.search.shard_search import ShardPool, ShardQuery, ShardSearcher  # noqa: F401
from index.search.sharded import ShardSpec
from index.sharded_indexer import ShardBuilder, ShardJob, ShardOutcome, build_shard

BUILD_RETRIES = 3  # a shard task lost with its node is run again up to this many times
ACTOR_RESTARTS = 3  # a searcher actor that dies is restarted up to this many times
RAY_TIMEOUT = 120.0  # seconds a Ray call may take (BOT_RAY_TIMEOUT)
ATTEMPTS = "build-attempts.log"  # in a shard's folder: the node of each attempt, one a line
_encoders: dict[EncoderSpec, Encoder] = {}  # per worker process: loaded once, kept


class ShardUnavailable(EngineError):
    """A shard's searcher is lost or does not answer."""


def _ray():
    try:
        import ray
    except ImportError:
        raise BadInput("--ray needs Ray: pip install 'sentence-bot[cluster]'") from None
    return ray


class Cluster:
    """A connection to a Ray cluster (one per process)."""

    def __init__(self, address: str | None) -> None:
        self.address = address

    @classmethod
    def connect(cls, address: str) -> "Cluster":
        """``auto``: ``$RAY_ADDRESS``, or a new local cluster on this machine; else the
        ``host:port`` (or ``ray://``) address of a running cluster."""
        ray = _ray()
        target = (os.environ.get("RAY_ADDRESS") or None) if address == "auto" else address
        if not ray.is_initialized():
            options: dict[str, Any] = {"logging_level": "ERROR", "log_to_driver": False}
            if target is None:
                options["include_dashboard"] = False
            try:
                ray.init(address=target, **options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise BadInput(f"cannot reach the Ray cluster at {target}: {reason}") \
                    from None
        return cls(target)

    def node_ids(self) -> list[str]:
        return [n["NodeID"] for n in _ray().nodes() if n.get("Alive")]

    def shard_builder(self) -> ShardBuilder:
        """Shard builds as Ray tasks, yielded as they finish."""
        def run(jobs: list[ShardJob],
                progress: ProgressCallback | None) -> Iterator[ShardOutcome]:
            ray = _ray()
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            task = ray.remote(max_retries=BUILD_RETRIES, retry_exceptions=False,
                              num_cpus=1)(_build_task)
            nodes = [n["NodeID"] for n in ray.nodes()
                     if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= 1]
            pending = {}
            for job in jobs:
                (Path(job.index_dir) / ATTEMPTS).unlink(missing_ok=True)
            busy = [job for job in jobs if job.files]  # an empty shard needs no task
            for number, job in enumerate(busy):
                # shards dealt round the nodes; soft: a lost or full node's go elsewhere
                where = NodeAffinitySchedulingStrategy(nodes[number % len(nodes)], soft=True) \
                    if nodes else "DEFAULT"
                pending[task.options(scheduling_strategy=where).remote(job)] = job
            for job in jobs:
                if not job.files:
                    yield build_shard(job)
            try:
                while pending:
                    done, _ = ray.wait(list(pending), num_returns=1)
                    for ref in done:
                        pending.pop(ref)
                        yield _result(ray, ref)
            finally:
                for ref in pending:
                    ray.cancel(ref, force=True)
        return run

    def shard_group(self, specs: Sequence[ShardSpec]) -> "RayShards":
        return RayShards(specs)


def _build_task(job: ShardJob) -> ShardOutcome:
    """(Ray task) Build one shard with this worker process's encoder."""
    import ray

    context = ray.get_runtime_context()
    node = context.get_node_id()
    cpus = int(context.get_assigned_resources().get("CPU", 1)) or 1
    os.environ["BOT_THREADS"] = str(cpus)  # the encoder uses the cores Ray gave this task
    folder = Path(job.index_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ATTEMPTS, "a", encoding="utf-8") as log:
        log.write(node + "\n")
    if job.spec not in _encoders and job.files:
        _encoders[job.spec] = load_encoder(job.spec)
    return build_shard(job, _encoders.get(job.spec), node=node)


def build_attempts(shard_dir: str | Path) -> list[str]:
    """The nodes that started building a shard in the last Ray build, in order."""
    try:
        return (Path(shard_dir) / ATTEMPTS).read_text(encoding="utf-8").split()
    except OSError:
        return []


def _result(ray, ref) -> Any:
    """``ray.get(ref)``, an engine error raised in the task re-raised as itself."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, EngineError):
            raise cause from None
        raise EngineError(f"a shard build failed on the cluster: "
                          f"{_first_line(cause or exc)}") from None
    except ray.exceptions.RayError as exc:
        raise EngineError(f"a shard build was lost on the cluster: {_first_line(exc)}") \
            from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class ShardActor:
    """(Ray actor) One shard's searcher; an engine error while loading is kept, not raised,
    so that the caller can report it as it would for one index."""

    def __init__(self, spec: ShardSpec) -> None:
        self.error: tuple[str, str] | None = None
        self.searcher: ShardSearcher | None = None
        try:
            self.searcher = spec.load()
        except EngineError as exc:
            self.error = (type(exc).__name__, str(exc))
        except OSError as exc:
            self.error = ("IndexCorrupt", f"cannot load shard {spec.shard}: {exc}")

    def ready(self) -> tuple[str, str] | None:
        return self.error

    def node(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()

    def call(self, method: str, *args: Any) -> Any:
        return getattr(self.searcher, method)(*args)


def _spread(count: int) -> list[Any]:
    """Where each of ``count`` actors goes: the alive nodes in turn, each placement soft (a lost
    node's actors restart elsewhere). Ray's own "SPREAD" is best effort and, with actors that
    ask for no CPU, was seen putting all of them on the head node."""
    ray = _ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = sorted(n["NodeID"] for n in ray.nodes() if n.get("Alive"))
    if not nodes:
        return ["SPREAD"] * count
    return [NodeAffinitySchedulingStrategy(nodes[i % len(nodes)], soft=True)
            for i in range(count)]


class RayShards:
    """The shards of an index searched by one Ray actor each (see the module text)."""

    def __init__(self, specs: Sequence[ShardSpec]) -> None:
        self.timeout = seconds("BOT_RAY_TIMEOUT", positive=True) or RAY_TIMEOUT  # before Ray
        ray = _ray()
        actor = ray.remote(ShardActor)
        places = _spread(len(specs))
        self.actors = {s.shard: actor.options(
            num_cpus=0, max_restarts=ACTOR_RESTARTS, max_task_retries=ACTOR_RESTARTS,
            scheduling_strategy=where).remote(s) for s, where in zip(specs, places)}
        try:
            for shard, error in zip(self.actors, self._get(
                    {n: a.ready.remote() for n, a in self.actors.items()})):
                if error is not None:
                    from index import errors

                    kind = getattr(errors, error[0], EngineError)
                    raise kind(error[1]) if issubclass(kind, EngineError) \
                        else EngineError(error[1])
        except BaseException:
            self.close()
            raise

    def each(self, method: str, calls: dict[int, tuple]) -> dict[int, Any]:
        return dict(zip(calls, self._get({n: self.actors[n].call.remote(method, *args)
                                          for n, args in calls.items()})))

    def call(self, shard: int, method: str, *args: Any) -> Any:
        return self._get({shard: self.actors[shard].call.remote(method, *args)})[0]

    def nodes(self) -> dict[int, str]:
        """Shard → the node its actor runs on."""
        return dict(zip(self.actors, self._get(
            {n: a.node.remote() for n, a in self.actors.items()})))

    def _get(self, refs: dict[int, Any]) -> list[Any]:
        ray = _ray()
        try:
            return ray.get(list(refs.values()), timeout=self.timeout)
        except ray.exceptions.GetTimeoutError:
            raise ShardUnavailable(f"the shard searchers gave no answer within "
                                   f"{self.timeout:.0f} s (BOT_RAY_TIMEOUT); is the cluster "
                                   "overloaded or a node lost?") from None
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, EngineError):
                raise cause from None
            raise ShardUnavailable(f"a shard searcher failed: {_first_line(cause or exc)}") \
                from None
        except ray.exceptions.RayError as exc:
            raise ShardUnavailable(f"a shard searcher is lost and could not be restarted: "
                                   f"{_first_line(exc)}") from None

    def close(self) -> None:
        ray = _ray()
        for actor in self.actors.values():
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.actors = {}
