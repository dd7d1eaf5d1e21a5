"""Global hotkeys: one backend per platform (x11, windows, macos, wayland_portal) behind the
interface in base.py, chosen and driven by the Qt HotkeyManager in manager.py."""
