"""Capture backends, one per platform, each satisfying capture.base.CaptureBackend: x11 (mss and
python-xlib), windows (mss and user32/DWM), macos (mss and Quartz), wayland (the desktop
portal's Screenshot); mss_grabber holds what the three mss backends share."""
