"""``adapter-studio``: the console script.

- ``adapter-studio`` opens the main window on the default project (created on the first launch:
  SmolLM2-135M-Instruct with `adapter-studio new`'s defaults from `core.defaults`, the sample dataset);
- ``adapter-studio PROJECT_FILE`` opens that project (created with the defaults if it does not exist);
- ``adapter-studio PROJECT --screenshot OUT.png`` renders the window once its tree, methods and
  cost are in, saves it and exits;
- ``adapter-studio inspect|new|train|... ARGS`` runs the headless command line (`core.cli`): every
  subcommand that `core.cli.build_parser` knows goes there unchanged.

Nothing here imports torch: the window paints first; skeletons and the method registry load on a
worker thread afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence


def _age_of_this_process() -> float:
    """Seconds since the kernel started this process, so that start-up times include the interpreter's
    own start and every import before this module (Linux: /proc/self/stat's start time, in clock ticks
    since boot, against CLOCK_BOOTTIME; 10 ms resolution). 0.0 where that is not available: times then
    count from this module's import."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # after "pid (comm)": field 3 (state) is index 0
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, starttime
        return max(time.clock_gettime(time.CLOCK_BOOTTIME) - started, 0.0)
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


_T0 = time.perf_counter()
_T0_AGE = _age_of_this_process()
"""How old the process was when `_T0` was taken: `since_start` adds it."""


def since_start(t: float | None = None) -> float:
    """Seconds from the process's start to ``t`` (a ``time.perf_counter()`` value; default: now)."""
    return _T0_AGE + ((time.perf_counter() if t is None else t) - _T0)


def cli_commands() -> set[str]:
    """The subcommands of the headless CLI (`core.cli`)."""
    from core.cli import build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def _gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adapter-studio",
        description="Adapter Studio: parameter-efficient fine-tuning on the desktop. "
        "With no PROJECT_FILE, opens (creating it on the first launch) the default project.",
        epilog="headless commands: adapter-studio {" + ",".join(sorted(cli_commands())) + "} ... "
        "(adapter-studio COMMAND --help for each)",
    )
    parser.add_argument("project", nargs="?", metavar="PROJECT_FILE", help="an .adapterstudio project file")
    parser.add_argument("--screenshot", metavar="OUT.png", help="render the window into OUT.png and exit")
    parser.add_argument("--startup-check", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stall-check", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: the GUI, or a headless command passed on to `core.cli.main`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--worker":  # hidden: the training worker, for bundles (core.worker.worker_command)
        from core import worker

        return worker.main(argv[1:])
    if argv and argv[0] in cli_commands():
        from core import cli

        return cli.main(argv)
    args = _gui_parser().parse_args(argv)
    return run_gui(args)


def install_translator(app, language: str = ""):
    """Load assets/translations/studio_<lang>.qm for ``language`` ("" = the system locale); English
    needs none. Returns the translator, or None."""
    from pathlib import Path

    from PySide6.QtCore import QLocale, QTranslator

    folder = Path(__file__).resolve().parent.parent / "assets" / "translations"
    locale = QLocale(language) if language else QLocale.system()
    translator = QTranslator(app)
    if translator.load(locale, "studio", "_", str(folder)):
        app.installTranslator(translator)
        return translator
    return None


def _set_desktop_identity(app) -> None:
    """The window icon, and the desktop entry the window belongs to (packaging/, `make install-desktop`)."""
    from pathlib import Path

    from PySide6.QtGui import QIcon

    icon = QIcon()
    for png in sorted((Path(__file__).resolve().parent.parent / "assets" / "icons").glob("adapter-studio-*.png")):
        icon.addFile(str(png))
    app.setWindowIcon(icon)
    app.setDesktopFileName("io.github.adapterstudio.AdapterStudio")


def run_gui(args: argparse.Namespace) -> int:
    import os

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")
    ):
        # Without this, Qt aborts (exit 134) with a message that does not say what to do.
        print(
            "adapter-studio: no display (DISPLAY and WAYLAND_DISPLAY are unset). Run it in a desktop session, "
            "or headless with QT_QPA_PLATFORM=offscreen (e.g. for --screenshot), or use a command: "
            "adapter-studio inspect MODEL.",
            file=sys.stderr,
        )
        return 2
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName("AdapterStudio")
    app.setApplicationName("Adapter Studio")
    _set_desktop_identity(app)
    from studio.main_window import MainWindow

    from PySide6.QtCore import QSettings

    qsettings = None
    if os.environ.get("ADAPTER_STUDIO_SETTINGS"):  # an ini file instead of the user's settings (tests)
        qsettings = QSettings(os.environ["ADAPTER_STUDIO_SETTINGS"], QSettings.Format.IniFormat)
    install_translator(app, (qsettings or QSettings()).value("language", "") or "")
    window = MainWindow(args.project, qsettings=qsettings)
    opener = FileOpenHandler(window)
    app.installEventFilter(opener)  # keep `opener` alive as long as the app
    if args.startup_check:
        # For the cold-start test: report the first paint (seconds from the process's start, the
        # interpreter's own start included) and whether torch was loaded by then.
        def report() -> None:
            print(json.dumps({"paint_s": since_start(), "import_s": _T0_AGE, "torch_loaded": "torch" in sys.modules}), flush=True)
            QTimer.singleShot(0, app.quit)

        window.first_paint.connect(report)
    if args.stall_check:
        _check_stalls(app, window)
    if args.screenshot:
        out = args.screenshot
        window.persist_geometry = False  # a fixed size for docs and tests; the person's layout is untouched
        window.resize(1360, 820)

        def shoot() -> None:
            window.grab().save(out)
            print(out, flush=True)
            window.close()
            app.quit()

        _when_ready(window, lambda: QTimer.singleShot(200, shoot))
        QTimer.singleShot(60_000, shoot)  # never hang: a screenshot of whatever is there
    window.show()
    code = app.exec()
    return code


