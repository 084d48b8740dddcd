"""Whether this process has a folder for temporary files: a container with a read-only root has none.

``docker run --read-only`` (Kubernetes' ``readOnlyRootFilesystem``) with only the archive's volume writable leaves no
``/tmp``. Two parts of monitor used one without a word: the parsing workers' fork server listens on a socket made in
it, and SQLite writes its statement journals and sorts there. Each asks here and does without one instead.
"""

from __future__ import annotations

import tempfile


def missing_temp_folder() -> str | None:
    """Why no folder for temporary files is usable (Python looks where SQLite does: ``TMPDIR``, ``/tmp``,
    ``/var/tmp``, ``/usr/tmp``, the current folder), or None when one is."""
    try:
        tempfile.gettempdir()
    except FileNotFoundError as exc:
        return str(exc)
    return None
