"""Title words for the topic tags (benchmarks/QUALITY.md, "Title words for the topics"), session 27: the research
harness of topics_words.py (imported: its features and run()), with the title's words counted again (twice:
title3, three times: title4) or in a vocabulary of their own (tpref: each title word prefixed "tt"). Chosen on the
early years only (2011-2014, each scored by a fit on the other early years), then read once on the time split and
all year folds (run from this folder, so topics_words imports):
    ../../.venv/bin/python topics_title.py units title3     # early years
    ../../.venv/bin/python topics_title.py final            # time split + all years
"""
import json, re, sys, time
import numpy as np
from topics_words import UNITSTXT, allrows, loyo, run, ts, year, years

TITLE3 = [" ".join([(r.get("title") or "")] * 2) + " " + u for r, u in zip(allrows, UNITSTXT)]
TITLE4 = [" ".join([(r.get("title") or "")] * 3) + " " + u for r, u in zip(allrows, UNITSTXT)]
TPREF = [" ".join("tt" + w for w in re.findall(r"\w\w+", (r.get("title") or "").lower())) + " . " + u
         for r, u in zip(allrows, UNITSTXT)]

early = [(np.flatnonzero((year != y) & (year < 2015)), np.flatnonzero(year == y), y) for y in years if y < 2015]
print("early years", [y for y in years if y < 2015], "test rows", sum(len(te) for _, te, _ in early), flush=True)
if sys.argv[1:] == ["final"]:
    for which, text in (("units", UNITSTXT), ("tpref", TPREF)):
        print(which, "time-split", json.dumps(run(ts, "tfidf", text)), "| all-years", json.dumps(run(loyo, "tfidf", text)),
              flush=True)
else:
    for which in sys.argv[1:]:
        text = {"units": UNITSTXT, "title3": TITLE3, "title4": TITLE4, "tpref": TPREF}[which]
        t = time.time()
        print(which, "early-years", json.dumps(run(early, "tfidf", text)), f"{time.time() - t:.0f}s", flush=True)
