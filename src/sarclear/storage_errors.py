"""A write the file system refused (read-only, full, no permission, a file in the way), as one line.

Why: these are the user's to fix (another `--out`, free space, permissions), not bugs, yet they
surface from deep inside torch, safetensors, GDAL or a worker process as a chained traceback and
exit 1, the code for a bug. `storage_problem` finds such a failure anywhere in an exception's
chain (`__cause__`, `__context__`) and says it in one line naming the file and the fix; the CLI
prints it and exits 2, after the command's own clean-up has removed its temporary files.
"""

from __future__ import annotations

import errno

#: errno -> what to do about it.
FIXES: dict[int, str] = {
    errno.ENOSPC: "no space left on the device: free some, or write to another disk",
    errno.EDQUOT: "disk quota exceeded: free some space, or write elsewhere",
    errno.EROFS: "read-only file system: write to another (writable) place",
    errno.EACCES: "permission denied: check its permissions (for an output: or give another output path)",
    errno.EPERM: "operation not permitted: check its permissions (for an output: or give another output path)",
    errno.EEXIST: "already exists and is in the way (a file where a folder is needed?): remove it, or give another output path",
    errno.ENOTDIR: "part of the path is a file, not a folder: give another output path",
    errno.EISDIR: "is a folder where a file is needed: give a file name",
    errno.ENAMETOOLONG: "the name is too long for the file system: give a shorter output path",
}
#: The same failures as other libraries word them when they do not raise an OSError (safetensors'
#: own error, GDAL's "Free disk space available is ...", a worker process's message).
PHRASES: dict[str, int] = {
    "no space left on device": errno.ENOSPC,
    "free disk space available is": errno.ENOSPC,
    "disk quota exceeded": errno.EDQUOT,
    "read-only file system": errno.EROFS,
}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: set[int] = set()
    out: list[BaseException] = []
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        out.append(current)
        stack += [current.__context__, current.__cause__]
    return out


def storage_problem(exc: BaseException) -> str | None:
    """One line (`FILE: what happened: the fix`) when `exc` is, or was raised from, a refused write;
    None otherwise (a genuine bug keeps its traceback)."""
    chain = _chain(exc)
    for current in chain:
        if isinstance(current, OSError) and current.errno in FIXES:
            name = current.filename if current.filename is not None else current.filename2
            where = f"{name}: " if name is not None else ""
            return f"{where}{FIXES[current.errno]}"
    for current in chain:
        text = str(current).lower()
        for phrase, code in PHRASES.items():
            if phrase in text:
                first = str(current).strip().splitlines()[0] if str(current).strip() else type(current).__name__
                return f"{first[:300]}: {FIXES[code].split(': ', 1)[1]}"
    return None
