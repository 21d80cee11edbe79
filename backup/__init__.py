"""The registry's backups (`ledger backup create|restore`): every domain's data the chain cannot
give back, in one file (backup/archive.py). Above the domains, so it may read each one's tables;
no domain imports it."""
