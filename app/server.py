"""Process entry point: `python -m app.server [uvicorn options]`.

It is uvicorn's own command line for `app.main:create_app --factory`, with two differences:

- Request headers have a size limit (`MAX_HEADER_BYTES` in app/bypasses.py): uvicorn's
  httptools parser accepts headers of any size, so one client could fill the pod's memory
  with a header that never ends. Past the limit the client gets 400 and the connection
  is closed.
- After a graceful shutdown on SIGTERM (in-flight requests finished, lifespan closed) the
  process exits with status 0. Uvicorn re-raises the signal to the handler that was installed
  before it started; with the default handler that would end the process "killed by SIGTERM".
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import uvicorn


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    """Run uvicorn on the application factory with the given extra options."""
    signal.signal(signal.SIGTERM, _exit_cleanly)
    args = argv if argv is not None else sys.argv[1:]
    protocol = ["--http", "app.bypasses:HeaderLimitedHttpTools"]
    uvicorn.main(["app.main:create_app", "--factory", *protocol, *args])


if __name__ == "__main__":
    main()
