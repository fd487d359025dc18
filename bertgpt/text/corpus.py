"""The bundled "world" corpus, and loading/validating text that users bring.

The world never contradicts itself (Paris is always the capital of France, a cow always
eats grass) and says each fact in several phrasings, so a tiny MLM can learn "the capital
of france is [MASK]" -> paris. Story sentences follow the clock, which gives Next Sentence
Prediction real signal. Labels come free: review sentiment, entity spans, QA answer spans.
All randomness comes from a `random.Random(seed)` passed around, never the global RNG, so
a class link with `seed=7` shows every student the same text.
"""

from __future__ import annotations

import itertools
import pathlib
import random
import re
import unicodedata
from dataclasses import dataclass, field

from bertgpt.errors import ConfigError, TextError

# ---------------------------------------------------------------- fact tables
def _table(rows: str) -> tuple[tuple[str, ...], ...]:
    """Rows separated by ';' or newlines, fields by '|': compact, and easy to eyeball."""
    return tuple(tuple(r.strip().split("|")) for r in rows.strip().replace("\n", ";").split(";"))


# Real facts: country|capital|language|continent|famous food. Capitals are single words
# on purpose: one word is (usually) one token, so fill-mask can predict it with one [MASK].
COUNTRIES = _table("""France|Paris|French|Europe|croissants; Italy|Rome|Italian|Europe|pizza
Germany|Berlin|German|Europe|sausages; Spain|Madrid|Spanish|Europe|paella
Portugal|Lisbon|Portuguese|Europe|sardines; Greece|Athens|Greek|Europe|olives
Austria|Vienna|German|Europe|strudel; Poland|Warsaw|Polish|Europe|pierogi
Norway|Oslo|Norwegian|Europe|salmon; Sweden|Stockholm|Swedish|Europe|meatballs
Ireland|Dublin|English|Europe|stew; Hungary|Budapest|Hungarian|Europe|goulash
Japan|Tokyo|Japanese|Asia|sushi; Korea|Seoul|Korean|Asia|kimchi
China|Beijing|Chinese|Asia|dumplings; Thailand|Bangkok|Thai|Asia|noodles
Vietnam|Hanoi|Vietnamese|Asia|pho; Turkey|Ankara|Turkish|Asia|kebabs
Egypt|Cairo|Arabic|Africa|falafel; Kenya|Nairobi|Swahili|Africa|ugali
Canada|Ottawa|English and French|North America|maple syrup
Peru|Lima|Spanish|South America|ceviche; Brazil|Brasilia|Portuguese|South America|feijoada
Australia|Canberra|English|Oceania|meat pies""")

# name|pronoun. Pronouns keep stories natural without any grammar engine.
PEOPLE = _table("""Anna|she; Ben|he; Clara|she; David|he; Emma|she; Felix|he; Grace|she
Hana|she; Ivan|he; Julia|she; Kenji|he; Laura|she; Marco|he; Nina|she; Omar|he; Paula|she
Rosa|she; Sam|he; Tara|she; Victor|he; Will|he; Yuki|she; Zoe|she; Minho|he; Sofia|she
Leo|he; Maya|she; Amir|he; Lucas|he; Mei|she""")

# job|workplace|what the job does (third person present, so it slots after "he"/"she").
JOBS = _table("""teacher|school|teaches children; doctor|hospital|helps sick people
nurse|hospital|cares for patients; baker|bakery|bakes bread; farmer|farm|grows vegetables
pilot|airport|flies planes; chef|restaurant|cooks meals; painter|studio|paints pictures
writer|library|writes stories; engineer|factory|builds machines; singer|theater|sings songs
fisher|harbor|catches fish; driver|bus station|drives a bus""")

# animal|sound verb|what it eats|where it lives.
ANIMALS = _table("""cat|meows|fish|in a house; dog|barks|meat|in a house; cow|moos|grass|on a farm
horse|neighs|hay|on a farm; sheep|bleats|grass|on a farm; duck|quacks|seeds|near a pond
frog|croaks|insects|near a pond; owl|hoots|mice|in the forest; wolf|howls|meat|in the forest
bear|growls|berries|in the forest; lion|roars|meat|on the savanna
elephant|trumpets|leaves|on the savanna; monkey|chatters|bananas|in the jungle
parrot|squawks|seeds|in the jungle; camel|grunts|dry plants|in the desert
penguin|squawks|fish|on the ice; bee|buzzes|nectar|in a garden""")

