"""Adapter Studio's desktop app (PySide6): ``studio.app.main`` is the ``adapter-studio`` console script.

It imports only core's light modules at module level; torch loads lazily on worker threads
(skeletons, the method registry, counting) after the window has painted. See docs/studio.md.
"""


