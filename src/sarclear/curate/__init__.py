"""Curation: measure every SEN12MS-CR triplet, reject bad ones by explicit rules, write the manifest.

`measure.py` reads files and `stats.py` measures arrays; `rules.py` decides (pure); `cache.py`
keeps statistics between runs; `report.py` and `figures.py` summarise; `run.py` orchestrates.
"""
