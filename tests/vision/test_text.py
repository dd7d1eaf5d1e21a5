"""What the user hears is a tidy sentence, whatever the model produced."""

import pytest

from desktop_app.vision.text import clean_output


@pytest.mark.parametrize(
    "raw, kwargs, spoken",
    [
        ("a a cat sitting on on a  mat", {}, "A cat sitting on a mat."),
        ("red\nQuestion: what shape is it", {}, "Red."),
        ("two Question: how many", {}, "Two."),
        ("a dog on a beach. and a cat wh", {"truncated": True}, "A dog on a beach."),
        ("a dog on a beach and a cat", {"truncated": True}, "A dog on a beach and a cat."),
        ("Question: what colour? Answer: blue", {"prompt": "Question: what colour? Answer:"}, "Blue."),
        ("  yes  ", {}, "Yes."),
        ("is it? yes!", {}, "Is it? yes!"),
        ("", {}, ""),
    ],
)
def test_clean_output(raw, kwargs, spoken):
    assert clean_output(raw, **kwargs) == spoken


def test_raw_form_keeps_model_casing():
    assert clean_output("red  red\nQuestion:", as_sentence=False) == "red"
