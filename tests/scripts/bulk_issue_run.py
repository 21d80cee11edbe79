"""Runs `ledger issue --csv FILE` in a child process so a test can kill it halfway."""

import sys

from scripts.cli import app

if __name__ == "__main__":
    app(["issue", "--csv", sys.argv[1], "--json"])
