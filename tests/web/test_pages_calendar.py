"""A resource's month calendar (/catalogue/{id}/calendrier) on a real node: booked, partly booked, closed and past days."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from babel import dates

from node.app import RunningNode
from node.web.pages_calendar import day_cell
from protocol.availability import DayUse, day_period
from storage import agreements as stored
from storage import session

from ..node.harness import local_api
from ..node.test_lending import MINIBUS, publish
from .conftest import Browser
from .test_pages_search import federation, signed_in

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS = [{"day": d, "opens": "09:00", "closes": "18:00"} for d in range(1, 6)]
CHAIRS = {"id": "chaises", "kind": "equipment", "title": "Chaises pliantes", "quantity": 10,
          "availability": {"unit": "day", "stock": 10, "opening": WEEKDAYS}}
ROOM = {"id": "salle", "kind": "space", "title": "Salle de réunion",
        "availability": {"unit": "hour", "opening": WEEKDAYS}}


def first_of_month(months_ahead: int) -> date:
    today = datetime.now(PARIS).date()
    index = today.year * 12 + today.month - 1 + months_ahead
    return date(index // 12, index % 12 + 1, 1)


def weekday_of(first: date, iso_weekday: int, week: int = 2) -> date:
    """The ``iso_weekday`` (1 = Monday) of the ``week``-th full week of the month."""
    monday = first + timedelta(days=(7 - first.weekday()) % 7)
    return monday + timedelta(weeks=week - 1, days=iso_weekday - 1)


def cell(page: str, day: date) -> tuple[str, str]:
    """(status, inner text) of a day's cell in the month grid."""
    found = re.search(rf'<td class="day status-([a-z]+)[^"]*" data-day="{day.isoformat()}"[^>]*>(.*?)</td>', page, re.DOTALL)
    assert found, (day, page[:3000])
    return found.group(1), re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(2))).strip()


def whole_days(first: date, last: date) -> dict[str, int]:
    return day_period(first, last, "Europe/Paris").to_wire()


def hours(day: date, start: int, end: int) -> dict[str, int]:
    at = [int(datetime(day.year, day.month, day.day, h, tzinfo=PARIS).timestamp()) * 1000 for h in (start, end)]
    return {"start": at[0], "end": at[1]}


async def test_sealed_loans_show_their_days_booked_with_the_stock_left_and_closed_days(tmp_path: Path) -> None:
    month = first_of_month(2)
    tuesday, wednesday, thursday = (weekday_of(month, d) for d in (2, 3, 4))
    async with federation(tmp_path, auto_accept=["*"]) as (club, food), signed_in(club, "lucien") as reader:
        async with local_api(club) as owner:
            await publish(owner, CHAIRS)
            await publish(owner, ROOM)
        loans = {}
        async with local_api(food) as borrower:
            for resource, period, quantity in (("minibus", whole_days(tuesday, wednesday), 1),
                                               ("chaises", whole_days(tuesday, tuesday), 4),
                                               ("salle", hours(thursday, 14, 16), 1)):
                status, done = await borrower("POST", "/loans", json={
                    "owner": club.node.node_id, "resource": resource, "period": period, "quantity": quantity})
                assert status == 201 and done["state"] == "sealed", done
                loans[resource] = done["id"]

        status, page, _ = await reader.get("/catalogue")
        assert status == 200 and 'href="/catalogue/minibus/calendrier"' in page

        status, page, _ = await reader.get(f"/catalogue/minibus/calendrier?mois={month:%Y-%m}")
        assert status == 200, page[:3000]
        assert "Disponibilités : Minibus 9 places" in page and "<caption>" in page
        assert [cell(page, d)[0] for d in (tuesday - timedelta(days=1), tuesday, wednesday, thursday)] == [
            "free", "full", "full", "free"]
        assert "complet" in cell(page, tuesday)[1] and "libre" in cell(page, thursday)[1]
        assert "libres sur" not in page  # one minibus: no stock count
        bookings = page.split('id="reservations"', 1)[1]
        assert f'href="/accords/{loans["minibus"]}"' in bookings and "scellé" in bookings
        assert "Banque alimentaire" in bookings
        assert dates.format_date(wednesday, "long", locale="fr") in bookings  # the last day, included

        status, page, _ = await reader.get(f"/catalogue/chaises/calendrier?mois={month:%Y-%m}")
        assert status == 200
        label = dates.format_date(tuesday, "full", locale="fr")
        assert cell(page, tuesday) == ("partly", f"{tuesday.day} {label} : ◐ en partie réservé 6 libres sur 10")
        assert cell(page, wednesday)[0] == "free" and "10 libres sur 10" in cell(page, wednesday)[1]
        saturday, sunday = tuesday + timedelta(days=4), tuesday + timedelta(days=5)
        assert cell(page, saturday)[0] == cell(page, sunday)[0] == "closed"
        assert "fermé" in cell(page, saturday)[1] and "libres sur" not in cell(page, saturday)[1]

        status, page, _ = await reader.get(f"/catalogue/salle/calendrier?mois={month:%Y-%m}")
        assert status == 200
        assert [cell(page, d)[0] for d in (wednesday, thursday, saturday)] == ["free", "partly", "closed"]
        assert f'href="/accords/{loans["salle"]}"' in page