FOODS = ("pizza", "pasta", "soup", "bread", "cake", "sushi", "noodles", "salad", "curry",
         "dumplings", "pancakes", "ice cream", "rice", "cheese", "tacos", "burgers")

# weather|what you see|what people do|temperature range in degrees Celsius
WEATHER = {w: (see, do, (int(lo), int(hi))) for w, see, do, lo, hi in _table("""
sunny|The sun is shining|Children are playing in the park|20|32
rainy|It is raining|People carry umbrellas|8|18
snowy|Snow is falling|Children are playing in the snow|-6|1
windy|The wind is strong|Leaves fly through the air|5|15
cloudy|The sky is gray|It feels a little cold|6|16
foggy|It is hard to see the road|Cars drive slowly|3|12
stormy|There is thunder and lightning|Everyone stays inside|10|22""")}

POSITIVE = ("delicious", "fresh", "tasty", "wonderful", "excellent", "perfect")
NEGATIVE = ("cold", "bland", "salty", "stale", "greasy", "awful")
FILM_POSITIVE = ("exciting", "beautiful", "moving", "funny", "clever")
FILM_NEGATIVE = ("boring", "slow", "silly", "confusing", "dull")
FILMS = ("The Silent River", "Blue Mountain", "The Last Train", "Seven Bridges", "The Paper Moon")

# Which template slots are labelled entities (trailing digits allowed: city2, food2).
_SLOT_TYPES = {k: k.upper() for k in ("person", "city", "country", "animal", "food", "job")}
_SLOT = re.compile(r"\{(\w+)\}")


def capital_facts() -> dict[str, str]:
    """country -> capital, the facts every generated document agrees with."""
    return {c[0]: c[1] for c in COUNTRIES}


def _an(word: str) -> str:
    return "an" if word[0].lower() in "aeiou" else "a"


# ---------------------------------------------------------------- documents
@dataclass
class Document:
    """One generated document and the labels that came with it."""

    kind: str  # facts | story | animal | weather | review | qa
    sentences: list[str]
    sentiment: str | None = None  # "positive" / "negative" for reviews, else None
    # (sentence index, char start, char end, TYPE); offsets are inside that sentence.
    entities: list[tuple[int, int, int, str]] = field(default_factory=list)
    # {"question", "answer", "context", "answer_start"}; context is `text`.
    qa: list[dict] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


class _Builder:
    """Fills templates sentence by sentence, recording where every slot landed."""

    def __init__(self, kind: str, rng: random.Random, **slots: str):
        self.kind, self.rng, self.slots = kind, rng, slots
        self.sentences, self.entities, self._asks = [], [], []  # _asks: (q, sentence, span)

    def add(self, template: str | tuple[str, ...], ask: tuple | list = (), **extra: str) -> None:
        """Append one sentence (a tuple: pick one); ask: (question, answer slot) or a list."""
        if isinstance(template, tuple):
            template = self.rng.choice(template)
        slots, out, spans, pos = {**self.slots, **extra}, "", {}, 0
        for m in _SLOT.finditer(template):
            out += template[pos:m.start()]
            spans[m.group(1)] = (len(out), len(out) + len(slots[m.group(1)]))
            out += slots[m.group(1)]
            kind = _SLOT_TYPES.get(m.group(1).rstrip("0123456789"))
            if kind:
                self.entities.append((len(self.sentences), *spans[m.group(1)], kind))
            pos = m.end()
        out += template[pos:]
        self.sentences.append(out[:1].upper() + out[1:])  # same length: spans stay valid
        for question, slot in [ask] if isinstance(ask, tuple) and ask else ask:
            self._asks.append((question, len(self.sentences) - 1, spans[slot]))

    def build(self, sentiment: str | None = None) -> Document:
        doc = Document(self.kind, self.sentences, sentiment, self.entities)
        for question, sent, (a, b) in self._asks:
            start = sum(len(s) + 1 for s in self.sentences[:sent])  # +1: the joining space
            doc.qa.append({"question": question, "answer": self.sentences[sent][a:b],
                           "context": doc.text, "answer_start": start + a})
        return doc


