"""Labelled fine-tuning tasks from the world corpus, and a user's own CSV.

Three tasks, each with a train pool and a fixed held-out test set:
- `classify`: the sentiment of reviews (sequence classification from [CLS]);
- `qa`: extractive QA, the answer a span of the passage (SQuAD style);
- `ner`: entity tags (PERSON, CITY, COUNTRY, ANIMAL, FOOD, JOB) as BIO tags per word.

Held out means held out: the documents come from a generator seed the bundled models
never saw (they were pre-trained on seeds 0 and 1, assets/README.md), and any document
whose text also occurs in that pre-training text is dropped (the world is templated, so
short documents do repeat across seeds). `overlap_with_pretraining` checks it.

Encoding turns examples into padded tensors for a tokenizer and a block size, keeping
the character offsets, so a prediction can be mapped back to words of the text.
"""
from __future__ import annotations

import csv
import io
import random
from functools import lru_cache

import torch

from ..text.corpus import generate_world, world_documents
from ..errors import ConfigError, TextError

TASKS = ("classify", "qa", "ner")
HELDOUT_SEED = 20261128   # no bundled model was trained on this seed's text
PRETRAIN_TEXT = ((0, 1_000_000), (1, 1_000_000))  # (seed, characters): assets/README.md
N_DOCS = 6000             # held-out documents generated per task build
TEST_EVERY = 4            # one held-out document in four goes to the test set
MAX_TEST = {"classify": 200, "qa": 200, "ner": 150}
NER_TOKENS = 32           # longest NER example, in tokens
MAX_TRAIN = 1000          # "all" in the data-efficiency sweep
ENTITY_TYPES = ("PERSON", "CITY", "COUNTRY", "ANIMAL", "FOOD", "JOB")
NER_TAGS = ("O",) + tuple(f"{p}-{t}" for t in ENTITY_TYPES for p in "BI")
SENTIMENTS = ("negative", "positive")
MAX_CSV_ROWS, MAX_CSV_LABELS, MIN_CSV_ROWS = 2000, 20, 6


@lru_cache(maxsize=1)
def pretraining_documents() -> frozenset:
    """Every document text the bundled minis were pre-trained on."""
    return frozenset(doc for seed, size in PRETRAIN_TEXT
                     for doc in generate_world(seed=seed, size=size).split("\n\n"))


def _fit_sentences(lengths: list[int], first: int, must: int, budget: int):
    """The longest run of sentences from `first` that keeps sentence `must` and fits
    `budget` tokens (`lengths`: tokens per sentence); returns (start, end) or None."""
    start, end = min(first, must), must + 1
    if sum(lengths[start:end]) > budget:
        start = must
        if lengths[must] > budget:
            return None
    while end < len(lengths) and sum(lengths[start:end + 1]) <= budget:
        end += 1
    return start, end


def _examples(task: str, doc, tok, budget: int) -> list[dict]:
    """One document's labelled examples for `task`, trimmed to `budget` tokens."""
    if (task == "classify" and doc.sentiment is None) or (task == "ner" and not doc.entities):
        return []
    lengths = [len(ids) for ids in tok.encode_batch(doc.sentences)]
    if task == "classify":
        span = _fit_sentences(lengths, 0, 0, budget)
        text = " ".join(doc.sentences[span[0]:span[1]]) if span else ""
        return [{"text": text, "label": SENTIMENTS.index(doc.sentiment)}] if text else []
    offsets = [0]
    for s in doc.sentences:
        offsets.append(offsets[-1] + len(s) + 1)
    if task == "ner":  # short windows: more sentences (and entities) per second of training
        span = _fit_sentences(lengths, 0, 0, min(budget, NER_TOKENS))
        if not span:
            return []
        a, b = span
        ents = [(offsets[i] - offsets[a] + s, offsets[i] - offsets[a] + e, kind)
                for i, s, e, kind in doc.entities if a <= i < b]
        return [{"text": " ".join(doc.sentences[a:b]), "entities": ents}] if ents else []
    out = []
    for qa in doc.qa:
        sent = max(i for i in range(len(doc.sentences)) if offsets[i] <= qa["answer_start"])
        room = budget - len(tok.encode(qa["question"])) - 1  # -1: the second [SEP]
        span = _fit_sentences(lengths, max(0, sent - 2), sent, room)
        if span:
            a, b = span
            out.append({"question": qa["question"], "context": " ".join(doc.sentences[a:b]),
                        "answer": qa["answer"], "answer_start": qa["answer_start"] - offsets[a]})
    return out


