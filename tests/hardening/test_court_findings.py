"""A hostile operator, defendant or forger against `ledger court quote | retire` (issue 16; certificates/court.py,
scripts/court_commands.py, certificates/claim_rules.py). One test per finding; each docstring says what happened
before the fix. What held without a fix (three `ledger court retire` of one case at once retire it once and share
one certificate; a paused registry is one line with nothing sealed; forged rule hashes, versions, prices and
obligations fail every verifier) is shown by tests/footprint/test_court.py or was checked by hand (see the report)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from certificates import claim_rules
from certificates import court as cases
from certificates.vault import Vault
from footprint.conversion import RULES_DIR, load_rules, shipped_rules
from scripts.cli import app
from scripts.court_commands import _rule_line
from tests.footprint.test_court import CASE, DEFENDANT, Court
from tests.footprint.test_court import court as registry  # noqa: F401  # a fixture: this module's own anvil registry

runner = CliRunner()
BASE = {"case_number": "（2021）闽0428刑初88号", "court": "将乐县人民法院", "damages_yuan": "1234.56"}
REGISTRY = "0x" + "ab" * 20


def parse(text: str) -> cases.CourtCase:
    return cases.parse_case(text, "case.json")


def case_json(**changes: Any) -> str:
    return json.dumps({**BASE, **changes}, ensure_ascii=False)


def one_line(caught: pytest.ExceptionInfo[cases.CourtCaseError], expected: str) -> None:
    message = str(caught.value)
    assert expected in message and "\n" not in message and message.startswith("case.json"), message


def offline(*argv: str, input: str | None = None) -> Any:
    """The CLI with no registry reachable (port 9 refuses at once): what fails here fails before the chain."""
    env = {"LEDGER_RPC_URL": "http://127.0.0.1:9", "LEDGER_PRIVATE_KEY": ""}
    result = runner.invoke(app, list(argv), env=env, input=input)
    assert "Traceback" not in result.output, result.output
    return result


@pytest.mark.parametrize("amount", ["1e30", '"1' + "0" * 30 + '"', "1E+27", "1e999999999"])
def test_damages_of_10_to_the_30_yuan_are_one_line_not_a_bug(amount: str) -> None:
    """Before: quantizing 10^27 yuan or more to the fen overflowed the decimal context, and the operator read
    "unexpected InvalidOperation; this is a bug". Now the bound (10^12 yuan) is checked first."""
    with pytest.raises(cases.CourtCaseError) as caught:
        parse(f'{{"case_number": "x", "court": "y", "damages_yuan": {amount}}}')
    one_line(caught, "must be at most 1,000,000,000,000 yuan")


@pytest.mark.parametrize("amount", ["1_000", "１２３", "1e3", "١٢٣"])
def test_damages_written_in_other_digits_are_refused(amount: str) -> None:
    """Before: Decimal() read "1_000" as 1000 and full-width "１２３" or Arabic-Indic "١٢٣" as 123, so a case file
    could show a reviewer one amount and retire another; now a string amount is plain ASCII digits."""
    with pytest.raises(cases.CourtCaseError) as caught:
        parse(case_json(damages_yuan=amount))
    one_line(caught, "is not plain digits")
    assert parse(case_json(damages_yuan=1e3)).damages_yuan == Decimal(1000)  # a JSON number's exponent is JSON's own


def test_a_deeply_nested_case_file_is_one_line() -> None:
    """Before: 100,000 nested brackets made json.loads raise RecursionError ("unexpected RecursionError; this is a
    bug"), or, nested inside an object with the stack already deep, crash the interpreter (SIGSEGV in the C
    scanner: this test brought pytest down). Now nesting deeper than a case has is refused before parsing."""
    for text in ("[" * 100_000 + "]" * 100_000, '{"rule": ' + "[" * 100_000 + "]" * 100_000 + "}"):
        with pytest.raises(cases.CourtCaseError) as caught:
            parse(text)
        one_line(caught, "nests too deeply")
    assert parse(case_json(court="将乐县人民法院 [刑事] {附带民事}")).court.endswith(
        "{附带民事}"
    )  # brackets in text are fine


def test_a_member_written_twice_is_refused() -> None:
    """Before: {"damages_yuan": "173900", …, "damages_yuan": "1"} was read as ¥1 (the last one wins), while a person
    reading the file from the top sees ¥173,900."""
    text = '{"case_number": "x", "court": "y", "damages_yuan": "173900", "damages_yuan": "1"}'
    with pytest.raises(cases.CourtCaseError) as caught:
        parse(text)
    one_line(caught, "member damages_yuan appears twice")


@pytest.mark.parametrize(
    "spoof",
    [
        "（2021）闽0428刑初88号\u200b",  # a zero-width space: looks like the case, is another string
        "（2021）闽0428刑初\u202e号88",  # a right-to-left override: prints "…刑初88号"
        "（2021）闽0428刑初88号\x1b[2K",  # a terminal escape: erases the line it is printed on
        "（2021）闽0428\u2028刑初88号",  # a line separator: one line to the parser, two on a page
    ],
)
def test_invisible_and_control_characters_in_a_case_number_are_refused(spoof: str) -> None:
    """Before: only \\r, \\n and \\t were refused; zero-width spaces, bidi overrides, terminal escapes and line
    separators went onto the chain's claim hash, the certificate and the operator's terminal."""
    with pytest.raises(cases.CourtCaseError) as caught:
        parse(case_json(case_number=spoof))
    one_line(caught, "invisible or control characters (U+")
    with pytest.raises(cases.CourtCaseError):
        parse(case_json(court="将乐县人民法院\u200d"))


def test_two_spellings_of_one_case_number_are_one_operation() -> None:
    """Before: the operation id hashed the court and the case number as typed, so full-width digits, half-width
    brackets, a space or another spelling of the court were another case: the chain let the same order be retired
    twice. Now the id is keyed by the case number alone (a 案号 carries its court's code, 闽0428), in one spelling."""
    vault = Vault(bytes(range(32)))
    first = cases.operation_id(vault, 31337, REGISTRY, parse(case_json()))
    for other in (
        {"case_number": "(2021)闽0428刑初88号"},  # half-width brackets
        {"case_number": "（２０２１）闽０４２８刑初８８号"},  # full-width digits
        {"case_number": "〔2021〕闽0428刑初88号"},  # the bracket older judgments use
        {"case_number": "（2021） 闽0428 刑初88号"},  # spaces inside
        {"court": "福建省将乐县人民法院"},  # the court named in full
        {"court": "将乐县法院"},
    ):
        assert cases.operation_id(vault, 31337, REGISTRY, parse(case_json(**other))) == first, other
    assert cases.operation_id(vault, 31337, REGISTRY, parse(case_json(case_number="（2021）闽0428刑初89号"))) != first


def _rules_with(tmp_path: Path, *rows: str) -> Any:
    (tmp_path / "tree_duty.csv").write_text((RULES_DIR / "tree_duty.csv").read_text("utf-8"), "utf-8")
    (tmp_path / "damages.csv").write_text((RULES_DIR / "damages.csv").read_text("utf-8") + "".join(rows), "utf-8")
    return load_rules(tmp_path)


def test_rule_option_cannot_replace_the_rule_the_case_names(tmp_path: Path) -> None:
    """Before: `--rule` silently replaced the rule the court's case names, so an operator could retire a case
    ordered at ¥173,900 for 523 t (523,000 kg) at a dearer price, ¥3,000 a tonne: 173,900 ÷ 3,000 = 57.97 t."""
    rules = _rules_with(tmp_path, "cn-dear,1,CN,3000,1,placeholder,,2026-12-01,,true,an illustrative dear price\n")
    case = parse(case_json(damages_yuan="173900", rule="fj-jiangle-2021@1"))
    with pytest.raises(cases.CourtCaseError, match="--rule cn-dear@1 is not the case's rule fj-jiangle-2021@1"):
        cases.quote(case, "cn-dear@1", rules)
    # naming the case's own rule, by id or by id@version, is fine: 173,900 × 523 × 1000 ÷ 173,900 = 523,000 kg
    assert cases.quote(case, "fj-jiangle-2021", rules).obligation_kg == 523_000
    # a case naming no rule: --rule chooses (173,900 × 1 × 1000 ÷ 3,000 = 57,966.6… → 57,967 kg)
    assert cases.quote(parse(case_json(damages_yuan="173900")), "cn-dear@1", rules).obligation_kg == 57_967


def test_a_superseded_rule_is_said_to_be(tmp_path: Path) -> None:
    """Before: a case naming a rule a newer version replaces was quoted, retired and verified as "the published
    one" with no word that it was superseded."""
    text = (
        (RULES_DIR / "damages.csv")
        .read_text("utf-8")
        .replace(",2026-11-30,,false,", ",2026-11-30,fj-jiangle-2021@2,false,")
    )
    (tmp_path / "damages.csv").write_text(
        text + "fj-jiangle-2021,2,350428,180000,523,a corrected price,,2026-12-01,,true,illustrative\n", "utf-8"
    )
    (tmp_path / "tree_duty.csv").write_text((RULES_DIR / "tree_duty.csv").read_text("utf-8"), "utf-8")
    rules = load_rules(tmp_path)
    quote = cases.quote(parse(case_json(rule="fj-jiangle-2021@1")), None, rules)
    assert "SUPERSEDED by fj-jiangle-2021@2" in _rule_line(quote)
    claim = {"quantity_kg": 3_713, **quote.claim_conversion}
    claim.update(obligation_kg=quote.obligation_kg, obligation_fulfilled=True)
    problems, note = claim_rules.check(claim, rules)
    assert problems == [] and "(superseded by fj-jiangle-2021@2)" in note


def _fifo(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    os.mkfifo(path)
    return path


def _finishes(fn: Any, fifo: Path) -> Any:
    """fn's result if it returns within 10 s; else the FIFO is opened for writing to free it, and the test fails."""
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(fn()), daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():
        with open(fifo, "w", encoding="utf-8") as writer:  # unblock the reader, or pytest never ends
            writer.write("{}")
        worker.join(10)
        pytest.fail(f"reading {fifo} blocked")
    return result[0]


def test_a_case_file_that_is_a_fifo_a_directory_or_huge_is_one_line(tmp_path: Path) -> None:
    """Before: a FIFO as --case blocked the command forever (open() waits for a writer), and a file of any size
    was read whole into memory (/dev/zero never ends). Now only a regular file of at most 64 KiB is read."""
    fifo = _fifo(tmp_path, "case.fifo")
    result = _finishes(lambda: offline("court", "quote", "--case", str(fifo)), fifo)
    assert result.exit_code == 1 and "is not a regular file" in result.output
    huge = tmp_path / "huge.json"
    huge.write_text(case_json(court="将" * 100) + " " * 70_000, "utf-8")
    result = offline("court", "quote", "--case", str(huge))
    assert result.exit_code == 1 and "larger than 65,536 bytes" in result.output
    result = offline("court", "quote", "--case", str(tmp_path))
    assert result.exit_code == 1 and "is not a regular file" in result.output


def test_a_defendant_file_that_is_a_fifo_huge_or_holds_control_characters_is_refused(tmp_path: Path) -> None:
    """Before: a FIFO as --defendant-file blocked the command; a 5 MB one-line "name" was read whole and would have
    been sealed; a name holding a terminal escape or a bidi override was accepted. The refusal never names the
    name."""
    case = tmp_path / "case.json"
    case.write_text(case_json(), "utf-8")

    def retire(defendant: Path | str, input: str | None = None) -> Any:
        return offline(
            "court", "retire", "--case", str(case), "--batch", "1", "--defendant-file", str(defendant), input=input
        )

    fifo = _fifo(tmp_path, "name.fifo")
    result = _finishes(lambda: retire(fifo), fifo)
    assert result.exit_code == 1 and "is not a regular file" in result.output
    huge = tmp_path / "huge.txt"
    huge.write_text(DEFENDANT * 1_000_000, "utf-8")
    result = retire(huge)
    assert result.exit_code == 1 and "larger than 4,096 bytes" in result.output
    assert retire("-", input=DEFENDANT * 10_000).output.count("larger than 4,096 bytes") == 1
    for spoof in (DEFENDANT + "\x1b[2K", "\u202e" + DEFENDANT, DEFENDANT + "\u200b", "x" * 201):
        named = tmp_path / "name.txt"
        named.write_text(spoof, "utf-8")
        result = retire(named)
        assert result.exit_code == 1 and "without control or invisible characters" in result.output, result.output
        assert DEFENDANT not in result.output and "x" * 201 not in result.output


def _killed_after_retiring(state: Court, case: Path, name: Path) -> None:
    """`ledger court retire` in a process of its own, SIGKILLed the moment it would certify: retired, not certified."""
    kill_at_certify = (
        "import os, signal, sys\n"
        "import certificates.service as service\n"
        "service.CertificateService.certify = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
        "from scripts.cli import app\n"
        "sys.argv[0] = 'ledger'\n"
        "app()\n"
    )
    argv = ["court", "retire", "--case", str(case), "--batch", str(state.batch), "--defendant-file", str(name)]
    done = subprocess.run(
        [sys.executable, "-c", kill_at_certify, *argv],
        env={**os.environ, **state.env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
    assert "retired 301 kg" in done.stdout


def test_a_rerun_after_kill_9_with_another_case_file_certifies_nothing(registry: Court) -> None:  # noqa: F811
    """Before: killed between the retirement and its certificate, a re-run found the case's retirement by its
    operation id and certified it with whatever the new case file said: a certificate stating damages of ¥173,900
    (obligation 523,000 kg, "partly fulfilled") over a retirement whose claim hash commits to ¥100 (301 kg). Now a
    re-run whose case reference is not the one on chain certifies nothing; the right file finishes the job."""
    number = "（2025）闽0428刑初3号"
    # ¥100 at fj-jiangle-2021@1: 100 × 523 × 1000 ÷ 173,900 = 300.74… → 301 kg
    retired_case = registry.write("killed.json", {**CASE, "case_number": number, "damages_yuan": "100"})
    name = registry.write("killed-name.txt", DEFENDANT)
    before = registry.balance()
    _killed_after_retiring(registry, retired_case, name)
    assert registry.balance() == before - 301

    argv = ("court", "retire", "--batch", str(registry.batch), "--defendant-file", str(name))
    for other in ({"damages_yuan": "173900"}, {"judgment_date": "2021-07-17"}, {"case_number": "(2025)闽0428刑初3号"}):
        changed = registry.write("changed.json", {**CASE, "case_number": number, "damages_yuan": "100", **other})
        result = registry.ledger(*argv, "--case", str(changed), ok=False)
        assert result.exit_code == 1 and "for another case reference" in result.output, (other, result.output)
        assert "not yet certified" in result.output and not re.findall(r"SCCW-\d+-\d{6}", result.output)

    text = registry.ledger(*argv, "--case", str(retired_case)).output
    assert "was already retired" in text
    [cert_id] = set(re.findall(r"SCCW-\d+-\d{6}", text))
    claim = registry.service.document(cert_id)["certificate"]["claim"]
    assert (claim["damages_yuan"], claim["obligation_kg"], claim["quantity_kg"]) == ("100", 301, 301)
    assert registry.balance() == before - 301  # retired once, however often it ran
    assert shipped_rules().damages["fj-jiangle-2021@1"].sha256 == claim["rule"]["sha256"]


def test_a_judgment_dated_in_the_future_is_refused() -> None:
    """Before: a case "judged" on 2099-01-01 was quoted, retired and certified to the court with that date."""
    with pytest.raises(cases.CourtCaseError) as caught:
        parse(case_json(judgment_date="2099-01-01"))
    one_line(caught, "judgment_date 2099-01-01 is in the future")
    assert parse(case_json(judgment_date="2021-07-16")).judgment_date == "2021-07-16"


def test_files_saved_with_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    """Before: a case file saved by Notepad (UTF-8 with a byte-order mark) was "not JSON"; with invisible
    characters now refused, a name file with one would have been refused too. The mark is not part of the text.
    ¥1,234.56 × 523 × 1000 ÷ 173,900 = 3,712.93… → 3,713 kg."""
    case = tmp_path / "case.json"
    case.write_bytes(b"\xef\xbb\xbf" + case_json(rule="fj-jiangle-2021@1").encode("utf-8"))
    result = offline("court", "quote", "--case", str(case), "--json")
    assert result.exit_code == 0 and json.loads(result.output)["obligation_kg"] == 3_713, result.output
    name = tmp_path / "name.txt"
    name.write_bytes(b"\xef\xbb\xbf" + DEFENDANT.encode("utf-8") + b"\r\n")
    result = offline("court", "retire", "--case", str(case), "--batch", "1", "--defendant-file", str(name))
    # read and accepted: the command went on to the (unreachable) registry
    assert result.exit_code == 1 and "cannot reach the node" in result.output, result.output
    assert DEFENDANT not in result.output
