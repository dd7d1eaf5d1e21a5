"""Photo, screenshot or document is decided from measurements a user could check: text
coverage, flat colour, straight edges; the measurements travel with the decision."""

from __future__ import annotations

from desktop_app.ocr import PictureKind, classify_picture, compose_description, read_text
from testkit.pictures import make_document, make_photo, make_screenshot


def test_a_photo_like_picture_is_a_photo() -> None:
    photo = make_photo()
    result = classify_picture(photo, read_text(photo))
    assert result.kind is PictureKind.PHOTO
    assert result.features.flat_share < 0.1 and result.features.text_coverage == 0


def test_a_text_window_is_a_screenshot_in_light_and_dark_mode() -> None:
    for dark in (False, True):
        image = make_screenshot(dark=dark, columns=2).image
        result = classify_picture(image, read_text(image))
        assert result.kind is PictureKind.SCREENSHOT, result
        assert result.features.straight_edges > 0.3  # the title bar's edge


def test_a_printed_page_is_a_document() -> None:
    page = make_document(width=600, height=500)
    result = classify_picture(page.image, read_text(page.image))
    assert result.kind is PictureKind.DOCUMENT, result
    assert result.features.text_coverage > 0.12


def test_features_are_in_the_json() -> None:
    data = classify_picture(make_photo(200, 150)).to_dict()
    assert data["kind"] == "photo"
    assert set(data["features"]) >= {"text_coverage", "flat_share", "straight_edges", "saturation"}


def test_a_photo_with_a_road_sign_is_described_by_its_caption_then_its_text() -> None:
    photo = make_photo(sign="STOP")
    ocr = read_text(photo)
    # Light text on colour is scene text: the photo engine reads it, Tesseract does not.
    assert ocr.engine == "rapidocr" and ocr.text == "STOP"
    kind = classify_picture(photo, ocr)
    assert kind.kind is PictureKind.PHOTO
    spoken = compose_description("a red stop sign in a park", kind, ocr)
    assert spoken == "A red stop sign in a park. There is text: STOP."
