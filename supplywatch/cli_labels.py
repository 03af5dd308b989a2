"""`supplywatch` commands of the classifier: classify, cluster, label, train, eval."""

from __future__ import annotations

import sys
from typing import Any

import click

from supplywatch.store import InputError

from .cli import DATE, LABEL_NAMES, Env, Period, cli, pass_env
from .output import echo_json, table


@cli.command()
@click.option("--relabel", is_flag=True, help="Label every document again, not only new ones. Example: --relabel")
@click.option("--limit", type=click.IntRange(1), help="At most this many documents. Example: --limit 100")
@pass_env
def classify(env: Env, relabel: bool, limit: int | None) -> None:
    """Label every stored document that has no label from the current model version.

    Each document gets a calibrated score for supply_chain_cert_compromise and the topic labels,
    with the sentence that most supports each; a new model version relabels everything.

    Example: supplywatch classify && supplywatch search key --label supply_chain_cert_compromise
    """
    with env.pipeline(create=True) as pipeline:
        result = pipeline.classify(relabel=relabel, limit=limit)
    flagged = ", ".join(f"{k} {v}" for k, v in sorted(result.flagged.items())) or "none"
    click.echo(f"Labelled {result.documents} documents with model {result.model_version}; flagged: {flagged}.")


@cli.command()
@click.option("--rebuild", is_flag=True, help="Forget every story and cluster the whole archive again. Example: --rebuild")
@click.option("--story", "story_id", type=int, metavar="ID", help="Show one story and its documents instead. Example: --story 12")
@click.option("--json", "as_json", is_flag=True, help="Print the counts (or the story) as JSON. Example: --json")
@pass_env
def cluster(env: Env, rebuild: bool, story_id: int | None, as_json: bool) -> None:
    """Group documents about the same event into stories: across outlets, and follow-ups within the window.

    Two documents are one story when their title+lead embeddings are very close, or close and
    their titles share distinctive names; each new document joins the best story of the last
    [classifier] story_window_days days, or starts its own. The digest shows one item per story.

    Example: supplywatch cluster && supplywatch cluster --story 3
    """
    if story_id is not None:
        with env.pipeline() as pipeline:
            story = pipeline.store.story(story_id)
        if story is None:
            raise InputError(f"no story with id {story_id}")
        story = {**story, "members": [{**m, "similarity": None if m.get("similarity") is None
                                        else round(m["similarity"], 3)} for m in story["members"]]}
        if as_json:
            echo_json(story)
            return
        click.echo(f"Story {story['id']}: {story['title']}  ({story['documents']} documents, "
                   f"{story['first_published']} .. {story['last_published']})")
        members = [{**m, "similarity": None if m["similarity"] is None else f"{m['similarity']:.3f}"}
                   for m in story["members"]]
        click.echo(table(members, [("id", "ID"), ("published", "PUBLISHED"), ("source", "SOURCE"),
                                   ("reason", "WHY"), ("similarity", "SIM"), ("title", "TITLE")], max_width=70))
        return
    with env.pipeline(create=True) as pipeline:
        counts = pipeline.cluster(rebuild=rebuild).as_dict()
    if as_json:
        echo_json(counts)
        return
    click.echo(f"Clustered {counts['documents']} documents: {counts['new_stories']} new stories, "
               f"{counts['joined']} joined a story." + (f" (Forgot {counts['reset']} stories first.)" if rebuild else ""))


@cli.command()
@click.argument("doc_id", type=int)
@click.argument("label", type=click.Choice(LABEL_NAMES), required=False)
@click.option("--yes/--no", "value", required=True, help="Whether the label applies. Example: --no")
@click.option("--note", default="", help="Why, for the record. Example: --note 'expiry outage, no theft'")
@pass_env
def label(env: Env, doc_id: int, label: str | None, value: bool, note: str) -> None:
    """Record an analyst's answer on a document's label (the headline label when LABEL is left out).

    On the headline label the next `classify` uses it at once, without `train`: --yes confirms the
    document's incident (its evidence sentence becomes a prototype; follow-ups naming the compromised
    party keep joining), --no rejects it (its follow-ups stop joining; its evidence becomes a near miss).
    `supplywatch train` learns from every answer.

    Example: supplywatch label 42 --no --note "TLS bug, nothing stolen"
    """
    from supplywatch.store import utcnow, vocabulary

    label = label or vocabulary.headline()
    with env.pipeline() as pipeline:
        if label == vocabulary.headline():
            incident = pipeline.answer(doc_id, value, note)
        else:
            incident = None
            pipeline.store.add_correction(doc_id, label, value, utcnow(), note)
    click.echo(f"Recorded: document {doc_id} {'is' if value else 'is not'} {label}.")
    if incident is not None:
        click.echo(f"Incident {incident['id']}: {incident['party']} {incident['artefact']} compromise, first reported "
                   f"{str(incident['first_published'])[:10]}, {len(incident['members'])} documents: "
                   f"{incident['status']}.")


