"""Adapter Studio's desktop app (PySide6): ``studio.app.main`` is the ``adapter-studio`` console script.

It imports only core's light modules at module level; torch loads lazily on worker threads
(skeletons, the method registry, counting) after the window has painted. See docs/studio.md.
"""

from studio._compat import guard_singletons

guard_singletons()  # PySide6 6.12 on Python 3.11 drops references to None/True/False (see _compat)