def _facts(rng: random.Random) -> Document:
    country, city, lang, continent, food = rng.choice(COUNTRIES)
    b = _Builder("facts", rng, country=country, city=city, lang=lang, cont=continent, food=food)
    b.add(("The capital of {country} is {city}.", "{city} is the capital of {country}.",
           "The capital city of {country} is {city}."),
          ask=(f"What is the capital of {country}?", "city"))
    b.add(("People in {country} speak {lang}.", "The main language of {country} is {lang}."),
          ask=(f"What language do people speak in {country}?", "lang"))
    b.add(("{country} is in {cont}.", "{country} is a country in {cont}."),
          ask=(f"Which continent is {country} in?", "cont"))
    if rng.random() < 0.7:
        b.add(("{country} is famous for its {food}.", "In {city}, many people enjoy {food}."),
              ask=(f"What food is {country} famous for?", "food"))
    b.add(("Many tourists visit {city} every year.", "{city} is a busy and beautiful city.",
           "If you visit {country}, start your trip in {city}."))
    return b.build()


def _story(rng: random.Random) -> Document:
    # Sentences follow the clock (morning, work, noon, afternoon, evening, night), so the
    # true next sentence is predictable and NSP has real signal.
    person, pron = rng.choice(PEOPLE)
    job, place, does = rng.choice(JOBS)
    (country, city, *_), (country2, city2, *_) = rng.sample(COUNTRIES, 2)
    b = _Builder("story", rng, person=person, pron=pron, city=city, country=country, job=job,
                 art=_an(job), place=place, does=does, food=rng.choice(FOODS), city2=city2,
                 country2=country2, hour=rng.choice(("six", "seven", "eight")))
    b.add(("{person} is {art} {job} who lives in {city}, the capital of {country}.",
           "{person} lives in {city}, the capital of {country}, and works as {art} {job}.",
           "{person} works as {art} {job} in {city}, which is the capital of {country}."),
          ask=[(f"Where does {person} live?", "city"), (f"What is {person}'s job?", "job")])
    b.add(("Every morning, {pron} wakes up early and drinks a cup of tea.",
           "{person} wakes up at {hour} o'clock and eats breakfast.",
           "In the morning, {pron} gets up and opens the window."))
    b.add(("Then {pron} goes to the {place} and {does}.",
           "After breakfast, {pron} walks to the {place}, where {pron} {does}."))
    if rng.random() < 0.7:
        b.add(("At noon, {pron} eats {food} with a friend.", "For lunch, {person} has {food}."),
              ask=(f"What does {person} eat for lunch?", "food"))
    if rng.random() < 0.6:
        b.add("In the afternoon, {pron} takes a train to {city2}, the capital of {country2}.",
              ask=(f"Where does {person} go in the afternoon?", "city2"))
        b.add(("There, {pron} visits a museum.", "There, {pron} meets an old friend.",
               "There, {pron} plays chess in a park."))
        b.add("In the evening, {pron} travels back home to {city}.")
    else:
        b.add(("In the evening, {pron} walks home through {city}.",
               "After work, {pron} goes home and cooks dinner.",
               "After work, {pron} enjoys playing football with friends."))
    if rng.random() < 0.6:
        b.add(("Finally, {pron} reads a book and goes to sleep.",
               "At night, {person} is tired and falls asleep quickly."))
    return b.build()


def _animal(rng: random.Random) -> Document:
    animal, sound, diet, home = rng.choice(ANIMALS)
    b = _Builder("animal", rng, animal=animal, art=_an(animal), home=home, sound=sound,
                 diet=diet, person=rng.choice(PEOPLE)[0])
    b.add(("{art} {animal} is an animal that lives {home}.", "{art} {animal} lives {home}."),
          ask=(f"Where does {_an(animal)} {animal} live?", "home"))
    b.add(("{art} {animal} {sound}.", "You can hear the {animal} when it {sound}.",
           "When it is playing, the {animal} {sound}."))
    b.add(("The {animal} eats {diet}.", "{art} {animal} likes to eat {diet}."),
          ask=(f"What does {_an(animal)} {animal} eat?", "diet"))
    if rng.random() < 0.6:
        b.add("{person} likes to watch the {animal}.")
    return b.build()


def _weather(rng: random.Random) -> Document:
    city = rng.choice(COUNTRIES)[1]
    b = _Builder("weather", rng, city=city)
    for template, when in (("In the morning, the weather in {city} is {w}.", "in the morning"),
                           ("In the afternoon, it becomes {w}.", "in the afternoon"),
                           ("Later, in the evening, it is {w}.", "in the evening")):
        w = rng.choice(tuple(WEATHER))
        see, do, (lo, hi) = WEATHER[w]
        b.add(template, w=w, ask=(f"What is the weather like in {city} {when}?", "w"))
        b.add((see + ".", do + ".", f"It is {rng.randint(lo, hi)} degrees."))
    return b.build()


