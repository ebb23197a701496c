"""The one thread that runs model work too long for the event loop, with a bounded queue."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from app.errors import PROBLEM_TYPES, AppError
from app.observability import INFERENCE_QUEUE_DEPTH, INFERENCE_REJECTED

T = TypeVar("T")


class ModelBusyError(AppError):
    """The inference queue is full: retry shortly (another replica may have room)."""

    status_code = 503
    title = "Model busy"
    problem_type = PROBLEM_TYPES + "model-busy"

    def __init__(self, waiting: int) -> None:
        super().__init__(
            f"{waiting} predictions are already waiting for the model; retry shortly",
            headers={"Retry-After": "1"},
        )


class InferenceQueue:
    """Runs jobs one at a time on one thread: under the GIL two model threads cannot run at
    once, only take turns. At most `max_waiting` jobs wait or run; the next one gets
    `ModelBusyError` at once instead of a place in a queue without end."""

    def __init__(self, max_waiting: int) -> None:
        self.max_waiting = max_waiting
        self._waiting = 0
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")

    async def run(self, job: Callable[..., T], *args: object) -> T:
        """`job(*args)` on the inference thread, in the caller's context (its trace span)."""
        if self._waiting >= self.max_waiting:
            INFERENCE_REJECTED.inc()
            raise ModelBusyError(self._waiting)
        loop = asyncio.get_running_loop()
        done = self._thread.submit(contextvars.copy_context().run, job, *args)
        self._waiting += 1
        INFERENCE_QUEUE_DEPTH.set(self._waiting)
        # Counted until the thread is done with it, even when its client has gone.
        done.add_done_callback(lambda _: loop.call_soon_threadsafe(self._release))
        return await asyncio.wrap_future(done)

    def _release(self) -> None:
        self._waiting -= 1
        INFERENCE_QUEUE_DEPTH.set(self._waiting)

    def shutdown(self) -> None:
        """Finish the jobs already queued, then stop the thread."""
        self._thread.shutdown(wait=True)
