"""Certificates backed by a footprint report (issue 16, "Claims from reports"; docs/certificate-format.md §5.1),
end to end on anvil: the 500-person Chengdu conference's report (67,808 kg, docs/footprint.md) committed into a
large-event certificate, carbon neutral at 68,000 kg retired and not at 10,000; every verifier (`ledger verify`
against the node, POST /api/v1/verify from the mirror, the independent verifier of tests/api/) accepts the report
and refuses it with any line changed; a copy with the report hidden still verifies."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import footprint
from api.app import create_app
from certificates import footprint_report
from certificates.document import hide
from certificates.issuer import CertificationError, check_request
from certificates.service import CertificateService
from certificates.settings import ServiceSettings
from chain.client import RegistryClient
from chain.node import LocalNode
from chain.types import RetirementId, Scenario
from indexer.db import make_engine
from scripts.cli import app
from scripts.retire_certify import certify_args
from tests.api.conftest import Certified
from tests.api.independent_verifier import verify as independent
from tests.conftest import deploy_world
from tests.footprint.conftest import example

FIELD, MEMBER = footprint_report.FIELD, footprint_report.MEMBER
ORGANISER = "成都会展集团"
EVENT = {"event_name": "2026 成都碳中和论坛", "dates": "2026-05-01/2026-05-02", "venue": "成都"}
# the worked example of docs/footprint.md, by source: venue 20,000 kWh × 0.1404 (四川 2022) = 2,808; flights
# 310,000 pkm × 0.15 = 46,500; rail 120,000 × 0.03 = 3,600; car 12,000 × 0.20 = 2,400 (travel 52,500);
# hotel 300 × 30 = 9,000; meals 1,000 × 2.5 = 2,500; materials 1,000 declared; no waste line
BY_SOURCE = {
    "footprint_energy_kg": 2_808,
    "footprint_travel_kg": 46_500 + 3_600 + 2_400,
    "footprint_lodging_kg": 9_000,
    "footprint_catering_kg": 2_500,
    "footprint_materials_kg": 1_000,
    "footprint_waste_kg": 0,
}
TOTAL = 67_808
runner = CliRunner()


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("footprint-certificates")


@pytest.fixture(scope="module")
def certified(build: Any, cast: Any, place: Path) -> Iterator[Certified]:
    """A registry on its own anvil whose holder has 90,000 kg to retire."""
    tmp = place
    with pytest.MonkeyPatch.context() as mp, LocalNode(block_time=None) as node:
        mp.setenv("LEDGER_DATA_KEY_FILE", str(tmp / "data.key"))
        world = deploy_world(node.url, tmp / "deployments", build, cast)
        anchorer = RegistryClient(
            world.client.rpc,
            world.client.address,
            world.client.abi,
            chain_id=world.client.chain_id,
            signer=cast.anchorer,
        )
        settings = ServiceSettings(anchor_every=1, public_url="http://testserver")
        service = CertificateService.open(
            make_engine(f"sqlite:///{tmp / 'ledger.sqlite'}"), world.registry.deployment, anchorer, settings
        )
        world.client.transfer(cast.owner.address, cast.holder.address, world.batch_id, 70_000, sender=cast.owner)
        yield Certified(world, service, node)


@pytest.fixture(scope="module")
def api(certified: Certified) -> Iterator[TestClient]:
    with TestClient(create_app(certified.service.context)) as client:
        yield client


@pytest.fixture(scope="module")
def conference() -> footprint.FootprintReport:
    return footprint.compute(example("chengdu_conference.json"))


@pytest.fixture(scope="module")
def report_file(conference: footprint.FootprintReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report as `ledger footprint compute --json` writes it."""
    path = tmp_path_factory.mktemp("report") / "chengdu.json"
    path.write_text(json.dumps(conference.output(), ensure_ascii=False), "utf-8")
    return path


@pytest.fixture(scope="module")
def neutral(certified: Certified, report_file: Path) -> str:
    return certified.certify_new(
        Scenario.LARGE_EVENT, 68_000, ORGANISER, fields=dict(EVENT), footprint_report=footprint_report.read(report_file)
    )


@pytest.fixture(scope="module")
def partial(certified: Certified, report_file: Path) -> str:
    return certified.certify_new(
        Scenario.LARGE_EVENT, 10_000, ORGANISER, fields=dict(EVENT), footprint_report=footprint_report.read(report_file)
    )


