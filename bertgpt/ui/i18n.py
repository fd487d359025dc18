"""English / 한국어 for the app's labels: one table, applied by walking the built Blocks.

Why not `gr.I18n`? Gradio 6.31 translates `I18n` keys in the browser, in the locale the
browser reports or the one picked in Gradio's own Settings panel; Python cannot switch it,
so neither a header switch nor `?lang=ko` in a class link could drive it, and it leaves
Markdown (the lessons) alone. Here the switch returns `gr.update(label=..., info=...,
choices=...)` for every component that shows English, so tab modules keep plain English
labels and a new label is caught by tests/test_i18n.py until KO has it.
"""
from __future__ import annotations

import functools
import inspect
import re

import gradio as gr

LANGS = {"en": "English", "ko": "한국어"}
STORAGE_KEY = "bertgpt-language"  # the browser's localStorage key for the choice

# Shown as they are in Korean too: model and preset names, code identifiers, and words
# a Korean ML class keeps in English.
KEEP = {
    "BERT", "GPT", "bert", "gpt", "bert-tiny", "bert-mini", "bert-base", "bert-large",
    "gpt-tiny", "gpt-mini", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "gpt3-175b",
    "English", "한국어", "Language / 언어", "BERT: 80%",
}

KO = {
    # header and shared pieces
    "Copy link to this view": "이 화면 링크 복사",
    "Link for the class (copied)": "수업용 링크 (복사됨)",
    "Lesson": "강의",
    "The numbers (JSON)": "숫자 그대로 (JSON)",
    "Errata: where the seed article's code goes wrong": "정오표: 원문 코드가 틀린 곳",
    # Start here
    "Start here": "여기서 시작",
    "Country": "나라",
    "Ask BERT and GPT": "BERT와 GPT에게 묻기",
    "France": "프랑스", "Italy": "이탈리아", "Germany": "독일", "Spain": "스페인",
    "Portugal": "포르투갈", "Greece": "그리스", "Austria": "오스트리아", "Poland": "폴란드",
    "Norway": "노르웨이", "Sweden": "스웨덴", "Ireland": "아일랜드", "Hungary": "헝가리",
    "Japan": "일본", "Korea": "한국", "China": "중국", "Thailand": "태국", "Vietnam": "베트남",
    "Turkey": "튀르키예", "Egypt": "이집트", "Kenya": "케냐", "Canada": "캐나다", "Peru": "페루",
    "Brazil": "브라질", "Australia": "호주",
    # Tokenize
    "Tokenize": "토큰화",
    "Text (try Korean, an emoji, a made-up word)": "텍스트 (한국어, 이모지, 지어낸 단어도 넣어 보세요)",
    "Vocabulary size": "어휘 크기 (vocab size)",
    "Retrains both tokenizers on the world corpus (~1 s)":
        "월드 코퍼스로 두 토크나이저를 다시 학습합니다 (약 1초)",
    "WordPiece (BERT): lowercased, ## = glued to the piece before":
        "WordPiece (BERT): 소문자로 바꿈, ## = 앞 조각에 붙는 조각",
    "Byte-level BPE (GPT-2): ␣ = a space, kept inside the next piece":
        "바이트 수준 BPE (GPT-2): ␣ = 공백, 다음 조각 안에 포함됨",
    "One word: replay its BPE merges": "단어 하나: BPE 병합 과정 다시 보기",
    "BPE merges, lowest rank first, until no learned pair is left":
        "BPE 병합: 순위가 낮은 것부터, 배운 쌍이 남지 않을 때까지",
    "What [UNK], ## and Ġ mean": "[UNK], ##, Ġ 의 뜻",
    # MLM
    "MLM masking": "MLM 마스킹",
    "Text to mask": "마스킹할 텍스트",
    "Seed": "시드 (seed)",
    "Re-roll (seed + 1)": "다시 뽑기 (seed + 1)",
    "Corpus sentence": "코퍼스 문장",
    "Selection rate": "선택 비율",
    "BERT: 15% of tokens": "BERT: 토큰의 15%",
    "Of those, → [MASK]": "그중 → [MASK]",
    "Of those, → random token": "그중 → 무작위 토큰",
    "BERT: 10% (the rest stay unchanged)": "BERT: 10% (나머지는 그대로)",
    "Mask": "마스크",
    "1. The text, and what happens to each token": "1. 텍스트와 각 토큰에 일어나는 일",
    "2. Model input: what BERT actually reads": "2. 모델 입력: BERT가 실제로 읽는 것",
    "3. Labels: token (id) to predict, −100 = ignored": "3. 레이블: 예측할 토큰 (id), −100 = 무시",
    "Expected vs measured rates": "기대 비율과 측정 비율",
    "Which BERT": "어떤 BERT",
    "own = the one you trained in 'Train live'": "own = '실시간 학습' 탭에서 직접 학습한 모델",
    "bundled": "내장 모델 (bundled)",
    "own": "내가 학습한 모델 (own)",
    "Top k guesses": "상위 k개 추측",
    "Predict: what does BERT guess at the selected positions?":
        "예측: 선택된 위치에서 BERT는 무엇을 추측할까?",
    "BERT's guesses (✓ = the original token)": "BERT의 추측 (✓ = 원래 토큰)",
    # NSP
    "NSP pairs": "NSP 문장 쌍",
    "Documents": "문서",
    "world corpus": "월드 코퍼스",
    "my documents": "내 문서",
    "max_len (tokens)": "max_len (토큰)",
    "Longer pairs are cut, longest sentence first": "더 긴 쌍은 잘립니다. 긴 문장부터 자릅니다",
    "My documents: a blank line between documents": "내 문서: 문서 사이에 빈 줄",
    "Seed article's way: draw NotNext from the SAME document":
        "원문 방식: NotNext를 같은 문서에서 뽑기",
    "Pair to draw below": "아래에 그릴 쌍",
    "Build pairs": "쌍 만들기",
    "Pairs: [CLS] A [SEP] B [SEP], segment 0 = A, 1 = B":
        "쌍: [CLS] A [SEP] B [SEP], 세그먼트 0 = A, 1 = B",
    "The 50/50 balance": "50/50 균형",
    "One pair as BERT's input": "BERT 입력으로 본 쌍 하나",
    "Sentence A": "문장 A",
    "Sentence B": "문장 B",
    "Ask BERT": "BERT에게 묻기",
    "Try these pairs": "이 쌍들을 넣어 보세요",
    "BERT's next-sentence probability": "BERT의 다음 문장 확률",
    "A and B are": "A와 B의 단위",
    "BERT packs several sentences into each segment": "BERT는 세그먼트 하나에 여러 문장을 채워 넣습니다",
    "one sentence each": "문장 하나씩",
    "packed segments (BERT's way)": "세그먼트로 채우기 (BERT 방식)",
    # Attention masks
    "Attention masks": "어텐션 마스크",
    "Sentences, one per line (a batch of up to 4)": "문장을 한 줄에 하나씩 (배치 최대 4개)",
    "bidirectional (BERT)": "양방향 (BERT)",
    "causal (GPT)": "인과적 (GPT)",
    "padding (BERT on a batch)": "패딩 (배치의 BERT)",
    "causal + padding (GPT on a batch)": "인과적 + 패딩 (배치의 GPT)",
    "Sentence to inspect": "살펴볼 문장",
    "Seed for the raw scores": "원점수용 시드",
    "Show masks": "마스크 보기",
    "The batch under this mask": "이 마스크를 쓴 배치",
    "One sentence, four masks": "문장 하나, 마스크 넷",
    "Raw scores → masked (−∞) → softmax": "원점수 → 마스킹 (−∞) → 소프트맥스",
    # Attention heatmaps
    "Attention heatmaps": "어텐션 히트맵",
    "Sentence (English, up to 40 tokens)": "문장 (영어, 최대 40토큰)",
    "Models": "모델",
    "bundled models": "내장 모델",
    "my trained models": "내가 학습한 모델",
    "Layer": "층 (layer)",
    "Head": "헤드 (head)",
    "Show attention": "어텐션 보기",
    "BERT: one head": "BERT: 헤드 하나",
    "GPT: one head": "GPT: 헤드 하나",
    "BERT: every head": "BERT: 모든 헤드",
    "GPT: every head": "GPT: 모든 헤드",
    # Train live
    "Train live": "실시간 학습",
    "Model": "모델",
    "Both, side by side": "둘 다, 나란히",
    "Size": "크기",
    "tiny: 2 layers, 2 heads, width 64": "tiny: 2층, 헤드 2개, 폭 64",
    "classroom mini: 4 layers, 4 heads, width 128": "수업용 mini: 4층, 헤드 4개, 폭 128",
    "Text to learn from": "학습할 텍스트",
    "World corpus (bundled)": "월드 코퍼스 (내장)",
    "Paste text": "텍스트 붙여넣기",
    "Upload a UTF-8 .txt": "UTF-8 .txt 올리기",
    "World corpus size (thousand characters)": "월드 코퍼스 크기 (천 글자)",
    "Your text (separate documents with a blank line)": "내 텍스트 (문서 사이는 빈 줄로)",
    "A UTF-8 .txt file": "UTF-8 .txt 파일",
    "Train for": "학습 길이",
    "Time budget": "시간 제한",
    "Number of steps": "스텝 수",
    "Seconds": "초",
    "Steps": "스텝",
    "More settings": "설정 더 보기",
    "Batch size (sequences per step)": "배치 크기 (스텝당 시퀀스)",
    "Peak learning rate": "최대 학습률",
    "Seed (same seed, same run)": "시드 (같은 시드, 같은 학습)",
    "▶ Train": "▶ 학습",
    "■ Stop (keeps the model)": "■ 멈춤 (모델은 유지)",
    "Loss": "손실 (loss)",
    "Checkpoint of your models (zip)": "내 모델 체크포인트 (zip)",
    # the sizes a GPU server offers too
    "small (GPU): 6 layers, 6 heads, width 384, block 128":
        "small (GPU): 6층, 헤드 6개, 폭 384, 문맥 길이 128",
    "medium (GPU): 8 layers, 8 heads, width 512, block 256":
        "medium (GPU): 8층, 헤드 8개, 폭 512, 문맥 길이 256",
    # Fill-mask
    "Fill-mask": "빈칸 채우기 (fill-mask)",
    "Sentence with [MASK]": "[MASK]가 있는 문장",
    "Try": "예시",
    "Bundled BERT mini": "내장 BERT mini",
    "My own BERT (from Train live)": "내가 학습한 BERT ('실시간 학습'에서)",
    "Guesses per mask (top-k)": "마스크당 추측 수 (top-k)",
    "Fill the masks": "빈칸 채우기",
    "BERT's guesses": "BERT의 추측",
    "Guesses per mask": "마스크별 추측",
    # Generate & sample
    "Generate & sample": "생성과 샘플링",
    "Bundled GPT mini": "내장 GPT mini",
    "My own GPT (from Train live)": "내가 학습한 GPT ('실시간 학습'에서)",
    "Seed (same seed, same text)": "시드 (같은 시드, 같은 텍스트)",
    "Prompt": "프롬프트",
    "1 · Temperature (0 = greedy)": "1 · 온도 (temperature, 0 = 탐욕적)",
    "2 · Top-k (0 = off)": "2 · Top-k (0 = 끔)",
    "3 · Top-p (1 = off)": "3 · Top-p (1 = 끔)",
    "Step by step": "한 단계씩",
    "Next token ▶ (append it to the prompt)": "다음 토큰 ▶ (프롬프트에 덧붙이기)",
    "Next-token distribution": "다음 토큰 분포",
    "This step": "이번 단계",
    "Whole text": "전체 텍스트",
    "Max new tokens": "최대 새 토큰 수",
    "Generate": "생성",
    "Sampled with your settings": "내 설정으로 샘플링",
    "Greedy (always the most likely token)": "탐욕적 (항상 가장 그럴듯한 토큰)",
    "Both texts, every token's probability": "두 텍스트, 토큰마다의 확률",
    # Fine-tune
    "Fine-tune": "미세조정 (fine-tuning)",
    "Task": "과제",
    "Sentiment of reviews (classification)": "리뷰 감성 (분류)",
    "Question answering (answer spans)": "질의응답 (정답 구간)",
    "Entity tags (NER)": "개체명 태그 (NER)",
    "My labelled CSV (text,label)": "내 레이블 CSV (text,label)",
    "Pre-trained BERT": "사전학습된 BERT",
    "Labelled CSV: one `text,label` per line (quote text with commas)":
        "레이블 CSV: 한 줄에 `text,label` 하나 (쉼표가 든 텍스트는 따옴표로)",
    "Labelled training examples": "레이블된 학습 예제 수",
    "all": "전체",
    "Budget: optimizer steps (both models)": "예산: 옵티마이저 스텝 (두 모델 모두)",
    "Freeze the encoder (train the head only)": "인코더 고정 (헤드만 학습)",
    "▶ Fine-tune both": "▶ 둘 다 미세조정",
    "Data-efficiency sweep (16 / 64 / 256 / all)": "데이터 효율 실험 (16 / 64 / 256 / 전체)",
    "■ Stop": "■ 멈춤",
    "Learning curves": "학습 곡선",
    "Data efficiency": "데이터 효율",
    "Text (the passage, for QA)": "텍스트 (QA용 지문)",
    "Question (QA only)": "질문 (QA 전용)",
    "Inspect the prediction": "예측 살펴보기",
    "[CLS] → label probabilities": "[CLS] → 레이블 확률",
    "Start / end distributions over the passage": "지문 위의 시작 / 끝 분포",
    "Entity tags (first piece of each word decides)": "개체명 태그 (단어의 첫 조각이 결정)",
    "Capital of a country": "나라의 수도",
    "Sentiment of reviews": "리뷰 감성",
    "QA on a passage": "지문 질의응답",
    "k: solved examples in the prompt (scores 0 … k)": "k: 프롬프트 속 풀이 예시 수 (0 … k 로 채점)",
    "Score GPT with 0 … k examples": "예시 0 … k 개로 GPT 채점",
    "Few-shot score": "퓨샷 (few-shot) 점수",
    "The prompt actually fed to GPT (first question, largest k)":
        "GPT에 실제로 들어간 프롬프트 (첫 질문, 가장 큰 k)",
    # BERT vs GPT & sizes
    "BERT vs GPT & sizes": "BERT 대 GPT와 모델 크기",
    "Preset": "프리셋",
    "or 'custom': set the sizes yourself": "또는 'custom': 크기를 직접 정하기",
    "custom": "직접 설정 (custom)",
    "Architecture": "구조",
    "Count parameters": "파라미터 세기",
    "Vocabulary": "어휘 (vocabulary)",
    "Layers": "층 수",
    "Heads": "헤드 수",
    "Width (n_embd)": "폭 (n_embd)",
    "Context (tokens)": "문맥 길이 (토큰)",
    "Parameters by part": "부분별 파라미터",
    "Every preset: computed here vs published": "모든 프리셋: 여기서 센 값 대 발표된 값",
    "Where the parameters live, preset by preset": "프리셋별로 파라미터가 있는 곳",
    # Tokenize (issue #16: a Korean example)
    "Try these texts": "이 텍스트들을 넣어 보세요",
}



