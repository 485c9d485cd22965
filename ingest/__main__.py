from kb.entry import ingest

ingest()
