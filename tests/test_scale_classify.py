"""Classification on RQ against a real redis-server: jobs of document texts, one classify worker, labels back
through the one writer; a failing job retried, then visible in `supplywatch status`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from supplywatch.store import Document, FetchOutcome, Store

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    ("Attackers stole the code-signing certificate of Acme and signed malware with it",
     "Acme said attackers broke into its build server and stole its code-signing certificate. The stolen "
     "certificate was used to sign malware that was pushed to customers as an update."),
    ("Vendor fixes critical flaw in VPN appliance", "A critical vulnerability in the VPN appliance lets remote "
     "attackers execute code. The vendor released a patch and urges customers to update."),
    ("Retailer reports breach of customer records", "The retailer said a data breach exposed names and emails of "
     "millions of customers after attackers accessed a database."),
]


@pytest.mark.slow
def test_classify_worker_labels_through_the_writer_and_failures_show(tmp_path, redis_url, redis_client):
    from rq import Queue

    from supplywatch import config
    from supplywatch.crawlers.redis_queue import Keys
    from supplywatch.scale import run_writer
    from supplywatch.scale_jobs import enqueue_classify, model_version, serializer

    db = str(tmp_path / "sw.db")
    with Store.open(db) as store:
        store.sync_sources([{"name": "s", "kind": "feed", "url": "http://example.org/f"}])
        store.save_fetch([Document(source="s", title=t, text=x, canonical_url=f"http://example.org/{i}",
                                   published=f"2026-11-0{i + 1}T00:00:00Z") for i, (t, x) in enumerate(TEXTS)],
                         FetchOutcome("s", "ok", "2026-11-30T00:00:00Z", "2026-11-30T00:00:00Z"))
    (tmp_path / "sw.toml").write_text("[scale]\nclassify_batch = 2\n", "utf-8")
    cfg = config.load(tmp_path / "sw.toml", env={})
    server, keys = redis_client, Keys()
    assert enqueue_classify(server, keys, db, cfg, retries=(0,)) == {"jobs": 2, "documents": 3}
    # A job for a model this worker does not have: fails, is retried once, then stays failed.
    Queue(keys.classify_queue, connection=server, serializer=serializer()).enqueue(
        "supplywatch.scale_jobs.classify_batch", {"model_version": "other-model", "docs": [], "stream": keys.stream})
    env = {**os.environ, "SUPPLYWATCH_REDIS_URL": redis_url, "SUPPLYWATCH_CONFIG": str(tmp_path / "sw.toml")}
    work = subprocess.run([sys.executable, "-m", "supplywatch", "worker", "classify", "--burst"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert work.returncode == 0, work.stderr
    stats = run_writer(server, keys, db, max_idle=0.5)
    assert stats.labelled == 3
    version = model_version(cfg.classifier)
    with Store.open(db) as store:
        per_doc = store.db.execute("select document_id, count(*) from labels where model_version = ? group by 1",
                                   [version]).fetchall()
        assert len(per_doc) == 3 and all(n > 1 for _, n in per_doc)
        assert store.flagged("supply_chain_cert_compromise")  # the signing-key theft is flagged
    status = subprocess.run([sys.executable, "-m", "supplywatch", "status"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert status.returncode == 1, status.stdout + status.stderr
    assert "1 failed" in status.stdout and "this worker has" in status.stdout