async def test_month_navigation_defaults_to_this_month_and_marks_past_days(node: RunningNode, browser: Browser) -> None:
    async with local_api(node) as owner:
        await publish(owner, MINIBUS)
    await browser.login("marie")
    today = datetime.now(PARIS).date()
    this_month = today.replace(day=1)

    status, page, _ = await browser.get("/catalogue/minibus/calendrier")
    assert status == 200
    assert f"<caption>Disponibilités de {dates.format_skeleton('yMMMM', today, locale='fr')}</caption>" in page
    assert 'aria-current="date"' in page and ", aujourd'hui :" in cell(page, today)[1]
    if today.day > 1:
        assert cell(page, today - timedelta(days=1))[0] == "past"
    assert cell(page, today)[0] == "free"
    headers = re.findall(r'<th scope="col"><span aria-hidden="true">([^<]+)</span><span class="visually-hidden">([^<]+)<', page)
    assert headers[0] == ("lun.", "lundi") and headers[6] == ("dim.", "dimanche") and len(headers) == 7
    assert "Ce mois-ci" not in page

    # The next month's link, then back with « previous »; then this month again.
    following = re.search(r'<a href="([^"]+)" rel="next">', page)
    assert following and following.group(1) == f"/catalogue/minibus/calendrier?mois={first_of_month(1):%Y-%m}"
    status, page, _ = await browser.get(following.group(1))
    assert status == 200
    assert dates.format_skeleton("yMMMM", first_of_month(1), locale="fr") in page
    assert "past" not in {cell(page, first_of_month(1) + timedelta(days=i))[0] for i in range(28)}
    previous = re.search(r'<a href="([^"]+)" rel="prev">', page)
    assert previous and previous.group(1).endswith(f"?mois={this_month:%Y-%m}")
    assert f'href="/catalogue/minibus/calendrier?mois={this_month:%Y-%m}">Ce mois-ci</a>' in page

    # Cells pad the weeks: a month starting on a Sunday has six empty cells before its first day.
    status, page, _ = await browser.get("/catalogue/minibus/calendrier?mois=2027-08")  # 1 August 2027: a Sunday
    first_row = page.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert first_row.count('<td class="outside"></td>') == 6 and 'data-day="2027-08-01"' in first_row
    # The years the calendar shows end somewhere: no link beyond them.
    status, page, _ = await browser.get("/catalogue/minibus/calendrier?mois=2000-01")
    assert status == 200 and 'rel="prev"' not in page and 'rel="next"' in page

    # The edit form links to the calendar.
    status, page, _ = await browser.get("/catalogue/minibus/modifier")
    assert status == 200 and 'href="/catalogue/minibus/calendrier"' in page


