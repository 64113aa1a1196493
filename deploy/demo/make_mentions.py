#!/usr/bin/env python3
"""Assemble Hark's demo mention stream.

Reads texts.jsonl (hand-written posts about four fictional brands) and writes
mentions.ndjson: about 1,000 lines in Hark's mention.v1 shape covering one day
(2026-11-20, UTC), with redeliveries, reposts and invalid lines mixed in, plus
expected.json with the counts Hark should report for the file.

Deterministic: standard library only, fixed seed, no use of set/dict ordering
that depends on hashing. Run from anywhere:

    python3 deploy/demo/make_mentions.py
"""

import datetime as dt
import json
import math
import os
import random
import re
import string
import unicodedata

SEED = 20261120
HERE = os.path.dirname(os.path.abspath(__file__))
TEXTS_PATH = os.path.join(HERE, "texts.jsonl")
OUT_PATH = os.path.join(HERE, "mentions.ndjson")
EXPECTED_PATH = os.path.join(HERE, "expected.json")

N_UNIQUE = 925        # valid, distinct mentions
N_REDELIVERIES = 40   # exact copies of an earlier line (same platform + id)
N_REPOSTS = 20        # same author + same normalised text, new id
# invalid lines: one of each kind in INVALID_KINDS (15)

DAY_START = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
DAY_SECONDS = 24 * 3600
TWITTER_EPOCH_MS = 1288834974657

PLATFORMS = ["twitter", "instagram", "facebook", "tiktok", "youtube", "reddit",
             "trustpilot", "app_store", "weibo", "vk", "news", "forum"]

BRAND_TAGS = {
    "SkyNordic": "SkyNordic",
    "Veloce Mobile": "VeloceMobile",
    "Lumina Wear": "LuminaWear",
    "PastaPronto": "PastaPronto",
}
BRAND_SLUGS = {
    "SkyNordic": "skynordic",
    "Veloce Mobile": "velocemobile",
    "Lumina Wear": "luminawear",
    "PastaPronto": "pastapronto",
}
APP_IDS = {
    "SkyNordic": "1467203381",
    "Veloce Mobile": "1590148276",
    "Lumina Wear": "1622930457",
    "PastaPronto": "1538817602",
}
APP_STORE_COUNTRY = {"en": "gb", "it": "it", "pl": "pl", "ru": "ru",
                     "zh": "cn", "es": "es", "de": "de", "fr": "fr"}

# UTC offset (hours) of the people writing in each language on 20 Nov.
TZ_OFFSETS = {"en": [(0, 0.9), (-5, 0.1)], "it": [(1, 1.0)], "pl": [(1, 1.0)],
              "ru": [(3, 0.85), (2, 0.15)], "zh": [(8, 1.0)],
              "es": [(1, 0.7), (-5, 0.2), (-3, 0.1)], "de": [(1, 1.0)],
              "fr": [(1, 0.85), (-5, 0.15)]}

# Relative posting activity by local hour: quiet at night, busy in the day.
HOUR_WEIGHTS = [2.0, 1.2, 0.8, 0.5, 0.4, 0.6, 1.5, 3.0, 4.5, 5.0, 5.5, 6.0,
                6.5, 6.0, 5.5, 5.5, 6.0, 6.5, 7.0, 7.5, 7.5, 7.0, 5.5, 3.5]
# Food delivery peaks at lunch and dinner.
FOOD_HOUR_BOOST = {12: 1.6, 13: 1.5, 18: 1.4, 19: 1.8, 20: 1.8, 21: 1.4}

# ---------------------------------------------------------------- names ----

