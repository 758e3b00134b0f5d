"""sarclear: cloud removal for Sentinel-2 by fusion with Sentinel-1 SAR (Pix2Pix on SEN12MS-CR)."""

__version__ = "0.1.0"
