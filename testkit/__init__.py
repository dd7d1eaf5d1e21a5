"""The test kit: what tests/, tools/ and bench/ use to make test material; never the product.

It owns the things that stand in for the world in tests and benchmarks, all made by code:

- demo_scenes: the seeded picture scenes (with their true captions and answers) that the
  bundled demo model resources/models/shapes-demo was trained on by tools/train_shapes_model.py;
- tiny_models: tiny, randomly initialised BLIP-2, InstructBLIP and BLIP model folders;
- pictures: screenshots, documents and photos with known text, for OCR;
- speech_audio: spoken questions made with espeak-ng, silence and noise around them, and one
  shared speech-to-text model;
- blocks: a Qt window painted with known colour blocks, for checking captured pixels;
- badinputs: the bad-inputs corpus of hostile and odd pictures and sound files;
- fakehub and hostilehub: a local stand-in for the Hugging Face Hub, and one that lies.

The product (desktop_app/) never imports it (tests/test_architecture.py checks), and the wheel
does not ship it (pyproject.toml includes only desktop_app*; tests/test_packaging.py checks).
It is importable from the repository root, where tests, tools and benchmarks run.
"""
