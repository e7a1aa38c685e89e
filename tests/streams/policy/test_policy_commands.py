"""The compliance reviewer's commands: validate, explain, diff and dry-run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from usage_pipeline.streams.policy.loader import load_policy

REPO = Path(__file__).resolve().parents[3]
POLICY = REPO / "config" / "anonymization.yaml"
EXAMPLES = REPO / "schemas" / "examples"


def cli(
    *args: str, stdin: bytes | None = None, cwd: Path = REPO, **env: str
) -> subprocess.CompletedProcess:
    settings_free = {k: v for k, v in os.environ.items() if not k.startswith("USAGE_PIPELINE_")}
    return subprocess.run(
        [sys.executable, "-m", "usage_pipeline", "policy", *args],
        cwd=cwd, input=stdin, capture_output=True, timeout=60, check=False,
        env={**settings_free, "COLUMNS": "250", **env},
    )  # fmt: skip


def test_validate_accepts_the_shipped_policy():
    result = cli("validate")
    assert result.returncode == 0, result.stderr
    assert b"is valid: version sha256:" in result.stdout


def test_validate_and_show_find_the_shipped_policy_from_any_directory(tmp_path):
    version = load_policy(POLICY).version
    validated = cli("validate", cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr
    assert f"is valid: version {version}".encode() in validated.stdout
    shown = cli("show", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    path, line = shown.stdout.decode().splitlines()
    assert Path(path).read_bytes() == POLICY.read_bytes()  # config/anonymization.yaml
    assert line == f"version {version} (shipped with the package)"


def test_a_policy_given_by_setting_or_option_wins_over_the_shipped_one(tmp_path):
    by_setting, by_option = tmp_path / "setting.yaml", tmp_path / "option.yaml"
    by_setting.write_text(POLICY.read_text() + "\n# reviewed again\n")
    by_option.write_text(POLICY.read_text() + "\n# proposed\n")
    setting = {"USAGE_PIPELINE_STREAM__POLICY_FILE": str(by_setting)}
    shown = cli("show", cwd=tmp_path, **setting).stdout.decode().splitlines()
    assert shown == [
        str(by_setting),
        f"version {load_policy(by_setting).version} (setting stream.policy_file)",
    ]
    shown = cli("show", "--policy", str(by_option), cwd=tmp_path, **setting)
    assert shown.stdout.decode().splitlines() == [
        str(by_option),
        f"version {load_policy(by_option).version} (--policy)",
    ]


def test_validate_lists_every_problem_and_exits_1(tmp_path):
    broken = tmp_path / "broken.yaml"
    text = POLICY.read_text().replace("truncate_ip", "smudge_ip")
    broken.write_text(text.replace("purposes: [service, analytics]", "purposes: [service, sale]"))
    result = cli("validate", "--policy", str(broken))
    assert result.returncode == 1
    assert result.stderr.count(b"unknown action 'smudge_ip'") >= 3
    assert b"unknown purpose 'sale'" in result.stderr


def test_explain_markdown_has_a_row_per_field_and_a_column_per_purpose_and_consent():
    result = cli("explain", "--markdown")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("| event type | field | service | analytics (granted) |")
    recipient = next(line for line in lines if "| email.activity | properties.recipient |" in line)
    assert "pseudonymize" in recipient
    assert "email_domain" in recipient
    assert "(not sent)" in recipient  # marketing and partner sharing without consent


def test_diff_shows_what_changes_in_each_output(tmp_path):
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text(
        POLICY.read_text().replace("properties.description: drop", "properties.description: keep")
    )
    result = cli("diff", str(POLICY), str(proposed))
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "support.ticket" in out
    assert "properties.description" in out
    assert "drop" in out
    assert "keep" in out


def test_diff_of_a_policy_with_itself_reports_no_change():
    result = cli("diff", str(POLICY), str(POLICY))
    assert b"No change in any output." in result.stdout


def test_dry_run_shows_each_event_before_and_after_per_purpose():
    lines = (
        b"\n".join(
            orjson.dumps(orjson.loads((EXAMPLES / f"{name}.v1.json").read_bytes()))
            for name in ("usage.feature_used", "email.activity")
        )
        + b"\n{broken\n"
    )
    result = cli("dry-run", "--events", "-", stdin=lines)
    assert result.returncode == 0, result.stderr
    samples = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert set(samples[0]["after"]) == {"service", "analytics"}
    assert samples[0]["after"]["analytics"]["subject"]["user_id"].startswith("dryrun:")
    assert set(samples[1]["after"]) == {"service", "analytics", "marketing", "partner_sharing"}
    assert samples[2]["dead_letter"].startswith("$: is not valid JSON")


def test_dry_run_without_consent_withholds_marketing():
    line = (EXAMPLES / "email.activity.v1.json").read_bytes().replace(b"\n", b"")
    result = cli("dry-run", "--events", "-", "--no-consent", stdin=line + b"\n")
    (sample,) = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert set(sample["after"]) == {"service", "analytics"}


def test_explain_ends_the_field_table_with_each_purposes_key_rotation():
    result = cli("explain", "--markdown")
    assert result.returncode == 0, result.stderr
    fields = result.stdout.decode().split("\n\n")[0]
    assert fields.splitlines()[-1].startswith(
        "| (every event) | key_rotation | link | unlink | unlink |"
    )


def test_explain_shows_the_url_rules_of_clean_url():
    result = cli("explain", "--markdown")
    parameters = result.stdout.decode().split("\n\n")[1].splitlines()
    assert parameters[0] == "| parameter | value |"
    assert "| url.placeholder | :id |" in parameters
    assert (
        "| url.own_identifiers | subject.user_id, subject.account_id, context.session_id |"
        in parameters
    )
    assert "| url.id_segments.subject_id | (?:usr\\|acct\\|sess\\|web)_[A-Za-z0-9]+ |" in parameters
    table = cli("explain").stdout.decode()
    assert "url.id_segments.uuid" in table
    assert "[0-9A-Fa-f]{8}-" in table  # brackets are text, not console markup


def test_dry_run_shows_traffic_urls_as_routes_without_the_visitors_ids():
    event = orjson.loads((EXAMPLES / "traffic.web_request.v1.json").read_bytes())
    event["subject"] = {"account_id": "bigcorp", "user_id": "usr_1em2bdv8"}
    event["context"]["url"] = "https://portal.example/users/usr_1em2bdv8/settings?utm_source=x"
    event["context"]["referrer"] = "https://portal.example/teams/BigCorp/u/jane.roe%40corp"
    result = cli("dry-run", "--events", "-", stdin=orjson.dumps(event) + b"\n")
    (sample,) = [orjson.loads(line) for line in result.stdout.splitlines()]
    context = sample["after"]["traffic"]["context"]
    assert context["url"] == "https://portal.example/users/:id/settings?utm_source=x"
    assert context["referrer"] == "https://portal.example/teams/:id/u/[redacted]"


def test_diff_names_a_changed_url_rule(tmp_path):
    proposed = tmp_path / "proposed.yaml"
    text = POLICY.read_text()
    proposed.write_text(text.replace('number: "[0-9]+"', 'number: "[0-9]{4,}"'))
    result = cli("diff", str(POLICY), str(proposed))
    assert result.returncode == 0, result.stderr
    assert b"parameter url.id_segments.number: [0-9]+ -> [0-9]{4,}" in result.stdout


def test_diff_names_a_purpose_whose_key_rotation_changes(tmp_path):
    proposed = tmp_path / "proposed.yaml"
    text = POLICY.read_text()
    proposed.write_text(text.replace("key_rotation: link", "key_rotation: unlink", 1))
    result = cli("diff", str(POLICY), str(proposed))
    assert result.returncode == 0, result.stderr
    assert b"purpose service: key_rotation link -> unlink" in result.stdout
