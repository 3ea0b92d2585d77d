"""Adapter Studio's desktop app (PySide6).

It imports only core's light modules; torch loads in the worker process (or lazily, off the GUI
thread). The window lands in a later change; until then ``./run.sh`` runs the headless CLI.
"""