@functools.lru_cache(maxsize=1)
def markdown_table() -> dict[str, str]:
    """Static Markdown (the header, headings, notes) keyed by its English text as
    gr.Markdown keeps it (through inspect.cleandoc: no leading or trailing blank lines).
    Optional: Markdown not listed stays English (handler outputs replace most of it)."""
    from . import HEADER, tab_intro
    return {inspect.cleandoc(en): ko for en, ko in {
        HEADER: "# bertgpt — BERT와 GPT 사전학습, 직접 해 보기\n"
                "탭마다 아이디어 하나를 눈으로 봅니다. 설정을 바꾸고 버튼을 누른 뒤, 오른쪽 강의를 "
                "읽어 보세요.\n`?tab=mlm&seed=7` 같은 링크는 반 전체에게 같은 화면을 엽니다.",
        "## Pre-train once, then adapt: the idea behind BERT and GPT":
            "## 한 번 사전학습하고, 과제에 맞춰 적응하기: BERT와 GPT의 핵심",
        tab_intro.STAGES: """
**과제마다 모델을 따로 만드는 대신, 두 단계로.**

1. **사전학습 (pre-training)** (한 번, 비용이 큼): 트랜스포머가 레이블 없는 텍스트를 아주 많이 읽고,
   가려 둔 단어를 맞히는 법을 배웁니다. 아무도 레이블을 달지 않습니다. 텍스트 자체가 선생님입니다.
   여기서 배우는 것은 일반적인 지식입니다: 철자, 문법, 사실, 문체.
2. **적응** (과제마다, 비용이 작음): 사전학습한 가중치에서 출발합니다.
   **BERT**는 *미세조정 (fine-tuning)* 합니다: 위에 작은 헤드를 얹고 레이블 데이터로 몇 에폭 학습합니다.
   **GPT**도 미세조정할 수 있고, GPT-2와 GPT-3부터는 *프롬프트*만으로도 됩니다:
   과제를 이어 쓸 텍스트 안에 적어 줍니다 (zero-shot, one-shot, few-shot).
""",
        "## Ask both models the same fact": "## 두 모델에게 같은 사실 묻기",
        "## BERT and GPT, side by side": "## BERT와 GPT, 나란히",
        "## How many parameters? Where do they live?": "## 파라미터는 몇 개이고, 어디에 있을까?",
        "### Ask BERT: does B follow A?": "### BERT에게 묻기: B가 A 다음에 올까?",
        tab_intro.CLOSING: tab_intro.CLOSING_KO,
    }.items()}

