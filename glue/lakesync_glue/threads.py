"""Spark work on several Python threads at once (packed loads, the fast merge's key counts)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def run_at_once(works: Sequence[Callable[[], T]], name: str) -> list[T]:
    """Runs each of `works` on a thread of its own, waits for all, and returns their results in order.

    An error escaping a thread is raised here once every thread has ended (the first in the
    order of `works`), so no Spark job outlives the call. PySpark's InheritableThread hands each
    thread the caller's Spark local properties (job group) and closes its JVM connection when it
    ends; without a SparkContext it is a plain thread.
    """
    from pyspark.util import InheritableThread

    results: list[T | None] = [None] * len(works)
    errors: list[BaseException | None] = [None] * len(works)

    def guarded(n: int) -> None:
        try:
            results[n] = works[n]()
        except BaseException as exc:  # noqa: BLE001 - raised on the caller's thread below
            errors[n] = exc

    pool = [InheritableThread(guarded, args=(n,), name=f"{name}-{n}", daemon=True) for n in range(len(works))]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results  # type: ignore[return-value]  # every work returned: no error above
