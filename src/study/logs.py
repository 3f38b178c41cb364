"""Send a job's output, Python's and TensorFlow's native logging alike, to its log file."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback


@contextlib.contextmanager
def logged_to(path: str | os.PathLike):
    """Redirect file descriptors 1 and 2 to ``path`` while the block runs.

    An exception is written to the log before it propagates, its message first
    and its traceback after, so the log says why a job failed. Its message also
    goes to the job's own stderr (Snakemake's output), which still works when the
    log cannot be written, as on a full disk.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException as error:
            os.write(saved[1], f"{path}: failed: {error}\n".encode())
            with contextlib.suppress(OSError):
                print(f"failed: {error}", flush=True)
                traceback.print_exc()
            raise
        finally:
            with contextlib.suppress(OSError):  # a full disk must not hide the job's own error
                sys.stdout.flush()
                sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
