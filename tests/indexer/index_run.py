"""An indexer in a child process, for the kill -9 tests:
python -m tests.indexer.index_run DATABASE_URL RPC_URL ADDRESS START_BLOCK [follow]
"""

import sys

from chain.abi import ContractAbi
from chain.compiler import compile_contracts
from chain.connection import connect
from indexer.db import WriterLock, create_schema, make_engine
from indexer.sync import Indexer

if __name__ == "__main__":
    db_url, rpc_url, address, start = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    engine = make_engine(db_url)
    create_schema(engine)
    abi = ContractAbi(compile_contracts()["CarbonRegistry"].abi)
    indexer = Indexer(
        connect(rpc_url, 31337), engine, abi, chain_id=31337, address=address, start_block=start, max_range=1
    )
    with WriterLock(engine):
        if sys.argv[5:] == ["follow"]:
            import threading

            indexer.follow(threading.Event(), poll=0.01)
        else:
            indexer.sync_once()
