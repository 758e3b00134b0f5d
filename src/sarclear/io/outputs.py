"""Refuse an output path that cannot be written, or that would overwrite an input, before any work.

Why: `predict` and `adapt` read a scene and fit or run a model for minutes before the first byte
is written; a `--out` that names a folder, sits under a file, or names one of the band files being
read must fail in one line at the start, not after the work (or, worse, replace the user's data:
a band file of a per-band folder given as `--s2` is an input too, as are the files a SAFE holds).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from sarclear.errors import ConfigError
from sarclear.io.band_folder import BAND_SUFFIXES, L2A_ONLY_FILES, has_band_files
from sarclear.io.product import canonical_band
from sarclear.io.s1_pair import has_s1_files, polarisation
from sarclear.io.safe import is_safe_product

#: The files a VRT stacks (`io.vrt`: a product's bands, an S1 pair given as two files).
_VRT_SOURCE = re.compile(r"<SourceFilename[^>]*>([^<]+)</SourceFilename>")


#: What a model folder (a run, a checkpoint, `adapt --keep-model`'s) is read from; its rasters and
#: pictures (samples, a previous prediction) are not.
MODEL_SUFFIXES: tuple[str, ...] = (".safetensors", ".onnx", ".json", ".yaml", ".yml", ".pt", ".pth")


def output_file(text: str | Path) -> Path:
    """`--out` as given on the command line, as a file path: `Path("new/")` drops the slash, so a
    folder that does not exist yet would silently become a file of that name; refused instead
    (an existing folder is refused by `check_outputs`)."""
    if isinstance(text, str) and text.endswith(("/", "\\")) and not Path(text).is_dir():
        raise ConfigError(f"{text}: names a folder; give a file name, e.g. {Path(text) / 'clear.tif'}")
    return Path(text)


def input_files(inputs: Iterable[str | Path | None], vrt_sources: Iterable[str] = (),
                checkpoints: Iterable[str | Path | None] = ()) -> set[Path]:  # fmt: skip
    """Every file the inputs stand for, resolved: a file itself, every file inside a SAFE, the
    files a per-band or S1 folder is read from (its bands, SCL, VV and VH: not the user's other
    files beside them, such as the output of a previous run), the files the given VRT texts name,
    and the model files of the `checkpoints` (a file, or a folder's `MODEL_SUFFIXES` files: a
    prediction written into a run folder may be written there again)."""
    files: set[Path] = set()
    for item in checkpoints:
        if item is None:
            continue
        path = Path(item).resolve()
        if path.is_dir():
            files.update(p.resolve() for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MODEL_SUFFIXES)
        else:
            files.add(path)
    for item in inputs:
        if item is None:
            continue
        path = Path(item).resolve()
        if path.is_dir():
            files.update(_files_read(path))
        else:
            files.add(path)
    for text in vrt_sources:
        files.update(Path(name).resolve() for name in _VRT_SOURCE.findall(text or "") if not name.startswith("/vsi"))
    return files


def _files_read(folder: Path) -> set[Path]:
    """What a folder given as an input is read from: a SAFE's files; a per-band or S1 folder's
    files named as its parts (`_named_as_part`), not the user's other files beside them; all files
    of any other folder."""
    kinds = (False, False) if is_safe_product(folder) else _kinds(folder)
    if not any(kinds):
        return {p.resolve() for p in folder.rglob("*") if p.is_file()}
    return {p.resolve() for p in folder.iterdir() if p.is_file() and _named_as_part(p, *kinds)}


def _kinds(folder: Path) -> tuple[bool, bool]:
    """Whether the folder is read as a per-band product (band files) and as an S1 folder (VV, VH files)."""
    return has_band_files(folder), has_s1_files(folder)


def _named_as_part(path: Path, bands: bool, s1: bool) -> bool:
    """Whether a raster of this name is read by the reader of a folder of those kinds."""
    if path.suffix.lower() not in BAND_SUFFIXES:
        return False
    as_band = canonical_band(path.stem) is not None or path.stem.upper() in L2A_ONLY_FILES
    return (as_band and bands) or (polarisation(path) is not None and s1)


def product_folders(inputs: Iterable[str | Path | None], s1: Sequence[str | Path] = ()) -> set[Path]:
    """The inputs that are folders (a per-band product, a SAFE, an S1 folder), and the folder of an
    `s1` given as its two files (read as an S1 folder another time), resolved: source data that an
    output must not join as one of its files (`joins_product`)."""
    folders = {Path(item).resolve() for item in inputs if item is not None and Path(item).is_dir()}
    return folders | ({Path(item).resolve().parent for item in s1} if len(s1) == 2 else set())


def joins_product(folder: Path, output: Path) -> bool:
    """Whether `output`, written under the input product `folder`, would be read as part of it next
    time: anything inside a SAFE, or a file named as a band (`B8.TIF`, `..._B04.tif`) or an L2A
    layer (`SCL.tif`) directly in a per-band folder, or as a polarisation (`VV.tif`) in an S1
    folder. Any other name beside them (`out.tif` in the folder the user works in) is not read:
    allowed."""
    if is_safe_product(folder):
        return True
    return output.parent == folder and _named_as_part(output, *_kinds(folder))


#: What a GeoTIFF output (`--out` of predict, adapt, prepare-s1) may end in.
GEOTIFF_SUFFIXES: tuple[str, ...] = (".tif", ".tiff")


def check_geotiff_name(out: Path) -> None:
    """Refuse a GeoTIFF output named as another format (`x.jp2`, `x.vrt`) or with no suffix: GDAL
    would write a GeoTIFF under that name, which other tools then open with the wrong driver or not
    at all. Called after `check_outputs`, so an input named as `--out` gets that message first."""
    if out.suffix.lower() not in GEOTIFF_SUFFIXES:
        suggestion = out.with_suffix(".tif") if out.suffix else out.with_name(out.name + ".tif")
        raise ConfigError(f"{out}: --out is written as a GeoTIFF; give a name ending in .tif (e.g. {suggestion.name})")


def special_file_problem(path: Path) -> str:
    """Why `path`, which exists and is neither a file nor a folder (a device such as /dev/null, a
    named pipe, a socket), cannot be an output: the write goes to a temporary file renamed onto the
    path, which would replace that node with a plain file (it did: /dev/null as root)."""
    return f"{path}: exists and is not a regular file (a device, a pipe or a socket); give the name of a new or ordinary file"


def check_outputs(outputs: Iterable[Path | None], sources: set[Path], folders: Iterable[Path] = ()) -> None:
    """Exit 2 (one line) if an output is a folder, lies under a file, names an input in `sources`
    (`input_files`), would join one of the input `folders` (`product_folders`, `joins_product`: a
    new `B8.TIF` in a per-band folder is read as one of its bands next time), or is given for two
    outputs."""
    seen: set[Path] = set()
    folders = set(folders)
    for path in outputs:
        if path is None:
            continue
        resolved = path.resolve()
        if resolved in sources:
            raise ConfigError(f"{path}: output would overwrite an input file")
        inside = next((parent for parent in resolved.parents if parent in folders and joins_product(parent, resolved)), None)
        if inside is not None:
            raise ConfigError(f"{path}: would become part of the input product {inside} (read as one of its files next time), "
                              "which is never modified; write it elsewhere or under another name")  # fmt: skip
        if resolved in seen:
            raise ConfigError(f"{path}: given for two different outputs")
        if path.is_dir():
            raise ConfigError(f"{path}: is a directory, expected an output file name")
        if path.exists() and not path.is_file():
            raise ConfigError(special_file_problem(path))
        blocker = next((parent for parent in resolved.parents if parent.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise ConfigError(f"{path}: cannot be written: {blocker} is a file, not a folder")
        seen.add(resolved)
