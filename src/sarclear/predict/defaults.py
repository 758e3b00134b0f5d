"""Defaults of `sarclear predict`, in a module without imports so the CLI can show them cheaply."""

#: Windows per forward pass: 8 runs 6 % faster per window than 4 on 2 CPU cores (the deepest layers
#: are bound by reading their weights, once per batch) and holds ~0.2 GB of activations at 256 px.
DEFAULT_BATCH_SIZE: int = 8


#: Dilation of the cloud-shadow mask in pixels (50 m: the Earth Engine s2cloudless tutorial's BUFFER);
#: shadow edges are soft and the darkness test (`sarclear.data.shadows`) misses the penumbra.
SHADOW_DILATION_PX: int = 5


#: Shortest blend ramp the default overlap gives, in pixels: neighbouring windows that disagree by
#: some DN cross-fade over this many pixels, so the step per pixel stays small.
MIN_DEFAULT_OVERLAP: int = 16


def default_overlap(tile: int) -> int:
    """An eighth of the tile, but at least `MIN_DEFAULT_OVERLAP` px (and at most a quarter of the tile):
    8, 16, 16, 32 px at 32, 64, 128, 256 px. Small models' windows disagree most (least context),
    and a ramp of 8 px let a 64 px model's grid show on a real overcast scene (issue 14); at 256 px
    the eighth is kept because every extra overlap costs windows: a full 10980 px tile needs 2,401
    windows at 32 px and 3,249 at 64 px (docs/predict.md has the seam measurement)."""
    return min(max(tile // 8, MIN_DEFAULT_OVERLAP), tile // 4)
