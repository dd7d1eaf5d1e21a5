"""Capture: turn "what the user points at" into a PIL.Image in RGB holding the real pixels.

One module per source: screen.py (monitors, any rectangle; CaptureError), window.py (the
active window), region.py (rectangle geometry, presets, spoken descriptions), clipboard.py
(a copied picture, Qt, GUI thread), portal.py (Wayland: xdg-desktop-portal Screenshot).
"""

from desktop_app.capture.screen import CaptureError, Rect, capture_screen, grab, monitors

__all__ = ["CaptureError", "Rect", "capture_screen", "grab", "monitors"]