def error_lines(errors: list[dict[str, Any]]) -> str:
    """``eval --errors`` as text: one line an article (what went wrong, score / threshold, day, title, incident),
    then why the labelling decided so."""
    lines = [f"headline errors: {len(errors)} (false positives and misses, in publication order)"]
    for e in errors:
        incident = f"  [{e['incident']}]" if e["incident"] else ""
        lines.append(f"  {e['error'].upper():15s} {e['score']:.3f} / {e['threshold']:.3f}  {e['published'][:10]}  "
                     f"{e['title']}{incident}")
        why = "; ".join(part for part in (e["reason"], e["evidence"] and f"evidence: {e['evidence']}") if part)
        lines.append(f"      {why or 'no sentence to quote'}")
    return "\n".join(lines) + "\n"


@cli.command()
@click.option("--data", "data", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Labelled JSONL to train on as well (fields title, text, labels, categories). "
                   "Example: --data ../shared/eval/dev.jsonl")
@click.option("--until", type=DATE, metavar="DATE", help="Use only --data articles published before DATE (a year, month "
              "or day: before its first day). Example: --until 2015")
@click.option("--no-examples", is_flag=True, help="Leave out the project's own examples. Example: --no-examples")
@click.option("--whose-key", "whose_key", is_flag=True,
              help="Also fit the experimental whose-key sentence model (classifiers/ownership.py) and use its "
                   "features beside the prototype margins (measured worse than without on dev.jsonl: "
                   "benchmarks/QUALITY.md). Example: --whose-key")
