import re

import pytest

from bertgpt.text.corpus import COUNTRIES, Document, capital_facts, corpus_stats, few_shot_prompt, generate_world, load_text, split_documents, world_documents
from bertgpt.errors import BertGptError, ConfigError, TextError


@pytest.fixture(scope="module")
def docs() -> list[Document]:
    return world_documents(seed=0, n_docs=400)


def test_same_seed_same_text_different_seed_different_text():
    assert generate_world(seed=3, size=20_000) == generate_world(seed=3, size=20_000)
    assert generate_world(seed=3, size=20_000) != generate_world(seed=4, size=20_000)
    a, b = world_documents(5, 30), world_documents(5, 30)
    assert [d.text for d in a] == [d.text for d in b]
    assert [d.text for d in a] != [d.text for d in world_documents(6, 30)]


def test_world_does_not_touch_global_random():
    import random
    random.seed(123)
    expected = random.random()
    random.seed(123)
    generate_world(seed=1, size=5_000)
    assert random.random() == expected


def test_size_is_honoured_within_one_document():
    for size in (1, 500, 10_000, 60_000):
        text = generate_world(seed=2, size=size)
        docs = text.split("\n\n")
        assert len(text) >= size
        assert len(text) - len(docs[-1]) - 2 < size  # without the last one it was short
        assert all(d and "\n" not in d for d in docs)


def test_documents_match_generate_world():
    docs = world_documents(seed=9, n_docs=10)
    text = generate_world(seed=9, size=len("\n\n".join(d.text for d in docs)))
    assert text == "\n\n".join(d.text for d in docs)


def test_capital_facts_are_real_and_consistent():
    facts = capital_facts()
    assert len(facts) >= 20
    assert facts["France"] == "Paris" and facts["Italy"] == "Rome"
    assert facts["Korea"] == "Seoul" and facts["Canada"] == "Ottawa"
    text = generate_world(seed=11, size=150_000)
    patterns = [r"[Cc]apital (?:city )?of (\w+) is (\w+)",
                r"\b(?!What\b)([A-Z]\w+) is the capital of (\w+)",
                r"(\w+), (?:which is )?the capital of (\w+)",
                r"What is the capital of (\w+)\? A: (\w+)"]
    seen = 0
    for i, pat in enumerate(patterns):
        for m in re.finditer(pat, text):
            country, city = m.groups() if i in (0, 3) else m.groups()[::-1]
            assert facts[country] == city, m.group()
            seen += 1
    assert seen > 200  # facts repeat, which is what lets a tiny model learn them


def test_every_kind_appears_with_normal_punctuation(docs):
    assert {d.kind for d in docs} == {"facts", "story", "animal", "weather", "review", "qa"}
    for d in docs:
        for s in d.sentences:
            assert s[0].isupper(), s
            assert s[-1] in ".?!", s
            assert s == s.strip() and "  " not in s


def test_stories_are_long_enough_and_in_time_order(docs):
    stories = [d for d in docs if d.kind == "story"]
    assert len(stories) > 50
    for d in stories:
        assert len(d.sentences) >= 4
        assert "morning" in d.sentences[1] or "wakes up" in d.sentences[1]
        evening = [i for i, s in enumerate(d.sentences) if "evening" in s or "After work" in s]
        afternoon = [i for i, s in enumerate(d.sentences) if "afternoon" in s]
        assert evening and all(a < evening[0] for a in afternoon)


def test_reviews_have_sentiment_and_others_do_not(docs):
    reviews = [d for d in docs if d.kind == "review"]
    assert {d.sentiment for d in reviews} == {"positive", "negative"}
    assert all(d.sentiment is None for d in docs if d.kind != "review")


def test_entity_spans_point_at_the_right_text(docs):
    facts = capital_facts()
    people = {p for d in docs for (i, a, b, t) in d.entities if t == "PERSON"
              for p in [d.sentences[i][a:b]]}
    kinds = set()
    for d in docs:
        for i, a, b, t in d.entities:
            span = d.sentences[i][a:b]
            kinds.add(t)
            assert span and span == span.strip()
            if t == "COUNTRY":
                assert span in facts
            if t == "CITY":
                assert span in facts.values()
    assert kinds == {"PERSON", "CITY", "COUNTRY", "ANIMAL", "FOOD", "JOB"}
    assert "Anna" in people or len(people) > 20


