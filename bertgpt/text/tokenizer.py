"""Tokenizers for both models: WordPiece (BERT), byte-level BPE (GPT-2) and characters.

All three are built on Hugging Face `tokenizers`, so training takes seconds and a saved
`tokenizer.json` is the same file format `bert-base-uncased` and `gpt2` ship; `Tokenizer`
loads those too. The explainers at the bottom return their work for the UI: which pieces
a text became, where each piece came from, and the merge-by-merge story of one BPE word
(in the spirit of minGPT's `encode_and_show_work`).
"""

from __future__ import annotations

import collections
import json
import pathlib
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers, processors, trainers
from tokenizers import Tokenizer as Backend

from bertgpt.errors import CheckpointError, ConfigError, TextError

KINDS = ("wordpiece", "bpe", "char")
MAX_VOCAB = 200_000
# Role -> token string. These exact strings are how roles are found again in any
# tokenizer.json, ours or a real bert-base-uncased / gpt2 one.
ROLE_TOKENS = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]",
               "mask": "[MASK]", "eos": "<|endoftext|>"}
_SPECIALS = {"bert": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], "gpt": ["<|endoftext|>"]}
_DEFAULT_MODEL = {"wordpiece": "bert", "bpe": "gpt", "char": "gpt"}
_MODEL_TYPES = {"WordPiece": "wordpiece", "BPE": "bpe", "WordLevel": "char"}

SPECIAL_MEANINGS = {
    "[PAD]": "Padding: fills short sequences up to the batch length; attention ignores it.",
    "[UNK]": "Unknown: stands in for text the vocabulary cannot spell (information is lost).",
    "[CLS]": "Classification: BERT puts it first; its final vector summarises the input.",
    "[SEP]": "Separator: ends a sentence, and divides sentence A from B in NSP.",
    "[MASK]": "Mask: hides a token that BERT must guess during masked language modelling.",
    "##": "WordPiece continuation: '##ing' is glued to the piece before it, no space.",
    "Ġ": "Byte-level BPE marks a leading space as 'Ġ' (byte 0x20 shifted to a printable "
         "character): 'Ġcat' is ' cat'.",
    "<|endoftext|>": "GPT-2's one special token: ends a document and separates documents.",
}


