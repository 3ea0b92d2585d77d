"""The bundle's entry point (PyInstaller runs this file as ``__main__``).

Everything goes to `studio.app.main`, exactly like the ``adapter-studio`` console script, including
the hidden ``--worker PROJECT --run ID`` entry that `core.worker.worker_command` uses when frozen
(a frozen app has no ``python -m core.worker``).
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child started by multiprocessing must not open the window
    from studio.app import main

    sys.exit(main())
