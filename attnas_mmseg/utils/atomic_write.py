"""Writing a result file without touching any other file of the user's.

``path.write_text`` leaves a half-written file behind when interrupted, and the
usual fix, writing ``path + '.tmp'`` and renaming it, silently replaces a file
of the user's that happens to have that name (issue 11: ``OUT/retrain.py.tmp``).
:func:`write_new_file` writes to a temporary name that it creates exclusively
(``O_EXCL``: an existing file is never opened) and renames it over ``path``.
"""
import os
import os.path as osp
import secrets
from pathlib import Path
from typing import Union


def write_new_file(path: Union[str, Path], text: str) -> Path:
    """Write ``text`` to ``path`` atomically.

    The temporary file ``.<name>.<random>.tmp`` lives beside ``path`` (the same
    file system, so ``os.replace`` is atomic) and gets the permissions a new
    file normally gets (``0o666`` less the umask). Whether ``path`` may be
    replaced is the caller's decision.
    """
    path = Path(path)
    while True:
        tmp = path.parent / f'.{path.name}.{secrets.token_hex(6)}.tmp'
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if osp.lexists(tmp):
            os.unlink(tmp)
    return path
