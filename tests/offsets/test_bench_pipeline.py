"""bench/offsets_pipeline.py runs end to end on a small N (the 100,000 run is docs/benchmarks.md's):
200 purchases through the bulk path, 20 through the naive one, every certificate verified (the script
asserts each verdict valid and exits non-zero otherwise), and it prints each figure it promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_runs_on_200_purchases() -> None:
    args = ["--purchases", "200", "--max", "100", "--naive-sample", "20", "--api-sample", "20"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "offsets_pipeline.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    for stage in ("purchases stored", "aggregated retirements", "certificates issued", "certificates verified"):
        assert re.search(rf"{stage}.* s [\d,]+/s .* s [\d,]+/s", out), (stage, out)
    # 200 purchases, at most 100 a retireFor: two retirements, each looked up once while verifying
    assert "retireFor: 2 of up to 100 people" in out
    assert "node lookups of retirement events while verifying: 2" in out
    assert re.search(r"API POST /api/v1/verify over 20 certificates: p50 [\d.]+ ms", out)
    assert "(extrapolated)" in out
