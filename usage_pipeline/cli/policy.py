"""`usage-pipeline policy validate|explain|diff|dry-run`: the compliance reviewer's commands."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import typer
from rich.table import Table
from rich.text import Text

from usage_pipeline.cli.console import out
from usage_pipeline.schemas.contracts import load_contracts
from usage_pipeline.settings import load_settings
from usage_pipeline.streams.policy.diff import diff as policy_diff
from usage_pipeline.streams.policy.diff import output_changes
from usage_pipeline.streams.policy.dry_run import dry_run as run_dry
from usage_pipeline.streams.policy.explain import markdown, parameters, table
from usage_pipeline.streams.policy.loader import load_policy, policy_path

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Show, check, explain, compare and try the anonymization policy "
    "(config/anonymization.yaml, shipped with the package).",
    no_args_is_help=True,
)

POLICY_OPTION = typer.Option(
    None,
    "--policy",
    "-p",
    help="Policy file; default: stream.policy_file from the settings, else the one shipped "
    "with the package.",
)


def _policy_path(path: Path | None) -> Path:
    return policy_path(path or load_settings().stream.policy_file)


@app.command()
def show(policy: Path | None = POLICY_OPTION) -> None:
    """Print the path and version of the policy in force, and where its choice comes from."""
    configured = load_settings().stream.policy_file
    path = policy_path(policy or configured)
    compiled = load_policy(path)
    if policy is not None:
        chosen = "--policy"
    elif configured is not None:
        chosen = "setting stream.policy_file"
    else:
        chosen = "shipped with the package"
    out.print(f"{path.resolve()}", highlight=False, markup=False, soft_wrap=True)
    out.print(f"version {compiled.version} ({chosen})", highlight=False, markup=False)


@app.command()
def validate(policy: Path | None = POLICY_OPTION) -> None:
    """Check the policy against the event schemas; exit 1 listing every problem."""
    path = _policy_path(policy)
    compiled = load_policy(path)
    purposes = ", ".join(compiled.purposes)
    out.print(f"{path} is valid: version {compiled.version}; purposes {purposes}.")


@app.command()
def explain(
    policy: Path | None = POLICY_OPTION,
    as_markdown: bool = typer.Option(False, "--markdown", help="Print a Markdown table."),
) -> None:
    """Per event type and field, what leaves the pipeline for each purpose and consent state;
    then the parameters of the actions, with the URL rules of clean_url.

    '-' means the event type does not feed that purpose; '(not sent)' means the event is
    withheld from that output entirely.
    """
    compiled = load_policy(_policy_path(policy))
    header, rows = table(compiled, load_contracts())
    settings = parameters(compiled)
    if as_markdown:
        text = markdown(header, rows) + "\n" + markdown(["parameter", "value"], settings)
        out.print(text, markup=False, highlight=False, soft_wrap=True)
        return
    grid = Table(*header, title=f"Anonymization policy {compiled.version}", show_lines=False)
    for row in rows:
        grid.add_row(*row)
    out.print(grid)
    # Text cells: a regular expression's brackets are not Rich markup.
    values = Table("parameter", "value", title="Parameters (clean_url: docs/stream.md)")
    values.columns[1].overflow = "fold"  # a regular expression is read whole, never cut
    for name, value in settings:
        values.add_row(Text(name), Text(value))
    out.print(values)


@app.command()
def diff(
    old: Path = typer.Argument(..., help="The policy in force."),
    new: Path = typer.Argument(..., help="The proposed policy."),
) -> None:
    """What changes in each output between two policy files; exit 0 either way."""
    contracts = load_contracts()
    before, after = load_policy(old, contracts), load_policy(new, contracts)
    notes = output_changes(before, after)
    changes = policy_diff(before, after, contracts)
    out.print(f"{before.version} -> {after.version}")
    for note in notes:
        out.print(f"- {note}")
    if not changes and not notes:
        out.print("No change in any output.")
    if not changes:
        return
    grid = Table("event type", "field", "purpose", "consent", "before", "after")
    for c in changes:
        grid.add_row(c.event_type, c.field, c.purpose, c.consent.value, c.before, c.after)
    out.print(grid)


@app.command("dry-run")
def dry_run(
    events: str = typer.Option(..., "--events", "-e", help="JSON Lines file; '-' for stdin."),
    policy: Path | None = POLICY_OPTION,
    consent: bool = typer.Option(
        True, "--consent/--no-consent", help="Assume every purpose granted, or none answered."
    ),
) -> None:
    """Each sample event before and after, per purpose, as JSON Lines (pipe to `jq`).

    Pseudonyms use a throw-away key (key id 'dryrun'), so they match nothing real.
    """
    compiled = load_policy(_policy_path(policy))
    with sys.stdin.buffer if events == "-" else Path(events).open("rb") as lines:
        for sample in run_dry(lines, compiled, load_contracts(), consent=consent):
            result = {"line": sample.line, "before": sample.before, "after": sample.after}
            if sample.dead_letter:
                result["dead_letter"] = sample.dead_letter
            typer.echo(orjson.dumps(result))
