"""Reading order: recognised lines grouped into blocks, blocks ordered top to bottom with
columns kept apart.

Two steps, both on boxes only (engine-independent):
1. Lines become blocks when each sits just below the previous one, overlaps it sideways and
   has about the same height (so a large title does not join the paragraph under it).
2. Blocks are ordered by recursive XY-cut: split at a vertical gutter that no block crosses
   (columns, read left to right) and failing that at horizontal gaps (bands, read top to
   bottom). Neighbouring bands that share a gutter are kept together, so that paragraph gaps
   that happen to line up across two columns under a full-width title do not interleave the
   columns. (A form of label/value rows therefore reads labels first, then values.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from desktop_app.ocr.types import OcrBlock, OcrLine

# A line joins the block above when the gap is at most this many line heights ...
MAX_LINE_GAP = 0.8
# ... and the heights differ by less than this factor.
MAX_HEIGHT_RATIO = 1.45


def _x_overlap(a: OcrLine, b: OcrLine) -> float:
    """Sideways overlap as a fraction of the narrower line."""
    overlap = min(a.box.right, b.box.right) - max(a.box.left, b.box.left)
    return overlap / max(1, min(a.box.width, b.box.width))


def _belongs_below(block: list[OcrLine], line: OcrLine) -> bool:
    last = block[-1]
    height = max(1, min(last.box.height, line.box.height))
    gap = line.box.top - last.box.bottom
    ratio = max(last.box.height, line.box.height) / height
    aligned = _x_overlap(last, line) > 0.3 or abs(line.box.left - last.box.left) < 2 * height
    return -0.5 * height <= gap <= MAX_LINE_GAP * height and ratio < MAX_HEIGHT_RATIO and aligned


def group_blocks(lines: Sequence[OcrLine]) -> list[OcrBlock]:
    """Lines to blocks (unordered between blocks; lines inside a block top to bottom)."""
    blocks: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda item: (item.box.top, item.box.left)):
        candidates = [b for b in blocks if _belongs_below(b, line)]
        if candidates:
            # The nearest block above wins when two columns both could take the line.
            min(
                candidates,
                key=lambda b: line.box.top - b[-1].box.bottom + abs(line.box.left - b[-1].box.left),
            ).append(line)
        else:
            blocks.append([line])
    return [OcrBlock(lines) for lines in blocks]


def _split(
    blocks: list[OcrBlock], start: Callable[[OcrBlock], int], end: Callable[[OcrBlock], int], min_gap: int
) -> list[list[OcrBlock]]:
    """Groups of blocks separated by gaps of at least `min_gap` along one axis."""
    groups: list[list[OcrBlock]] = []
    reach = None
    for block in sorted(blocks, key=start):
        if reach is None or start(block) - reach >= min_gap:
            groups.append([block])
            reach = end(block)
        else:
            groups[-1].append(block)
            reach = max(reach, end(block))
    return groups


def _xy_cut(blocks: list[OcrBlock]) -> list[OcrBlock]:
    if len(blocks) <= 1:
        return blocks
    heights = sorted(line.box.height for block in blocks for line in block.lines)
    unit = max(1, heights[len(heights) // 2])
    columns = _split(blocks, lambda b: b.box.left, lambda b: b.box.right, unit)
    if len(columns) > 1:
        return [b for column in columns for b in _xy_cut(column)]
    rows = _split(blocks, lambda b: b.box.top, lambda b: b.box.bottom, 1)
    if len(rows) > 1:
        bands: list[list[OcrBlock]] = [rows[0]]
        for row in rows[1:]:
            merged = bands[-1] + row
            if len(_split(merged, lambda b: b.box.left, lambda b: b.box.right, unit)) > 1:
                bands[-1] = merged
            else:
                bands.append(row)
        if len(bands) > 1:
            return [b for band in bands for b in _xy_cut(band)]
    return sorted(blocks, key=lambda b: (b.box.top, b.box.left))


def order_lines(lines: Sequence[OcrLine]) -> list[OcrBlock]:
    """Recognised lines in any order -> blocks in reading order."""
    return _xy_cut(group_blocks(lines))
