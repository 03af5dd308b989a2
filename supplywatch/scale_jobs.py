"""Classification on RQ (scale mode): `enqueue --classify` queues batches of documents, `worker classify` labels them.

The enqueuer (next to the database) puts each batch's texts in the job, with the incident book's seed,
because workers never open the SQLite file; the worker loads the model once (an RQ SimpleWorker: no fork
per job, so the model stays loaded) and sends the labels back to the one writer through the stream. Jobs
travel as JSON (RQ's JSONSerializer), never pickle. A failing job is retried, then kept in RQ's failed
registry, which `supplywatch status` shows with its error.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from supplywatch.store import Store, wire

log = logging.getLogger("supplywatch.scale")
_CLASSIFIER: Any = None  # loaded once per worker process, before it takes jobs
RETRIES = (10, 60)  # seconds before the first and second retry


def serializer() -> Any:
    from rq.serializers import JSONSerializer

    return JSONSerializer


def model_version(classifier_opts: dict[str, Any]) -> str:
    """The version a Classifier built from these options reports, without loading torch (Head + model name)."""
    from supplywatch.classifiers import resolve_head
    from supplywatch.classifiers.encoder import resolve_model_path
    from supplywatch.classifiers.model import Head

    head = Head.load(resolve_head(classifier_opts["head"] or None))
    path = resolve_model_path(classifier_opts["model"] or None)
    return f"{head.version}+{path.name if path.name != 'model' else path.parent.name}"


def enqueue_classify(server: Any, keys: Any, db_path: str, cfg: Any, *, relabel: bool = False,
                     retries: tuple[int, ...] = RETRIES) -> dict[str, int]:
    """One RQ job per ``[scale] classify_batch`` documents without a label from the configured model."""

    from rq import Queue, Retry

    from supplywatch.classifiers.labelling import book_seed, seed_for

    version = model_version(cfg.classifier)
    queue = Queue(keys.classify_queue, connection=server, serializer=serializer())
    jobs = documents = 0
    with Store.open(db_path, readonly=True) as store:
        seed = book_seed(store)
        for batch in store.documents_to_label(version, batch=cfg.scale["classify_batch"], relabel=relabel):
            queue.enqueue("supplywatch.scale_jobs.classify_batch",
                          {"model_version": version, "docs": batch, "book": seed_for(seed, batch), "stream": keys.stream},
                          retry=Retry(max=len(retries), interval=list(retries)) if retries else None,
                          job_timeout=3600, result_ttl=86400, failure_ttl=7 * 86400)
            jobs += 1
            documents += len(batch)
    return {"jobs": jobs, "documents": documents}


def classify_batch(payload: dict[str, Any]) -> dict[str, Any]:
    """The RQ job: label ``payload["docs"]`` and queue the labels for the writer; a summary as the result."""
    from rq import get_current_job

    from supplywatch.classifiers.labelling import book_from_seed

    classifier = _CLASSIFIER
    if classifier is None:
        raise RuntimeError("no model loaded: run jobs with `supplywatch worker classify`")
    if payload.get("model_version") and payload["model_version"] != classifier.version:
        raise RuntimeError(f"job is for model {payload['model_version']}, this worker has {classifier.version}")
    docs = payload["docs"]
    # The same book classify builds from the store (classifiers.labelling.seeded_book); the incidents this batch
    # opens or extends go to the writer with its labels.
    book = book_from_seed(payload.get("book") or {})
    labelled = classifier.label(docs, book)
    results = [(d["id"], d.get("content_hash"), labs) for d, labs in zip(docs, labelled, strict=True)]
    entry = wire.encode("labels", {"model_version": classifier.version, "results": results,
                                   "incidents": [inc.as_record() for inc in book.changed()]})
    get_current_job().connection.xadd(payload["stream"], {"e": entry})
    flagged = sum(1 for labs in labelled for _, f in labs if f)
    return {"documents": len(docs), "flagged": flagged}


def run_classify_worker(server: Any, keys: Any, cfg: Any, *, burst: bool = False) -> dict[str, Any]:
    """Load the model once (larger batches on a GPU), then work the classify queue."""
    global _CLASSIFIER
    import torch
    from rq import Queue, SimpleWorker

    from supplywatch.classifiers import Classifier

    opts = cfg.classifier
    gpu = torch.cuda.is_available()
    batch = opts["batch_size"] * (4 if gpu else 1)
    _CLASSIFIER = Classifier(opts["model"] or None, opts["head"] or None, batch_size=batch, max_length=opts["max_length"])
    if gpu:
        _CLASSIFIER.encoder.model = _OnDevice(_CLASSIFIER.encoder.model, "cuda")
    queue = Queue(keys.classify_queue, connection=server, serializer=serializer())
    worker = SimpleWorker([queue], connection=server, serializer=serializer(), name=f"classify-{os.getpid()}")
    worker.work(burst=burst, logging_level="WARNING", with_scheduler=True)
    worker.refresh()  # the counts are kept in Redis
    return {"worker": worker.name, "done": worker.successful_job_count, "failed": worker.failed_job_count,
            "model_version": _CLASSIFIER.version}


class _OnDevice:
    """The encoder's model on a GPU behind the CPU interface ``Encoder.encode`` uses: inputs go to the device,
    the hidden states come back as float32 on the CPU (pooling and the head stay as they are).
    Not exercised in CI (no GPU there); the CPU path is the tested one."""

    def __init__(self, model: Any, device: str):
        self.model = model.to(device)
        self.device = device
        self.config = model.config

    def __call__(self, **batch: Any) -> Any:
        from types import SimpleNamespace

        out = self.model(**{k: v.to(self.device) for k, v in batch.items()})
        return SimpleNamespace(last_hidden_state=out.last_hidden_state.float().cpu())