# ---------------------------------------------------------------- the three verifiers


def verdicts(certified: Certified, api: TestClient, doc: dict[str, Any], tmp_path: Path) -> dict[str, str]:
    """The verdict of each verifier on `doc`: ours against the node (`ledger verify`), ours against the mirror
    (POST /api/v1/verify), and the independent one against the node."""
    registry = certified.service.context.deployment.address
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    cli = runner.invoke(app, ["verify", str(path), "--rpc", certified.node.url, "--registry", registry, "--json"])
    assert "Traceback" not in cli.output, cli.output
    cli_verdict = json.loads(cli.output)
    assert cli.exit_code == (0 if cli_verdict["verdict"] == "valid" else 1)
    posted = api.post("/api/v1/verify", json=doc)
    assert posted.status_code == 200, posted.text
    theirs = independent(copy.deepcopy(doc), certified.node.url, registry)
    return {
        "ledger verify": cli_verdict["verdict"],
        "POST /verify": posted.json()["verdict"],
        "independent": theirs["verdict"],
        "failed": ",".join(sorted(set(cli_verdict["failed"]) | set(posted.json()["failed"]) | set(theirs["failed"]))),
    }


def all_valid(result: dict[str, str]) -> bool:
    return [result[k] for k in ("ledger verify", "POST /verify", "independent")] == ["valid"] * 3 and not result[
        "failed"
    ]


def all_invalid(result: dict[str, str]) -> bool:
    return [result[k] for k in ("ledger verify", "POST /verify", "independent")] == ["invalid"] * 3


# ---------------------------------------------------------------- issuing


def test_the_conference_certificate_commits_the_report_and_is_carbon_neutral(
    certified: Certified, api: TestClient, neutral: str, conference: footprint.FootprintReport, tmp_path: Path
) -> None:
    doc = certified.public(neutral)
    body = doc["certificate"]
    # 68,000 kg retired ≥ the report's 67,808 kg total: carbon neutral
    assert body["claim"] == {"quantity_kg": 68_000, "footprint_kg": TOTAL, "carbon_neutral": True}
    assert doc["disclosed"][FIELD]["value"] == conference.sha256
    assert {name: doc["disclosed"][name]["value"] for name in BY_SOURCE} == BY_SOURCE
    assert sum(BY_SOURCE.values()) == TOTAL
    assert doc[MEMBER] == conference.document  # the public copy carries the report, as stored
    assert all_valid(verdicts(certified, api, doc, tmp_path))
    assert all_valid(verdicts(certified, api, certified.holder_copy(neutral), tmp_path))


def test_a_partial_offset_rests_on_the_same_report_and_is_not_carbon_neutral(
    certified: Certified, api: TestClient, partial: str, tmp_path: Path
) -> None:
    doc = certified.public(partial)
    assert doc["certificate"]["claim"] == {"quantity_kg": 10_000, "footprint_kg": TOTAL, "carbon_neutral": False}
    assert all_valid(verdicts(certified, api, doc, tmp_path))
    forged = copy.deepcopy(doc)  # the claim says neutral: the numbers say otherwise
    forged["certificate"]["claim"]["carbon_neutral"] = True
    assert all_invalid(verdicts(certified, api, forged, tmp_path))


def test_a_claim_whose_footprint_is_not_the_reports_total_fails(
    certified: Certified, api: TestClient, partial: str, tmp_path: Path
) -> None:
    doc = certified.public(partial)
    doc["certificate"]["claim"]["footprint_kg"] = 9_000  # "carbon neutral" with a smaller footprint
    doc["certificate"]["claim"]["carbon_neutral"] = True
    result = verdicts(certified, api, doc, tmp_path)
    assert all_invalid(result) and "claim" in result["failed"]


# ---------------------------------------------------------------- tampering with the report


def _bump_kg(n: int) -> Any:
    def edit(report: dict[str, Any]) -> None:
        report["lines"][n]["kgco2e"] += 1

    return edit


def _relabel(n: int) -> Any:
    def edit(report: dict[str, Any]) -> None:
        report["lines"][n]["label"] = "tampered"

    return edit


