"""Capture: turn "what the user points at" into a PIL.Image in RGB holding the real pixels.

types.py (Rect, ActiveWindow, CaptureError, picture info keys), base.py (the CaptureBackend
interface and choose_backend()), backends/ (x11, windows, macos, wayland), and the sources the
app calls: screen.py (monitors, any rectangle, a whole screen), window.py (the active window),
region.py (rectangle geometry, presets, spoken descriptions), clipboard.py (a copied picture,
Qt, GUI thread).
"""
