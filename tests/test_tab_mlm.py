"""The MLM tab's notes for a short sentence (issue #22): why nothing was picked, and why
everyday words come out in pieces, computed from the masking trace itself."""
import pytest

from bertgpt.app.tab_mlm import mask
from bertgpt.io.assets import world_tokenizer
from bertgpt.text.mlm import mask_text

TEXT = "the cat sat on the mat"


def _seed_with(selected_none: bool) -> int:
    tok = world_tokenizer("wordpiece")
    return next(s for s in range(100)
                if (mask_text(TEXT, tok, seed=s)["counts"]["selected"] == 0) == selected_none)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_a_seed_that_picks_nothing_says_why_and_how_likely(lang):
    seed = _seed_with(selected_none=True)
    res = mask_text(TEXT, world_tokenizer("wordpiece"), seed=seed)
    md = mask(TEXT, seed, 0.15, 0.8, 0.1, lang)[3]
    assert f"{res['p_none']:.0%}" in md and "--selection exact" in md
    assert ("Why nothing?" in md) == (lang == "en") and ("왜 하나도" in md) == (lang == "ko")


def test_a_seed_that_picks_something_does_not_explain_nothing():
    md = mask(TEXT, _seed_with(selected_none=False), 0.15, 0.8, 0.1, "en")[3]
    assert "Why nothing?" not in md


def test_words_split_into_pieces_are_named_with_the_vocabulary_size():
    tok = world_tokenizer("wordpiece")
    md = mask(TEXT, 0, 0.15, 0.8, 0.1, "en")[3]
    pieces = [p for p in (tok.id_to_token(i) for i in tok.encode(TEXT))]
    assert "##t" in pieces  # the bundled vocabulary spells 'sat' and 'mat' from pieces
    assert "`sa ##t`" in md and "`ma ##t`" in md and f"{tok.vocab_size:,}" in md
    whole = mask("the capital of france is paris", 0, 0.15, 0.8, 0.1, "en")[3]
    assert "Why pieces?" not in whole