class Tokenizer:
    """A `tokenizers.Tokenizer` (`backend`) plus what the course needs to know about it."""

    def __init__(self, backend: Backend):
        self.backend = backend
        spec = json.loads(backend.to_str())
        mtype = spec.get("model", {}).get("type")
        if mtype not in _MODEL_TYPES:
            raise CheckpointError(f"unsupported tokenizer model type {mtype!r}; use a "
                                  "WordPiece, BPE or character (WordLevel) tokenizer.json")
        self.kind: str = _MODEL_TYPES[mtype]
        # Roles come from the token strings themselves, so a real gpt2 or
        # bert-base-uncased tokenizer.json is understood without any side file.
        self.specials: dict[str, str] = {
            role: t for role, t in ROLE_TOKENS.items() if backend.token_to_id(t) is not None}
        self.byte_level = "ByteLevel" in json.dumps(
            [spec.get("pre_tokenizer"), spec.get("decoder")])
        self._model: dict | None = None
        self._ranks: dict[tuple[str, str], int] | None = None

    @classmethod
    def from_backend(cls, backend: Backend) -> Tokenizer:
        return cls(backend)

    def __repr__(self) -> str:
        return (f"Tokenizer(kind={self.kind!r}, vocab_size={self.vocab_size}, "
                f"specials={sorted(self.specials.values())})")

    # -- encoding --------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, with no [CLS]/[SEP] or other special tokens added."""
        return self.backend.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """`encode` for many texts at once (the backend runs them in parallel)."""
        return [e.ids for e in self.backend.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Iterable[int], skip_special: bool = True) -> str:
        """Text from ids. Skips [PAD]/[CLS]/[SEP]/[MASK]/<|endoftext|> but keeps [UNK]
        visible: silently dropping it would hide exactly what the tokenizer lost."""
        ids = [int(i) for i in ids]
        if skip_special:
            unk = self.token_to_id(self.specials["unk"]) if "unk" in self.specials else None
            skip = set(self.special_ids) - {unk}
            ids = [i for i in ids if i not in skip]
        text = self.backend.decode(ids, skip_special_tokens=False)
        # The BERT normaliser's accent stripping splits Hangul into jamo (as
        # bert-base-uncased does); NFC puts the syllables back together for display.
        return unicodedata.normalize("NFC", text) if self.kind == "wordpiece" else text

    @property
    def vocab_size(self) -> int:
        """Real size, specials included; can be below what training asked for."""
        return self.backend.get_vocab_size(with_added_tokens=True)

    def id_to_token(self, i: int) -> str | None:
        return self.backend.id_to_token(int(i))

    def token_to_id(self, token: str) -> int | None:
        return self.backend.token_to_id(token)

    def has(self, role: str) -> bool:
        """True when this tokenizer has its own token for `role` (no fallback)."""
        return role in self.specials

    def special_id(self, role: str) -> int:
        """Id of the token playing `role` ("pad", "unk", "cls", "sep", "mask", "eos")."""
        if role not in self.specials and role == "eos" and "sep" in self.specials:
            role = "sep"  # BERT vocabularies have no end-of-text token; [SEP] ends a text
        if role not in self.specials:
            have = ", ".join(self.specials) or "none"
            raise ConfigError(f"this {self.kind} tokenizer has no {role!r} token (it has: "
                              f"{have}); train it with model='bert' or 'gpt' to get one")
        return self.backend.token_to_id(self.specials[role])

    @property
    def special_ids(self) -> list[int]:
        return sorted({self.backend.token_to_id(t) for t in self.specials.values()})

    # -- files -------------------------------------------------------------
    def save(self, path: str | pathlib.Path) -> pathlib.Path:
        """Write one tokenizer.json (into `path` if it is a folder); return the file."""
        path = pathlib.Path(path)
        if path.is_dir() or path.suffix != ".json":
            path = path / "tokenizer.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.backend.save(str(path))
        return path

    @classmethod
    def load(cls, path: str | pathlib.Path) -> Tokenizer:
        """Read a tokenizer.json (or the one inside folder `path`)."""
        path = pathlib.Path(path)
        if path.is_dir():
            path = path / "tokenizer.json"
        if not path.is_file():
            raise CheckpointError(f"no tokenizer file at {path}; train one or check the path")
        try:
            backend = Backend.from_file(str(path))
        except Exception as e:  # the Rust side raises a bare Exception
            raise CheckpointError(f"{path} is not a valid tokenizer.json ({_first_line(e)}); "
                                  "save the tokenizer again") from None
        return cls(backend)

    def to_json(self) -> str:
        return self.backend.to_str()

    def model_json(self) -> dict:
        """The backend's "model" section (vocab, merges, ...), parsed once and cached."""
        if self._model is None:
            self._model = json.loads(self.backend.to_str())["model"]
        return self._model

    def merge_ranks(self) -> dict[tuple[str, str], int]:
        """BPE merge rules -> rank (0 = learned first); cached, as gpt2 has 50,000."""
        if self._ranks is None:
            merges = self.model_json().get("merges", [])
            # tokenizers < 0.20 wrote merges as "a b" strings, newer ones as [a, b] pairs.
            self._ranks = {tuple(m.split(" ") if isinstance(m, str) else m): r
                           for r, m in enumerate(merges)}
        return self._ranks

    @classmethod
    def from_json(cls, s: str) -> Tokenizer:
        try:
            backend = Backend.from_str(s)
        except Exception as e:  # the Rust side raises a bare Exception
            raise CheckpointError(f"not a valid tokenizer JSON ({_first_line(e)}); "
                                  "pass the text of a tokenizer.json") from None
        return cls(backend)


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:120]


# ---------------------------------------------------------------- training
def _chunks(texts: list[str]):
    # Feed documents (blank-line separated) rather than one huge string, keeping the
    # "\n\n" on each so byte-level BPE can still learn newline tokens.
    for t in texts:
        yield from (p for p in re.split(r"(?<=\n\n)", t) if p)