NAMES = {
    "en": (["sarah", "tom", "jess", "mike", "emma", "dan", "chloe", "liam", "amy",
            "josh", "rach", "ollie", "beth", "callum", "priya", "aisha", "ryan",
            "hannah", "kieran", "megan", "sam", "leah", "jake", "zoe", "harry", "nat"],
           ["walker", "hughes", "patel", "obrien", "evans", "clarke", "morgan", "khan",
            "reid", "turner", "shaw", "price", "bennett", "lloyd", "ward", "fox"],
           ["travels", "eats", "runs", "reads", "bakes", "ldn", "mcr", "leeds",
            "in_bristol", "outdoors", "writes", "cooks"]),
    "it": (["giulia", "marco", "francesca", "luca", "chiara", "ale", "fede", "sara",
            "matteo", "vale", "simo", "giorgia", "davide", "marti", "lore", "paolo",
            "anna", "ste", "ila", "nico"],
           ["rossi", "russo", "ferrari", "esposito", "bianchi", "romano", "colombo",
            "ricci", "marino", "greco", "bruno", "gallo", "conti", "deluca", "costa"],
           ["mi", "rm", "na", "to", "bo", "inviaggio", "incucina", "daily", "foodie",
            "runner"]),
    "pl": (["kasia", "tomek", "ania", "michal", "ola", "kuba", "magda", "piotr",
            "zuza", "bartek", "gosia", "wojtek", "agata", "pawel", "ewa", "marcin",
            "natalia", "kamil"],
           ["nowak", "kowalski", "wisniewska", "wojcik", "kaminski", "lewandowska",
            "zielinski", "szymanska", "wozniak", "dabrowski", "kozlowska", "mazur"],
           ["waw", "krk", "gda", "wro", "poz", "podroze", "gotuje", "biega", "czyta"]),
    "ru": (["anya", "dima", "masha", "sasha", "katya", "lesha", "olya", "serezha",
            "nastya", "vanya", "lena", "misha", "yulia", "artem", "polina", "kostya",
            "sveta", "nikita"],
           ["petrova", "ivanov", "smirnova", "kuznetsov", "popova", "sokolov",
            "lebedeva", "kozlov", "novikova", "morozov", "volkova", "orlov"],
           ["spb", "msk", "kzn", "nsk", "riga", "travel", "eats", "photo", "run"]),
    "es": (["lucia", "javi", "marta", "pablo", "sofia", "alex", "carmen", "dani",
            "paula", "sergio", "ana", "diego", "laura", "mario", "vale", "nacho"],
           ["garcia", "martinez", "lopez", "sanchez", "perez", "gomez", "fernandez",
            "ruiz", "diaz", "moreno", "romero", "navarro"],
           ["mad", "bcn", "vlc", "mx", "bog", "viajera", "cocina", "corre", "lee"]),
    "de": (["lena", "max", "jonas", "anna", "tim", "laura", "felix", "marie", "lukas",
            "julia", "nico", "sarah", "jan", "hannah", "paul", "lea"],
           ["mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner",
            "becker", "schulz", "hoffmann", "koch", "richter", "klein"],
           ["hh", "ber", "muc", "koeln", "ffm", "reist", "kocht", "unterwegs", "liest"]),
    "fr": (["camille", "thomas", "lea", "hugo", "manon", "lucas", "chloe", "julien",
            "ines", "antoine", "sarah", "maxime", "clara", "nicolas", "emma", "theo"],
           ["dubois", "martin", "bernard", "petit", "durand", "leroy", "moreau",
            "simon", "laurent", "lefebvre", "michel", "garnier"],
           ["paris", "lyon", "mrs", "bzh", "bxl", "mtl", "voyage", "cuisine", "enbalade"]),
}
ZH_PARTS = (["小", "阿", "大", "老", "是", ""],
            ["鱼", "猫", "橙子", "柚子", "桃子", "团子", "饭团", "兔", "熊", "星星",
             "月亮", "云朵", "可乐", "奶茶", "番茄", "土豆", "芒果"],
            ["酱", "君", "不吃香菜", "爱吃肉", "今天也要加油", "在北京", "在上海",
             "的日常", "同学", "吖", "呀", "2019", ""])
ZH_PINYIN = ["momo", "xiaoyu", "lin", "chen", "wang", "yuyu", "dudu", "keke",
             "tangtang", "lele", "zhang", "zhou", "mia", "coco"]
ZH_CITY = ["上海", "北京", "广州", "深圳", "成都", "杭州", "武汉", "南京"]
ZH_CITY_TAIL = ["吃货日记", "打工人", "小王", "旅行笔记", "穿搭分享", "生活家"]

REDDIT_ADJ = ["Quiet", "Sleepy", "Brave", "Salty", "Lucky", "Grumpy", "Curious",
              "Happy", "Rusty", "Fluffy", "Clever", "Jolly"]
REDDIT_NOUN = ["Otter", "Badger", "Walrus", "Panda", "Falcon", "Noodle", "Pickle",
               "Penguin", "Moose", "Heron", "Lynx", "Puffin"]