def _national_grid(report: dict[str, Any]) -> None:
    """Line 1 at the national 0.5366, everything recomputed so the report adds up: 10,732 kg, total 75,732."""
    line = report["lines"][0]
    line["factor"]["kgco2e_per_unit"], line["exact_kgco2e"], line["kgco2e"] = "0.5366", "10732", 10_732
    report["categories"][0]["kgco2e"] = 10_732
    report["total_kgco2e"] = TOTAL - 2_808 + 10_732


def _drop_line(report: dict[str, Any]) -> None:
    removed = report["lines"].pop()
    report["categories"] = [c for c in report["categories"] if c["category"] != removed["category"]]
    report["total_kgco2e"] -= removed["kgco2e"]


TAMPERS = {
    **{f"kgco2e of line {n + 1}": _bump_kg(n) for n in range(7)},
    **{f"label of line {n + 1}": _relabel(n) for n in (0, 6)},
    "line 1 at the national grid factor, sums redone": _national_grid,
    "the last line dropped, sums redone": _drop_line,
}


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_changing_any_report_line_fails_every_verifier(
    certified: Certified, api: TestClient, neutral: str, tamper: str, tmp_path: Path
) -> None:
    doc = certified.public(neutral)
    TAMPERS[tamper](doc[MEMBER])
    result = verdicts(certified, api, doc, tmp_path)
    assert all_invalid(result), result
    assert "fields" in result["failed"]  # the report is no longer the one committed


def test_a_report_swapped_in_whole_with_its_hash_fails(
    certified: Certified, api: TestClient, neutral: str, conference: footprint.FootprintReport, tmp_path: Path
) -> None:
    """Another report (the household's), its own hash put in the opening: the opening no longer opens the commitment."""
    doc = certified.public(neutral)
    other = footprint.compute(example("chengdu_household.json"))
    doc[MEMBER] = other.document
    doc["disclosed"][FIELD]["value"] = other.sha256
    result = verdicts(certified, api, doc, tmp_path)
    assert all_invalid(result) and "fields" in result["failed"] and "claim" in result["failed"]


HOSTILE = {
    "a list": [],
    "categories a number": {"categories": 5},
    "a category a list": {"categories": [{"category": ["x"], "kgco2e": 1}]},
    "lines of numbers": {"lines": [1, 2]},
    "a float": {"total_kgco2e": 67808.0},
    "a decimal with an exponent": {"lines": "exact_kgco2e=2.808E+3"},
}


@pytest.mark.parametrize("shape", list(HOSTILE))
def test_a_malformed_report_is_a_verdict_never_a_crash(
    certified: Certified, api: TestClient, neutral: str, shape: str, tmp_path: Path
) -> None:
    doc = certified.public(neutral)
    change = HOSTILE[shape]
    if not isinstance(change, dict):
        doc[MEMBER] = change
    elif change.get("lines") == "exact_kgco2e=2.808E+3":
        doc[MEMBER]["lines"][0]["exact_kgco2e"] = "2.808E+3"
    else:
        doc[MEMBER].update(change)
    result = verdicts(certified, api, doc, tmp_path)
    assert all_invalid(result) and "fields" in result["failed"], result


# ---------------------------------------------------------------- hiding


def test_a_hidden_report_still_verifies_as_hidden(
    certified: Certified, api: TestClient, neutral: str, tmp_path: Path
) -> None:
    hidden = hide(certified.public(neutral), [FIELD])
    assert FIELD not in hidden["disclosed"] and MEMBER not in hidden
    assert FIELD in hidden["certificate"]["fields"]  # still committed: only its opening is gone
    assert all_valid(verdicts(certified, api, hidden, tmp_path))
    sources_hidden = hide(hidden, list(BY_SOURCE))
    assert all_valid(verdicts(certified, api, sources_hidden, tmp_path))


def test_a_report_shown_without_its_hash_opened_fails(
    certified: Certified, api: TestClient, neutral: str, tmp_path: Path
) -> None:
    doc = certified.public(neutral)
    del doc["disclosed"][FIELD]  # the report is left in, tied to nothing
    result = verdicts(certified, api, doc, tmp_path)
    assert all_invalid(result) and result["failed"] == "fields"


