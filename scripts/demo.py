"""The demo registry the main job loads on a fresh local chain: methodologies (filed with their
calculation bundles' hashes), projects, batches (the forest project's 2024 batch issued from the
shipped monitoring report mrv/examples/forest-2024.json), trades, a pledge, and one certified
retirement per scenario, so a newcomer sees the whole system. Development keys only; refused on
any chain but the local one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlmodel import select

from certificates.models import CertificateClaim
from certificates.service import CertificateService, retire_and_certify
from chain.client import RegistryClient
from chain.keys import dev_accounts
from chain.opids import op_id_for
from chain.rpc import JsonRpc, RpcError
from chain.settings import LOCAL_CHAIN_ID
from chain.types import ParticipantKind, Scenario
from indexer.models import BatchRow, Retirement
from mrv import bundle, issuance, parse_report
from mrv import store as mrv_store

if TYPE_CHECKING:
    from land.geometry import Parcel

DOC = b"\x5a" * 32  # stands for the hash of a filed document
YEAR_2020, YEAR_2040 = 1_577_836_800, 2_208_988_800
PERIODS = {2024: (1_704_067_200, 1_735_689_599), 2025: (1_735_689_600, 1_767_225_599)}
MONITORED = ("P-511802-0001", 2024)  # the batch issued from its monitoring report, not a typed quantity
REPORT = Path(__file__).resolve().parents[1] / "mrv" / "examples" / "forest-2024.json"
LAND = Path(__file__).resolve().parents[1] / "land" / "demo"  # illustrative parcels in 雨城区 and 红原县 (docs/land.md)


def demo_parcels(project_id: str) -> list[Parcel]:
    from land.geometry import parse_parcels  # shapely loads for `ledger up`, not for every command

    path = LAND / f"{project_id}.geojson"
    return parse_parcels(path.read_text(encoding="utf-8"), str(path))


def save_parcels(conn: Connection, project_id: str, parcels: list[Parcel]) -> None:
    from land.store import save

    save(conn, project_id, parcels)


def op(*parts: object) -> int:
    """Content-addressed operation ids: a second load sends nothing twice."""
    return op_id_for("demo", "/".join(map(str, parts)))


@contextmanager
def automine(client: RegistryClient, block_time: int) -> Iterator[None]:
    """One block per transaction while loading (seconds instead of a minute of 1 s blocks). Then a
    node that mined by itself gets its own mode back: an anvil the operator started and named in
    LEDGER_RPC_URL was left mining nothing, and every later transaction waited for a receipt in
    vain. A node that did not (a durable node, whose keeper mines) gets interval mining every
    `block_time` seconds, or none with 0."""
    automining, interval = mining_mode(client.rpc)
    client.rpc.call("evm_setAutomine", True)
    try:
        yield
    finally:
        if not automining:
            client.rpc.call("evm_setAutomine", False)
            client.rpc.call("evm_setIntervalMining", interval or block_time)


def mining_mode(rpc: JsonRpc) -> tuple[bool, int | None]:
    """anvil's (automine, interval in seconds or None); (False, None) from a node that cannot say."""
    try:
        return bool(rpc.call("anvil_getAutomine")), rpc.call("anvil_getIntervalMining") or None
    except RpcError:
        return False, None


def load_demo(client: RegistryClient, service: CertificateService, *, block_time: int = 1) -> list[str]:
    """Load the demo; returns the certificate ids (one per scenario). Every operation has a
    content-addressed id, so a load interrupted halfway resumes where it stopped."""
    if client.chain_id != LOCAL_CHAIN_ID:
        raise ValueError("the demo uses development keys and loads on the local chain only")
    accounts = dev_accounts()
    owner_a, owner_b, company, platform, bank = accounts[1:6]
    with automine(client, block_time):
        for n, mid in enumerate(("SCFM-001-V01", "SCGM-001-V01", "SCWM-001-V01")):  # forest, grassland, wetland
            once(client.file_methodology, op("m", n + 1), mid, n, 1, bytes.fromhex(bundle(mid, 1).sha256))
        for who, kind in (
            (owner_a, ParticipantKind.PROJECT_OWNER),
            (owner_b, ParticipantKind.PROJECT_OWNER),
            (company, ParticipantKind.ENTERPRISE),
            (platform, ParticipantKind.PLATFORM),
            (bank, ParticipantKind.PLEDGEE),
        ):
            once(client.register_participant, op("p", who.address), who.address, kind, DOC)
        projects = (
            ("P-511802-0001", "SCFM-001-V01", owner_a, 511802, 2_400_000),  # 雨城区 forest, Ya'an
            ("P-513233-0001", "SCGM-001-V01", owner_b, 513233, 8_000_000),
        )  # 红原县 grassland, Aba
        batches = []
        for pid, mid, owner, county, area in projects:
            once(
                client.register_project,
                op("project", pid),
                project_id=pid,
                methodology_id=mid,
                owner=owner.address,
                county_code=county,
                area_square_metres=area,
                crediting_start=YEAR_2020,
                crediting_end=YEAR_2040,
                documents_hash=DOC,
                parcels=[bytes.fromhex(p.hash) for p in demo_parcels(pid)],
            )
            with service.engine.begin() as conn:  # the land, served at /api/v1/projects/{id}/parcels
                save_parcels(conn, pid, demo_parcels(pid))
            once(client.review_project, op("review", pid), pid, True, DOC)
            for vintage, (start, end) in PERIODS.items():
                issue_op = op("issue", pid, vintage)
                request: dict[str, Any] = {
                    "project_id": pid,
                    "vintage": vintage,
                    "monitoring_start": start,
                    "monitoring_end": end,
                    "quantity": 50_000,
                    "reserve_bps": 1_000,
                    "verification_report_hash": DOC,
                }
                if (pid, vintage) == MONITORED:
                    request = monitored_request(client, service, pid)
                issued = once(client.issue, issue_op, **request)
                batches.append(
                    int(issued.event("BatchIssued").args["batchId"])
                    if issued
                    else _mirrored(service, BatchRow.id, BatchRow.op_id, issue_op)
                )
        forest, _, grass, _ = batches
        for n, (sender, to, batch, kg) in enumerate(
            (
                (owner_a, company, forest, 12_000),
                (owner_a, platform, forest, 8_000),
                (owner_b, company, grass, 6_000),
                (owner_b, platform, grass, 4_000),
            )
        ):
            once(
                client.transfer_with_reference,
                op("trade", n),
                sender.address,
                to.address,
                batch,
                kg,
                bytes([n + 1]) * 32,
                sender=sender,
            )
        once(client.pledge, op("pledge", 1), forest, 2_000, bank.address, b"\x02" * 32, sender=company)
        ids = []
        for scenario, holder, batch, kg, beneficiary, kwargs in _claims(company, platform, forest, grass):
            retire_op = op("retire", scenario.name)

            def retire(
                commitment: str,
                s: Scenario = scenario,
                h: Any = holder,
                b: int = batch,
                q: int = kg,
                i: int = retire_op,
            ) -> Any:
                return client.retire(i, b, q, s, commitment, b"\0" * 32, sender=h)

            if not client.is_operation_applied(retire_op):
                _, issued = retire_and_certify(
                    service, retire, beneficiary, scenario_key=scenario.name, anchor=False, wait=FINALITY_WAIT, **kwargs
                )
                ids.append(issued.certificate_id)
            else:
                # retired by an interrupted load: certify it now unless that load got that far
                rid = _mirrored(service, Retirement.id, Retirement.op_id, retire_op)
                with service.engine.connect() as conn:
                    done = conn.execute(
                        select(CertificateClaim.certificate_id).where(CertificateClaim.retirement_id == rid)
                    ).scalar()
                if done is None:
                    done = service.certify(
                        [rid], scenario_key=scenario.name, anchor=False, wait=FINALITY_WAIT, **kwargs
                    ).certificate_id
                ids.append(done)
        service.anchor(force=True)
    return ids


