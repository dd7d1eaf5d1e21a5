"""The vision engine: BLIP-family models on the user's GPU or CPU, with no Qt.

catalog.py names the models, loader.py loads one onto a device, session.py describes a picture
and answers questions about it (encode once, ask many), images.py turns files into pictures,
download.py fetches models from the hub when the user asks.
"""
