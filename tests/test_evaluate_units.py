"""Small pieces of the evaluation: cloud-cover bins, streaming aggregation, gallery choice, HTML helpers."""

from __future__ import annotations

import base64
import math

import numpy as np
import pytest

from sarclear.evaluate.aggregate import Aggregator, cloud_bin
from sarclear.evaluate.gallery import Candidates, pick_tiles
from sarclear.report.html import Html, html_page, img_tag, table_html
from sarclear.report.images import png_bytes


@pytest.mark.parametrize(
    "pct, label",
    [(0.0, "0-10"), (9.99, "0-10"), (10.0, "10-30"), (59.9, "30-60"), (60.0, "60-90"), (90.0, "90-100"),
     (100.0, "90-100"), (float("nan"), "unknown")],
)
def test_cloud_bins(pct, label):
    assert cloud_bin(pct) == label


def test_aggregator_skips_nan_and_counts_per_group():
    agg = Aggregator()
    agg.add("m", "summer", "0-10", {"reflectance/psnr": 20.0, "reflectance/cloud/psnr": float("nan")})
    agg.add("m", "summer", "90-100", {"reflectance/psnr": 30.0, "reflectance/cloud/psnr": 10.0})
    agg.add("m", "winter", "90-100", {"reflectance/psnr": 40.0, "reflectance/cloud/psnr": 14.0})
    result = agg.results()["m"]
    assert result["overall"]["n"] == 3
    assert result["overall"]["reflectance"]["psnr"] == {"mean": 30.0, "std": pytest.approx(math.sqrt(200 / 3)), "n": 3}
    assert result["by_season"]["summer"]["reflectance"]["psnr"]["mean"] == 25.0
    assert list(result["by_cloud_cover"]) == ["0-10", "90-100"]
    assert result["by_region"]["cloud"]["n"] == 2
    assert result["by_region"]["cloud"]["reflectance"]["psnr"]["mean"] == 12.0


def test_pick_tiles_best_median_worst_without_repeats():
    scores = [30.0, 10.0, 25.0, float("nan"), 20.0, 15.0, 35.0]
    picks = pick_tiles(scores, per_category=2)
    assert picks == [("best", 6), ("best", 0), ("median", 2), ("median", 4), ("worst", 1), ("worst", 5)]
    assert pick_tiles([31.0, 16.0], per_category=2) == [("best", 0), ("worst", 1)]
    assert pick_tiles([5.0], per_category=2) == [("best", 0)]
    assert pick_tiles(scores, per_category=0) == []


def test_candidates_keep_only_current_extremes():
    scores = [30.0, 10.0, 25.0, 20.0, 15.0, 35.0, 5.0]
    candidates = Candidates(k=2)
    for index, score in enumerate(scores):
        candidates.offer(index, score, np.full((2, 2), index))
        assert len(candidates.masks) <= 4
    assert set(candidates.masks) == {5, 0, 1, 6}  # two best (35, 30) and two worst (10, 5)
    best = [i for category, i in pick_tiles(scores, 2) if category != "median"]
    assert set(best) <= set(candidates.masks)


def test_html_helpers_embed_and_escape():
    png = png_bytes(np.zeros((4, 4, 3), dtype=np.uint8))
    tag = img_tag(png, alt="a<b")
    payload = tag.split("base64,", 1)[1].split('"', 1)[0]
    assert base64.b64decode(payload) == png and 'alt="a&lt;b"' in tag
    table = table_html([["x&y", "1.50 ± 0.20", Html("<b>bold</b>")]], ["name", "value", "raw"])
    assert "x&amp;y" in table and '<td class="num">1.50 ± 0.20</td>' in table and "<b>bold</b>" in table
    page = html_page("T <1>", [("First part", table), ("Second", "plain & text")])
    assert page.startswith("<!DOCTYPE html>") and 'href="#first-part"' in page and "plain &amp; text" in page
    assert "T &lt;1&gt;" in page
    with pytest.raises(ValueError):
        img_tag(b"not an image")
