"""Alt text for a folder of pictures: `lookaloud alt-text` without the model.

The parts: `files` (which files a folder holds and where each one's sidecar goes),
`exiftool` (the only code that runs exiftool: reading and writing the IPTC accessibility
properties), `pixels` (proof that embedding left the picture's pixels alone), `writing`
(sidecars and embedded XMP written to a temporary file, checked, then moved into place),
`review` (the CSV for review) and `batch` (the run over every picture, with a captioning
function handed in, so this package never loads a model). Qt-free and torch-free.
"""