def key(example: dict) -> str:
    """What makes two examples the same (used to keep train and test apart)."""
    return example.get("question", "") + "\n" + (example.get("context") or example["text"])


@lru_cache(maxsize=2)
def _documents(seed: int) -> tuple:
    """The held-out world's documents, made once: every task and tokenizer reads the same
    ones, and making them is most of a task's cost (pure Python, so it holds the
    interpreter lock a class server's clicks need)."""
    return tuple(world_documents(seed=seed, n_docs=N_DOCS))


def warm(tok, max_len: int) -> None:
    """Build every task for this tokenizer now (the app does it at launch, in the
    background), so no student's first fine-tune pays for it while the class waits."""
    for task in TASKS:
        _build(task, tok, int(max_len), HELDOUT_SEED)


@lru_cache(maxsize=16)
def _build(task: str, tok, max_len: int, seed: int):
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    seen = pretraining_documents()
    budget = max_len - 2  # [CLS] ... [SEP]
    train, test, taken = [], [], set()
    for n, doc in enumerate(_documents(seed)):
        if len(train) >= MAX_TRAIN and len(test) >= MAX_TEST[task]:
            break
        if doc.text in seen:
            continue
        part = test if n % TEST_EVERY == 0 and len(test) < MAX_TEST[task] else train
        if part is train and len(train) >= MAX_TRAIN:
            continue
        for ex in _examples(task, doc, tok, budget):
            if (ex.get("context") or ex["text"]) in seen:
                continue  # a trimmed window can equal a shorter pre-training document
            if key(ex) not in taken:  # duplicates would leak test answers into training
                taken.add(key(ex))
                part.append(ex)
    return tuple(train[:MAX_TRAIN]), tuple(test[:MAX_TEST[task]])


def world_task(task: str, tok, max_len: int = 64, seed: int = HELDOUT_SEED) -> dict:
    """{"task", "train", "test", "labels"}: held-out examples that fit `max_len` tokens
    with this tokenizer. Cached: the same arguments give the same (immutable) lists."""
    train, test = _build(task, tok, int(max_len), int(seed))
    labels = {"classify": SENTIMENTS, "ner": NER_TAGS, "qa": ()}[task]
    return {"task": task, "train": list(train), "test": list(test), "labels": list(labels),
            "source": f"world corpus, held-out seed {seed}"}


def overlap_with_pretraining(examples: list[dict]) -> list[str]:
    """Texts of examples that are, whole, a pre-training document (should be [])."""
    seen = pretraining_documents()
    return [t for t in (ex.get("context") or ex["text"] for ex in examples) if t in seen]