def test_a_disclosed_source_that_is_not_the_reports_fails(
    certified: Certified, api: TestClient, neutral: str, tmp_path: Path
) -> None:
    """The per-source fields are committed as the report's sums; a report whose sums differ from them fails
    `claim`, even when it is the committed report (here: the hash check alone would pass)."""
    doc = certified.public(neutral)
    doc["disclosed"]["footprint_waste_kg"]["value"] = 1  # no longer opens its commitment either
    result = verdicts(certified, api, doc, tmp_path)
    assert all_invalid(result) and "fields" in result["failed"] and "claim" in result["failed"]


# ---------------------------------------------------------------- a person's report


def test_a_persons_report_is_sealed_and_only_in_the_holders_copy(
    certified: Certified, api: TestClient, tmp_path: Path
) -> None:
    # 1,200 kWh × 0.1404 = 168.48 → 169; 200 m³ gas × 2.16 = 432; 8,000 pkm by car × 0.20 = 1,600: 2,201 kg
    household = footprint.compute(example("chengdu_household.json"))
    assert household.total_kg == 2_201
    cert_id = certified.certify_new(
        Scenario.PERSONAL, 2_201, "王小明", fields={"activities": "住 行"}, footprint_report=household.document
    )
    public = certified.public(cert_id)
    assert FIELD not in public["disclosed"] and MEMBER not in public
    assert public["certificate"]["claim"] == {"quantity_kg": 2_201, "footprint_kg": 2_201, "carbon_neutral": True}
    holder = certified.holder_copy(cert_id)
    assert holder[MEMBER] == household.document and holder["disclosed"][FIELD]["value"] == household.sha256
    assert all_valid(verdicts(certified, api, public, tmp_path))
    assert all_valid(verdicts(certified, api, holder, tmp_path))


# ---------------------------------------------------------------- refusals, before anything is mined


def _request(report: Any, **kwargs: Any) -> None:
    check_request("large-event", dict(EVENT), beneficiary=ORGANISER, quantity=68_000, footprint_report=report, **kwargs)


def test_a_report_whose_total_does_not_recompute_is_refused_with_both_numbers(
    conference: footprint.FootprintReport,
) -> None:
    report = copy.deepcopy(conference.document)
    report["lines"][0]["kgco2e"] += 1
    report["total_kgco2e"] += 1
    with pytest.raises(CertificationError, match=r"states a total of 67809 kgCO2e but recomputes to 67808 kgCO2e"):
        _request(report)


def test_a_report_changed_without_changing_its_total_is_refused(conference: footprint.FootprintReport) -> None:
    report = copy.deepcopy(conference.document)
    report["lines"][1]["factor_quantity"] = (
        "31000"  # a tenth of the flights' passenger-km, the kilograms left as they were
    )
    with pytest.raises(CertificationError, match="line 2 differs"):
        _request(report)


def test_a_report_file_whose_hash_is_not_its_own_is_refused(
    conference: footprint.FootprintReport, tmp_path: Path
) -> None:
    output = copy.deepcopy(conference.output())
    output["report"]["total_kgco2e"] = 1_000
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(output), "utf-8")
    with pytest.raises(footprint_report.FootprintReportError, match="changed after it was made"):
        footprint_report.read(path)


def test_a_report_of_another_subject_or_a_footprint_that_disagrees_is_refused(
    conference: footprint.FootprintReport,
) -> None:
    household = footprint.compute(example("chengdu_household.json")).document
    with pytest.raises(CertificationError, match="report is of a person, not of the event"):
        _request(household)
    with pytest.raises(CertificationError, match="--footprint 60000 differs from the report's total 67808"):
        _request(conference.document, footprint_kg=60_000)
    with pytest.raises(CertificationError, match="drop --field footprint_travel_kg"):
        check_request(
            "large-event",
            {**EVENT, "footprint_travel_kg": 1},
            beneficiary=ORGANISER,
            quantity=68_000,
            footprint_report=conference.document,
        )
    with pytest.raises(CertificationError, match="Voluntary certificate states no footprint"):
        check_request("voluntary", {}, beneficiary="赵敏", quantity=1, footprint_report=conference.document)
    _request(conference.document, footprint_kg=TOTAL)  # the same footprint given twice is no contradiction


