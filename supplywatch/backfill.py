"""`supplywatch backfill`: a large first crawl (a new team's year of sources), labelled, clustered and matched, in
resumable steps.

Nothing about a backfill's progress is stored apart from the archive itself: where to go on is *derived from
what is stored*, so no migration and no bookkeeping that could disagree with the data. Each step commits in
units that are all-or-nothing and picks up only what is not done yet:

* crawl: the configured sources in chunks of ``chunk`` sources (by name, so the chunks are the same every
  time), one Scrapy process per chunk; each source's documents and its new ETag are one transaction. A
  source finished before an interruption is asked again for its feed only (a conditional GET: 304 when
  unchanged; entries already stored are not fetched again); one cut off mid-crawl stored nothing and is
  crawled again.
* cluster: documents in no story, in publication order, 1,000 a transaction (before classify, so a document
  clustered into an incident member's story is labelled that incident's follow-up, as in ``run``).
* classify: documents without a label from the current model, in publication order, 64 a transaction.
* suppliers: documents not matched against the current register, 500 a transaction.

So an interrupted backfill (Ctrl-C, SIGKILL, a reboot) loses at most the batch in flight, and the next call
clusters, labels and matches every document exactly once: the same archive as an uninterrupted one. The
cluster, classify and match steps run once over everything the crawl stored, in publication order, which
is what one `crawl` + `cluster` + `classify` + `suppliers match` would do; the whole backfill holds the run
lock, so an hourly `run` waits its turn (exit 75) instead of labelling the same documents.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from supplywatch.store import CrawlError

from .pipeline import Pipeline, crawl_failure

CHUNK = 10  # sources a crawl process takes on at once


@dataclass
class BackfillResult:
    chunks: int = 0
    sources: int = 0
    new: int = 0  # documents the crawl stored (new or updated)
    failed_sources: list[str] = field(default_factory=list)
    classified: int = 0
    clustered: int = 0
    matched: int = 0
    documents: int = 0  # in the archive at the end
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each step, all chunks together

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def backfill(pipeline: Pipeline, *, chunk: int = CHUNK, names: list[str] | None = None,
             crawl: bool = True) -> BackfillResult:
    """Crawl the configured sources (or ``names``) ``chunk`` at a time, then cluster, classify and match all
    that is not done yet, under the run lock. A chunk where not one source was healthy does not stop the
    others; it is raised at the end as a CrawlError (exit 4) after the other steps ran."""
    from .lock import exclusive

    result = BackfillResult()
    failures: list[str] = []
    say = pipeline.progress.note
    with exclusive(pipeline.db):
        if crawl:
            config = pipeline.config
            chosen = sorted(names or [s["name"] for s in config.sources])
            for name in chosen:
                config.source(name)  # an unknown name is an error before anything is fetched
            chunks = [chosen[i:i + chunk] for i in range(0, len(chosen), chunk)]
            result.sources = len(chosen)
            started = time.monotonic()
            for n, part in enumerate(chunks, 1):
                reports = pipeline.crawl(names=part)
                new = sum((r.get("new") or 0) + (r.get("updated") or 0) for r in reports)
                result.new += new
                result.failed_sources += [r["source"] for r in reports if r.get("error")]
                failure = crawl_failure(reports)
                if failure is not None:
                    failures.append(str(failure))
                result.chunks = n
                say(f"backfill: crawled chunk {n}/{len(chunks)} ({len(part)} sources): {new} new documents")
            result.seconds["crawl"] = round(time.monotonic() - started, 2)
        # cluster before classify: a document clustered into an incident member's story follows that incident
        for name, count, step in (("cluster", "clustered", pipeline.cluster),
                                  ("classify", "classified", pipeline.classify),
                                  ("suppliers", "matched", pipeline.match_suppliers)):
            started = time.monotonic()
            setattr(result, count, step().documents)
            result.seconds[name] = round(time.monotonic() - started, 2)
        result.documents = pipeline.store.count_documents()
    if failures:
        raise CrawlError(f"{len(failures)} of {result.chunks} crawl chunks failed: " + " | ".join(failures))
    return result