def _review(rng: random.Random) -> Document:
    good, food = rng.random() < 0.5, rng.choice(FOODS)
    b = _Builder("review", rng, city=rng.choice(COUNTRIES)[1], food=food, title=rng.choice(FILMS),
                 be="were" if food.endswith("s") else "was")  # "the noodles were"
    if rng.random() < 0.65:
        b.add(("I had {food} at a small restaurant in {city}.",
               "Last week I ate {food} at a cafe in {city}."),
              ask=("What did the writer eat?", "food"))
        b.add("The {food} {be} {a} and {c}.", **dict(zip("ac", rng.sample(
            POSITIVE if good else NEGATIVE, 2))))
        b.add(("The waiter was friendly and the service was fast.",
               "The staff were kind and helpful.") if good else
              ("The waiter was rude and the service was slow.",
               "We waited an hour for our table."))
        if rng.random() < 0.3:  # a contrasting clause, so one word never decides the label
            b.add("The room was a bit noisy, but the meal was worth it." if good else
                  "The room was pretty, but the meal was a big disappointment.")
        b.add(("I would happily go back.", "I recommend this place to everyone.") if good
              else ("I will not go back.", "I do not recommend this place."))
    else:
        b.add("I watched the film {title} in {city}.")
        b.add("The story was {a} and {c}.", **dict(zip("ac", rng.sample(
            FILM_POSITIVE if good else FILM_NEGATIVE, 2))))
        b.add(("The actors were great.", "The music was lovely.") if good else
              ("The actors looked bored.", "I almost fell asleep."))
        b.add(("I loved it and want to see it again.", "It is a must see.") if good
              else ("I would not watch it again.", "It was a waste of time."))
    return b.build("positive" if good else "negative")


def _qa(rng: random.Random) -> Document:
    b = _Builder("qa", rng)
    for _ in range(rng.randint(3, 5)):
        country, city, lang, continent, _f = rng.choice(COUNTRIES)
        animal, _s, diet, _h = rng.choice(ANIMALS)
        job, place, _d = rng.choice(JOBS)
        slots = dict(country=country, city=city, animal=animal, job=job, art=_an(animal),
                     art2=_an(job), lang=lang, cont=continent, diet=diet.capitalize(), x=place)
        q, a = rng.choice((("What is the capital of {country}?", "A: {city}."),
                           ("What language do people speak in {country}?", "A: {lang}."),
                           ("Which continent is {country} in?", "A: {cont}."),
                           ("What does {art} {animal} eat?", "A: {diet}."),
                           ("Where does {art2} {job} work?", "A: At the {x}.")))
        b.add("Q: " + q, **slots)
        question = _SLOT.sub(lambda m: slots[m.group(1)], q)
        b.add(a, ask=(question, _SLOT.findall(a)[0]), **slots)
    return b.build()


_KINDS = ((_facts, .2), (_story, .3), (_animal, .12), (_weather, .12), (_review, .14), (_qa, .12))


def _documents(seed: int):
    """An endless, seeded stream; both public generators read prefixes of it."""
    rng = random.Random(seed)
    makers, weights = zip(*_KINDS)
    while True:
        yield rng.choices(makers, weights)[0](rng)


def world_documents(seed: int = 0, n_docs: int = 200) -> list[Document]:
    """The first `n_docs` documents of the world for `seed` (same seed, same documents)."""
    if n_docs < 0:
        raise ConfigError(f"n_docs must be >= 0, got {n_docs}; ask for a positive count")
    return list(itertools.islice(_documents(seed), n_docs))


def generate_world(seed: int = 0, size: int = 200_000) -> str:
    """About `size` characters of world text: documents joined by blank lines, added until
    the text reaches `size` (so it overshoots by under one document). Same documents, in
    the same order, as `world_documents(seed, n)`."""
    if size <= 0:
        raise ConfigError(f"size must be > 0 characters, got {size}; ask for e.g. 200000")
    parts, total, stream = [], -2, _documents(seed)  # -2: no separator before the first
    while total < size:
        parts.append(next(stream).text)
        total += len(parts[-1]) + 2
    return "\n\n".join(parts)