def parse_csv(text: str, seed: int = 0) -> dict:
    """A pasted `text,label` CSV -> a classification task (the same shape as world_task).

    A header row `text,label` is optional. Raises TextError naming the first bad row."""
    if text is None or not str(text).strip():
        raise TextError("the CSV is empty: paste rows like  great food!,positive")
    rows = []
    reader = csv.reader(io.StringIO(str(text).strip()))
    try:
        for n, row in enumerate(reader, start=1):
            if n == 1 and [c.strip().lower() for c in row] == ["text", "label"]:
                continue
            if not row or not any(c.strip() for c in row):
                continue  # blank lines are harmless
            if len(row) != 2:
                raise TextError(f"CSV row {n} has {len(row)} field(s), expected 2 (text,label): "
                                f"{','.join(row)[:80]!r}. Put text containing commas in "
                                "double quotes.")
            body, label = row[0].strip(), row[1].strip()
            if not body or not label:
                raise TextError(f"CSV row {n} has an empty {'text' if not body else 'label'}: "
                                f"{','.join(row)[:80]!r}. Every row needs both.")
            rows.append((body, label))
            if len(rows) > MAX_CSV_ROWS:
                raise TextError(f"the CSV has more than {MAX_CSV_ROWS} rows; paste fewer")
    except csv.Error as e:
        raise TextError(f"CSV row {reader.line_num} cannot be read ({e}); check its quotes") \
            from None
    labels = sorted({lab for _, lab in rows})
    if len(rows) < MIN_CSV_ROWS:
        raise TextError(f"the CSV has {len(rows)} row(s); give at least {MIN_CSV_ROWS} so some "
                        "can be held out for testing")
    if len(labels) < 2:
        raise TextError(f"every row has the label {labels[0]!r}; a classifier needs at least "
                        "two different labels")
    if len(labels) > MAX_CSV_LABELS:
        raise TextError(f"the CSV has {len(labels)} different labels; use at most "
                        f"{MAX_CSV_LABELS}")
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_test = max(2, len(rows) // 5)
    examples = [{"text": rows[i][0], "label": labels.index(rows[i][1])} for i in order]
    return {"task": "classify", "train": examples[n_test:], "test": examples[:n_test],
            "labels": labels, "source": f"your CSV ({len(rows)} rows)"}


def subset(examples: list[dict], n: int | None, seed: int) -> list[dict]:
    """The first n of a seeded shuffle; growing n keeps the smaller sets inside it."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    return [examples[i] for i in order[:n if n else len(order)]]


# ---------------------------------------------------------------- encoding
def _ids(tok, text: str):
    enc = tok.backend.encode(text, add_special_tokens=False)
    return enc.ids, enc.offsets, enc.word_ids


def encode(task: str, examples: list[dict], tok, max_len: int, labels=()) -> dict:
    """Padded tensors for a batch of examples, plus what maps tokens back to text.

    classify: [CLS] text [SEP];  qa: [CLS] question [SEP] passage [SEP] with segment 1 on
    the passage;  ner: [CLS] text [SEP], the tag on each word's first piece and -100 on
    the rest, so a word counts once however many pieces it has (BERT paper §5.3)."""
    cls, sep, pad = tok.special_id("cls"), tok.special_id("sep"), tok.special_id("pad")
    rows, segs, targets, maps = [], [], [], []
    for ex in examples:
        if task == "qa":
            q = tok.encode(ex["question"])
            c_ids, c_off, _ = _ids(tok, ex["context"])
            ids = [cls] + q + [sep] + c_ids + [sep]
            seg = [0] * (len(q) + 2) + [1] * (len(c_ids) + 1)
            first = len(q) + 2  # position of the passage's first token
            target = (0, 0)  # [CLS] stands for "no answer here" if the span was cut
            if "answer_start" in ex:
                a, b = ex["answer_start"], ex["answer_start"] + len(ex["answer"])
                inside = [i for i, (s, e) in enumerate(c_off) if s < b and e > a]
                if inside:
                    target = (first + inside[0], first + inside[-1])
            maps.append({"first": first, "offsets": c_off})
        else:
            t_ids, t_off, words = _ids(tok, ex["text"])
            ids, seg = [cls] + t_ids + [sep], [0] * (len(t_ids) + 2)
            if task == "ner":
                tags = word_tags(ex.get("entities", []), t_off, words)
                target = [-100] + [NER_TAGS.index(t) if t else -100 for t in tags] + [-100]
            else:
                target = ex.get("label", -100)
            maps.append({"first": 1, "offsets": t_off, "words": words})
        if len(ids) > max_len:
            raise TextError(f"an example is {len(ids)} tokens, over this model's {max_len}; "
                            f"shorten it: {(ex.get('context') or ex['text'])[:60]!r}…")
        rows.append(ids)
        segs.append(seg)
        targets.append(target)
    width = max(len(r) for r in rows)
    pad_to = [r + [pad] * (width - len(r)) for r in rows]
    out = {"input_ids": torch.tensor(pad_to), "segment_ids": torch.tensor(
        [s + [0] * (width - len(s)) for s in segs]), "attention_mask": torch.tensor(
        [[1] * len(r) + [0] * (width - len(r)) for r in rows]), "maps": maps}
    if task == "qa":
        out["start"] = torch.tensor([t[0] for t in targets])
        out["end"] = torch.tensor([t[1] for t in targets])
    elif task == "ner":
        out["labels"] = torch.tensor([t + [-100] * (width - len(t)) for t in targets])
    else:
        out["labels"] = torch.tensor(targets)
    return out


def word_tags(entities, offsets, words) -> list[str | None]:
    """BIO tag per token: the tag on each word's first piece, None on continuations."""
    tags, prev_word, prev_ent = [], None, None
    for (s, e), w in zip(offsets, words):
        if w is not None and w == prev_word:
            tags.append(None)
            continue
        ent = next((x for x in entities if x[0] <= s < x[1]), None)
        tags.append("O" if ent is None else ("I-" if ent == prev_ent else "B-") + ent[2])
        prev_word, prev_ent = w, ent
    return tags


# ---------------------------------------------------------------- metrics
def spans(tags: list[str]) -> set:
    """(start, end, TYPE) entity spans from a BIO sequence (an I- after O starts one)."""
    out, start, kind = set(), None, None
    for i, t in enumerate(list(tags) + ["O"]):
        if start is not None and not (t.startswith("I-") and t[2:] == kind):
            out.add((start, i, kind))
            start = None
        if t.startswith("B-") or (t.startswith("I-") and start is None):
            start, kind = i, t[2:]
    return out


def f1(pred: set, gold: set) -> tuple[float, float, float]:
    hit = len(pred & gold)
    p = hit / len(pred) if pred else 0.0
    r = hit / len(gold) if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _norm(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() else " " for c in text).split()


def answer_scores(pred: str, gold: str) -> tuple[float, float]:
    """SQuAD's exact match and word-overlap F1 (lower-cased, punctuation dropped)."""
    p, g = _norm(pred), _norm(gold)
    common = sum(min(p.count(w), g.count(w)) for w in set(p))
    if not common:
        return float(p == g), 0.0
    prec, rec = common / len(p), common / len(g)
    return float(p == g), 2 * prec * rec / (prec + rec)


def baseline(task: str, data: dict) -> dict:
    """What a model that learned nothing scores on the test set, to beat by a margin.
    classify: always the commonest training label; qa: the passage's first word;
    ner: every word O (entity F1 0; its word accuracy is the share of O words)."""
    test = data["test"]
    if task == "classify":
        counts = [sum(ex["label"] == i for ex in data["train"]) for i in range(len(data["labels"]))]
        top = max(range(len(counts)), key=counts.__getitem__)
        acc = sum(ex["label"] == top for ex in test) / len(test)
        return {"accuracy": acc, "rule": f"always '{data['labels'][top]}'"}
    if task == "qa":
        scores = [answer_scores(ex["context"].split()[0], ex["answer"]) for ex in test]
        return {"exact_match": sum(s[0] for s in scores) / len(scores),
                "f1": sum(s[1] for s in scores) / len(scores), "rule": "the passage's first word"}
    words = [w for ex in test for w in _word_bio(ex)]
    return {"f1": 0.0, "word_accuracy": sum(t == "O" for t in words) / max(1, len(words)),
            "rule": "every word O"}


def _word_bio(ex: dict) -> list[str]:
    """Gold BIO tags per whitespace-free word, tokenizer-independent (for the baseline)."""
    tags, pos, prev = [], 0, None
    for word in ex["text"].split():
        s = ex["text"].index(word, pos)
        pos = s + len(word)
        ent = next((x for x in ex["entities"] if x[0] <= s < x[1]), None)
        tags.append("O" if ent is None else ("I-" if ent == prev else "B-") + ent[2])
        prev = ent
    return tags