def monitored_request(client: RegistryClient, service: CertificateService, pid: str) -> dict[str, Any]:
    """The batch's request computed from the shipped report under the methodology filed for the
    project; report and result stored first, so the batch finds its breakdown by its hash."""
    data = REPORT.read_bytes()
    project = client.project(pid)
    plan = issuance.prepare(parse_report(data, REPORT.name), pid, project, client.methodology(project.methodology_id))
    with service.engine.begin() as conn:
        mrv_store.put(conn, data, plan.result)
    return plan.request(pid)


FINALITY_WAIT = 600.0  # seconds each certificate may wait for LEDGER_CONFIRMATIONS (0 on the local node: none)


def once(call: Any, op_id: int, *args: Any, **kwargs: Any) -> Any:
    """The operation's result, or None if an earlier (interrupted) load already applied it."""
    if call.__self__.is_operation_applied(op_id):
        return None
    return call(op_id, *args, **kwargs)


def _mirrored(service: CertificateService, column: Any, op_column: Any, op_id: int) -> Any:
    service.catch_up(int(service.client.rpc.call("eth_blockNumber"), 16))
    with service.engine.connect() as conn:
        return conn.execute(select(column).where(op_column == hex(op_id))).scalar_one()


def _claims(company: Any, platform: Any, forest: int, grass: int) -> list[tuple[Any, ...]]:
    return [
        (
            Scenario.LARGE_EVENT,
            company,
            forest,
            1_250,
            "成都国际会展集团",
            dict(
                fields={
                    "event_name": "2026 成都国际林草碳汇论坛",
                    "event_type": "会议 conference",
                    "dates": "2026-05-20/2026-05-22",
                    "venue": "成都",
                    "footprint_energy_kg": 400,
                    "footprint_travel_kg": 650,
                    "footprint_catering_kg": 150,
                    "evaluation_mode": "第三方 third party",
                },
                footprint_kg=1_200,
            ),
        ),
        (
            Scenario.ORGANISATION,
            company,
            grass,
            3_000,
            "雅安蒙顶山茶业有限公司",
            dict(
                fields={"subject": "雅安蒙顶山茶业有限公司 2025 年度运营", "period": "2025", "standard": "GB/T 32150"},
                footprint_kg=3_600,
            ),
        ),
        (
            Scenario.TREE_PLANTING_DUTY,
            platform,
            forest,
            1_200,
            "张三丰",
            dict(fields={"id_number": "510102199001011234", "id_masked": "5101**********1234", "year": 2026}, trees=3),
        ),
        (
            Scenario.ECOLOGICAL_JUSTICE,
            platform,
            grass,
            2_000,
            "李四光",
            dict(
                fields={
                    "court": "阿坝州中级人民法院",
                    "case_number": "（2026）川32刑初8号",
                    "judgment_date": "2026-03-18",
                    "damage_yuan": 120_000,
                    "unit_price_yuan_per_t": 60,
                }
            ),
        ),
        (
            Scenario.PERSONAL,
            platform,
            forest,
            6,
            "王小明",
            dict(fields={"account": "SC-CARBON-8841", "activities": "行 地铁通勤 commuting"}, footprint_kg=5),
        ),
        (Scenario.VOLUNTARY, platform, grass, 10, "赵敏", dict(fields={"message": "为了绿水青山 for green mountains"})),
    ]