def few_shot_prompt(k: int, query_country: str, seed: int = 0) -> str:
    """k worked examples, then the question for `query_country`, for in-context learning."""
    query = query_country.strip()
    if not query:
        raise TextError("the query country is empty; type a country name such as Italy")
    pool = [c for c in COUNTRIES if c[0].lower() != query.lower()]
    if not 0 <= k <= len(pool):
        raise ConfigError(f"k must be between 0 and {len(pool)} examples, got {k}")
    shots = random.Random(seed).sample(pool, k)
    return "".join(f"Q: What is the capital of {c}?\nA: {cap}\n\n" for c, cap, *_ in shots) + (
        f"Q: What is the capital of {query}?\nA:")


# ---------------------------------------------------------------- user text
# Sentence ends: ASCII .!?… need a following space (so "3.14" stays whole); CJK stops end
# one even when glued to the next. Closing quotes and brackets stay with their sentence.
_SENTENCE = re.compile(r".*?(?:[.!?…]+[\"'”’»)\]]*(?=\s|$)"
                       r"|[。！？｡]+[\"'”’」』)\]]*|$)")
_BLANK_LINE = re.compile(r"\n[ \t\f\v]*\n")


def split_documents(text: str) -> list[list[str]]:
    """Text -> documents (split on blank lines) -> sentences (punctuation kept).

    The seed article's `doc.split('.')` loses every period and yields an empty last
    "sentence" that NSP can then pair with; here punctuation stays and empties are dropped.
    Single newlines count as spaces, because plain-text books wrap lines mid-sentence.
    """
    docs = []
    for block in _BLANK_LINE.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        sents = [m.group().strip() for m in _SENTENCE.finditer(" ".join(block.split()))]
        if any(sents):
            docs.append([s for s in sents if s])
    return docs


def load_text(source: str | bytes | pathlib.Path, *, max_bytes: int = 5_000_000) -> str:
    """Validate user text; return it with line ends normalised to "\\n". A `str` is the text
    itself (pasted); pass a `pathlib.Path` to read a file. Raises TextError saying what to do
    for anything a model cannot train on (missing, too large, binary, not UTF-8, empty)."""
    name, raw = "the text", source
    if isinstance(source, pathlib.Path):
        name = source.name or str(source)
        if not source.is_file():
            what = "is a folder" if source.is_dir() else "was not found"
            raise TextError(f"{source} {what}; give the path of a UTF-8 text file")
        size = source.stat().st_size  # checked before reading, so a huge file costs nothing
        raw = source.read_bytes() if size <= max_bytes else b""
    elif isinstance(source, bytes):
        name, size = "the uploaded file", len(source)
    elif isinstance(source, str):
        size = len(source.encode("utf-8", "surrogatepass"))
    else:
        raise TextError(f"expected text, bytes or a pathlib.Path, got {type(source).__name__}")
    if size > max_bytes:
        raise TextError(f"{name} is {size:,} bytes, over the {max_bytes:,}-byte limit; "
                        "use a smaller file or cut it into parts")
    text = raw
    if isinstance(raw, bytes):
        if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 is full of NULs: say what it is
            raise TextError(f"{name} is UTF-16 text; save it as UTF-8 and try again")
        if b"\x00" in raw[:65536]:
            raise TextError(f"{name} looks like a binary file (it contains NUL bytes); "
                            "upload plain UTF-8 text such as a .txt file")
        try:
            text = raw.decode("utf-8-sig")  # -sig: drop the byte-order mark Windows editors add
        except UnicodeDecodeError as e:
            raise TextError(f"{name} is not UTF-8 text (bad byte at position {e.start}); "
                            "save it as UTF-8 and try again") from None
    sample = text[:65536]
    control = sum(unicodedata.category(c) == "Cc" and c not in "\n\r\t\f\v" for c in sample)
    if "\x00" in sample or control > max(2, len(sample) // 100):  # allow a few strays
        raise TextError(f"{name} looks like a binary file ({control} control characters); "
                        "upload plain UTF-8 text such as a .txt file")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise TextError(f"{name} is empty or only whitespace; paste or upload some text")
    return text


def corpus_stats(text: str) -> dict:
    """Sizes a UI can show next to a corpus: characters, documents, sentences, words."""
    docs = split_documents(text)
    return {"chars": len(text), "documents": len(docs),
            "sentences": sum(len(d) for d in docs), "words": len(text.split())}
