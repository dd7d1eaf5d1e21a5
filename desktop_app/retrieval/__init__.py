"""Finding pictures by meaning: the BLIP-2 retrieval engine, the on-disk index and the search.

- `engine.py`: the model (transformers' Blip2ForImageTextRetrieval) loaded safely from a folder;
  picture and text embeddings, contrastive scores and image-text-matching re-ranking. No Qt.
- `shared_vision.py`: one vision-transformer pass for the describer and the index, when the two
  models' vision encoders hash equal.
- `store.py`: the SQLite index under the user's data folder (files, captions, model revision,
  fp16 embeddings) and the numpy search over it.
- `indexer.py`: walking folders, skipping what is unchanged, embedding the rest.
"""