@click.option("--out", default="supplywatch-head", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the new head (classify uses ./supplywatch-head when present). Example: --out heads/v2")
@pass_env
def train(env: Env, data: tuple[str, ...], until: Period | None, no_examples: bool, whose_key: bool, out: str) -> None:
    """Fit a new classifier head on the project's examples, your corrections and any JSONL you pass.

    Takes minutes on a laptop CPU; writes a new model version, so the next classify relabels.

    Example: supplywatch train --data my-labelled.jsonl --out supplywatch-head
    """
    with env.pipeline(create=True) as pipeline:
        head = pipeline.train(data=list(data), out=out, include_examples=not no_examples, until=until and until.first,
                              whose_key=whose_key)
    click.echo(f"Wrote head {head.version} to {out}/ ({head.manifest['examples']} examples, "
               f"{head.manifest['positives']} positive); threshold {head.threshold:.3f}.")


@cli.command(name="eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--head", metavar="DIR", help="Head folder to measure (default: the one classify uses). Example: --head heads/v2")
@click.option("--folds", type=click.Choice(["incident", "time"]),
              help="Fit a head per fold from FILE and the project's examples instead of measuring a fitted one: "
                   "'incident' scores each incident's articles with a head that never saw that incident (negatives "
                   "by publication year); 'time' fits before --since (default 2015) and scores from it. "
                   "Example: --folds incident")
@click.option("--since", type=DATE, metavar="DATE", help="Only articles published on or after DATE (a year, month or "
              "day: from its first day). Example: --since 2015")
@click.option("--until", type=DATE, metavar="DATE", help="Only articles published before DATE (a year, month or day: "
              "before its first day). Example: --until 2018")
@click.option("--no-memory", is_flag=True, help="Score each article alone, without the incident memory. Example: --no-memory")
@click.option("--allow-training-overlap", "allow_overlap", is_flag=True,
              help="Measure even when the head's manifest says it was fitted on FILE (in-sample figures, with a "
                   "warning on stderr). Example: --allow-training-overlap")
@click.option("--analyst", "analyst", multiple=True, type=click.IntRange(0, 1000), metavar="N",
              help="With --folds: also report the headline with a simulated analyst who, each publication week, "
                   "answers the N items nearest the threshold with their gold label (repeatable). "
                   "Example: --analyst 2 --analyst 5")
@click.option("--whose-key", "whose_key", is_flag=True, help="With --folds: fit every fold head with the experimental "
              "whose-key sentence features, as train --whose-key does. Example: --whose-key")
@click.option("--errors", "errors", is_flag=True, help="Also list the articles the headline label got wrong (false "
              "positives and misses), each with its score, threshold, reason and evidence; in --json under \"errors\". "
              "Example: --errors")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object. Example: --json")
@pass_env
def eval_cmd(env: Env, file: str, head: str | None, folds: str | None, since: Period | None, until: Period | None,
             no_memory: bool, allow_overlap: bool, analyst: tuple[int, ...], whose_key: bool, errors: bool,
             as_json: bool) -> None:
    """Measure the classifier on labelled articles: precision, recall, F1 per label, and a keyword baseline.

    Never trains on the articles it scores. Articles are processed in publication order, as the
    pipeline meets them. Refuses a FILE the head was fitted on (its manifest lists it): measure the
    held-out head (classifiers/head-timesplit, fitted before 2015) from 2015 on instead. With --folds
    it fits its own heads (minutes after encoding FILE) and reports the figures with and without the
    incident book (follow-ups of known incidents); FILE's positives need an `incident` field for --folds incident.

    Example: supplywatch eval ../shared/eval/dev.jsonl --folds incident --json
    """
    if since is not None and until is not None and since.first >= until.first:
        raise InputError(f"--since {since.text} is not before --until {until.text}")
    if folds and head:
        raise InputError("--folds fits its own heads; leave out --head")
    if folds and no_memory:
        raise InputError("--folds reports with and without the memory; leave out --no-memory")
    if analyst and not folds:
        raise InputError("--analyst needs --folds (the simulated analyst answers while fold heads label)")
    if whose_key and not folds:
        raise InputError("--whose-key needs --folds (a fitted head carries its own features: train --whose-key)")
    progress = None
    if folds and sys.stderr.isatty():
        def progress(message: str) -> None:
            click.echo(f"eval: {message}", err=True)
    with env.pipeline() as pipeline:
        result = pipeline.evaluate(file, head=head, since=since and since.first, until=until and until.first,
                                   memory=not no_memory, folds=folds, allow_overlap=allow_overlap,
                                   warn=lambda message: click.echo(message, err=True), progress=progress,
                                   analyst=tuple(dict.fromkeys(analyst)), whose_key=whose_key, errors=errors)
    if as_json:
        echo_json(result)
        return
    rows = [{"label": name, **vals} for name, vals in result["labels"].items()]
    if folds:
        rows += [{"label": f"{name} (no memory)", **vals} for name, vals in result["no_memory"]["labels"].items()]
        for n, figures in (result.get("analyst") or {}).items():
            rows += [{"label": f"{name} (analyst {n}/week)", **vals} for name, vals in figures["labels"].items()]
    rows += [{"label": name, **vals} for name, vals in result["categories"].items() if isinstance(vals, dict)]
    rows += [{"label": f"baseline: {name}", **vals} for name, vals in result["baseline"]["labels"].items()]
    click.echo(table(rows, [("label", "LABEL"), ("precision", "P"), ("recall", "R"), ("f1", "F1"),
                            ("support", "SUPPORT"), ("threshold", "THRESHOLD")]))
    if folds == "incident":
        caught = ", ".join(f"{k} {v['caught']}/{v['of']}" for k, v in result["incidents"].items())
        click.echo(f"\nincidents caught (with the incident book): {caught}")
        click.echo(f"\ntopic macro-F1 {result['categories']['macro_f1']} (year folds); {result['n']} articles, "
                   f"{result['model_version']} in {result['seconds']} s")
    elif folds:
        click.echo(f"\ntopic macro-F1 {result['categories']['macro_f1']}; {result['n']} articles, "
                   f"{result['model_version']} in {result['seconds']} s")
    else:
        click.echo(f"\ntopic macro-F1 {result['categories']['macro_f1']}; {result['n']} articles, "
                   f"{result['docs_per_second']} documents/s; model {result['model_version']}")
    if errors:
        click.echo("\n" + error_lines(result["errors"]), nl=False)