SPAM_WORDS = ["promo", "deals", "giveaway", "crypto", "cashflow", "winbig",
              "fastmoney", "freegifts", "followback", "bonus", "earn", "profit"]

OUTLETS = {
    "en": [("travelwire", "Travel Wire"), ("telecomdaily", "Telecom Daily"),
           ("retaildesk", "Retail Desk"), ("citybites", "City Bites")],
    "it": [("viaggioggi", "Viaggi Oggi"), ("telefonia24", "Telefonia 24"),
           ("modaeconomia", "Moda & Economia"), ("cibonotizie", "Cibo Notizie")],
    "pl": [("rynekpodrozy", "Rynek Podróży"), ("telkoinfo", "Telko Info"),
           ("modabiznes", "Moda Biznes"), ("gastronews", "Gastro News")],
    "ru": [("aviadaily", "Авиа Дейли"), ("svyaznews", "Связь Ньюс"),
           ("retailru", "Ритейл Ревю"), ("edanovosti", "Еда Новости")],
    "zh": [("hanglv", "航旅资讯"), ("tongxin", "通信世界观察"),
           ("shishang", "时尚商业快讯"), ("canyin", "餐饮头条")],
    "es": [("noticiasviaje", "Noticias de Viaje"), ("telcohoy", "Telco Hoy"),
           ("modanegocios", "Moda y Negocios"), ("gastrodiario", "Gastro Diario")],
    "de": [("reisewelt", "Reisewelt"), ("telkoaktuell", "Telko Aktuell"),
           ("modewirtschaft", "Modewirtschaft"), ("gastroheute", "Gastro Heute")],
    "fr": [("voyagesinfo", "Voyages Info"), ("telecomsactu", "Télécoms Actu"),
           ("modeeco", "Mode Éco"), ("restohebdo", "Resto Hebdo")],
}

NEUTRAL_TAILS = ["👀", "‼️", "🙏", "📌"]
B64URL = string.ascii_letters + string.digits + "-_"
BASE62 = string.digits + string.ascii_letters
BASE36 = string.digits + string.ascii_lowercase

SPAM_KEYWORDS = ["in dm", "dm me", "per dm", "en dm", "napisz dm", "link in bio",
                 "link nella bio", "link w bio", "ссылка в профиле", "в лс", "私信",
                 "链接", "加群", "giveaway", "concorso", "konkurs", "розыгрыш", "抽奖",
                 "sorteo", "gewinnspiel", "concours", "f4f", "互关", "follow4follow",
                 "x10", "crypto", "krypto", "bitcoin", "крипт", "card details",
                 "данные карты", "data hack"]


