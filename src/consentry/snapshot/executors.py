"""Who runs the steps' tasks: the build's own process (``workers=1``), local worker processes,
or Ray tasks over a cluster. Every executor runs the same functions on the same tasks and hands
results back in task order: what a build writes cannot depend on which one ran it.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any, Final, Protocol

from consentry.cores import every_core
from consentry.errors import ConsentryError
from consentry.snapshot.steps import StepContext, forget_whole_state, run_task

EXECUTORS = ("local", "ray")
#: What the forkserver loads before forking workers (``steps`` and the scrubber).
WORKER_MODULES: Final = ("consentry.snapshot.worker_start",)


class Session(Protocol):
    def map(self, step: str, tasks: Sequence[Any]) -> Iterator[Any]:
        """Start every task of ``step`` now; their results, in task order, as they are asked."""
        ...

    def close(self) -> None: ...


class Executor(Protocol):
    def start(self) -> None:
        """Begin now what sessions will need (a process server's start-up then overlaps the
        caller's own work until its first session); optional, and safe to call again."""
        ...

    def session(self, ctx: StepContext) -> Session: ...


class _Inline:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def map(self, step: str, tasks: Sequence[Any]) -> Iterator[Any]:
        results = [run_task(self.ctx, step, t) for t in tasks]
        return iter(results)

    def close(self) -> None:
        forget_whole_state()


_CONTEXT: StepContext | None = None


def _install(ctx: StepContext) -> None:
    global _CONTEXT
    _CONTEXT = ctx


def _run_installed(step: str, task: Any) -> Any:
    assert _CONTEXT is not None, "worker started without the build's context"
    return run_task(_CONTEXT, step, task)


def _forkserver() -> multiprocessing.context.ForkServerContext:
    """The workers' forkserver, started if it is not running yet (without waiting for it)."""
    # forkserver: workers start from a clean interpreter (no copy of the build's memory, no
    # threads forked mid-lock); the context is sent once per worker. The server imports the
    # steps' modules once, and workers are forked from it with them loaded: imported in each
    # worker, they cost ~0.7 CPU-s per worker.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(WORKER_MODULES))
    # Started, the server loads them (~0.7 s) while this process goes on: a worker's start
    # waits for it only if the build asks for one sooner.
    multiprocessing.forkserver.ensure_running()
    return context


class _Pool:
    def __init__(self, ctx: StepContext, workers: int) -> None:
        # Processes start on a step's first tasks, from the server (started here if the
        # executor was not started before).
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_forkserver(),
            initializer=_install,
            initargs=(ctx,),
        )

    def map(self, step: str, tasks: Sequence[Any]) -> Iterator[Any]:
        futures: list[Future[Any]] = [self.pool.submit(_run_installed, step, t) for t in tasks]

        def results() -> Iterator[Any]:
            for future in futures:
                try:
                    yield future.result()
                except BrokenProcessPool:
                    raise ConsentryError(
                        f"a build worker died during the {step} step: build again with the "
                        "same command to resume from the tasks already done"
                    ) from None

        return results()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class LocalExecutor:
    """``workers`` processes on this machine (1: the build's own process, no workers)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or every_core()
        if self.workers < 1:
            raise ConsentryError(f"--workers must be at least 1, not {self.workers}")

    def start(self) -> None:
        if self.workers > 1:
            _forkserver()

    def session(self, ctx: StepContext) -> Session:
        return _Inline(ctx) if self.workers == 1 else _Pool(ctx, self.workers)


class RayExecutor:
    """Ray tasks, on the cluster at ``address`` (``auto``: the one this machine belongs to;
    ``None``: a Ray started here, or the one already initialised in this process)."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address

    def start(self) -> None:
        """Nothing: the cluster is reached when the first session opens."""

    def session(self, ctx: StepContext) -> Session:
        try:
            import ray
        except ImportError:
            raise ConsentryError("--executor ray needs Ray: pip install 'consentry[ray]'") from None
        if not ray.is_initialized():
            try:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConsentryError(
                    f"cannot reach the Ray cluster at {self.address}: {exc}"
                ) from None
        return _RaySession(ray, ctx)


class _RaySession:
    def __init__(self, ray: Any, ctx: StepContext) -> None:
        self.ray = ray
        self.ctx_ref = ray.put(ctx)
        self.remote = ray.remote(max_retries=0)(run_task)

    def map(self, step: str, tasks: Sequence[Any]) -> Iterator[Any]:
        refs = [self.remote.remote(self.ctx_ref, step, t) for t in tasks]

        def results() -> Iterator[Any]:
            for ref in refs:
                try:
                    yield self.ray.get(ref)
                except self.ray.exceptions.RayError as exc:
                    cause = getattr(exc, "cause", None)
                    if isinstance(cause, ConsentryError):
                        raise cause from None
                    raise ConsentryError(
                        f"a Ray task of the {step} step failed: {exc}; build again with the "
                        "same command to resume from the tasks already done"
                    ) from None

        return results()

    def close(self) -> None:
        pass


def executor(name: str, *, workers: int | None = None, ray_address: str | None = None) -> Executor:
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(ray_address)
    raise ConsentryError(f"--executor must be one of {', '.join(EXECUTORS)}, not {name!r}")


class session_of:  # noqa: N801 (used as a function: ``with session_of(...)``)
    """``with session_of(executor, ctx) as run:`` a session closed however the block ends."""

    def __init__(self, executor: Executor, ctx: StepContext) -> None:
        self.session = executor.session(ctx)

    def __enter__(self) -> Session:
        return self.session

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.session.close()