def train_tokenizer(kind: str, texts: Iterable[str] | str, vocab_size: int = 2000, *,
                    model: str | None = None) -> Tokenizer:
    """Train a `kind` tokenizer ("wordpiece", "bpe" or "char") with `model`'s specials.

    model="bert": [PAD] [UNK] [CLS] [SEP] [MASK] at ids 0..4. model="gpt": <|endoftext|>
    at id 0 (plus [UNK] for wordpiece/char, which need one). A small corpus may not fill
    `vocab_size`; training then stops early and `.vocab_size` reports the real size.
    Deterministic: the same texts give the same tokenizer.json.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown tokenizer kind {kind!r}; choose one of {', '.join(KINDS)}")
    model = model or _DEFAULT_MODEL[kind]
    if model not in _SPECIALS:
        raise ConfigError(f"unknown model {model!r} for tokenizer specials; use 'bert' or 'gpt'")
    specials = _SPECIALS[model] + (["[UNK]"] if model == "gpt" and kind != "bpe" else [])
    # Byte-level BPE starts from all 256 bytes, so it needs room for them plus specials.
    least = 256 + len(specials) if kind == "bpe" else len(specials) + 1
    if not isinstance(vocab_size, int) or vocab_size < least:
        raise ConfigError(f"vocab_size {vocab_size} is too small for a {kind} tokenizer; "
                          f"use at least {least}")
    if vocab_size > MAX_VOCAB:
        raise ConfigError(f"vocab_size {vocab_size:,} is over the {MAX_VOCAB:,} limit; "
                          "use a smaller vocabulary")
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not all(isinstance(t, str) for t in texts):
        raise TextError("tokenizer training texts must be strings; decode bytes as UTF-8 first")
    if not any(t.strip() for t in texts):
        raise TextError("no text to train the tokenizer on; pass some non-empty text")

    if kind == "char":
        backend = _train_char(texts, vocab_size, specials)
    elif kind == "wordpiece":
        backend = _train_wordpiece(texts, vocab_size, specials)
    else:
        backend = Backend(models.BPE())
        # GPT-2: bytes, not characters, are the alphabet, so nothing is ever unknown.
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        backend.train_from_iterator(_chunks(texts), trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=specials, show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    if model == "bert":  # lets transformers' BertTokenizerFast add [CLS]/[SEP] as BERT does
        cls_id, sep_id = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
        backend.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    return Tokenizer(backend)


def _train_wordpiece(texts: list[str], vocab_size: int, specials: list[str]) -> Backend:
    """WordPiece vocabulary learned the way `WordPieceTrainer` learns it (BPE merges with
    "##" continuations), but deterministically.

    `WordPieceTrainer` (tokenizers 0.23) adds its "##x" symbols in hash-map order, a new
    order in every process, and merge ties are broken by symbol id, so two runs on the same
    text learn different vocabularies. Here each continuation character is first swapped
    for a private-use stand-in assigned in order of first appearance, a plain BpeTrainer
    (whose alphabet order is fixed) learns the merges, and the stand-ins are swapped back
    to "##" pieces. Same corpus in, same tokenizer.json out.
    """
    norm = normalizers.BertNormalizer(lowercase=True, strip_accents=True)  # BERT-uncased
    pre = pre_tokenizers.BertPreTokenizer()  # split on whitespace and punctuation
    stand_in: dict[str, str] = {}
    seen: dict[str, str] = {}

    def marked(word: str) -> str:
        if word not in seen:
            for c in word[1:]:
                # Plane-15 private use: code points real text essentially never contains.
                stand_in.setdefault(c, chr(0xF0000 + len(stand_in)))
            seen[word] = word[0] + "".join(stand_in[c] for c in word[1:])
        return seen[word]

    words = [" ".join(marked(w) for w, _ in pre.pre_tokenize_str(norm.normalize_str(chunk)))
             for chunk in _chunks(texts)]
    bpe = Backend(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    # As WordPieceTrainer does, every character seen anywhere also gets a word-start piece.
    bpe.train_from_iterator(words, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, show_progress=False,
        initial_alphabet=sorted(stand_in)))
    back = {v: k for k, v in stand_in.items()}
    vocab = {}
    for tok, i in sorted(bpe.get_vocab().items(), key=lambda kv: kv[1]):
        plain = "".join(back.get(c, c) for c in tok)
        vocab[tok if tok in specials else "##" + plain if tok[0] in back else plain] = i
    backend = Backend(models.WordPiece(vocab, unk_token="[UNK]"))
    backend.normalizer, backend.pre_tokenizer = norm, pre
    backend.decoder = decoders.WordPiece(prefix="##")
    backend.add_special_tokens(specials)
    return backend


def _train_char(texts: list[str], vocab_size: int, specials: list[str]) -> Backend:
    # Counted here rather than by a trainer: ordering by (-count, char) makes ties, and
    # so the ids, deterministic. The most frequent characters win when vocab_size caps.
    counts = collections.Counter()
    for t in texts:
        counts.update(t)
    chars = sorted((c for c in counts if c not in specials), key=lambda c: (-counts[c], c))
    vocab = {tok: i for i, tok in enumerate(specials + chars[:vocab_size - len(specials)])}
    backend = Backend(models.WordLevel(vocab, unk_token="[UNK]"))
    # Every character is its own pre-token; Fuse glues pieces back with no spaces.
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    backend.add_special_tokens(specials)
    return backend


# ---------------------------------------------------------------- explainers
@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    # GPT-2's table: printable bytes map to themselves, the other 68 are shifted up to
    # U+0100 and beyond, so every byte becomes one visible character (space -> "Ġ").
    keep = [*range(33, 127), *range(161, 173), *range(174, 256)]
    shifted = [b for b in range(256) if b not in keep]
    table = {chr(b): b for b in keep}
    table.update({chr(256 + n): b for n, b in enumerate(shifted)})
    return table


_VISIBLE = str.maketrans({" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"})


def piece_display(tok: Tokenizer, piece: str) -> str:
    """A token as a person should see it: bytes decoded, spaces shown as "␣"."""
    if piece in tok.specials.values() or tok.kind == "wordpiece":
        return piece
    if tok.kind == "bpe" and tok.byte_level:
        table = _byte_decoder()
        if not all(c in table for c in piece):
            return piece
        raw = bytes(table[c] for c in piece)
        try:
            piece = raw.decode("utf-8")
        except UnicodeDecodeError:  # part of a multi-byte character (Korean, emoji)
            return "".join(f"<0x{b:02X}>" for b in raw)
    return piece.translate(_VISIBLE)


def explain(tok: Tokenizer, text: str) -> dict:
    """Tokenize `text` and return every piece with where it came from and what it means."""
    enc = tok.backend.encode(text, add_special_tokens=False)
    if tok.kind == "wordpiece":
        cont = [p.startswith("##") for p in enc.tokens]
    elif tok.kind == "bpe":  # same pre-token ("word") as the piece before it
        w = enc.word_ids
        cont = [i > 0 and w[i] is not None and w[i] == w[i - 1] for i in range(len(w))]
    else:  # char: a letter that follows a letter continues a word
        cont = [i > 0 and text[s:e].isalnum() and text[s - 1:s].isalnum()
                for i, (s, e) in enumerate(enc.offsets)]
    unk = tok.token_to_id(tok.specials["unk"]) if tok.has("unk") else None
    return {"kind": tok.kind, "pieces": list(enc.tokens), "ids": list(enc.ids),
            "offsets": [tuple(o) for o in enc.offsets],
            "display": [piece_display(tok, p) for p in enc.tokens],
            "is_continuation": cont, "unk_count": sum(i == unk for i in enc.ids),
            "n_chars": len(text), "n_tokens": len(enc.ids)}


def bpe_merges(tok: Tokenizer, word: str) -> list[dict]:
    """Replay BPE on `word`: step 0 is its byte symbols, then one step per merge rule,
    lowest rank (earliest learned) first, until no learned pair is left. The final
    pieces are what `tok.backend` produces."""
    if tok.kind != "bpe":
        raise ConfigError(f"bpe_merges needs a BPE tokenizer, not {tok.kind}; "
                          "train one with kind='bpe'")
    model = tok.model_json()
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        raise ConfigError("bpe_merges replays GPT-2 style BPE only (no subword prefix/suffix)")
    ranks = tok.merge_ranks()
    if tok.backend.normalizer is not None:
        word = tok.backend.normalizer.normalize_str(word)
    pre = tok.backend.pre_tokenizer
    words = [p for p, _ in pre.pre_tokenize_str(word)] if pre is not None else [word]
    if model.get("ignore_merges"):  # newer BPEs (Llama 3) take a whole-word match as is
        vocab = model["vocab"]
        words = [[w] if w in vocab else list(w) for w in words]
    else:
        words = [list(w) for w in words]
    steps = [{"step": 0, "pieces": [s for w in words for s in w], "merged": None, "rank": None}]
    while True:
        pairs = {(a, b) for w in words for a, b in zip(w, w[1:])}
        best = min(pairs, key=lambda p: ranks.get(p, float("inf")), default=None)
        if best is None or best not in ranks:
            return steps
        for n, w in enumerate(words):  # merge every occurrence, left to right
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[n] = out
        steps.append({"step": len(steps), "pieces": [s for w in words for s in w],
                      "merged": best, "rank": ranks[best]})
