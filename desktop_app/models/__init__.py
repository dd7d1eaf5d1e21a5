"""The models Lookaloud knows and where they are: catalogs, the installed-model store, the hub client.

vision_catalog.py names the vision models (BLIP family) and reads a model folder's settings,
speech_catalog.py names the Whisper models, store.py finds an installed model of either kind
(and keeps the record of downloads), hub.py downloads one when the user asks. Nothing here
imports Qt, torch or a speech engine; the engines (vision/, speech/) import from here.
"""