_ATTRS = ("label", "info", "placeholder")


def strings(block) -> dict:
    """The English a component shows: {attr: text}, "choices": [(display, value)]."""
    out = {a: getattr(block, a) for a in _ATTRS
           if isinstance(getattr(block, a, None), str) and getattr(block, a)}
    if isinstance(block, gr.Button) and isinstance(block.value, str) and block.value:
        out["value"] = block.value
    choices = getattr(block, "choices", None)
    if choices and not isinstance(block, gr.Dataset):
        pairs = [tuple(c) if isinstance(c, (tuple, list)) else (c, c) for c in choices]
        if all(isinstance(d, str) for d, _ in pairs):
            out["choices"] = pairs
    if isinstance(block, gr.Markdown) and block.value in markdown_table():
        out["markdown"] = block.value
    return out


def texts(found: dict) -> list[str]:
    """The English strings in one `strings()` result."""
    out = [v for k, v in found.items() if k in _ATTRS or k == "value"]
    return out + [d for d, _ in found.get("choices", [])]


# Labels built from data: the real-model selectors' "<name> (<size>) · <status>" (the
# attention tab's pair says "downloads ~1 GB", without "on first use").
_STATUS = re.compile(r"^(?P<head>.+) · (?P<note>ready|offline, not cached|"
                     r"downloads (?P<size>\S+ [KMG]B)(?: on first use)?)$")