def _when_ready(window, callback) -> None:
    """Call ``callback`` once the window's tree, method registry and first cost are in."""
    waiting = {"model", "methods", "cost"}

    def ready(what: str) -> None:
        if what in waiting:
            waiting.discard(what)
            if not waiting:
                callback()

    window.model_ready.connect(lambda: ready("model"))
    window.methods_ready.connect(lambda: ready("methods"))
    window.cost_ready.connect(lambda: ready("cost"))


def _check_stalls(app, window) -> None:
    """For the responsiveness test (``--stall-check``): a timer ticks every 10 ms from the first paint
    until the project, the method registry, the tree and the first cost are in; the longest gap
    between ticks is how long the event loop stood still (a click or a repaint would have waited as
    long). Prints ``{"paint_s", "ready_s", "max_stall_ms", "stalls"}`` as JSON and quits."""
    from PySide6.QtCore import QTimer

    state = {"last": 0.0, "gaps": [], "painted": 0.0}
    ticker = QTimer(window)
    ticker.setInterval(10)

    # ADAPTER_STUDIO_STALL_TRACE=1: every thread's stack goes to stderr when a tick is 100 ms late.
    # faulthandler's watchdog is a C thread, so it reports even while a thread holds the GIL (how
    # the dynamic loader's lock, taken by torch's dlopen, was found freezing the GUI thread).
    import faulthandler

    trace = bool(os.environ.get("ADAPTER_STUDIO_STALL_TRACE"))

    def tick() -> None:
        if trace:
            faulthandler.dump_traceback_later(0.1, exit=False)
        now = time.perf_counter()
        state["gaps"].append((now - state["last"], since_start(now)))
        state["last"] = now

    def painted() -> None:
        state["last"] = state["painted"] = time.perf_counter()
        ticker.start()

    def report(ready: bool = True) -> None:
        if not ticker.isActive():
            return
        tick()
        ticker.stop()
        faulthandler.cancel_dump_traceback_later()
        top = sorted(state["gaps"], reverse=True)[:5]
        print(json.dumps({
            "paint_s": since_start(state["painted"]), "ready_s": since_start() if ready else None,
            "max_stall_ms": top[0][0] * 1000 if top else 0.0,
            "stalls": [{"ms": round(gap * 1000), "at_s": round(at, 2)} for gap, at in top],
        }), flush=True)
        window.close()
        app.quit()

    ticker.timeout.connect(tick)
    window.first_paint.connect(painted)
    _when_ready(window, report)
    QTimer.singleShot(120_000, lambda: report(ready=False))  # never hang


def FileOpenHandler(window):  # noqa: N802 - builds a QObject subclass lazily (Qt loads after the CLI check)
    """An event filter that opens the project of a macOS ``FileOpen`` event (a double-clicked
    ``.adapterstudio`` file in Finder arrives this way, not as a command-line argument)."""
    from PySide6.QtCore import QEvent, QObject

    class _Handler(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.FileOpen and event.file():
                window.open_project(event.file())
                return True
            return False

    return _Handler(window)


if __name__ == "__main__":
    sys.exit(main())
