"""sdfgen: authoring assistant for openEuler Slice Definition Files."""

from __future__ import annotations

__version__ = "0.1.0"