_STATUS_KO = {"ready": "준비됨", "offline, not cached": "오프라인, 캐시에 없음"}


def tr(text: str, lang: str) -> str:
    """`text` as shown in `lang` (itself when there is no entry)."""
    if lang != "ko":
        return text
    if text in KO:
        return KO[text]
    m = _STATUS.match(text)
    if m:
        head = re.sub(r"^real ", "실제 모델 ", m["head"])
        note = _STATUS_KO.get(m["note"]) or f"처음 쓸 때 {m['size']} 다운로드"
        return f"{head} · {note}"
    return text


def translated(text: str) -> bool:
    """Korean has it, or it reads the same in Korean (KEEP, or no Latin letters: "16")."""
    return text in KEEP or not re.search(r"[A-Za-z]", text) or tr(text, "ko") != text


def update(found: dict, lang: str):
    """gr.update(...) showing one component in `lang`."""
    kw = {k: tr(v, lang) for k, v in found.items() if k in _ATTRS or k == "value"}
    if "choices" in found:
        kw["choices"] = [(tr(d, lang), v) for d, v in found["choices"]]
    if "markdown" in found:
        md = found["markdown"]
        kw["value"] = markdown_table()[md] if lang == "ko" else md
    return gr.update(**kw)


def walk(demo: gr.Blocks, skip=()) -> list[tuple]:
    """(component, strings) for every component of the app that shows English."""
    skip_ids = {b._id for b in skip}
    return [(b, found) for b in demo.blocks.values()
            if b._id not in skip_ids and (found := strings(b))]


