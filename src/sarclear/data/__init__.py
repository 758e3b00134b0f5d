"""The SEN12MS-CR data layer: layout on disk, band conventions, units, manifest, torch dataset."""
