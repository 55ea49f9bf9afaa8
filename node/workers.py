"""The node's pool of worker processes for CPU-bound work (signature checks).

Workers exit on their own when the node process is gone, even when it was
killed without a chance to shut the pool down (SIGKILL, out of memory).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

PARENT_POLL_S = 0.5


def make_process_pool(workers: int) -> ProcessPoolExecutor:
    # spawn: a forked child of a threaded process can inherit locks held mid-operation.
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )


def _exit_with_parent(parent_pid: int) -> None:
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(0)  # the node is gone: nobody will read our results

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