def test_qa_answer_start_is_exact(docs):
    n = 0
    for d in docs:
        for q in d.qa:
            assert q["context"] == d.text
            start = q["answer_start"]
            assert q["context"][start:start + len(q["answer"])] == q["answer"]
            assert q["question"].endswith("?") and "{" not in q["question"]
            n += 1
    assert n > 300
    qa = next(d for d in docs if d.kind == "qa")
    assert qa.sentences[0].startswith("Q: ") and qa.sentences[1].startswith("A: ")


def test_few_shot_prompt_shape():
    prompt = few_shot_prompt(3, "Italy", seed=1)
    blocks = prompt.split("\n\n")
    assert len(blocks) == 4
    assert blocks[-1] == "Q: What is the capital of Italy?\nA:"
    facts = capital_facts()
    for block in blocks[:-1]:
        m = re.fullmatch(r"Q: What is the capital of (\w+)\?\nA: (\w+)", block)
        assert m and m.group(1) != "Italy" and facts[m.group(1)] == m.group(2)
    assert few_shot_prompt(3, "Italy", seed=1) == prompt
    assert few_shot_prompt(0, "Atlantis") == "Q: What is the capital of Atlantis?\nA:"
    with pytest.raises(ConfigError, match="between 0 and"):
        few_shot_prompt(len(COUNTRIES), "Italy")


def test_split_documents_keeps_punctuation_and_drops_empties():
    text = ("The cat sleeps. The dog barks!  Is it 3.14?\n\n\n"
            "Second doc. Wrapped\nline here.\n  \n\n"
            "안녕하세요. 반갑습니다 😀! 今日は晴れ。明日は雨。\n\n"
            "No final stop 🎉")
    docs = split_documents(text)
    assert docs == [["The cat sleeps.", "The dog barks!", "Is it 3.14?"],
                    ["Second doc.", "Wrapped line here."],
                    ["안녕하세요.", "반갑습니다 😀!", "今日は晴れ。", "明日は雨。"],
                    ["No final stop 🎉"]]
    assert split_documents("Trailing dot.") == [["Trailing dot."]]  # "".split('.') bug
    assert split_documents("a\r\n\r\nb") == [["a"], ["b"]]
    assert split_documents("   \n\n  ") == []


def test_split_documents_round_trips_world_text():
    docs = world_documents(seed=4, n_docs=50)
    text = "\n\n".join(d.text for d in docs)
    assert split_documents(text) == [d.sentences for d in docs]


def test_corpus_stats():
    stats = corpus_stats("One. Two three!\n\nFour?")
    assert stats == {"chars": 22, "documents": 2, "sentences": 3, "words": 4}


def test_load_text_accepts_and_normalises(tmp_path):
    assert load_text("a\r\nb\rc") == "a\nb\nc"
    assert load_text("안녕 😀".encode()) == "안녕 😀"
    assert load_text(b"\xef\xbb\xbfhello") == "hello"  # BOM dropped
    path = tmp_path / "t.txt"
    path.write_bytes("line one\r\nline two 😀\n".encode())
    assert load_text(path) == "line one\nline two 😀\n"


@pytest.mark.parametrize("source, message", [
    ("caf\xe9 au lait".encode("latin-1"), "is not UTF-8 text.*save it as UTF-8"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks like a binary file"),
    (bytes(range(1, 32)) * 20, "looks like a binary file"),
    ("hello".encode("utf-16"), "UTF-16.*save it as UTF-8"),
    ("", "empty"),
    (b"", "empty"),
    (" \n\t \r\n ", "only whitespace"),
])
def test_load_text_rejects_bad_input(source, message):
    with pytest.raises(TextError, match=message):
        load_text(source)


def test_load_text_size_limit_names_size_and_limit(tmp_path):
    with pytest.raises(TextError, match=r"1,001 bytes, over the 1,000-byte limit"):
        load_text("x" * 1001, max_bytes=1000)
    path = tmp_path / "big.txt"
    path.write_bytes(b"y" * 2048)
    with pytest.raises(TextError, match=r"big\.txt is 2,048 bytes.*1,024-byte limit"):
        load_text(path, max_bytes=1024)
    assert load_text("x" * 1000, max_bytes=1000) == "x" * 1000


def test_load_text_missing_path(tmp_path):
    with pytest.raises(TextError, match="was not found"):
        load_text(tmp_path / "nope.txt")
    with pytest.raises(TextError, match="is a folder"):
        load_text(tmp_path)


def test_errors_are_value_errors():
    # The app and CLI catch BertGptError; plain callers may catch ValueError.
    with pytest.raises(ValueError):
        load_text("")
    assert issubclass(TextError, BertGptError)
    with pytest.raises(ConfigError):
        generate_world(size=0)