def test_retire_certify_repeats_the_report_in_the_command_that_finishes_it(report_file: Path) -> None:
    words = certify_args("large-event", None, None, None, None, None, report_file)
    assert words[words.index("--footprint-report") + 1] == str(report_file)


# ---------------------------------------------------------------- the command line


def _key(account: Any) -> str:
    return "0x" + bytes(account.key).hex()


def test_ledger_retire_certify_and_ledger_certify_take_a_footprint_report(
    certified: Certified, cast: Any, place: Path, tmp_path: Path
) -> None:
    # an office's year: 2,000 kWh × 0.1404 (四川 2022) = 280.8 → 281 kg
    office = footprint.compute(
        {
            "subject": "organisation",
            "region": "510000",
            "year": 2026,
            "lines": [{"activity": "grid-electricity", "quantity": 2000, "unit": "kWh", "label": "office"}],
        }
    )
    assert office.total_kg == 281
    report = tmp_path / "office.json"
    report.write_text(json.dumps(office.output(), ensure_ascii=False), "utf-8")
    env = {
        "LEDGER_RPC_URL": certified.node.url,
        "LEDGER_DEPLOYMENTS_DIR": str(place / "deployments"),
        "DATABASE_URL": f"sqlite:///{place / 'ledger.sqlite'}",
        "LEDGER_ANCHOR_EVERY": "1",
    }
    out = tmp_path / "holder.json"
    retired = runner.invoke(
        app,
        [
            "retire",
            "--batch",
            str(certified.world.batch_id),
            "--amount",
            "300",
            "--scenario",
            "organisation",
            "--beneficiary",
            "雅安茶业有限公司",
            "--certify",
            "--field",
            "subject=雅安茶业 2026 办公",
            "--footprint-report",
            str(report),
            "--out",
            str(out),
            "--json",
        ],
        env={**env, "LEDGER_PRIVATE_KEY": _key(cast.holder)},
    )
    assert retired.exit_code == 0, retired.output
    holder = json.loads(out.read_text("utf-8"))
    assert holder["certificate"]["claim"] == {"quantity_kg": 300, "footprint_kg": 281, "carbon_neutral": True}
    assert holder[MEMBER] == office.document and holder["disclosed"][FIELD]["value"] == office.sha256

    # `ledger certify` of a retirement made earlier, by the operator (who anchors)
    result = certified.retire(Scenario.ORGANISATION, 250, certified.service.seal_beneficiary("雅安茶业有限公司"))
    event = result.event("CreditsRetired")
    rid = RetirementId.of(certified.service.context.deployment.chain_id, event.tx_hash, event.log_index)
    issued = runner.invoke(
        app,
        [
            "certify",
            rid,
            "--scenario",
            "organisation",
            "--field",
            "subject=雅安茶业",
            "--footprint-report",
            str(report),
        ],
        env={**env, "LEDGER_PRIVATE_KEY": _key(cast.anchorer)},
    )
    assert issued.exit_code == 0, issued.output
    cert_id = re.findall(r"SCCW-\d+-\d+", issued.output)[0]
    doc = certified.public(cert_id)
    assert doc["certificate"]["claim"] == {"quantity_kg": 250, "footprint_kg": 281, "carbon_neutral": False}
    path = tmp_path / "public.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    verified = runner.invoke(app, ["verify", str(path), "--json"], env=env)
    assert json.loads(verified.output)["verdict"] == "valid", verified.output

    refused = runner.invoke(
        app,
        ["certify", rid, "--scenario", "organisation", "--field", "subject=x", "--footprint-report", str(tmp_path)],
        env={**env, "LEDGER_PRIVATE_KEY": _key(cast.anchorer)},
    )
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert "check the path" in refused.output


# ---------------------------------------------------------------- backups


def test_a_backup_restores_the_reports_with_their_certificates(
    certified: Certified, neutral: str, conference: footprint.FootprintReport, tmp_path: Path
) -> None:
    from backup import archive as backup
    from certificates import copies

    service = certified.service
    out = tmp_path / "backup.gz"
    backup.create(service.engine, out, service.context.deployment)
    restored = make_engine(f"sqlite:///{tmp_path / 'restored.sqlite'}")
    backup.restore(restored, out, service.context.deployment)
    with restored.connect() as conn:
        doc = copies.document(conn, service.context.log, neutral)
    assert doc[MEMBER] == conference.document