def normalise(text):
    """Roughly what a dedup key should see: case and whitespace folded."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def is_spammy(text):
    low = text.lower()
    links = low.count("https://")
    tags = len(re.findall(r"#\w", text))
    letters = [c for c in text if c.isalpha() and c.isascii()]
    caps = sum(c.isupper() for c in letters) / len(letters) if letters else 0
    return (links >= 2 or (tags >= 4 and links >= 1)
            or (caps > 0.6 and len(letters) > 15)
            or re.search(r"\bdm\b", low) is not None
            or any(k in low for k in SPAM_KEYWORDS))


def slugify(text, n=6):
    t = unicodedata.normalize("NFKD", text)
    words = re.findall(r"[a-z0-9]+", t.encode("ascii", "ignore").decode().lower())
    return "-".join(words[:n]) or "post"


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.handles = {p: [] for p in PLATFORMS}   # list, to keep order stable
        self.handle_set = {p: {} for p in PLATFORMS}
        self.post_ids = {p: {} for p in PLATFORMS}
        self.author_ids = {p: {} for p in PLATFORMS}
        self.authors = {}     # (lang, platform, kind) -> [author]

    # ---- small helpers
    def chars(self, alphabet, n):
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def weighted(self, pairs):
        x = self.rng.random() * sum(w for _, w in pairs)
        for v, w in pairs:
            x -= w
            if x <= 0:
                return v
        return pairs[-1][0]

    def loguniform(self, lo, hi):
        return int(math.exp(self.rng.uniform(math.log(lo), math.log(hi))))

    # ---- authors
    def followers(self, kind):
        r = self.rng
        if kind == "outlet":
            return self.loguniform(20_000, 2_500_000)
        if kind == "spam":
            return r.randint(0, 150) if r.random() < 0.6 else self.loguniform(5_000, 60_000)
        u = r.random()
        if u < 0.80:
            return max(3, int(r.lognormvariate(math.log(280), 1.0)))
        if u < 0.95:
            return self.loguniform(3_000, 99_000)
        if u < 0.99:
            return self.loguniform(100_000, 1_000_000)
        return self.loguniform(1_000_000, 4_000_000)

    def raw_handle(self, lang, platform, kind):
        r = self.rng
        if kind == "spam":
            pat = r.random()
            if pat < 0.5:
                return "%s_%s%d" % (r.choice(SPAM_WORDS), r.choice(SPAM_WORDS), r.randint(1, 9999))
            first, last, _ = NAMES["en" if lang == "zh" else lang]
            return "%s%s%05d" % (r.choice(first), r.choice(last), r.randint(0, 99999))
        if platform == "reddit" and r.random() < 0.5:
            return "%s_%s_%d" % (r.choice(REDDIT_ADJ), r.choice(REDDIT_NOUN), r.randint(10, 9999))
        if platform == "vk" and r.random() < 0.3:
            return None  # vk users without a custom address show as id<number>
        if lang == "zh":
            if platform in ("weibo", "forum", "app_store"):
                u = r.random()
                if u < 0.15:
                    return "用户%d" % r.randint(5_000_000_000, 7_999_999_999)
                if u < 0.35:
                    return r.choice(ZH_CITY) + r.choice(ZH_CITY_TAIL)
                a, b, c = ZH_PARTS
                return r.choice(a) + r.choice(b) + r.choice(c)
            return "%s_%s%d" % (r.choice(ZH_PINYIN), r.choice(ZH_PINYIN), r.randint(1, 2005))
        first, last, extra = NAMES[lang]
        f, l, e = r.choice(first), r.choice(last), r.choice(extra)
        pats = ["{f}{l}", "{f}_{l}", "{f}.{l}", "{f}{l}{n}", "{f}_{e}", "{f}.{e}",
                "{f}{n}", "the{f}{l}", "{f}_{l}{n2}", "{e}_{f}"]
        h = r.choice(pats).format(f=f, l=l, e=e, n=r.randint(1, 99), n2=r.randint(80, 2004))
        if platform == "facebook":
            h = "%s.%s.%d" % (f, l, r.randint(1, 999)) if r.random() < 0.6 else h
        if platform == "app_store":
            h = h.replace(".", "").capitalize()
        return h

    def author_id(self, platform, handle, kind):
        r = self.rng
        if platform == "twitter":
            return str(r.randint(10**7, 4 * 10**9) if r.random() < 0.4
                       else r.randint(7 * 10**17, 1_860_000_000_000_000_000))
        if platform == "instagram":
            return str(r.randint(10**8, 6 * 10**10))
        if platform == "facebook":
            return "1000" + "%011d" % r.randint(0, 10**11 - 1)
        if platform == "tiktok":
            return str(r.randint(6_600_000_000_000_000_000, 7_400_000_000_000_000_000))
        if platform == "youtube":
            return "UC" + self.chars(B64URL, 22)
        if platform == "reddit":
            return "t2_" + self.chars(BASE36, r.randint(8, 10))
        if platform == "trustpilot":
            return self.chars("0123456789abcdef", 24)
        if platform == "app_store":
            return str(r.randint(10**8, 2 * 10**9))
        if platform == "weibo":
            return str(r.randint(1_000_000_000, 7_999_999_999))
        if platform == "vk":
            return str(r.randint(100_000, 900_000_000))
        if platform == "news":
            return "outlet-" + handle
        return str(r.randint(1000, 999_999))  # forum

    def new_author(self, lang, platform, kind, outlet=None):
        if kind == "outlet":
            handle, name = outlet
            aid = self.author_id(platform, handle, kind)
        else:
            name = None
            for _ in range(200):
                handle = self.raw_handle(lang, platform, kind)
                aid = self.author_id(platform, handle, kind)
                if handle is None:
                    handle = "id" + aid if platform == "vk" else "user" + aid
                if platform == "twitter":
                    handle = handle.replace(".", "_")[:15]
                if handle not in self.handle_set[platform] and aid not in self.author_ids[platform]:
                    break
        a = {"id": aid, "handle": handle, "followers": self.followers(kind),
             "platform": platform, "lang": lang, "kind": kind, "name": name,
             "texts": []}
        self.handle_set[platform][handle] = True
        self.author_ids[platform][aid] = True
        self.handles[platform].append(handle)
        self.authors.setdefault((lang, platform, kind), []).append(a)
        return a

    def pick_author(self, lang, platform, kind, base_key):
        pool = [a for a in self.authors.get((lang, platform, kind), [])
                if base_key not in a["texts"]]
        reuse = {"spam": 0.5, "user": 0.22}[kind]
        if pool and self.rng.random() < reuse:
            return self.rng.choice(pool)
        return self.new_author(lang, platform, kind)

    def pick_outlet(self, lang, brand, base_key):
        """A story runs first at the outlet covering the brand's sector, then
        is syndicated by the other outlets of the same language."""
        outs = OUTLETS[lang]
        home = outs[list(BRAND_TAGS).index(brand)]
        others = [o for o in outs if o != home]
        self.rng.shuffle(others)
        existing = self.authors.get((lang, "news", "outlet"), [])
        for slug, name in [home] + others:
            a = next((x for x in existing if x["handle"] == slug), None)
            if a is None:
                return self.new_author(lang, "news", "outlet", (slug, name))
            if base_key not in a["texts"]:
                return a
        return None

    def same_lang_handles(self, lang, platform, exclude):
        return [a["handle"] for a in self.authors.get((lang, platform, "user"), [])
                if a["handle"] != exclude]

    # ---- time
    def created_at(self, lang, brand):
        r = self.rng
        offset = self.weighted(TZ_OFFSETS[lang])
        weights = [w * (FOOD_HOUR_BOOST.get(h, 1.0) if brand == "PastaPronto" else 1.0)
                   for h, w in enumerate(HOUR_WEIGHTS)]
        hour = self.weighted(list(enumerate(weights)))
        local = hour * 3600 + r.randint(0, 3599)
        return (local - offset * 3600) % DAY_SECONDS

    # ---- post ids and urls
    def post_id(self, platform, author, secs):
        r = self.rng
        for _ in range(1000):
            unix = int(DAY_START.timestamp()) + secs
            if platform == "twitter":
                ms = unix * 1000 + r.randint(0, 999) - TWITTER_EPOCH_MS
                pid = str((ms << 22) | (r.randint(0, 1023) << 12) | r.randint(0, 4095))
            elif platform == "instagram":
                pid = "D" + r.choice("ABCDEFGHIJKLMNOP") + self.chars(B64URL, 9)
            elif platform == "facebook":
                pid = "1220" + "%013d" % r.randint(0, 10**13 - 1)
            elif platform == "tiktok":
                pid = str((unix << 32) | r.getrandbits(32))
            elif platform == "youtube":
                pid = r.choice(["Ugx", "Ugz", "Ugw", "Ugy"]) + self.chars(B64URL, 19) + "4AaABAg"
            elif platform == "reddit":
                pid = "t3_1p" + self.chars(BASE36, 5)
            elif platform == "trustpilot":
                pid = "%08x" % unix + self.chars("0123456789abcdef", 16)
            elif platform == "app_store":
                pid = str(r.randint(11_800_000_000, 12_400_000_000))
            elif platform == "weibo":
                pid = str(r.randint(5_230_000_000_000_000, 5_239_999_999_999_999))
            elif platform == "vk":
                pid = "%s_%d" % (author["id"], r.randint(12, 9800))
            elif platform == "news":
                pid = str(r.randint(100_000, 999_999))
            else:
                pid = str(r.randint(100_000, 9_999_999))
            if pid not in self.post_ids[platform]:
                self.post_ids[platform][pid] = True
                return pid
        raise RuntimeError("could not find a free id")

    def url(self, platform, pid, author, brand, lang, text, secs):
        r = self.rng
        h = author["handle"]
        if platform == "twitter":
            return "https://x.com/%s/status/%s" % (h, pid)
        if platform == "instagram":
            return "https://www.instagram.com/p/%s/" % pid
        if platform == "facebook":
            return "https://www.facebook.com/%s/posts/%s" % (author["id"], pid)
        if platform == "tiktok":
            return "https://www.tiktok.com/@%s/video/%s" % (h, pid)
        if platform == "youtube":
            return "https://www.youtube.com/watch?v=%s&lc=%s" % (self.chars(B64URL, 11), pid)
        if platform == "reddit":
            return "https://www.reddit.com/r/%s/comments/%s/%s/" % (
                BRAND_TAGS.get(brand, "AskEurope"), pid[3:], slugify(text).replace("-", "_"))
        if platform == "trustpilot":
            return "https://www.trustpilot.com/reviews/%s" % pid
        if platform == "app_store":
            return "https://apps.apple.com/%s/app/%s/id%s?see-all=reviews" % (
                APP_STORE_COUNTRY[lang], BRAND_SLUGS[brand], APP_IDS[brand])
        if platform == "weibo":
            return "https://weibo.com/%s/%s" % (author["id"], self.chars(BASE62, 9))
        if platform == "vk":
            return "https://vk.com/wall%s" % pid
        if platform == "news":
            d = DAY_START + dt.timedelta(seconds=secs)
            slug = slugify(text) if lang not in ("zh", "ru") else BRAND_SLUGS[brand]
            return "https://%s.example.com/%04d/%02d/%02d/%s-%s" % (
                h, d.year, d.month, d.day, slug, pid)
        return "https://forum.example.com/%s/t/%s/%s" % (lang, slugify(text, 5), pid)

    # ---- engagement
    def engagement(self, platform, author, spam):
        r = self.rng
        f = author["followers"]
        if platform in ("trustpilot", "app_store"):
            return {"likes": r.choice([0, 0, 0, 1, 1, 2, 3, 5, 8, 14]), "shares": 0,
                    "comments": r.choice([0, 0, 0, 1])}
        if spam:
            likes = r.choice([0, 0, 0, 1, 1, 2, 3, 5])
            return {"likes": likes, "shares": r.choice([0, 0, 1, 4]), "comments": r.choice([0, 0, 1])}
        rate = min(r.lognormvariate(math.log(0.002 if author["kind"] == "outlet" else 0.012), 1.0), 0.1)
        likes = int(f * rate) + r.randint(0, 4)
        if r.random() < 0.02 and author["kind"] == "user":
            # went viral: far beyond the author's usual reach
            likes = min(likes * r.randint(10, 60) + r.randint(50, 500), f // 2 + 3000)
        if platform in ("forum", "reddit"):
            likes = min(likes, r.randint(5, 900))
        share_rate = 0.0 if platform in ("forum",) else r.uniform(0.02, 0.3)
        return {"likes": likes, "shares": int(likes * share_rate),
                "comments": int(likes * r.uniform(0.03, 0.25)) + r.randint(0, 2)}

    # ---- variations for reused texts
    def vary(self, text, platform, lang, brand, spam, author):
        r = self.rng
        if platform == "news":
            return "%s | %s" % (text, author["name"])
        if spam and "https://example.com/" in text and r.random() < 0.7:
            ref = self.chars(BASE36, 5)
            return re.sub(r"(https://example\.com/[\w./-]+)", r"\1?ref=" + ref, text)
        options = ["tail"]
        if ("#" + BRAND_TAGS[brand]).lower() not in text.lower():
            options.append("tag")
        if platform in ("twitter", "instagram", "tiktok", "youtube", "weibo", "facebook"):
            options += ["reply", "reply", "reply_tail"]
        choice = r.choice(options)
        if choice == "tag":
            tag = BRAND_TAGS[brand]
            return text + (" #%s#" % tag if platform == "weibo" else " #%s" % tag)
        if choice in ("reply", "reply_tail"):
            pool = self.same_lang_handles(lang, platform, author["handle"])
            other = r.choice(pool) if pool else "someone"
            pre = ("回复@%s:" % other) if platform == "weibo" else ("@%s " % other)
            text = pre + text
            if choice == "reply":
                return text
        return text + " " + r.choice(NEUTRAL_TAILS)


def fmt_time(secs):
    return (DAY_START + dt.timedelta(seconds=secs)).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(pid, platform, text, secs, author, url, brand, lang_hint, eng):
    rec = {"id": pid, "platform": platform, "text": text, "created_at": fmt_time(secs),
           "author": {"id": author["id"], "handle": author["handle"],
                      "followers": author["followers"]}}
    if url is not None:
        rec["url"] = url
    if brand is not None:
        rec["brand"] = brand
    if lang_hint is not None:
        rec["lang_hint"] = lang_hint
    rec["engagement"] = eng
    return rec


def dump(rec):
    return json.dumps(rec, ensure_ascii=False)


def main():
    texts = [json.loads(line) for line in open(TEXTS_PATH, encoding="utf-8") if line.strip()]
    for i, t in enumerate(texts):
        t["key"] = i
        t["spam"] = is_spammy(t["text"])
        assert t["platform"] in PLATFORMS, t
    g = Gen(SEED)
    r = g.rng

    # Every text once, then extra uses (other authors, slightly varied) up to N_UNIQUE.
    def reuse_weight(t):
        p = t["platform"]
        if p in ("trustpilot", "app_store"):
            return 0.15
        if p in ("forum", "reddit"):
            return 0.3
        if p == "news":
            return 0.6
        if t["spam"]:
            return 1.0   # copy-paste campaigns, but keep spam near 8% of the stream
        return 1.5 if len(t["text"].split()) <= 4 else 1.0

    uses = list(texts)
    extra_count = {}
    weights = [reuse_weight(t) for t in texts]
    while len(uses) < N_UNIQUE:
        t = r.choices(texts, weights=weights)[0]
        cap = 3 if t["platform"] == "news" else 4
        if extra_count.get(t["key"], 0) >= cap:
            continue
        extra_count[t["key"]] = extra_count.get(t["key"], 0) + 1
        uses.append(t)

    seen_norm = {}
    valid = []
    for n, t in enumerate(uses):
        lang, platform, brand = t["lang"], t["platform"], t["brand"]
        kind = "outlet" if platform == "news" else ("spam" if t["spam"] else "user")
        first_use = n < len(texts)
        if kind == "outlet":
            author = g.pick_outlet(lang, brand, t["key"])
            assert author is not None, "more uses of a news text than outlets"
        else:
            author = g.pick_author(lang, platform, kind, t["key"])
        text = t["text"]
        if not first_use:
            for _ in range(30):
                text = g.vary(t["text"], platform, lang, brand, t["spam"], author)
                if normalise(text) not in seen_norm:
                    break
        if normalise(text) in seen_norm:
            raise RuntimeError("could not vary text: %r" % text)
        seen_norm[normalise(text)] = True
        author["texts"].append(t["key"])
        secs = g.created_at(lang, brand)
        pid = g.post_id(platform, author, secs)
        omit_url = r.random() < (0.5 if platform == "app_store" else 0.1)
        url = None if omit_url else g.url(platform, pid, author, brand, lang, text, secs)
        rec = record(pid, platform, text, secs, author, url,
                     None if r.random() < 0.10 else brand,
                     lang if r.random() < 0.20 else None,
                     g.engagement(platform, author, t["spam"]))
        valid.append({"rec": rec, "secs": secs, "lang": lang, "author": author,
                      "spam": t["spam"], "brand": brand})

    valid.sort(key=lambda v: (v["secs"], v["rec"]["platform"], v["rec"]["id"]))
    lines = [{"line": dump(v["rec"]), "src": v, "kind": "valid"} for v in valid]

    def insert_after(entry, orig):
        idx = next(i for i, e in enumerate(lines) if e is orig)
        lines.insert(r.randint(idx + 1, len(lines)), entry)

    # Reposts / syndicated copies: same author, same text up to case/whitespace, new id.
    repost_src = r.sample([e for e in lines if e["src"]["rec"]["platform"] != "news"], N_REPOSTS)
    for i, orig in enumerate(repost_src):
        v = orig["src"]
        text = v["rec"]["text"]
        how = ["exact", "trailing", "double_space", "lower", "leading", "newline"][i % 6]
        if how == "trailing":
            text = text + "  "
        elif how == "double_space":
            text = text.replace(" ", "  ", 2) if " " in text else text + " "
        elif how == "lower":
            text = text.lower() if text.lower() != text else text.upper()
        elif how == "leading":
            text = " " + text
        elif how == "newline":
            text = text + "\n"
        secs = min(v["secs"] + r.randint(30, 4 * 3600), DAY_SECONDS - 1)
        platform = v["rec"]["platform"]
        pid = g.post_id(platform, v["author"], secs)
        url = g.url(platform, pid, v["author"], v["brand"], v["lang"], text, secs) \
            if "url" in v["rec"] else None
        rec = record(pid, platform, text, secs, v["author"], url, v["rec"].get("brand"),
                     v["rec"].get("lang_hint"), g.engagement(platform, v["author"], v["spam"]))
        insert_after({"line": dump(rec), "kind": "repost"}, orig)

    # Redeliveries: the very same line again, later in the stream.
    originals = [e for e in lines if e["kind"] == "valid"]
    for orig in r.sample(originals, N_REDELIVERIES):
        insert_after({"line": orig["line"], "kind": "redelivery"}, orig)

    # Invalid lines, one of each kind.
    tmpl_src = r.sample([v for v in valid if not v["spam"] and v["rec"]["platform"] != "news"], 16)

    def tmpl(i):
        # A fresh author and id, so a lenient reader could not mistake the
        # line for a duplicate of a valid one.
        v = tmpl_src[i]
        rec = json.loads(dump(v["rec"]))
        platform = rec["platform"]
        who = g.new_author(v["lang"], platform, "user")
        rec["author"] = {"id": who["id"], "handle": who["handle"], "followers": who["followers"]}
        rec["id"] = g.post_id(platform, who, v["secs"])
        rec.pop("url", None)
        return rec

    invalid = []

    def bad(kind, rec=None, line=None):
        invalid.append({"kind": "invalid", "why": kind,
                        "line": line if line is not None else dump(rec)})

    t = tmpl(0)
    bad("not_json", line=dump(t)[:58].rstrip())
    t = tmpl(1); del t["text"]; bad("missing_text", t)
    t = tmpl(2); t["text"] = "   "; bad("blank_text", t)
    t = tmpl(3); t["text"] = 42; bad("text_not_string", t)
    t = tmpl(4); del t["id"]; bad("missing_id", t)
    t = tmpl(5); t["platform"] = "myspace"; bad("unknown_platform", t)
    t = tmpl(6); t["created_at"] = "yesterday"; bad("created_at_not_rfc3339", t)
    t = tmpl(7); t["created_at"] = "2031-01-01T00:00:00Z"; bad("created_at_far_future", t)
    t = tmpl(8); del t["author"]; bad("missing_author", t)
    t = tmpl(9); t["author"]["followers"] = -5; bad("negative_followers", t)
    t = tmpl(10); t["author"]["followers"] = "many"; bad("followers_not_int", t)
    t = tmpl(11); t["id"] = {"value": t["id"]}; bad("id_not_string", t)
    t = tmpl(12); bad("array_not_object", line=json.dumps([t], ensure_ascii=False))
    t = tmpl(13); t["platform"] = ""; bad("empty_platform", t)
    t = tmpl(14); t["author"] = t["author"]["handle"]; bad("author_not_object", t)
    for e in invalid:
        lines.insert(r.randint(0, len(lines)), e)

    with open(OUT_PATH, "w", encoding="utf-8", newline="\n") as f:
        for e in lines:
            f.write(e["line"] + "\n")

    counts = {"lines": len(lines),
              "unique": sum(e["kind"] == "valid" for e in lines),
              "redeliveries": sum(e["kind"] == "redelivery" for e in lines),
              "reposts": sum(e["kind"] == "repost" for e in lines),
              "invalid": sum(e["kind"] == "invalid" for e in lines)}
    with open(EXPECTED_PATH, "w", encoding="utf-8") as f:
        json.dump(counts, f, indent=2)
        f.write("\n")

    langs = {}
    for v in valid:
        langs[v["lang"]] = langs.get(v["lang"], 0) + 1
    print("wrote %s" % os.path.relpath(OUT_PATH))
    print("  total lines            %5d" % counts["lines"])
    print("  valid unique mentions  %5d  (from %d texts; %s)" % (
        counts["unique"], len(texts), " ".join("%s=%d" % kv for kv in sorted(langs.items()))))
    print("  redeliveries           %5d  (same platform + id as an earlier line)" % counts["redeliveries"])
    print("  reposts                %5d  (same author + normalised text, new id)" % counts["reposts"])
    print("  invalid lines          %5d  (%s)" % (counts["invalid"], ", ".join(e["why"] for e in invalid)))
    print("wrote %s" % os.path.relpath(EXPECTED_PATH))


if __name__ == "__main__":
    main()
