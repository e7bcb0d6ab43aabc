"""What the Python benchmarks share around a run: their logging and a work folder removed afterwards."""
from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def setup_logging(verbose: bool) -> None:
    """The job's log on stderr, at INFO with --verbose; py4j's chatter stays out."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)


@contextmanager
def work_folder(benchmark: str, keep: bool) -> Iterator[Path]:
    """A fresh temporary folder for exports and warehouse, removed at the end unless `keep` (then printed)."""
    work = Path(tempfile.mkdtemp(prefix=f"lakesync-bench-{benchmark}-"))
    try:
        yield work
    finally:
        if keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
