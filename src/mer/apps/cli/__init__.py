"""The `mer` command line: a thin layer over the Python API, one module per family of commands.

:mod:`~mer.apps.cli.options` holds what the commands share (option types, the terminal,
errors, Ctrl-C); :mod:`mer.apps.render` the tables and output formats. Importing this
package registers every command on :data:`app` (the ``mer`` entry point).
"""

from mer.core.parallel import quiet_openmp

quiet_openmp()  # before any command loads torch: idle OpenMP threads sleep, not spin

from mer.apps.cli import (  # noqa: E402, F401  (registers the commands)
    data, library, models, playlist, serve, similar, study, timeline,
)
from mer.apps.cli.app import app  # noqa: E402

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover
    app()