async def test_the_calendar_in_english(node: RunningNode, browser: Browser) -> None:
    async with local_api(node) as owner:
        await publish(owner, CHAIRS)
    await browser.login("lucien")
    month = first_of_month(1)
    status, page, _ = await browser.get(f"/catalogue/chaises/calendrier?mois={month:%Y-%m}&lang=en")
    assert status == 200 and '<html lang="en">' in page
    assert "Availability: Chaises pliantes" in page
    assert f"<caption>Availability in {dates.format_skeleton('yMMMM', month, locale='en')}</caption>" in page
    assert '<span class="visually-hidden">Monday</span>' in page and "lundi" not in page
    monday = weekday_of(month, 1)
    label = dates.format_date(monday, "full", locale="en")
    assert cell(page, monday) == ("free", f"{monday.day} {label}: ○ free 10 of 10 free")
    assert "closed" in cell(page, monday + timedelta(days=5))[1]
    assert "No bookings this month." in page and "Booked by the day" in page


async def test_a_visitor_must_sign_in_and_bad_months_or_records_get_clear_pages(node: RunningNode, browser: Browser) -> None:
    async with local_api(node) as owner:
        await publish(owner, MINIBUS)
        status, _ = await owner("POST", "/records", json={"type": "offer", "body": {
            "id": "cours", "kind": "skill", "title": "Cours de graphisme"}})
        assert status == 201
    status, _, resp = await browser.get("/catalogue/minibus/calendrier?mois=2027-01")
    assert status == 303
    location = urlsplit(resp.headers["Location"])
    assert location.path == "/connexion"
    assert parse_qs(location.query)["suivant"] == ["/catalogue/minibus/calendrier?mois=2027-01"]  # back here after

    await browser.login("lucien")
    for bad in ("2026-13", "2026-00", "n'importe quoi", "2026-1", "1999-12", "2026-03-01", ""):
        status, page, _ = await browser.get("/catalogue/minibus/calendrier", params={"mois": bad})
        assert status == 400, bad
        assert 'role="alert"' in page and "Mois incompris" in page and "2026-03" in page, bad
    status, page, _ = await browser.get("/catalogue/minibus/calendrier?mois=2026-13&lang=en")
    assert status == 400 and "Month not understood" in page
    for unknown in ("/catalogue/inconnu/calendrier", "/catalogue/cours/calendrier"):
        status, page, _ = await browser.get(unknown)
        assert status == 404 and "Cette ressource n'existe pas dans notre catalogue." in page, unknown


async def test_dst_days_keep_their_bookings_on_the_right_local_day(node: RunningNode, browser: Browser) -> None:
    """A loan of the day clocks change (23 or 25 hours) stays on that day, the days around it stay free."""
    async with local_api(node) as owner:
        await publish(owner, MINIBUS)
    await browser.login("lucien")
    today = datetime.now(PARIS).date()
    changes = [d for d in (today + timedelta(days=i) for i in range(1, 400))
               if day_period(d, d, "Europe/Paris").duration_ms != 86_400_000][:2]
    assert len(changes) == 2
    with session(node.node.engine) as s, s.begin():
        for change in changes:
            period = day_period(change, change, "Europe/Paris")
            stored.hold(s, secrets.token_bytes(16), resource="minibus", start_ms=period.start, end_ms=period.end,
                        quantity=1, state="sealed")
    for change in changes:
        status, page, _ = await browser.get(f"/catalogue/minibus/calendrier?mois={change:%Y-%m}")
        assert status == 200
        before, after = change - timedelta(days=1), change + timedelta(days=1)
        assert cell(page, change)[0] == "full", change
        for neighbour in (before, after):
            if neighbour.month == change.month:
                assert cell(page, neighbour)[0] == "free", neighbour
        listed = page.split('id="reservations"', 1)[1]
        assert f"le {dates.format_date(change, 'long', locale='fr')}" in listed


def test_a_day_shows_a_stock_count_only_when_units_are_left_all_day() -> None:
    day = date(2027, 5, 4)
    use = DayUse(day, 0, 1, open_ms=9, bookable_ms=9, held_ms=2, full_ms=1, peak=3)  # an hour with all 3 rooms taken
    assert (use.status, day_cell(use, date(2027, 5, 1), 3, "fr")["left"]) == ("partly", None)
    assert day_cell(use._replace(full_ms=0, peak=1), date(2027, 5, 1), 3, "fr")["left"] == 2
    assert day_cell(use._replace(full_ms=0, peak=1), date(2027, 5, 5), 3, "fr")["status"] == "past"
