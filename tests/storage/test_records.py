"""Catalogue storage on SQLite and PostgreSQL: versions, change feed, search."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from protocol import SigningKey
from storage import records, session
from storage.counters import current

from ..factories import T0, descriptor, resource, tombstone


def test_newest_version_wins_whatever_the_arrival_order(engine: Engine) -> None:
    key = SigningKey.generate()
    v1 = resource(key, "minibus", "Minibus 9 places", at=T0)
    v2 = resource(key, "minibus", "Minibus 9 places, attelage", at=T0 + 1000)
    with session(engine) as s, s.begin():
        assert records.ingest(s, [v2], now_ms=T0) == records.IngestResult(stored=1, unchanged=0)
    with session(engine) as s, s.begin():
        assert records.ingest(s, [v1], now_ms=T0) == records.IngestResult(stored=0, unchanged=1)
    with session(engine) as s:
        row = records.get(s, key.node_id, "minibus")
        assert row is not None and row.title == "Minibus 9 places, attelage"
        assert row.envelope == v2.envelope.raw


def test_same_time_versions_tie_break_on_message_id(engine: Engine) -> None:
    key = SigningKey.generate()
    a = resource(key, "sono", "Sono A", at=T0)
    b = resource(key, "sono", "Sono B", at=T0)
    winner = max((a, b), key=lambda r: r.envelope.message_id)
    for order in ([a, b], [b, a]):
        with session(engine) as s, s.begin():
            records.ingest(s, order, now_ms=T0)
            row = records.get(s, key.node_id, "sono")
            assert row is not None and row.message_id == winner.envelope.message_id
            s.rollback()


def test_tombstone_supersedes_and_older_version_cannot_resurrect(engine: Engine) -> None:
    key = SigningKey.generate()
    live = resource(key, "salle", "Salle de réunion", at=T0)
    dead = tombstone(key, "salle", at=T0 + 10)
    with session(engine) as s, s.begin():
        records.ingest(s, [live, dead], now_ms=T0)
    with session(engine) as s, s.begin():
        assert records.ingest(s, [live], now_ms=T0).stored == 0
    with session(engine) as s:
        row = records.get(s, key.node_id, "salle")
        assert row is not None and row.rtype == "tombstone" and row.title == "" and row.search_text == ""
        assert records.search(s, "salle") == []


def test_change_feed_pages_in_order_and_resumes_from_cursor(engine: Engine) -> None:
    key = SigningKey.generate()
    batch = [resource(key, f"chaise-{i}", f"Chaise {i}", at=T0 + i) for i in range(25)]
    with session(engine) as s, s.begin():
        records.ingest(s, batch, now_ms=T0)
    seen: list[bytes] = []
    cursor, pages = 0, 0
    with session(engine) as s:
        while True:
            page = records.changes_since(s, cursor, limit=10, max_bytes=1 << 20)
            seen += page.records
            cursor, pages = page.next, pages + 1
            if not page.more:
                break
        assert pages == 3
        assert sorted(seen) == sorted(r.envelope.raw for r in batch)
        assert records.changes_since(s, cursor, limit=10, max_bytes=1 << 20).records == []


def test_change_feed_respects_byte_budget_but_always_progresses(engine: Engine) -> None:
    key = SigningKey.generate()
    batch = [resource(key, f"r{i}", "x", description="d" * 2000, at=T0 + i) for i in range(5)]
    with session(engine) as s, s.begin():
        records.ingest(s, batch, now_ms=T0)
    with session(engine) as s:
        page = records.changes_since(s, 0, limit=100, max_bytes=10)
        assert len(page.records) == 1 and page.more
        page = records.changes_since(s, 0, limit=100, max_bytes=5000)
        assert len(page.records) == 2 and page.more


def test_private_records_are_searchable_locally_but_never_served(engine: Engine) -> None:
    key = SigningKey.generate()
    with session(engine) as s, s.begin():
        records.ingest(s, [resource(key, "coffre", "Coffre-fort", visibility="private")], now_ms=T0)
    with session(engine) as s:
        assert records.changes_since(s, 0, limit=10, max_bytes=1 << 20).records == []
        assert [h.record_id for h in records.search(s, "coffre")] == ["coffre"]


def test_search_folds_accents_ranks_title_first_and_names_the_owner(engine: Engine) -> None:
    club, banque = SigningKey.generate(), SigningKey.generate()
    with session(engine) as s, s.begin():
        records.ingest(
            s,
            [
                descriptor(club, "Club sportif de Lyon"),
                resource(club, "velo", "Vélo cargo électrique", kind="vehicle"),
                resource(banque, "remorque", "Remorque", description="Se fixe derrière un vélo"),
                resource(banque, "frigo", "Réfrigérateur"),
            ],
            now_ms=T0,
        )
    with session(engine) as s:
        hits = records.search(s, "velo")
        assert [h.record_id for h in hits] == ["velo", "remorque"]
        assert hits[0].author_name == "Club sportif de Lyon"
        assert hits[0].body["title"] == "Vélo cargo électrique"
        assert [h.record_id for h in records.search(s, "VÉLO électrique")] == ["velo"]
        assert [h.record_id for h in records.search(s, "velo", kind="vehicle")] == ["velo"]
        assert records.search(s, "piano") == []


def test_search_near_keeps_only_records_within_the_radius_nearest_first(engine: Engine) -> None:
    key = SigningKey.generate()
    lyon, villeurbanne, paris = (45_764_043, 4_835_659), (45_771_944, 4_890_171), (48_856_614, 2_352_222)
    with session(engine) as s, s.begin():
        records.ingest(
            s,
            [
                resource(key, "a", "Minibus Villeurbanne", kind="vehicle", location={"lat": villeurbanne[0], "lon": villeurbanne[1]}),
                resource(key, "b", "Minibus Lyon", kind="vehicle", location={"lat": lyon[0], "lon": lyon[1]}),
                resource(key, "c", "Minibus Paris", kind="vehicle", location={"lat": paris[0], "lon": paris[1]}),
                resource(key, "d", "Minibus nomade", kind="vehicle"),
            ],
            now_ms=T0,
        )
    with session(engine) as s:
        hits = records.search(s, "minibus", near=lyon, radius_km=20)
        assert [h.record_id for h in hits] == ["b", "a"]
        assert hits[0].distance_km is not None and hits[0].distance_km < 0.1
        assert 3 < (hits[1].distance_km or 0) < 6


def test_sequence_numbers_follow_commit_order(engine: Engine) -> None:
    key = SigningKey.generate()
    with session(engine) as s, s.begin():
        records.ingest(s, [resource(key, "a", "A")], now_ms=T0)
    with session(engine) as s, s.begin():
        records.ingest(s, [resource(key, "a", "A2", at=T0 + 1), resource(key, "b", "B")], now_ms=T0)
    with session(engine) as s:
        assert current(s, "records") == 3
        rows = {r.record_id: r.seq for r in records.list_by_author(s, key.node_id)}
        assert rows == {"a": 2, "b": 3} or rows == {"a": 3, "b": 2}


def test_failed_transaction_leaves_nothing_behind(engine: Engine) -> None:
    key = SigningKey.generate()
    try:
        with session(engine) as s, s.begin():
            records.ingest(s, [resource(key, "a", "A")], now_ms=T0)
            raise RuntimeError("peer vanished mid-batch")
    except RuntimeError:
        pass
    with session(engine) as s:
        assert records.count(s) == 0 and current(s, "records") == 0


def test_version_lookup_uses_the_primary_key_not_a_table_scan(engine: Engine) -> None:
    """The query ingest runs to read current versions must not scan: replication would turn quadratic."""
    from sqlalchemy import event

    key = SigningKey.generate()
    batch = [resource(key, f"r{i}", "x") for i in range(3)]
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "FROM records" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with session(engine) as s, s.begin():
            records.ingest(s, batch, now_ms=T0)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(seen) == 1
    statement, parameters = seen[0]
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        cursor = raw.cursor()  # type: ignore[union-attr]
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            plan = " ".join(str(row) for row in cursor.fetchall())
            assert "SEARCH records USING INDEX" in plan and "SCAN records" not in plan, plan
        else:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN " + statement, parameters)
            plan = " ".join(str(row) for row in cursor.fetchall())
            assert "Index" in plan and "Seq Scan" not in plan, plan