def untranslated(demo: gr.Blocks, skip=()) -> list[str]:
    """English strings the Korean UI would still show: the test keeps this empty."""
    missing = []
    for _, found in walk(demo, skip):
        for text in texts(found):
            if not translated(text) and text not in missing:
                missing.append(text)
    return missing


def pick_language(stored: str | None, request: gr.Request | None) -> str:
    """?lang= in the link wins, then the browser's remembered choice, then English."""
    asked = dict(request.query_params).get("lang") if request else None
    for lang in (asked, stored):
        if lang in LANGS:
            return lang
    return "en"


def install(demo: gr.Blocks, switch: gr.Radio, stored: gr.BrowserState,
            lessons: dict, lesson_text, keep=()) -> None:
    """Wire the header switch: it sets every label, every lesson panel, and the browser's
    remembered choice; page load picks the language (`pick_language`). Components in
    `keep` are left as they are."""
    tabs = list(lessons)
    found = walk(demo, skip=[switch, *lessons.values(), *keep])
    targets = [b for b, _ in found]

    def apply(lang):
        lang = lang if lang in LANGS else "en"
        return ([lang] + [lesson_text(t, lang) for t in tabs]
                + [update(f, lang) for _, f in found])

    switch.change(apply, switch, [stored, *lessons.values(), *targets],
                  api_name="set_language", show_progress="hidden")
    demo.load(pick_language, stored, switch, api_visibility="private",
              show_progress="hidden")
