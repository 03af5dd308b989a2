"""Short-text caution: how many of the 3,000 modern news items (title + description, no page text) a design
flags when fitted on project examples + dev (tuning rows). Usage: python news_flags.py design[,design...] [--final]"""
import csv, json, sys
sys.path.insert(0, "/work/exp10")
import supplywatch.classifiers as classifiers
from folds import HELD_OUT, get_design, load_dev, make_featurize

NEWS = "/work/shared/corpus/news-metadata/cybersecurity-news-en-title-3000.csv"
if __name__ == "__main__":
    final = "--final" in sys.argv
    names = [a for a in sys.argv[1:] if not a.startswith("--")][0].split(",")
    dev = load_dev(() if final else HELD_OUT)
    ex = classifiers.examples()
    news = [{"title": r["title"], "text": r.get("description") or ""} for r in csv.DictReader(open(NEWS))]
    fz = make_featurize()
    tr = ex + dev
    for name in names:
        d = get_design(name)
        if hasattr(d, "prepare"):
            d.prepare(tr + news, fz(tr + news))
        m = d.fit(tr, fz(tr))
        scores = [(m.score(f), r["title"]) for f, r in zip(fz(news), news)]
        flagged = sorted([s for s in scores if s[0] >= m.threshold], reverse=True)
        print(f"{name}: threshold {m.threshold:.3f}, flags {len(flagged)}/3000")
        for s, t in flagged[:8]:
            print(f"   {s:.2f}  {t[:110]}")
