"""Entry point of the ``workbench`` command: a subcommand runs headless, otherwise the window opens.

Kept apart from :mod:`workbench.cli` so the headless command line never imports Qt.
"""

from __future__ import annotations

import argparse
import sys

import workbench
from workbench.cli import SUBCOMMANDS


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and (argv[0] in SUBCOMMANDS or argv[0] in ("-h", "--help")):
        from workbench.cli import main as cli_main

        return cli_main(argv)
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Open the Model Workbench window. Subcommands "
        f"({', '.join(SUBCOMMANDS)}) run headless; see 'workbench --help'.",
    )
    parser.add_argument("project", nargs="?", help="a .wbproj file to open")
    parser.add_argument("--demo", action="store_true", help="open the built-in demo project")
    parser.add_argument("--audit", action="store_true",
                        help="open the project read-only for an audit; your work goes to NAME.wbaudit")
    parser.add_argument("--version", action="version", version=f"Model Workbench {workbench.__version__}")
    args = parser.parse_args(argv)
    if args.audit and not args.project:
        parser.error("--audit needs the project to audit: workbench --audit PROJECT.wbproj")
    from workbench.gui.app import run_app

    return run_app(project_path=args.project, demo=args.demo, audit=args.audit)


if __name__ == "__main__":
    sys.exit(main())
