"""The vision engine: BLIP-family models on the user's GPU or CPU, with no Qt.

loader.py loads one onto a device, session.py describes a picture and answers questions about
it (encode once, ask many), images.py turns files into pictures. Which models exist, where they
are installed and how they are downloaded is desktop_app/models/.
"""
